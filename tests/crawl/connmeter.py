#!/usr/bin/python3
"""connmeter.py - the per-host concurrency meter of the crawler tests: a TCP
proxy in front of each host address that counts the connections open at
once, per address, as the server sees them (nginx cannot report that).

    connmeter.py LOG LISTEN=UPSTREAM...      e.g. 127.0.0.3:8080=127.0.0.3:9090

Forwards every connection accepted on LISTEN to UPSTREAM (connecting from
the same address, so the upstream's $server_addr still names the host)
and appends to LOG one line per event, "open T ADDR ID N" and "close T ADDR
ID N" (T: time.time(), N: connections open on ADDR after the event). The
line "ready" goes to stdout once every address listens. Runs until SIGTERM.

A client that closes one connection and opens the next at once must not be
seen with both open: before counting a new connection, the meter peeks at
the others of its address and closes those whose peer has already sent
its FIN or a reset (that reached the kernel before the new SYN).

    connmeter.py --peak LOG     prints {"ADDR": peak, ...} from a LOG
"""
import asyncio
import json
import signal
import socket
import sys
import time


class Meter:
    def __init__(self, log):
        self.log = open(log, "a", buffering=1)
        self.open = {}      # addr -> {id: client socket}
        self.next_id = 0

    def event(self, kind, addr, cid):
        self.log.write(f"{kind} {time.time():.6f} {addr} {cid} {len(self.open[addr])}\n")

    def reap(self, addr):
        """Closes (in the count) the connections whose client has gone."""
        for cid, sock in list(self.open[addr].items()):
            try:
                data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                gone = data == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                self.closed(addr, cid)

    def closed(self, addr, cid):
        if self.open[addr].pop(cid, None) is not None:
            self.event("close", addr, cid)

    async def pipe(self, r, w):
        try:
            while True:
                b = await r.read(65536)
                if not b:
                    break
                w.write(b)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                if w.can_write_eof():
                    w.write_eof()
            except (ConnectionError, OSError, RuntimeError):
                pass

    async def handle(self, addr, upstream, cr, cw):
        cid = self.next_id
        self.next_id += 1
        sock = cw.get_extra_info("socket")
        # A dup of the client socket, for the non-blocking peeks of reap().
        peek = socket.fromfd(sock.fileno(), socket.AF_INET, socket.SOCK_STREAM)
        self.reap(addr)
        self.open[addr][cid] = peek
        self.event("open", addr, cid)
        host, port = upstream.rsplit(":", 1)
        try:
            ur, uw = await asyncio.open_connection(host, int(port), local_addr=(host, 0))
        except OSError:
            self.closed(addr, cid)
            peek.close()
            cw.close()
            return
        await asyncio.gather(self.pipe(cr, uw), self.pipe(ur, cw))
        self.closed(addr, cid)
        peek.close()
        for w in (cw, uw):
            w.close()

    async def main(self, pairs):
        servers = []
        for listen, upstream in pairs:
            host, port = listen.rsplit(":", 1)
            self.open[listen] = {}
            srv = await asyncio.start_server(
                lambda r, w, l=listen, u=upstream: self.handle(l, u, r, w), host, int(port),
                reuse_address=True)
            servers.append(srv)
        print("ready", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        await stop.wait()
        for srv in servers:
            srv.close()


def peak(log):
    out = {}
    for line in open(log):
        f = line.split()
        if len(f) == 5:
            out[f[2]] = max(out.get(f[2], 0), int(f[4]))
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--peak":
        print(json.dumps(peak(sys.argv[2])))
        sys.exit(0)
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    pairs = [a.split("=", 1) for a in sys.argv[2:]]
    asyncio.run(Meter(sys.argv[1]).main(pairs))
