#!/usr/bin/python3
"""links_html5lib.py - the reference link sets for test_links: parses each
FILE with html5lib (Debian's python3-html5lib: a full HTML5 tree builder)
and prints one line per distinct link, "FILE<TAB>KIND<TAB>VALUE", VALUE
with backslash, tab, CR and LF escaped as \\\\, \\t, \\r, \\n. KIND is the
element: a, area, link, base (href), frame, iframe (src), refresh (the URL of
a <meta http-equiv=refresh content=...>, HTML's declarative refresh steps).
Only HTML elements count (not SVG or MathML ones).
"""
import sys

import html5lib

WS = "\t\n\f\r "


def refresh_url(s):
    p, n = 0, len(s)
    while p < n and s[p] in WS:
        p += 1
    t0 = p
    while p < n and s[p].isdigit() and s[p].isascii():
        p += 1
    if p == t0 and not (p < n and s[p] == "."):
        return None
    while p < n and ((s[p].isascii() and s[p].isdigit()) or s[p] == "."):
        p += 1
    if p >= n:
        return None
    if s[p] not in ";," and s[p] not in WS:
        return None
    while p < n and s[p] in WS:
        p += 1
    if p < n and s[p] in ";,":
        p += 1
    while p < n and s[p] in WS:
        p += 1
    if p >= n:
        return None
    start = p
    if s[p] in "Uu":
        p += 1
        if not (p < n and s[p] in "Rr"):
            return s[start:]
        p += 1
        if not (p < n and s[p] in "Ll"):
            return s[start:]
        p += 1
        while p < n and s[p] in WS:
            p += 1
        if not (p < n and s[p] == "="):
            return s[start:]
        p += 1
        while p < n and s[p] in WS:
            p += 1
    q = ""
    if p < n and s[p] in "'\"":
        q = s[p]
        p += 1
    url = s[p:]
    if q and q in url:
        url = url[:url.index(q)]
    return url


def esc(v):
    return (v.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")
            .replace("\n", "\\n"))


def links(path):
    with open(path, "rb") as f:
        doc = html5lib.parse(f.read(), treebuilder="etree", namespaceHTMLElements=False)
    out = set()
    for el in doc.iter():
        tag = el.tag
        if not isinstance(tag, str) or tag.startswith("{"):
            continue
        if tag in ("a", "area", "link", "base") and "href" in el.attrib:
            out.add((tag, el.attrib["href"]))
        elif tag in ("frame", "iframe") and "src" in el.attrib:
            out.add((tag, el.attrib["src"]))
        elif (tag == "meta" and el.attrib.get("http-equiv", "").lower() == "refresh"
              and "content" in el.attrib):
            u = refresh_url(el.attrib["content"])
            if u is not None:
                out.add(("refresh", u))
    return out


def main():
    w = sys.stdout.buffer
    for path in sys.argv[1:]:
        for kind, v in sorted(links(path)):
            w.write(("%s\t%s\t%s\n" % (path, kind, esc(v))).encode("utf-8", "surrogateescape"))


if __name__ == "__main__":
    main()
