/*
 * conn.c - a PostgreSQL connection on the loop: the non-blocking connect
 * (PQconnectStart / PQconnectPoll, one fd wait per step, the socket
 * forgotten in the fd table before each step because libpq may close it
 * and open another - multi-host fallback, a TLS or GSS retry), close, the
 * waits every operation is made of (flush, await a result), the server-side
 * cancel of a query whose task was cancelled, and error records. libpq runs
 * in non-blocking mode throughout: no libpq call made here ever blocks the
 * loop except PQcancel, which runs in the thread pool.
 */
#include "pg_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The calling thread's last connect failure (simul_pg_last_error(NULL)). */
static __thread simul_pg_error last_connect_error;

static void copy_field(char *dst, size_t cap, const char *src)
{
    if (!src)
        src = "";
    size_t n = strlen(src);
    /* libpq's messages end with a newline; keep the text only */
    while (n && (src[n - 1] == '\n' || src[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int simul__pg_fail(simul_pg *c, int code, const PGresult *res)
{
    simul_pg_error e;
    memset(&e, 0, sizeof e);
    e.code = code;
    if (res && PQresultErrorField(res, PG_DIAG_SQLSTATE)) {
        copy_field(e.sqlstate, sizeof e.sqlstate, PQresultErrorField(res, PG_DIAG_SQLSTATE));
        const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
        copy_field(e.severity, sizeof e.severity,
                   sev ? sev : PQresultErrorField(res, PG_DIAG_SEVERITY));
        copy_field(e.message, sizeof e.message, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        copy_field(e.detail, sizeof e.detail, PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL));
        copy_field(e.hint, sizeof e.hint, PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
    } else if (res) {
        copy_field(e.message, sizeof e.message, PQresultErrorMessage(res));
    } else if (c && c->pg) {
        copy_field(e.message, sizeof e.message, PQerrorMessage(c->pg));
    }
    if (c)
        c->err = e;
    else
        last_connect_error = e;
    return code;
}

int simul_pg_last_error(const simul_pg *c, simul_pg_error *e)
{
    const simul_pg_error *src = c ? &c->err : &last_connect_error;
    if (src->code == 0)
        return -ENOENT;
    if (e)
        *e = *src;
    return 0;
}

void simul__pg_sync_fd(simul_pg *c)
{
    int s = c->pg ? PQsocket(c->pg) : -1;
    if (s == c->fd)
        return;
    simul_loop *l = simul__loop();
    if (l && c->fd >= 0)
        simul__fd_forget(l, c->fd);   /* libpq closed it */
    /* a new socket of libpq's: anything the table still holds under its
     * number belonged to a file closed behind the runtime's back */
    if (l && s >= 0)
        simul__fd_forget(l, s);
    c->fd = s;
}

/* Closes libpq's side now (the socket forgotten first); c stays allocated
 * until simul_pg_close, and every call on it fails with SIMUL_PG_EBROKEN. */
static void hang_up(simul_pg *c)
{
    simul_loop *l = simul__loop();
    simul__pg_pipeline_abort(c);
    if (l && c->fd >= 0)
        simul__fd_forget(l, c->fd);
    c->fd = -1;
    if (c->copy_buf) {
        PQfreemem(c->copy_buf);
        c->copy_buf = NULL;
    }
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    c->broken = 1;
}

int simul__pg_broken(simul_pg *c)
{
    if (c->err.code != SIMUL_PG_EBROKEN || !c->broken)
        simul__pg_fail(c, SIMUL_PG_EBROKEN, NULL);
    hang_up(c);
    return SIMUL_PG_EBROKEN;
}

static void notice(void *arg, const char *msg)
{
    (void)arg;
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        n--;
    simul__log(SIMUL_LOG_DEBUG, "pg: %.*s", (int)n, msg);
}

int simul_pg_connect(const char *conninfo, double timeout, simul_pg **out)
{
    if (!conninfo || !out || isnan(timeout) || timeout < 0)
        return -EINVAL;
    *out = NULL;
    if (!simul__current())
        return -EPERM;
    if (simul_cancelled())
        return -ECANCELED;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    if (!opts) {
        if (!msg)
            return -ENOMEM;
        memset(&last_connect_error, 0, sizeof last_connect_error);
        last_connect_error.code = SIMUL_PG_ECONNINFO;
        copy_field(last_connect_error.message, sizeof last_connect_error.message, msg);
        PQfreemem(msg);
        return SIMUL_PG_ECONNINFO;
    }
    PQconninfoFree(opts);

    simul_pg *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd = -1;
    c->cache = 256;
    c->pg = PQconnectStart(conninfo);
    if (!c->pg) {
        free(c);
        return -ENOMEM;
    }
    /* libpq's default prints NOTICEs and WARNINGs to stderr: the library
     * never prints, so they go to the log hook (debug level) */
    PQsetNoticeProcessor(c->pg, notice, NULL);
    int64_t deadline = simul__deadline_ns(simul_now() + timeout);
    simul_loop *l = simul__loop();
    int r = 0;
    /* libpq's rule: start as if PQconnectPoll had said WRITING */
    PostgresPollingStatusType st = PQstatus(c->pg) == CONNECTION_BAD ? PGRES_POLLING_FAILED
                                                                     : PGRES_POLLING_WRITING;
    for (;;) {
        simul__pg_sync_fd(c);
        if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED)
            break;
        if (c->fd < 0) {
            st = PGRES_POLLING_FAILED;
            break;
        }
        r = simul__fd_wait(c->fd, st == PGRES_POLLING_READING ? SIMUL_READABLE : SIMUL_WRITABLE,
                           deadline, 0);
        if (r < 0)
            break;
        /* this step may close the socket (next host, TLS refused, ...) */
        simul__fd_forget(l, c->fd);
        c->fd = -1;
        st = PQconnectPoll(c->pg);
    }
    if (r >= 0 && st == PGRES_POLLING_FAILED)
        r = SIMUL_PG_ECONNECT;
    else if (r >= 0 && PQsetnonblocking(c->pg, 1) != 0)
        r = -ENOMEM;
    if (r < 0) {
        memset(&last_connect_error, 0, sizeof last_connect_error);
        last_connect_error.code = r;
        if (r == SIMUL_PG_ECONNECT)
            copy_field(last_connect_error.message, sizeof last_connect_error.message,
                       PQerrorMessage(c->pg));
        hang_up(c);
        free(c);
        return r;
    }
    *out = c;
    return 0;
}

int simul_pg_close(simul_pg *c)
{
    if (!c)
        return -EINVAL;
    if (c->inside || c->npending || c->busy)
        return -EBUSY;
    hang_up(c);
    simul__pg_cache_free(c);
    free(c);
    return 0;
}

int simul_pg_status(const simul_pg *c)
{
    if (!c)
        return -EINVAL;
    return c->broken || PQstatus(c->pg) != CONNECTION_OK ? SIMUL_PG_BAD : SIMUL_PG_OK;
}

int simul_pg_transaction_status(const simul_pg *c)
{
    if (!c)
        return -EINVAL;
    return (int)PQtransactionStatus(c->pg);
}

int simul_pg_backend_pid(const simul_pg *c)
{
    if (!c)
        return -EINVAL;
    return PQbackendPID(c->pg);
}

int simul__pg_enter(simul_pg *c)
{
    if (!c)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    if (c->broken || PQstatus(c->pg) != CONNECTION_OK)
        return c->broken ? SIMUL_PG_EBROKEN : simul__pg_broken(c);
    if (c->busy || c->pipeline)
        return -EBUSY;
    if (simul_cancelled())
        return -ECANCELED;
    c->busy = 1;
    c->inside++;
    return 0;
}

void simul__pg_leave(simul_pg *c)
{
    c->busy = 0;
    c->inside--;
}

/* A wait on the socket; a forgotten socket (-EBADF) means libpq lost it. */
static int wait_sock(simul_pg *c, int events)
{
    if (c->fd < 0)
        return simul__pg_broken(c);
    int ev = simul__fd_wait(c->fd, events, SIMUL__NO_DEADLINE, 0);
    if (ev == -EBADF)
        return simul__pg_broken(c);
    return ev;
}

int simul__pg_flush(simul_pg *c)
{
    for (;;) {
        int r = PQflush(c->pg);
        if (r == 0)
            return 0;
        if (r < 0)
            return simul__pg_broken(c);
        int ev = wait_sock(c, SIMUL_READABLE | SIMUL_WRITABLE);
        if (ev < 0)
            return ev;
        /* the server may be blocked writing to us: read meanwhile */
        if ((ev & SIMUL_READABLE) && !PQconsumeInput(c->pg))
            return simul__pg_broken(c);
    }
}

int simul__pg_read(simul_pg *c, int64_t deadline)
{
    if (c->fd < 0)
        return simul__pg_broken(c);
    int ev = simul__fd_wait(c->fd, SIMUL_READABLE, deadline, 0);
    if (ev == -EBADF)
        return simul__pg_broken(c);
    if (ev < 0)
        return ev;
    return PQconsumeInput(c->pg) ? 0 : simul__pg_broken(c);
}

int simul__pg_await(simul_pg *c)
{
    while (PQisBusy(c->pg)) {
        int r = simul__pg_read(c, SIMUL__NO_DEADLINE);
        if (r < 0)
            return r;
    }
    return 0;
}

static int is_error(ExecStatusType st)
{
    return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR;
}

int simul__pg_next(simul_pg *c, PGresult **res)
{
    int r = simul__pg_await(c);
    if (r < 0)
        return r;
    *res = PQgetResult(c->pg);
    return *res != NULL;
}

int simul__pg_collect(simul_pg *c, PGresult **out)
{
    PGresult *keep = NULL, *err = NULL, *res;
    int r;
    while ((r = simul__pg_next(c, &res)) > 0) {
        ExecStatusType st = PQresultStatus(res);
        if (is_error(st)) {
            if (err)
                PQclear(res);
            else
                err = res;
            continue;
        }
        PQclear(keep);
        keep = res;
        /* COPY: the caller takes over (PQgetResult would say COPY again) */
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
            break;
    }
    if (r == -ECANCELED) {
        PQclear(keep);
        PQclear(err);
        return simul__pg_cancel(c);
    }
    if (err) {
        r = simul__pg_fail(c, SIMUL_PG_ESERVER, err);
        /* a FATAL error ends the session (pg_terminate_backend, shutdown) */
        if (PQstatus(c->pg) != CONNECTION_OK) {
            c->broken = 1;
            c->err.code = r = SIMUL_PG_EBROKEN;
            simul_pg_error keep_err = c->err;
            hang_up(c);
            c->err = keep_err;
        }
        PQclear(err);
        PQclear(keep);
        return r;
    }
    if (r < 0) {
        PQclear(keep);
        return r;
    }
    if (out)
        *out = keep;
    else
        PQclear(keep);
    return 0;
}

/* In a pool thread: PQcancel blocks (a connect and an exchange with the
 * postmaster). The job owns the PGcancel, so an abandoned job is harmless. */
static void *cancel_job(void *arg)
{
    char buf[256];
    int ok = PQcancel(arg, buf, sizeof buf);
    PQfreeCancel(arg);
    return (void *)(intptr_t)ok;
}

int simul__pg_cancel_request(simul_pg *c)
{
    PGcancel *cn = PQgetCancel(c->pg);
    void *ok = NULL;
    int r = cn ? simul_to_thread(cancel_job, cn, &ok) : -ENOMEM;
    return r == 0 && !ok ? -EIO : r;
}

int simul__pg_cancel(simul_pg *c)
{
    simul_scope sc;
    int r = simul_scope_enter_shielded(&sc, simul_now() + SIMUL_PG_CANCEL_TIMEOUT);
    if (r < 0) {
        simul__pg_broken(c);
        return -ECANCELED;
    }
    /* a query half-sent must be sent whole before it can be cancelled */
    r = simul__pg_flush(c);
    /* ACTIVE until the server's ReadyForQuery arrived: rows already
     * buffered (a row stream) do not mean the command has ended */
    if (r == 0 && PQtransactionStatus(c->pg) == PQTRANS_ACTIVE)
        r = simul__pg_cancel_request(c);
    /* drain: the cancelled query's error (57014) or its results */
    PGresult *res;
    while (r == 0 && (r = simul__pg_next(c, &res)) > 0) {
        ExecStatusType st = PQresultStatus(res);
        PQclear(res);
        r = st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH
                ? -EPROTO   /* a COPY cannot be drained this way: close */
                : 0;
    }
    simul_scope_exit(&sc);
    if (r < 0 && !c->broken)
        simul__pg_broken(c);
    return -ECANCELED;
}

/* ---- error messages ------------------------------------------------------ */

/* simul_strerror's words for this layer's range, registered at load time
 * (this file is linked whenever the layer is), so the core names none. */
static const char *message(int code)
{
    switch (-code) {   /* code is negative, the cases positive */
    case -SIMUL_PG_ESERVER:     return "PostgreSQL server error (simul_pg_last_error has the SQLSTATE)";
    case -SIMUL_PG_ECONNECT:    return "Could not connect to the PostgreSQL server";
    case -SIMUL_PG_EBROKEN:     return "PostgreSQL connection lost";
    case -SIMUL_PG_ECONNINFO:   return "Invalid PostgreSQL connection string";
    case -SIMUL_PG_EPROTO:      return "Unexpected PostgreSQL result for this call";
    default: return NULL;
    }
}

static const simul__errtab errtab = { -3299, -3200, message };

__attribute__((constructor)) static void register_messages(void)
{
    simul__strerror_add(&errtab);
}
