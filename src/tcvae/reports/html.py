"""A self-contained HTML page: inline CSS, images as base64 data URIs, no external resources.

Fragments are built by small functions that escape every piece of text they are given, then put
together by :func:`page`. The page opens offline in any browser. Its one script marks the body
with ``data-images-ok="true"`` (or ``"false"``) and ``data-images`` (the count) once every image
has loaded, so a headless browser can check that nothing is broken.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from tcvae.files import write_text_atomic

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 1.5em; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.note { color: #555; font-size: 0.92em; }
""".strip()

IMAGES_CHECK = """
window.addEventListener("load", function () {
  var imgs = document.images, ok = true;
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) { ok = false; }
  }
  document.body.setAttribute("data-images", String(imgs.length));
  document.body.setAttribute("data-images-ok", ok ? "true" : "false");
});
""".strip()


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def format_value(value: object, digits: int = 4) -> str:
    """Numbers with ``digits`` significant digits; anything else as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


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


def anchor(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")


def page(title: str, sections: Sequence[tuple[str, str]], subtitle: str | None = None) -> str:
    """The whole document: a title, a table of contents, and (heading, html body) sections."""
    nav = " ".join(f'<a href="#{anchor(h)}">{esc(h)}</a>' for h, _ in sections)
    body = "\n".join(
        f'<section id="{anchor(h)}"><h2>{esc(h)}</h2>\n{content}\n</section>'
        for h, content in sections
    )
    sub = paragraph(subtitle, "note") if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>\n{STYLE}\n</style>\n"
        f"<script>\n{IMAGES_CHECK}\n</script>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{sub}\n<nav>{nav}</nav>\n{body}\n</body>\n</html>\n"
    )


def write_page(path: str | Path, document: str) -> Path:
    """Write the document atomically (a reader never sees half a page)."""
    return write_text_atomic(path, document)
