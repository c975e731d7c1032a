/*
 * pipe.c - explicit batches (a pipe is a buffer of encoded commands sent
 * in one write), MULTI/EXEC around one, and EVALSHA with SCRIPT LOAD on
 * NOSCRIPT. All go through the connection's one send path.
 */
#include "redis_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#define PIPE_MAX ((size_t)1 << 30)

struct simul_redis_pipe {
    simul__buf buf;
    size_t     count;
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
    simul__buf_free(&p->buf);
    free(p);
}

int simul_redis_pipe_add_argv(simul_redis_pipe *p, int argc, const char *const *argv,
                              const size_t *lens)
{
    if (!p || argc < 1 || !argv)
        return -EINVAL;
    int r = simul__redis_encode(&p->buf, simul__redis_argv_size(argc, argv, lens), argc, argv,
                                lens);
    if (r == -ENOBUFS)
        r = -EMSGSIZE;
    if (r == 0)
        p->count++;
    return r;
}

int simul_redis_pipe_add(simul_redis_pipe *p, const char *fmt, ...)
{
    if (!p || !fmt)
        return -EINVAL;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = simul__redis_format(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0)
        return n;
    int r = simul__buf_append(&p->buf, cmd, (size_t)n);
    redisFreeCommand(cmd);
    if (r == -ENOBUFS)
        r = -EMSGSIZE;
    if (r == 0)
        p->count++;
    return r;
}

size_t simul_redis_pipe_count(const simul_redis_pipe *p)
{
    return p ? p->count : 0;
}

void simul_redis_pipe_reset(simul_redis_pipe *p)
{
    if (!p)
        return;
    simul__buf_consume(&p->buf, simul__buf_len(&p->buf));
    p->count = 0;
}

int simul_redis_pipe_exec(simul_redis *c, const simul_redis_pipe *p, simul_redis_reply **out)
{
    if (out)
        *out = NULL;
    if (!c || !p || p->count == 0)
        return -EINVAL;
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
    if (!c || !p || p->count == 0)
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
