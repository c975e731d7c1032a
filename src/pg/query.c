/*
 * query.c - running statements: parameters (text, or binary built by the
 * simul_pg_int4/... constructors with the value inline in the struct), the
 * per-connection prepared-statement cache (an open-addressing table keyed
 * by the SQL text's hash; full: statements run unnamed), and
 * simul_pg_query itself: send, flush, collect - or, in pipeline mode,
 * hand the query to pipeline.c. Also the statements built on it:
 * transactions with savepoints for nesting, and waiting for NOTIFY.
 */
#include "pg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Type OIDs (catalog/pg_type.h, stable across versions). */
enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT4 = 23, OID_FLOAT8 = 701 };

#define PG_CACHE_MAX 4096

static simul_pg_param binary(unsigned type, const void *be, int n)
{
    simul_pg_param p;
    memset(&p, 0, sizeof p);
    p.length = n;
    p.format = 1;
    p.type = type;
    memcpy(p.inline_, be, (size_t)n);
    return p;
}

simul_pg_param simul_pg_null(void)
{
    simul_pg_param p;
    memset(&p, 0, sizeof p);
    p.length = -1;
    return p;
}

simul_pg_param simul_pg_text(const char *s)
{
    simul_pg_param p;
    memset(&p, 0, sizeof p);
    p.value = s;
    p.length = s ? 0 : -1;
    return p;
}

simul_pg_param simul_pg_bytes(const void *ptr, int n)
{
    simul_pg_param p;
    memset(&p, 0, sizeof p);
    p.value = ptr ? ptr : "";
    p.length = n < 0 ? 0 : n;
    p.format = 1;
    p.type = OID_BYTEA;
    return p;
}

simul_pg_param simul_pg_int4(int32_t v)
{
    uint32_t be = __builtin_bswap32((uint32_t)v);
    return binary(OID_INT4, &be, 4);
}

simul_pg_param simul_pg_int8(int64_t v)
{
    uint64_t be = __builtin_bswap64((uint64_t)v);
    return binary(OID_INT8, &be, 8);
}

simul_pg_param simul_pg_float8(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    u = __builtin_bswap64(u);
    return binary(OID_FLOAT8, &u, 8);
}

simul_pg_param simul_pg_bool(int v)
{
    unsigned char b = v != 0;
    return binary(OID_BOOL, &b, 1);
}

/* ---- the prepared-statement cache -------------------------------------- */

static uint64_t hash_sql(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Table size: a power of two at least twice the cache size. */
static int table_size(int cache)
{
    int n = 16;
    while (n < 2 * cache)
        n *= 2;
    return n;
}

static pg_stmt *stmt_find(simul_pg *c, const char *sql, uint64_t h)
{
    if (!c->stmts)
        return NULL;
    int mask = table_size(c->cache) - 1;
    for (int i = (int)(h & (uint64_t)mask);; i = (i + 1) & mask) {
        pg_stmt *s = &c->stmts[i];
        if (!s->sql)
            return NULL;
        if (s->hash == h && strcmp(s->sql, sql) == 0)
            return s;
    }
}

/* A free slot for sql, or NULL when the cache is full (or memory short). */
static pg_stmt *stmt_slot(simul_pg *c, uint64_t h)
{
    if (c->nstmts >= c->cache)
        return NULL;
    if (!c->stmts) {
        c->stmts = calloc((size_t)table_size(c->cache), sizeof *c->stmts);
        if (!c->stmts)
            return NULL;
    }
    int mask = table_size(c->cache) - 1;
    int i = (int)(h & (uint64_t)mask);
    while (c->stmts[i].sql)
        i = (i + 1) & mask;
    return &c->stmts[i];
}

int simul_pg_set_cache(simul_pg *c, int size)
{
    if (!c || size < 0 || size > PG_CACHE_MAX)
        return -EINVAL;
    if (size < c->nstmts)
        size = c->nstmts;   /* prepared statements stay: never shrink below them */
    int old = table_size(c->cache), now = table_size(size);
    if (c->stmts && now != old) {
        pg_stmt *t = calloc((size_t)now, sizeof *t);
        if (!t)
            return -ENOMEM;
        for (int i = 0; i < old; i++) {
            if (!c->stmts[i].sql)
                continue;
            int j = (int)(c->stmts[i].hash & (uint64_t)(now - 1));
            while (t[j].sql)
                j = (j + 1) & (now - 1);
            t[j] = c->stmts[i];
        }
        free(c->stmts);
        c->stmts = t;
        c->last_stmt = NULL;   /* it pointed into the old table */
    }
    c->cache = size;
    return 0;
}

void simul__pg_cache_free(simul_pg *c)
{
    if (c->stmts) {
        for (int i = 0, n = table_size(c->cache); i < n; i++)
            free(c->stmts[i].sql);
    }
    free(c->stmts);
    c->stmts = NULL;
    c->nstmts = 0;
    c->last_stmt = NULL;
}

/* ---- queries ------------------------------------------------------------ */

/* libpq's parallel arrays, on the stack for small n. */
#define PARAMS_ON_STACK 16
typedef struct pg_args {
    const char **vals;
    int         *lens, *fmts;
    Oid         *types;
    const char  *v[PARAMS_ON_STACK];
    int          l[PARAMS_ON_STACK], f[PARAMS_ON_STACK];
    Oid          t[PARAMS_ON_STACK];
    void        *heap;
} pg_args;

static int args_init(pg_args *a, const simul_pg_param *p, int n)
{
    a->heap = NULL;
    a->vals = a->v;
    a->lens = a->l;
    a->fmts = a->f;
    a->types = a->t;
    if (n > PARAMS_ON_STACK) {
        size_t each = sizeof(char *) + 2 * sizeof(int) + sizeof(Oid);
        char *m = malloc(each * (size_t)n);
        if (!m)
            return -ENOMEM;
        a->heap = m;
        a->vals = (const char **)m;
        a->lens = (int *)(m + sizeof(char *) * (size_t)n);
        a->fmts = a->lens + n;
        a->types = (Oid *)(a->fmts + n);
    }
    for (int i = 0; i < n; i++) {
        const simul_pg_param *q = &p[i];
        if (q->value)
            a->vals[i] = q->value;
        else
            a->vals[i] = q->length >= 0 && q->format == 1 ? (const char *)q->inline_ : NULL;
        a->lens[i] = q->length < 0 ? 0 : q->length;
        a->fmts[i] = q->format ? 1 : 0;
        a->types[i] = q->type;
    }
    return 0;
}

/* Sends the statement (preparing it first when it goes to the cache) and
 * collects its result. c is held by the caller. */
static int run(simul_pg *c, const char *sql, pg_args *a, int n, int flags, PGresult **out)
{
    int rfmt = (flags & SIMUL_PG_BINARY) ? 1 : 0;
    int ok;
    if (n > 0 && !(flags & SIMUL_PG_NOCACHE) && c->cache > 0) {
        /* a loop runs one statement again and again: compare before hashing */
        pg_stmt *s = c->last_stmt;
        uint64_t h = 0;
        if (!s || strcmp(s->sql, sql) != 0)
            s = stmt_find(c, sql, h = hash_sql(sql));
        if (!s && (s = stmt_slot(c, h)) != NULL) {
            char name[20];
            snprintf(name, sizeof name, "simul_%u", c->next_stmt);
            if (!PQsendPrepare(c->pg, name, sql, n, a->types))
                return simul__pg_broken(c);
            int r = simul__pg_flush(c);
            if (r == 0)
                r = simul__pg_collect(c, NULL);
            else if (r == -ECANCELED)
                r = simul__pg_cancel(c);
            if (r < 0)
                return r;
            s->sql = strdup(sql);
            if (s->sql) {   /* else: prepared, but not cached (runs as is) */
                s->hash = h;
                s->nparams = (unsigned)n;
                memcpy(s->name, name, sizeof name);
                c->nstmts++;
                c->next_stmt++;
            } else {
                s = NULL;
                ok = PQsendQueryPrepared(c->pg, name, n, a->vals, a->lens, a->fmts, rfmt);
                goto sent;
            }
        }
        if (s) {
            c->last_stmt = s;
            ok = PQsendQueryPrepared(c->pg, s->name, n, a->vals, a->lens, a->fmts, rfmt);
            goto sent;
        }
    }
    if (n == 0 && !rfmt)
        ok = PQsendQuery(c->pg, sql);   /* simple protocol: several statements allowed */
    else
        ok = PQsendQueryParams(c->pg, sql, n, a->types, a->vals, a->lens, a->fmts, rfmt);
sent:
    if (!ok)
        return simul__pg_broken(c);
    int r = simul__pg_flush(c);
    if (r == -ECANCELED)
        return simul__pg_cancel(c);
    if (r < 0)
        return r;
    return simul__pg_collect(c, out);
}

int simul__pg_send_params(simul_pg *c, const char *sql, const simul_pg_param *params, int n,
                          int rfmt)
{
    pg_args a;
    int r = args_init(&a, params, n);
    if (r < 0)
        return r;
    if (!PQsendQueryParams(c->pg, sql, n, a.types, a.vals, a.lens, a.fmts, rfmt))
        r = simul__pg_broken(c);
    free(a.heap);
    return r;
}

int simul_pg_query_ex(simul_pg *c, const char *sql, const simul_pg_param *params, int n,
                      int flags, simul_pg_result **out)
{
    if (out)
        *out = NULL;
    if (!c || !sql || n < 0 || n > 65535 || (n > 0 && !params))
        return -EINVAL;
    pg_args a;
    int r = args_init(&a, params, n);
    if (r < 0)
        return r;
    PGresult *res = NULL;
    if (c->pipeline) {
        if (!simul__current())
            r = -EPERM;
        else
            r = simul__pg_pipeline_query(c, sql, n, a.vals, a.lens, a.fmts, a.types,
                                         (flags & SIMUL_PG_BINARY) ? 1 : 0, &res);
    } else if ((r = simul__pg_enter(c)) == 0) {
        r = run(c, sql, &a, n, flags, &res);
        simul__pg_leave(c);
    }
    free(a.heap);
    if (r == 0 && out)
        *out = (simul_pg_result *)res;
    else
        PQclear(res);
    return r;
}

int simul_pg_query(simul_pg *c, const char *sql, const simul_pg_param *params, int n,
                   simul_pg_result **out)
{
    return simul_pg_query_ex(c, sql, params, n, 0, out);
}

int simul_pg_exec(simul_pg *c, const char *sql)
{
    simul_pg_result *r = NULL;
    int rc = simul_pg_query_ex(c, sql, NULL, 0, 0, &r);
    if (rc < 0)
        return rc;
    long long n = simul_pg_affected(r);
    simul_pg_result_free(r);
    return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

/* ---- transactions ----------------------------------------------------------- */

/* Runs a transaction-control statement; rollbacks run shielded (they are
 * clean-up, also in a cancelled task) with the cancel timeout. */
static int tx_stmt(simul_pg *c, const char *sql, int cleanup)
{
    simul_scope sc;
    if (cleanup)
        simul_scope_enter_shielded(&sc, simul_now() + SIMUL_PG_CANCEL_TIMEOUT);
    int r = simul_pg_query(c, sql, NULL, 0, NULL);
    if (cleanup)
        simul_scope_exit(&sc);
    return r;
}

int simul_pg_begin(simul_pg *c)
{
    if (!c)
        return -EINVAL;
    char sql[48];
    if (c->depth == 0)
        snprintf(sql, sizeof sql, "BEGIN");
    else
        snprintf(sql, sizeof sql, "SAVEPOINT simul_sp_%d", c->depth);
    int r = tx_stmt(c, sql, 0);
    if (r == 0)
        c->depth++;
    return r;
}

int simul_pg_commit(simul_pg *c)
{
    if (!c)
        return -EINVAL;
    if (c->depth == 0)
        return -EINVAL;
    char sql[48];
    if (c->depth == 1)
        snprintf(sql, sizeof sql, "COMMIT");
    else
        snprintf(sql, sizeof sql, "RELEASE SAVEPOINT simul_sp_%d", c->depth - 1);
    int r = tx_stmt(c, sql, 0);
    /* COMMIT ends the block whatever it says (a failed block rolls back) */
    if (r == 0 || c->depth == 1)
        c->depth--;
    return r;
}

int simul_pg_rollback(simul_pg *c)
{
    if (!c)
        return -EINVAL;
    if (c->depth == 0)
        return -EINVAL;
    char sql[96];
    if (c->depth == 1)
        snprintf(sql, sizeof sql, "ROLLBACK");
    else
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT simul_sp_%d; RELEASE SAVEPOINT simul_sp_%d",
                 c->depth - 1, c->depth - 1);
    int r = tx_stmt(c, sql, 1);
    c->depth--;
    return r;
}

/* ---- LISTEN / NOTIFY ------------------------------------------------------- */

int simul_pg_notify_wait_until(simul_pg *c, double deadline, simul_pg_notify **out)
{
    if (!out || isnan(deadline))
        return -EINVAL;
    *out = NULL;
    int r = simul__pg_enter(c);
    if (r < 0)
        return r;
    int64_t dl = simul__deadline_ns(deadline);
    for (;;) {
        PGnotify *n = PQnotifies(c->pg);
        if (n) {
            size_t lc = strlen(n->relname) + 1, lp = strlen(n->extra) + 1;
            simul_pg_notify *m = malloc(sizeof *m + lc + lp);
            if (!m) {
                r = -ENOMEM;
            } else {
                m->channel = (char *)(m + 1);
                m->payload = m->channel + lc;
                memcpy(m->channel, n->relname, lc);
                memcpy(m->payload, n->extra, lp);
                m->pid = n->be_pid;
                *out = m;
            }
            PQfreemem(n);
            break;
        }
        if ((r = simul__pg_read(c, dl)) < 0)
            break;
    }
    simul__pg_leave(c);
    return r;
}

void simul_pg_notify_free(simul_pg_notify *n)
{
    free(n);
}
