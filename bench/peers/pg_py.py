#!/usr/bin/env python3
"""pg_py.py - the Python peers of bench/pg.c, the same statements:

    python3 bench/peers/pg_py.py asyncpg|psycopg[+uvloop] BENCH N DSN

asyncpg (python3-asyncpg) and psycopg 3's async API (python3-psycopg), on
Debian's asyncio loop, or with "+uvloop" on uvloop (python3-uvloop), the
loop asyncpg's own benchmarks use. Benches as in bench/pg.c: select1, params1
(N parameterised queries on one connection, one after the other), params (10
connections x N/10, gathered), insert (executemany in one transaction:
asyncpg pipelines it; psycopg 3.1 uses libpq's pipeline mode), fetch (N
rows, every value read), copy (asyncpg: copy_records_to_table, binary;
psycopg: copy.write_row). Rows to insert or copy are built before the
clock starts. Prints one JSON line like bench/pg.c (CPU: process_time).
"""
import asyncio
import json
import sys
import time

CONNS = 10


async def run_asyncpg(bench, n, dsn):
    import asyncpg
    nc = CONNS if bench == "params" else 1
    conns = [await asyncpg.connect(dsn) for _ in range(nc)]
    c = conns[0]
    rows = [(i, f"row {i}") for i in range(n)] if bench in ("insert", "copy") else None
    t0, c0 = time.monotonic(), time.process_time()
    if bench == "select1":
        for _ in range(n):
            await c.fetchval("SELECT 1")
    elif bench == "params1":
        for i in range(n):
            assert await c.fetchval("SELECT $1::int + 1", i) == i + 1
    elif bench == "params":
        async def worker(conn):
            for i in range(n // CONNS):
                assert await conn.fetchval("SELECT $1::int + 1", i) == i + 1
        await asyncio.gather(*(worker(x) for x in conns))
    elif bench == "insert":
        async with c.transaction():
            await c.executemany("INSERT INTO bench_t VALUES ($1, $2)", rows)
    elif bench == "fetch":
        res = await c.fetch(f"SELECT g, 'row ' || g FROM generate_series(1, {n}) g")
        s = sum(r[0] for r in res)
        ln = sum(len(r[1]) for r in res)
        assert s == n * (n + 1) // 2 and ln > 0
    elif bench == "copy":
        await c.copy_records_to_table("bench_t", records=rows)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    for x in conns:
        await x.close()
    return wall, cpu


async def run_psycopg(bench, n, dsn):
    import psycopg
    nc = CONNS if bench == "params" else 1
    conns = [await psycopg.AsyncConnection.connect(dsn, autocommit=True) for _ in range(nc)]
    c = conns[0]
    rows = [(i, f"row {i}") for i in range(n)] if bench in ("insert", "copy") else None
    t0, c0 = time.monotonic(), time.process_time()
    if bench == "select1":
        cur = c.cursor()
        for _ in range(n):
            await cur.execute("SELECT 1")
            await cur.fetchone()
    elif bench == "params1":
        cur = c.cursor()
        for i in range(n):
            await cur.execute("SELECT %s::int + 1", (i,))
            assert (await cur.fetchone())[0] == i + 1
    elif bench == "params":
        async def worker(conn):
            cur = conn.cursor()
            for i in range(n // CONNS):
                await cur.execute("SELECT %s::int + 1", (i,))
                assert (await cur.fetchone())[0] == i + 1
        await asyncio.gather(*(worker(x) for x in conns))
    elif bench == "insert":
        async with c.transaction():
            cur = c.cursor()
            await cur.executemany("INSERT INTO bench_t VALUES (%s, %s)", rows)
    elif bench == "fetch":
        cur = c.cursor()
        await cur.execute(f"SELECT g, 'row ' || g FROM generate_series(1, {n}) g")
        res = await cur.fetchall()
        s = sum(r[0] for r in res)
        ln = sum(len(r[1]) for r in res)
        assert s == n * (n + 1) // 2 and ln > 0
    elif bench == "copy":
        cur = c.cursor()
        async with cur.copy("COPY bench_t FROM STDIN") as cp:
            for r in rows:
                await cp.write_row(r)
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    for x in conns:
        await x.close()
    return wall, cpu


def main():
    impl, bench, n, dsn = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if impl.endswith("+uvloop"):
        import uvloop
        uvloop.install()
    fn = run_asyncpg if impl.startswith("asyncpg") else run_psycopg
    wall, cpu = asyncio.run(fn(bench, n, dsn))
    print(json.dumps({"impl": impl, "bench": bench, "n": n, "wall_s": wall, "cpu_s": cpu}))


if __name__ == "__main__":
    main()
