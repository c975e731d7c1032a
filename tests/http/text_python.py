#!/usr/bin/python3
"""text_python.py - Python's decodings, the reference for test_text:

    text_python.py pages FILE...
        for each FILE, the charset its <meta> declares (a plain regex over
        the first 1024 bytes; utf-8 if none) and Python's
        bytes.decode(charset, 'replace') of the whole file, printed as
        "FILE<TAB>CHARSET<TAB>LENGTH\\n" and LENGTH bytes of UTF-8.
    text_python.py cases CODEC SEED N
        N random byte strings (biased towards lead bytes, continuation
        bytes, surrogates and truncations) and Python's
        bytes.decode(CODEC, 'replace') of each, one "HEX<TAB>HEX" line per
        case (input, UTF-8 output). For windows-1252 the five bytes that
        Python's cp1252 leaves undefined decode to the C1 controls, as in
        WHATWG's index.
"""
import codecs
import random
import re
import sys


def c1(err):
    # WHATWG's windows-1252 maps 0x81, 0x8D, 0x8F, 0x90, 0x9D to U+0081...
    bad = err.object[err.start:err.end]
    return "".join(chr(b) for b in bad), err.end


codecs.register_error("whatwg1252", c1)
META = re.compile(rb"""<meta[^>]*charset\s*=\s*["']?([-\w:.]+)""", re.I)


def pages(files):
    out = sys.stdout.buffer
    for path in files:
        data = open(path, "rb").read()
        m = META.search(data[:1024])
        cs = m.group(1).decode("ascii").lower() if m else "utf-8"
        text = data.decode(cs, "replace").encode("utf-8")
        out.write(b"%s\t%s\t%d\n" % (path.encode(), cs.encode(), len(text)))
        out.write(text)


PIECES_UTF8 = [b"a", b"\x00", b"\x7f", b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xc2", b"\xdf",
               b"\xe0", b"\xe0\xa0", b"\xe0\x9f", b"\xed", b"\xed\x9f", b"\xed\xa0", b"\xef",
               b"\xef\xbf", b"\xf0", b"\xf0\x90", b"\xf0\x8f", b"\xf0\x90\x80", b"\xf4",
               b"\xf4\x8f", b"\xf4\x90", b"\xf5", b"\xf8", b"\xfe", b"\xff", "é".encode(),
               "€".encode(), "😀".encode(), b"<p>"]
PIECES_16 = [b"a\x00", b"\x00a", b"\x00\xd8", b"\xd8\x00", b"\x00\xdc", b"\xdc\x00",
             b"\x3d\xd8\x00\xde", b"\xd8\x3d\xde\x00", b"\xff", b"\xe9\x00", b"\x00\xe9"]


def cases(codec, seed, n):
    rnd = random.Random(seed)
    for _ in range(n):
        if codec.startswith("utf-16"):
            b = b"".join(rnd.choice(PIECES_16) for _ in range(rnd.randrange(0, 12)))
        elif codec == "utf-8":
            b = b"".join(rnd.choice(PIECES_UTF8) for _ in range(rnd.randrange(0, 12)))
        else:
            b = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 24)))
        if codec == "windows-1252":
            t = b.decode("cp1252", "whatwg1252")
        else:
            t = b.decode(codec, "replace")
        print("%s\t%s" % (b.hex(), t.encode("utf-8", "surrogatepass").hex()))


if __name__ == "__main__":
    if sys.argv[1] == "pages":
        pages(sys.argv[2:])
    else:
        cases(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
