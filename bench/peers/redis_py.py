#!/usr/bin/env python3
"""redis_py.py - the Python peer of bench/redis.c, the same commands:

    python3 bench/peers/redis_py.py redis-py[+uvloop] BENCH N PORT

redis-py's asyncio client (python3-redis 4.3, `redis.asyncio`), on Debian's
asyncio loop, or with "+uvloop" on uvloop (python3-uvloop). Benches as in
bench/redis.c: seq (N round trips on one connection, SET and GET
alternately), tasks (N SETs from 100 tasks; redis-py cannot share one
connection between concurrent commands - single_connection_client holds a
lock per command - so its pool opens a connection per concurrent task, as
its users get), pipe (one pipeline(transaction=False) of N SETs). Prints
one JSON line like bench/redis.c (CPU: process_time).
"""
import asyncio
import json
import sys
import time

TASKS = 100
VAL = b"0123456789abcdef"


async def run(impl, bench, n, port):
    import redis.asyncio as aredis
    r = aredis.Redis(host="127.0.0.1", port=port,
                     single_connection_client=(bench == "seq"),
                     max_connections=TASKS + 1)
    await r.ping()
    t0, c0 = time.monotonic(), time.process_time()
    if bench == "seq":
        for i in range(n):
            k = f"k:{i % 10000}"
            if i % 2 == 0:
                await r.set(k, VAL)
            else:
                await r.get(k)
    elif bench == "tasks":
        per = n // TASKS

        async def worker(t):
            for i in range(t * per, (t + 1) * per):
                await r.set(f"k:{i % 10000}", VAL)
        await asyncio.gather(*(worker(t) for t in range(TASKS)))
    elif bench == "pipe":
        p = r.pipeline(transaction=False)
        for i in range(n):
            p.set(f"k:{i % 10000}", VAL)
        await p.execute()
    else:
        raise SystemExit("unknown bench " + bench)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    await r.close()
    print(json.dumps({"impl": impl, "bench": bench, "n": n, "wall_s": wall, "cpu_s": cpu}))


def main():
    impl, bench, n, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if impl.endswith("+uvloop"):
        import uvloop
        uvloop.install()
    asyncio.run(run(impl, bench, n, port))


if __name__ == "__main__":
    main()
