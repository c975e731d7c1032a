#!/usr/bin/python3
"""gensite.py - the crawler tests' generated bad-input site, and its truth.

    gensite.py OUT --port P [--nginx-port Q] [--fault-port F] [--seed S]
               [--depth D] [--huge-mib M] [--bulk N]

Writes, deterministically from the seed:
  OUT/root/hN/...   the files of five loopback "hosts" 127.0.0.1..5 (port P)
  OUT/nginx.conf    a private nginx (the patterns of tests/http/nginx.sh:
                    pid, logs and temp paths inside OUT) serving each host
                    from its own root on 127.0.0.N:Q (Q = P unless a meter
                    sits in front), statuses, redirects and traps as nginx
                    locations, an access log OUT/access.log with request
                    start/end times (see LOG_FORMAT)
  OUT/seeds.txt     the seeds a test crawls
  OUT/truth.json    what a correct polite crawler does with those seeds at
                    --depth D with user agent "crawltest/1.0": "fetch" (url
                    -> expected status, final_url, depth (the shortest
                    distance: a link a click, a redirect none), parsed;
                    each fetched once - a redirect is a URL of its own, its
                    target another), "links" (url -> the links its record
                    lists: a parsed page's, a redirect's Location), "blocked" (robots: a record with status 0, never
                    requested), "never" ((host, path) never requested: links
                    in comments/scripts/text, out-of-scope hosts, tails of
                    pages past the size cap), "alternatives" (links whose
                    resolution depends on the page's charset: exactly one
                    form is fetched), "errors" (url -> the kind of failure),
                    "retry" (urls retried, with Retry-After seconds)
The hosts: 1 every kind of link and every kind of error, traps (an
endless calendar, ever-deeper paths); 2 robots.txt rules (user-agent
groups, Allow/Disallow, * and $, Crawl-delay); 3 a bulk host served slowly
(limit_rate) for per-host concurrency; 4 robots.txt answering 500
(everything disallowed); 5 never seeded, only linked (out of scope).
faultd (tests/http/faultd.c) on port F, when given, is a sixth, seeded
host for faults nginx cannot make (a reset mid-body, short bodies).

Each HTML page's expected links are written beside it by construction and
checked here against html5lib's parse (python3-html5lib) resolved with
WHATWG-style rules, so the truth is not only this file's opinion.
"""
import argparse
import json
import os
import random
import sys
from urllib.parse import urljoin, urlsplit, urlunsplit, quote, unquote_to_bytes

UA = "crawltest/1.0"
MAX_REDIRECTS = 10   # redirects in a chain (simul-crawl's, libcurl's)
LOG_FORMAT = ('$msec $request_time $server_addr $connection $connection_requests '
              '$status $body_bytes_sent "$http_host" "$request_uri" "$http_user_agent"')
UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def canon(url):
    """A URL as a crawler's dedup should see it: scheme and host lowercase,
    default port and fragment dropped, dot segments removed, %XX of
    unreserved bytes decoded and the others uppercased, unsafe bytes
    encoded. Both the truth and a crawler's output go through it."""
    s = urlsplit(url.strip())
    scheme = s.scheme.lower()
    host = (s.hostname or "").lower()
    port = s.port
    netloc = host if port in (None, {"http": 80, "https": 443}.get(scheme)) else f"{host}:{port}"

    def norm(part, safe):
        out, i = [], 0
        b = part.encode("utf-8", "surrogateescape")
        while i < len(b):
            c = b[i]
            if c == 0x25 and len(b[i + 1:i + 3]) == 2 and \
                    all(x in b"0123456789abcdefABCDEF" for x in b[i + 1:i + 3]):
                v = int(b[i + 1:i + 3], 16)
                out.append(chr(v) if v in UNRESERVED else "%%%02X" % v)
                i += 3
                continue
            out.append(chr(c) if c in UNRESERVED or chr(c) in safe else "%%%02X" % c)
            i += 1
        return "".join(out)

    path = s.path or "/"
    # Dot segments (RFC 3986 5.2.4).
    segs = []
    for seg in path.split("/")[1:]:
        if seg == "..":
            if segs:
                segs.pop()
        elif seg != ".":
            segs.append(seg)
    if path.split("/")[-1] in (".", ".."):
        segs.append("")
    path = "/" + "/".join(segs)
    path = norm(path, "/:@!$&'()*+,;=")
    query = norm(s.query, "/:@!$&'()*+,;=?")
    return urlunsplit((scheme, netloc, path, query, ""))


class Site:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.port = a.port
        self.root = os.path.join(a.out, "root")
        # url (canonical) -> page record
        self.pages = {}
        self.never = []          # (host, path) never requested
        self.alternatives = []   # [canonical urls], exactly one fetched
        self.redirects = {}      # url -> (status, location url)
        self.checks = []         # (url, html bytes, expected links) for html5lib
        self.dynamic = {}        # prefix -> function(url) -> links (traps)

    def host(self, n):
        return f"127.0.0.{n}:{self.port}"

    def url(self, n, path):
        return canon(f"http://{self.host(n)}{path}")

    def write(self, n, path, data):
        if isinstance(path, bytes):  # a name that is no UTF-8
            p = os.path.join(self.root.encode(), f"h{n}".encode(), path.lstrip(b"/"))
        else:
            p = os.path.join(self.root, f"h{n}", path.lstrip("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))

    def page(self, n, path, body, links, *, ctype="text/html", status=200, parsed=True,
             check=True, head="", charset="utf-8", raw=None, fname=None):
        """An HTML page at path on host n; links: the resolved URLs a
        correct extractor finds (None: do not check with html5lib)."""
        if raw is None:
            html = (f'<!DOCTYPE html>\n<html><head><meta charset="{charset}">'
                    f"<title>{path}</title>{head}</head>\n<body>\n{body}\n</body></html>\n")
            raw = html.encode("utf-8") if charset == "utf-8" else html.encode("latin-1")
        self.write(n, fname or path, raw)
        u = self.url(n, path)
        links = [canon(l) for l in links]
        self.pages[u] = {"status": status, "ctype": ctype, "parsed": parsed,
                         "links": links, "bytes": len(raw)}
        if check and parsed:
            self.checks.append((u, raw, links))
        return u

    def file(self, n, path, data, ctype, links=()):
        self.write(n, path, data)
        u = self.url(n, path)
        self.pages[u] = {"status": 200, "ctype": ctype, "parsed": False, "links": list(links),
                         "bytes": len(data)}
        return u

    def status(self, n, path, code):
        u = self.url(n, path)
        self.pages[u] = {"status": code, "ctype": "text/html", "parsed": False, "links": []}
        return u

    def leaf(self, n, path, extra=()):
        """A small page linking back to its host's index (a duplicate)."""
        links = [self.url(n, "/index.html")] + [self.url(n, p) for p in extra]
        body = '<p>leaf</p><a href="/index.html">home</a>' + "".join(
            f'<a href="{p}">x</a>' for p in extra)
        return self.page(n, path, body, links)

    def forbid(self, n, path, *, file=True):
        """A path that must never be requested (its file exists: a crawler
        that asks gets a 200, so only the access log tells)."""
        self.never.append([self.host(n), path])
        if file:
            self.write(n, path, "<html><body>must never be fetched</body></html>\n")

    # ---- host 1: link kinds, hidden links, errors, redirects, files, traps
    def host1(self):
        h, u, P = 1, lambda p: self.url(1, p), self.port
        top = ["kinds.html", "hidden.html", "errors.html", "redirects.html", "files.html",
               "charset/index.html", "broken.html", "schemes.html", "traps.html",
               "spaces.html", "huge.html", "frames.html", "base/page.html", "refresh.html",
               "dups.html", "h1-private/secret.html", "short/index.html"]
        body = "\n".join(f'<p><a href="{t}">{t}</a></p>' for t in top)
        body += (f'\n<a href="http://127.0.0.5:{P}/out.html">another host, not seeded</a>'
                 f'\n<a href="http://localhost:{P}/index.html">same server, other host name</a>'
                 f'\n<a href="http://127.0.0.3:{P}/from-h1.html">the bulk host</a>'
                 f'\n<a href="http://127.0.0.2:{P}/index.html">the robots host (a seed)</a>')
        links = [u("/" + t) for t in top] + [
            self.url(5, "/out.html"), f"http://localhost:{P}/index.html",
            self.url(3, "/from-h1.html"), self.url(2, "/index.html")]
        self.page(h, "/index.html", body, links)
        self.never.append([f"127.0.0.5:{P}", "/out.html"])
        self.never.append([f"localhost:{P}", "/index.html"])
        # robots.txt: a redirect to the real file (RFC 9309: follow up to 5).
        self.redirects[u("/robots.txt")] = (301, u("/robots-real.txt"))
        self.write(h, "/robots-real.txt", "User-agent: *\nDisallow: /h1-private/\n")
        self.write(h, "/h1-private/secret.html", "<html><body>robots says no</body></html>\n")
        self.blocked_urls = [u("/h1-private/secret.html")]

        # Every kind of link.
        k = lambda p: u("/kinds/" + p)
        body = f"""
<a href="kinds/rel.html">relative</a>
<a href="/kinds/abs-path.html">absolute path</a>
<a href="http://127.0.0.1:{P}/kinds/absolute.html">absolute</a>
<a href="//127.0.0.1:{P}/kinds/proto-rel.html">protocol-relative</a>
<a href="kinds/q.html?a=1&amp;b=2">a character reference</a>
<a href="kinds/q.html?a=1&b=3">a bare ampersand</a>
<a href=kinds/unquoted.html>unquoted</a>
<a href='kinds/single.html'>single-quoted</a>
<A HREF="kinds/upper.html">upper case</A>
<a
   class="several"
   href="kinds/multi.html"
   title="lines">attributes over several lines</a>
<a href="kinds/frag.html#section">a fragment</a>
<a href="kinds/frag.html#other">the same page, another fragment</a>
<a href="kinds/./dots/../dotted.html">dot segments</a>
<a href="HTTP://127.0.0.1:{P}/kinds/scheme-case.html">upper-case scheme</a>
<a href="http://127.0.0.1:{P}/kinds/%7Etilde.html">%7E</a>
<a href="kinds/~tilde.html">the same, unescaped</a>
<a href="kinds/ent&#46;html">a numeric reference</a>
<map name="m"><area shape="rect" coords="0,0,10,10" href="kinds/area.html"></map>
<iframe src="kinds/iframe.html"></iframe>
"""
        head = ('\n<link rel="stylesheet" href="kinds/style.css">'
                "\n<LINK REL=alternate TYPE=application/rss+xml HREF='kinds/feed.xml'>")
        leaves = ["rel.html", "abs-path.html", "absolute.html", "proto-rel.html",
                  "unquoted.html", "single.html", "upper.html", "multi.html", "frag.html",
                  "dotted.html", "scheme-case.html", "~tilde.html", "ent.html", "area.html",
                  "iframe.html"]
        links = [k("style.css"), k("feed.xml"), k("rel.html"), k("abs-path.html"),
                 k("absolute.html"), k("proto-rel.html"), k("q.html?a=1&b=2"),
                 k("q.html?a=1&b=3"), k("unquoted.html"), k("single.html"), k("upper.html"),
                 k("multi.html"), k("frag.html"), k("frag.html"), k("dotted.html"),
                 k("scheme-case.html"), k("~tilde.html"), k("~tilde.html"), k("ent.html"),
                 k("area.html"), k("iframe.html")]
        self.page(h, "/kinds.html", body, links, head=head)
        for lf in leaves:
            self.leaf(h, "/kinds/" + lf)
        self.write(h, "/kinds/q.html", "<html><body><a href='../index.html'>q</a></body></html>")
        for q in ("a=1&b=2", "a=1&b=3"):
            self.pages[k("q.html?" + q)] = {"status": 200, "ctype": "text/html", "parsed": True,
                                            "links": [u("/index.html")]}
        self.file(h, "/kinds/style.css", b"body { background: url(../never/css.png) }\n",
                  "text/css")
        self.file(h, "/kinds/feed.xml",
                  b'<?xml version="1.0"?><rss><channel><link>http://127.0.0.1/never/rss</link>'
                  b"</channel></rss>\n", "application/rss+xml")
        self.forbid(h, "/never/css.png")

        # Links where the tokenizer must not see them.
        body = """
<!-- <a href="never/comment.html">in a comment</a> -->
<!--[if IE]><a href="never/conditional.html">conditional comment</a><![endif]-->
<script>document.write('<a href="never/script.html">x</a>'); var s = "<a href='never/script2.html'>";</script>
<script type="text/template"><a href="never/template.html">template</a></script>
<script><!-- <script> </script> <a href="never/double-escaped.html">x</a> </script> --></script>
<style>a { background: url(never/style-url.png) } /* <a href="never/style.html"> */</style>
<textarea><a href="never/textarea.html">in a textarea</a></textarea>
<img alt='<a href="never/attr.html">' src="hidden/img.png">
<p>text that says href="never/text.html" is not a tag</p>
<a href="hidden/visible.html">after all of that, a real link</a>
"""
        head = '<!-- <link href="never/head-comment.css"> -->'
        html = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
                f'<title>hidden <a href="never/title.html">in the title</a></title>{head}</head>\n'
                f"<body>\n{body}\n</body></html>\n")
        self.page(h, "/hidden.html", None, [u("/hidden/visible.html")], raw=html.encode())
        self.leaf(h, "/hidden/visible.html")
        for p in ("comment", "conditional", "script", "script2", "template",
                  "double-escaped", "style", "textarea", "attr", "text", "title"):
            self.forbid(h, f"/never/{p}.html")
        self.forbid(h, "/never/style-url.png")
        self.forbid(h, "/never/head-comment.css")
        self.forbid(h, "/hidden/img.png")   # an <img src> is not a link to crawl

        # Errors: statuses nginx answers (see conf), retried ones.
        body = """
<a href="errors/missing.html">404</a> <a href="status/500">500</a>
<a href="status/503">503</a> <a href="status/429">429 with Retry-After: 1</a>
<a href="status/410">410</a> <a href="status/403">403</a>
"""
        links = [u("/errors/missing.html"), u("/status/500"), u("/status/503"),
                 u("/status/429"), u("/status/410"), u("/status/403")]
        self.page(h, "/errors.html", body, links)
        self.status(h, "/errors/missing.html", 404)
        for c in (500, 503, 429, 410, 403):
            self.status(h, f"/status/{c}", c)
        self.retry = {u("/status/500"): 0, u("/status/503"): 0, u("/status/429"): 1}

        # Redirects: chains, loops, a permanent one, one to a 404, relative.
        body = """
<a href="r/chain1">a chain of three</a> <a href="r/loop">a loop</a>
<a href="r/ab-a">a two-step loop</a> <a href="r/perm">301</a>
<a href="r/to-missing">to a 404</a> <a href="r/rel">relative Location</a>
<a href="r/t307">307</a>
<a href="r/long0">a chain of twelve</a>
<a href="r/to-t">a redirect to t.html</a> <a href="r/t.html">t.html itself</a>
<a href="r/to-t2">another redirect to t.html</a>
"""
        R = lambda p: u("/r/" + p)
        links = [R(p) for p in ("chain1", "loop", "ab-a", "perm", "to-missing", "rel", "t307",
                                "long0", "to-t", "t.html", "to-t2")]
        self.page(h, "/redirects.html", body, links)
        self.redirects.update({
            R("chain1"): (302, R("chain2")), R("chain2"): (302, R("chain3")),
            R("chain3"): (302, R("target.html")),
            R("loop"): (302, R("loop")),
            R("ab-a"): (302, R("ab-b")), R("ab-b"): (302, R("ab-a")),
            R("perm"): (301, R("perm-target.html")),
            R("to-missing"): (302, R("nothing.html")),
            R("rel"): (302, R("rel-target.html")),
            R("t307"): (307, R("t307-target.html")),
            # t.html is linked directly and reached by two redirects: it
            # is requested once all the same
            R("to-t"): (302, R("t.html")), R("to-t2"): (301, R("t.html")),
        })
        # A chain longer than MAX_REDIRECTS: long10 (ten redirects from
        # long0) is recorded with error "redirects", long11 never asked.
        for i in range(12):
            self.redirects[R(f"long{i}")] = (302, R(f"long{i + 1}"))
        self.forbid(h, "/r/long11", file=False)
        self.forbid(h, "/r/long12", file=False)
        self.leaf(h, "/r/t.html")
        # The target's links resolve against the final URL (r/after.html).
        self.page(h, "/r/target.html", '<a href="after.html">after</a>', [R("after.html")])
        self.leaf(h, "/r/after.html")
        for t in ("perm-target.html", "rel-target.html", "t307-target.html"):
            self.leaf(h, "/r/" + t)
        self.status(h, "/r/nothing.html", 404)

        # Files: fetched, not parsed (only text/html and XHTML are).
        F = lambda p: u("/files/" + p)
        body = """
<a href="files/doc.pdf">pdf</a> <a href="files/img.png">png</a>
<a href="files/notes.txt">text</a> <a href="files/data.bin">octet-stream</a>
<a href="files/page.xhtml">XHTML</a> <a href="files/fake.html">PNG bytes as HTML</a>
"""
        self.page(h, "/files.html", body, [F("doc.pdf"), F("img.png"), F("notes.txt"),
                                           F("data.bin"), F("page.xhtml"), F("fake.html")])
        png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
               b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01"
               b"\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
        self.file(h, "/files/doc.pdf", b"%PDF-1.4\n% <a href=\"../never/pdf.html\">\n%%EOF\n",
                  "application/pdf")
        self.file(h, "/files/img.png", png, "image/png")
        self.file(h, "/files/notes.txt",
                  b'plain text: <a href="../never/intext.html">x</a> href="../never/intext2.html"\n',
                  "text/plain")
        self.file(h, "/files/data.bin",
                  b'<html><body><a href="../never/octet.html">not html</a></body></html>\n',
                  "application/octet-stream")
        self.forbid(h, "/never/pdf.html")
        self.forbid(h, "/never/intext.html")
        self.forbid(h, "/never/intext2.html")
        self.forbid(h, "/never/octet.html")
        xhtml = (b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
                 b'<head><title>x</title></head><body><a href="from-xhtml.html">x</a></body></html>\n')
        self.write(h, "/files/page.xhtml", xhtml)
        self.pages[F("page.xhtml")] = {"status": 200, "ctype": "application/xhtml+xml",
                                       "parsed": True, "links": [F("from-xhtml.html")],
                                       "bytes": len(xhtml)}
        self.leaf(h, "/files/from-xhtml.html")
        self.page(h, "/files/fake.html", None, [], raw=png * 3)

        # Charsets: the same byte in an href read three ways; every form
        # exists on disk, exactly one must be fetched.
        C = lambda p: u("/charset/" + p)
        body = """
<a href="latin1-as-utf8.html">Latin-1 bytes labelled UTF-8</a>
<a href="utf8-as-latin1.html">UTF-8 bytes labelled Latin-1</a>
<a href="bad-utf8.html">invalid UTF-8</a>
"""
        self.page(h, "/charset/index.html", body,
                  [C("latin1-as-utf8.html"), C("utf8-as-latin1.html"), C("bad-utf8.html")])
        cases = [
            ("latin1-as-utf8.html", "utf-8", b"caf\xe9.html", [b"caf\xe9", b"caf\xef\xbf\xbd", b"caf\xc3\xa9"]),
            ("utf8-as-latin1.html", "iso-8859-1", b"na\xc3\xafve.html", [b"na\xc3\xafve", b"na\xc3\x83\xc2\xaf"]),
            ("bad-utf8.html", "utf-8", b"bad\xff\xfe.html", [b"bad\xff\xfe", b"bad\xef\xbf\xbd\xef\xbf\xbd", b"bad\xef\xbf\xbd"]),
        ]
        for name, cs, href, forms in cases:
            raw = (b'<!DOCTYPE html><html><head><meta charset="' + cs.encode() +
                   b'"><title>charset</title></head><body><p>caf\xe9 na\xc3\xafve</p><a href="' +
                   href + b'">x</a></body></html>\n')
            alts = []
            for f in forms:
                self.write(h, b"/charset/" + f + b".html", self.leaf_html())
                alts.append(C(quote(f + b".html", safe="")))
            self.page(h, "/charset/" + name, None, [], raw=raw, check=False)
            self.pages[C(name)]["links_alternatives"] = alts
            self.alternatives.append(alts)

        # Broken HTML (the expected links checked against html5lib below).
        B = lambda p: u("/broken/" + p)
        raw = (b'<!DOCTYPE html><html><head><title>broken</title></head><body>\n'
               b'<a href="broken/ok1.html">ok<a href="broken/ok2.html">an a in an a</a>\n'
               b'<a href="broken/noclose.html" <p>text</p>\n'
               b'<div><span><a href=broken/ok3.html>unclosed<div>\n'
               b'<p>a NUL \x00 byte</p></p></p></div></div></span>\n'
               b'<a href="broken/dup.html" href="broken/dup2.html">two hrefs: the first</a>\n'
               b'<a href=\'broken/ok4.html\'title=x>no space</a>\n'
               b'<a href="broken/ok5.html"/>self-closing</a>\n'
               b'</body></html>\n<a href="broken/after-html.html">after the end</a>\n'
               b'<a href="never/eof.html"')
        self.page(h, "/broken.html", None,
                  [B("ok1.html"), B("ok2.html"), B("noclose.html"), B("ok3.html"),
                   B("dup.html"), B("ok4.html"), B("ok5.html"), B("after-html.html")], raw=raw)
        for p in ("ok1", "ok2", "noclose", "ok3", "dup", "ok4", "ok5", "after-html"):
            self.leaf(h, f"/broken/{p}.html")
        self.forbid(h, "/broken/dup2.html")
        self.forbid(h, "/never/eof.html")

        # Other schemes: recorded perhaps, never fetched; invalid URLs.
        body = f"""
<a href="mailto:someone@example.com">mail</a> <a href="javascript:alert(1)">js</a>
<a href="ftp://127.0.0.1:{P}/never/ftp.html">ftp</a> <a href="tel:+100">tel</a>
<a href="data:text/html,<a href=x>">data</a> <a href="file:///etc/passwd">file</a>
<a href="http://[::1">an invalid URL</a> <a href="http://exa mple.com/">a space in the host</a>
<a href="schemes/ok.html">a real one</a>
"""
        self.page(h, "/schemes.html", body, [u("/schemes/ok.html")], check=False)
        self.pages[u("/schemes.html")]["links_other"] = [
            "mailto:someone@example.com", "javascript:alert(1)", f"ftp://127.0.0.1:{P}/never/ftp.html",
            "tel:+100", "data:text/html,<a href=x>", "file:///etc/passwd"]
        self.leaf(h, "/schemes/ok.html")

        # Spaces and control characters in URLs (WHATWG: spaces encoded,
        # tabs and newlines removed, leading/trailing spaces stripped).
        S = lambda p: u("/spaces/" + p)
        body = ('<a href="spaces/with space.html">a space</a>\n'
                '<a href="  spaces/leading.html  ">spaces around</a>\n'
                '<a href="spaces/new\nline.html">a newline inside</a>\n'
                '<a href="spaces/tab&#9;bed.html">a tab inside</a>\n')
        self.page(h, "/spaces.html", body, [S("with%20space.html"), S("leading.html"),
                                            S("newline.html"), S("tabbed.html")], check=False)
        self.leaf(h, "/spaces/with space.html")
        self.pages[S("with%20space.html")] = self.pages.pop(S("with space.html"), None) or \
            self.pages[S("with%20space.html")]
        for p in ("leading", "newline", "tabbed"):
            self.leaf(h, f"/spaces/{p}.html")

        # Frames, <base>, meta refresh, duplicate links on one page.
        self.page(h, "/frames.html", None, [u("/frames/a.html"), u("/frames/b.html")],
                  raw=b'<!DOCTYPE html><html><head><title>f</title></head><frameset cols="50%,50%">'
                      b'<frame src="frames/a.html"><FRAME SRC="frames/b.html"></frameset></html>\n')
        self.leaf(h, "/frames/a.html")
        self.leaf(h, "/frames/b.html")
        self.page(h, "/base/page.html", '<a href="x.html">x</a> <a href="../y.html">y</a>',
                  [u("/base/other/x.html"), u("/base/y.html")],
                  head='<base href="/base/other/">')
        # <base href> sets the base; it is no link to crawl.
        self.page(h, "/base/other/index.html", "<p>the base itself</p>", [])
        self.pages[u("/base/other/")] = self.pages.pop(u("/base/other/index.html"))
        self.leaf(h, "/base/other/x.html")
        self.leaf(h, "/base/y.html")
        self.page(h, "/refresh.html", "<p>moving</p>", [u("/refresh/target.html")],
                  head='<meta http-equiv="Refresh" content="0; url=refresh/target.html">')
        self.leaf(h, "/refresh/target.html")
        body = "".join('<a href="dups/one.html">again</a> ' for _ in range(50))
        self.page(h, "/dups.html", body, [u("/dups/one.html")] * 50)
        self.leaf(h, "/dups/one.html")

        # The shortest path is the slow one: short/slow.html (served at
        # limit_rate, its link at the end) links x.html, which the fast
        # chain a1 -> a2 -> a3 reaches two clicks later. With several
        # fetches at once, x is found and fetched by the long way first;
        # its depth must end at the short way's, and what lies below it
        # within --depth be fetched: from short/index.html at --depth 4,
        # exactly index 0, slow 1, a1 1, a2 2, x 2, a3 3, y 3, z 4.
        S = lambda p: u("/short/" + p)
        self.page(h, "/short/index.html", '<a href="slow.html">slow</a> <a href="a1.html">a1</a>',
                  [S("slow.html"), S("a1.html")])
        self.page(h, "/short/slow.html", "<p>" + "slow page " * 4000 + '</p><a href="x.html">x</a>',
                  [S("x.html")])
        for a, b in (("a1", "a2"), ("a2", "a3"), ("a3", "x"), ("x", "y"), ("y", "z"), ("z", "w")):
            self.page(h, f"/short/{a}.html", f'<a href="{b}.html">{b}</a>', [S(f"{b}.html")])
        self.leaf(h, "/short/w.html")

        # Traps: an endless calendar (each page links to two new months)
        # and ever-deeper paths; bounded only by --depth.
        self.page(h, "/traps.html", '<a href="trap/cal?month=1">calendar</a> '
                  '<a href="trap/deep/">deeper and deeper</a>',
                  [u("/trap/cal?month=1"), u("/trap/deep/")])
        self.dynamic["cal"] = True

        # A page over the crawler's size cap; its only link is at the end.
        mib = self.a.huge_mib
        filler = b"<p>" + b"huge page filler " * 60 + b"</p>\n"
        n = (mib << 20) // len(filler) + 1
        raw = (b"<!DOCTYPE html><html><head><title>huge</title></head><body>\n" +
               filler * n + b'<a href="never/huge-tail.html">past the cap</a></body></html>\n')
        self.write(h, "/huge.html", raw)
        self.pages[u("/huge.html")] = {"status": 200, "ctype": "text/html", "parsed": False,
                                       "links": [], "bytes": len(raw), "too_big": True}
        self.forbid(h, "/never/huge-tail.html")

    def leaf_html(self):
        return b'<html><body><a href="/index.html">home</a></body></html>\n'

    # ---- host 2: robots.txt rules ----------------------------------------
    def host2(self):
        h, u = 2, lambda p: self.url(2, p)
        self.write(h, "/robots.txt", """# robots.txt of the rules host
User-agent: *
Disallow: /

User-agent: othercrawler
Allow: /

User-agent: CrawlTest
Disallow: /private/
Allow: /private/public.html
Disallow: /*.cgi$
Disallow: /search
Disallow: /tmp/
Allow: /tmp/ok/
Disallow: /*/nested-secret
Crawl-delay: 0.3
""")
        allowed = ["/private/public.html", "/run.cgi?x=1", "/tmp/ok/b.html", "/Private/x.html",
                   "/cgi.html", "/searc.html", "/nested/ok.html"]
        blocked = ["/private/secret.html", "/private/", "/run.cgi", "/search?q=a",
                   "/searching.html", "/tmp/a.html", "/%70rivate/y.html", "/a/nested-secret.html"]
        body = "\n".join(f'<a href="{p}">{p}</a>' for p in allowed + blocked)
        self.page(h, "/index.html", body, [u(p) for p in allowed + blocked])
        for p in allowed:
            path = p.split("?")[0]
            self.leaf(h, path)
            if "?" in p:
                self.pages[u(p)] = self.pages.pop(u(path))
        for p in blocked:
            self.forbid(h, p, file=False)
            path = unquote_to_bytes(p.split("?")[0]).decode()
            path += "index.html" if path.endswith("/") else ""
            if not os.path.exists(os.path.join(self.root, "h2", path.lstrip("/"))):
                self.write(h, path, "<html><body>robots says no</body></html>\n")
        self.blocked_urls += [u(p) for p in blocked]
        self.crawl_delay = {self.host(2): 0.3}

    # ---- host 3: a bulk host, served slowly -------------------------------
    def host3(self):
        h, u = 3, lambda p: self.url(3, p)
        n = self.a.bulk
        body = "\n".join(f'<a href="p/{i}.html">{i}</a>' for i in range(n))
        self.page(h, "/index.html", body, [u(f"/p/{i}.html") for i in range(n)])
        filler = "<p>" + "bulk " * 2000 + "</p>\n"
        for i in range(n):
            others = self.rng.sample(range(n), 4)
            body = filler + "".join(f'<a href="{j}.html">{j}</a> ' for j in others) + \
                f'<a href="{i}/a.html">sub</a> <a href="/index.html">home</a>'
            self.page(h, f"/p/{i}.html", body,
                      [u(f"/p/{j}.html") for j in others] + [u(f"/p/{i}/a.html"), u("/index.html")])
            self.leaf(h, f"/p/{i}/a.html")
        self.leaf(h, "/from-h1.html")

    # ---- host 4: robots.txt answers 500: nothing may be fetched ------------
    def host4(self):
        h, u = 4, lambda p: self.url(4, p)
        self.page(h, "/index.html", '<a href="a.html">a</a>', [u("/a.html")])
        self.write(h, "/a.html", self.leaf_html())
        self.unreachable_urls = [u("/index.html")]
        self.never.append([self.host(4), "/index.html"])
        self.never.append([self.host(4), "/a.html"])

    def host5(self):
        self.leaf(5, "/out.html")
        del self.pages[self.url(5, "/out.html")]

    # ---- the trap pages (answered by nginx, see conf) ----------------------
    def trap_links(self, url):
        s = urlsplit(url)
        if s.path == "/trap/cal":
            m = s.query.split("=", 1)[1]
            return [self.url(1, f"/trap/cal?month={m}1"), self.url(1, f"/trap/cal?month={m}0"),
                    self.url(1, "/traps.html")]
        if s.path.startswith("/trap/deep/"):
            return [canon(urljoin(url, "x/"))]
        return None

    # ---- the truth: shortest paths from the seeds ---------------------------
    def truth(self, seeds, depth):
        """Each URL's label is (depth, hops): a link costs one click and
        resets hops, a redirect keeps the depth and adds a hop (a redirect
        is no click; a chain ends after MAX_REDIRECTS). The crawler's depth
        is the shortest such distance, so this walks labels in order
        (Dijkstra over the lexicographic pairs), not the discovery order."""
        import heapq
        scope = {urlsplit(s).netloc for s in seeds}
        blocked = set(self.blocked_urls)
        fetch, errors, page_links = {}, {}, {}
        best = {}            # url -> (depth, hops, parent)
        heap, seq = [], 0
        for s in seeds:
            c = canon(s)
            if c not in best:
                best[c] = (0, 0, None)
                heapq.heappush(heap, (0, 0, seq, c))
                seq += 1
        out_blocked, alt_links, done = {}, {}, set()

        def offer(u, d, h, parent):
            nonlocal seq
            su = urlsplit(u)
            if su.scheme not in ("http", "https") or su.netloc not in scope:
                return
            if u in best and best[u][:2] <= (d, h):
                return
            best[u] = (d, h, parent)
            heapq.heappush(heap, (d, h, seq, u))
            seq += 1

        while heap:
            d, h, _, url = heapq.heappop(heap)
            if url in done or best[url][:2] != (d, h):
                continue
            done.add(url)
            parent = best[url][2]
            if url in blocked:
                out_blocked[url] = {"depth": d, "parent": parent}
                continue
            if url in self.unreachable_urls:
                # robots.txt answered 5xx through every retry: nothing of
                # the host is fetched, its URLs are recorded as such.
                fetch[url] = {"depth": d, "parent": parent, "final_url": None, "status": None,
                              "error": "robots_unreachable"}
                errors[url] = "robots_unreachable"
                continue
            if url in self.redirects:
                # A record of its own: the 3xx, final_url its Location, that
                # Location its one link; the target is a URL of its own.
                code, loc = self.redirects[url]
                rec = {"depth": d, "parent": parent, "final_url": loc, "status": code,
                       "ctype": "text/html", "parsed": False, "redirect": True}
                sl = urlsplit(loc)
                if sl.netloc not in scope:
                    rec["error"] = "scope"
                elif h + 1 > MAX_REDIRECTS:
                    rec["error"] = "redirects"
                else:
                    offer(loc, d, h + 1, url)
                fetch[url] = rec
                page_links[url] = [loc]
                if rec.get("error"):
                    errors[url] = rec["error"]
                continue
            rec = {"depth": d, "parent": parent, "final_url": url}
            p = self.pages.get(url)
            tl = self.trap_links(url)
            if tl is not None:
                p = {"status": 200, "ctype": "text/html", "parsed": True, "links": tl}
            if url in self.fault_pages:
                p = self.fault_pages[url]
            if p is None:
                p = {"status": 404, "ctype": "text/html", "parsed": False, "links": []}
            rec.update(status=p["status"], ctype=p["ctype"], parsed=p["parsed"])
            if p.get("status_any"):
                rec["status_any"] = True
            if p.get("too_big"):
                rec["error"] = "too_big"
            if p.get("error"):
                rec["error"] = p["error"]
            if p["status"] and p["status"] >= 400:
                rec["error"] = rec.get("error") or "http"
            if p.get("links_alternatives"):
                rec["alternatives"] = p["links_alternatives"]
                alt_links[url] = p["links_alternatives"]
            links = p["links"] if p["parsed"] else []
            if p["parsed"] and p["status"] == 200:
                page_links[url] = sorted(set(links))
            fetch[url] = rec
            if rec.get("error"):
                errors[url] = rec["error"]
            if d >= depth:
                continue
            for l in links:
                offer(l, d + 1, 0, url)
        return {"fetch": fetch, "blocked": out_blocked, "errors": errors, "links": page_links,
                "links_alt": alt_links, "scope": sorted(scope)}

    # ---- faultd (a sixth host) ------------------------------------------------
    def faults(self):
        F = self.a.fault_port
        self.fault_pages = {}
        if not F:
            return []
        fu = lambda p: canon(f"http://127.0.0.1:{F}{p}")
        self.fault_pages = {
            fu("/ok"): {"status": 200, "ctype": "text/html", "parsed": True,
                        "links": [fu("/nolinks"), fu("/plain")]},
            fu("/nolinks"): {"status": 200, "ctype": "text/html", "parsed": True, "links": []},
            fu("/plain"): {"status": 200, "ctype": "text/plain", "parsed": False, "links": []},
            fu("/reset-body"): {"status": 200, "ctype": "text/html", "parsed": False,
                                "links": [], "error": "transport", "status_any": True},
            fu("/short-body"): {"status": 200, "ctype": "text/html", "parsed": False,
                                "links": [], "error": "transport", "status_any": True},
            fu("/garbage-status"): {"status": None, "ctype": None, "parsed": False,
                                    "links": [], "error": "transport"},
        }
        return [fu(p) for p in ("/ok", "/reset-body", "/short-body", "/garbage-status")]

    # ---- nginx ---------------------------------------------------------------
    def nginx_conf(self):
        out, Q = os.path.abspath(self.a.out), self.a.nginx_port
        user = ""
        if os.getuid() == 0:
            import grp
            import pwd
            user = f"user {pwd.getpwuid(os.getuid()).pw_name} {grp.getgrgid(os.getgid()).gr_name};"
        redir = {1: [], 2: [], 3: [], 4: [], 5: []}
        for src, (code, loc) in sorted(self.redirects.items()):
            hs, ls = urlsplit(src), urlsplit(loc)
            if hs.path == "/robots.txt":
                continue
            n = int(hs.hostname.rsplit(".", 1)[1])
            target = ls.path if not src.endswith("/rel") else "rel-target.html"
            redir[n].append(f"location = {hs.path} {{ return {code} {target}; }}")
        common = f"""root {out}/root/h%d;
    index index.html;
    absolute_redirect off;
    location = /robots.txt {{ %s }}
"""
        servers = []
        for n in range(1, 6):
            extra = "\n    ".join(redir[n])
            robots = "try_files /robots.txt =404;"
            if n == 1:
                robots = "return 301 /robots-real.txt;"
            if n == 4:
                robots = "return 500;"
            body = common % (n, robots) + "    " + extra + "\n"
            if n == 1:
                body += """    location = /short/slow.html { limit_rate 16k; }
    location = /status/403 { return 403; }
    location = /status/410 { return 410; }
    location = /status/500 { return 500; }
    location = /status/429 { add_header Retry-After 1 always; return 429; }
    location = /status/503 { add_header Retry-After 0 always; return 503; }
    location = /trap/cal {
        default_type text/html;
        return 200 '<!DOCTYPE html><html><head><title>month $arg_month</title></head><body><a href="cal?month=${arg_month}1">next</a> <a href="cal?month=${arg_month}0">other</a> <a href="/traps.html">up</a></body></html>';
    }
    location ^~ /trap/deep/ {
        default_type text/html;
        return 200 '<!DOCTYPE html><html><head><title>deep</title></head><body><a href="x/">deeper</a></body></html>';
    }
"""
            if n == 3:
                body += "    limit_rate 100k;\n"
            servers.append(f"    server {{\n        listen 127.0.0.{n}:{Q};\n    {body}    }}")
        return f"""# Written by tests/crawl/gensite.py; nothing here comes from /etc/nginx.
{user}
worker_processes 1;
daemon on;
pid {out}/nginx.pid;
error_log {out}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{
        text/html html htm cgi;
        application/xhtml+xml xhtml;
        text/css css;
        text/plain txt;
        application/rss+xml xml;
        image/png png;
        application/pdf pdf;
    }}
    default_type application/octet-stream;
    charset off;
    log_format crawl '{LOG_FORMAT}';
    access_log {out}/access.log crawl;
    client_body_temp_path {out}/tmp/body;
    proxy_temp_path {out}/tmp/proxy;
    fastcgi_temp_path {out}/tmp/fastcgi;
    uwsgi_temp_path {out}/tmp/uwsgi;
    scgi_temp_path {out}/tmp/scgi;
    sendfile on;
    keepalive_requests 100000;
    keepalive_timeout 65s;
    gzip off;
{chr(10).join(servers)}
}}
"""

    def check_html5lib(self):
        """Every checked page's expected links equal html5lib's."""
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from htmllinks import page_links
        bad = []
        for u, raw, links in self.checks:
            got = [canon(x) for x in page_links(raw, u)]
            if sorted(set(got)) != sorted(set(links)):
                bad.append((u, sorted(set(got) ^ set(links))))
        return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--nginx-port", type=int)
    ap.add_argument("--fault-port", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--huge-mib", type=int, default=12)
    ap.add_argument("--bulk", type=int, default=40)
    a = ap.parse_args()
    a.nginx_port = a.nginx_port or a.port
    os.makedirs(os.path.join(a.out, "tmp"), exist_ok=True)
    s = Site(a)
    s.host1()
    s.host2()
    s.host3()
    s.host4()
    s.host5()
    seeds = [s.url(n, "/index.html") for n in (1, 2, 3, 4)] + s.faults()
    bad = s.check_html5lib()
    if bad:
        for u, diff in bad:
            print(f"gensite: html5lib disagrees on {u}: {diff}", file=sys.stderr)
        sys.exit(1)
    t = s.truth(seeds, a.depth)
    t.update(seeds=seeds, depth=a.depth, user_agent=UA, never=s.never,
             alternatives=s.alternatives, retry=s.retry, crawl_delay=s.crawl_delay,
             port=a.port, fault_port=a.fault_port, huge_bytes=s.pages[s.url(1, "/huge.html")]["bytes"],
             hosts={f"127.0.0.{n}:{a.port}": f"h{n}" for n in range(1, 6)})
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(t, f, indent=1, sort_keys=True)
    with open(os.path.join(a.out, "seeds.txt"), "w") as f:
        f.write("\n".join(seeds) + "\n")
    with open(os.path.join(a.out, "nginx.conf"), "w") as f:
        f.write(s.nginx_conf())
    print(f"gensite: {len(t['fetch'])} pages to fetch, {len(t['blocked'])} blocked by robots, "
          f"{len(s.never)} never to request, {len(t['errors'])} errors; seeds in {a.out}/seeds.txt")


if __name__ == "__main__":
    main()
