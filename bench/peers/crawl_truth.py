#!/usr/bin/python3
"""crawl_truth.py - the mirror crawl benchmark's truth (bench/run-crawl.sh):
the URLs a correct crawler fetches from the seeds /m0/index.html ...
/m(N-1)/index.html over scripts/corpus.sh's mirror, computed by a
reference BFS over the files, not over HTTP.

    crawl_truth.py CORPUS_DIR N BASE_URL OUT_FILE [CACHE_FILE]

Each HTML page's links come from html5lib's full parse (python3-html5lib;
tests/crawl/htmllinks.py: a/area/link/base href, frame/iframe src, meta
refresh), resolved with urllib.parse.urljoin, fragments dropped; a link is
kept if it stays on BASE_URL's host and names an existing file under
CORPUS_DIR (a path ending in / names its index.html). Kept .html files
are parsed in turn; other files (CSS, images, text) are fetched, not
parsed. No depth limit. Writes OUT_FILE, one URL a line, sorted.
The mirrors are identical, so one is parsed and its result repeated for
each mirror (a link leaving its mirror is followed as written); the
parse of the documentation is cached in CACHE_FILE (html5lib takes about
a minute for the 530 pages), keyed by the documentation's path and the
sizes and times of its files.
"""
import hashlib
import json
import os
import sys
from urllib.parse import urljoin, urlsplit, unquote, urldefrag

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "crawl"))
from htmllinks import page_links  # noqa: E402


def file_of(root, path):
    p = unquote(path)
    if p.endswith("/"):
        p += "index.html"
    f = os.path.normpath(os.path.join(root, p.lstrip("/")))
    if not f.startswith(os.path.normpath(root) + os.sep):
        return None
    return f if os.path.isfile(f) else None


def links_of_mirror(root):
    """{page path under /m0/: [link path or full URL]} for every HTML file
    of mirror 0, links resolved against a neutral host."""
    src = os.path.realpath(os.path.join(root, "m0"))
    out = {}
    for dp, _, fs in os.walk(src, followlinks=True):
        for f in fs:
            if not f.endswith(".html"):
                continue
            rel = os.path.relpath(os.path.join(dp, f), src).replace(os.sep, "/")
            u = f"http://h/m0/{rel}"
            with open(os.path.join(dp, f), "rb") as fh:
                raw = fh.read()
            out[rel] = [l for l in page_links(raw, u)]
    return out


def key(root):
    src = os.path.realpath(os.path.join(root, "m0"))
    h = hashlib.sha256(src.encode())
    for dp, _, fs in sorted(os.walk(src, followlinks=True)):
        for f in sorted(fs):
            st = os.stat(os.path.join(dp, f))
            h.update(f"{dp}/{f}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()


def main():
    root, n, base, out = sys.argv[1], int(sys.argv[2]), sys.argv[3].rstrip("/"), sys.argv[4]
    cache = sys.argv[5] if len(sys.argv) > 5 else None
    k = key(root)
    links = None
    if cache and os.path.exists(cache):
        try:
            c = json.load(open(cache))
            if c.get("key") == k:
                links = c["links"]
        except ValueError:
            pass
    if links is None:
        links = links_of_mirror(root)
        if cache:
            json.dump({"key": k, "links": links}, open(cache, "w"))
    host = urlsplit(base).netloc
    seen, queue = set(), []
    for i in range(n):
        u = f"{base}/m{i}/index.html"
        seen.add(u)
        queue.append(u)
    while queue:
        u = queue.pop()
        path = urlsplit(u).path
        parts = path.split("/", 2)
        if not path.endswith(".html") or len(parts) < 3 or not parts[1].startswith("m"):
            continue
        mirror, rel = parts[1], unquote(parts[2])
        if rel.endswith("/") or rel == "":
            rel += "index.html"
        for l in links.get(rel, []):
            # Re-root the neutral host and mirror 0 onto this page's.
            l = l.replace("http://h/m0/", f"{base}/{mirror}/", 1) if l.startswith("http://h/m0/") \
                else (base + l[len("http://h"):] if l.startswith("http://h/") else l)
            l = urldefrag(l)[0]
            s = urlsplit(l)
            if s.scheme != "http" or s.netloc != host or l in seen:
                continue
            if file_of(root, s.path) is None:
                continue
            seen.add(l)
            queue.append(l)
    with open(out, "w") as f:
        f.write("\n".join(sorted(seen)) + "\n")
    html = sum(1 for u in seen if urlsplit(u).path.endswith(".html"))
    print(json.dumps({"urls": len(seen), "html": html, "other": len(seen) - html}))


if __name__ == "__main__":
    main()
