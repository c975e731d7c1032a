/*
 * pool.c - a connection pool (asyncpg's create_pool): a semaphore of
 * max_size counts the connections handed out, acquirers queue on it in
 * FIFO order with their timeout; idle connections are a stack (the most
 * recently used first: its socket and the server's caches are warm), and
 * each is checked when taken - PQconsumeInput reads what the server sent
 * while it sat idle, so one the server dropped (restart, terminated
 * backend) is seen, closed and replaced by a new connect. Release rolls
 * back an open transaction and runs the reset statement, shielded, or
 * closes the connection when it cannot be made clean.
 */
#include "pg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 1024

struct simul_pg_pool {
    char      *conninfo;
    char      *reset_sql;      /* NULL: none */
    int        min_size, max_size;
    double     connect_timeout;
    simul_sem *sem;            /* max_size - connections out */
    simul_pg **idle;           /* a stack, max_size slots */
    int        nidle, nopen;
    int        waiting;        /* tasks in _acquire */
};

static const char *const asyncpg_reset =
    "CLOSE ALL; UNLISTEN *; RESET ALL; SELECT pg_advisory_unlock_all()";

int simul_pg_pool_open(const char *conninfo, const simul_pg_pool_opts *opts, simul_pg_pool **out)
{
    if (!conninfo || !out)
        return -EINVAL;
    *out = NULL;
    simul_pg_pool_opts o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if (o.max_size == 0)
        o.max_size = 10;
    if (o.connect_timeout == 0)
        o.connect_timeout = 60;
    if (o.max_size < 1 || o.max_size > POOL_MAX || o.min_size < 0 || o.min_size > o.max_size ||
        isnan(o.connect_timeout) || o.connect_timeout < 0)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    simul_pg_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->min_size = o.min_size;
    p->max_size = o.max_size;
    p->connect_timeout = o.connect_timeout;
    p->conninfo = strdup(conninfo);
    const char *reset = o.reset_sql ? o.reset_sql : asyncpg_reset;
    p->reset_sql = *reset ? strdup(reset) : NULL;
    p->idle = calloc((size_t)o.max_size, sizeof *p->idle);
    p->sem = simul_sem_new((unsigned)o.max_size);
    int r = 0;
    if (!p->conninfo || (*reset && !p->reset_sql) || !p->idle || !p->sem)
        r = -ENOMEM;
    while (r == 0 && p->nidle < p->min_size) {
        simul_pg *c;
        r = simul_pg_connect(p->conninfo, p->connect_timeout, &c);
        if (r == 0) {
            p->idle[p->nidle++] = c;
            p->nopen++;
        }
    }
    if (r < 0) {
        while (p->nidle)
            simul_pg_close(p->idle[--p->nidle]);
        p->nopen = 0;
        simul_pg_pool_close(p);
        return r;
    }
    *out = p;
    return 0;
}

int simul_pg_pool_close(simul_pg_pool *p)
{
    if (!p)
        return -EINVAL;
    if (p->nopen > p->nidle || p->waiting)
        return -EBUSY;
    while (p->nidle)
        simul_pg_close(p->idle[--p->nidle]);
    simul_sem_free(p->sem);
    free(p->idle);
    free(p->conninfo);
    free(p->reset_sql);
    free(p);
    return 0;
}

/* An idle connection still connected? Reads what arrived meanwhile (a
 * FATAL message and end of file when the server dropped it). */
static int alive(simul_pg *c)
{
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK)
        return 0;
    /* twice: a dropped connection's last words (FATAL: terminating
     * connection...) fill the first read, the end of file is the second's */
    for (int i = 0; i < 2; i++)
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK)
            return 0;
    return PQtransactionStatus(c->pg) == PQTRANS_IDLE;
}

int simul_pg_pool_acquire(simul_pg_pool *p, double timeout, simul_pg **out)
{
    if (!p || !out || isnan(timeout) || timeout < 0)
        return -EINVAL;
    *out = NULL;
    if (!simul__current())
        return -EPERM;
    double deadline = simul_now() + timeout;
    p->waiting++;
    int r = simul_sem_acquire_until(p->sem, deadline);
    p->waiting--;
    if (r < 0)
        return r;
    while (p->nidle) {
        simul_pg *c = p->idle[--p->nidle];
        if (alive(c)) {
            c->pool = p;
            *out = c;
            return 0;
        }
        simul_pg_close(c);   /* replaced below */
        p->nopen--;
    }
    double left = deadline - simul_now();
    if (left > p->connect_timeout)
        left = p->connect_timeout;
    simul_pg *c = NULL;
    p->nopen++;   /* counted while it connects: the pool cannot close under it */
    r = left > 0 ? simul_pg_connect(p->conninfo, left, &c) : -ETIMEDOUT;
    if (r < 0) {
        p->nopen--;
        simul_sem_release(p->sem);
        return r;
    }
    c->pool = p;
    *out = c;
    return 0;
}

/* Makes c clean for the next user: 1 if it can go back, 0 if not. */
static int reset(simul_pg_pool *p, simul_pg *c)
{
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK || c->stream || c->busy || c->inside ||
        c->npending)
        return 0;
    if (c->pipeline && PQexitPipelineMode(c->pg) != 1)
        return 0;
    c->pipeline = 0;
    simul_scope sc;
    simul_scope_enter_shielded(&sc, simul_now() + SIMUL_PG_CANCEL_TIMEOUT);
    int r = 0;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        r = simul_pg_exec(c, "ROLLBACK");
    if (r >= 0 && p->reset_sql)
        r = simul_pg_exec(c, p->reset_sql);
    simul_scope_exit(&sc);
    c->depth = 0;
    memset(&c->err, 0, sizeof c->err);
    return r >= 0 && simul_pg_status(c) == SIMUL_PG_OK;
}

int simul_pg_pool_release(simul_pg_pool *p, simul_pg *c)
{
    if (!p || !c || c->pool != p)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    c->pool = NULL;
    if (reset(p, c) && p->nidle < p->max_size) {
        p->idle[p->nidle++] = c;
    } else {
        if (simul_pg_close(c) < 0)
            return -EBUSY;   /* a task is still inside a call on c */
        p->nopen--;
    }
    simul_sem_release(p->sem);
    return 0;
}

int simul_pg_pool_size(const simul_pg_pool *p)
{
    return p ? p->nopen : -EINVAL;
}

int simul_pg_pool_idle(const simul_pg_pool *p)
{
    return p ? p->nidle : -EINVAL;
}
