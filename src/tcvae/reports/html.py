"""A self-contained HTML page: inline CSS, images as base64 data URIs, no external resources.

Its fragments come from :mod:`tcvae.markup`, which escapes every piece of text it is given. The
page opens offline in any browser. Its one script marks the body with ``data-images-ok="true"``
(or ``"false"``) and ``data-images`` (the count) once every image has loaded, so a headless
browser can check that nothing is broken.
"""

from __future__ import annotations

from collections.abc import Sequence

from tcvae.markup import esc, paragraph

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
