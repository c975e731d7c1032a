#!/usr/bin/python3
"""crawl_parse.py - the Python peers of the crawl benchmark's "link
extraction alone" rows (bench/run-crawl.sh), beside bench/parse.c:
MB/s of HTML per core through html.parser (the standard library's, no
lxml) and through html5lib (python3-html5lib), collecting the same links
(a/area/link/base href, frame/iframe src), over the documentation's pages
held in memory; and urllib.parse.urljoin ns/link over bench/parse.c's
links. Process CPU time, each case run for about SECONDS.

    crawl_parse.py HTML_DIR [SECONDS]

Prints "name value unit" lines as bench/parse does.
"""
import os
import sys
import time
from html.parser import HTMLParser
from urllib.parse import urljoin

import html5lib

LINKS = ["../reference/datamodel.html#coroutines", "asyncio-future.html#asyncio.Future",
         "#asyncio.Task", "https://github.com/python/cpython/tree/3.11/Lib/asyncio/tasks.py",
         "/3/glossary.html#term-coroutine", "../_static/pygments.css", "asyncio-eventloop.html",
         "../howto/index.html", "https://www.python.org/", "../genindex.html",
         "../bugs.html?lang=en&amp=1", "index.html"]
BASE = "https://docs.python.org/3/library/asyncio-task.html"
ATTR = {"a": "href", "area": "href", "link": "href", "base": "href", "frame": "src",
        "iframe": "src"}


class Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.n = 0

    def handle_starttag(self, tag, attrs):
        want = ATTR.get(tag)
        if want:
            for k, v in attrs:
                if k == want and v is not None:
                    self.n += 1
                    break


def pages(d):
    out = []
    for dp, _, fs in os.walk(d, followlinks=True):
        if os.path.basename(dp).startswith(("_", ".")):
            continue
        for f in fs:
            if f.endswith(".html"):
                out.append(open(os.path.join(dp, f), "rb").read())
    return out


def rate(fn, docs, secs):
    n, t0 = 0, time.process_time()
    while True:
        for d in docs:
            fn(d)
            n += len(d)
            if time.process_time() - t0 > secs:
                return n / (time.process_time() - t0) / 1e6


def with_html_parser(raw):
    p = Links()
    p.feed(raw.decode("utf-8", "replace"))
    p.close()


def with_html5lib(raw):
    doc = html5lib.parse(raw, namespaceHTMLElements=False)
    return sum(1 for el in doc.iter() if isinstance(el.tag, str) and el.tag in ATTR
               and el.get(ATTR[el.tag]) is not None)


def main():
    d = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    docs = pages(d)
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < min(secs, 2):
        for l in LINKS:
            urljoin(BASE, l)
        n += len(LINKS)
    print(f"py_urljoin {(time.process_time() - t0) * 1e9 / n:.1f} ns/link")
    print(f"py_html_parser {rate(with_html_parser, docs, secs):.2f} MB/s")
    print(f"py_html5lib {rate(with_html5lib, docs, secs):.2f} MB/s")


if __name__ == "__main__":
    main()
