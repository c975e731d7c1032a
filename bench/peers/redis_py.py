#!/usr/bin/env python3
"""redis_py.py - the Python peers of bench/redis.c, the same commands:

    python3 bench/peers/redis_py.py redis-py[+uvloop]|aioredis BENCH N PORT

redis-py: redis-py's asyncio client (python3-redis 4.3, `redis.asyncio`),
on Debian's asyncio loop, or with "+uvloop" on uvloop (python3-uvloop).
aioredis: aioredis 1.3.1 (python3-aioredis, the walkthrough's "aio-redis";
it imports and runs on Python 3.11 as Debian ships it, with python3-hiredis
as its parser), on Debian's asyncio loop. Benches as in bench/redis.c: seq
(N round trips on one connection, SET and GET alternately), tasks (N SETs
from 100 tasks; aioredis shares its one connection between them - its
commands are pipelined as simul's are; redis-py cannot share one
connection between concurrent commands - single_connection_client holds a
lock per command - so its pool opens a connection per concurrent task, as
its users get), pipe (one pipeline of N SETs: redis-py's
pipeline(transaction=False), aioredis's pipeline()). Prints one JSON line
like bench/redis.c (CPU: process_time).
"""
import asyncio
import json
import sys
import time

TASKS = 100
VAL = b"0123456789abcdef"


async def connect(impl, bench, port):
    """The client and a new pipeline of it, ready, and how to close it."""
    if impl == "aioredis":
        import aioredis
        r = await aioredis.create_redis(("127.0.0.1", port))

        async def close():
            r.close()
            await r.wait_closed()
        await r.ping()
        return r, r.pipeline, close
    import redis.asyncio as aredis
    r = aredis.Redis(host="127.0.0.1", port=port,
                     single_connection_client=(bench == "seq"),
                     max_connections=TASKS + 1)
    await r.ping()
    return r, lambda: r.pipeline(transaction=False), r.close


async def run(impl, bench, n, port):
    r, pipeline, close = await connect(impl, bench, port)
    t0, c0 = time.monotonic(), time.process_time()
    if bench == "seq":
        for i in range(n):
            k = f"key:{i % 10000:012d}"
            if i % 2 == 0:
                await r.set(k, VAL)
            else:
                await r.get(k)
    elif bench == "tasks":
        per = n // TASKS

        async def worker(t):
            for i in range(t * per, (t + 1) * per):
                await r.set(f"key:{i % 10000:012d}", VAL)
        await asyncio.gather(*(worker(t) for t in range(TASKS)))
    elif bench == "pipe":
        p = pipeline()
        for i in range(n):
            p.set(f"key:{i % 10000:012d}", VAL)
        await p.execute()
    else:
        raise SystemExit("unknown bench " + bench)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    await close()
    print(json.dumps({"impl": impl, "bench": bench, "n": n, "wall_s": wall, "cpu_s": cpu}))


def main():
    impl, bench, n, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if impl.endswith("+uvloop"):
        import uvloop
        uvloop.install()
    asyncio.run(run(impl, bench, n, port))


if __name__ == "__main__":
    main()
