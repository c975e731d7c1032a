#!/usr/bin/python3
"""seeds.py - writes the fuzzers' seed corpora from the test data:
    fuzz/seeds.py OUTDIR [TESTDATA]
OUTDIR/seed-url: FLAGS-BYTE BASE '\\n' REF files from WHATWG's urltestdata.json,
RFC 3986 5.4 and the urljoin table; OUTDIR/seed-links: our tricky pages,
html5lib tokenizer inputs and a few pages of the Python documentation;
OUTDIR/seed-text: FLAGS-BYTE [CONTENT-TYPE '\\n'] BODY files - metas, BOMs,
legacy and broken bytes, the heads of a few documentation pages;
OUTDIR/seed-robots: AGENT-LEN AGENT BODY from the robotparser table.
"""
import glob
import hashlib
import json
import os
import sys

out = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
src = os.path.dirname(here)
data = sys.argv[2] if len(sys.argv) > 2 else None
cands = [data, os.environ.get("SIMUL_TESTDATA"), os.path.join(src, "..", "shared", "testdata"),
         os.path.join(src, "..", "..", "shared", "testdata")]
data = next((d for d in cands if d and os.path.isdir(d)), None)


def put(kind, blob):
    d = os.path.join(out, "seed-" + kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(blob).hexdigest()), "wb") as f:
        f.write(blob)


def enc(s):
    return s.encode("utf-8", "surrogatepass")


if data:
    for case in json.load(open(os.path.join(data, "url", "urltestdata.json"))):
        if isinstance(case, dict):
            for flags in (0, 2):
                put("url", bytes([flags]) + enc(case.get("base") or "") + b"\n" + enc(case["input"]))
    for line in open(os.path.join(data, "url", "rfc3986-5.4.tsv")):
        if line.startswith("#") or line.startswith("base\t"):
            continue
        b, r = line.split("\t")[:2]
        put("url", bytes([1]) + enc(b) + b"\n" + enc("" if r == "<empty>" else r))
    for path in glob.glob(os.path.join(data, "html5lib-tokenizer", "*.test")):
        for t in json.load(open(path)).get("tests", []):
            put("links", enc(t["input"]))
for b, r, _ in json.load(open(os.path.join(src, "tests", "http", "urljoin_py.json")))[::7]:
    put("url", bytes([0]) + enc(b) + b"\n" + enc(r))
for path in glob.glob(os.path.join(src, "tests", "http", "*.html")):
    put("links", open(path, "rb").read())
for path in sorted(glob.glob("/usr/share/doc/python3.11/html/library/a*.html"))[:8]:
    put("links", open(path, "rb").read()[:65536])

TEXT = [b"<meta charset=koi8-r>\xf0\xd2\xc9", b"\xef\xbb\xbf<meta charset=gbk>x",
        b"\xff\xfe<\x00p\x00\x3d\xd8\x00\xde", b"<!-- <meta charset=latin1> --><meta charset=big5>",
        b"<meta http-equiv=content-type content='text/html; charset=shift_jis'>\x93\xfa\x82",
        b"<?xml version='1.0' encoding='euc-jp'?>\xc6\xfc", b"\xe0\x80\xed\xa0\x80\xf4\x90\xc0\xaf",
        b"\x1b$B$3$s\x1b(B\x1b$", b"caf\xe9 \x80\x81", b"<\x00?\x00x\x00m\x00l\x00"]
for i, body in enumerate(TEXT):
    put("text", bytes([i * 17 % 256]) + body)
    put("text", bytes([i]) + b"text/html; charset=\"x-user-defined\"\n" + body)
for path in sorted(glob.glob("/usr/share/doc/python3.11/html/library/b*.html"))[:4]:
    put("text", b"\x01" + open(path, "rb").read()[:4096])
for case in json.load(open(os.path.join(src, "tests", "http", "robots_py.json"))):
    agent = enc(case["agent"])
    put("robots", bytes([len(agent)]) + agent + enc(case["robots"]))
