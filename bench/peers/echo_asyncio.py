"""echo_asyncio.py - the asyncio and uvloop peers of the echo benchmark:
asyncio streams (start_server, reader.read, writer.write + drain), the
Python twin of examples/echo-server.c. Run with Debian's /usr/bin/python3.

    echo_asyncio.py [--uvloop] PORT
"""
import asyncio
import sys


async def handle(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    port = int([a for a in args if a != "--uvloop"][0])
    if "--uvloop" in args:
        import uvloop
        uvloop.install()
    try:
        asyncio.run(main(port))
    except KeyboardInterrupt:
        pass
