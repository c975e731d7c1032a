"""htmllinks.py - the crawler tests' reference link extractor: the links a
browser would follow from a page, found with html5lib's full HTML5 parse
(python3-html5lib), not with the tokenizer under test.

    page_links(raw_bytes, page_url) -> [absolute URL, ...] in document order

What carries a link: a/area href, link href, frame/iframe src, <meta
http-equiv=refresh> URL; the first <base href> sets the base (it is no
link to crawl: browsers and crawlers do not navigate to it).
Values are resolved as WHATWG's URL parser does for the cases that matter
here (leading and trailing C0/space stripped, tab and newline removed,
then urllib.parse.urljoin); only http(s) results are returned, fragments
dropped. gensite.py checks its truth with it; bench/run-crawl.sh's
reference BFS uses it for the mirror's truth.
"""
import re
from urllib.parse import urljoin, urldefrag

import html5lib

_C0_SPACE = "".join(chr(i) for i in range(0x21))
_REFRESH = re.compile(r"^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(.*)$", re.I | re.S)


def _clean(v):
    v = v.strip(_C0_SPACE)
    return v.replace("\t", "").replace("\n", "").replace("\r", "")


def _refresh_url(content):
    m = _REFRESH.match(content or "")
    if not m:
        return None
    v = m.group(1).strip()
    if len(v) >= 2 and v[0] in "'\"":
        q = v[0]
        v = v[1:]
        v = v[:v.index(q)] if q in v else v
    return v or None


def page_links(raw, page_url):
    doc = html5lib.parse(raw, namespaceHTMLElements=False)
    base = page_url
    for el in doc.iter("base"):
        h = el.get("href")
        if h is not None:
            b = urljoin(page_url, _clean(h))
            if b.startswith(("http:", "https:")):
                base = b
            break
    out = []
    for el in doc.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        v = None
        if tag in ("a", "area", "link"):
            v = el.get("href")
        elif tag in ("frame", "iframe"):
            v = el.get("src")
        elif tag == "meta" and (el.get("http-equiv") or "").lower() == "refresh":
            v = _refresh_url(el.get("content"))
        if v is None:
            continue
        u = urljoin(base, _clean(v))
        if u.startswith(("http://", "https://")):
            out.append(urldefrag(u)[0])
    return out
