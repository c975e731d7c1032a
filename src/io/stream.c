/*
 * stream.c - buffered byte streams over sockets and pipes (asyncio's
 * StreamReader/StreamWriter) and opening TCP/Unix connections.
 *
 * Reading: read() and readexactly() go straight into the caller's buffer
 * when nothing is buffered; readuntil()/readline() use the stream's read
 * buffer (allocated once, at most `limit` bytes plus what a failed
 * readexactly put back). After a short read the socket is almost surely
 * drained, so the next read parks on readiness first instead of paying for
 * a read that would only say EAGAIN (as libuv does).
 *
 * Writing: write() sends at once when nothing is queued and queues the rest
 * (hard cap max_buffered); a callback waiter on the fd flushes the queue
 * from the loop, without a task, and wakes a task in drain() once the queue
 * is at the low water mark. Sends use MSG_NOSIGNAL, so a vanished peer is
 * -EPIPE, never SIGPIPE. Errors are sticky per direction.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEF_LIMIT    (64 * 1024)
#define DEF_HIGH     (64 * 1024)
#define DEF_MAXBUF   (4 * 1024 * 1024)
#define MAX_LIMIT    (1u << 30)        /* limits and caps above this: -EINVAL */
#define HE_DELAY_NS  (250 * 1000000LL) /* happy eyeballs: next attempt after */

enum {
    S_EOF   = 1,   /* read side saw end of stream */
    S_SHORT = 2,   /* last read was short: wait for readiness before reading */
    S_WSHUT = 4,   /* write_eof done */
    S_SOCK  = 8    /* a socket: send(MSG_NOSIGNAL) */
};

struct simul_stream {
    int          fd;
    unsigned     flags;
    int          rerr, werr;      /* sticky errors, 0 or -errno */
    size_t       limit, high, low, wmax;
    char        *rbuf;
    size_t       rcap, rpos, rend;
    char        *wbuf;
    size_t       wcap, wpos, wend;
    simul__fdwait wflush;         /* registered while output is queued */
    simul__task *drainer;         /* task in drain/write_eof/close */
    size_t       drain_to;        /* wake it when this few bytes remain */
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
    s->wmax = o->max_buffered ? o->max_buffered : DEF_MAXBUF;
    if (s->wmax < s->high)
        s->wmax = s->high;
    if (s->limit > MAX_LIMIT || s->wmax > MAX_LIMIT || s->low > s->high)
        return -EINVAL;
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
    s->fd = fd;
    if (S_ISSOCK(st.st_mode))
        s->flags |= S_SOCK;
    s->wflush.cb = flush_cb;
    s->wflush.events = SIMUL_WRITABLE;
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
        int w = simul__fd_wait(s->fd, SIMUL_READABLE, SIMUL__NO_DEADLINE);
        if (w < 0)
            return w;
    }
}

static size_t rbuffered(const simul_stream *s) { return s->rend - s->rpos; }

/* Makes room for `need` bytes in the read buffer (moving data to the
 * front); grows it to `need` + buffered at most. 0 or -ENOMEM. */
static int rreserve(simul_stream *s, size_t need)
{
    size_t have = rbuffered(s);
    if (s->rpos && s->rcap - s->rend < need) {
        memmove(s->rbuf, s->rbuf + s->rpos, have);
        s->rpos = 0;
        s->rend = have;
    }
    if (s->rcap - s->rend >= need)
        return 0;
    size_t cap = have + need;
    char *b = realloc(s->rbuf, cap);
    if (!b)
        return -ENOMEM;
    s->rbuf = b;
    s->rcap = cap;
    return 0;
}

/* Takes up to n buffered bytes. */
static size_t rtake(simul_stream *s, void *dst, size_t n)
{
    size_t k = rbuffered(s);
    if (k > n)
        k = n;
    if (k == 0)
        return 0;
    memcpy(dst, s->rbuf + s->rpos, k);
    s->rpos += k;
    if (s->rpos == s->rend)
        s->rpos = s->rend = 0;
    return k;
}

int simul_stream_read(simul_stream *s, void *buf, size_t n)
{
    if (!s || (!buf && n))
        return -EINVAL;
    if (n == 0)
        return 0;
    if (n > INT_MAX)
        n = INT_MAX;
    if (rbuffered(s))
        return (int)rtake(s, buf, n);
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
    size_t got = rtake(s, buf, n);
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
    /* Incomplete: put what arrived back, so nothing is lost. The buffer
     * was emptied above, so it goes in front of nothing. */
    if (got) {
        if (rreserve(s, got) < 0)
            return -ENOMEM;   /* cannot keep them: say so */
        memcpy(s->rbuf + s->rend, buf, got);
        s->rend += got;
    }
    return r;
}

int simul_stream_readuntil(simul_stream *s, const void *sep, size_t seplen,
                           void *buf, size_t cap)
{
    if (!s || !sep || !buf || seplen == 0 || seplen > s->limit)
        return -EINVAL;
    size_t lim = cap < s->limit ? cap : s->limit;
    size_t scanned = 0;   /* bytes already searched without a match */
    for (;;) {
        size_t have = rbuffered(s);
        if (have >= seplen) {
            size_t from = scanned > seplen - 1 ? scanned - (seplen - 1) : 0;
            const char *p = memmem(s->rbuf + s->rpos + from, have - from, sep, seplen);
            if (p) {
                size_t len = (size_t)(p - (s->rbuf + s->rpos)) + seplen;
                if (len > lim)
                    return -ENOBUFS;
                return (int)rtake(s, buf, len);
            }
            scanned = have;
        }
        if (have >= lim)
            return -ENOBUFS;
        if (s->flags & S_EOF)
            return -ENODATA;
        if (s->rerr)
            return s->rerr;
        /* Room for a full limit's worth; allocated once per stream. */
        int r = rreserve(s, s->limit - have > 4096 ? s->limit - have : 4096);
        if (r)
            return r;
        r = fill(s, s->rbuf + s->rend, s->rcap - s->rend);
        if (r < 0)
            return r;
        s->rend += (size_t)r;
    }
}

int simul_stream_readline(simul_stream *s, void *buf, size_t cap)
{
    int r = simul_stream_readuntil(s, "\n", 1, buf, cap);
    if (r != -ENODATA)
        return r;
    /* At EOF: the last partial line (it fits: it is below the limit). */
    return (int)rtake(s, buf, cap);
}

int simul_stream_at_eof(const simul_stream *s)
{
    return s && (s->flags & S_EOF) && rbuffered(s) == 0;
}

/* ---- writing ------------------------------------------------------------ */

static size_t wqueued(const simul_stream *s) { return s->wend - s->wpos; }

size_t simul_stream_buffered(const simul_stream *s)
{
    return s ? wqueued(s) : 0;
}

/* One send; bytes sent, or -errno (-EAGAIN when the socket is full). */
static ssize_t send_some(simul_stream *s, const void *p, size_t n)
{
    for (;;) {
        ssize_t r = (s->flags & S_SOCK) ? send(s->fd, p, n, MSG_NOSIGNAL)
                                        : write(s->fd, p, n);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

static void wake_drainer(simul_stream *s)
{
    if (s->drainer && (wqueued(s) <= s->drain_to || s->werr))
        simul__wake(s->drainer, 0);
}

/* Sends queued bytes until the socket is full; 0 or the error. */
static int flush_now(simul_stream *s)
{
    while (wqueued(s)) {
        ssize_t r = send_some(s, s->wbuf + s->wpos, wqueued(s));
        if (r == -EAGAIN)
            break;
        if (r < 0) {
            s->werr = (int)r;
            return s->werr;
        }
        s->wpos += (size_t)r;
    }
    if (s->wpos == s->wend)
        s->wpos = s->wend = 0;
    return 0;
}

/* The loop's flusher: runs when the fd is writable (or closed). */
static void flush_cb(simul__fdwait *w, int res)
{
    simul_stream *s = simul__container_of(w, simul_stream, wflush);
    if (res < 0)
        s->werr = res;
    else if (flush_now(s) == 0 && wqueued(s)) {
        int r = simul__fd_wait_add(simul__loop(), s->fd, &s->wflush);
        if (r < 0)
            s->werr = r;
    }
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
    size_t q = wqueued(s);
    if (n > s->wmax - q)
        return -ENOBUFS;
    if (n == 0)
        return 0;
    const char *p = buf;
    if (q == 0) {
        ssize_t r = send_some(s, p, n);
        if (r < 0 && r != -EAGAIN) {
            s->werr = (int)r;
            return s->werr;
        }
        if (r > 0) {
            p += r;
            n -= (size_t)r;
        }
        if (n == 0)
            return 0;
    }
    /* Queue the rest: compact, then grow (doubling, capped at wmax). */
    if (s->wpos && s->wcap - s->wend < n) {
        memmove(s->wbuf, s->wbuf + s->wpos, q);
        s->wpos = 0;
        s->wend = q;
    }
    if (s->wcap - s->wend < n) {
        size_t cap = s->wcap ? s->wcap : 16384;
        while (cap < s->wend + n)
            cap *= 2;
        if (cap > s->wmax)
            cap = s->wmax;
        char *b = realloc(s->wbuf, cap);
        if (!b)
            return -ENOMEM;
        s->wbuf = b;
        s->wcap = cap;
    }
    memcpy(s->wbuf + s->wend, p, n);
    s->wend += n;
    if (!simul__fd_wait_linked(&s->wflush)) {
        int r = simul__fd_wait_add(simul__loop(), s->fd, &s->wflush);
        if (r < 0) {
            s->werr = r;
            return r;
        }
    }
    return 0;
}

/* Waits until at most `target` bytes are queued or an error. */
static int wait_flushed(simul_stream *s, size_t target)
{
    if (s->drainer)
        return -EBUSY;
    if (!simul__current())
        return -EPERM;
    s->drain_to = target;
    s->drainer = simul__current();
    int r = 0;
    while (wqueued(s) > target && !s->werr) {
        r = simul__park("drain", __builtin_return_address(0));
        if (r < 0)
            break;
    }
    s->drainer = NULL;
    if (r < 0)
        return r;
    return wqueued(s) > target ? s->werr : 0;
}

int simul_stream_drain(simul_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->werr)
        return s->werr;
    if (wqueued(s) <= s->high)
        return simul__current() ? 0 : -EPERM;
    return wait_flushed(s, s->low);
}

int simul_stream_write_eof(simul_stream *s)
{
    if (!s)
        return -EINVAL;
    if (s->flags & S_WSHUT)
        return 0;
    if (!(s->flags & S_SOCK))
        return -ENOTSOCK;
    int r = wait_flushed(s, 0);
    if (r)
        return r;
    if (s->werr)
        return s->werr;
    if (shutdown(s->fd, SHUT_WR) < 0)
        return -errno;
    s->flags |= S_WSHUT;
    return 0;
}

int simul_stream_close(simul_stream *s)
{
    if (!s)
        return 0;
    int r = 0;
    if (wqueued(s) && !s->werr)
        r = wait_flushed(s, 0);
    if (r == 0 && wqueued(s))
        r = s->werr ? s->werr : -EPIPE;
    if (simul__loop())
        simul__fd_wait_del(simul__loop(), s->fd, &s->wflush);
    simul_close(s->fd);
    free(s->rbuf);
    free(s->wbuf);
    free(s);
    return r;
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
        int r = simul__park_until(until, 0, "connect");
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

static int64_t deadline_of(double timeout)
{
    simul_loop *l = simul__loop();
    l->now = simul__clock_ns();
    if (isinf(timeout))
        return SIMUL__NO_DEADLINE;
    int64_t d = simul__seconds_to_ns(timeout);
    return d >= SIMUL__NO_DEADLINE - l->now ? SIMUL__NO_DEADLINE : l->now + d;
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
    int64_t deadline = deadline_of(timeout);
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
    int r = connect_any(&ad, deadline_of(timeout));
    if (r < 0)
        return r;
    return finish_connect(r, opts, out);
}
