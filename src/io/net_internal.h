/*
 * net_internal.h - what the networking files of the I/O layer share:
 * address resolution and socket set-up. fd waits (simul__fd_wait, simul__fdwait handles) are the core's fd table,
 * declared in core/internal.h: a descriptor the I/O layer creates is
 * forgotten there first (simul__fd_forget: anything left under that number
 * was a file closed behind the runtime's back), waited on without the
 * FOREIGN flag, and closed with simul_close.
 */
#ifndef SIMUL_IO_NET_INTERNAL_H
#define SIMUL_IO_NET_INTERNAL_H

#include "../core/internal.h"

#include <netdb.h>

/* Resolved addresses (copied out of getaddrinfo's list; hard cap). */
#define SIMUL__MAX_ADDRS 16
typedef struct simul__addrs {
    int n;
    struct sockaddr_storage a[SIMUL__MAX_ADDRS];
    socklen_t len[SIMUL__MAX_ADDRS];
} simul__addrs;
/* Resolves host:port (numeric, "localhost", a name; NULL with passive:
 * the wildcard addresses) for `socktype`. Names go through the async
 * resolver. 0, a SIMUL_EAI_* code, -EINVAL, -ECANCELED. */
int  simul__net_resolve(const char *host, int port, int socktype, int passive,
                        simul__addrs *out);

/* simul_stream_close that gives up flushing at `deadline` (loop ns): then
 * the stream is aborted (simul_stream_abort) and -ETIMEDOUT returned. The
 * server's implicit close after a handler returns. */
int  simul__stream_close_until(simul_stream *s, int64_t deadline);
/* Marks a server's stream: simul_stream_abort from the handler closes the
 * fd and discards the bytes, and simul__stream_close_until frees it. */
void simul__stream_set_owned(simul_stream *s);

/* Sets O_NONBLOCK (and FD_CLOEXEC). 0 or -errno. */
int  simul__set_nonblock(int fd);

#endif
