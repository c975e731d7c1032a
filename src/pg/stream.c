/*
 * stream.c - results a row at a time and COPY: a row stream (libpq's
 * single-row mode: one PGresult per row, so a million-row SELECT never sits
 * in memory whole) and COPY FROM STDIN / TO STDOUT, each holding the
 * connection from _open to _close. COPY FROM applies backpressure: at most
 * PG_COPY_UNFLUSHED bytes are handed to libpq (whose output buffer grows
 * without bound in non-blocking mode) before the writer waits for the
 * socket to take them: past 256 KiB each write pushes what the socket takes
 * without waiting; at 1 MiB unsent it waits until all is sent.
 */
#include "pg_internal.h"

#include <stdlib.h>
#include <string.h>

/* COPY FROM: unsent bytes past which each write pushes (4x: waits). */
#define PG_COPY_UNFLUSHED (256 * 1024)

/* The stream's command is over: c is free for the next call. */
static void end_stream(simul_pg *c)
{
    if (c->copy_buf) {
        PQfreemem(c->copy_buf);
        c->copy_buf = NULL;
    }
    c->stream = PG_STREAM_NONE;
    c->stream_done = 0;
    c->copy_unflushed = 0;
    c->busy = 0;
}

/* Checks a stream call: c holds a stream of kind `kind`. */
static int stream_check(simul_pg *c, int kind)
{
    if (!c)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    if (c->stream != kind)
        return -EINVAL;
    return 0;
}

/* Drains whatever the stream's command still has, cancelling it on the
 * server if it runs. 0, or SIMUL_PG_EBROKEN when the connection had to go. */
static int abandon(simul_pg *c)
{
    if (!c->broken && !c->stream_done)
        simul__pg_cancel(c);
    return c->broken ? SIMUL_PG_EBROKEN : 0;
}

int simul_pg_stream_open(simul_pg *c, const char *sql, const simul_pg_param *params, int n,
                         int flags)
{
    if (!c || !sql || n < 0 || n > 65535 || (n > 0 && !params))
        return -EINVAL;
    int r = simul__pg_enter(c);
    if (r < 0)
        return r;
    r = simul__pg_send_params(c, sql, params, n, (flags & SIMUL_PG_BINARY) ? 1 : 0);
    if (r == 0 && !PQsetSingleRowMode(c->pg))
        r = simul__pg_broken(c);
    if (r == 0) {
        r = simul__pg_flush(c);
        if (r == -ECANCELED)
            r = simul__pg_cancel(c);
    }
    c->inside--;
    if (r < 0) {
        c->busy = 0;
        return r;
    }
    c->stream = PG_STREAM_ROWS;
    return 0;
}

int simul_pg_stream_next(simul_pg *c, simul_pg_result **row)
{
    if (row)
        *row = NULL;
    int r = stream_check(c, PG_STREAM_ROWS);
    if (r < 0 || !row)
        return r < 0 ? r : -EINVAL;
    if (c->stream_done)
        return 0;
    c->inside++;
    PGresult *res = NULL, *err = NULL;
    while ((r = simul__pg_next(c, &res)) > 0) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && !err) {
            *row = (simul_pg_result *)res;
            c->inside--;
            return 1;
        }
        if ((st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) && !err)
            err = res;   /* then drain to the end */
        else
            PQclear(res);
    }
    c->inside--;
    if (r == -ECANCELED)
        r = simul__pg_cancel(c);
    c->stream_done = 1;
    if (err) {
        r = r < 0 ? r : simul__pg_fail(c, SIMUL_PG_ESERVER, err);
        PQclear(err);
    }
    return r;
}

int simul_pg_stream_close(simul_pg *c)
{
    int r = stream_check(c, PG_STREAM_ROWS);
    if (r < 0)
        return r;
    c->inside++;
    r = abandon(c);
    c->inside--;
    end_stream(c);
    return r;
}

/* ---- COPY ----------------------------------------------------------------- */

int simul_pg_copy_open(simul_pg *c, const char *sql)
{
    if (!c || !sql)
        return -EINVAL;
    int r = simul__pg_enter(c);
    if (r < 0)
        return r;
    PGresult *res = NULL;
    if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0))
        r = simul__pg_broken(c);
    if (r == 0) {
        r = simul__pg_flush(c);
        if (r == -ECANCELED)
            r = simul__pg_cancel(c);
    }
    if (r == 0)
        r = simul__pg_collect(c, &res);
    c->inside--;
    if (r < 0) {
        c->busy = 0;
        return r;
    }
    ExecStatusType st = PQresultStatus(res);
    PQclear(res);
    if (st == PGRES_COPY_IN) {
        c->stream = PG_STREAM_COPY_IN;
        return SIMUL_PG_COPY_IN;
    }
    if (st == PGRES_COPY_OUT) {
        c->stream = PG_STREAM_COPY_OUT;
        return SIMUL_PG_COPY_OUT;
    }
    /* not a COPY FROM STDIN / TO STDOUT (it ran, or it is COPY BOTH) */
    c->busy = 0;
    if (st == PGRES_COPY_BOTH)
        return simul__pg_broken(c);
    return SIMUL_PG_EPROTO;
}

/* Ends a COPY FROM with PQputCopyEnd(errmsg) and collects the command's
 * result: the rows copied (>= 0), SIMUL_PG_ESERVER, or a wait's error. */
static int copy_in_end(simul_pg *c, const char *errmsg)
{
    int r;
    while ((r = PQputCopyEnd(c->pg, errmsg)) == 0) {
        if ((r = simul__pg_flush(c)) < 0)
            return r;
    }
    if (r < 0)
        return simul__pg_broken(c);
    PGresult *res = NULL;
    if ((r = simul__pg_flush(c)) < 0 || (r = simul__pg_collect(c, &res)) < 0)
        return r;
    long long n = simul_pg_affected((simul_pg_result *)res);
    PQclear(res);
    return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

/* A COPY FROM whose writer was cancelled: end it with an error, shielded,
 * so the server rolls it back and the connection stays usable. */
static int copy_in_abort(simul_pg *c)
{
    simul_scope sc;
    simul_scope_enter_shielded(&sc, simul_now() + SIMUL_PG_CANCEL_TIMEOUT);
    int r = copy_in_end(c, "cancelled by the client");
    simul_scope_exit(&sc);
    c->stream_done = 1;
    if (r != SIMUL_PG_ESERVER && !c->broken)
        simul__pg_broken(c);
    return -ECANCELED;
}

int simul_pg_copy_write(simul_pg *c, const void *buf, size_t n)
{
    int r = stream_check(c, PG_STREAM_COPY_IN);
    if (r < 0)
        return r;
    if ((!buf && n) || n > 0x7fffffff)
        return -EINVAL;
    if (c->stream_done)
        return c->broken ? SIMUL_PG_EBROKEN : -EPIPE;
    if (simul_cancelled())
        return copy_in_abort(c);
    c->inside++;
    while ((r = PQputCopyData(c->pg, buf, (int)n)) == 0) {
        /* libpq could not take it: let the socket drain */
        if ((r = simul__pg_flush(c)) < 0)
            break;
        c->copy_unflushed = 0;
    }
    if (r > 0) {
        r = 0;
        c->copy_unflushed += n;
        if (c->copy_unflushed >= PG_COPY_UNFLUSHED) {
            /* push without waiting while under the cap, so the socket always
             * has the next bytes; at the cap, wait until it took them all */
            int f = PQflush(c->pg);
            if (f < 0) {
                r = simul__pg_broken(c);
            } else if (f == 0) {
                c->copy_unflushed = 0;
            } else if (c->copy_unflushed >= 4 * PG_COPY_UNFLUSHED) {
                r = simul__pg_flush(c);
                c->copy_unflushed = 0;
            }
        }
    } else if (r == -1) {
        r = simul__pg_broken(c);
    }
    c->inside--;
    if (r == -ECANCELED)
        return copy_in_abort(c);
    if (r < 0)
        c->stream_done = 1;
    return r;
}

/* The next row of a COPY TO (> 0: its length, kept in c->copy_buf), 0 at
 * the end (the command's result collected), or an error. */
static int copy_out_next(simul_pg *c, const char **data)
{
    for (;;) {
        char *row = NULL;
        int n = PQgetCopyData(c->pg, &row, 1);
        if (n > 0) {
            /* the row before it, when a caller's loop did not free it
             * (copy_out_abandon reads on after copy_read's last row) */
            PQfreemem(c->copy_buf);
            c->copy_buf = row;
            *data = row;
            return n;
        }
        if (n == -1)
            return simul__pg_collect(c, NULL);
        if (n < -1)
            return simul__pg_broken(c);
        int r = simul__pg_read(c, SIMUL__NO_DEADLINE);
        if (r < 0)
            return r;
    }
}

/* A COPY TO left before its end (cancelled reader, early close): cancel it
 * on the server and read what is still coming, shielded; the connection
 * goes if that fails. -ECANCELED. */
static int copy_out_abandon(simul_pg *c)
{
    simul_scope sc;
    simul_scope_enter_shielded(&sc, simul_now() + SIMUL_PG_CANCEL_TIMEOUT);
    c->inside++;
    int r = simul__pg_cancel_request(c);
    const char *d;
    while (r == 0) {
        r = copy_out_next(c, &d);
        if (c->copy_buf) {
            PQfreemem(c->copy_buf);
            c->copy_buf = NULL;
        }
        if (r > 0)
            r = 0;
        else if (r == 0)
            break;
    }
    c->inside--;
    simul_scope_exit(&sc);
    /* the end of a cancelled COPY is its 57014 error: the connection is fine */
    if (r < 0 && r != SIMUL_PG_ESERVER && !c->broken)
        simul__pg_broken(c);
    c->stream_done = 1;
    return -ECANCELED;
}

int simul_pg_copy_read(simul_pg *c, const char **data)
{
    int r = stream_check(c, PG_STREAM_COPY_OUT);
    if (r < 0 || !data)
        return r < 0 ? r : -EINVAL;
    *data = NULL;
    if (c->copy_buf) {
        PQfreemem(c->copy_buf);
        c->copy_buf = NULL;
    }
    if (c->stream_done)
        return 0;
    c->inside++;
    r = copy_out_next(c, data);
    c->inside--;
    if (r > 0)
        return r;
    if (r == -ECANCELED)
        return copy_out_abandon(c);
    c->stream_done = 1;
    return r;
}

int simul_pg_copy_close(simul_pg *c, const char *errmsg)
{
    if (!c)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    int kind = c->stream;
    if (kind != PG_STREAM_COPY_IN && kind != PG_STREAM_COPY_OUT)
        return -EINVAL;
    int r = 0;
    c->inside++;
    if (kind == PG_STREAM_COPY_IN && !c->stream_done) {
        simul_scope sc;
        /* ending must happen even in a cancelled task: the server waits */
        simul_scope_enter_shielded(&sc, simul_now() + SIMUL_PG_CANCEL_TIMEOUT);
        r = copy_in_end(c, errmsg);
        simul_scope_exit(&sc);
        if (r < 0 && r != SIMUL_PG_ESERVER && !c->broken)
            r = simul__pg_broken(c);
    } else if (kind == PG_STREAM_COPY_OUT && !c->stream_done && !c->broken) {
        copy_out_abandon(c);
        r = c->broken ? SIMUL_PG_EBROKEN : 0;
    } else if (c->broken) {
        r = SIMUL_PG_EBROKEN;
    }
    c->inside--;
    end_stream(c);
    return r;
}
