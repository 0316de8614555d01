"""The HTML writer: escaped text, embedded images, no external resources."""

import base64
import re

from tcvae import markup
from tcvae.files import write_text_atomic
from tcvae.reports import html

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_text_is_escaped_and_numbers_formatted():
    out = markup.table([["<b>x</b>", 0.123456789, 7, None]], header=["a&b", "v", "n", "none"])
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>x" not in out
    assert "a&amp;b" in out
    assert '<td class="num">0.1235</td>' in out and '<td class="num">7</td>' in out
    assert "<td>None</td>" in out
    assert markup.paragraph('say "hi" <now>') == "<p>say &quot;hi&quot; &lt;now&gt;</p>"


def test_figure_embeds_the_png_bytes():
    out = markup.figure(PNG_1PX, "a caption", alt="alt <text>")
    uri = re.search(r'src="(data:image/png;base64,[^"]+)"', out).group(1)
    assert base64.b64decode(uri.split(",", 1)[1]) == PNG_1PX
    assert 'alt="alt &lt;text&gt;"' in out and "<figcaption>a caption</figcaption>" in out


def test_page_is_self_contained_with_sections_and_image_check(tmp_path):
    doc = html.page(
        "Title <1>",
        [("First part", markup.paragraph("one")), ("Second: part", markup.figure(PNG_1PX, "c"))],
        subtitle="sub",
    )
    assert doc.startswith("<!DOCTYPE html>") and "<title>Title &lt;1&gt;</title>" in doc
    assert '<section id="first-part"><h2>First part</h2>' in doc
    assert '<a href="#second--part">Second: part</a>' in doc
    assert "data-images-ok" in doc
    # nothing is fetched from anywhere: no src/href other than data URIs and in-page anchors
    for attr in re.findall(r'(?:src|href)="([^"]*)"', doc):
        assert attr.startswith(("data:", "#")), attr
    assert "@import" not in doc and "url(" not in doc
    path = write_text_atomic(tmp_path / "sub" / "r.html", doc)
    assert path.read_text(encoding="utf-8") == doc
    assert not list(path.parent.glob(".*.tmp"))
