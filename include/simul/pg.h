/*
 * simul/pg.h - PostgreSQL on the loop (asyncpg's role in C), on libpq.
 * Not included by <simul.h>: include <simul/pg.h> where you use it. libpq's
 * own header is not needed: connections and results are opaque here.
 *
 * A connection (simul_pg) is made with PQconnectStart/PQconnectPoll and
 * runs libpq in non-blocking mode; every wait is a wait on libpq's socket
 * through the loop, so a task that runs a query suspends and the others
 * run. Everything that suspends must be called from a task (else -EPERM).
 *
 * One operation at a time per connection (asyncpg's "another operation is
 * in progress": -EBUSY) except in pipeline mode (simul_pg_pipeline_enter),
 * where any number of tasks may each run queries on one connection: they
 * are sent at once and answered in order.
 *
 * Cancellation (a task cancelled, or a scope's deadline): a query being
 * waited for is cancelled on the server (a cancel request sent from the
 * thread pool, so the loop never blocks), its results are drained and the
 * connection stays usable; if the server does not answer within
 * SIMUL_PG_CANCEL_TIMEOUT seconds the connection is closed
 * (simul_pg_status: SIMUL_PG_BAD) and later calls get SIMUL_PG_EBROKEN. The
 * call returns -ECANCELED (the scope's exit says -ETIMEDOUT). In pipeline
 * mode a cancelled task only abandons its query (it runs on the server and
 * its result is discarded): a server cancel would hit whichever query runs.
 *
 * Errors: SIMUL_PG_E* codes (in <simul.h>, -3200..-3299) or negative errno.
 * A server error (SIMUL_PG_ESERVER) keeps its SQLSTATE, message, detail and
 * hint: simul_pg_last_error(), read before the task suspends again.
 */
#ifndef SIMUL_PG_H
#define SIMUL_PG_H

#include <simul.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simul_pg simul_pg;                /* one connection */
typedef struct simul_pg_result simul_pg_result;  /* a PGresult */

/* How long (seconds) a cancelled query's drain may take before the
 * connection is closed instead. */
#define SIMUL_PG_CANCEL_TIMEOUT 5.0

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

/*
 * asyncpg.connect(dsn): connects with a libpq conninfo string or URI
 * ("host=/tmp port=5432 dbname=x", "postgresql://u@h:p/db?sslmode=require";
 * several hosts are tried in turn, as libpq does; TLS as libpq offers it).
 * `timeout` (seconds, INFINITY for none) bounds the whole connect; libpq's
 * connect_timeout applies per host as well. On success stores a connection
 * in *out, which the caller frees with simul_pg_close().
 * Errors: SIMUL_PG_ECONNINFO (the string does not parse), SIMUL_PG_ECONNECT
 * (refused, unreachable, authentication failed: simul_pg_last_error's
 * message is libpq's), -ETIMEDOUT, -ECANCELED, -EINVAL (NULL, NaN timeout),
 * -EPERM outside a task, -ENOMEM. On an error nothing is left to free.
 */
SIMUL_API int simul_pg_connect(const char *conninfo, double timeout, simul_pg **out);

/*
 * Closes the connection (PQfinish: a Terminate message, the socket closed;
 * the loop forgets it first) and frees c, its statement cache and queued
 * notifications. Does not suspend. -EBUSY while a task is inside a call on
 * c (c is not freed then), -EINVAL for NULL; else 0.
 */
SIMUL_API int simul_pg_close(simul_pg *c);

enum {
    SIMUL_PG_OK = 0,        /* connected */
    SIMUL_PG_BAD = 1        /* the connection is lost: close it */
};
/* SIMUL_PG_OK or SIMUL_PG_BAD; -EINVAL for NULL. Never suspends. */
SIMUL_API int simul_pg_status(const simul_pg *c);

/* PQtransactionStatus: 0 idle, 1 active, 2 in a transaction block, 3 in a
 * failed transaction block, 4 unknown (connection bad); -EINVAL for NULL. */
SIMUL_API int simul_pg_transaction_status(const simul_pg *c);

/* The server's process id (pg_backend_pid()), or -EINVAL. */
SIMUL_API int simul_pg_backend_pid(const simul_pg *c);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/*
 * What the server said (ErrorResponse fields), or libpq's message for a
 * client-side failure (then sqlstate is empty). Strings are NUL-terminated
 * and cut at their buffer.
 */
typedef struct simul_pg_error {
    int  code;              /* the SIMUL_PG_E* / -errno the call returned */
    char sqlstate[6];       /* "23505"; "" when not from the server */
    char severity[12];      /* "ERROR", "FATAL" */
    char message[256];
    char detail[256];
    char hint[256];
} simul_pg_error;

/*
 * The error of the last call on c that failed with SIMUL_PG_ESERVER,
 * SIMUL_PG_ECONNECT or SIMUL_PG_EBROKEN (copied into *e). Call it before
 * the task suspends again (another task's failure replaces it). For a
 * failed simul_pg_connect, which leaves no c, pass NULL: it reports the
 * calling thread's last connect failure. 0, or -ENOENT when there is none.
 */
SIMUL_API int simul_pg_last_error(const simul_pg *c, simul_pg_error *e);

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */

/*
 * A parameter ($1, $2, ...). Build them with the constructors below, or by
 * hand: value/length/format/type as PQexecParams takes them (type 0: the
 * server infers it; format 0 text (NUL-terminated), 1 binary). The
 * constructors for numbers store the value in network byte order inside
 * the struct (inline; value stays NULL), so an array of params needs no
 * other storage; simul_pg_null() is SQL NULL.
 */
typedef struct simul_pg_param {
    const void   *value;     /* NULL: inline[] (length >= 0) or NULL (-1) */
    int           length;    /* bytes (binary); ignored for text */
    int           format;    /* 0 text, 1 binary */
    unsigned      type;      /* OID, 0 = inferred */
    unsigned char inline_[8];
} simul_pg_param;

SIMUL_API simul_pg_param simul_pg_null(void);
SIMUL_API simul_pg_param simul_pg_text(const char *s);               /* text, NUL-terminated */
SIMUL_API simul_pg_param simul_pg_bytes(const void *p, int n);       /* bytea, binary */
SIMUL_API simul_pg_param simul_pg_int4(int32_t v);
SIMUL_API simul_pg_param simul_pg_int8(int64_t v);
SIMUL_API simul_pg_param simul_pg_float8(double v);
SIMUL_API simul_pg_param simul_pg_bool(int v);

/* Flags for simul_pg_query_ex. */
enum {
    SIMUL_PG_BINARY   = 1,  /* results in binary format (else text) */
    SIMUL_PG_NOCACHE  = 2   /* never through the prepared-statement cache */
};

/*
 * conn.fetch(sql, *args) / conn.execute: runs sql with n parameters (n may
 * be 0, params NULL) and stores its result in *out (caller frees it with
 * simul_pg_result_free; out may be NULL to discard it). With parameters
 * (or in pipeline mode) sql is one statement; without, several separated
 * by ';' are allowed and the last one's result is returned.
 *
 * Statements with parameters go through the connection's prepared-statement
 * cache (asyncpg's statement_cache_size, here 256 per connection): the
 * first run prepares them (one more round trip), later runs only bind and
 * execute. SIMUL_PG_NOCACHE skips it for one query, simul_pg_set_cache
 * for the connection.
 *
 * Errors: SIMUL_PG_ESERVER (the statement failed: simul_pg_last_error;
 * *out is NULL), SIMUL_PG_EBROKEN (the connection is lost), -EBUSY (another
 * task is running a query on c outside pipeline mode), -ECANCELED (see the
 * header's comment: the query is cancelled on the server), -EINVAL (NULL c
 * or sql, n < 0, n > 65535), -EPERM outside a task, -ENOMEM.
 */
SIMUL_API int simul_pg_query(simul_pg *c, const char *sql, const simul_pg_param *params,
                             int n, simul_pg_result **out);
SIMUL_API int simul_pg_query_ex(simul_pg *c, const char *sql, const simul_pg_param *params,
                                int n, int flags, simul_pg_result **out);

/* conn.execute(sql) without a result: as simul_pg_query with out NULL,
 * returning the rows affected (INSERT/UPDATE/DELETE/COPY..., else 0). */
SIMUL_API int simul_pg_exec(simul_pg *c, const char *sql);

/* Sets the size of c's prepared-statement cache (0 disables it; at most
 * 4096; statements already prepared stay). 0, -EINVAL. */
SIMUL_API int simul_pg_set_cache(simul_pg *c, int size);

/*
 * conn.executemany(sql, rows): runs one statement for each of nrows rows of
 * nparams parameters (rows[i * nparams + k] is row i's $k+1), pipelined -
 * parsed once, every row bound and executed without waiting for the one
 * before, one sync at the end - so the batch costs about one round trip.
 * Atomic as asyncpg's: the rows run in one implicit transaction (or in the
 * caller's open one), and an error in any row rolls all of them back and
 * is returned (SIMUL_PG_ESERVER, simul_pg_last_error: the first failure).
 * Memory stays bounded: results are read while rows are sent. Cancel: the
 * batch is cancelled on the server (nothing of it stays) and -ECANCELED
 * returned; the connection stays usable, or is closed if it cannot be
 * drained within SIMUL_PG_CANCEL_TIMEOUT. 0 on success. Errors as
 * simul_pg_query (not in pipeline mode: -EBUSY); -EINVAL for bad counts.
 */
SIMUL_API int simul_pg_executemany(simul_pg *c, const char *sql, const simul_pg_param *rows,
                                   int nparams, int nrows);

/* ------------------------------------------------------------------------ */
/* Pipeline mode                                                            */

/*
 * Enters pipeline mode (libpq 14+): from then on simul_pg_query calls from
 * any number of tasks on c are sent at once, without waiting for earlier
 * ones, and answered in order, each caller suspended until its own result
 * arrives. A sync follows each query, so each is its own implicit
 * transaction and an error fails that query alone (the others are not
 * aborted). In pipeline mode queries are not prepared through the cache
 * (each is parsed by the server; one round trip per batch anyway), and
 * only simul_pg_query/_query_ex/_exec and the accessors may be used on c
 * (the other calls: -EBUSY). A cancelled task abandons its query (see the
 * header comment). 0, -EBUSY (a query is running, or already in pipeline
 * mode), SIMUL_PG_EBROKEN, -EPERM outside a task, -EINVAL.
 *
 * _exit waits for every query in flight (-ECANCELED if the caller is
 * cancelled meanwhile: c stays in pipeline mode) and leaves pipeline
 * mode. 0 (also when not in pipeline mode), SIMUL_PG_EBROKEN, -EBUSY
 * (another task is already in _exit), -EPERM, -EINVAL.
 */
SIMUL_API int simul_pg_pipeline_enter(simul_pg *c);
SIMUL_API int simul_pg_pipeline_exit(simul_pg *c);

/* ------------------------------------------------------------------------ */
/* Results                                                                  */

/* Frees a result; NULL is a no-op. Callable anywhere (no loop needed). */
SIMUL_API void simul_pg_result_free(simul_pg_result *r);
/* Rows, columns; rows affected by the command (INSERT 0 5: 5), else 0. */
SIMUL_API int  simul_pg_nrows(const simul_pg_result *r);
SIMUL_API int  simul_pg_ncols(const simul_pg_result *r);
SIMUL_API long long simul_pg_affected(const simul_pg_result *r);
/* Column name (NULL if out of range), type OID (0 if out of range). */
SIMUL_API const char *simul_pg_colname(const simul_pg_result *r, int col);
SIMUL_API unsigned    simul_pg_coltype(const simul_pg_result *r, int col);
/* The column's index by name, or -ENOENT. */
SIMUL_API int         simul_pg_colnum(const simul_pg_result *r, const char *name);
/* 1 if the value is SQL NULL, 0 if not, -ERANGE out of range. */
SIMUL_API int  simul_pg_isnull(const simul_pg_result *r, int row, int col);
/*
 * The raw value as libpq holds it (text: NUL-terminated; binary: network
 * order), owned by r; its length in *len if len is not NULL. "" for NULL
 * (check simul_pg_isnull), NULL out of range.
 */
SIMUL_API const char *simul_pg_value(const simul_pg_result *r, int row, int col, int *len);

/*
 * Typed accessors, for text and binary results alike. Each returns 0 and
 * stores the value, -ENOENT for SQL NULL, -ERANGE for a row or column out
 * of range or a number that does not fit, -EINVAL for a value not of the
 * expected type (wrong OID in a binary result, or text that does not
 * parse). Types:
 *   get_int     int2, int4, int8 (and oid)
 *   get_double  float4, float8 (also integer columns), "NaN"/"Infinity"
 *   get_bool    bool
 *   get_text    any column as text: text, varchar, json, numeric, ...; in
 *               a binary result only text-like types (text, varchar,
 *               name, json, bpchar) and jsonb (its version byte skipped).
 *               *s points into r (NUL-terminated), *len its length.
 *   get_bytea   bytea decoded (hex text or binary) into buf (cap bytes),
 *               the length in *len; -ENOBUFS if cap is too small (*len
 *               then says how much is needed).
 *   get_uuid    uuid, 16 bytes.
 *   get_time    timestamp and timestamptz as microseconds since the Unix
 *               epoch (UTC; a timestamp without zone is taken as UTC);
 *               date as its midnight; "infinity" as INT64_MAX/MIN.
 */
SIMUL_API int simul_pg_get_int(const simul_pg_result *r, int row, int col, int64_t *v);
SIMUL_API int simul_pg_get_double(const simul_pg_result *r, int row, int col, double *v);
SIMUL_API int simul_pg_get_bool(const simul_pg_result *r, int row, int col, int *v);
SIMUL_API int simul_pg_get_text(const simul_pg_result *r, int row, int col, const char **s,
                                size_t *len);
SIMUL_API int simul_pg_get_bytea(const simul_pg_result *r, int row, int col, void *buf,
                                 size_t cap, size_t *len);
SIMUL_API int simul_pg_get_uuid(const simul_pg_result *r, int row, int col, uint8_t uuid[16]);
SIMUL_API int simul_pg_get_time(const simul_pg_result *r, int row, int col, int64_t *usec);

/*
 * Arrays of one dimension (int2/4/8, float4/8, text-like types), text or
 * binary: _len gives the number of elements (>= 0); the others read
 * element i (0-based) as the typed accessors do - 0, -ENOENT for a NULL
 * element, -ERANGE past the end, -EINVAL for a value that is not a
 * one-dimensional array of that kind (or a NULL array: -ENOENT). Text
 * results are parsed on each call (O(length)). _text copies the element
 * (unescaped) into buf, NUL-terminated; -ENOBUFS if it does not fit.
 */
SIMUL_API int simul_pg_array_len(const simul_pg_result *r, int row, int col);
SIMUL_API int simul_pg_array_int(const simul_pg_result *r, int row, int col, int i, int64_t *v);
SIMUL_API int simul_pg_array_double(const simul_pg_result *r, int row, int col, int i, double *v);
SIMUL_API int simul_pg_array_text(const simul_pg_result *r, int row, int col, int i, char *buf,
                                  size_t cap);

/* ------------------------------------------------------------------------ */
/* Row streams (a cursor's iteration: `async for row in conn.cursor(sql)`)  */

/*
 * Runs sql in libpq's single-row mode: rows come one at a time, so a large
 * result never sits in memory whole. _open sends it (unnamed, not cached)
 * and holds c until _close (other calls on c: -EBUSY). _next stores the
 * next row as a one-row result in *row (the caller frees it) and returns
 * 1; 0 at the end; SIMUL_PG_ESERVER if the statement failed (rows already
 * returned stand); after 0 or an error, only _close. _close ends it: rows
 * not read are cancelled on the server and drained (0, or
 * SIMUL_PG_EBROKEN if the connection had to be closed). Cancel in _next:
 * -ECANCELED, the query cancelled on the server as for simul_pg_query (the
 * stream has ended: _close it). Errors: as simul_pg_query; -EINVAL (no
 * stream of this kind open on c).
 */
SIMUL_API int simul_pg_stream_open(simul_pg *c, const char *sql, const simul_pg_param *params,
                                   int n, int flags);
SIMUL_API int simul_pg_stream_next(simul_pg *c, simul_pg_result **row);
SIMUL_API int simul_pg_stream_close(simul_pg *c);

/* ------------------------------------------------------------------------ */
/* COPY (conn.copy_records_to_table / copy_from_query)                      */

enum { SIMUL_PG_COPY_IN = 1, SIMUL_PG_COPY_OUT = 2 };

/*
 * Starts "COPY ... FROM STDIN" (returns SIMUL_PG_COPY_IN) or "COPY ... TO
 * STDOUT" (SIMUL_PG_COPY_OUT); c is held until simul_pg_copy_close. A
 * statement that is not such a COPY runs and gives SIMUL_PG_EPROTO (c is
 * free again). Errors as simul_pg_query.
 *
 * _write (COPY FROM): hands n bytes of COPY data (any cut: rows need not be
 * whole) to libpq; returns 0. Backpressure: past 256 KiB unsent it pushes
 * what the socket takes; at 1 MiB unsent it waits until the socket has
 * taken all, so a fast producer is held to the server's pace with bounded
 * memory. Cancel: the COPY is ended with an
 * error (the server rolls it back; the connection stays usable) and
 * -ECANCELED returned. -EPIPE once the COPY has failed or ended.
 *
 * _read (COPY TO): the next row (a whole line of COPY data, not
 * NUL-terminated) in *data, valid until the next call on c; returns its
 * length (> 0), 0 at the end, or an error. Cancel: the COPY is cancelled
 * on the server and its remaining rows drained; -ECANCELED.
 *
 * _close ends the COPY: for COPY FROM, PQputCopyEnd - with errmsg NULL the
 * data is committed and the number of rows copied returned (>= 0); with an
 * errmsg the server aborts it (SIMUL_PG_ESERVER, SQLSTATE 57014) - even in
 * a cancelled task; for COPY TO, rows not read are cancelled and drained
 * (0). Then c is free. Errors: SIMUL_PG_ESERVER (bad data: the COPY is
 * rolled back), SIMUL_PG_EBROKEN, -EINVAL (no COPY open on c).
 */
SIMUL_API int simul_pg_copy_open(simul_pg *c, const char *sql);
SIMUL_API int simul_pg_copy_write(simul_pg *c, const void *buf, size_t n);
SIMUL_API int simul_pg_copy_read(simul_pg *c, const char **data);
SIMUL_API int simul_pg_copy_close(simul_pg *c, const char *errmsg);

/* ------------------------------------------------------------------------ */
/* Transactions (async with conn.transaction())                             */

/*
 * _begin: BEGIN, or inside a transaction begun this way a SAVEPOINT (so
 * they nest as asyncpg's do). _commit: COMMIT, or RELEASE SAVEPOINT for a
 * nested one. _rollback: ROLLBACK, or ROLLBACK TO SAVEPOINT for a nested
 * one; it runs even in a cancelled task (clean-up: shielded, bounded by
 * SIMUL_PG_CANCEL_TIMEOUT). Each pairs with one _begin. Errors as
 * simul_pg_query; -EINVAL for _commit/_rollback without a _begin. A failed
 * COMMIT still ends the transaction (PostgreSQL rolled it back); a failed
 * RELEASE leaves the level open: roll it back.
 */
SIMUL_API int simul_pg_begin(simul_pg *c);
SIMUL_API int simul_pg_commit(simul_pg *c);
SIMUL_API int simul_pg_rollback(simul_pg *c);

/* ------------------------------------------------------------------------ */
/* LISTEN / NOTIFY (conn.add_listener)                                      */

typedef struct simul_pg_notify {
    char *channel;      /* NUL-terminated; in the same allocation */
    char *payload;
    int   pid;          /* the notifying backend */
} simul_pg_notify;

/*
 * After "LISTEN channel" (simul_pg_exec), waits for the next notification
 * on c until `deadline` (absolute, simul_now() clock; INFINITY for none)
 * and stores it in *out (the caller frees it with simul_pg_notify_free).
 * Notifications that arrived during other calls are queued by libpq and
 * returned first, in order; they are kept until read, so a listener must
 * keep reading. Holds c while it waits (other calls: -EBUSY). Cancel:
 * -ECANCELED, nothing lost. Errors: -ETIMEDOUT, SIMUL_PG_EBROKEN, -EBUSY,
 * -EINVAL (NULL, NaN), -EPERM, -ENOMEM.
 */
SIMUL_API int  simul_pg_notify_wait_until(simul_pg *c, double deadline, simul_pg_notify **out);
SIMUL_API void simul_pg_notify_free(simul_pg_notify *n);

/* ------------------------------------------------------------------------ */
/* Pool (asyncpg.create_pool)                                               */

typedef struct simul_pg_pool simul_pg_pool;

/* Zero-initialise; zero fields take the defaults shown. */
typedef struct simul_pg_pool_opts {
    int         min_size;         /* connections made by _open: 0 (at most max) */
    int         max_size;         /* connections at most: 10 (1..1024) */
    double      connect_timeout;  /* per connect: 60 s */
    const char *reset_sql;        /* run on release: NULL = asyncpg's reset
                                     ("CLOSE ALL; UNLISTEN *; RESET ALL;
                                     SELECT pg_advisory_unlock_all()");
                                     "" = none */
} simul_pg_pool_opts;

/*
 * asyncpg.create_pool(dsn, min_size, max_size): copies conninfo and opts
 * (opts may be NULL), connects min_size connections (in the caller, which
 * suspends), and stores the pool in *out; the caller frees it with
 * simul_pg_pool_close. Errors: simul_pg_connect's for the first of the
 * min_size connections that fails (none is left open), -EINVAL (bad
 * sizes, NULL), -EPERM outside a task, -ENOMEM.
 */
SIMUL_API int simul_pg_pool_open(const char *conninfo, const simul_pg_pool_opts *opts,
                                 simul_pg_pool **out);

/*
 * Closes the idle connections and frees the pool. -EBUSY while connections
 * are acquired or a task waits in _acquire (nothing is closed then),
 * -EINVAL for NULL. Does not suspend.
 */
SIMUL_API int simul_pg_pool_close(simul_pg_pool *p);

/*
 * pool.acquire(timeout=...): waits (FIFO) until fewer than max_size
 * connections are out, then hands out an idle one - checked first: an idle
 * connection the server dropped (restart, pg_terminate_backend) is closed
 * and replaced - or connects a new one. `timeout` (seconds, INFINITY for
 * none) bounds the wait and the connect. Stores the connection in *out;
 * give it back with simul_pg_pool_release (never simul_pg_close).
 * Errors: -ETIMEDOUT, -ECANCELED, simul_pg_connect's, -EINVAL, -EPERM.
 */
SIMUL_API int simul_pg_pool_acquire(simul_pg_pool *p, double timeout, simul_pg **out);

/*
 * Gives c back: a lost connection, one in pipeline mode, or one that
 * still holds a stream or COPY is closed (the pool makes a new one when
 * needed); otherwise an open transaction is rolled back, the reset
 * statement runs, and c goes back to the idle list - if either fails, c is
 * closed instead. Works in a cancelled task (clean-up: shielded, bounded by
 * SIMUL_PG_CANCEL_TIMEOUT). 0, -EINVAL (NULL, or c not acquired from p),
 * -EPERM outside a task.
 */
SIMUL_API int simul_pg_pool_release(simul_pg_pool *p, simul_pg *c);

/* Connections open (idle + acquired), and idle. -EINVAL for NULL. */
SIMUL_API int simul_pg_pool_size(const simul_pg_pool *p);
SIMUL_API int simul_pg_pool_idle(const simul_pg_pool *p);

#ifdef __cplusplus
}
#endif

#endif
