/*
 * pipeline.c - pipeline mode (libpq 14+): many tasks' queries in flight on
 * one connection. Each query is sent at once, followed by a sync (so it is
 * its own implicit transaction and an error fails it alone), and its task
 * parks on a request in the connection's FIFO. One fd-table handle per
 * connection, a callback on the loop (no task), reads whatever arrives,
 * walks the results in order - each request's ends at its
 * PGRES_PIPELINE_SYNC - and wakes the owners; it also finishes flushes the
 * socket refused. A cancelled task abandons its request: the query runs on
 * the server and the callback frees its result (a server-side cancel would
 * hit whichever query happens to run).
 */
#include "pg_internal.h"

#include <stdlib.h>
#include <string.h>

struct pg_req {
    pg_req       *next;
    simul__task  *task;       /* NULL once abandoned */
    PGresult     *res, *err;  /* the last result, the first error */
    int           done, rc;
};

static int is_error(ExecStatusType st)
{
    return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
           st == PGRES_NONFATAL_ERROR || st == PGRES_PIPELINE_ABORTED;
}

static void finish(simul_pg *c, pg_req *q, int rc)
{
    q->done = 1;
    q->rc = rc;
    c->npending--;
    if (q->task) {
        simul__wake(q->task, 0);
    } else {
        PQclear(q->res);
        PQclear(q->err);
        free(q);
    }
    if (!c->npending && c->drainer) {
        simul__wake(c->drainer, 0);
        c->drainer = NULL;
    }
}

static pg_req *pop(simul_pg *c)
{
    pg_req *q = c->head;
    c->head = q->next;
    if (!c->head)
        c->tail = NULL;
    return q;
}

/* The next complete result without waiting, or NULL when none has come
 * yet; the NULL libpq puts between two statements' results is skipped. */
static PGresult *ready_result(simul_pg *c)
{
    for (int nulls = 0; nulls < 2 && !PQisBusy(c->pg); nulls++) {
        PGresult *res = PQgetResult(c->pg);
        if (res)
            return res;
    }
    return NULL;
}

/* Hands every complete result to its request, in order. */
static void dispatch(simul_pg *c)
{
    PGresult *res;
    while (c->head && c->pg && (res = ready_result(c)) != NULL) {
        pg_req *q = c->head;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            finish(c, pop(c), q->err ? SIMUL_PG_ESERVER : 0);
        } else if (is_error(st)) {
            if (q->err)
                PQclear(res);
            else
                q->err = res;
        } else {
            PQclear(q->res);
            q->res = res;
        }
    }
}

static void rearm(simul_pg *c)
{
    int want = 0;
    if (c->pg && c->fd >= 0 && !c->broken)
        want = (c->head ? SIMUL_READABLE : 0) | (c->io_wflush ? SIMUL_WRITABLE : 0);
    if (want == c->io_events)
        return;
    simul_loop *l = simul__loop();
    if (c->io_events)
        simul__fd_wait_del(l, c->fd, &c->io);
    c->io_events = 0;
    if (!want)
        return;
    c->io.events = want;
    if (simul__fd_wait_add(l, c->fd, &c->io) == 0)
        c->io_events = want;
    else
        simul__pg_broken(c);
}

static void on_io(simul__fdwait *w, int res)
{
    simul_pg *c = (simul_pg *)((char *)w - offsetof(simul_pg, io));
    if (c->broken)
        return;
    if (res < 0) {
        simul__pg_broken(c);
        return;
    }
    if (res & SIMUL_WRITABLE) {
        int f = PQflush(c->pg);
        if (f < 0) {
            simul__pg_broken(c);
            return;
        }
        c->io_wflush = f == 1;
    }
    if ((res & (SIMUL_READABLE | SIMUL_ERROR | SIMUL_HANGUP)) && !PQconsumeInput(c->pg)) {
        simul__pg_broken(c);
        return;
    }
    dispatch(c);
    rearm(c);
}

void simul__pg_pipeline_abort(simul_pg *c)
{
    if (c->io_events) {
        simul_loop *l = simul__loop();
        if (l)
            simul__fd_wait_del(l, c->fd, &c->io);
        c->io_events = 0;
    }
    while (c->head)
        finish(c, pop(c), SIMUL_PG_EBROKEN);
}

int simul_pg_pipeline_enter(simul_pg *c)
{
    int r = simul__pg_enter(c);
    if (r < 0)
        return r;
    if (PQenterPipelineMode(c->pg) != 1) {
        r = simul__pg_fail(c, SIMUL_PG_EBROKEN, NULL);
    } else {
        c->pipeline = 1;
        memset(&c->io, 0, sizeof c->io);
        c->io.cb = on_io;
        c->io.flags = SIMUL__FDW_KEEP;
    }
    simul__pg_leave(c);
    return r;
}

int simul_pg_pipeline_exit(simul_pg *c)
{
    if (!c)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    if (!c->pipeline)
        return 0;
    c->inside++;
    int r = 0;
    while (c->npending && r == 0) {
        if (c->drainer) {
            r = -EBUSY;
            break;
        }
        c->drainer = simul__current();
        r = simul__park("pg pipeline exit", __builtin_return_address(0));
        if (c->drainer == simul__current())
            c->drainer = NULL;
    }
    c->inside--;
    if (r < 0)
        return r;
    if (c->broken) {
        c->pipeline = 0;
        return SIMUL_PG_EBROKEN;
    }
    /* no query in flight: libpq can leave at once */
    if (PQexitPipelineMode(c->pg) != 1)
        return simul__pg_fail(c, SIMUL_PG_EBROKEN, NULL);
    c->pipeline = 0;
    return 0;
}

int simul__pg_pipeline_query(simul_pg *c, const char *sql, int n, const char *const *vals,
                             const int *lens, const int *fmts, const Oid *types, int rfmt,
                             PGresult **out)
{
    if (c->broken)
        return SIMUL_PG_EBROKEN;
    if (simul_cancelled())
        return -ECANCELED;
    pg_req *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    if (!PQsendQueryParams(c->pg, sql, n, types, vals, lens, fmts, rfmt) ||
        !PQpipelineSync(c->pg)) {
        free(q);
        return simul__pg_broken(c);
    }
    q->task = simul__current();
    if (c->tail)
        c->tail->next = q;
    else
        c->head = q;
    c->tail = q;
    c->npending++;
    /* PQpipelineSync flushed what the socket took; the rest goes on
     * WRITABLE from the callback */
    int f = PQflush(c->pg);
    if (f < 0) {
        simul__pg_broken(c);   /* fails q too (q->done) */
    } else {
        c->io_wflush = f == 1;
        rearm(c);
    }
    c->inside++;
    int r = q->done ? 0 : simul__park("pg pipeline", __builtin_return_address(0));
    c->inside--;
    if (r < 0 && !q->done) {
        q->task = NULL;   /* abandoned: the callback frees it */
        return r;
    }
    PGresult *res = q->res, *err = q->err;
    int rc = q->rc;
    free(q);
    if (r < 0) {          /* cancelled as the answer came: the cancel wins */
        PQclear(res);
        PQclear(err);
        return r;
    }
    if (rc == SIMUL_PG_ESERVER) {
        simul__pg_fail(c, rc, err);
        PQclear(res);
        PQclear(err);
        return rc;
    }
    PQclear(err);
    if (rc < 0) {
        PQclear(res);
        return rc;
    }
    *out = res;
    return 0;
}

/* ---- executemany ------------------------------------------------------------ */

/* Rows sent between two looks at the results: bounds libpq's buffers. */
#define MANY_CHUNK 512

/* Consumes whatever results are complete (without waiting), keeping the
 * first error; *synced once the batch's sync has come back. */
static void many_drain(simul_pg *c, PGresult **err, int *synced)
{
    PGresult *res;
    while ((res = ready_result(c)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            *synced = 1;
            PQclear(res);
            break;
        }
        if (is_error(st) && !*err)
            *err = res;
        else
            PQclear(res);
    }
}

int simul_pg_executemany(simul_pg *c, const char *sql, const simul_pg_param *rows, int nparams,
                         int nrows)
{
    if (!c || !sql || nparams < 0 || nparams > 65535 || nrows < 0 || (nrows && nparams && !rows))
        return -EINVAL;
    int r = simul__pg_enter(c);
    if (r < 0)
        return r;
    if (nrows == 0) {
        simul__pg_leave(c);
        return 0;
    }
    /* libpq's arrays for one row at a time */
    const char **vals = malloc(sizeof(char *) * (size_t)(nparams ? nparams : 1));
    int *lens = malloc(sizeof(int) * (size_t)(nparams ? nparams : 1) * 2);
    Oid *types = calloc((size_t)(nparams ? nparams : 1), sizeof(Oid));
    PGresult *err = NULL;
    int synced = 0, sync_sent = 0;
    if (!vals || !lens || !types) {
        r = -ENOMEM;
        goto out;
    }
    int *fmts = lens + nparams;
    for (int k = 0; k < nparams; k++)
        types[k] = rows[k].type;
    if (PQenterPipelineMode(c->pg) != 1) {
        r = simul__pg_broken(c);
        goto out;
    }
    /* one unnamed statement, parsed once; every row binds and executes it */
    if (!PQsendPrepare(c->pg, "", sql, nparams, types)) {
        r = simul__pg_broken(c);
        goto leave;
    }
    for (int i = 0; i < nrows && r == 0; i++) {
        const simul_pg_param *p = rows + (size_t)i * (size_t)nparams;
        for (int k = 0; k < nparams; k++) {
            vals[k] = p[k].value ? p[k].value
                      : p[k].length >= 0 && p[k].format == 1 ? (const char *)p[k].inline_
                                                             : NULL;
            lens[k] = p[k].length < 0 ? 0 : p[k].length;
            fmts[k] = p[k].format ? 1 : 0;
        }
        if (!PQsendQueryPrepared(c->pg, "", nparams, vals, lens, fmts, 0)) {
            r = simul__pg_broken(c);
            break;
        }
        if ((i + 1) % MANY_CHUNK == 0) {
            /* let the socket take the chunk, reading answers meanwhile */
            r = simul__pg_flush(c);
            if (r == 0 && !PQconsumeInput(c->pg))
                r = simul__pg_broken(c);
            if (r == 0)
                many_drain(c, &err, &synced);
        }
    }
    if (r == 0) {
        if (PQpipelineSync(c->pg))
            sync_sent = 1;
        else
            r = simul__pg_broken(c);
    }
    if (r == 0)
        r = simul__pg_flush(c);
    while (r == 0 && !synced) {
        r = simul__pg_await(c);
        if (r == 0)
            many_drain(c, &err, &synced);
    }
    if (r == -ECANCELED) {
        /* the batch is one transaction: cancel it on the server, then read
         * to its sync (shielded), or close the connection */
        simul_scope sc;
        simul_scope_enter_shielded(&sc, simul_now() + SIMUL_PG_CANCEL_TIMEOUT);
        int q = sync_sent || PQpipelineSync(c->pg) ? simul__pg_flush(c) : -EIO;
        if (q == 0)
            q = simul__pg_cancel_request(c);
        while (q == 0 && !synced) {
            q = simul__pg_await(c);
            if (q == 0)
                many_drain(c, &err, &synced);
        }
        simul_scope_exit(&sc);
        if (!synced && !c->broken)
            simul__pg_broken(c);
        r = -ECANCELED;
    }
leave:
    if (!c->broken && PQexitPipelineMode(c->pg) != 1 && r == 0)
        r = simul__pg_broken(c);
    if (r == 0 && err)
        r = simul__pg_fail(c, SIMUL_PG_ESERVER, err);
out:
    PQclear(err);
    free(vals);
    free(lens);
    free(types);
    simul__pg_leave(c);
    return r;
}
