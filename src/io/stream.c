/*
 * stream.c - buffered byte streams over sockets and pipes (asyncio's
 * StreamReader/StreamWriter) and opening TCP/Unix connections.
 *
 * Both directions keep their bytes in a simul__buf (core/buf.h) with a hard
 * cap: the read-ahead at most `limit`, the output at most max_buffered.
 *
 * Reading: read() and readexactly() go straight into the caller's buffer
 * when nothing is buffered; readuntil()/readline() fill the read-ahead.
 * After a short read the socket is almost surely drained, so the next read
 * parks on readiness first instead of paying for a read that would only say
 * EAGAIN (as libuv does).
 *
 * Writing coalesces (Go's bufio.Writer, without the explicit Flush): a
 * small write is copied to the output buffer and held until the end of the
 * loop iteration (a before-poll hook), so many small writes in one tick
 * leave in one system call. A write that brings the held bytes to the
 * `coalesce` threshold is sent at once, together with them (writev). When
 * the socket is full the rest stays queued and a callback waiter on the fd
 * flushes it from the loop, without a task, waking a task in drain() once
 * the queue is at the low water mark. drain(), write_eof() and close()
 * send held bytes at once. Sends use MSG_NOSIGNAL, so a vanished peer is
 * -EPIPE, never SIGPIPE. Errors are sticky per direction.
 *
 * One reader task and one writer task may use a stream at once: the two
 * directions share only the fd (each waits on its own direction).
 */
#include "net_internal.h"
#include "../core/buf.h"

#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define DEF_LIMIT    (64 * 1024)
#define DEF_HIGH     (64 * 1024)
#define DEF_MAXBUF   (4 * 1024 * 1024)
#define DEF_COALESCE (16 * 1024)
#define READ_CHUNK   4096              /* smallest read into the read-ahead */
#define MAX_LIMIT    (1u << 30)        /* limits and caps above this: -EINVAL */
#define HE_DELAY_NS  (250 * 1000000LL) /* happy eyeballs: next attempt after */

enum {
    S_EOF   = 1,   /* read side saw end of stream */
    S_SHORT = 2,   /* last read was short: wait for readiness before reading */
    S_WSHUT = 4,   /* write_eof done */
    S_SOCK  = 8,   /* a socket: send(MSG_NOSIGNAL) */
    S_OWNED = 16,  /* a server's: abort closes the fd, the server frees s */
    S_GONE  = 32   /* aborted while owned: fd closed, buffers freed */
};

struct simul_stream {
    int            fd;
    unsigned       flags;
    int            rerr, werr;    /* sticky errors, 0 or -errno */
    size_t         limit, high, low, coalesce;
    simul__buf     rb;            /* read-ahead; cap: limit */
    simul__buf     wb;            /* unsent output; cap: max_buffered */
    simul__fdwait  wflush;        /* registered while the socket is full */
    simul__prepoll tick;          /* queued while small writes are held */
    simul__task   *drainer;       /* task in drain/write_eof/close */
    size_t         drain_to;      /* wake it when this few bytes remain */
};

/* ---- options and creation ---------------------------------------------- */

static int opts_resolve(const simul_stream_opts *o, simul_stream *s)
{
    simul_stream_opts d = { 0 };
    if (!o)
        o = &d;
    s->limit = o->limit ? o->limit : DEF_LIMIT;
    s->high = o->high_water ? o->high_water : DEF_HIGH;
    s->low = o->low_water ? o->low_water : s->high / 4;
    size_t wmax = o->max_buffered ? o->max_buffered : DEF_MAXBUF;
    if (wmax < s->high)
        wmax = s->high;
    s->coalesce = o->coalesce ? o->coalesce : DEF_COALESCE;
    if (s->limit > MAX_LIMIT || wmax > MAX_LIMIT || s->low > s->high ||
        s->coalesce > MAX_LIMIT)
        return -EINVAL;
    simul__buf_init(&s->rb, s->limit);
    simul__buf_init(&s->wb, wmax);
    return 0;
}

static void apply_sockopts(simul_stream *s, const simul_stream_opts *o)
{
    if (!(s->flags & S_SOCK))
        return;
    int nodelay = !o || o->nodelay >= 0;
    int keep = o && o->keepalive > 0;
    /* Best effort: Unix sockets have no TCP_NODELAY. */
    if (nodelay)
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
    if (keep)
        setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &keep, sizeof keep);
}

static void flush_cb(simul__fdwait *w, int res);
static void tick_cb(simul__prepoll *p);

int simul_stream_from_fd(int fd, const simul_stream_opts *opts, simul_stream **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!simul__loop())
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    simul_stream *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int r = opts_resolve(opts, s);
    if (r)
        goto fail;
    r = simul__set_nonblock(fd);
    if (r)
        goto fail;
    simul__fd_forget(simul__loop(), fd);   /* the stream's now */
    s->fd = fd;
    if (S_ISSOCK(st.st_mode))
        s->flags |= S_SOCK;
    s->wflush.cb = flush_cb;
    s->wflush.events = SIMUL_WRITABLE;
    s->tick.cb = tick_cb;
    apply_sockopts(s, opts);
    *out = s;
    return 0;
fail:
    free(s);
    return r;
}

int simul_stream_fd(const simul_stream *s)
{
    return s ? s->fd : -EINVAL;
}

/* ---- reading ------------------------------------------------------------ */

/* Reads up to n bytes into dst, waiting for readiness as needed. > 0, 0 at
 * EOF, or -errno (sticky read errors are recorded). */
static int fill(simul_stream *s, void *dst, size_t n)
{
    if (n > INT_MAX)
        n = INT_MAX;
    for (;;) {
        if (!(s->flags & S_SHORT)) {
            ssize_t r = read(s->fd, dst, n);
            if (r > 0) {
                if ((size_t)r < n)
                    s->flags |= S_SHORT;
                return (int)r;
            }
            if (r == 0) {
                s->flags |= S_EOF;
                return 0;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) {
                s->rerr = -errno;
                return s->rerr;
            }
        }
        s->flags &= ~S_SHORT;
        int w = simul__fd_wait(s->fd, SIMUL_READABLE, SIMUL__NO_DEADLINE, 0);
        if (w < 0)
            return w;
    }
}

int simul_stream_read(simul_stream *s, void *buf, size_t n)
{
    if (!s || (!buf && n))
        return -EINVAL;
    if (n == 0)
        return 0;
    if (n > INT_MAX)
        n = INT_MAX;
    if (simul__buf_len(&s->rb))
        return (int)simul__buf_take(&s->rb, buf, n);
    if (s->flags & S_EOF)
        return 0;
    if (s->rerr)
        return s->rerr;
    return fill(s, buf, n);
}

int simul_stream_readexactly(simul_stream *s, void *buf, size_t n)
{
    if (!s || (!buf && n) || n > INT_MAX)
        return -EINVAL;
    size_t got = simul__buf_take(&s->rb, buf, n);
    int r = 0;
    while (got < n) {
        if (s->flags & S_EOF) {
            r = -ENODATA;
            break;
        }
        if (s->rerr) {
            r = s->rerr;
            break;
        }
        r = fill(s, (char *)buf + got, n - got);
        if (r <= 0) {
            r = r == 0 ? -ENODATA : r;
            break;
        }
        got += (size_t)r;
        r = 0;
    }
    if (got == n)
        return (int)n;
    /* Incomplete: put what arrived back, so nothing is lost. The read-ahead
     * was emptied above, so it goes in front of nothing; more than `limit`
     * bytes (n > limit) cannot be kept: say so. */
    int a = simul__buf_append(&s->rb, buf, got);
    return a ? a : r;
}

/* Appends at least one byte read from the fd to the read-ahead. > 0 read,
 * 0 at EOF, or -errno; the caller made sure the read-ahead is not full. */
static int fill_ahead(simul_stream *s)
{
    size_t have = simul__buf_len(&s->rb);
    size_t want = s->rb.max - have < READ_CHUNK ? s->rb.max - have : READ_CHUNK;
    if (simul__buf_room(&s->rb) < want) {
        int r = simul__buf_reserve(&s->rb, want);
        if (r)
            return r;
    }
    int r = fill(s, simul__buf_tail(&s->rb), simul__buf_room(&s->rb));
    if (r > 0)
        simul__buf_commit(&s->rb, (size_t)r);
    return r;
}

/* Copies len buffered bytes to buf and NUL-terminates it when there is room. */
static int take_line(simul_stream *s, char *buf, size_t cap, size_t len)
{
    simul__buf_take(&s->rb, buf, len);
    if (len < cap)
        buf[len] = '\0';
    return (int)len;
}

int simul_stream_readuntil(simul_stream *s, const void *sep, size_t seplen,
                           void *buf, size_t cap)
{
    if (!s || !sep || !buf || seplen == 0 || seplen > s->limit)
        return -EINVAL;
    size_t lim = cap < s->limit ? cap : s->limit;
    size_t scanned = 0;   /* bytes already searched without a match */
    for (;;) {
        size_t have = simul__buf_len(&s->rb);
        if (have >= seplen) {
            size_t from = scanned > seplen - 1 ? scanned - (seplen - 1) : 0;
            const char *data = simul__buf_data(&s->rb);
            const char *p = memmem(data + from, have - from, sep, seplen);
            if (p) {
                size_t len = (size_t)(p - data) + seplen;
                if (len > lim)
                    return -ENOBUFS;
                return take_line(s, buf, cap, len);
            }
            scanned = have;
        }
        if (have >= lim)
            return -ENOBUFS;
        if (s->flags & S_EOF)
            return -ENODATA;
        if (s->rerr)
            return s->rerr;
        int r = fill_ahead(s);
        if (r < 0)
            return r;
    }
}

int simul_stream_readline(simul_stream *s, void *buf, size_t cap)
{
    int r = simul_stream_readuntil(s, "\n", 1, buf, cap);
    if (r != -ENODATA)
        return r;
    /* At EOF: the last partial line (it fits: it is below the limit). */
    size_t k = simul__buf_len(&s->rb);
    return take_line(s, buf, cap, k < cap ? k : cap);
}

int simul_stream_at_eof(const simul_stream *s)
{
    return s && (s->flags & S_EOF) && simul__buf_len(&s->rb) == 0;
}

/* ---- writing ------------------------------------------------------------ */

size_t simul_stream_buffered(const simul_stream *s)
{
    return s ? simul__buf_len(&s->wb) : 0;
}

/* One send of a then b (b may be empty); bytes sent, or -errno (-EAGAIN
 * when the socket is full). */
static ssize_t send_some(simul_stream *s, const void *a, size_t na,
                         const void *b, size_t nb)
{
    struct iovec iov[2] = { { (void *)a, na }, { (void *)b, nb } };
    int cnt = nb ? 2 : 1;
    if (na == 0) {
        iov[0] = iov[1];
        cnt = 1;
    }
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
    for (;;) {
        ssize_t r;
        if (s->flags & S_SOCK)
            r = cnt == 1 ? send(s->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                         : sendmsg(s->fd, &mh, MSG_NOSIGNAL);
        else
            r = cnt == 1 ? write(s->fd, iov[0].iov_base, iov[0].iov_len)
                         : writev(s->fd, iov, cnt);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static void wake_drainer(simul_stream *s)
{
    if (s->drainer && (simul__buf_len(&s->wb) <= s->drain_to || s->werr))
        simul__wake(s->drainer, 0);
}

/* Sends queued bytes until the socket is full; 0 or the error. */
static int flush_now(simul_stream *s)
{
    while (simul__buf_len(&s->wb)) {
        ssize_t r = send_some(s, simul__buf_data(&s->wb), simul__buf_len(&s->wb), NULL, 0);
        if (r == -EAGAIN)
            break;
        if (r < 0) {
            s->werr = (int)r;
            return s->werr;
        }
        simul__buf_consume(&s->wb, (size_t)r);
    }
    return 0;
}

/* Sends what is held now; what the socket does not take is flushed by the
 * loop when the fd is writable. No-op while that is already arranged. */
static void kick(simul_stream *s)
{
    simul__prepoll_del(&s->tick);
    if (s->werr || !simul__buf_len(&s->wb) || simul__fd_wait_linked(&s->wflush))
        return;
    if (flush_now(s) == 0 && simul__buf_len(&s->wb)) {
        int r = simul__fd_wait_add(simul__loop(), s->fd, &s->wflush);
        if (r < 0)
            s->werr = r;
    }
}

/* The end of the loop iteration: send what small writes left. */
static void tick_cb(simul__prepoll *p)
{
    simul_stream *s = simul__container_of(p, simul_stream, tick);
    kick(s);
    wake_drainer(s);
}

/* The loop's flusher: runs when the fd is writable (or closed). */
static void flush_cb(simul__fdwait *w, int res)
{
    simul_stream *s = simul__container_of(w, simul_stream, wflush);
    if (res < 0)
        s->werr = res;
    else
        kick(s);
    wake_drainer(s);
}

int simul_stream_write(simul_stream *s, const void *buf, size_t n)
{
    if (!s || (!buf && n))
        return -EINVAL;
    if (s->werr)
        return s->werr;
    if (s->flags & S_WSHUT)
        return -ESHUTDOWN;
    size_t q = simul__buf_len(&s->wb);
    if (n > s->wb.max - q)
        return -ENOBUFS;
    if (n == 0)
        return 0;
    const char *p = buf;
    int full = simul__fd_wait_linked(&s->wflush);   /* the loop flushes */
    if (!full && q + n >= s->coalesce) {
        /* Enough to send: the held bytes and these, in one call. */
        ssize_t r = send_some(s, simul__buf_data(&s->wb), q, p, n);
        if (r < 0 && r != -EAGAIN) {
            s->werr = (int)r;
            return s->werr;
        }
        size_t sent = r > 0 ? (size_t)r : 0;
        size_t from_q = sent < q ? sent : q;
        simul__buf_consume(&s->wb, from_q);
        p += sent - from_q;
        n -= sent - from_q;
        if (n == 0 && !simul__buf_len(&s->wb)) {
            simul__prepoll_del(&s->tick);
            return 0;
        }
        full = 1;   /* a short send: the socket is full */
    }
    /* Queue the rest (within the cap, checked above). */
    int r = simul__buf_append(&s->wb, p, n);
    if (r < 0)
        return r == -ENOBUFS || r == -EMSGSIZE ? -ENOBUFS : r;
    if (full) {
        simul__prepoll_del(&s->tick);
        if (!simul__fd_wait_linked(&s->wflush)) {
            r = simul__fd_wait_add(simul__loop(), s->fd, &s->wflush);
            if (r < 0) {
                s->werr = r;
                return r;
            }
        }
    } else {
        simul__prepoll_add(simul__loop(), &s->tick);
    }
    return 0;
}

/* Waits until at most `target` bytes are queued or an error. */
static int wait_flushed(simul_stream *s, size_t target, int64_t deadline)
{
    kick(s);
    if (simul__buf_len(&s->wb) <= target || s->werr)
        return s->werr && simul__buf_len(&s->wb) > target ? s->werr : 0;
    if (s->drainer)
        return -EBUSY;
    if (!simul__current())
        return -EPERM;
    s->drain_to = target;
    s->drainer = simul__current();
    int r = 0;
    while (simul__buf_len(&s->wb) > target && !s->werr) {
        r = simul__park_until(deadline, 0, "drain", __builtin_return_address(0));
        if (r < 0)
            break;
    }
    s->drainer = NULL;
    if (r < 0)
        return r;
    return simul__buf_len(&s->wb) > target ? s->werr : 0;
}

int simul_stream_drain(simul_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->werr)
        return s->werr;
    if (simul__buf_len(&s->wb) <= s->high) {
        kick(s);
        return s->werr ? s->werr : simul__current() ? 0 : -EPERM;
    }
    return wait_flushed(s, s->low, SIMUL__NO_DEADLINE);
}

int simul_stream_write_eof(simul_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->flags & S_WSHUT)
        return 0;
    if (!(s->flags & S_SOCK))
        return -ENOTSOCK;
    int r = wait_flushed(s, 0, SIMUL__NO_DEADLINE);
    if (r)
        return r;
    if (s->werr)
        return s->werr;
    if (shutdown(s->fd, SHUT_WR) < 0)
        return -errno;
    s->flags |= S_WSHUT;
    return 0;
}

/* Unregisters the stream from the loop, closes the fd, frees the buffers
 * (not s itself). */
static void shut(simul_stream *s)
{
    simul__prepoll_del(&s->tick);
    if (simul__loop())
        simul__fd_wait_del(simul__loop(), s->fd, &s->wflush);
    simul_close(s->fd);
    simul__buf_free(&s->rb);
    simul__buf_free(&s->wb);
}

int simul_stream_abort(simul_stream *s)
{
    if (!s || (s->flags & S_GONE))
        return 0;
    /* A TCP socket closed with unsent data and SO_LINGER 0 drops what the
     * kernel still holds too and tells the peer with a reset. */
    if (s->flags & S_SOCK) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    shut(s);
    if (s->flags & S_OWNED)
        s->flags |= S_GONE;   /* a handler's: the server frees it */
    else
        free(s);
    return 0;
}

void simul__stream_set_owned(simul_stream *s)
{
    s->flags |= S_OWNED;
}

int simul__stream_close_until(simul_stream *s, int64_t deadline)
{
    if (!s)
        return 0;
    if (s->flags & S_GONE) {
        free(s);
        return 0;
    }
    s->flags &= ~S_OWNED;
    int r = 0;
    if (simul__buf_len(&s->wb) && !s->werr)
        r = wait_flushed(s, 0, deadline);
    if (r == -ETIMEDOUT)
        return simul_stream_abort(s), r;
    if (r == 0 && simul__buf_len(&s->wb))
        r = s->werr ? s->werr : -EPIPE;
    shut(s);
    free(s);
    return r;
}

int simul_stream_close(simul_stream *s)
{
    return simul__stream_close_until(s, SIMUL__NO_DEADLINE);
}

int simul_stream_set_nodelay(simul_stream *s, int on)
{
    if (!s)
        return -EINVAL;
    on = !!on;
    return setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) ? -errno : 0;
}

int simul_stream_set_keepalive(simul_stream *s, int on)
{
    if (!s)
        return -EINVAL;
    on = !!on;
    return setsockopt(s->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) ? -errno : 0;
}

/* ---- connecting (happy eyeballs) --------------------------------------- */

struct attempt {
    int            fd;
    int            fired;
    simul__fdwait  w;
    simul__task   *task;
};

static void attempt_cb(simul__fdwait *w, int res)
{
    struct attempt *a = simul__container_of(w, struct attempt, w);
    (void)res;
    a->fired = 1;
    simul__wake(a->task, 1);
}

/* RFC 8305 order: alternate families, starting with the first one's. */
static void interleave(simul__addrs *ad)
{
    simul__addrs o = { .n = 0 };
    int used[SIMUL__MAX_ADDRS] = { 0 };
    int fam = ad->n ? ad->a[0].ss_family : 0;
    for (int k = 0; k < ad->n; k++) {
        int pick = -1;
        for (int i = 0; i < ad->n && pick < 0; i++)
            if (!used[i] && ad->a[i].ss_family == fam)
                pick = i;
        for (int i = 0; i < ad->n && pick < 0; i++)
            if (!used[i])
                pick = i;
        used[pick] = 1;
        o.a[o.n] = ad->a[pick];
        o.len[o.n++] = ad->len[pick];
        fam = ad->a[pick].ss_family == AF_INET6 ? AF_INET : AF_INET6;
    }
    *ad = o;
}

/* Tries the addresses; on success returns the connected fd (>= 0). */
static int connect_any(simul__addrs *ad, int64_t deadline)
{
    simul_loop *l = simul__loop();
    struct attempt at[SIMUL__MAX_ADDRS];
    int next = 0, inflight = 0, winner = -1;
    int err = -ECONNREFUSED;
    int64_t next_start = 0;
    for (int i = 0; i < ad->n; i++)
        at[i] = (struct attempt){ .fd = -1 };
    for (;;) {
        l->now = simul__clock_ns();
        if (winner >= 0)
            break;
        if (inflight == 0 && next == ad->n)
            break;
        if (l->now >= deadline) {
            err = -ETIMEDOUT;
            break;
        }
        if (next < ad->n && (inflight == 0 || l->now >= next_start)) {
            struct attempt *a = &at[next];
            const struct sockaddr *sa = (const struct sockaddr *)&ad->a[next];
            socklen_t len = ad->len[next];
            next++;
            next_start = l->now + HE_DELAY_NS;
            a->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (a->fd < 0) {
                err = -errno;
                continue;
            }
            simul__fd_forget(l, a->fd);
            int r;
            do
                r = connect(a->fd, sa, len);
            while (r < 0 && errno == EINTR);
            if (r == 0) {
                winner = (int)(a - at);
                continue;
            }
            if (errno != EINPROGRESS) {
                err = -errno;
                close(a->fd);
                a->fd = -1;
                continue;
            }
            a->fired = 0;
            a->task = simul__current();
            a->w = (simul__fdwait){ .cb = attempt_cb, .events = SIMUL_WRITABLE };
            r = simul__fd_wait_add(l, a->fd, &a->w);
            if (r < 0) {
                err = r;
                close(a->fd);
                a->fd = -1;
                continue;
            }
            inflight++;
            continue;
        }
        int64_t until = deadline;
        if (next < ad->n && next_start < until)
            until = next_start;
        int r = simul__park_until(until, 0, "connect", __builtin_return_address(0));
        if (r == -ECANCELED || r == -EPERM) {
            err = r;
            break;
        }
        for (int i = 0; i < next && winner < 0; i++) {
            struct attempt *a = &at[i];
            if (a->fd < 0 || !a->fired)
                continue;
            a->fired = 0;
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                soerr = errno;
            inflight--;
            if (soerr == 0) {
                winner = i;
                break;
            }
            err = -soerr;
            simul_close(a->fd);
            a->fd = -1;
        }
    }
    /* Close every attempt but the winner. */
    for (int i = 0; i < next; i++) {
        if (at[i].fd < 0 || i == winner)
            continue;
        simul__fd_wait_del(l, at[i].fd, &at[i].w);
        simul_close(at[i].fd);
    }
    if (winner >= 0) {
        simul__fd_wait_del(l, at[winner].fd, &at[winner].w);
        return at[winner].fd;
    }
    return err;
}

static int finish_connect(int fd, const simul_stream_opts *opts, simul_stream **out)
{
    int r = simul_stream_from_fd(fd, opts, out);
    if (r < 0)
        simul_close(fd);
    return r;
}

int simul_open_connection(const char *host, int port, double timeout,
                          const simul_stream_opts *opts, simul_stream **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!simul__current())
        return -EPERM;
    if (!host || port <= 0 || port > 65535 || isnan(timeout) || timeout < 0)
        return -EINVAL;
    int64_t deadline = simul__timeout_ns(simul__loop(), timeout);
    simul__addrs ad;
    int r = simul__net_resolve(host, port, SOCK_STREAM, 0, &ad);
    if (r < 0)
        return r;
    interleave(&ad);
    r = connect_any(&ad, deadline);
    if (r < 0)
        return r;
    return finish_connect(r, opts, out);
}

int simul_open_unix_connection(const char *path, double timeout,
                               const simul_stream_opts *opts, simul_stream **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!simul__current())
        return -EPERM;
    if (!path || isnan(timeout) || timeout < 0)
        return -EINVAL;
    simul__addrs ad = { .n = 1 };
    struct sockaddr_un *un = (struct sockaddr_un *)&ad.a[0];
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof un->sun_path)
        return -ENAMETOOLONG;
    strcpy(un->sun_path, path);
    ad.len[0] = (socklen_t)sizeof *un;
    int r = connect_any(&ad, simul__timeout_ns(simul__loop(), timeout));
    if (r < 0)
        return r;
    return finish_connect(r, opts, out);
}
