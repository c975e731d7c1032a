#!/usr/bin/env python3
"""http_aiohttp - the aiohttp peer of the HTTP fetch benchmark.

One ClientSession whose connector allows W connections (limit=W), W worker
tasks taking the URLs of a list in turn, each body read (resp.read()) and
dropped. Debian's python3-aiohttp on plain asyncio. Prints one JSON line:
pages, errors, bytes, seconds (first request to last body).

    http_aiohttp.py URLS_FILE [W]     W defaults to 50
"""
import asyncio
import json
import sys
import time

import aiohttp


async def main(path, workers):
    with open(path) as f:
        urls = [u.strip() for u in f if u.strip()]
    it = iter(urls)
    stats = {"pages": 0, "errors": 0, "bytes": 0}

    async def worker(session):
        for url in it:
            try:
                async with session.get(url) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        stats["errors"] += 1
                        continue
                    stats["pages"] += 1
                    stats["bytes"] += len(body)
            except aiohttp.ClientError:
                stats["errors"] += 1

    conn = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(connector=conn) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(workers)))
        stats["seconds"] = round(time.perf_counter() - start, 4)
    print(json.dumps(stats))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: http_aiohttp.py URLS_FILE [WORKERS]")
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50))
