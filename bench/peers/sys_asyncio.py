"""sys_asyncio.py - the Python peers of bench/io_sys.c (bench/run-io-sys.sh).

    sys_asyncio.py pool N LOOP          N sequential loop.run_in_executor(None, noop)
    sys_asyncio.py append N PATH LOOP   N lines "line %d\n" appended with aiofiles,
                                        one await f.write() per line
    sys_asyncio.py lines N LOOP         N lines "line %d\n" written to a StreamWriter
                                        over a Unix socket (one write() per line,
                                        then drain and close); a thread reads

LOOP is asyncio or uvloop. Prints one JSON object like io_sys.c's.
"""
import asyncio
import json
import os
import resource
import socket
import sys
import threading
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


async def lines(n):
    a, b = socket.socketpair()
    got = [0]

    def reader():
        while True:
            d = b.recv(1 << 16)
            if not d:
                break
            got[0] += len(d)

    th = threading.Thread(target=reader)
    th.start()
    c0, t0 = cpu_now(), time.perf_counter()
    _, writer = await asyncio.open_connection(sock=a)
    for i in range(n):
        writer.write(f"line {i}\n".encode())
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.get_running_loop().run_in_executor(None, th.join)
    wall, cpu = time.perf_counter() - t0, cpu_now() - c0
    b.close()
    want = sum(len(f"line {i}\n") for i in range(n))
    if got[0] != want:
        sys.exit(f"sys_asyncio: reader got {got[0]} bytes, want {want}")
    return wall, cpu


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    loopname = sys.argv[-1]
    coro = pool(n) if mode == "pool" else lines(n) if mode == "lines" else append(n, sys.argv[3])
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
