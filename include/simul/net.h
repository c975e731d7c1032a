/*
 * simul/net.h - part of the public API; included by <simul.h>.
 *
 * Networking on the loop: waiting for an fd to become readable or writable,
 * closing fds that tasks wait on, TCP (IPv4/IPv6) and Unix stream
 * connections with buffered readers and writers (asyncio's
 * open_connection / StreamReader / StreamWriter), servers that run one task
 * per connection (asyncio.start_server), and UDP endpoints.
 *
 * Deadlines: simul_wait_fd and the UDP calls take an absolute deadline on
 * simul_now()'s clock (INFINITY for none). Stream calls take none: put them
 * in a simul_scope (asyncio.timeout) - an expired scope makes the waiting
 * call return -ECANCELED and simul_scope_exit() return -ETIMEDOUT.
 *
 * Every fd these functions create is non-blocking and close-on-exec, and is
 * sent to with MSG_NOSIGNAL: a peer that went away gives -EPIPE, never a
 * SIGPIPE.
 */
#ifndef SIMUL_NET_H
#define SIMUL_NET_H

#include <simul.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Waiting on descriptors                                                   */

/*
 * Suspends the calling task until fd is ready for `events` (SIMUL_READABLE,
 * SIMUL_WRITABLE or both) or until `deadline` (absolute, simul_now() clock;
 * INFINITY for none). fd should be non-blocking; it is not changed.
 *
 * Returns the ready events (> 0; may include SIMUL_ERROR or SIMUL_HANGUP,
 * after which the caller's read or write reports the real error), or
 * -ETIMEDOUT when the deadline passed, -ECANCELED if the task was cancelled,
 * -EBADF if fd was closed with simul_close() while waiting (or is < 0),
 * -EINVAL for events without READABLE/WRITABLE or a NaN deadline, -EPERM
 * outside a task, -EMFILE for an fd beyond the table's cap (16M), -ENOMEM.
 *
 * Several tasks may wait on one fd at once (a reader and a writer, or
 * more), beside simul_watch watchers on it; each readiness event wakes
 * every waiter for it. Each call registers the number afresh (one
 * epoll_ctl on epoll), so a wait after fd was closed with close(2) and its
 * number reused watches the new file; tasks already waiting when that
 * happened are not told, and see the new file's readiness (see
 * simul_watch in simul.h for what is guaranteed, and simul_fd_forget).
 * Close fds you wait on with simul_close(), or simul_fd_forget() them
 * before someone else closes them. When the wait returns, the runtime
 * holds no reference to the file: closed right after, it is closed.
 */
SIMUL_API int simul_wait_fd(int fd, int events, double deadline);

/*
 * The runtime's close(2): wakes every task waiting on fd in simul_wait_fd()
 * (or in a stream/UDP call on it) with -EBADF, removes fd from the poller,
 * forgets its pending events, then closes it. A task that later waits on a
 * new fd with the same number never sees an event meant for the old one.
 * Callable from a task or a loop callback; outside a loop it is close(2).
 * Does not suspend. Returns 0 or -errno from close(2) (the fd is closed even
 * then, as with close(2)); -EBADF for fd < 0.
 */
SIMUL_API int simul_close(int fd);

/* ------------------------------------------------------------------------ */
/* Streams (asyncio.open_connection, StreamReader, StreamWriter)            */

/*
 * A stream may be used by one reader task and one writer task at the same
 * time (a chat client reading lines while it sends others): reads
 * (read, readexactly, readuntil, readline) and writes (write, drain,
 * write_eof) touch separate buffers and wait on separate directions. Two
 * tasks in the same direction at once are not supported (two drains:
 * -EBUSY). Only one task closes or aborts it, once the other is done.
 */
typedef struct simul_stream simul_stream;

/* Options for connections and servers; zero-initialise, set what you need.
 * Zero fields take the defaults shown. */
typedef struct simul_stream_opts {
    size_t limit;         /* readuntil/readline buffer limit: 64 KiB */
    size_t high_water;    /* drain() waits above this many unsent bytes: 64 KiB */
    size_t low_water;     /* ... until at most this many remain: high/4 */
    size_t max_buffered;  /* hard cap on unsent bytes; write() beyond it
                             fails with -ENOBUFS: 4 MiB (>= high_water) */
    int    nodelay;       /* TCP_NODELAY: 1 on (the default), -1 off */
    int    keepalive;     /* SO_KEEPALIVE: 1 on, 0/-1 off (the default) */
    size_t coalesce;      /* small writes are held until the end of the loop
                             iteration and sent together; a write that
                             brings the held bytes to this many is sent at
                             once: 16 KiB. 1 sends every write at once. */
    double close_timeout; /* servers only: seconds the implicit close after
                             a handler returns may wait to flush; then the
                             connection is aborted: 30. INFINITY: no bound */
    int    reuseport;     /* servers only: 1 sets SO_REUSEPORT on the
                             listening sockets, so a server per loop (see
                             simul_run_loops) can listen on one port and the
                             kernel spreads connections over them */
    struct simul_chan *handoff; /* servers only: accepted sockets are not
                             served here but sent, as (void *)(intptr_t)fd,
                             on this channel (waiting while it is full:
                             accepting pauses), for simul_start_chan_server
                             on any loop; see there */
} simul_stream_opts;

/*
 * asyncio.open_connection(host, port): resolves host (a numeric IPv4/IPv6
 * address, "localhost", or a name) and connects over TCP, trying the
 * addresses happy-eyeballs style (RFC 8305): IPv6 and IPv4 interleaved, the
 * next attempt starting when one fails or after 250 ms, the first to
 * connect winning and the others closed. `timeout` (seconds, INFINITY for
 * none) bounds the whole thing. opts may be NULL.
 *
 * On success stores a new stream in *out (the caller owns it: give it back
 * with simul_stream_close) and returns 0. Errors: -ETIMEDOUT, -ECANCELED
 * (nothing leaks), the last attempt's connect error (-ECONNREFUSED,
 * -ENETUNREACH, ...), the resolver's SIMUL_EAI_* codes for a name
 * (SIMUL_EAI_NONAME for an unknown name; SIMUL_EAI_AGAIN when the resolver
 * failed temporarily; see <simul.h>), -EINVAL for a bad port or
 * NULL argument, -EPERM outside a task, -ENOMEM.
 */
SIMUL_API int simul_open_connection(const char *host, int port, double timeout,
                                    const simul_stream_opts *opts, simul_stream **out);

/* The same over a Unix stream socket at `path`. Errors as above, plus
 * -ENAMETOOLONG for a path that does not fit sockaddr_un. */
SIMUL_API int simul_open_unix_connection(const char *path, double timeout,
                                         const simul_stream_opts *opts, simul_stream **out);

/*
 * Wraps a connected stream socket (or a pipe or other fd) in a stream. The
 * stream takes ownership of fd on success (made non-blocking; closed by
 * simul_stream_close); on failure the caller keeps it. 0, -EBADF, -ENOMEM,
 * -EPERM outside a loop, -EINVAL for NULL out or options out of range
 * (limit or max_buffered over 1 GiB, low_water above high_water).
 */
SIMUL_API int simul_stream_from_fd(int fd, const simul_stream_opts *opts, simul_stream **out);

/* The stream's fd (for getsockopt/getpeername), or -EINVAL for NULL. */
SIMUL_API int simul_stream_fd(const simul_stream *s);

/*
 * reader.read(n): up to n bytes, waiting until at least one is available.
 * Returns the count (> 0), 0 at end of stream (the peer half-closed or
 * closed), -ECONNRESET if the peer reset the connection, another -errno
 * from recv, -ECANCELED (nothing was consumed), -EBADF if the fd was closed.
 */
SIMUL_API int simul_stream_read(simul_stream *s, void *buf, size_t n);

/*
 * reader.readexactly(n): exactly n bytes (n <= INT_MAX). Returns n; at end
 * of stream before n bytes, -ENODATA, and the bytes that did arrive stay
 * buffered (read() returns them); -ECANCELED likewise keeps what arrived.
 * Other errors as read(). n larger than the stream's limit is allowed: the
 * bytes go straight to buf; but if such a read stops early after more
 * than `limit` bytes arrived, they cannot be kept (the read-ahead's hard
 * cap is the limit) and -EMSGSIZE is returned instead.
 */
SIMUL_API int simul_stream_readexactly(simul_stream *s, void *buf, size_t n);

/*
 * reader.readuntil(sep): reads up to and including the separator sep
 * (seplen >= 1 bytes) into buf (capacity cap) and returns its length.
 * The data searched is bounded by min(cap, the stream's limit): if the
 * separator is not found within it, returns -ENOBUFS and every byte stays
 * buffered (read() gets them). At end of stream without a separator,
 * -ENODATA with the partial data still buffered. -ECANCELED loses nothing.
 * -EINVAL for seplen 0 or longer than the limit.
 * When the data is shorter than cap, a NUL byte follows it in buf (so a
 * text line can be used as a C string); it is not counted.
 */
SIMUL_API int simul_stream_readuntil(simul_stream *s, const void *sep, size_t seplen,
                                     void *buf, size_t cap);

/*
 * reader.readline(): readuntil("\n"), except that at end of stream the
 * remaining partial line is returned (without "\n"), and 0 once nothing is
 * left - as asyncio's readline returns b"". NUL-terminated when shorter
 * than cap, as readuntil. Errors as readuntil.
 */
SIMUL_API int simul_stream_readline(simul_stream *s, void *buf, size_t cap);

/* 1 once the reader hit end of stream and its buffer is empty (at_eof). */
SIMUL_API int simul_stream_at_eof(const simul_stream *s);

/*
 * writer.write(data): copies data into the stream's buffer, which the loop
 * sends in the background, or sends it now. Small writes are coalesced
 * (Go's bufio.Writer): they are held until the end of the current loop
 * iteration - the moment the loop would poll - and leave together in one
 * system call; a write that brings the held bytes to the `coalesce`
 * threshold (16 KiB) is sent at once with them, and drain(), write_eof()
 * and close() send held bytes at once. What the socket does not take is
 * flushed when it becomes writable. Order is always kept. Does not
 * suspend. Returns 0; -ENOBUFS if the unsent bytes would exceed
 * max_buffered (nothing is written or buffered: the call is all or
 * nothing); the connection's error (-EPIPE, -ECONNRESET, ...) once one was
 * seen; -ESHUTDOWN after write_eof; -ENOMEM.
 *
 * Bytes written with write(2) on simul_stream_fd() may overtake held ones:
 * drain() first.
 */
SIMUL_API int simul_stream_write(simul_stream *s, const void *buf, size_t n);

/*
 * writer.drain(): sends held bytes now; then, if more than high_water bytes
 * are unsent, waits until at most low_water remain (backpressure). Returns
 * 0, the connection's error, or -ECANCELED (the buffered bytes stay
 * queued).
 */
SIMUL_API int simul_stream_drain(simul_stream *s);

/* Bytes written but not yet sent (transport.get_write_buffer_size). */
SIMUL_API size_t simul_stream_buffered(const simul_stream *s);

/*
 * writer.write_eof(): waits until every buffered byte is sent, then shuts
 * down the sending side (shutdown SHUT_WR, a half-close); reading still
 * works. 0, the connection's error, -ECANCELED (nothing shut down; the
 * bytes stay queued), -ENOTSOCK for a stream over a non-socket.
 */
SIMUL_API int simul_stream_write_eof(simul_stream *s);

/*
 * writer.close() + await writer.wait_closed(): waits until buffered output
 * is sent (never past an error), closes the fd with simul_close and frees
 * the stream - always, whatever is returned. Returns 0, or the error that
 * kept buffered bytes from being sent (-EPIPE, -ECONNRESET, -ECANCELED if
 * the caller was cancelled while flushing): then those bytes were lost and
 * the caller knows it. A peer that never reads keeps it waiting: bound it
 * with a simul_scope, or use simul_stream_abort. Do not close a stream
 * while another task is using it. NULL is a no-op (0).
 */
SIMUL_API int simul_stream_close(simul_stream *s);

/*
 * transport.abort(): closes the stream now, discarding every unsent byte -
 * those in the stream's buffer and, on a TCP socket, those still in the
 * kernel (the socket is closed with SO_LINGER 0, so the peer sees a reset,
 * ECONNRESET). Frees the stream; never suspends, so it works in a
 * cancelled task or outside one. Returns 0; NULL is a no-op. As with close,
 * no other task may be using the stream. For a peer that stopped reading:
 * simul_stream_close would wait for it for ever.
 */
SIMUL_API int simul_stream_abort(simul_stream *s);

/* TCP_NODELAY and SO_KEEPALIVE on a TCP stream. 0 or -errno (-ENOTSOCK,
 * -EOPNOTSUPP for a Unix socket's nodelay). */
SIMUL_API int simul_stream_set_nodelay(simul_stream *s, int on);
SIMUL_API int simul_stream_set_keepalive(simul_stream *s, int on);

/* ------------------------------------------------------------------------ */
/* Servers (asyncio.start_server)                                           */

typedef struct simul_server simul_server;

/*
 * A connection handler: runs as its own task per accepted connection.
 *
 * Who closes what: the server owns the stream. When the handler returns,
 * the server closes it, flushing what is buffered for up to the options'
 * close_timeout (30 s by default); a peer that has not taken the bytes by
 * then has the connection aborted (simul_stream_abort), so the task, the
 * fd and the buffer are released. The handler must not close or keep the
 * stream; to drop the connection at once (a protocol error) it may call
 * simul_stream_abort(s) as its last act on s, then return: the fd is closed
 * and the bytes discarded at once, and the server frees the rest.
 * simul_server_close cancels handlers still running after its grace.
 * A negative return is logged to stderr and counted; the server keeps
 * serving.
 */
typedef int (*simul_conn_handler)(simul_stream *s, void *arg);

/*
 * asyncio.start_server(handler, host, port): listens on host (a numeric
 * address, "localhost" - both 127.0.0.1 and ::1 - or NULL for every local
 * address) and port (0: the kernel picks one, the same one for every
 * address; simul_server_port tells which), and accepts connections in the
 * background, one handler task each. opts (may be NULL) applies to every
 * accepted stream.
 *
 * When accept fails with EMFILE/ENFILE/ENOBUFS/ENOMEM the server logs it
 * (once per burst) and retries after a pause of 50 ms, so it resumes serving
 * when descriptors free up.
 *
 * Stores the server in *out (the caller frees it with simul_server_close)
 * and returns 0; -EADDRINUSE, -EACCES, the resolver's SIMUL_EAI_* errors
 * for a name, -EINVAL, -EPERM outside a task, -ENOMEM.
 */
SIMUL_API int simul_start_server(const char *host, int port, simul_conn_handler handler,
                                 void *arg, const simul_stream_opts *opts, simul_server **out);

/*
 * A server without a listening socket: it serves the connections whose
 * accepted sockets arrive on ch - as (void *)(intptr_t)fd, sent there by
 * a server started with opts.handoff = ch on any loop (the fd handover),
 * or by anyone - one handler task each, exactly as simul_start_server's
 * (the server owns each socket from the moment it takes it; stats,
 * close_timeout and simul_server_close as there). Several loops may serve
 * one channel: a socket goes to whichever loop takes it first, so an idle
 * loop takes more (explicit balancing; SO_REUSEPORT lets the kernel hash
 * connections to listeners instead, with no hop between threads but no
 * regard for load). The server stops taking sockets when ch is closed
 * and drained, or at simul_server_close. Sockets still in ch when nobody
 * serves it any more are the closer's to close (drain it with
 * simul_chan_try_recv). Errors: -EINVAL (NULL ch, handler or out, bad
 * close_timeout), -EPERM outside a task, -ENOMEM.
 */
SIMUL_API int simul_start_chan_server(struct simul_chan *ch, simul_conn_handler handler,
                                      void *arg, const simul_stream_opts *opts,
                                      simul_server **out);

/* The same on a Unix socket at path (an existing socket file there is
 * replaced; the file is removed by simul_server_close). */
SIMUL_API int simul_start_unix_server(const char *path, simul_conn_handler handler,
                                      void *arg, const simul_stream_opts *opts,
                                      simul_server **out);

/* The bound TCP port (host byte order), or -EINVAL (Unix servers, NULL). */
SIMUL_API int simul_server_port(const simul_server *srv);

/* Counters: connections accepted so far, handlers live now, handlers that
 * returned an error, implicit closes aborted. For logs and tests. */
typedef struct simul_server_stats {
    uint64_t accepted;
    uint64_t live;
    uint64_t failed;
    uint64_t accept_errors;  /* EMFILE and kin, each retried */
    uint64_t aborted;        /* closes aborted after close_timeout: the
                                peer did not take the output in time */
} simul_server_stats;
SIMUL_API void simul_server_stats_get(const simul_server *srv, simul_server_stats *st);

/*
 * Graceful close (server.close() + wait_closed()): stops accepting at once,
 * closes the listening sockets, lets running handlers finish for up to
 * `timeout` seconds (0: cancel at once; INFINITY: wait for all), then cancels
 * the rest and waits for them to return, and frees the server. Returns the
 * number of handlers that had to be cancelled (>= 0), or -ECANCELED if the
 * caller was cancelled (the handlers are cancelled and awaited all the same,
 * and the server is freed). NULL returns -EINVAL; outside a task, -EPERM
 * (and the server is left as it was).
 */
SIMUL_API int simul_server_close(simul_server *srv, double timeout);

/* ------------------------------------------------------------------------ */
/* UDP (loop.create_datagram_endpoint)                                      */

typedef struct simul_udp simul_udp;

/*
 * Opens a UDP socket bound to host:port (numeric address or "localhost";
 * NULL means 0.0.0.0; port 0 picks one). Stores it in *out (the caller
 * frees it with simul_udp_close). 0, -EADDRINUSE, -EADDRNOTAVAIL, -EINVAL,
 * the resolver's SIMUL_EAI_* errors for a name (then it must be called from
 * a task), -EPERM outside a loop, -ENOMEM.
 */
SIMUL_API int simul_udp_open(const char *host, int port, simul_udp **out);

/* The socket's fd (for setsockopt), and its bound port; -EINVAL for NULL. */
SIMUL_API int simul_udp_fd(const simul_udp *u);
SIMUL_API int simul_udp_port(const simul_udp *u);

/*
 * Sends one datagram of n bytes to `to`, waiting while the socket buffer is
 * full, until `deadline` (absolute; INFINITY). Returns n, -EMSGSIZE,
 * -ETIMEDOUT, -ECANCELED, -EBADF if closed meanwhile, -EINVAL, -EPERM
 * outside a task, other -errno from sendto (-ENETUNREACH, ...).
 */
SIMUL_API int simul_udp_sendto(simul_udp *u, const void *buf, size_t n,
                               const struct sockaddr *to, socklen_t tolen, double deadline);

/*
 * Receives one datagram into buf (capacity cap; a longer datagram is
 * truncated and -EMSGSIZE returned, as MSG_TRUNC reports), storing the
 * sender in *from / *fromlen when from is not NULL (*fromlen is the
 * capacity on entry). Waits until one arrives or `deadline`. Returns the
 * byte count (0 for an empty datagram), -EMSGSIZE, -ETIMEDOUT, -ECANCELED,
 * -EBADF, -EINVAL, -EPERM outside a task, other -errno from recvfrom.
 */
SIMUL_API int simul_udp_recvfrom(simul_udp *u, void *buf, size_t cap,
                                 struct sockaddr *from, socklen_t *fromlen, double deadline);

/* Wakes any task waiting on u with -EBADF, closes the socket, frees u.
 * NULL is a no-op. Returns 0 or the close(2) error. */
SIMUL_API int simul_udp_close(simul_udp *u);

/* Builds a sockaddr for a numeric address ("127.0.0.1", "::1") or
 * "localhost" (127.0.0.1) and port; does not block. *len is set. 0 or
 * -EINVAL. A convenience for simul_udp_sendto. */
SIMUL_API int simul_sockaddr(const char *host, int port, struct sockaddr_storage *ss,
                             socklen_t *len);

#ifdef __cplusplus
}
#endif

#endif
