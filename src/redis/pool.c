/*
 * pool.c - a connection pool (redis-py's ConnectionPool with a blocking
 * acquire, asyncpg's create_pool in shape): a semaphore of max_size counts
 * the connections out, acquirers queue on it FIFO with their timeout; idle
 * connections are a stack (the most recently used on top, warm), each
 * checked when taken: the pool's connections never reconnect by
 * themselves, so one the server dropped while it sat idle has state DOWN
 * (its reader saw the end of stream) and is closed and replaced. Idle
 * connections above min_size are closed once idle_timeout passed,
 * oldest first, whenever the pool is used.
 */
#include "redis_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 1024

struct simul_redis_pool {
    char             *url;
    simul_redis_opts  o;          /* strings: copies owned below */
    char             *user, *password, *client_name;
    int               min_size, max_size;
    double            idle_timeout;
    simul_sem        *sem;        /* max_size - connections out */
    simul_redis     **idle;       /* a stack, max_size slots: [0] the oldest */
    int               nidle, nopen;
    int               waiting;    /* tasks in _acquire */
};

static int pool_connect(simul_redis_pool *p, simul_redis **out)
{
    int r = simul_redis_connect(p->url, &p->o, out);
    if (r == 0) {
        (*out)->pool = p;
        p->nopen++;
    }
    return r;
}

static void pool_drop(simul_redis_pool *p, simul_redis *c)
{
    c->pool = NULL;
    p->nopen--;
    simul_redis_close(c);
}

/* Closes idle connections past idle_timeout, oldest first, down to min. */
static void reap(simul_redis_pool *p)
{
    double now = simul_now();
    while (p->nidle > 0 && p->nopen > p->min_size &&
           now - p->idle[0]->idle_since >= p->idle_timeout) {
        simul_redis *c = p->idle[0];
        memmove(p->idle, p->idle + 1, (size_t)(p->nidle - 1) * sizeof *p->idle);
        p->nidle--;
        pool_drop(p, c);
    }
}

int simul_redis_pool_open(const char *url, const simul_redis_pool_opts *opts,
                          simul_redis_pool **out)
{
    if (!url || !out)
        return -EINVAL;
    *out = NULL;
    simul_redis_pool_opts o;
    memset(&o, 0, sizeof o);
    if (opts)
        o = *opts;
    if (o.max_size == 0)
        o.max_size = 10;
    if (o.idle_timeout == 0)
        o.idle_timeout = 300;
    if (o.max_size < 1 || o.max_size > POOL_MAX || o.min_size < 0 || o.min_size > o.max_size ||
        isnan(o.idle_timeout) || o.idle_timeout < 0)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    simul_redis_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->min_size = o.min_size;
    p->max_size = o.max_size;
    p->idle_timeout = o.idle_timeout;
    p->o = o.conn;
    p->o.reconnect = -1;   /* the pool replaces dropped connections */
    p->url = strdup(url);
    p->user = o.conn.user ? strdup(o.conn.user) : NULL;
    p->password = o.conn.password ? strdup(o.conn.password) : NULL;
    p->client_name = o.conn.client_name ? strdup(o.conn.client_name) : NULL;
    p->o.user = p->user;
    p->o.password = p->password;
    p->o.client_name = p->client_name;
    p->idle = calloc((size_t)o.max_size, sizeof *p->idle);
    p->sem = simul_sem_new((unsigned)o.max_size);
    int r = 0;
    if (!p->url || !p->idle || !p->sem || (o.conn.user && !p->user) ||
        (o.conn.password && !p->password) || (o.conn.client_name && !p->client_name))
        r = -ENOMEM;
    while (r == 0 && p->nidle < p->min_size) {
        simul_redis *c;
        r = pool_connect(p, &c);
        if (r == 0) {
            c->idle_since = simul_now();
            p->idle[p->nidle++] = c;
        }
    }
    if (r < 0) {
        while (p->nidle)
            pool_drop(p, p->idle[--p->nidle]);
        simul_redis_pool_close(p);
        return r;
    }
    *out = p;
    return 0;
}

int simul_redis_pool_close(simul_redis_pool *p)
{
    if (!p)
        return -EINVAL;
    if (p->nopen > p->nidle || p->waiting)
        return -EBUSY;
    while (p->nidle)
        pool_drop(p, p->idle[--p->nidle]);
    simul_sem_free(p->sem);
    free(p->idle);
    free(p->url);
    free(p->user);
    free(p->password);
    free(p->client_name);
    free(p);
    return 0;
}

int simul_redis_pool_acquire(simul_redis_pool *p, double timeout, simul_redis **out)
{
    if (!p || !out || isnan(timeout))
        return -EINVAL;
    *out = NULL;
    if (!simul__current())
        return -EPERM;
    double deadline = timeout >= 9.2e9 ? INFINITY : simul_now() + (timeout > 0 ? timeout : 0);
    p->waiting++;
    int r = simul_sem_acquire_until(p->sem, deadline);
    p->waiting--;
    if (r == -ETIMEDOUT)
        return SIMUL_REDIS_EPOOL;
    if (r < 0)
        return r;
    reap(p);
    while (p->nidle > 0) {
        simul_redis *c = p->idle[--p->nidle];
        if (c->state == SIMUL_REDIS_UP && !c->head) {
            c->pool_out = 1;
            *out = c;
            return 0;
        }
        pool_drop(p, c);   /* dropped while idle: replaced below */
    }
    r = pool_connect(p, out);
    if (r < 0)
        simul_sem_release(p->sem);
    else
        (*out)->pool_out = 1;
    return r;
}

int simul_redis_pool_release(simul_redis_pool *p, simul_redis *c)
{
    if (!p || !c || c->pool != p || !c->pool_out)
        return -EINVAL;
    c->pool_out = 0;
    if (c->state != SIMUL_REDIS_UP || c->head) {
        /* down, or an abandoned command (a BLPOP whose caller gave up)
         * still holds it: a fresh connection is cheaper than the wait */
        pool_drop(p, c);
    } else {
        c->idle_since = simul_now();
        p->idle[p->nidle++] = c;
    }
    simul_sem_release(p->sem);
    reap(p);
    return 0;
}

int simul_redis_pool_size(const simul_redis_pool *p)
{
    return p ? p->nopen : -EINVAL;
}

int simul_redis_pool_idle(const simul_redis_pool *p)
{
    return p ? p->nidle : -EINVAL;
}
