"""sys_asyncio.py - the Python peers of bench/io_sys.c (bench/run-io-sys.sh).

    sys_asyncio.py pool N LOOP          N sequential loop.run_in_executor(None, noop)
    sys_asyncio.py append N PATH LOOP   N lines "line %d\n" appended with aiofiles,
                                        one await f.write() per line

LOOP is asyncio or uvloop. Prints one JSON object like io_sys.c's.
"""
import asyncio
import json
import os
import resource
import sys
import time


def cpu_now():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def noop():
    return None


async def pool(n):
    loop = asyncio.get_running_loop()
    for _ in range(1000):
        await loop.run_in_executor(None, noop)
    c0, t0 = cpu_now(), time.perf_counter()
    for _ in range(n):
        await loop.run_in_executor(None, noop)
    return time.perf_counter() - t0, cpu_now() - c0


async def append(n, path):
    import aiofiles
    c0, t0 = cpu_now(), time.perf_counter()
    async with aiofiles.open(path, "w") as f:   # truncate, as io_sys.c
        pass
    async with aiofiles.open(path, "a") as f:
        for i in range(n):
            await f.write(f"line {i}\n")
    wall, cpu = time.perf_counter() - t0, cpu_now() - c0
    want = sum(len(f"line {i}\n") for i in range(n))
    if os.path.getsize(path) != want:
        sys.exit(f"sys_asyncio: {path} has {os.path.getsize(path)} bytes, want {want}")
    return wall, cpu


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    loopname = sys.argv[-1]
    coro = pool(n) if mode == "pool" else append(n, sys.argv[3])
    if loopname == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        wall, cpu = loop.run_until_complete(coro)
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
    print(json.dumps({"n": n, "wall_s": round(wall, 6), "cpu_s": round(cpu, 6),
                      "ns_per_op": round(wall * 1e9 / n, 1), "loop": loopname}))


if __name__ == "__main__":
    main()
