#!/usr/bin/python3
"""Coordination benchmarks for Python asyncio (and uvloop): the peer of
bench/coordination.c.

Usage:  /usr/bin/python3 coord_asyncio.py [--uvloop] BENCH N

Prints one JSON line with the keys bench/coordination.c prints. Run with
Debian's /usr/bin/python3 (the one python3-uvloop is built for).

  queue N     a producer puts N items into asyncio.Queue(maxsize=128), a
              consumer gets them.                          -> ns per item
  pingpong N  two tasks, two unbounded asyncio.Queues, N round trips.
                                                           -> ns per round trip
  sem N       10,000 tasks contend for asyncio.Semaphore(100); each does
              `async with sem: await asyncio.sleep(0)` until N acquisitions
              were made in all.                            -> ns per pair
"""
import asyncio
import json
import sys
import time

SEM_TASKS = 10_000
SEM_VALUE = 100


async def b_queue(n):
    q = asyncio.Queue(maxsize=128)

    async def producer():
        for i in range(n):
            await q.put(i)

    async def consumer():
        for i in range(n):
            if await q.get() != i:
                raise RuntimeError("order")

    await asyncio.gather(producer(), consumer())
    return n


async def b_pingpong(n):
    q1, q2 = asyncio.Queue(), asyncio.Queue()

    async def ping():
        for i in range(n):
            await q1.put(i)
            if await q2.get() != i:
                raise RuntimeError("order")

    async def pong():
        for _ in range(n):
            await q2.put(await q1.get())

    await asyncio.gather(ping(), pong())
    return n


async def b_sem(n):
    per = n // SEM_TASKS
    sem = asyncio.Semaphore(SEM_VALUE)

    async def contender():
        for _ in range(per):
            async with sem:
                await asyncio.sleep(0)

    await asyncio.gather(*(contender() for _ in range(SEM_TASKS)))
    return per * SEM_TASKS


BENCHES = {"queue": b_queue, "pingpong": b_pingpong, "sem": b_sem}


def main():
    args = sys.argv[1:]
    uv = False
    if args and args[0] == "--uvloop":
        uv = True
        args = args[1:]
    if len(args) != 2 or args[0] not in BENCHES:
        print("usage: coord_asyncio.py [--uvloop] queue|pingpong|sem N", file=sys.stderr)
        sys.exit(2)
    b, n = args[0], int(args[1])
    if uv:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    async def timed():
        t0 = time.perf_counter()
        done = await BENCHES[b](n)
        return done, time.perf_counter() - t0

    done, s = asyncio.run(timed())
    print(json.dumps({"bench": b, "n": done, "seconds": round(s, 6),
                      "ns_per_op": round(s * 1e9 / done, 2)}))


if __name__ == "__main__":
    main()
