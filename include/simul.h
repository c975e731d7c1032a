/*
 * simul.h - the public API of libsimul: Python's asyncio model in C.
 *
 * One thread runs one event loop; the loop runs many tasks. A task is a
 * stackful coroutine: a plain C function that runs on its own stack and
 * suspends (gives the thread back to the loop) only inside simul calls such
 * as simul_sleep(), simul_join() or simul_yield(). Everything here is meant to
 * be called from inside a task unless its comment says otherwise.
 *
 * Conventions (as libuv and liburing):
 *  - functions return int: 0 or a non-negative result on success, a negative
 *    errno on failure; simul_strerror() explains any of them;
 *  - a suspending call made outside a task returns -EPERM;
 *  - a suspending call in a task that has been cancelled returns -ECANCELED
 *    (cancellation is level-triggered, as in trio: once a task or an enclosing
 *    scope is cancelled, every later suspension point fails too, until the
 *    cancelled scope is left; use a shielded scope for cleanup that must wait).
 *
 * Task results are ints: a task function returns >= 0 for success and a
 * negative errno for failure. Richer results travel through the argument.
 */
#ifndef SIMUL_H
#define SIMUL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIMUL_VERSION_MAJOR 0
#define SIMUL_VERSION_MINOR 1
#define SIMUL_VERSION_PATCH 0

typedef struct simul_task simul_task;   /* opaque task handle */

/* private: a timer node embedded in other structs (see src/core/timer.c) */
typedef struct simul__tnode {
    int64_t  when;                       /* deadline, monotonic ns */
    uint32_t seq;                        /* FIFO order among equal deadlines */
    uint32_t idx;                        /* heap slot + 1; 0 = not armed */
    void   (*cb)(struct simul__tnode *);
} simul__tnode;
typedef struct simul_loop simul_loop;   /* opaque event loop */
typedef int (*simul_fn)(void *arg);

/* ------------------------------------------------------------------------ */
/* Running                                                                  */

/*
 * asyncio.run(main(arg)): creates an event loop for the calling thread, runs
 * main_fn(arg) as the main task until it finishes, then cancels every task
 * still alive, waits for them to finish, closes the loop and returns main's
 * result. Call it outside any task; calling it from inside a loop returns
 * -EBUSY. Task handles are invalid after it returns.
 */
int simul_run(simul_fn main_fn, void *arg);

/* ------------------------------------------------------------------------ */
/* Tasks                                                                    */

/* Task options for simul_spawn_opts(); zero-initialise and set what you need. */
typedef struct simul_task_opts {
    size_t      stack_size;  /* usable stack bytes; 0 = the global default */
    const char *name;        /* copied (up to 31 bytes); NULL = "task-N" */
} simul_task_opts;

/*
 * asyncio.create_task(fn(arg)): schedules fn(arg) to run as a new task, in
 * FIFO order after the tasks already ready. The task does not run until the
 * caller suspends. Its stack is taken from a pool when it first runs.
 *
 * Ownership: the caller owns the returned handle and must give it back with
 * exactly one of simul_join() (or a combinator that joins, such as
 * simul_gather()) or simul_detach(). A task never given back is cancelled and
 * freed when the loop closes (and reported in debug mode).
 *
 * Returns NULL with errno set: EPERM outside a loop, ENOMEM when memory or
 * mappings run out, EINVAL for a NULL fn or an absurd stack size.
 */
simul_task *simul_spawn(simul_fn fn, void *arg);
simul_task *simul_spawn_opts(simul_fn fn, void *arg, const simul_task_opts *opts);

/*
 * await task: waits until t finishes and returns its result (a negative
 * errno if it failed; -ECANCELED if it was cancelled), then frees t.
 *
 * If the caller is cancelled while waiting, t is cancelled too (as awaiting
 * an asyncio task does), the caller waits for t to finish, frees it, and
 * -ECANCELED is returned. Use simul_shield() to keep t running instead.
 *
 * Errors: -EPERM outside a task, -EDEADLK for joining yourself, -ESRCH for a
 * handle that was already joined or detached, -EINVAL for a detached or group
 * task, -EBUSY if another task is already joining t.
 */
int simul_join(simul_task *t);

/*
 * Requests cancellation of t. Delivered at t's next suspension point, where
 * the suspended call returns -ECANCELED; a task that has not started yet
 * finishes with -ECANCELED without running. Safe from any task or callback
 * of the loop. Returns 0, -EALREADY if t has finished, -ESRCH for a stale
 * handle, -EPERM outside a loop.
 */
int simul_cancel(simul_task *t);

/*
 * Gives up ownership of t: it is freed as soon as it finishes (or now, if it
 * has). Returns 0, -ESRCH for a stale handle, -EINVAL if already detached.
 */
int simul_detach(simul_task *t);

/*
 * asyncio.shield(t) awaited by a task that may be cancelled: waits for t like
 * simul_join(), but if the caller is cancelled, t keeps running, is detached
 * (so it frees itself when done), and -ECANCELED is returned at once.
 */
int simul_shield(simul_task *t);

/* asyncio.sleep(0): lets every other ready task run once. 0, -ECANCELED or -EPERM. */
int simul_yield(void);

/*
 * asyncio.sleep(seconds). Returns 0, -ECANCELED, -EPERM outside a task, or
 * -EINVAL for a negative or NaN duration. INFINITY sleeps until cancelled.
 */
int simul_sleep(double seconds);

/* The running task, or NULL outside a task. The handle is not a new reference. */
simul_task *simul_current(void);

/* Task names: never NULL for a live handle ("?" for a stale one). */
const char *simul_task_name(const simul_task *t);
int         simul_task_set_name(simul_task *t, const char *name);

typedef enum simul_task_state {
    SIMUL_TASK_NEW = 0,   /* spawned, has not run yet */
    SIMUL_TASK_READY,     /* waiting for its turn on the CPU */
    SIMUL_TASK_RUNNING,   /* the current task */
    SIMUL_TASK_WAITING,   /* suspended on something (sleep, join, I/O, ...) */
    SIMUL_TASK_DONE       /* finished; result available to simul_join */
} simul_task_state;

/* t's state, or -ESRCH for a stale handle. */
int simul_task_state_of(const simul_task *t);
/* 1 if t has finished (task.done()), 0 if not, -ESRCH for a stale handle. */
int simul_task_done(const simul_task *t);
/* 1 if cancellation of the current task (or an enclosing scope) is pending. */
int simul_cancelled(void);

/* Global default stack size for tasks spawned from now on (rounded up to a
 * page; minimum 16 KiB, maximum 256 MiB). Also settable with the environment
 * variable SIMUL_STACK_SIZE (bytes, or with a K/M suffix). Returns 0 or -EINVAL. */
int    simul_set_default_stack_size(size_t bytes);
size_t simul_default_stack_size(void);

/* ------------------------------------------------------------------------ */
/* Time and timeout scopes                                                  */

/* The monotonic clock (CLOCK_MONOTONIC) in seconds; deadlines for scopes
 * and timers are on this clock. Callable anywhere. */
double simul_now(void);

/*
 * A cancel scope (asyncio.timeout / trio.move_on_at). Lives in the caller's
 * frame; enter and exit must pair in LIFO order in the same task.
 *
 *     simul_scope sc;
 *     simul_scope_enter(&sc, simul_now() + 2.0);   // absolute deadline
 *     int r = do_things();                         // -ECANCELED once expired
 *     int s = simul_scope_exit(&sc);               // -ETIMEDOUT if it expired
 *
 * simul_scope_exit() returns -ETIMEDOUT if its own deadline expired and
 * cancelled a wait inside it (a call returned -ECANCELED because of it:
 * trio's cancelled_caught), -ECANCELED likewise for simul_scope_cancel(),
 * -ECANCELED whenever an enclosing scope or the task itself is still
 * cancelled (cancellation is never swallowed by an inner scope), else 0 -
 * also if the deadline passed after the calls inside had succeeded, so a
 * result that arrives with the deadline is not reported as a timeout.
 *
 * A shielded scope (simul_scope_enter_shielded) ignores cancellation from
 * outside it while it is entered (its own deadline still applies; pass
 * INFINITY for none): for cleanup that must finish.
 */
typedef struct simul_scope {
    /* private: */
    struct simul_scope *outer;
    void   *task;
    double  deadline;
    simul__tnode timer;
    int     flags;
} simul_scope;

int  simul_scope_enter(simul_scope *s, double deadline);
int  simul_scope_enter_shielded(simul_scope *s, double deadline);
int  simul_scope_exit(simul_scope *s);
/* Cancels the scope (from any task or callback of the same loop). */
void simul_scope_cancel(simul_scope *s);
/* Moves the deadline (asyncio.Timeout.reschedule). */
int  simul_scope_reschedule(simul_scope *s, double deadline);
/* 1 if the scope's deadline expired or it was cancelled (trio's
 * cancel_called), whether or not that cancelled anything. */
int  simul_scope_cancelled(const simul_scope *s);

/* ------------------------------------------------------------------------ */
/* Combinators                                                              */

enum {
    SIMUL_GATHER_FAIL_FAST = 0, /* first failure cancels the rest, is returned */
    SIMUL_GATHER_COLLECT   = 1  /* return_exceptions=True: wait for every one */
};

/*
 * asyncio.gather(*tasks): waits for all n tasks and stores each one's result
 * in results[i] (results may be NULL). Always joins (frees) every task before
 * returning, whatever happens.
 *
 * FAIL_FAST: the first task to fail (negative result) makes gather cancel the
 * others and wait for them; its error is returned. COLLECT: every task runs
 * to completion, results[] holds each outcome, 0 is returned.
 * If the caller is cancelled, every task is cancelled and awaited and
 * -ECANCELED is returned.
 */
int simul_gather(simul_task **tasks, size_t n, int *results, int mode);

/*
 * asyncio.as_completed: iterate tasks in the order they finish.
 *
 *     simul_as_completed *ac = simul_as_completed_new(tasks, n);
 *     simul_task *t; int res;
 *     while (simul_as_completed_next(ac, &t, &res) == 0) { ... }
 *     simul_as_completed_free(ac);
 *
 * _new allocates (NULL with errno ENOMEM; EINVAL for a task owned elsewhere
 * or a handle given twice; ESRCH, EDEADLK, EPERM - then no task is touched)
 * and takes ownership of the n tasks; _next
 * suspends until one more finishes, stores which (*t is only for identity:
 * it is already joined) and its result, and returns 0; -ENOENT when all were
 * returned; -ECANCELED if the caller was cancelled (the remaining tasks keep
 * running until _free). _free cancels and reaps any task not yet returned.
 */
typedef struct simul_as_completed simul_as_completed;
simul_as_completed *simul_as_completed_new(simul_task **tasks, size_t n);
int  simul_as_completed_next(simul_as_completed *ac, simul_task **t, int *result);
void simul_as_completed_free(simul_as_completed *ac);

/*
 * asyncio.wait_for(t, timeout): joins t, but if it has not finished within
 * `seconds`, cancels it, waits for it, and returns -ETIMEDOUT. If t finishes
 * in the same instant the timeout fires, its real result wins. Always joins t.
 * If the caller is cancelled, t is cancelled and -ECANCELED is returned.
 */
int simul_wait_for(simul_task *t, double seconds);

/*
 * Task groups (asyncio.TaskGroup, structured concurrency).
 *
 *     simul_group g;
 *     simul_group_enter(&g);
 *     simul_group_spawn(&g, fn, arg);  ...
 *     int r = simul_group_exit(&g);    // waits for every child
 *
 * The group owns its children (do not join or detach them). The first child
 * that fails (returns < 0, not because the group cancelled it) cancels its
 * siblings and the owner's code between enter and exit (its suspension
 * points return -ECANCELED); exit waits for all children and returns that
 * child's error. If the owner is cancelled, exit cancels the children, waits
 * for them and returns -ECANCELED - unless a child failed: a child's error
 * is never hidden by the owner's cancellation (asyncio raises the
 * ExceptionGroup then, too); the owner stays cancelled all the same, so its
 * next suspension point returns -ECANCELED. Exit returns 0 when every child
 * succeeded. A child that returns -ECANCELED (cancelled by the group, or by
 * anyone) is not a failure.
 *
 * Spawning: NULL with errno EINVAL for a group never entered (zero it or
 * enter it first), EBUSY once exit has returned or while exit waits with no
 * child left; ENOMEM. A child spawned after a sibling failed starts
 * cancelled (it finishes with -ECANCELED without running).
 */
typedef struct simul_group_error {
    int  error;          /* the child's result, a negative errno */
    char name[32];       /* the child's name (simul_task_name), NUL-terminated */
} simul_group_error;

typedef struct simul_group {
    /* private: */
    simul_scope scope;
    size_t      live;
    int         error;
    int         closing;       /* 0 open, 1 in exit, 2 exited */
    void       *owner;
    simul_group_error *errs;   /* every failure, up to SIMUL_GROUP_ERRORS_MAX */
    uint32_t    nerrs, caperrs;
    size_t      failures;      /* all failures, also those not kept */
} simul_group;

/* How many child errors a group keeps (the count goes on past it). */
#define SIMUL_GROUP_ERRORS_MAX 1024

int         simul_group_enter(simul_group *g);
simul_task *simul_group_spawn(simul_group *g, simul_fn fn, void *arg);
simul_task *simul_group_spawn_opts(simul_group *g, simul_fn fn, void *arg,
                                   const simul_task_opts *opts);
int         simul_group_exit(simul_group *g);
/*
 * simul_group_exit, and every child's error (asyncio's ExceptionGroup, in
 * C): the failures are copied into errs[0..cap) in the order they happened
 * and *n is set to how many children failed (it may exceed cap, as
 * snprintf's result may exceed its buffer; past SIMUL_GROUP_ERRORS_MAX
 * failures only the first ones are kept). The caller owns errs (NULL with
 * cap 0 to just count); the group frees its own record before returning.
 * Returns what simul_group_exit returns - when children failed, that is
 * errs[0].error, the first failure.
 */
int         simul_group_exit_errors(simul_group *g, simul_group_error *errs, size_t cap,
                                    size_t *n);
/* Cancels every child and the group's scope. */
void        simul_group_cancel(simul_group *g);

/* ------------------------------------------------------------------------ */
/* Callback-level loop interface (for C libraries with event-loop hooks)    */

/* The calling thread's running loop, or NULL. Safe to pass to other threads
 * for simul_call_soon_threadsafe() while the loop runs. */
simul_loop *simul_loop_current(void);

/* Keeps the loop from deciding it is deadlocked while another thread will
 * still call simul_call_soon_threadsafe() (every task waiting, no timers,
 * no fds): ref before handing work to the thread, unref when it is done.
 * Thread-safe. Without a ref, a loop with nothing that can wake it prints a
 * deadlock warning and cancels its tasks (Go's "all goroutines are asleep"). */
void simul_loop_ref(simul_loop *loop);
void simul_loop_unref(simul_loop *loop);

/* loop.call_soon(cb, arg): runs cb(arg) on the loop soon, FIFO with tasks.
 * From a task or callback of the loop. 0, -ENOMEM, -EPERM outside a loop. */
int simul_call_soon(void (*cb)(void *), void *arg);

/* loop.call_soon_threadsafe: from any thread, while the loop runs; wakes
 * the loop. 0, -ENOMEM, -EINVAL for a NULL loop, -ESHUTDOWN if it closed. */
int simul_call_soon_threadsafe(simul_loop *loop, void (*cb)(void *), void *arg);

/*
 * One-shot timers (loop.call_later). The caller allocates and frees:
 *     simul_timer *t = simul_timer_new(cb, arg);   // NULL/ENOMEM, EPERM
 *     simul_timer_start(t, 0.5);   // (re)arms: cb(arg) runs once in 0.5 s
 *     simul_timer_stop(t);         // disarms; harmless if not armed
 *     simul_timer_free(t);         // stops and frees; safe inside cb
 */
typedef struct simul_timer simul_timer;
simul_timer *simul_timer_new(void (*cb)(void *), void *arg);
int          simul_timer_start(simul_timer *t, double delay);
int          simul_timer_start_at(simul_timer *t, double deadline);
int          simul_timer_stop(simul_timer *t);
int          simul_timer_active(const simul_timer *t);
void         simul_timer_free(simul_timer *t);

/* call_later sugar: a timer that frees itself after firing.
 * 0, -ENOMEM, -EINVAL (negative/NaN delay), -EPERM outside a loop. */
int simul_call_later(double delay, void (*cb)(void *), void *arg);

/*
 * fd readiness watchers, as libuv's uv_poll (level-triggered):
 *     simul_watch *w = simul_watch_new(fd, cb, arg);  // NULL/ENOMEM, EPERM
 *     simul_watch_set(w, SIMUL_READABLE | SIMUL_WRITABLE);  // 0 = pause
 *     cb(w, revents, arg) runs on the loop while fd is ready;
 *     simul_watch_free(w);     // stops watching (safe inside cb); does not
 *                              // close fd
 * revents may include SIMUL_ERROR or SIMUL_HANGUP. Only one watcher per fd.
 * simul_watch_set returns 0, -EEXIST (fd already watched), -EBADF, -ENOMEM.
 */
enum { SIMUL_READABLE = 1, SIMUL_WRITABLE = 4, SIMUL_ERROR = 8, SIMUL_HANGUP = 16 };
typedef struct simul_watch simul_watch;
typedef void (*simul_watch_cb)(simul_watch *w, int revents, void *arg);
simul_watch *simul_watch_new(int fd, simul_watch_cb cb, void *arg);
int          simul_watch_set(simul_watch *w, int events);
int          simul_watch_fd(const simul_watch *w);
void         simul_watch_free(simul_watch *w);

/* Name of the backend the current loop uses ("epoll", "io_uring"), or NULL. */
const char *simul_backend_name(void);

/* ------------------------------------------------------------------------ */
/* Errors and debugging                                                     */

/* Message for a negative (or positive) errno or SIMUL_EAI_* code; never
 * NULL; thread-safe. */
const char *simul_strerror(int err);

/*
 * Resolver errors: getaddrinfo(3)'s EAI_* codes, each mapped to a negative
 * code of its own in -3000..-3099, below every errno (the values of libuv's
 * UV__EAI_*), so an unknown host never reads as a device error. Returned by
 * simul_getaddrinfo() and by the calls that resolve names
 * (simul_open_connection, simul_start_server, the UDP calls);
 * simul_eai_to_error() converts a raw EAI_* code.
 */
#define SIMUL_EAI_ADDRFAMILY (-3000)  /* EAI_ADDRFAMILY: no address in that family */
#define SIMUL_EAI_AGAIN      (-3001)  /* EAI_AGAIN: temporary failure, try later */
#define SIMUL_EAI_BADFLAGS   (-3002)  /* EAI_BADFLAGS: bad ai_flags */
#define SIMUL_EAI_FAIL       (-3004)  /* EAI_FAIL: permanent failure */
#define SIMUL_EAI_FAMILY     (-3005)  /* EAI_FAMILY: ai_family not supported */
#define SIMUL_EAI_MEMORY     (-3006)  /* EAI_MEMORY: the resolver ran out of memory */
#define SIMUL_EAI_NODATA     (-3007)  /* EAI_NODATA: the name has no address */
#define SIMUL_EAI_NONAME     (-3008)  /* EAI_NONAME: unknown host or service */
#define SIMUL_EAI_OVERFLOW   (-3009)  /* EAI_OVERFLOW: an argument buffer overflowed */
#define SIMUL_EAI_SERVICE    (-3010)  /* EAI_SERVICE: service unknown for the socket type */
#define SIMUL_EAI_SOCKTYPE   (-3011)  /* EAI_SOCKTYPE: ai_socktype not supported */

/*
 * Prints every task of the current loop with its state, name and where it
 * is suspended, to fd (2 for stderr). Also triggered by SIGQUIT while a loop
 * runs with SIMUL_DEBUG=1. Returns the number of tasks listed or -EPERM.
 */
int simul_dump_tasks(int fd);

#ifdef __cplusplus
}
#endif

#include <simul/sync.h>   /* queues, semaphores, locks, events, generators, select */
#include <simul/net.h>    /* fd waits, TCP/Unix streams, servers, UDP */
#include <simul/sys.h>    /* thread pool, files, DNS, signals, subprocesses */

#endif /* SIMUL_H */
