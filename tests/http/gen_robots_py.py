#!/usr/bin/python3
"""gen_robots_py.py - writes tests/http/robots_py.json, the table that
test_robots.c checks simul_robots against: what Python's
urllib.robotparser (Debian 12's python3) says for each (robots.txt, agent,
path), with each file's Crawl-delay and Sitemap lines.

robotparser differs from RFC 9309 where rules conflict: it takes the first
matching rule in file order (not the longest), the first matching group
(not the merged ones), matches agents by substring, has no '*' or '$' in
paths, reads an empty Disallow as "allow everything" (which then shadows
later rules) and only integer Crawl-delays. The files below avoid all of
that - no path is matched by two rules of the group that applies, agent
names are not substrings of each other - so the two must agree on every row.
    python3 tests/http/gen_robots_py.py > tests/http/robots_py.json
"""
import json
import urllib.robotparser

FILES = [
    "User-agent: *\nDisallow: /private/\nDisallow: /tmp\nAllow: /public/\n",
    "User-agent: foobot\nDisallow: /\n\nUser-agent: *\nDisallow: /cgi-bin/\n",
    "User-agent: foobot\nUser-agent: barbot\nDisallow: /shared/\n"
    "Crawl-delay: 7\n\nUser-agent: *\nDisallow: /\n",
    "# comment only\nuser-agent: FOOBOT # trailing\nDISALLOW: /Secret # why\n"
    "allow: /open\n\nSitemap: https://example.com/sitemap.xml\n",
    "User-agent: *\nDisallow:\n\nSitemap: https://example.com/a.xml\n"
    "Sitemap: https://example.com/b.xml.gz\n",
    "User-agent: barbot\nDisallow: /a/b?c=d\nDisallow: /x.html\n"
    "Crawl-delay: 3\n\nUser-agent: *\nCrawl-delay: 10\nDisallow: /search\n",
    "User-agent: *\r\nDisallow: /crlf/\r\nAllow: /crlf-ok\r\n",
    "User-agent: *\rDisallow: /cr/\rAllow: /cr-ok\r",
    "Disallow: /before-any-agent\nUser-agent: *\nDisallow: /after\n",
    "garbage line without colon\nUser-agent: *\nNonsense: /x\nDisallow: /junk\n",
    "User-agent: *\nDisallow: /caf\u00e9/\n",
    "",
]
AGENTS = ["foobot", "barbot", "quxbot"]
PATHS = ["/", "/private/", "/private/x.html", "/privatex", "/tmp", "/tmp/a", "/tmpfile",
         "/public/", "/public/x", "/cgi-bin/x", "/shared/a", "/shared", "/Secret/x",
         "/secret/x", "/open/x", "/a/b?c=d", "/a/b?c=e", "/a/b", "/x.html", "/x.htm",
         "/search?q=1", "/crlf/x", "/crlf-ok", "/cr/x", "/cr-ok", "/before-any-agent",
         "/after/x", "/junk", "/junkyard", "/x", "/caf%C3%A9/menu", "/cafe/menu"]

rows = []
for body in FILES:
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(body.splitlines())
    for agent in AGENTS:
        allowed = {p: rp.can_fetch(agent, "http://example.com" + p) for p in PATHS}
        delay = rp.crawl_delay(agent)
        rows.append({"robots": body, "agent": agent, "allowed": allowed,
                     "delay": -1 if delay is None else delay,
                     "sitemaps": rp.site_maps() or []})
json.dump(rows, __import__("sys").stdout, indent=0, ensure_ascii=False)
print()
