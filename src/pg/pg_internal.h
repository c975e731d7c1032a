/*
 * pg_internal.h - what the PostgreSQL layer's files share: the connection
 * record around libpq's PGconn, its socket as the loop's fd table knows it,
 * and the few waits every operation is made of (flush the output, wait for
 * a whole result). The layer sits above the I/O layer and uses the core's
 * fd waits directly: libpq owns the socket, so the connection forgets it in
 * the fd table whenever libpq may close or replace it (before each
 * PQconnectPoll step, when a call finds the connection dropped, before
 * PQfinish), and waits on it without the FOREIGN flag in between.
 */
#ifndef SIMUL_PG_INTERNAL_H
#define SIMUL_PG_INTERNAL_H

#include "../core/internal.h"

#include <simul/pg.h>

#include <libpq-fe.h>

/* A cached prepared statement: the SQL text and the server-side name. */
typedef struct pg_stmt {
    char     *sql;
    uint64_t  hash;
    unsigned  nparams;
    char      name[20];
} pg_stmt;

/* One query in flight in pipeline mode (src/pg/pipeline.c). */
typedef struct pg_req pg_req;

struct simul_pg {
    PGconn        *pg;
    int            fd;          /* libpq's socket as the fd table knows it, -1 */
    int            busy;        /* a task is in an exclusive call (not pipeline) */
    int            inside;      /* tasks inside any call on c (close: -EBUSY) */
    int            broken;      /* lost: every call fails with SIMUL_PG_EBROKEN */
    simul_pg_error err;         /* the last failure's details */
    /* prepared-statement cache: open addressing on hash, cap `cache` */
    pg_stmt       *stmts;
    int            nstmts, cache;
    unsigned       next_stmt;
    pg_stmt       *last_stmt;   /* the one the last cached query ran, or NULL */
    /* pipeline mode (pipeline.c) */
    int            pipeline;
    pg_req        *head, *tail; /* queries sent, answered in this order */
    size_t         npending;
    simul__fdwait  io;          /* reads and flushes while queries are pending */
    int            io_events;   /* what io is registered for (0: not linked) */
    int            io_wflush;   /* libpq holds output the socket refused */
    simul__task   *drainer;     /* pipeline_exit waiting for npending == 0 */
    int            stream;      /* PG_STREAM_*: a row stream or COPY holds c */
    int            stream_done; /* ... and its command has ended */
    size_t         copy_unflushed;  /* COPY FROM bytes since the last full flush */
    void          *copy_buf;    /* COPY TO's last row (PQfreemem'd on the next) */
    int            depth;       /* simul_pg_begin nesting (query.c) */
    simul_pg_pool *pool;        /* the pool that handed c out, while it is out */
};

/* Records a failure on c (and the thread's last error) and returns code:
 * the server's fields from res when it has them, else libpq's message. */
int  simul__pg_fail(simul_pg *c, int code, const PGresult *res);
/* The connection is lost: forget the socket, mark it, SIMUL_PG_EBROKEN. */
int  simul__pg_broken(simul_pg *c);
/* Re-reads PQsocket; forgets the old number in the fd table if it changed
 * (libpq closed it). */
void simul__pg_sync_fd(simul_pg *c);
/* Sends everything libpq holds (PQflush), reading input meanwhile so the
 * server never blocks on us. 0 or an error. */
int  simul__pg_flush(simul_pg *c);
/* Waits until the socket is readable (or `deadline`, loop ns) and reads
 * what came (PQconsumeInput). 0 or an error. */
int  simul__pg_read(simul_pg *c, int64_t deadline);
/* Waits until PQgetResult would not block. 0 or an error (-ECANCELED
 * included: the caller cancels the query). */
int  simul__pg_await(simul_pg *c);
/* Cancels the query running on c on the server (a pool thread sends the
 * request), drains its results and returns -ECANCELED; closes c when that
 * fails or takes over SIMUL_PG_CANCEL_TIMEOUT. Runs shielded. */
int  simul__pg_cancel(simul_pg *c);
/* Sends the cancel request only (a pool thread runs PQcancel; the caller
 * waits for it). 0, -EIO (refused), -ECANCELED, -ENOMEM. */
int  simul__pg_cancel_request(simul_pg *c);
/* The next result of the command in progress: 1 and *res, 0 when there is
 * none left, or an error of the wait. */
int  simul__pg_next(simul_pg *c, PGresult **res);
/* Collects the results of the command just sent: the first error, else the
 * last result, into *out (may be NULL). 0, SIMUL_PG_ESERVER, or as await. */
int  simul__pg_collect(simul_pg *c, PGresult **out);
/* Claims c for one exclusive operation (not in pipeline mode): 0, -EBUSY,
 * SIMUL_PG_EBROKEN, -EPERM outside a task, -EINVAL. _leave undoes it. */
int  simul__pg_enter(simul_pg *c);
void simul__pg_leave(simul_pg *c);

enum { PG_STREAM_NONE = 0, PG_STREAM_ROWS, PG_STREAM_COPY_IN, PG_STREAM_COPY_OUT };

/* query.c: sends sql with parameters unnamed (PQsendQueryParams). 0, or
 * SIMUL_PG_EBROKEN / -ENOMEM. c is held by the caller. */
int  simul__pg_send_params(simul_pg *c, const char *sql, const simul_pg_param *params, int n,
                           int rfmt);

/* Frees the statement cache's entries and table (the connection closes). */
void simul__pg_cache_free(simul_pg *c);

/* pipeline.c */
int  simul__pg_pipeline_query(simul_pg *c, const char *sql, int n, const char *const *vals,
                              const int *lens, const int *fmts, const Oid *types, int rfmt,
                              PGresult **out);
/* Unregisters c's pipeline handle and fails every query in flight with
 * SIMUL_PG_EBROKEN (the connection is being hung up). */
void simul__pg_pipeline_abort(simul_pg *c);

#endif
