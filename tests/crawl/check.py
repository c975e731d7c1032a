#!/usr/bin/python3
"""check.py - the crawler tests' truth checker: compares a simul-crawl job
directory with the truth of tests/crawl/gensite.py and with what the
servers saw (nginx's access log, the connection meter's log).

    check.py TRUTH JOBDIR ACCESS_LOG [--meter LOG --per-host N]
             [--delay S] [--only NAME,...] [--prefix P]

Prints "ok P.NAME" or "FAIL P.NAME: why" per check and exits 1 if one
failed. Checks (--only picks some):
  records     pages.jsonl: every line JSON with the issue's fields, one
              record per URL (no duplicates)
  pages       the URLs recorded are exactly the truth's fetched and
              robots-blocked ones (compared after canon()), and of each
              charset-dependent link exactly one form
  status      each record's status as the truth says (final_url too)
  errors      every failed fetch has an error kind, the right one
              (KINDS below), and no other record has one; blocked ones
              status 0 with error "robots"
  never       nothing of truth's "never" list and no blocked URL was
              requested (access log), no out-of-scope host either
  once        each fetched URL requested once (a redirect and its target
              are two URLs; retried statuses and robots.txt aside),
              nothing else asked; a redirect target also linked directly
              or reached by two redirects too (named: redirect_target_once)
  robots      robots.txt asked at most once per host that answered it
  retry_after requests of a 429 with Retry-After: 1 are 1 s apart or more
  crawl_delay a host's Crawl-delay: requests started at least that far apart
  delay       (--delay S) every host's requests started S apart or more
  per_host    (--meter) never more than N connections open to one host
  found       foundurls.tsv: header, and each parsed page's links in it (a
              redirect's: its Location)
  graph       graph.tsv: loads in networkx as a DiGraph; its edges join
              fetched pages along links the truth has
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gensite import canon  # noqa: E402

# The truth's error classes -> the kinds simul-crawl may record for them
# (man/simul-crawl.1 lists the crawler's kinds).
KINDS = {
    "http": {"http"},
    "redirects": {"redirects"},
    "too_big": {"too_large"},
    "transport": {"reset", "incomplete", "malformed", "timeout_read", "timeout_total"},
    "robots": {"robots"},
    "robots_unreachable": {"robots_unreachable"},
}
# Seconds of slack on gaps measured at the server: nginx times a request
# from when it reads it, so its scheduling (on a loaded machine) can move
# one start later than the next by a few milliseconds.
TOL = 0.05


class Checker:
    def __init__(self, a):
        self.a = a
        self.t = json.load(open(a.truth))
        self.failed = 0
        self.recs = []
        self.bad_lines = []
        p = os.path.join(a.job, "pages.jsonl")
        if os.path.exists(p):
            for i, line in enumerate(open(p, errors="surrogateescape")):
                try:
                    self.recs.append(json.loads(line))
                except ValueError:
                    self.bad_lines.append(i + 1)
        self.by_url = {}
        self.dups = []
        for r in self.recs:
            u = canon(str(r.get("url", "")))
            if u in self.by_url:
                self.dups.append(u)
            self.by_url[u] = r
        self.reqs = self.access_log(a.log)
        self.port = self.t["port"]

    def access_log(self, path):
        """[(start, end, host:port, path, status)] in end order."""
        out = []
        for line in open(path, errors="replace"):
            try:
                head, rest = line.split('"', 1)
                f = head.split()
                q = rest.split('"')
                end, dur, addr, status = float(f[0]), float(f[1]), f[2], int(f[5])
                hosthdr, uri = q[0], q[2]
            except (ValueError, IndexError):
                continue
            host = hosthdr if ":" in hosthdr else f"{addr}:{self.t['port']}"
            out.append((end - dur, end, host, uri, status))
        return out

    def res(self, name, ok, why=""):
        n = f"{self.a.prefix}.{name}" if self.a.prefix else name
        if ok:
            print(f"ok {n}")
        else:
            self.failed += 1
            print(f"FAIL {n}: {why}")

    def hostpath(self, url):
        from urllib.parse import urlsplit
        s = urlsplit(url)
        return s.netloc, s.path + (("?" + s.query) if s.query else "")

    def requested(self):
        cnt = {}
        for r in self.reqs:
            k = (r[2], canon("http://" + r[2] + r[3]).split(r[2], 1)[1])
            cnt.setdefault(k, []).append(r)
        return cnt

    # ---- the checks ----------------------------------------------------------
    def records(self):
        need = ("url", "final_url", "status", "content_type", "bytes", "depth", "parent",
                "fetch_ms", "error", "links")
        missing = [(r.get("url"), k) for r in self.recs for k in need if k not in r]
        self.res("records", not self.bad_lines and not missing and not self.dups and self.recs,
                 f"{len(self.recs)} records; bad JSON lines {self.bad_lines[:5]}; missing "
                 f"fields {missing[:5]}; duplicated URLs {self.dups[:5]}")

    def expected(self):
        exp = set(self.t["fetch"]) | set(self.t["blocked"])
        return exp

    def pages(self):
        got = set(self.by_url)
        alts = [set(g) for g in self.t["alternatives"]]
        alt_all = set().union(*alts) if alts else set()
        exp = self.expected()
        missing = sorted(exp - got)
        extra = sorted(got - exp - alt_all)
        bad_alts = [sorted(g) for g in alts if len(g & got) != 1]
        self.res("pages", not missing and not extra and not bad_alts,
                 f"missing {len(missing)} {missing[:8]}; extra {len(extra)} {extra[:8]}; "
                 f"charset links not fetched exactly once: {bad_alts[:3]}")

    def status(self):
        bad = []
        for u, e in self.t["fetch"].items():
            r = self.by_url.get(u)
            if r is None:
                continue
            st = r.get("status")
            if e.get("status_any"):
                continue
            if e.get("status") is not None and st != e["status"]:
                bad.append(f"{u}: status {st}, want {e['status']}")
            elif e.get("status") is None and st not in (0, None):
                bad.append(f"{u}: status {st}, want 0 (no HTTP answer)")
            fu = r.get("final_url")
            if e.get("status") and fu and canon(fu) != e["final_url"]:
                bad.append(f"{u}: final_url {fu}, want {e['final_url']}")
            if "depth" in r and r["depth"] != e["depth"]:
                bad.append(f"{u}: depth {r['depth']}, want {e['depth']}")
        self.res("status", not bad, f"{len(bad)}: " + "; ".join(bad[:6]))

    def errors(self):
        bad = []
        for u, e in self.t["fetch"].items():
            r = self.by_url.get(u)
            if r is None:
                continue
            want = self.t["errors"].get(u)
            got = r.get("error")
            if want is None and got is not None:
                bad.append(f"{u}: error {got!r}, want none")
            elif want is not None and (got is None or got not in KINDS[want]):
                bad.append(f"{u}: error {got!r}, want a {want} kind")
        for u in self.t["blocked"]:
            r = self.by_url.get(u)
            if r is not None and (r.get("status") not in (0, None) or r.get("error") != "robots"):
                bad.append(f"{u}: status {r.get('status')} error {r.get('error')!r}, want 0/robots")
        self.res("errors", not bad, f"{len(bad)}: " + "; ".join(bad[:6]))

    def never(self):
        req = self.requested()
        bad = []
        for host, path in self.t["never"]:
            k = (host, canon("http://" + host + path).split(host, 1)[1])
            if k in req:
                bad.append(f"{host}{path}")
        for u in self.t["blocked"]:
            if self.hostpath(u) in req:
                bad.append(u)
        scope = set(self.t["scope"])
        oos = sorted({h for h, _ in req if h not in scope})
        self.res("never", not bad and not oos,
                 f"requested what must never be: {bad[:8]}; out-of-scope hosts asked: {oos}")

    def once(self):
        req = self.requested()
        allowed = {}
        for u, e in self.t["fetch"].items():
            if u.startswith(f"http://127.0.0.1:{self.t['fault_port']}/"):
                continue
            allowed[self.hostpath(u)] = "retry" if u in self.t["retry"] else "once"
        for g in self.t["alternatives"]:
            for u in g:
                allowed[self.hostpath(u)] = "alt"
        bad, extra = [], []
        for k, rs in req.items():
            how = allowed.get(k)
            if k[1] in ("/robots.txt", "/robots-real.txt"):
                continue
            if how is None:
                extra.append(f"{k[0]}{k[1]}")
            elif how in ("once", "alt") and len(rs) != 1:
                bad.append(f"{k[0]}{k[1]} x{len(rs)}")
        self.res("once", not bad and not extra,
                 f"asked more than once: {bad[:8]}; asked, not in the truth: {extra[:8]}")
        # The targets the truth reaches by more than one route, at least
        # one a redirect: each asked exactly once.
        into = {}
        for u, e in self.t["fetch"].items():
            if e.get("redirect"):
                into.setdefault(e["final_url"], set()).add(u)
        for u, ls in self.t["links"].items():
            if not self.t["fetch"].get(u, {}).get("redirect"):
                for l in ls:
                    if l in into:
                        into[l].add(u)
        multi = sorted(t for t, src in into.items() if len(src) > 1 and t in self.t["fetch"]
                       and t in self.by_url)   # (a crawl of part of the site: its part)
        counts = {t: len(req.get(self.hostpath(t), [])) for t in multi}
        self.res(f"redirect_target_once ({len(multi)} targets)",
                 all(c == 1 for c in counts.values()),
                 f"requests of targets reached more than one way: {counts}")

    def robots(self):
        req = self.requested()
        bad = [f"{h} x{len(rs)}" for (h, p), rs in req.items()
               if p == "/robots.txt" and len(rs) > 1 and not h.startswith("127.0.0.4:")]
        self.res("robots", not bad, f"robots.txt fetched again: {bad}")

    def starts(self, host, path=None):
        return sorted(r[0] for r in self.reqs if r[2] == host and (path is None or r[3] == path)
                      and r[3] != "/robots.txt")

    def gaps_ok(self, times, gap):
        g = [b - a for a, b in zip(times, times[1:])]
        small = [round(x, 3) for x in g if x < gap - TOL]
        return small, g

    def retry_after(self):
        host = f"127.0.0.1:{self.port}"
        t = self.starts(host, "/status/429")
        small, _ = self.gaps_ok(t, 1.0)
        self.res("retry_after", len(t) >= 2 and not small,
                 f"/status/429 asked {len(t)} times (want a retry), gaps under 1 s: {small}")

    def crawl_delay(self):
        bad = []
        for host, d in self.t["crawl_delay"].items():
            t = self.starts(host)
            small, _ = self.gaps_ok(t, d)
            if small:
                bad.append(f"{host}: {len(t)} requests, gaps {small[:5]} under {d}")
        self.res("crawl_delay", not bad, "; ".join(bad))

    def delay(self):
        bad = []
        for host in self.t["scope"]:
            t = self.starts(host)
            small, _ = self.gaps_ok(t, self.a.delay)
            if small:
                bad.append(f"{host}: {len(t)} requests, {len(small)} gaps under "
                           f"{self.a.delay}: {small[:5]}")
        self.res("delay", not bad, "; ".join(bad))

    def per_host(self):
        peak = {}
        for line in open(self.a.meter):
            f = line.split()
            if len(f) == 5:
                peak[f[2]] = max(peak.get(f[2], 0), int(f[4]))
        over = {h: p for h, p in peak.items() if p > self.a.per_host}
        if peak and not over:
            # The peaks, for the reader: the limit used, not only kept.
            return self.res(f"per_host (peaks {','.join(map(str, sorted(peak.values())))})", True)
        self.res("per_host", False,
                 f"peaks {peak}: over {self.a.per_host} on {over}" if peak else "no connections metered")

    def found(self):
        p = os.path.join(self.a.job, "foundurls.tsv")
        if not os.path.exists(p):
            return self.res("found", False, "no foundurls.tsv")
        lines = open(p, errors="surrogateescape").read().splitlines()
        pairs = set()
        for l in lines[1:]:
            s, _, d = l.partition("\t")
            try:
                pairs.add((canon(s), canon(d)))
            except ValueError:
                pairs.add((s, d))
        missing = []
        for u, e in self.t["fetch"].items():
            if u not in self.by_url or not (e.get("redirect") or
                                            (e.get("status") == 200 and e.get("parsed"))):
                continue
            for l in self.truth_links(u):
                if (u, l) not in pairs:
                    missing.append(f"{u} -> {l}")
        never = {canon("http://" + h + p) for h, p in self.t["never"]
                 if h.startswith("127.0.0.1:") and "/never/" in p}
        hidden = sorted({d for _, d in pairs if d in never})
        dup = len(lines) - 1 - len(set(lines[1:]))
        self.res("found", lines and lines[0] == "source_url\tparsed_url" and not missing
                 and not hidden and dup == 0,
                 f"header {lines[:1]}; links missing {len(missing)} {missing[:5]}; hidden links "
                 f"listed {hidden[:5]}; duplicate lines {dup}")

    def truth_links(self, url):
        # The truth keeps each page's expected links in truth.json "links".
        return self.t.get("links", {}).get(url, [])

    def graph(self):
        p = os.path.join(self.a.job, "graph.tsv")
        try:
            import networkx
        except ImportError:
            return self.res("graph", False, "python3-networkx is not installed")
        if not os.path.exists(p):
            return self.res("graph", False, "no graph.tsv")
        try:
            g = networkx.read_edgelist(p, delimiter="\t", create_using=networkx.DiGraph)
        except Exception as e:  # noqa: BLE001 - any failure to load is the finding
            return self.res("graph", False, f"networkx cannot read it: {e}")
        fetched = {canon(r["url"]) for r in self.recs if r.get("status")}
        bad_nodes = sorted(n for n in g.nodes if "#" in n or canon(n) not in fetched)
        bad_edges = []
        for a, b in g.edges:
            e = self.t["fetch"].get(canon(a))
            if e is None:
                continue
            links = set(self.truth_links(canon(a))) | \
                set(self.t.get("links_alt", {}).get(canon(a), []))
            if canon(b) not in links:
                bad_edges.append(f"{a} -> {b}")
        self.res("graph", g.number_of_edges() > 0 and not bad_nodes and not bad_edges,
                 f"{g.number_of_nodes()} nodes {g.number_of_edges()} edges; nodes not fetched "
                 f"{bad_nodes[:5]}; edges no page has {bad_edges[:5]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("truth")
    ap.add_argument("job")
    ap.add_argument("log")
    ap.add_argument("--meter")
    ap.add_argument("--per-host", type=int, default=2)
    ap.add_argument("--delay", type=float)
    ap.add_argument("--only")
    ap.add_argument("--prefix", default="crawl")
    a = ap.parse_args()
    c = Checker(a)
    names = ["records", "pages", "status", "errors", "never", "once", "robots",
             "retry_after", "crawl_delay", "found", "graph"]
    if a.delay is not None:
        names.append("delay")
    if a.meter:
        names.append("per_host")
    if a.only:
        names = [n for n in a.only.split(",")]
    for n in names:
        getattr(c, n)()
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
