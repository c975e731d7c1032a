#!/usr/bin/python3
"""Runs simul's core benchmarks and their peers, prints the table, writes
bench/results/core.json (and core.png when matplotlib is there).

Called by bench/run-core.sh after it has built build/bench/core (simul) and
build/bench/core_go (Go). Usage (from the project root):

    /usr/bin/python3 bench/core_driver.py [--quick] [--impls simul,go,...]
                                          [--out bench/results]

--quick runs the 1k and 10k scales only (and the 2-task switch), for trying
things out; it writes core-quick.json instead of core.json.

Every program (build/bench/core, bench/peers/core_asyncio.py [--uvloop],
build/bench/core_go) takes `BENCH N K` and prints one JSON line; see the
comment at the top of bench/core.c for what BENCH, N and K mean. The plan
below chooses K per implementation: the peers that are much slower run fewer
iterations (never fewer tasks), so that each of their runs stays well under
~20 s; all figures are per operation and so comparable. Runs whose first try
takes under RERUN_BELOW_S seconds are run three times and each figure's
median kept.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "bench")
PY = "/usr/bin/python3"  # Debian's interpreter: the one python3-uvloop is for
PEER_PY = os.path.join(ROOT, "bench", "peers", "core_asyncio.py")

TIMEOUT_S = 180
RERUN_BELOW_S = 1.5

IMPLS = {
    "simul":   [os.path.join(BUILD, "core")],
    "asyncio": [PY, PEER_PY],
    "uvloop":  [PY, PEER_PY, "--uvloop"],
    "go":      [os.path.join(BUILD, "core_go")],
}
ENV = {"go": {"GOMAXPROCS": "1"}}
PYTHONS = ("asyncio", "uvloop")

SCALES = [1_000, 10_000, 100_000, 1_000_000]


def k_for(bench, n, impl):
    """Per-task iteration count K for one run (see bench/core.c)."""
    py = impl in PYTHONS
    if bench == "switch":
        # simul and Go: 10M yields in all (5M per task for 2 tasks);
        # Python: 1M yields in all, at least 2 per task (the first yield of
        # all but the last task is not timed).
        total = 1_000_000 if py else 10_000_000
        return max(2, total // n)
    if bench == "spawn":
        # rounds of spawn N + join N: 1M tasks in all (Python: 200k; 1 round
        # at 1M tasks).
        total = 200_000 if py else 1_000_000
        return max(1, total // n)
    if bench == "parked":
        return 0
    if bench == "timers":
        # 100 sleeps per task up to 10k tasks, then 1M sleeps in all
        # (10 per task at 100k, 1 at 1M). Python: 100k sleeps at 1k tasks,
        # 200k at 10k and 100k tasks, 1M at 1M tasks (1 per task).
        if py:
            return {1_000: 100, 10_000: 20, 100_000: 2}.get(n, 1)
        return min(100, max(1, 1_000_000 // n))
    raise ValueError(bench)


# (row key, bench, metric, label, unit). Ratios are peer/simul: every metric
# is a cost, so a ratio above 1 means simul is that many times cheaper.
ROWS = [
    ("switch", "switch", "ns_per_switch", "switch", "ns/switch"),
    ("spawn", "spawn", "ns_per_task", "spawn+join", "ns/task"),
    ("parked_rss", "parked", "kib_per_task", "parked RSS", "KiB/task"),
    ("parked_cancel", "parked", "cancel_join_ns_per_task", "cancel+join parked",
     "ns/task"),
    ("timers", "timers", "cpu_ns_per_sleep", "timers CPU", "ns/sleep"),
]
# The headline configurations of the brief (marked * in the table).
HEADLINE = {("switch", 2), ("spawn", 1_000_000), ("parked", 1_000_000),
            ("timers", 10_000)}


def configs(quick):
    scales = SCALES[:2] if quick else SCALES
    out = [("switch", 2)]
    for b in ("switch", "spawn", "parked", "timers"):
        out += [(b, n) for n in scales]
    return out


def fmt_n(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return "%dM" % (n // 1_000_000)
    if n >= 1_000 and n % 1_000 == 0:
        return "%dk" % (n // 1_000)
    return str(n)


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except Exception:
        return ""


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "kernel": platform.release(),
            "cpu_model": cpu, "mem_total": mem,
            "vm_max_map_count": sh("cat /proc/sys/vm/max_map_count"),
            "os": sh(". /etc/os-release && echo $PRETTY_NAME")}


def versions():
    v = {"python": sh(PY + " -c 'import sys; print(sys.version.split()[0])'"),
         "uvloop": sh(PY + " -c 'import uvloop; print(uvloop.__version__)'"),
         "go": sh("go version"),
         "cc": sh("${CC:-cc} --version | head -1"),
         "simul_git": sh("git -C '%s' describe --always --dirty 2>/dev/null "
                         "|| git -C '%s' rev-parse --short HEAD 2>/dev/null"
                         % (ROOT, ROOT))}
    try:
        with open(os.path.join(ROOT, "include", "simul.h")) as f:
            h = f.read()
        m = [re.search(r"#define SIMUL_VERSION_%s (\d+)" % p, h)
             for p in ("MAJOR", "MINOR", "PATCH")]
        if all(m):
            v["simul"] = ".".join(x.group(1) for x in m)
    except OSError:
        pass
    return v


def run_once(impl, bench, n, k):
    cmd = IMPLS[impl] + [bench, str(n), str(k)]
    env = dict(os.environ)
    env.update(ENV.get(impl, {}))
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=TIMEOUT_S, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %d s" % TIMEOUT_S,
                "elapsed_s": time.monotonic() - t0}
    elapsed = time.monotonic() - t0
    line = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    try:
        res = json.loads(line)
    except ValueError:
        res = {}
    if p.returncode != 0 or not res or "error" in res:
        err = res.get("error") if res else None
        if not err:
            err = ("killed by signal %d" % -p.returncode if p.returncode < 0
                   else "exit status %d" % p.returncode)
        return {"error": err, "returncode": p.returncode,
                "stderr_tail": p.stderr[-2000:], "stdout_tail": p.stdout[-500:],
                "elapsed_s": elapsed}
    res["elapsed_s"] = elapsed
    return res


def metrics_of(bench):
    return [r[2] for r in ROWS if r[1] == bench]


def run_config(impl, bench, n):
    k = k_for(bench, n, impl)
    first = run_once(impl, bench, n, k)
    if "error" in first or first["elapsed_s"] >= RERUN_BELOW_S:
        first["runs"] = 1
        return first
    tries = [first] + [run_once(impl, bench, n, k) for _ in range(2)]
    good = [t for t in tries if "error" not in t]
    if len(good) < len(tries):
        bad = [t for t in tries if "error" in t][0]
        bad["runs"] = len(tries)
        return bad
    # the run with the median first metric, with each reported metric
    # replaced by its own median; every try's figures are kept too
    ms = metrics_of(bench)
    good.sort(key=lambda t: t[ms[0]])
    res = dict(good[1])
    for mm in ms:
        res[mm] = statistics.median(t[mm] for t in tries)
    res["runs"] = 3
    res["tries"] = {mm: [t[mm] for t in tries] for mm in ms}
    return res


def available(impl):
    exe = IMPLS[impl][0]
    if not os.access(exe, os.X_OK):
        return "not built (%s missing)" % os.path.relpath(exe, ROOT)
    if impl == "uvloop" and not sh(PY + " -c 'import uvloop; print(1)'"):
        return "uvloop not importable by %s" % PY
    return None


def fmt_val(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_ratio(p, s):
    if not isinstance(p, (int, float)) or not isinstance(s, (int, float)) or s <= 0:
        return ""
    r = p / s
    return "%.1fx" % r if r < 100 else "%.0fx" % r


def build_table(results, impls, cfgs):
    """Rows of (label, scale, {impl: value or 'FAIL'/'n/a'})."""
    rows = []
    for key, bench, metric, label, unit in ROWS:
        for b, n in cfgs:
            if b != bench:
                continue
            vals = {}
            for impl in impls:
                r = results.get((impl, b, n))
                if r is None:
                    vals[impl] = "n/a"
                elif "error" in r:
                    vals[impl] = "FAIL"
                else:
                    vals[impl] = r.get(metric)
            scale = fmt_n(n)
            if (b, n) in HEADLINE:
                scale += "*"
            rows.append({"key": key, "bench": b, "metric": metric,
                         "label": "%s (%s)" % (label, unit), "n": n,
                         "scale": scale, "values": vals})
    return rows


def print_table(rows, impls, out=sys.stdout):
    peers = [i for i in impls if i != "simul"]
    hdr = ["benchmark", "scale", "simul"]
    for p in peers:
        hdr += [p, "x"]
    lines = []
    for r in rows:
        s = r["values"].get("simul")
        cells = [r["label"], r["scale"], fmt_val(s)]
        for p in peers:
            cells += [fmt_val(r["values"].get(p)), fmt_ratio(r["values"].get(p), s)]
        lines.append(cells)
    w = [max(len(str(c)) for c in col) for col in zip(hdr, *lines)]
    def emit(cells):
        parts = []
        for i, c in enumerate(cells):
            parts.append(str(c).ljust(w[i]) if i < 2 else str(c).rjust(w[i]))
        out.write("  ".join(parts).rstrip() + "\n")
    emit(hdr)
    emit(["-" * x for x in w])
    prev = None
    for r, cells in zip(rows, lines):
        if prev is not None and r["key"] != prev:
            out.write("\n")
        prev = r["key"]
        emit(cells)


def chart(path, rows, impls):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # no matplotlib: no chart
        return "no chart: %s" % e
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    axes = axes.flatten()
    colors = {"simul": "#d62728", "asyncio": "#1f77b4", "uvloop": "#2ca02c",
              "go": "#17becf"}
    for ax, (key, bench, metric, label, unit) in zip(axes, ROWS):
        sel = [r for r in rows if r["key"] == key and r["n"] >= 1000]
        for impl in impls:
            xs = [r["n"] for r in sel if isinstance(r["values"].get(impl), (int, float))]
            ys = [r["values"][impl] for r in sel
                  if isinstance(r["values"].get(impl), (int, float))]
            if xs:
                ax.plot(xs, ys, marker="o", label=impl, color=colors.get(impl),
                        linewidth=2.5 if impl == "simul" else 1.5)
        ax.set_xscale("log")
        if unit == "KiB/task":
            ax.set_ylim(bottom=0)
        else:
            ax.set_yscale("log")
        ax.set_title(label)
        ax.set_xlabel("tasks")
        ax.set_ylabel(unit + " (lower is better)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    # last panel: headline ratios peer/simul
    ax = axes[len(ROWS)]
    heads = [r for r in rows if (r["bench"], r["n"]) in HEADLINE]
    peers = [i for i in impls if i != "simul"]
    width = 0.8 / max(1, len(peers))
    for j, p in enumerate(peers):
        ys = []
        for r in heads:
            s, v = r["values"].get("simul"), r["values"].get(p)
            ok = isinstance(s, (int, float)) and isinstance(v, (int, float)) and s > 0
            ys.append(v / s if ok else 0)
        ax.bar([i + j * width for i in range(len(heads))], ys, width, label=p,
               color=colors.get(p))
    ax.set_xticks([i + width * (len(peers) - 1) / 2 for i in range(len(heads))])
    ax.set_xticklabels([r["label"].split(" (")[0] + "\n" + r["scale"] for r in heads],
                       fontsize=7)
    ax.set_yscale("log")
    ax.axhline(1, color="k", linewidth=0.8)
    ax.set_title("headline: peer / simul (higher = simul cheaper)")
    ax.legend(fontsize=8)
    fig.suptitle("simul core benchmarks (1 thread; Go with GOMAXPROCS=1)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--impls", default=",".join(IMPLS))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    a = ap.parse_args()
    impls = [i for i in a.impls.split(",") if i]
    for i in impls:
        if i not in IMPLS:
            ap.error("unknown implementation %r (known: %s)" % (i, ", ".join(IMPLS)))
    cfgs = configs(a.quick)

    skipped = {}
    for i in impls:
        why = available(i)
        if why:
            skipped[i] = why
            print("note: %s skipped: %s" % (i, why), file=sys.stderr)

    t_start = time.monotonic()
    results = {}
    records = []
    for b, n in cfgs:
        for impl in impls:
            if impl in skipped:
                continue
            k = k_for(b, n, impl)
            sys.stderr.write("  %-7s %-6s N=%-8s K=%-8s " % (impl, b, fmt_n(n), k))
            sys.stderr.flush()
            r = run_config(impl, b, n)
            results[(impl, b, n)] = r
            rec = {"impl": impl, "bench": b, "n": n, "k": k}
            rec.update(r)
            records.append(rec)
            if "error" in r:
                sys.stderr.write("FAIL: %s\n" % r["error"])
                if r.get("stderr_tail"):
                    sys.stderr.write("    stderr: %s\n"
                                     % r["stderr_tail"].strip()[-600:].replace("\n", "\n    "))
            else:
                figs = ", ".join("%s=%s" % (m, fmt_val(r.get(m))) for m in metrics_of(b))
                sys.stderr.write("%s  (%.1f s%s)\n" % (figs, r["elapsed_s"],
                                 ", median of 3" if r.get("runs") == 3 else ""))
    total_s = time.monotonic() - t_start

    rows = build_table(results, impls, cfgs)
    print()
    print_table(rows, impls)
    print()
    print("* headline configurations. x = peer/simul (how many times cheaper simul is).")
    print("K (iterations per task) by scale, simul & go / asyncio & uvloop:")
    for b in ("switch", "spawn", "timers"):
        ns = sorted({n for bb, n in cfgs if bb == b})
        print("  %-7s %s" % (b, ", ".join("%s: %d/%d" % (fmt_n(n), k_for(b, n, "simul"),
                                                          k_for(b, n, "asyncio"))
                                           for n in ns)))
    print("core benchmarks took %.0f s" % total_s)

    os.makedirs(a.out, exist_ok=True)
    name = "core-quick" if a.quick else "core"
    doc = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "settings": {"go_gomaxprocs": 1, "python": PY,
                     "simul_stack_size_env": os.environ.get("SIMUL_STACK_SIZE"),
                     "rerun_below_s": RERUN_BELOW_S, "timeout_s": TIMEOUT_S,
                     "quick": a.quick},
        "skipped": skipped,
        "duration_s": round(total_s, 1),
        "table": rows,
        "runs": records,
    }
    jpath = os.path.join(a.out, name + ".json")
    with open(jpath, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote %s" % os.path.relpath(jpath, ROOT))
    why = chart(os.path.join(a.out, name + ".png"), rows, impls)
    if why:
        print(why)
    else:
        print("wrote %s" % os.path.relpath(os.path.join(a.out, name + ".png"), ROOT))
    failed = [k for k, r in results.items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
