/*
 * conn.c - a Redis connection: URL parsing, connect + AUTH + SELECT, the
 * reader task, reconnect with backoff, and the one send path every command
 * goes through.
 *
 * Writing. A caller encodes its command(s) into the stream's output
 * buffer and appends its request to the FIFO without suspending in
 * between, so the FIFO's order is the wire's order. The stream holds small
 * writes until the loop polls, so the commands of every task that ran in
 * one loop turn leave in one send (implicit pipelining). When more than
 * HIGH_WATER bytes are unsent the caller drains first, under a lock (a
 * stream allows one drain at a time), and everybody after it queues on
 * the lock too, so nobody overtakes.
 *
 * Reading. One reader task per connection reads whatever arrived (up to
 * READ_CHUNK at a time), feeds hiredis's parser and hands each reply to
 * the request at the FIFO's head, waking its task when its last reply is
 * in. A request whose caller gave up (timeout, cancel) has task NULL: its
 * replies are read and freed all the same, which is what keeps the
 * connection in step.
 *
 * Dropping. A read error, end of stream or a protocol error fails every
 * queued request (ELOST; EPROTO for the bad one's), aborts the stream and
 * - reconnect on - makes the reader reconnect with exponential backoff;
 * callers that come meanwhile wait on the `up` event up to their timeout.
 */
#include "redis_internal.h"

#include "../core/buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

#define READ_CHUNK  (64 * 1024)
/* hiredis 0.14 moves its unparsed bytes to the front each time 1 KiB was
 * parsed: fed 64 KiB at once it would move about 32 bytes per byte; fed
 * in slices of 4 KiB, about 2 */
#define FEED_SLICE  4096
#define HIGH_WATER  (1024 * 1024)
#define MAX_ARGC    (1 << 20)

static __thread char last_connect_error[160];

static void set_err(simul_redis *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(simul_redis *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

/* ---- encoding ------------------------------------------------------------ */

static size_t digits(size_t v)
{
    size_t d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

static char *put_len(char *o, char tag, size_t v)
{
    char tmp[24];
    int n = 0;
    *o++ = tag;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = tmp[--n];
    *o++ = '\r';
    *o++ = '\n';
    return o;
}

size_t simul__redis_argv_size(int argc, const char *const *argv, const size_t *lens)
{
    size_t n = 3 + digits((size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t l = lens ? lens[i] : strlen(argv[i]);
        n += 5 + digits(l) + l;
    }
    return n;
}

/* Appends the RESP array of bulk strings for argv to b (size: the value of
 * simul__redis_argv_size). 0 or the buffer's error. */
int simul__redis_encode(simul__buf *b, size_t size, int argc, const char *const *argv,
                        const size_t *lens)
{
    int r = simul__buf_reserve(b, size);
    if (r < 0)
        return r;
    char *o = put_len(simul__buf_tail(b), '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t l = lens ? lens[i] : strlen(argv[i]);
        o = put_len(o, '$', l);
        memcpy(o, argv[i], l);
        o += l;
        *o++ = '\r';
        *o++ = '\n';
    }
    SIMUL__ASSERT((size_t)(o - simul__buf_tail(b)) == size);
    simul__buf_commit(b, size);
    return 0;
}

/* ---- requests ------------------------------------------------------------ */

static void req_free(rreq *q)
{
    simul_redis_reply_free(q->reply);
    free(q);
}

/* q is done (off the FIFO): hand it to its caller, or free it if the
 * caller is gone. */
static void req_finish(rreq *q, int rc)
{
    q->rc = rc;
    if (!q->task) {
        if (q->keep)
            q->task = (simul__task *)1;   /* done: its pipe collects it */
        else
            req_free(q);
        return;
    }
    q->task = (simul__task *)((uintptr_t)q->task | 1);   /* done: see wait_reply */
    simul__wake((simul__task *)((uintptr_t)q->task & ~(uintptr_t)1), 1);
}

static inline int req_done(const rreq *q)
{
    return ((uintptr_t)q->task & 1) != 0;
}

/*
 * Command timeouts. Every request of c has the same command_timeout and
 * is queued in the order it was made, so the FIFO's deadlines grow from
 * head to tail: one timer per connection, armed for the earliest live
 * request, does what a timer per parked caller would, without a heap
 * insert and removal per command. When it fires it wakes every caller
 * whose deadline passed (they abandon their requests) and re-arms for the
 * next live one; a request answered early leaves it armed too early,
 * which costs one spurious firing. A bound pipe's batch nobody waits for
 * yet counts as live, so the timer is armed for it when its pipe's exec
 * starts waiting (simul__redis_collect).
 */
static void on_timeout(simul__tnode *n)
{
    simul_redis *c = (simul_redis *)((char *)n - offsetof(simul_redis, tmo));
    int64_t now = c->loop->now;
    for (rreq *q = c->head; q; q = q->next) {
        if ((!q->task && !q->keep) || req_done(q))
            continue;
        if (q->deadline > now) {
            if (q->deadline != SIMUL__NO_DEADLINE)
                simul__timer_arm(c->loop, &c->tmo, q->deadline, on_timeout);
            return;
        }
        if (q->task)
            simul__wake(q->task, SIMUL_REDIS_ETIMEOUT);
    }
}

/* Fails every queued request with rc (the first with first_rc). */
static void fail_all(simul_redis *c, int first_rc, int rc)
{
    rreq *q = c->head;
    c->head = c->tail = NULL;
    c->npending = 0;
    while (q) {
        rreq *n = q->next;
        req_finish(q, first_rc);
        first_rc = rc;
        q = n;
    }
}

/* ---- connecting ---------------------------------------------------------- */

static int read_reply(simul_redis *c, simul_redis_reply **out);

/* Reads one reply during the handshake and checks it: 0, or its error
 * code (AUTH's refusal is EWRONGPASS whatever the server's words). */
static int expect_ok(simul_redis *c, int is_auth)
{
    simul_redis_reply *r = NULL;
    int rc = read_reply(c, &r);
    if (rc < 0)
        return rc;
    if (r->type == SIMUL_REDIS_ERROR) {
        rc = simul__redis_error_code(r->str, r->len);
        if (is_auth && rc == SIMUL_REDIS_EERR)
            rc = SIMUL_REDIS_EWRONGPASS;
        set_err(c, "%s", r->str);
    }
    simul_redis_reply_free(r);
    return rc;
}

static void drop_stream(simul_redis *c);

/*
 * One attempt: connect, then AUTH, SELECT, CLIENT SETNAME and the
 * subscriptions sent at once and their replies checked, all within
 * connect_timeout. On success c->s and a fresh parser are set; on failure
 * nothing is left open.
 */
static int connect_once(simul_redis *c)
{
    double deadline = simul_now() + c->o.connect_timeout;
    simul_stream_opts so = { .max_buffered = c->o.max_buffered + HIGH_WATER,
                             .high_water = HIGH_WATER };
    simul_stream *s = NULL;
    simul_scope sc;
    simul_scope_enter(&sc, deadline);
    int r = c->path ? simul_open_unix_connection(c->path, INFINITY, &so, &s)
                    : simul_open_connection(c->host, c->port, INFINITY, &so, &s);
    if (r < 0) {
        int sr = simul_scope_exit(&sc);
        if (sr == -ETIMEDOUT) {
            set_err(c, "connect: timed out after %g s", c->o.connect_timeout);
            return SIMUL_REDIS_ETIMEOUT;
        }
        if (r == -ECANCELED || r == -ENOMEM || r == -EPERM)
            return r;
        set_err(c, "connect %s%s%d: %s", c->path ? c->path : c->host, c->path ? "" : ":",
                c->path ? 0 : c->port, simul_strerror(r));
        if (c->path)   /* "unix:/path0" would mislead: drop the port */
            set_err(c, "connect %s: %s", c->path, simul_strerror(r));
        return SIMUL_REDIS_ECONNECT;
    }
    c->s = s;
    if (c->rd)
        redisReaderFree(c->rd);
    c->rd = redisReaderCreateWithFunctions(&simul__redis_reply_fns);
    if (!c->rd) {
        simul_scope_exit(&sc);
        drop_stream(c);
        return -ENOMEM;
    }
    c->rd->privdata = c;
    c->rd_bytes = 0;
    c->rpos = c->rlen = 0;
    /* the handshake, one batch */
    simul__buf b;
    simul__buf_init(&b, c->o.max_buffered);
    int nexp = 0, auth = 0;
    if (c->password) {
        const char *av[3] = { "AUTH", c->user, c->password };
        const char *const *a = c->user ? av : (const char *const[]){ "AUTH", c->password };
        int n = c->user ? 3 : 2;
        r = simul__redis_encode(&b, simul__redis_argv_size(n, a, NULL), n, a, NULL);
        nexp++;
        auth = 1;
    }
    char dbs[16];
    if (r == 0 && c->db > 0) {
        snprintf(dbs, sizeof dbs, "%d", c->db);
        const char *a[2] = { "SELECT", dbs };
        r = simul__redis_encode(&b, simul__redis_argv_size(2, a, NULL), 2, a, NULL);
        nexp++;
    }
    if (r == 0 && c->client_name) {
        const char *a[4] = { "CLIENT", "SETNAME", c->client_name };
        r = simul__redis_encode(&b, simul__redis_argv_size(3, a, NULL), 3, a, NULL);
        nexp++;
    }
    int nsubs = 0;
    for (struct sub *u = c->subs; r == 0 && u; u = u->next) {
        const char *a[2] = { u->pattern ? "PSUBSCRIBE" : "SUBSCRIBE", u->name };
        size_t l[2] = { strlen(a[0]), u->len };
        r = simul__redis_encode(&b, simul__redis_argv_size(2, a, l), 2, a, l);
        nsubs++;
    }
    if (r == 0 && simul__buf_len(&b))
        r = simul_stream_write(c->s, simul__buf_data(&b), simul__buf_len(&b));
    simul__buf_free(&b);
    for (int i = 0; r == 0 && i < nexp; i++)
        r = expect_ok(c, auth && i == 0);
    for (int i = 0; r == 0 && i < nsubs; i++) {
        simul_redis_reply *rep = NULL;
        r = read_reply(c, &rep);
        if (r == 0 && rep->type == SIMUL_REDIS_ERROR) {
            set_err(c, "%s", rep->str);
            r = simul__redis_error_code(rep->str, rep->len);
        }
        simul_redis_reply_free(rep);
    }
    int sr = simul_scope_exit(&sc);
    if (r == -ECANCELED && sr == -ETIMEDOUT) {
        set_err(c, "AUTH/SELECT: no answer within %g s", c->o.connect_timeout);
        r = SIMUL_REDIS_ETIMEOUT;
    }
    if (r < 0)
        drop_stream(c);
    return r;
}

/* ---- reading ------------------------------------------------------------- */

/* The next whole reply, reading the socket as needed: 0 and *out, or
 * SIMUL_REDIS_ELOST (end of stream, a read error: c->err says which),
 * SIMUL_REDIS_EPROTO (not RESP, or a reply over max_reply), -ECANCELED. */
static int read_reply(simul_redis *c, simul_redis_reply **out)
{
    for (;;) {
        void *rep = NULL;
        if (redisReaderGetReply(c->rd, &rep) != REDIS_OK) {
            set_err(c, "protocol error: %s", c->rd->errstr);
            return SIMUL_REDIS_EPROTO;
        }
        if (rep) {
            /* what is left in the parser's buffer belongs to later replies */
            c->rd_bytes = c->rd->len - c->rd->pos;
            *out = rep;
            return 0;
        }
        if (c->rpos == c->rlen) {
            int n = simul_stream_read(c->s, c->rbuf, READ_CHUNK);
            if (n == -ECANCELED)
                return n;
            if (n <= 0) {
                if (n == 0)
                    set_err(c, "connection closed by the server");
                else
                    set_err(c, "read: %s", simul_strerror(n));
                return SIMUL_REDIS_ELOST;
            }
            c->rpos = 0;
            c->rlen = (size_t)n;
        }
        size_t k = c->rlen - c->rpos < FEED_SLICE ? c->rlen - c->rpos : FEED_SLICE;
        c->rd_bytes += k;
        if (c->rd_bytes > c->o.max_reply) {
            set_err(c, "protocol error: a reply over max_reply (%zu bytes)", c->o.max_reply);
            return SIMUL_REDIS_EPROTO;
        }
        if (redisReaderFeed(c->rd, c->rbuf + c->rpos, k) != REDIS_OK)
            return -ENOMEM;
        c->rpos += k;
    }
}

/* Closes the stream now (unsent bytes dropped). A writer may be inside
 * simul_stream_drain on it: then the socket is only shut down, which
 * fails that drain, and the last writer out aborts it (send_slow). */
static void drop_stream(simul_redis *c)
{
    if (!c->s)
        return;
    if (c->draining) {
        shutdown(simul_stream_fd(c->s), SHUT_RDWR);
        c->dead = c->s;
    } else {
        simul_stream_abort(c->s);
    }
    c->s = NULL;
}

/* The connection dropped (rc: why): fail what was sent, close the socket,
 * and leave the state to the reader's reconnect. */
static void drop(simul_redis *c, int rc)
{
    drop_stream(c);
    simul_event_clear(c->up);
    c->state = c->o.reconnect < 0 ? SIMUL_REDIS_DOWN : SIMUL_REDIS_CONNECTING;
    fail_all(c, rc, SIMUL_REDIS_ELOST);
    if (c->state == SIMUL_REDIS_DOWN)
        simul_event_set(c->up);   /* waiters wake and see DOWN */
}

static int is_word(const simul_redis_reply *r, const char *w)
{
    size_t n = strlen(w);
    if (!r || (r->type != SIMUL_REDIS_STRING && r->type != SIMUL_REDIS_STATUS) || r->len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((r->str[i] | 0x20) != w[i])
            return 0;
    return 1;
}

/* A published message for the queue (pub/sub connections), or 0 if rep
 * is not one; -ECANCELED if the reader was cancelled while the queue was
 * full (rep is freed). */
static int deliver_message(simul_redis *c, simul_redis_reply *rep)
{
    if (rep->type != SIMUL_REDIS_ARRAY || rep->len < 3)
        return 0;
    int pat = rep->len == 4 && is_word(rep->element[0], "pmessage");
    if (!pat && !(rep->len == 3 && is_word(rep->element[0], "message")))
        return 0;
    simul_redis_msg *m = calloc(1, sizeof *m + sizeof rep);
    if (!m) {
        simul_redis_reply_free(rep);
        return 1;   /* dropped: at-most-once delivery, like the server's */
    }
    memcpy(m + 1, &rep, sizeof rep);   /* the reply owns the bytes */
    const simul_redis_reply *ch = rep->element[pat ? 2 : 1], *d = rep->element[pat ? 3 : 2];
    m->channel = ch->str ? ch->str : "";
    m->channel_len = ch->len;
    if (pat) {
        m->pattern = rep->element[1]->str;
        m->pattern_len = rep->element[1]->len;
    }
    m->data = d->str ? d->str : "";
    m->len = d->str ? d->len : 0;
    int r = simul_queue_put(c->psq, m);
    if (r < 0) {
        simul_redis_msg_free(m);
        return r == -ECANCELED ? r : 1;
    }
    return 1;
}

void simul_redis_msg_free(simul_redis_msg *m)
{
    if (!m)
        return;
    simul_redis_reply *rep;
    memcpy(&rep, m + 1, sizeof rep);
    simul_redis_reply_free(rep);
    free(m);
}

/* Hands rep to the head request. 0, or EPROTO for a reply nobody asked for. */
static int dispatch(simul_redis *c, simul_redis_reply *rep)
{
    rreq *q = c->head;
    if (!q) {
        set_err(c, "protocol error: a reply nobody asked for");
        simul_redis_reply_free(rep);
        return SIMUL_REDIS_EPROTO;
    }
    if (q->want == 1)
        q->reply = rep;
    else
        q->reply->element[q->got] = rep;
    if (++q->got < q->want)
        return 0;
    c->head = q->next;
    if (!c->head)
        c->tail = NULL;
    c->npending--;
    req_finish(q, 0);
    return 0;
}

static double backoff(simul_redis *c, double prev)
{
    double d = prev <= 0 ? c->o.backoff_min : prev * 2;
    if (d > c->o.backoff_max)
        d = c->o.backoff_max;
    return d;
}

static int reader_main(void *arg)
{
    simul_redis *c = arg;
    double delay = 0;
    for (;;) {
        if (c->closing)
            return 0;
        if (c->state == SIMUL_REDIS_DOWN)
            return 0;
        if (c->state == SIMUL_REDIS_CONNECTING) {
            delay = backoff(c, delay);
            /* jitter: 50..100% of the delay, so many clients spread out */
            c->seed = c->seed * 6364136223846793005ULL + 1442695040888963407ULL;
            double d = delay * (0.5 + 0.5 * (double)(c->seed >> 11) / (double)(1ULL << 53));
            if (simul_sleep(d) < 0)
                return 0;
            int r = connect_once(c);
            if (r == -ECANCELED)
                return 0;
            if (r < 0)
                continue;
            delay = 0;
            c->reconnects++;
            c->state = SIMUL_REDIS_UP;
            simul_event_set(c->up);
            continue;
        }
        simul_redis_reply *rep = NULL;
        int r = read_reply(c, &rep);
        if (r == -ECANCELED)
            return 0;
        if (r == 0 && c->psq) {
            r = deliver_message(c, rep);
            if (r == -ECANCELED)
                return 0;
            if (r > 0)
                continue;
        }
        if (r == 0)
            r = dispatch(c, rep);
        if (r < 0)
            drop(c, r);
    }
}

/* ---- connect and close ----------------------------------------------------- */

static char *dup_opt(const char *s, char **field)
{
    if (!s)
        return *field;
    free(*field);
    *field = strdup(s);
    return *field;
}

static void free_conn(simul_redis *c)
{
    if (c->rd)
        redisReaderFree(c->rd);
    simul_event_free(c->up);
    simul_lock_free(c->wlock);
    simul__buf_free(&c->scratch);
    while (c->subs) {
        struct sub *u = c->subs;
        c->subs = u->next;
        free(u);
    }
    free(c->rbuf);
    free(c->host);
    free(c->path);
    free(c->user);
    free(c->password);
    free(c->client_name);
    free(c);
}

static int open_conn(const char *url, const simul_redis_opts *opts, simul_queue *q,
                     simul_redis **out)
{
    if (!url || !out)
        return -EINVAL;
    *out = NULL;
    simul__redis_errors_register();
    simul_redis_opts o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if (o.connect_timeout == 0)
        o.connect_timeout = 5;
    if (o.command_timeout == 0)
        o.command_timeout = 30;
    if (o.backoff_min == 0)
        o.backoff_min = 0.05;
    if (o.backoff_max == 0)
        o.backoff_max = 2;
    if (o.max_reply == 0)
        o.max_reply = (size_t)512 << 20;
    if (o.max_buffered == 0)
        o.max_buffered = (size_t)64 << 20;
    if (isnan(o.connect_timeout) || o.connect_timeout < 0 || isnan(o.command_timeout) ||
        o.command_timeout < 0 || !(o.backoff_min > 0) || !(o.backoff_max >= o.backoff_min) ||
        o.max_buffered > ((size_t)1 << 30) - HIGH_WATER || o.db < 0)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    simul_redis *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int r = simul__redis_parse_url(c, url);
    if (r == 0) {
        c->o = o;
        if ((o.user && !dup_opt(o.user, &c->user)) ||
            (o.password && !dup_opt(o.password, &c->password)) ||
            (o.client_name && !dup_opt(o.client_name, &c->client_name)))
            r = -ENOMEM;
        if (o.db > 0)
            c->db = o.db;
        c->o.user = c->o.password = c->o.client_name = NULL;   /* the fields own them */
        c->psq = q;
        c->loop = simul__loop();
        c->seed = (uint64_t)(uintptr_t)c ^ (uint64_t)simul__clock_ns();
        simul__buf_init(&c->scratch, o.max_buffered);
        c->rbuf = malloc(READ_CHUNK);
        c->up = simul_event_new();
        c->wlock = simul_lock_new();
        if (r == 0 && (!c->rbuf || !c->up || !c->wlock))
            r = -ENOMEM;
    }
    if (r == 0)
        r = connect_once(c);
    if (r == 0) {
        simul_task_opts to = { .name = "redis-reader" };
        c->reader = simul_spawn_opts(reader_main, c, &to);
        if (!c->reader)
            r = -ENOMEM;
    }
    if (r < 0) {
        snprintf(last_connect_error, sizeof last_connect_error, "%s", c->err);
        drop_stream(c);
        free_conn(c);
        return r;
    }
    c->state = SIMUL_REDIS_UP;
    simul_event_set(c->up);
    *out = c;
    return 0;
}

int simul_redis_connect(const char *url, const simul_redis_opts *opts, simul_redis **out)
{
    return open_conn(url, opts, NULL, out);
}

int simul_redis_pubsub_open(const char *url, const simul_redis_opts *opts, simul_queue *q,
                            simul_redis **out)
{
    if (!q)
        return -EINVAL;
    return open_conn(url, opts, q, out);
}

int simul_redis_close(simul_redis *c)
{
    if (!c)
        return 0;
    simul__task *t = simul__current();
    if (!t)
        return -EPERM;
    c->closing = 1;
    simul_scope sc;
    simul_scope_enter_shielded(&sc, INFINITY);
    if (c->reader) {
        simul_cancel(c->reader);
        simul_join(c->reader);
        c->reader = NULL;
    }
    fail_all(c, SIMUL_REDIS_ECLOSED, SIMUL_REDIS_ECLOSED);
    drop_stream(c);
    /* writers inside the drain path leave once their drain fails (the
     * socket is shut down) or their lock wait ends; the last wakes us */
    while (c->draining) {
        c->closer = t;
        simul__park_nocancel("redis close", __builtin_return_address(0));
    }
    c->closer = NULL;
    simul_scope_exit(&sc);
    if (simul__timer_armed(&c->tmo))
        simul__timer_disarm(c->loop, &c->tmo);
    /* tasks waiting for a reconnect wake with -EIDRM and return ECLOSED
     * without touching c */
    free_conn(c);
    return 0;
}

int simul_redis_state(const simul_redis *c)
{
    return c ? c->state : -EINVAL;
}

long simul_redis_reconnects(const simul_redis *c)
{
    return c ? c->reconnects : -EINVAL;
}

int simul_redis_last_error(const simul_redis *c, char *buf, size_t cap)
{
    const char *e = c ? c->err : last_connect_error;
    if (!*e)
        return -ENOENT;
    if (buf && cap)
        snprintf(buf, cap, "%s", e);
    return 0;
}

/* ---- sending --------------------------------------------------------------- */

/* What one call sends: bytes already encoded, or argv to encode into the
 * connection's scratch buffer at the moment of writing. */
typedef struct payload {
    const char        *bytes;   /* NULL: encode argv */
    size_t             n;       /* bytes to send */
    int                argc;
    const char *const *argv;
    const size_t      *lens;
} payload;

/* Writes pl and queues q behind the others. Must not suspend. */
static int write_and_queue(simul_redis *c, const payload *pl, rreq *q)
{
    int r;
    if (pl->bytes) {
        r = simul_stream_write(c->s, pl->bytes, pl->n);
    } else {
        simul__buf_consume(&c->scratch, simul__buf_len(&c->scratch));
        r = simul__redis_encode(&c->scratch, pl->n, pl->argc, pl->argv, pl->lens);
        if (r == 0)
            r = simul_stream_write(c->s, simul__buf_data(&c->scratch), pl->n);
    }
    if (r < 0)
        return r == -ENOBUFS || r == -ENOMEM ? r : SIMUL_REDIS_ELOST;
    q->next = NULL;
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    c->npending++;
    if (q->deadline != SIMUL__NO_DEADLINE && !simul__timer_armed(&c->tmo))
        simul__timer_arm(c->loop, &c->tmo, q->deadline, on_timeout);
    return 0;
}

/* The slow path: more than HIGH_WATER unsent, or someone already
 * draining. Holds the write lock while draining and writing. */
static int send_slow(simul_redis *c, const payload *pl, rreq *q, double deadline)
{
    c->draining++;
    int r = simul_lock_acquire_until(c->wlock, deadline);
    if (r == 0) {
        if (c->closing) {
            r = SIMUL_REDIS_ECLOSED;
        } else if (c->state != SIMUL_REDIS_UP || !c->s) {
            r = 1;   /* dropped meanwhile: the caller waits for up again */
        } else {
            simul_scope sc;
            simul_scope_enter(&sc, deadline);
            r = simul_stream_drain(c->s);
            int sr = simul_scope_exit(&sc);
            if (r == -ECANCELED && sr == -ETIMEDOUT)
                r = -ETIMEDOUT;
            else if (r < 0 && r != -ECANCELED)
                r = SIMUL_REDIS_ELOST;   /* the socket failed: not sent, and
                                          * retrying before the reader has
                                          * seen it would spin */
            if (r == 0 && c->s)
                r = write_and_queue(c, pl, q);
        }
        simul_lock_release(c->wlock);
    }
    if (--c->draining == 0) {
        if (c->dead) {
            simul_stream_abort(c->dead);
            c->dead = NULL;
        }
        if (c->closer)
            simul__wake(c->closer, 0);
    }
    if (r == -EIDRM)
        r = SIMUL_REDIS_ECLOSED;
    return r;
}

static int wait_reply(rreq *q, simul_redis_reply **out);

/* Sends one payload expecting `want` replies: *out its request, queued,
 * for the caller to wait on (keep 0) or kept for a bound pipe (keep 1). */
static int send_req(simul_redis *c, const payload *pl, size_t want, int keep, rreq **out)
{
    if (!c)
        return -EINVAL;
    simul__task *t = simul__current();
    if (!t)
        return -EPERM;
    if (c->closing)
        return SIMUL_REDIS_ECLOSED;
    if (pl->n > c->o.max_buffered)
        return -EMSGSIZE;
    /* the loop's cached clock: no clock read per command */
    int64_t dl = c->o.command_timeout >= 9.2e9
                     ? SIMUL__NO_DEADLINE
                     : c->loop->now + simul__seconds_to_ns(c->o.command_timeout);
    double deadline = dl == SIMUL__NO_DEADLINE ? INFINITY : (double)dl / 1e9;
    rreq *q = malloc(sizeof *q);
    if (!q)
        return -ENOMEM;
    q->task = keep ? NULL : t;
    q->keep = keep;
    q->deadline = dl;
    q->want = want;
    q->got = 0;
    q->rc = 0;
    q->reply = NULL;
    if (want > 1) {
        /* the replies' ARRAY, filled in by dispatch */
        q->reply = calloc(1, sizeof *q->reply + want * sizeof(simul_redis_reply *));
        if (!q->reply) {
            free(q);
            return -ENOMEM;
        }
        q->reply->type = SIMUL_REDIS_ARRAY;
        q->reply->len = want;
        q->reply->element = (simul_redis_reply **)(q->reply + 1);
    }
    int r;
    for (;;) {
        if (c->closing) {
            r = SIMUL_REDIS_ECLOSED;
            break;
        }
        if (c->state == SIMUL_REDIS_DOWN) {
            r = SIMUL_REDIS_EDOWN;
            break;
        }
        if (c->state != SIMUL_REDIS_UP) {
            r = simul_event_wait_until(c->up, deadline);
            if (r == -EIDRM) {   /* c is gone: touch nothing */
                req_free(q);
                return SIMUL_REDIS_ECLOSED;
            }
            if (r < 0)
                break;
            continue;
        }
        if (SIMUL__LIKELY(!c->draining && simul_stream_buffered(c->s) + pl->n <= HIGH_WATER))
            r = write_and_queue(c, pl, q);
        else
            r = send_slow(c, pl, q, deadline);
        if (r != 1)
            break;
    }
    if (r < 0) {
        req_free(q);
        return r == -ETIMEDOUT ? SIMUL_REDIS_ETIMEOUT : r;
    }
    *out = q;
    return 0;
}

/* Sends one payload expecting `want` replies and waits for them. */
static int send_payload(simul_redis *c, const payload *pl, size_t want, simul_redis_reply **out)
{
    if (out)
        *out = NULL;
    rreq *q = NULL;
    int r = send_req(c, pl, want, 0, &q);
    return r < 0 ? r : wait_reply(q, out);
}

int simul__redis_send_batch(simul_redis *c, const char *bytes, size_t n, size_t want,
                            rreq **out)
{
    payload pl = { .bytes = bytes, .n = n };
    return send_req(c, &pl, want, 1, out);
}

int simul__redis_collect(simul_redis *c, rreq *q, simul_redis_reply **out)
{
    *out = NULL;
    if (!req_done(q)) {
        if (q->deadline <= c->loop->now) {
            simul__redis_abandon(q);
            return SIMUL_REDIS_ETIMEOUT;
        }
        /* the timer is armed for the earliest live deadline, q's or before */
        q->task = simul__current();
        q->keep = 0;
    }
    return wait_reply(q, out);
}

void simul__redis_abandon(rreq *q)
{
    if (req_done(q))
        req_free(q);
    else
        q->keep = 0;   /* the reader frees it when answered */
}

/* Parks until q is done, its deadline passed (on_timeout wakes it with
 * ETIMEOUT) or a cancel; a caller that gives up leaves q to the reader.
 * Touches only q (c may be closed meanwhile). */
static int wait_reply(rreq *q, simul_redis_reply **out)
{
    int r = 0;
    while (!req_done(q)) {
        r = simul__park("redis reply", __builtin_return_address(0));
        if (r < 0)
            break;
    }
    if (!req_done(q)) {
        q->task = NULL;   /* abandoned: the reader frees it */
        return r;
    }
    /* done, even if a timeout or cancel raced it: the reply is the caller's */
    r = q->rc;
    simul_redis_reply *rep = q->reply;
    q->reply = NULL;
    free(q);
    if (r < 0) {   /* a pipeline's ARRAY, half filled when the connection dropped */
        simul_redis_reply_free(rep);
        rep = NULL;
    }
    if (r == 0 && rep && rep->type == SIMUL_REDIS_ERROR)
        r = simul__redis_error_code(rep->str, rep->len);
    if (out)
        *out = rep;
    else
        simul_redis_reply_free(rep);
    return r;
}

int simul__redis_send(simul_redis *c, const char *bytes, size_t n, size_t want,
                      simul_redis_reply **out)
{
    payload pl = { .bytes = bytes, .n = n };
    return send_payload(c, &pl, want, out);
}

int simul_redis_command_argv(simul_redis *c, int argc, const char *const *argv,
                             const size_t *lens, simul_redis_reply **out)
{
    if (out)
        *out = NULL;
    if (!c || argc < 1 || argc > MAX_ARGC || !argv)
        return -EINVAL;
    payload pl = { .argc = argc, .argv = argv, .lens = lens };
    pl.n = simul__redis_argv_size(argc, argv, lens);
    return send_payload(c, &pl, 1, out);
}

int simul__redis_format(char **cmd, const char *fmt, va_list ap)
{
    int n = redisvFormatCommand(cmd, fmt, ap);
    if (n == -2)
        return -ENOMEM;
    return n < 0 ? -EINVAL : n;
}

int simul_redis_command(simul_redis *c, simul_redis_reply **out, const char *fmt, ...)
{
    if (out)
        *out = NULL;
    if (!c || !fmt)
        return -EINVAL;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = simul__redis_format(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0)
        return n;
    int r = simul__redis_send(c, cmd, (size_t)n, 1, out);
    redisFreeCommand(cmd);
    return r;
}

/* ---- pub/sub ----------------------------------------------------------------- */

static int sub_cmd(simul_redis *c, const char *cmd, int pattern, int add, const char *name,
                   size_t len)
{
    if (!c || !c->psq || !name)
        return -EINVAL;
    const char *a[2] = { cmd, name };
    size_t l[2] = { strlen(cmd), len };
    simul_redis_reply *rep = NULL;
    int r = simul_redis_command_argv(c, 2, a, l, &rep);
    simul_redis_reply_free(rep);
    if (r < 0)
        return r;
    /* kept (or forgotten) for the next reconnect */
    struct sub **pp = &c->subs;
    while (*pp && !((*pp)->pattern == pattern && (*pp)->len == len &&
                    memcmp((*pp)->name, name, len) == 0))
        pp = &(*pp)->next;
    if (add && !*pp) {
        struct sub *u = malloc(sizeof *u + len + 1);
        if (!u)
            return -ENOMEM;
        u->next = NULL;
        u->pattern = pattern;
        u->len = len;
        memcpy(u->name, name, len);
        u->name[len] = 0;
        *pp = u;
    } else if (!add && *pp) {
        struct sub *u = *pp;
        *pp = u->next;
        free(u);
    }
    return 0;
}

int simul_redis_subscribe(simul_redis *c, const char *channel, size_t len)
{
    return sub_cmd(c, "SUBSCRIBE", 0, 1, channel, len);
}

int simul_redis_psubscribe(simul_redis *c, const char *pattern, size_t len)
{
    return sub_cmd(c, "PSUBSCRIBE", 1, 1, pattern, len);
}

int simul_redis_unsubscribe(simul_redis *c, const char *channel, size_t len)
{
    return sub_cmd(c, "UNSUBSCRIBE", 0, 0, channel, len);
}

int simul_redis_punsubscribe(simul_redis *c, const char *pattern, size_t len)
{
    return sub_cmd(c, "PUNSUBSCRIBE", 1, 0, pattern, len);
}
