/*
 * redis_internal.h - what the Redis layer's files share: the connection
 * record (a simul stream, hiredis's reply reader, the FIFO of requests
 * waiting for replies, the reader task that reconnects), the reply
 * builders given to hiredis, and the error-code mapping. The layer sits
 * on the I/O layer's streams and parks its callers through the core's
 * wait primitive; hiredis is used for its parser and command formatter
 * only, never for I/O.
 */
#ifndef SIMUL_REDIS_INTERNAL_H
#define SIMUL_REDIS_INTERNAL_H

#include "../core/internal.h"

#include <simul/redis.h>

#include "../core/buf.h"

#include <hiredis/read.h>

#include <stdarg.h>

/*
 * One caller waiting for `want` replies (a command: 1; a pipeline: its
 * count, + 2 for MULTI/EXEC). Heap-allocated and owned by the connection
 * while queued, so a caller that gives up (timeout, cancel) only clears
 * `task`: the reader still consumes its replies and frees it. A bound
 * pipe's batch is queued with no task and `keep` set: once answered it
 * stays (marked done) until the pipe collects or abandons it.
 */
typedef struct rreq {
    struct rreq        *next;
    struct rreq        *batch_next; /* a bound pipe's next batch (pipe.c) */
    simul__task        *task;     /* NULL: abandoned (or kept), replies dropped unless kept */
    int                 keep;     /* a bound pipe's batch: kept when done */
    simul_redis_reply  *reply;    /* want == 1: the reply; else an ARRAY */
    size_t              want, got;
    int64_t             deadline; /* loop-clock ns; SIMUL__NO_DEADLINE */
    int                 rc;       /* set when done */
} rreq;

struct simul_redis {
    char               *host;      /* NULL for a Unix socket */
    char               *path;      /* the socket's path, else NULL */
    int                 port;
    char               *user, *password, *client_name;
    int                 db;
    simul_redis_opts    o;         /* resolved; its strings are the fields above */

    simul_stream       *s;         /* NULL while down */
    simul_stream       *dead;      /* dropped under a drain: its writer aborts it */
    redisReader        *rd;
    size_t              rd_bytes;  /* fed since the last whole reply (max_reply) */
    simul__buf          scratch;   /* a command encoded for its write */
    uint64_t            seed;      /* backoff jitter */
    int                 state;     /* SIMUL_REDIS_UP / _CONNECTING / _DOWN */
    int                 closing;
    long                reconnects;
    rreq               *head, *tail;   /* sent, answered in this order */
    size_t              npending;
    simul_task         *reader;    /* the reader task (reads, reconnects) */
    simul_event        *up;        /* set while state is UP */
    simul_lock         *wlock;     /* held by a writer that drains */
    int                 draining;  /* writers inside the drain path */
    simul__task        *closer;    /* simul_redis_close waiting for them */
    char               *rbuf;      /* the reader's read buffer */
    size_t              rpos, rlen;    /* rbuf's bytes not yet fed to rd */
    simul_loop         *loop;      /* c's loop (its clock, its timer heap) */
    simul__tnode        tmo;       /* command timeouts (conn.c, on_timeout) */
    char                err[160];  /* the last transport failure */

    /* pub/sub (simul_redis_pubsub_open) */
    simul_queue        *psq;       /* NULL: not a pub/sub connection */
    struct sub         *subs;      /* channels and patterns to renew */
    /* the pool that owns c, while it is out or idle there */
    simul_redis_pool   *pool;
    int                 pool_out;  /* handed out by it (not idle) */
    double              idle_since;
};

/* A subscription kept for reconnects. */
struct sub {
    struct sub *next;
    int         pattern;
    size_t      len;
    char        name[];
};

/* reply.c */
extern redisReplyObjectFunctions simul__redis_reply_fns;
/* The SIMUL_REDIS_E* code of an error message's first word. */
int  simul__redis_error_code(const char *msg, size_t len);
/* Registers the layer's messages with simul_strerror (idempotent). */
void simul__redis_errors_register(void);

/* url.c: url into c's host/port/path/user/password/db (malloc'd; the
 * caller frees them even on failure). 0, SIMUL_REDIS_EURL, -ENOMEM. */
int  simul__redis_parse_url(simul_redis *c, const char *url);

/* conn.c: sends `bytes` (n commands' worth, `want` replies) as one
 * contiguous batch and waits for the replies (*out: the reply, or an
 * ARRAY of them when want > 1). */
int  simul__redis_send(simul_redis *c, const char *bytes, size_t n, size_t want,
                       simul_redis_reply **out);
/* conn.c, for bound pipes: sends `bytes` (`want` commands) without
 * waiting (may suspend while earlier output drains or c reconnects): 0 and
 * *out, the request, kept for _collect or _abandon; or send's errors. */
int  simul__redis_send_batch(simul_redis *c, const char *bytes, size_t n, size_t want,
                             rreq **out);
/* Waits for a kept request and frees it: *out its reply (want 1) or
 * ARRAY; returns as simul_redis_command_argv. On a timeout or cancel the
 * request is abandoned. Touches c only while q is unanswered. */
int  simul__redis_collect(simul_redis *c, rreq *q, simul_redis_reply **out);
/* Gives a kept request up: freed now if answered, else by the reader. */
void simul__redis_abandon(rreq *q);
/* hiredis's printf-style format into *cmd (free with redisFreeCommand):
 * its length, -EINVAL (a format it refuses) or -ENOMEM. */
int  simul__redis_format(char **cmd, const char *fmt, va_list ap);
/* The RESP bytes of argv (lens NULL: C strings), and their encoding
 * appended to b (size: what _argv_size said). 0 or b's error. */
size_t simul__redis_argv_size(int argc, const char *const *argv, const size_t *lens);
int  simul__redis_encode(simul__buf *b, size_t size, int argc, const char *const *argv,
                         const size_t *lens);

#endif
