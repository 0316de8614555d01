"""Stopping a training loop cleanly on SIGINT / SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Any


class StopSignals:
    """While active, SIGINT / SIGTERM set ``signum`` so the loop can checkpoint and stop at the end
    of the current step; a second SIGINT interrupts at once. Only the main thread installs handlers.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
