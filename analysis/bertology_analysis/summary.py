"""The one-page summary: a list of blocks rendered both as Markdown and as standalone HTML.

Blocks: ("h1"|"h2"|"h3", text), ("p", text), ("img", file, alt), ("table", header, rows),
("ul", items), ("pre", text), ("a", relative link, text). Text may use `code` and **bold**, the only inline markup
converted for HTML.
"""
import html
import re

CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}th{background:#f3f3f3}
code,pre{background:#f6f6f6}pre{padding:.5em;overflow-x:auto;white-space:pre-wrap}"""


def _inline_html(text):
    t = html.escape(text, quote=False)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


def _md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks):
    out = []
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + b[1])
        elif kind == "p":
            out.append(b[1])
        elif kind == "img":
            out.append("![%s](%s)" % (b[2], b[1]))
        elif kind == "table":
            header, rows = b[1], b[2]
            out.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
            out.append("|" + "---|" * len(header))
            out.extend("| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows)
        elif kind == "ul":
            out.append("\n".join("- " + item for item in b[1]))
        elif kind == "pre":
            out.append("```\n" + b[1] + "\n```")
        elif kind == "a":
            out.append("[%s](%s)" % (b[2], b[1]))
        out.append("")
    return "\n".join(out)


def to_html(blocks, title):
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">",
           "<title>%s</title><style>%s</style></head><body>" % (html.escape(title), CSS)]
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "h3"):
            out.append("<%s>%s</%s>" % (kind, _inline_html(b[1]), kind))
        elif kind == "p":
            out.append("<p>%s</p>" % _inline_html(b[1]))
        elif kind == "img":
            out.append("<img src=\"%s\" alt=\"%s\">" % (html.escape(b[1]), html.escape(b[2])))
        elif kind == "table":
            out.append("<table><tr>" + "".join("<th>%s</th>" % _inline_html(str(h))
                                               for h in b[1]) + "</tr>")
            for r in b[2]:
                out.append("<tr>" + "".join("<td>%s</td>" % _inline_html(str(c)) for c in r)
                           + "</tr>")
            out.append("</table>")
        elif kind == "ul":
            out.append("<ul>" + "".join("<li>%s</li>" % _inline_html(i) for i in b[1]) + "</ul>")
        elif kind == "pre":
            out.append("<pre>%s</pre>" % html.escape(b[1]))
        elif kind == "a":
            out.append("<p><a href=\"%s\">%s</a></p>" % (html.escape(b[1]), html.escape(b[2])))
    out.append("</body></html>")
    return "\n".join(out) + "\n"
