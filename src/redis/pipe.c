/*
 * pipe.c - explicit batches (a pipe is a buffer of encoded commands sent
 * in one write), MULTI/EXEC around one, and EVALSHA with SCRIPT LOAD on
 * NOSCRIPT. All go through the connection's one send path.
 *
 * A bound pipe (simul_redis_pipe_bind) sends each BATCH bytes of commands
 * as soon as they are encoded, as a request of their own kept on the
 * connection's FIFO (simul__redis_send_batch), so the server works while
 * the caller is still adding, and the pipe holds one batch instead of the
 * whole pipeline: on a 100,000-SET pipeline that is 64 KiB of memory
 * instead of 6 MB of fresh pages. Exec sends the rest and collects the
 * batches in order into one ARRAY.
 */
#include "redis_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#define PIPE_MAX ((size_t)1 << 30)
#define BATCH    (64 * 1024)
/* commands in one bound pipe: its ARRAY of replies stays below 128 MiB */
#define BOUND_MAX ((size_t)1 << 24)

struct simul_redis_pipe {
    simul__buf   buf;
    size_t       count;   /* commands added (sent or not) */
    /* bound: */
    simul_redis *c;
    size_t       held;    /* commands in buf, not sent yet */
    rreq        *first, *last;   /* batches sent, oldest first */
    int          err;     /* a batch could not be sent: exec returns it */
};

static const char multi_cmd[] = "*1\r\n$5\r\nMULTI\r\n";
static const char exec_cmd[] = "*1\r\n$4\r\nEXEC\r\n";

simul_redis_pipe *simul_redis_pipe_new(void)
{
    simul_redis_pipe *p = calloc(1, sizeof *p);
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    simul__buf_init(&p->buf, PIPE_MAX);
    return p;
}

void simul_redis_pipe_free(simul_redis_pipe *p)
{
    if (!p)
        return;
    simul_redis_pipe_reset(p);
    simul__buf_free(&p->buf);
    free(p);
}

int simul_redis_pipe_bind(simul_redis_pipe *p, simul_redis *c)
{
    if (!p || p->count)
        return -EINVAL;
    p->c = c;
    return 0;
}

/* A bound pipe: sends the commands held as one batch. */
static int send_held(simul_redis_pipe *p)
{
    rreq *q = NULL;
    int r = p->err ? p->err
                   : simul__redis_send_batch(p->c, simul__buf_data(&p->buf),
                                             simul__buf_len(&p->buf), p->held, &q);
    simul__buf_consume(&p->buf, simul__buf_len(&p->buf));
    p->held = 0;
    if (r < 0)
        return p->err = r;
    q->batch_next = NULL;
    if (p->last)
        p->last->batch_next = q;
    else
        p->first = q;
    p->last = q;
    return 0;
}

/* One more command encoded (r: the encoding's result). */
static int added(simul_redis_pipe *p, int r)
{
    if (r == -ENOBUFS)
        r = -EMSGSIZE;
    if (r < 0)
        return r;
    p->count++;
    if (!p->c)
        return 0;
    p->held++;
    return simul__buf_len(&p->buf) >= BATCH ? send_held(p) : 0;
}

int simul_redis_pipe_add_argv(simul_redis_pipe *p, int argc, const char *const *argv,
                              const size_t *lens)
{
    if (!p || argc < 1 || !argv)
        return -EINVAL;
    if (p->c && p->count >= BOUND_MAX)
        return -EMSGSIZE;
    return added(p, simul__redis_encode(&p->buf, simul__redis_argv_size(argc, argv, lens),
                                        argc, argv, lens));
}

int simul_redis_pipe_add(simul_redis_pipe *p, const char *fmt, ...)
{
    if (!p || !fmt)
        return -EINVAL;
    if (p->c && p->count >= BOUND_MAX)
        return -EMSGSIZE;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = simul__redis_format(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0)
        return n;
    int r = simul__buf_append(&p->buf, cmd, (size_t)n);
    redisFreeCommand(cmd);
    return added(p, r);
}

size_t simul_redis_pipe_count(const simul_redis_pipe *p)
{
    return p ? p->count : 0;
}

void simul_redis_pipe_reset(simul_redis_pipe *p)
{
    if (!p)
        return;
    while (p->first) {   /* batches sent: their replies are dropped */
        rreq *q = p->first;
        p->first = q->batch_next;
        simul__redis_abandon(q);
    }
    p->last = NULL;
    p->err = 0;
    p->held = 0;
    simul__buf_consume(&p->buf, simul__buf_len(&p->buf));
    p->count = 0;
}

/* A bound pipe's exec: the rest sent, every batch's replies moved into
 * one ARRAY; p is empty afterwards, whatever the outcome. */
static int exec_bound(simul_redis *c, simul_redis_pipe *p, simul_redis_reply **out)
{
    int r = p->held ? send_held(p) : p->err;
    simul_redis_reply *all = NULL;
    if (r == 0) {
        all = calloc(1, sizeof *all + p->count * sizeof(simul_redis_reply *));
        r = all ? 0 : -ENOMEM;
    }
    if (all) {
        all->type = SIMUL_REDIS_ARRAY;
        all->len = p->count;
        all->element = (simul_redis_reply **)(all + 1);
    }
    size_t k = 0;
    while (r == 0 && p->first) {
        rreq *q = p->first;
        p->first = q->batch_next;
        size_t want = q->want;
        simul_redis_reply *rep = NULL;
        r = simul__redis_collect(c, q, &rep);   /* frees q */
        if (!rep)
            break;   /* the batch failed: r says why */
        r = 0;       /* an ERROR reply is an element, not a failure */
        SIMUL__ASSERT(k + want <= p->count);
        if (want == 1) {
            all->element[k++] = rep;
        } else {
            memcpy(all->element + k, rep->element, want * sizeof *rep->element);
            k += want;
            rep->len = 0;   /* the elements are all's now */
            simul_redis_reply_free(rep);
        }
    }
    SIMUL__ASSERT(r < 0 || k == p->count);
    simul_redis_pipe_reset(p);
    if (r < 0) {
        simul_redis_reply_free(all);   /* the elements moved so far too */
        return r;
    }
    if (out)
        *out = all;
    else
        simul_redis_reply_free(all);
    return 0;
}

int simul_redis_pipe_exec(simul_redis *c, simul_redis_pipe *p, simul_redis_reply **out)
{
    if (out)
        *out = NULL;
    if (!c || !p || p->count == 0 || (p->c && p->c != c))
        return -EINVAL;
    if (p->c)
        return exec_bound(c, p, out);
    simul_redis_reply *rep = NULL;
    int r = simul__redis_send(c, simul__buf_data(&p->buf), simul__buf_len(&p->buf), p->count,
                              &rep);
    if (p->count == 1 && rep) {
        /* one command: still an ARRAY of one, as promised */
        simul_redis_reply *a = calloc(1, sizeof *a + sizeof(simul_redis_reply *));
        if (!a) {
            simul_redis_reply_free(rep);
            return -ENOMEM;
        }
        a->type = SIMUL_REDIS_ARRAY;
        a->len = 1;
        a->element = (simul_redis_reply **)(a + 1);
        a->element[0] = rep;
        rep = a;
        r = 0;   /* an ERROR element does not fail the batch */
    }
    if (out)
        *out = rep;
    else
        simul_redis_reply_free(rep);
    return r;
}

int simul_redis_multi_exec(simul_redis *c, const simul_redis_pipe *p, simul_redis_reply **out)
{
    if (out)
        *out = NULL;
    if (!c || !p || p->count == 0 || p->c)
        return -EINVAL;
    /* MULTI + the commands + EXEC, one contiguous batch */
    size_t n = simul__buf_len(&p->buf);
    char *b = malloc(sizeof multi_cmd - 1 + n + sizeof exec_cmd - 1);
    if (!b)
        return -ENOMEM;
    memcpy(b, multi_cmd, sizeof multi_cmd - 1);
    memcpy(b + sizeof multi_cmd - 1, simul__buf_data(&p->buf), n);
    memcpy(b + sizeof multi_cmd - 1 + n, exec_cmd, sizeof exec_cmd - 1);
    simul_redis_reply *all = NULL;
    int r = simul__redis_send(c, b, sizeof multi_cmd - 1 + n + sizeof exec_cmd - 1,
                              p->count + 2, &all);
    free(b);
    if (r < 0)
        return r;
    /* the last reply is EXEC's; MULTI's +OK and the +QUEUED are dropped */
    simul_redis_reply *ex = all->element[all->len - 1];
    all->element[all->len - 1] = NULL;
    simul_redis_reply_free(all);
    if (ex->type == SIMUL_REDIS_ERROR)
        r = simul__redis_error_code(ex->str, ex->len);
    else if (ex->type == SIMUL_REDIS_NIL)
        r = SIMUL_REDIS_EWATCH;
    if (out)
        *out = ex;
    else
        simul_redis_reply_free(ex);
    return r;
}

/* SCRIPT LOAD s->source into s->sha. */
static int script_load(simul_redis *c, simul_redis_script *s)
{
    const char *a[3] = { "SCRIPT", "LOAD", s->source };
    simul_redis_reply *rep = NULL;
    int r = simul_redis_command_argv(c, 3, a, NULL, &rep);
    if (r == 0 && (rep->type != SIMUL_REDIS_STRING || rep->len != 40))
        r = SIMUL_REDIS_EPROTO;
    if (r == 0)
        memcpy(s->sha, rep->str, 41);
    simul_redis_reply_free(rep);
    return r;
}

int simul_redis_evalsha(simul_redis *c, simul_redis_script *s, int numkeys, int argc,
                        const char *const *argv, const size_t *lens, simul_redis_reply **out)
{
    if (out)
        *out = NULL;
    if (!c || !s || !s->source || numkeys < 0 || argc < numkeys || (argc && !argv) ||
        argc > (1 << 20))
        return -EINVAL;
    /* EVALSHA sha numkeys argv...: argv and lens with three in front */
    const char **a = malloc((size_t)(argc + 3) * sizeof *a);
    size_t *l = malloc((size_t)(argc + 3) * sizeof *l);
    if (!a || !l) {
        free(a);
        free(l);
        return -ENOMEM;
    }
    char nk[16];
    snprintf(nk, sizeof nk, "%d", numkeys);
    a[0] = "EVALSHA";
    a[1] = s->sha;
    a[2] = nk;
    l[0] = 7;
    l[1] = 40;
    l[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        a[i + 3] = argv[i];
        l[i + 3] = lens ? lens[i] : strlen(argv[i]);
    }
    int r = s->sha[0] ? 0 : script_load(c, s);
    simul_redis_reply *rep = NULL;
    if (r == 0) {
        r = simul_redis_command_argv(c, argc + 3, a, l, &rep);
        if (r == SIMUL_REDIS_ENOSCRIPT) {
            /* a restart or SCRIPT FLUSH forgot it: load it again, once
             * (a[1] points at s->sha, which the load rewrites) */
            simul_redis_reply_free(rep);
            rep = NULL;
            r = script_load(c, s);
            if (r == 0)
                r = simul_redis_command_argv(c, argc + 3, a, l, &rep);
        }
    }
    free(a);
    free(l);
    if (out)
        *out = rep;
    else
        simul_redis_reply_free(rep);
    return r;
}
