#!/usr/bin/python3
"""Core benchmarks for Python asyncio (and uvloop): the peer of bench/core.c.

Usage:  /usr/bin/python3 core_asyncio.py [--uvloop] BENCH N K

BENCH, N and K mean exactly what they mean for bench/core.c (see the comment
at the top of that file); this program prints one JSON line with the same
keys. Run with Debian's /usr/bin/python3 (the one python3-uvloop is built for).

  switch  N tasks, each awaits asyncio.sleep(0) K times (round-robin).
  spawn   K rounds of: create_task() N trivial coroutines, then await each
          task in turn (the analogue of simul_join() on each handle).
  parked  N tasks each await asyncio.sleep(1e9); RSS measured; then every task
          is cancelled and awaited (K is ignored).
  timers  N tasks, each awaits asyncio.sleep(random 0..1 ms) K times; process
          CPU time (user+sys) over the whole phase, per sleep.
"""
import asyncio
import gc
import json
import random
import resource
import sys
import time


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def hwm_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


now = time.perf_counter  # CLOCK_MONOTONIC on Linux


async def b_switch(n, k):
    st = {"started": 0, "finished": 0, "t0": 0.0, "t1": 0.0}
    sleep = asyncio.sleep

    async def worker():
        st["started"] += 1
        if st["started"] == n:
            st["t0"] = now()
        for _ in range(k):
            await sleep(0)
        st["finished"] += 1
        if st["finished"] == n:
            st["t1"] = now()

    tasks = [asyncio.create_task(worker()) for _ in range(n)]
    for t in tasks:
        await t
    # Yields between t0 and t1: every task's K yields, less the first yield
    # of the n-1 tasks that ran before the last one started.
    ops = n * k - (n - 1)
    wall = st["t1"] - st["t0"]
    return {"ops": ops, "wall_s": wall, "ns_per_switch": wall * 1e9 / ops}


async def b_spawn(n, k):
    async def trivial():
        return 0

    create = asyncio.create_task
    tspawn = tjoin = 0.0
    t0 = now()
    for _ in range(k):
        a = now()
        tasks = [create(trivial()) for _ in range(n)]
        b = now()
        for t in tasks:
            await t
        c = now()
        tspawn += b - a
        tjoin += c - b
        del tasks
    wall = now() - t0
    ops = n * k
    return {"ops": ops, "wall_s": wall, "ns_per_task": wall * 1e9 / ops,
            "spawn_ns_per_task": tspawn * 1e9 / ops,
            "join_ns_per_task": tjoin * 1e9 / ops}


async def b_parked(n, k):
    st = {"parked": 0}

    async def parker():
        st["parked"] += 1
        await asyncio.sleep(1e9)

    gc.collect()
    rss0 = rss_kib()
    t0 = now()
    tasks = [asyncio.create_task(parker()) for _ in range(n)]
    t1 = now()
    rss1 = rss_kib()
    await asyncio.sleep(0)  # every task runs once, up to its sleep
    t2 = now()
    rss2 = rss_kib()
    if st["parked"] != n:
        raise SystemExit("parked: only %d of %d tasks parked" % (st["parked"], n))
    for t in tasks:
        t.cancel()
    cancelled = 0
    for t in tasks:
        try:
            await t
        except asyncio.CancelledError:
            cancelled += 1
    t3 = now()
    if cancelled != n:
        raise SystemExit("parked: %d of %d tasks cancelled" % (cancelled, n))
    return {"ops": n, "rss_before_kib": rss0, "rss_spawned_kib": rss1,
            "rss_parked_kib": rss2, "hwm_kib": hwm_kib(),
            "kib_per_task": (rss2 - rss0) / n,
            "spawn_ns_per_task": (t1 - t0) * 1e9 / n,
            "park_ns_per_task": (t2 - t1) * 1e9 / n,
            "cancel_join_s": t3 - t2,
            "cancel_join_ns_per_task": (t3 - t2) * 1e9 / n}


async def b_timers(n, k):
    # One shared generator: a random.Random per task would cost more than
    # the sleeps (a 2.5 KB Mersenne Twister state seeded per task).
    random.seed(12345)
    rnd = random.random

    async def sleeper(seed):
        sleep = asyncio.sleep
        for _ in range(k):
            await sleep(rnd() * 1e-3)

    c0 = cpu_s()
    t0 = now()
    tasks = [asyncio.create_task(sleeper(i)) for i in range(n)]
    for t in tasks:
        await t
    wall = now() - t0
    cpu = cpu_s() - c0
    ops = n * k
    return {"ops": ops, "wall_s": wall, "cpu_s": cpu,
            "cpu_ns_per_sleep": cpu * 1e9 / ops}


BENCHES = {"switch": b_switch, "spawn": b_spawn, "parked": b_parked,
           "timers": b_timers}


def main(argv):
    use_uvloop = False
    if argv and argv[0] == "--uvloop":
        use_uvloop = True
        argv = argv[1:]
    if len(argv) != 3 or argv[0] not in BENCHES:
        sys.stderr.write(__doc__)
        return 2
    name, n, k = argv[0], int(argv[1]), int(argv[2])
    impl = "asyncio"
    if use_uvloop:
        import uvloop
        uvloop.install()
        impl = "uvloop"
    res = asyncio.run(BENCHES[name](n, k))
    out = {"impl": impl, "bench": name, "n": n, "k": k}
    out.update(res)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
