#!/usr/bin/env python3
"""Seeds fuzz/corpus/html for the `html` fuzz target: the hostile HTML shapes of issue 11
(as in benches/parse.rs) at 2 KB and 60 KB, and the HTML parts of the golden fixtures.
Run from fuzz/: `python3 seed_html_corpus.py`."""
import email
import glob
import os
from email import policy

SHAPES = {
    "mismatched-div-b": ("", "<div></b>", ""),
    "mismatched-bq-q": ("", "<blockquote></q>", ""),
    "unclosed-div": ("", "<div>x", ""),
    "unclosed-b": ("", "<b>x", ""),
    "unclosed-a": ("", '<a href="https://e.example/{i}">x', ""),
    "unclosed-table": ("", "<table>x", ""),
    "selfclosed-div": ("", "<div/>", ""),
    "aaa-b-p": ("", "<b><p>x</b>", ""),
    "aaa-a-div-a": ("", "<a href=x><div>x<a>", ""),
    "reopen-p-b": ("", "<p><b id={i}>x</p>", ""),
    "attrs-one": ("<div ", "a{i}=1 ", ">x</div>"),
    "attrs-8": ("", "<i a b c d e f g h>x</i>", ""),
    "table-10": ("<table>", "<tr><td>1<td>2<td>3<td>4<td>5<td>6<td>7<td>8<td>9<td>0</tr>", "</table>"),
    "td-no-tr": ("<table>", "<td>x", "</table>"),
    "nested-tables": ("", "<table><tr><td>x", ""),
    "select-option-div": ("<select>", "<option><div>x", ""),
    "template": ("", "<template>x", ""),
    "svg-g": ("<svg>", "<g>x", ""),
    "svg-div": ("<svg>", "<div/>x", ""),
    "table-text-br": ("<table>", "x<br>", ""),
    "table-cell-lines": ("<table><tr><td>", "<p>x", ""),
    "unclosed-p": ("", "<p>x", ""),
    "unclosed-li": ("<ul>", "<li>x", ""),
    "stray-p": ("", "</p>", ""),
    "comments": ("", "<!-- c -->x", ""),
    "style-comment": ("<style><!--</style>", "<div></b>", ""),
    "bang-comment": ("<!-- a --!>", "<div></b>", ""),
}

os.makedirs("corpus/html", exist_ok=True)
for size in (2000, 60000):
    for name, (head, unit, tail) in SHAPES.items():
        out, i = head, 0
        while len(out) < size:
            out += unit.replace("{i}", str(i))
            i += 1
        with open(f"corpus/html/{name}-{size}.html", "w") as f:
            f.write(out + tail)
with open("corpus/html/span-i-walk.html", "w") as f:
    f.write("<span>" * 990 + "</i>" * 5000)
with open("corpus/html/deep-bq-lines.html", "w") as f:
    f.write("<blockquote>" * 995 + "x<br>" * 3000)
n = 0
for path in glob.glob("../mail-fixtures/*/*.eml"):
    with open(path, "rb") as f:
        message = email.message_from_binary_file(f, policy=policy.default)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            body = part.get_payload(decode=True)
            if body:
                with open(f"corpus/html/fixture-{os.path.basename(path)}-{n}.html", "wb") as f:
                    f.write(body)
                n += 1
