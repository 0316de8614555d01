"""The one base class of the library's own errors.

Every error tcvae raises on purpose (a bad data file, an invalid setting, a run directory in use)
derives from :class:`TcvaeError`, so callers, and the ``tcvae`` command, can tell them apart from
genuine bugs with one ``except`` clause.
"""


class TcvaeError(ValueError):
    """The library's own errors: bad input or settings, with a message saying how to fix it.

    A subclass of :class:`ValueError`, so code that caught ``ValueError`` keeps working.
    """


class CorruptFileError(TcvaeError):
    """A file a run wrote (its config, status or log) cannot be read back: truncated or corrupt.

    A failure of the work rather than of the input, so the ``tcvae`` command exits 1 on it.
    """
