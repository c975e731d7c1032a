#!/usr/bin/env python3
"""pg_summary.py - bench/run-pg.sh's table and bench/results/pg.json from
the runs' JSON lines (one per client run, as bench/pg.c and
peers/pg_py.py print them plus run-pg.sh's server_cpu_s and load):

    python3 bench/pg_summary.py RAW OUT.json

Per bench and client: the medians of wall, client CPU and server CPU over
the rounds, and two ratios that pair each round's runs (the clients of a
round run one after the other, so they share that moment's load): the
median over rounds of asyncpg+uvloop's wall / this client's, and of this
client's CPU / libpq's. Every run is kept in the JSON ("runs").
"""
import json
import os
import statistics
import sys
import time


def paired(mine, theirs, key, flip=False):
    """Median over rounds of theirs/mine (flip: mine/theirs) for key."""
    rs = []
    for a, b in zip(mine, theirs):
        num, den = (a[key], b[key]) if flip else (b[key], a[key])
        if den > 0:
            rs.append(num / den)
    return statistics.median(rs) if rs else None


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    res = {}
    for r in rows:
        res.setdefault(r["bench"], {}).setdefault(r["impl"], []).append(r)
    out = {"server": "PostgreSQL 15 (Debian), TCP loopback, fsync off",
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "nproc": os.cpu_count(),
           "load": [r["load"] for r in rows],
           "ratios": "paired by round: medians over rounds of asyncpg+uvloop wall / this, "
                     "this CPU / libpq CPU",
           "results": {}}
    print(f"{'bench':12} {'impl':14} {'N':>8} {'ops/s':>10} {'CPU us/op':>10} {'srv us/op':>10} "
          f"{'asyncpg+uvloop wall / this':>27} {'CPU / libpq':>12}")
    for b, impls in res.items():
        med = {}
        for impl, rs in impls.items():
            n = rs[0]["n"]
            w = statistics.median(x["wall_s"] for x in rs)
            c = statistics.median(x["cpu_s"] for x in rs)
            sc = statistics.median(x["server_cpu_s"] for x in rs)
            med[impl] = {"n": n, "wall_s": w, "cpu_s": c, "server_cpu_s": sc, "ops_per_s": n / w,
                         "cpu_us_per_op": c / n * 1e6, "server_cpu_us_per_op": sc / n * 1e6,
                         "runs": [{k: x[k] for k in ("wall_s", "cpu_s", "server_cpu_s", "load")}
                                  for x in rs]}
        a = impls.get("asyncpg+uvloop") or impls.get("asyncpg")
        l = impls.get("libpq")
        for impl, m in med.items():
            m["asyncpg_wall_over_this"] = paired(impls[impl], a, "wall_s") if a else None
            m["cpu_over_libpq"] = paired(impls[impl], l, "cpu_s", flip=True) if l else None
            print(f"{b:12} {impl:14} {m['n']:8} {m['ops_per_s']:10.0f} {m['cpu_us_per_op']:10.2f} "
                  f"{m['server_cpu_us_per_op']:10.2f} "
                  f"{(m['asyncpg_wall_over_this'] or 0):26.2f}x {(m['cpu_over_libpq'] or 0):11.2f}x")
        out["results"][b] = med
    print("load average (1 min) during the runs:", min(out["load"]), "-", max(out["load"]))
    json.dump(out, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
