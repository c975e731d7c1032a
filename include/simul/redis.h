/*
 * simul/redis.h - Redis on the loop (aio-redis / redis.asyncio's role in C).
 * Not included by <simul.h>: include <simul/redis.h> where you use it.
 * hiredis's header is not needed: replies are a tree of plain structs.
 *
 * A connection (simul_redis) is a simul stream with hiredis's reply parser
 * (redisReader) behind it and one reader task of its own. Any number of
 * tasks may run commands on one connection at once: each command is
 * encoded into the stream's output at once (commands of the same loop turn
 * leave in one write: implicit pipelining), queued in order, and its
 * caller suspended until its own reply arrives (replies come in order).
 * Everything that suspends must be called from a task (else -EPERM).
 *
 * Timeouts: opts.connect_timeout bounds each connect (TCP/Unix connect,
 * AUTH, SELECT); opts.command_timeout bounds each command from its call to
 * its reply, including any wait for a reconnect. A command whose timeout
 * fires, or whose task is cancelled, abandons its reply: the reader still
 * reads it and drops it, so the connection stays in step. Bound a command
 * more tightly with a simul_scope (-ECANCELED, the scope says -ETIMEDOUT).
 *
 * Reconnect: when the connection drops, every command already sent fails
 * with SIMUL_REDIS_ELOST (it may or may not have run) and the reader task
 * reconnects with exponential backoff (opts.backoff_min .. backoff_max,
 * jittered), re-running AUTH and SELECT (and re-subscribing a pub/sub
 * connection). Commands issued meanwhile wait, up to their timeout.
 *
 * Errors: a reply of type SIMUL_REDIS_ERROR ("-ERR ...", "-WRONGTYPE ...")
 * makes a command return a code of the server range (SIMUL_REDIS_EERR,
 * SIMUL_REDIS_EWRONGTYPE, ... in <simul.h>, -3300..-3349) and still hands
 * the error reply to the caller, whose str is the server's message;
 * transport and client failures have codes of their own (-3350..-3399) or
 * are a negative errno. simul_strerror() explains each.
 *
 * RESP3: hiredis 0.14 parses RESP2 only; connections speak RESP2 (no
 * HELLO 3 is sent), so replies are the RESP2 types below.
 */
#ifndef SIMUL_REDIS_H
#define SIMUL_REDIS_H

#include <simul.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Errors, -3300..-3399 (simul_strerror explains each). The server's
 * (a reply of type ERROR, by its first word), -3300..-3349:
 */
#define SIMUL_REDIS_EERR        (-3300)  /* -ERR, or a prefix not listed here */
#define SIMUL_REDIS_EWRONGTYPE  (-3301)  /* -WRONGTYPE: the key holds another type */
#define SIMUL_REDIS_EMOVED      (-3302)  /* -MOVED: cluster slot served elsewhere */
#define SIMUL_REDIS_EASK        (-3303)  /* -ASK: cluster slot migrating */
#define SIMUL_REDIS_ELOADING    (-3304)  /* -LOADING: the dataset is being loaded */
#define SIMUL_REDIS_ENOSCRIPT   (-3305)  /* -NOSCRIPT: no script with that SHA1 */
#define SIMUL_REDIS_EBUSY       (-3306)  /* -BUSY: a script is running */
#define SIMUL_REDIS_ENOAUTH     (-3307)  /* -NOAUTH: authentication required */
#define SIMUL_REDIS_EWRONGPASS  (-3308)  /* -WRONGPASS, or AUTH refused */
#define SIMUL_REDIS_ENOPERM     (-3309)  /* -NOPERM: the ACL user may not do it */
#define SIMUL_REDIS_EREADONLY   (-3310)  /* -READONLY: a replica */
#define SIMUL_REDIS_EEXECABORT  (-3311)  /* -EXECABORT: a queued command was refused */
#define SIMUL_REDIS_EOOM        (-3312)  /* -OOM: over maxmemory */
#define SIMUL_REDIS_ETRYAGAIN   (-3313)  /* -TRYAGAIN, -CLUSTERDOWN, -MASTERDOWN */
/* The client's and the transport's, -3350..-3399: */
#define SIMUL_REDIS_ECONNECT    (-3350)  /* could not connect (refused, unreachable, name) */
#define SIMUL_REDIS_ELOST       (-3351)  /* connection lost after the command was sent */
#define SIMUL_REDIS_EPROTO      (-3352)  /* the server's bytes are not RESP (or too big) */
#define SIMUL_REDIS_ETIMEOUT    (-3353)  /* connect_timeout or command_timeout passed */
#define SIMUL_REDIS_EDOWN       (-3354)  /* not connected and reconnect is off */
#define SIMUL_REDIS_ECLOSED     (-3355)  /* the connection was closed by simul_redis_close */
#define SIMUL_REDIS_EURL        (-3356)  /* the URL does not parse */
#define SIMUL_REDIS_EPOOL       (-3357)  /* no pool connection within the acquire timeout */
#define SIMUL_REDIS_EWATCH      (-3358)  /* EXEC answered nil: a WATCHed key changed */

typedef struct simul_redis simul_redis;            /* one connection */
typedef struct simul_redis_pipe simul_redis_pipe;  /* a batch of commands */
typedef struct simul_redis_pool simul_redis_pool;

/* ------------------------------------------------------------------------ */
/* Replies                                                                  */

enum {
    SIMUL_REDIS_STRING = 1,   /* bulk string: str/len (binary-safe) */
    SIMUL_REDIS_ARRAY = 2,    /* element[0..len) */
    SIMUL_REDIS_INTEGER = 3,  /* integer */
    SIMUL_REDIS_NIL = 4,      /* nil bulk string or nil array */
    SIMUL_REDIS_STATUS = 5,   /* "+OK": str/len */
    SIMUL_REDIS_ERROR = 6     /* "-ERR ...": str/len, the server's message */
};

/*
 * One reply, a tree for arrays. Made by the library, owned by whoever it
 * was handed to, freed with simul_redis_reply_free (which frees the whole
 * tree: never free an element on its own). str is followed by a NUL byte
 * (not counted in len) so text replies are C strings; bulk strings may
 * hold NULs themselves. Replies are read-only: +OK, +QUEUED, :0 and :1
 * are each one shared instance in read-only memory (a pipeline of writes
 * allocates no reply per command), which simul_redis_reply_free skips.
 */
typedef struct simul_redis_reply {
    int        type;          /* SIMUL_REDIS_* */
    long long  integer;       /* INTEGER */
    size_t     len;           /* bytes of str; elements of an ARRAY */
    char      *str;           /* STRING, STATUS, ERROR; NULL otherwise */
    struct simul_redis_reply **element;  /* ARRAY */
} simul_redis_reply;

/* Frees r and everything under it. NULL is a no-op. Any thread. */
SIMUL_API void simul_redis_reply_free(simul_redis_reply *r);

/* The SIMUL_REDIS_E* code for an ERROR reply's prefix (ERR -> EERR,
 * WRONGTYPE -> EWRONGTYPE, an unknown prefix -> EERR); 0 for any other
 * reply; -EINVAL for NULL. */
SIMUL_API int simul_redis_reply_error(const simul_redis_reply *r);

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

/* Options; zero-initialise and set what you need. Zero fields take the
 * defaults shown. Strings are copied by the calls that take opts. */
typedef struct simul_redis_opts {
    double      connect_timeout;  /* seconds per connect + AUTH + SELECT: 5 */
    double      command_timeout;  /* seconds from call to reply: 30; INFINITY: none */
    double      backoff_min;      /* first reconnect delay: 0.05 s */
    double      backoff_max;      /* delays double up to this: 2 s */
    int         reconnect;        /* 0 or 1: reconnect when dropped (default);
                                     -1: never (commands fail with ELOST/EDOWN) */
    const char *user;             /* ACL user (AUTH user pass); overrides the URL's */
    const char *password;         /* AUTH password; overrides the URL's */
    int         db;               /* SELECT db when > 0; overrides the URL's */
    const char *client_name;      /* CLIENT SETNAME at each connect, if set */
    size_t      max_reply;        /* bytes one reply may take while it is read: 512 MiB */
    size_t      max_buffered;     /* unsent command bytes held: 64 MiB; a
                                     command or pipeline larger fails with -EMSGSIZE */
} simul_redis_opts;

/*
 * Connects to url (redis-py's forms):
 *   redis://[[user]:password@]host[:port][/db]   (port 6379, db 0)
 *   unix://[[user]:password@]/path/to/socket[?db=N]
 * user and password may be percent-encoded; host may be a name, an IPv4
 * address or [IPv6]. opts may be NULL. Connects, authenticates and selects
 * the database in the calling task, then starts the connection's reader
 * task. On success stores the connection in *out; the caller frees it
 * with simul_redis_close.
 *
 * Errors: SIMUL_REDIS_EURL (url does not parse), SIMUL_REDIS_ECONNECT
 * (refused, unreachable, the name unknown: simul_redis_last_error has the
 * cause), SIMUL_REDIS_EWRONGPASS / SIMUL_REDIS_ENOAUTH / SIMUL_REDIS_EERR
 * (AUTH or SELECT refused), SIMUL_REDIS_ETIMEOUT (not connected within
 * connect_timeout), -ECANCELED, -EINVAL (NULL, bad opts), -EPERM outside
 * a task, -ENOMEM. No retry happens here: the first connect either works
 * or fails. On an error nothing is left to free.
 */
SIMUL_API int simul_redis_connect(const char *url, const simul_redis_opts *opts,
                                  simul_redis **out);

/*
 * Closes c: stops its reader (and any reconnect), wakes every command
 * still waiting with SIMUL_REDIS_ECLOSED, closes the socket (unsent
 * commands are discarded) and frees c. Never waits for the server. Must
 * be called from a task of c's loop; no task may call c afterwards (those
 * already inside get ECLOSED and do not touch it again). NULL: 0. Returns
 * 0, -EPERM outside a task.
 */
SIMUL_API int simul_redis_close(simul_redis *c);

enum {
    SIMUL_REDIS_UP = 0,           /* connected */
    SIMUL_REDIS_CONNECTING = 1,   /* dropped, reconnecting */
    SIMUL_REDIS_DOWN = 2          /* dropped for good (reconnect off) */
};
/* c's state (SIMUL_REDIS_UP, _CONNECTING, _DOWN); -EINVAL for NULL. */
SIMUL_API int simul_redis_state(const simul_redis *c);

/* Times c has reconnected since simul_redis_connect; -EINVAL for NULL. */
SIMUL_API long simul_redis_reconnects(const simul_redis *c);

/*
 * The cause of c's last transport failure (connect refused, connection
 * reset, protocol error: hiredis's or the socket's words), NUL-terminated,
 * into buf (cap bytes). c NULL: the calling thread's last failed
 * simul_redis_connect. 0, or -ENOENT when there is none.
 */
SIMUL_API int simul_redis_last_error(const simul_redis *c, char *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

/*
 * Runs one command given as argc arguments argv[i] of lens[i] bytes each
 * (binary-safe; lens NULL: every argv[i] is a C string), and stores its
 * reply in *out (out may be NULL to drop it). Many tasks may call this on
 * one c at once: see the header comment.
 *
 * Ownership: argv is copied before the call first suspends. *out is set
 * (to a reply the caller frees with simul_redis_reply_free) whenever a
 * reply arrived - on success and on a server error - and to NULL
 * otherwise.
 *
 * Returns 0, or for an ERROR reply its code (SIMUL_REDIS_EERR,
 * _EWRONGTYPE, _EMOVED, _ELOADING, ... : simul_redis_reply_error) with the
 * reply in *out. Transport errors: SIMUL_REDIS_ELOST (the connection
 * dropped after the command was sent: it may have run),
 * SIMUL_REDIS_ETIMEOUT (command_timeout passed: its reply, if it comes,
 * is dropped), SIMUL_REDIS_EDOWN (reconnect is off and c is down),
 * SIMUL_REDIS_EPROTO (the server sent bytes that are not RESP, or a reply
 * over max_reply: the connection is dropped and reconnects),
 * SIMUL_REDIS_ECLOSED (c closed meanwhile). -ECANCELED (the reply is
 * dropped when it comes), -EMSGSIZE (the command's bytes exceed
 * max_buffered), -EINVAL (NULL c, argc < 1 or over 1M), -EPERM outside a
 * task, -ENOMEM.
 */
SIMUL_API int simul_redis_command_argv(simul_redis *c, int argc, const char *const *argv,
                                       const size_t *lens, simul_redis_reply **out);

/*
 * printf-style: hiredis's format ("SET %s %b", key, val, vallen): %s a C
 * string, %b a pointer and a size_t (binary), other % conversions as
 * printf; arguments are split at spaces in fmt, never inside a value. As
 * simul_redis_command_argv otherwise; -EINVAL for a format hiredis refuses.
 */
SIMUL_API int simul_redis_command(simul_redis *c, simul_redis_reply **out, const char *fmt, ...);

/* ------------------------------------------------------------------------ */
/* Explicit pipelines and transactions                                     */

/*
 * A batch of commands, built without I/O and sent in one write (unless
 * bound: simul_redis_pipe_bind); the caller owns it (simul_redis_pipe_free)
 * and may run it many times.
 * _new: NULL with errno ENOMEM. _add_argv / _add: encode one more command
 * (arguments as simul_redis_command_argv / _command): 0, -EINVAL, -ENOMEM,
 * -EMSGSIZE past 1 GiB. _count: the commands added. _reset empties it.
 */
SIMUL_API simul_redis_pipe *simul_redis_pipe_new(void);
SIMUL_API void simul_redis_pipe_free(simul_redis_pipe *p);
SIMUL_API int  simul_redis_pipe_add_argv(simul_redis_pipe *p, int argc, const char *const *argv,
                                         const size_t *lens);
SIMUL_API int  simul_redis_pipe_add(simul_redis_pipe *p, const char *fmt, ...);
SIMUL_API size_t simul_redis_pipe_count(const simul_redis_pipe *p);
SIMUL_API void simul_redis_pipe_reset(simul_redis_pipe *p);

/*
 * Binds an empty p to c (NULL: unbinds it): from then on every 64 KiB of
 * commands added is sent to c at once, without waiting for replies, so the
 * server works while the caller is still adding and p holds one batch, not
 * the whole pipeline (for pipelines of thousands of commands). Then
 * _add_argv / _add must run in a task on c's loop, may suspend (while c's
 * unsent output is over 1 MiB, or c reconnects) and may also return c's
 * errors (as simul_redis_command_argv: the pipe is then spent and exec
 * returns the same error); at most 16M commands (-EMSGSIZE).
 * simul_redis_pipe_exec sends the rest and collects every reply; other
 * tasks' commands may run between the batches (not a transaction:
 * simul_redis_multi_exec refuses a bound pipe with -EINVAL). Exec, _reset
 * and _free of a bound pipe empty it (it stays bound); replies of batches
 * sent before a _reset or _free are read and dropped. Returns 0, or
 * -EINVAL (p NULL or not empty).
 */
SIMUL_API int  simul_redis_pipe_bind(simul_redis_pipe *p, simul_redis *c);

/*
 * Sends every command of p at once, contiguous on c (no other task's
 * command lands between them) and stores their replies, in order, as the
 * elements of one ARRAY reply in *out (the caller frees it; out may be
 * NULL). A command that failed on the server is an ERROR element: the
 * batch itself returns 0. Errors as simul_redis_command_argv for the
 * batch as a whole (*out NULL); -EINVAL for an empty p, or one bound to
 * another connection. An unbound p is left as it was (run it again at
 * will); a bound one (simul_redis_pipe_bind) is emptied, its batches
 * already sent.
 */
SIMUL_API int simul_redis_pipe_exec(simul_redis *c, simul_redis_pipe *p,
                                    simul_redis_reply **out);

/*
 * MULTI, p's commands, EXEC, sent as one batch: the commands run
 * atomically on the server. *out is EXEC's reply: an ARRAY of the
 * commands' replies. Returns 0; SIMUL_REDIS_EEXECABORT (a command was
 * refused when queued: *out is EXEC's error reply); SIMUL_REDIS_EWATCH
 * (EXEC answered nil: a WATCHed key changed - WATCH needs a connection
 * of its own, from a pool: on a shared one another task's commands would
 * run in between); else as simul_redis_pipe_exec.
 */
SIMUL_API int simul_redis_multi_exec(simul_redis *c, const simul_redis_pipe *p,
                                     simul_redis_reply **out);

/* ------------------------------------------------------------------------ */
/* Lua scripts                                                              */

/*
 * A script and its SHA1, filled in by the first call (SCRIPT LOAD asks the
 * server). Initialise with SIMUL_REDIS_SCRIPT("return 1"); the source
 * string must outlive it. One script may be shared by many connections
 * (of one loop).
 */
typedef struct simul_redis_script {
    const char *source;
    char        sha[41];
} simul_redis_script;
#define SIMUL_REDIS_SCRIPT(src) { (src), { 0 } }

/*
 * EVALSHA sha numkeys argv...: argv[0..numkeys) are the keys, the rest
 * arguments (lens NULL: C strings). When the server does not know the
 * script (NOSCRIPT: first use, a restart, SCRIPT FLUSH) it is loaded with
 * SCRIPT LOAD and the EVALSHA sent once more. Returns and reply as
 * simul_redis_command_argv (a script's error: SIMUL_REDIS_EERR with its
 * message); -EINVAL for numkeys out of 0..argc.
 */
SIMUL_API int simul_redis_evalsha(simul_redis *c, simul_redis_script *s, int numkeys, int argc,
                                  const char *const *argv, const size_t *lens,
                                  simul_redis_reply **out);

/* ------------------------------------------------------------------------ */
/* Pub/sub                                                                  */

/*
 * One message received: channel, payload, and for a PSUBSCRIBE pattern
 * the pattern (NULL otherwise). Owned by whoever got it from the queue:
 * free with simul_redis_msg_free. Strings are NUL-terminated (payloads
 * may hold NULs: use the lengths).
 */
typedef struct simul_redis_msg {
    const char *channel;
    size_t      channel_len;
    const char *pattern;      /* NULL unless from a pattern subscription */
    size_t      pattern_len;
    const char *data;
    size_t      len;
} simul_redis_msg;
SIMUL_API void simul_redis_msg_free(simul_redis_msg *m);

/*
 * Opens a dedicated pub/sub connection (as simul_redis_connect) whose
 * messages its reader puts into q (simul_queue_put: a full queue stops the
 * reader, which stops reading the socket - backpressure, until Redis's own
 * client-output-buffer-limit drops us). The caller keeps q and frees it
 * after simul_redis_close; messages still in it are the caller's
 * (simul_queue_set_drop with simul_redis_msg_free frees them with it).
 * Subscriptions survive reconnects (renewed at each), messages published
 * while down are lost (Redis pub/sub delivers at most once).
 */
SIMUL_API int simul_redis_pubsub_open(const char *url, const simul_redis_opts *opts,
                                      simul_queue *q, simul_redis **out);

/*
 * SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE / PUNSUBSCRIBE one channel or
 * pattern (binary-safe, len bytes) on a pub/sub connection; returns once
 * the server confirmed it (messages from then on reach the queue). 0;
 * -EINVAL on a connection not opened with simul_redis_pubsub_open; else
 * as simul_redis_command_argv.
 */
SIMUL_API int simul_redis_subscribe(simul_redis *c, const char *channel, size_t len);
SIMUL_API int simul_redis_psubscribe(simul_redis *c, const char *pattern, size_t len);
SIMUL_API int simul_redis_unsubscribe(simul_redis *c, const char *channel, size_t len);
SIMUL_API int simul_redis_punsubscribe(simul_redis *c, const char *pattern, size_t len);

/* ------------------------------------------------------------------------ */
/* Pool                                                                     */

typedef struct simul_redis_pool_opts {
    simul_redis_opts conn;    /* for each connection; .reconnect is forced
                                 off: the pool replaces dropped connections */
    int    min_size;          /* connections opened by _open and kept: 0 */
    int    max_size;          /* connections out at most (<= 1024): 10 */
    double idle_timeout;      /* idle connections above min_size are closed
                                 after this many seconds: 300; INFINITY: never */
} simul_redis_pool_opts;

/*
 * Opens a pool for url (copied; see simul_redis_connect), connecting
 * min_size connections now. *out: the caller frees it with
 * simul_redis_pool_close. Errors: simul_redis_connect's; -EINVAL for bad
 * sizes. Suspends (from a task only).
 */
SIMUL_API int simul_redis_pool_open(const char *url, const simul_redis_pool_opts *opts,
                                    simul_redis_pool **out);

/*
 * Closes the idle connections and frees the pool. -EBUSY while
 * connections are out or tasks wait in _acquire (nothing is closed then);
 * -EINVAL for NULL; else 0.
 */
SIMUL_API int simul_redis_pool_close(simul_redis_pool *p);

/*
 * A connection for the caller alone (WATCH, blocking commands like BLPOP,
 * MULTI without the helper): waits (FIFO) until fewer than max_size are
 * out, up to `timeout` seconds, then hands out an idle connection that is
 * up, or connects a new one (an idle one that dropped is closed and
 * replaced). Give it back with simul_redis_pool_release, never close it.
 * Errors: SIMUL_REDIS_EPOOL (timeout passed), simul_redis_connect's,
 * -ECANCELED, -EINVAL, -EPERM.
 */
SIMUL_API int simul_redis_pool_acquire(simul_redis_pool *p, double timeout, simul_redis **out);

/*
 * Gives c back. One that is down, or has commands of abandoned callers
 * still in flight, or is in a MULTI, is closed instead (the next acquire
 * connects anew). 0, -EINVAL (NULL, or c not from p).
 */
SIMUL_API int simul_redis_pool_release(simul_redis_pool *p, simul_redis *c);

/* Connections open (out and idle); idle ones. -EINVAL for NULL. */
SIMUL_API int simul_redis_pool_size(const simul_redis_pool *p);
SIMUL_API int simul_redis_pool_idle(const simul_redis_pool *p);

#ifdef __cplusplus
}
#endif

#endif
