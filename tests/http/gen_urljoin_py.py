#!/usr/bin/python3
"""gen_urljoin_py.py - writes urljoin_py.json, the table test_url checks
simul_url_join_py against: [base, ref, urllib.parse.urljoin(base, ref) or
null for ValueError] for every pair of the odd bases and references below.
Run it with Debian's python3 (the one areq.py runs on):
    /usr/bin/python3 tests/http/gen_urljoin_py.py > tests/http/urljoin_py.json
"""
import json
import sys
from urllib.parse import urljoin

BASES = [
    "http://a/b/c/d;p?q",
    "https://docs.python.org/3/library/asyncio.html",
    "http://example.com",
    "http://example.com/",
    "http://example.com/dir/",
    "http://user:pw@Example.COM:8080/a/b?x=1#frag",
    "HTTP://EXAMPLE.com/A/B",
    "  \thttp://ex\nample.com/a/b",
    "https://[::1]:8443/x/y",
    "file:///usr/share/doc/index.html",
    "mailto:someone@example.com",
    "ftp://ftp.example.com/pub/file.txt",
    "http://example.com/a/b/c/",
    "http://ex.com/%7Euser/p;params?q",
    "",
    "relative/path",
    "http://bücher.de/straße/ä?ö=ü",
    "svn+ssh://host/repo/trunk/",
    # directory shapes the plain-path shortcut must leave to the general walk
    "http://h//x",
    "http://h/a//b/c",
    "http://h/a/./b",
    "http://h/a/../b/c",
    "http://h/x",
    "https://..:1]:8443/x/y",   # a base urlsplit refuses (found by url_fuzz)
]
REFS = [
    "", "g", "./g", "g/", "/g", "//g", "?y", "g?y", "#s", "g#s", "g?y#s", ";x", "g;x",
    "g;x?y#s", ".", "./", "..", "../", "../g", "../..", "../../", "../../g",
    "../../../g", "../../../../g", "/./g", "/../g", "g.", ".g", "g..", "..g",
    "./../g", "./g/.", "g/./h", "g/../h", "g;x=1/./y", "g;x=1/../y", "g?y/./x",
    "g?y/../x", "g#s/./x", "g#s/../x", "http:g", "http:", "https:g", "g:h",
    "mailto:x@y.z", "javascript:void(0)", "JavaScript:alert(1)", "data:text/html,hi",
    "  g", "g  ", " /g", "\tg\n", "g\r\nh", "\x00g", "\x1fg", "//host", "//host/p",
    "///triple", "////four", "//user@host:99/p", "http://other.com/x", "HTTP://Other.COM/X",
    "https://other.com", "//[::1]/v6", "//[::1/bad", "//::1]/bad", "//[v1.fe]/vf",
    "//[vz.x]/bad", "//[1.2.3.4]/v4inbr", "//a[::1]/bad", "//[::1]x/bad",
    "//[::1]:80/ok", "http://[fe80::1%25eth0]/", "//x@[::1]@y/", "//[::1]@host/",
    "/a/b/../../..", "a/../../../..", "../../../../../../etc/passwd", "/..", "/.",
    "..//g", "g//h", "g///h/..", "//", "/", "?", "#", "?#", "#?", ";", ";a;b",
    "/p;a/q;b", "g;", "ünïcödé/päth", "/ü?ö#ä", "//bücher.de/x", "//ex\u2100ample.com/",
    "//ex\uff03ample/", "//\u2474.com/", "%2e%2e/g", "./%2E./g", "g%20h", "g h",
    "g\\h", "\\\\host\\p", "..\\g", "tel:+1-555", "urn:isbn:123", "news:comp.lang",
    "file:other", "ftp://x/y", "svn+ssh://o/r", "git://h/r", "http:/abs", "http:rel/x",
    "https:/abs", "x" * 50, "a/b/c/./../../g", "?q=1&r=2#f", "#frag/../x",
    "http://example.com:80/", "http://a/b/c/d;p?q", "//a/b/c/d;p?q",
    "y/z", "y/z/", "a//b", "a/.", "a/..", "a/b;p/c",
]


def main():
    rows = []
    for b in BASES:
        for r in REFS:
            try:
                out = urljoin(b, r)
            except ValueError:
                out = None
            rows.append([b, r, out])
    json.dump(rows, sys.stdout, ensure_ascii=True, indent=0)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
