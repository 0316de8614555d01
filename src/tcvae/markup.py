"""HTML fragments: escaped text, tables and embedded PNGs, with no external resources.

Every function escapes the text it is given. The run report's page (:mod:`tcvae.reports.html`) is
built from them, and so are the tables that runs and results show in a Jupyter notebook
(``_repr_html_``), which is why they sit below every layer.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def format_value(value: object, digits: int = 4) -> str:
    """Floats with ``digits`` significant digits; anything else as text."""
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def paragraph(text: str, cls: str | None = None) -> str:
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>"


def table(rows: Iterable[Sequence[object]], header: Sequence[str] | None = None) -> str:
    """An HTML table; numeric cells are right-aligned and formatted by :func:`format_value`."""
    parts = ["<table>"]
    if header:
        parts.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for cell in row:
            numeric = isinstance(cell, int | float) and not isinstance(cell, bool)
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{esc(format_value(cell))}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def key_value_table(items: Mapping[str, object]) -> str:
    return table(items.items(), header=("setting", "value"))


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def figure(png: bytes, caption: str, alt: str | None = None) -> str:
    """An embedded PNG with a caption."""
    return (
        f'<figure><img src="{png_data_uri(png)}" alt="{esc(alt or caption)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )
