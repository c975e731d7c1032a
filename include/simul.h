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
 *  - "next item or end" calls (simul_gen_next, simul_as_completed_next,
 *    simul_queue_next, and stream/file read and readline, which count
 *    bytes) return > 0 for an item (1, or the bytes read), 0 at the end,
 *    < 0 for an error, so `while ((r = next(...)) > 0)` iterates and
 *    r < 0 after the loop is the failure;
 *  - constructors: `_new` makes a memory-only object and returns it, or
 *    NULL with errno set; `_open` / `simul_start_*` acquire system
 *    resources and return 0 or a negative errno, storing the object
 *    through their last argument;
 *  - a suspending call in a task that has been cancelled returns -ECANCELED
 *    (cancellation is level-triggered, as in trio: once a task or an enclosing
 *    scope is cancelled, every later suspension point fails too, until the
 *    cancelled scope is left; use a shielded scope for cleanup that must wait);
 *  - times are doubles in seconds, and the name says which kind: an absolute
 *    time on the simul_now() clock is only ever a parameter named `deadline`
 *    or the argument of a call ending in _until or _at; a relative duration
 *    is only ever a parameter named `timeout` or `seconds`. INFINITY means
 *    "never", NaN is -EINVAL, a deadline already past fails with -ETIMEDOUT
 *    (after a non-blocking attempt where the call has one).
 *
 * Task results are ints: a task function returns >= 0 for success and a
 * negative errno for failure. Richer results travel through the argument.
 */
#ifndef SIMUL_H
#define SIMUL_H

#include <stddef.h>
#include <stdint.h>

#include <simul/export.h>   /* SIMUL_API: marks every public function */

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
SIMUL_API int simul_run(simul_fn main_fn, void *arg);

/*
 * Embedding (libuv's uv_loop_init/uv_run/uv_loop_close): a loop the caller
 * creates, drives and frees. simul_run() is simul_loop_new() with .signals
 * = 1, simul_loop_run() and simul_loop_free().
 *
 * Options: zero-initialise and set what you need. A zero field takes the
 * default, which comes from the environment when the variable is set (read
 * once per process, at the first loop created) or else the built-in value.
 */
typedef struct simul_loop_opts {
    const char *backend;          /* "epoll", "io_uring" or "auto" (io_uring if
                                     it works, else epoll); NULL: $SIMUL_BACKEND,
                                     else "epoll". Not copied: used at _new */
    size_t      stack_size;       /* task stacks when spawn gives none; 0:
                                     the process default (simul_set_default_
                                     stack_size, $SIMUL_STACK_SIZE, 64 KiB) */
    unsigned    threadpool_size;  /* 1..256 threads; 0: $SIMUL_THREADPOOL_SIZE,
                                     else 4 */
    int         debug;            /* > 0 on, < 0 off; 0: $SIMUL_DEBUG */
    int         signals;          /* 1: the process-signal handling of
                                     simul_run: SIGINT cancels main (the run
                                     returns -EINTR), SIGQUIT dumps tasks in
                                     debug mode, SIGSEGV reports task stack
                                     overflows, SIGPIPE ignored. 0: no signal
                                     disposition is touched (the host's) */
} simul_loop_opts;

/*
 * Creates a loop for the calling thread and makes it the thread's loop
 * (simul_loop_current). opts may be NULL (all defaults). The caller owns
 * *out and frees it with simul_loop_free on the same thread.
 * Errors: -EBUSY if the thread already has a loop, -EINVAL for a bad
 * option (unknown backend, stack or pool size out of range), -ENOMEM, or
 * the backend's error (io_uring refused, fd limits).
 */
SIMUL_API int  simul_loop_new(const simul_loop_opts *opts, simul_loop **out);

/*
 * Runs main_fn(arg) as the loop's main task until it finishes, and returns
 * its result (loop.run_until_complete). Other tasks stay as they are (they
 * run again in the next run, or are cancelled by simul_loop_free). With
 * .signals, SIGINT cancels main and the result is -EINTR.
 * Errors (besides main's own result): -EINVAL (NULL loop or fn), -EPERM
 * on another thread than the loop's, -EBUSY from inside the loop (a task
 * or callback) or while a main started by simul_loop_start runs, -ENOMEM.
 */
SIMUL_API int  simul_loop_run(simul_loop *loop, simul_fn main_fn, void *arg);

/*
 * For a host that drives the loop from its own event loop: starts
 * main_fn(arg) as the main task without running anything yet; then call
 * simul_loop_run_once whenever simul_loop_backend_fd is readable or
 * simul_loop_timeout has passed. Errors as simul_loop_run.
 */
SIMUL_API int  simul_loop_start(simul_loop *loop, simul_fn main_fn, void *arg);

/*
 * One iteration without blocking (uv_run(UV_RUN_NOWAIT)): runs what is
 * ready, collects ready fds and completions, fires due timers. Returns 1
 * while the main task runs, 0 once it has finished (then *result, if not
 * NULL, is its result, as simul_loop_run returns it, and the run is over),
 * 0 as well when no main was started, or -EPERM/-EBUSY/-EINVAL as
 * simul_loop_run.
 */
SIMUL_API int  simul_loop_run_once(simul_loop *loop, int *result);

/*
 * A descriptor that becomes readable when simul_loop_run_once has work to
 * collect (uv_backend_fd): the epoll fd, or on io_uring an eventfd the
 * ring signals (made at the first call; a ring set up with deferred task
 * work never wakes a poll on its own fd). Owned by the loop: poll it for
 * POLLIN, never read or close it. fd >= 0, -EINVAL for a NULL loop, or
 * the error of making the eventfd.
 */
SIMUL_API int  simul_loop_backend_fd(simul_loop *loop);

/*
 * How long a host may sleep before the next simul_loop_run_once (seconds:
 * 0 if something is ready, the time to the next timer, or INFINITY when
 * only an fd or another thread can bring work). 0 or -EINVAL.
 */
SIMUL_API int  simul_loop_timeout(simul_loop *loop, double *timeout);

/* User data: any pointer, not used by the library. 0 or -EINVAL. */
SIMUL_API int   simul_loop_set_data(simul_loop *loop, void *data);
SIMUL_API void *simul_loop_data(const simul_loop *loop);

/*
 * Cancels every task still alive and waits for them, runs the layers'
 * shutdown (in tasks: e.g. waits for thread-pool jobs still running),
 * cancels what that left, closes the layers in reverse order, frees the
 * loop and clears the thread's loop. Task handles and objects of the loop
 * are invalid afterwards. 0, -EINVAL (NULL), -EPERM (another thread),
 * -EBUSY (from inside the loop).
 */
SIMUL_API int  simul_loop_free(simul_loop *loop);

/*
 * Loops across cores: simul_run_loops(n, main_fn, arg, opts) runs n loops
 * on n threads - loop 0 on the calling thread, loops 1..n-1 on threads it
 * starts - each running main_fn(arg) as its main task (simul_loop_index()
 * tells which), and returns when all have finished:
 *  - 0 when every main returned >= 0, else the first failure in time: a
 *    main returning < 0 cancels every other main (as a task group; a main
 *    returning -ECANCELED is not a failure). With .signals (the default
 *    when opts is NULL), loop 0 takes SIGINT as simul_run does: its main
 *    is cancelled, the others too, and the result is -EINTR.
 *  - A main that returns does not close its loop: the loop keeps running
 *    (tasks left, spawn_on calls, channel wakeups) until every main has
 *    returned; then each loop is freed on its thread, as simul_run frees
 *    its loop (leftover tasks cancelled), and the threads are joined. So
 *    while any main runs, simul_loop_at(i) of every loop is open; a loop
 *    that has closed refuses calls with -ESHUTDOWN (its memory stays
 *    until simul_run_loops returns).
 *  - n = 0: one loop per CPU the process may run on (sched_getaffinity).
 * Call it outside any loop. Errors: -EINVAL (NULL fn, n > SIMUL_LOOPS_MAX),
 * -EBUSY (the thread runs a loop), the first loop's creation error
 * (simul_loop_new; then no main runs), -EAGAIN and kin (pthread_create),
 * -ENOMEM.
 */
#define SIMUL_LOOPS_MAX 1024
typedef struct simul_loops_opts {
    simul_loop_opts loop;  /* every loop's options; .signals applies to
                              loop 0 only (handlers are process-wide) */
    int             pin;   /* 1: loop i's thread is pinned to the i-th CPU
                              (modulo the count) of the process's
                              affinity set; 0: the scheduler places them */
} simul_loops_opts;
SIMUL_API int simul_run_loops(unsigned n, simul_fn main_fn, void *arg,
                              const simul_loops_opts *opts);
/* The calling thread's loop's index in its simul_run_loops group, and the
 * group's size; a loop of its own (simul_run, simul_loop_new) is loop 0 of
 * 1. -EPERM on a thread without a loop. */
SIMUL_API int simul_loop_index(void);
SIMUL_API int simul_loop_count(void);
/* Loop i of the calling thread's group (the thread's own loop for i 0 of a
 * lone loop), for simul_spawn_on and the like; NULL out of range or on a
 * thread without a loop. Valid (not freed) until simul_run_loops returns. */
SIMUL_API simul_loop *simul_loop_at(int i);

/*
 * Log messages (the library prints nothing otherwise): a deadlock broken,
 * an environment variable ignored, a poll failure, a server's accept
 * trouble, debug-mode warnings. The handler gets a level and a one-line
 * message without the trailing newline; it may run on any thread using the
 * library (the pool's threads included), so it must be thread-safe and
 * must not call simul. NULL restores the default, which prints
 * "simul: MESSAGE" to stderr. Messages above max_level are dropped before
 * they are formatted (default: SIMUL_LOG_INFO). Set it before starting
 * loops. 0, or -EINVAL for a level out of range.
 */
enum { SIMUL_LOG_ERROR = 0, SIMUL_LOG_WARN = 1, SIMUL_LOG_INFO = 2, SIMUL_LOG_DEBUG = 3 };
typedef void (*simul_log_fn)(int level, const char *msg, void *arg);
SIMUL_API int simul_log_set_handler(simul_log_fn fn, void *arg, int max_level);

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
SIMUL_API simul_task *simul_spawn(simul_fn fn, void *arg);
SIMUL_API simul_task *simul_spawn_opts(simul_fn fn, void *arg, const simul_task_opts *opts);

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
SIMUL_API int simul_join(simul_task *t);

/*
 * Requests cancellation of t. Delivered at t's next suspension point, where
 * the suspended call returns -ECANCELED; a task that has not started yet
 * finishes with -ECANCELED without running. Safe from any task or callback
 * of the loop. Returns 0, -EALREADY if t has finished, -ESRCH for a stale
 * handle, -EPERM outside a loop.
 */
SIMUL_API int simul_cancel(simul_task *t);

/*
 * Gives up ownership of t: it is freed as soon as it finishes (or now, if it
 * has). Returns 0, -ESRCH for a stale handle, -EINVAL if already detached.
 */
SIMUL_API int simul_detach(simul_task *t);

/*
 * asyncio.shield(t) awaited by a task that may be cancelled: waits for t like
 * simul_join(), but if the caller is cancelled, t keeps running, is detached
 * (so it frees itself when done), and -ECANCELED is returned at once.
 */
SIMUL_API int simul_shield(simul_task *t);

/* asyncio.sleep(0): lets every other ready task run once. 0, -ECANCELED or -EPERM. */
SIMUL_API int simul_yield(void);

/*
 * asyncio.sleep(seconds). Returns 0, -ECANCELED, -EPERM outside a task, or
 * -EINVAL for a negative or NaN duration. INFINITY sleeps until cancelled.
 */
SIMUL_API int simul_sleep(double seconds);

/* The running task, or NULL outside a task. The handle is not a new reference. */
SIMUL_API simul_task *simul_current(void);

/* Task names: never NULL for a live handle ("?" for a stale one). */
SIMUL_API const char *simul_task_name(const simul_task *t);
SIMUL_API int         simul_task_set_name(simul_task *t, const char *name);

typedef enum simul_task_state {
    SIMUL_TASK_NEW = 0,   /* spawned, has not run yet */
    SIMUL_TASK_READY,     /* waiting for its turn on the CPU */
    SIMUL_TASK_RUNNING,   /* the current task */
    SIMUL_TASK_WAITING,   /* suspended on something (sleep, join, I/O, ...) */
    SIMUL_TASK_DONE       /* finished; result available to simul_join */
} simul_task_state;

/* t's state, or -ESRCH for a stale handle. */
SIMUL_API int simul_task_state_of(const simul_task *t);
/* 1 if t has finished (task.done()), 0 if not, -ESRCH for a stale handle. */
SIMUL_API int simul_task_done(const simul_task *t);
/* 1 if cancellation of the current task (or an enclosing scope) is pending. */
SIMUL_API int simul_cancelled(void);
/*
 * task.cancelled(): 1 if t has finished because it was cancelled - someone
 * cancelled it (simul_cancel, its group, a cancelled joiner, loop shutdown)
 * and it returned -ECANCELED -, 0 if it is not finished or finished any
 * other way (including a task that returned -ECANCELED of its own accord,
 * e.g. passed up from a cancelled scope inside it, and a cancelled task
 * that still returned a result). -ESRCH for a stale handle: ask before
 * joining. Never suspends.
 */
SIMUL_API int simul_task_cancelled(const simul_task *t);
/*
 * asyncio.all_tasks(): stores handles of the loop's tasks that have not
 * finished (including the current one), up to cap of them, in out, and
 * returns how many there are (which may exceed cap; as snprintf). The
 * handles are not references: they stay the owners'. -EPERM outside a
 * loop, -EINVAL for NULL out with cap > 0.
 */
SIMUL_API int simul_all_tasks(simul_task **out, size_t cap);

/* Default stack size for tasks spawned from now on (rounded up to a page;
 * minimum 16 KiB, maximum 256 MiB): the process default for loops created
 * later, and the calling thread's loop's (simul_loop_opts.stack_size).
 * The process default starts from the environment variable
 * SIMUL_STACK_SIZE (bytes, or with a K/M suffix; read once, when the first
 * loop is created) or 64 KiB. simul_default_stack_size reports the calling
 * thread's loop's, else the process default. Returns 0 or -EINVAL. */
SIMUL_API int    simul_set_default_stack_size(size_t bytes);
SIMUL_API size_t simul_default_stack_size(void);

/* ------------------------------------------------------------------------ */
/* Time and timeout scopes                                                  */

/* The monotonic clock (CLOCK_MONOTONIC) in seconds; deadlines for scopes
 * and timers are on this clock. Callable anywhere. */
SIMUL_API double simul_now(void);

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

SIMUL_API int  simul_scope_enter(simul_scope *s, double deadline);
SIMUL_API int  simul_scope_enter_shielded(simul_scope *s, double deadline);
SIMUL_API int  simul_scope_exit(simul_scope *s);
/* Cancels the scope (from any task or callback of the same loop). */
SIMUL_API void simul_scope_cancel(simul_scope *s);
/* Moves the deadline (asyncio.Timeout.reschedule). */
SIMUL_API int  simul_scope_reschedule(simul_scope *s, double deadline);
/* 1 if the scope's deadline expired or it was cancelled (trio's
 * cancel_called), whether or not that cancelled anything. */
SIMUL_API int  simul_scope_cancelled(const simul_scope *s);

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
SIMUL_API int simul_gather(simul_task **tasks, size_t n, int *results, int mode);

/*
 * asyncio.as_completed: iterate tasks in the order they finish.
 *
 *     simul_as_completed *ac = simul_as_completed_new(tasks, n);
 *     simul_task *t; int res;
 *     while (simul_as_completed_next(ac, &t, &res) == 1) { ... }
 *     simul_as_completed_free(ac);
 *
 * _new allocates (NULL with errno ENOMEM; EINVAL for a task owned elsewhere
 * or a handle given twice; ESRCH, EDEADLK, EPERM - then no task is touched)
 * and takes ownership of the n tasks; _next
 * suspends until one more finishes, stores which (*t is only for identity:
 * it is already joined) and its result, and returns 1; 0 when all were
 * returned (the "next item" convention: 1 an item, 0 the end, < 0 an
 * error); -ECANCELED if the caller was cancelled (the remaining tasks keep
 * running until _free). _free cancels and reaps any task not yet returned.
 */
typedef struct simul_as_completed simul_as_completed;
SIMUL_API simul_as_completed *simul_as_completed_new(simul_task **tasks, size_t n);
SIMUL_API int  simul_as_completed_next(simul_as_completed *ac, simul_task **t, int *result);
SIMUL_API void simul_as_completed_free(simul_as_completed *ac);

/*
 * asyncio.wait(tasks, timeout, return_when): waits until return_when holds -
 * SIMUL_WAIT_FIRST_COMPLETED (one task finished), SIMUL_WAIT_FIRST_EXCEPTION
 * (one failed: a negative result other than its own cancellation, see
 * simul_task_cancelled; or all finished), SIMUL_WAIT_ALL_COMPLETED - or the
 * timeout passes. Then it reorders tasks[] into the done set followed by the
 * pending set (each in the original order) and returns the size of the done
 * set (0 after a timeout with nothing done: a timeout is not an error).
 * Nothing is joined, detached or cancelled: wait owns nothing, so it takes
 * any live task (its owner's, a group's, one another task joins). A task
 * freed meanwhile by its owner counts as done (its handle, then stale, is
 * in the done set). _until takes an absolute deadline (INFINITY: none).
 * Errors: -ECANCELED (the caller was cancelled; tasks[] is reordered all
 * the same, the tasks run on), -EINVAL (bad return_when, negative or NaN
 * timeout, a handle given twice), -ESRCH (stale handle), -EDEADLK (the
 * caller itself), -ENOMEM, -EPERM.
 */
enum {
    SIMUL_WAIT_ALL_COMPLETED = 0,
    SIMUL_WAIT_FIRST_COMPLETED = 1,
    SIMUL_WAIT_FIRST_EXCEPTION = 2
};
SIMUL_API int simul_wait(simul_task **tasks, size_t n, int return_when, double timeout);
SIMUL_API int simul_wait_until(simul_task **tasks, size_t n, int return_when, double deadline);

/*
 * asyncio.wait_for(t, timeout): joins t, but if it has not finished within
 * `seconds`, cancels it, waits for it, and returns -ETIMEDOUT. If t finishes
 * in the same instant the timeout fires, its real result wins. Always joins t.
 * If the caller is cancelled, t is cancelled and -ECANCELED is returned.
 */
SIMUL_API int simul_wait_for(simul_task *t, double seconds);

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

SIMUL_API int         simul_group_enter(simul_group *g);
SIMUL_API simul_task *simul_group_spawn(simul_group *g, simul_fn fn, void *arg);
SIMUL_API simul_task *simul_group_spawn_opts(simul_group *g, simul_fn fn, void *arg,
                                             const simul_task_opts *opts);
SIMUL_API int         simul_group_exit(simul_group *g);
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
SIMUL_API int         simul_group_exit_errors(simul_group *g, simul_group_error *errs, size_t cap,
                                              size_t *n);
/* Cancels every child and the group's scope. */
SIMUL_API void        simul_group_cancel(simul_group *g);

/* ------------------------------------------------------------------------ */
/* Futures                                                                  */

/*
 * asyncio.Future: a one-shot outcome - a pointer result, an error, or a
 * cancellation - that tasks await and that a loop callback, another task or
 * another thread sets. The way a C library with callbacks (an HTTP client,
 * a Redis or PostgreSQL driver) wakes the task that waits for its answer:
 *
 *     simul_future *f = simul_future_new();          // in the task
 *     start_request(..., on_reply, f);               // the library's API
 *     void *reply;
 *     int r = simul_future_wait_until(f, &reply, simul_now() + 5);
 *     simul_future_free(f);
 *
 *     static void on_reply(void *reply, int err, void *f)  // a loop callback
 *     {
 *         if (err) simul_future_set_error(f, err);   // negative errno
 *         else     simul_future_set_result(f, reply);
 *     }
 *
 * Ownership: simul_future_new() allocates (NULL with errno EPERM outside a
 * loop, ENOMEM); whoever created it frees it with simul_future_free(), on
 * its loop's thread, once nothing will set it any more (a thread-safe set
 * already queued is fine: the future is kept until it has run). The future
 * never owns the result pointer. Freeing wakes tasks still waiting with
 * -EIDRM; a waiter that was already woken never touches the future again,
 * so it may be freed as soon as it is done.
 */
typedef struct simul_future simul_future;
typedef void (*simul_future_cb)(simul_future *f, void *arg);

/* Most done callbacks one future holds at a time. */
#define SIMUL_FUTURE_CALLBACKS_MAX 1024

SIMUL_API simul_future *simul_future_new(void);
SIMUL_API void          simul_future_free(simul_future *f);

/*
 * Completing (fut.set_result / set_exception / cancel), from a task or a
 * callback of the future's loop. The first completion wins: later ones
 * return -EALREADY and change nothing. Every waiting task is woken; done
 * callbacks are scheduled (call_soon). set_error needs err < 0 (-EINVAL
 * otherwise); cancel makes waiters return -ECANCELED and
 * simul_future_cancelled() 1. -EPERM from a thread running no loop,
 * -EXDEV from another loop (use the _threadsafe forms), -EINVAL for NULL.
 * Never suspend.
 */
SIMUL_API int simul_future_set_result(simul_future *f, void *value);
SIMUL_API int simul_future_set_error(simul_future *f, int err);
SIMUL_API int simul_future_cancel(simul_future *f);

/*
 * The same from any thread (loop.call_soon_threadsafe(fut.set_result, v)):
 * the completion is queued to the future's loop and applied there (where
 * the first completion still wins). Returns 0 once queued, -ENOMEM,
 * -ESHUTDOWN if the loop has closed (the future keeps its loop's memory
 * until it is freed, so this is safe), -EINVAL. The caller keeps the future
 * alive until the call returns; the loop keeps it until the completion has
 * run (a completion still queued when the loop closes is dropped). A task
 * waiting for a future that only another thread will set is not a deadlock
 * only if that thread holds a simul_loop_ref() meanwhile.
 */
SIMUL_API int simul_future_set_result_threadsafe(simul_future *f, void *value);
SIMUL_API int simul_future_set_error_threadsafe(simul_future *f, int err);
SIMUL_API int simul_future_cancel_threadsafe(simul_future *f);

/*
 * await fut: suspends until f completes and returns 0 (storing the result
 * in *value if value is not NULL), the error given to set_error, or
 * -ECANCELED if f was cancelled. _until gives up at `deadline` (absolute,
 * simul_now() clock; INFINITY = none) with -ETIMEDOUT and leaves f pending.
 * A completed future returns its outcome at once (in a task that is not
 * cancelled). Several tasks may wait for one future; each gets the outcome.
 * Cancel: if the waiting task is cancelled, -ECANCELED is returned and f is
 * cancelled too, as awaiting an asyncio future cancels it (its done
 * callbacks see that, so a library can abort the request); use
 * simul_future_cancelled(f) to tell "f was cancelled" from "I was". Errors:
 * -EIDRM (freed while waiting), -EPERM (outside a task), -EXDEV (f belongs to
 * another loop), -EINVAL (NULL f, NaN deadline), -ENOMEM (timer heap).
 */
SIMUL_API int simul_future_wait(simul_future *f, void **value);
SIMUL_API int simul_future_wait_until(simul_future *f, void **value, double deadline);

/* fut.done(): 1 once completed, else 0. fut.cancelled(): 1 if completed
 * by a cancel. fut.result() without waiting: the outcome as wait returns
 * it (0 with *value, an error, -ECANCELED), or -EAGAIN while pending.
 * -EINVAL for NULL. Callable from the loop's thread. */
SIMUL_API int simul_future_done(const simul_future *f);
SIMUL_API int simul_future_cancelled(const simul_future *f);
SIMUL_API int simul_future_result(const simul_future *f, void **value);

/*
 * fut.add_done_callback(cb): cb(f, arg) runs on the loop once f is done
 * (scheduled with call_soon: never inside the setter; at once-ish if f is
 * already done), in the order added, once. cb may free f. Returns 0,
 * -ENOSPC past SIMUL_FUTURE_CALLBACKS_MAX pending callbacks, -ENOMEM,
 * -EPERM from another thread, -EINVAL. remove_done_callback removes every
 * pending (cb, arg) pair and returns how many it removed.
 */
SIMUL_API int simul_future_add_done_callback(simul_future *f, simul_future_cb cb, void *arg);
SIMUL_API int simul_future_remove_done_callback(simul_future *f, simul_future_cb cb, void *arg);

/* ------------------------------------------------------------------------ */
/* Callback-level loop interface (for C libraries with event-loop hooks)    */

/*
 * Loops on several threads. Each thread runs at most one loop; a task, and
 * every sync object (queue, event, lock, ...), belongs to the loop it was
 * made in and is only ever run or woken on that loop's thread. From a task
 * of another loop, waiting on a queue or an event (and setting an event)
 * is carried out by the owner loop, the caller suspending meanwhile; every
 * other call on another loop's task or object fails with -EXDEV. Other
 * threads reach a loop only through simul_call_soon_threadsafe() and wake
 * handles (simul_async_*), and hold it with simul_loop_ref().
 */

/* The calling thread's running loop, or NULL. */
SIMUL_API simul_loop *simul_loop_current(void);

/* Holds the loop for another thread (thread-safe). While held, the loop
 * does not decide it is deadlocked (every task waiting, no timers, no fds)
 * and its memory outlives its close, so the holder's
 * simul_call_soon_threadsafe() fails with -ESHUTDOWN instead of touching
 * freed memory: ref before handing the loop to the thread, unref (from any
 * thread, even after the loop closed) when that thread is done with it.
 * Without a ref, a loop with nothing that can wake it logs a deadlock
 * warning and cancels its tasks (Go's "all goroutines are asleep"). */
SIMUL_API void simul_loop_ref(simul_loop *loop);
SIMUL_API void simul_loop_unref(simul_loop *loop);

/* loop.call_soon(cb, arg): runs cb(arg) on the loop soon, FIFO with tasks.
 * From a task or callback of the loop. 0, -ENOMEM, -EPERM outside a loop.
 * A callback still queued when the run ends runs before the loop closes
 * (unlike asyncio, which drops it: in C it may be what frees memory); one
 * that keeps queuing itself is dropped after 64 such rounds. */
SIMUL_API int simul_call_soon(void (*cb)(void *), void *arg);

/* loop.call_soon_threadsafe: from any thread; cb(arg) runs on the loop's
 * thread, FIFO with tasks, and the loop wakes up. 0, -ENOMEM, -EINVAL for a
 * NULL loop or cb, -ESHUTDOWN once the loop has closed (callbacks accepted
 * but not yet run when it closes are dropped). Racing the close is safe
 * while the caller holds a simul_loop_ref() (or the loop is known to be
 * running); calling with a loop whose memory is gone is not. */
SIMUL_API int simul_call_soon_threadsafe(simul_loop *loop, void (*cb)(void *), void *arg);

/*
 * asyncio.run_coroutine_threadsafe(coro, loop): runs fn(arg) as a new task
 * of `loop` (another thread's, or this one's) and hands back a future of
 * the calling loop that completes with its outcome: await it with
 * simul_future_wait (0 with value (void *)(intptr_t)r for fn's result
 * r >= 0, r itself for r < 0). The caller owns *out and frees it with
 * simul_future_free (also before it completes: fn runs on, its result is
 * dropped). arg must stay valid until fn has finished with it.
 * Cancel, both ways: cancelling the future (simul_future_cancel, or a task
 * awaiting it being cancelled) cancels fn's task on `loop`; fn's task
 * cancelled there completes the future as cancelled (-ECANCELED); a loop
 * closing (simul_loop_free began) before or while fn runs completes it
 * with -ESHUTDOWN. A task awaiting the future is not taken for a deadlock
 * meanwhile. From a task or callback of a loop; `loop` must be valid
 * memory (simul_loop_at, or held with simul_loop_ref). Errors: -EINVAL,
 * -EPERM (the calling thread has no loop: use simul_run_on), -ESHUTDOWN
 * (`loop` is closing or closed), -ENOMEM.
 */
SIMUL_API int simul_spawn_on(simul_loop *loop, simul_fn fn, void *arg, simul_future **out);
/*
 * The same for a thread that runs no loop: blocks it until fn(arg), run as
 * a task of `loop`, has returned, and returns fn's result; -ESHUTDOWN if
 * the loop is closing or closed (fn not run, or cancelled by the close),
 * -EBUSY on a thread that runs a loop (it would stall it), -EINVAL,
 * -ENOMEM. The wait cannot be cancelled.
 */
SIMUL_API int simul_run_on(simul_loop *loop, simul_fn fn, void *arg);

/*
 * Wake handles (libuv's uv_async_t): the loop that owns one runs cb(arg) on
 * its thread after any number of simul_async_send() from any thread; sends
 * made before the callback starts coalesce into one run, and a send made
 * while it runs causes another. Give other threads a handle, not the loop.
 *   _new:  in a task or callback of the owning loop; NULL with errno EPERM
 *          (outside a loop), EINVAL (NULL cb), ENOMEM. A live handle holds
 *          its loop (simul_loop_ref): a loop whose tasks wait for a send is
 *          not a deadlock. The owner frees it.
 *   _send: any thread, never blocks for long (a mutex, maybe an eventfd
 *          write). 0; -ESHUTDOWN once the loop has closed or the handle was
 *          freed; -EINVAL for NULL. Safe while _free runs on another thread;
 *          a send that starts after _free returned is a use-after-free (stop
 *          the sending threads first, as with libuv).
 *   _free: the owner's loop thread, or any thread once the loop has ended;
 *          a pending callback is dropped. NULL is ignored.
 */
typedef struct simul_async simul_async;
SIMUL_API simul_async *simul_async_new(void (*cb)(void *arg), void *arg);
SIMUL_API int          simul_async_send(simul_async *a);
SIMUL_API void         simul_async_free(simul_async *a);

/*
 * One-shot timers (loop.call_later). The caller allocates and frees:
 *     simul_timer *t = simul_timer_new(cb, arg);   // NULL/ENOMEM, EPERM
 *     simul_timer_start(t, 0.5);   // (re)arms: cb(arg) runs once in 0.5 s
 *     simul_timer_stop(t);         // disarms; harmless if not armed
 *     simul_timer_free(t);         // stops and frees; safe inside cb
 */
typedef struct simul_timer simul_timer;
SIMUL_API simul_timer *simul_timer_new(void (*cb)(void *), void *arg);
SIMUL_API int          simul_timer_start(simul_timer *t, double seconds);
SIMUL_API int          simul_timer_start_at(simul_timer *t, double deadline);
SIMUL_API int          simul_timer_stop(simul_timer *t);
SIMUL_API int          simul_timer_active(const simul_timer *t);
SIMUL_API void         simul_timer_free(simul_timer *t);
/* uv_unref/uv_ref: an unref'd timer, armed, does not count as something
 * that can wake a waiting task, so the deadlock breaker ignores it (a
 * periodic statistics timer need not keep a stuck program alive). Timers
 * start ref'd. Both return 0, -EINVAL for NULL. */
SIMUL_API int          simul_timer_unref(simul_timer *t);
SIMUL_API int          simul_timer_ref(simul_timer *t);

/* call_later sugar: a timer that frees itself after firing.
 * 0, -ENOMEM, -EINVAL (negative/NaN seconds), -EPERM outside a loop. */
SIMUL_API int simul_call_later(double seconds, void (*cb)(void *), void *arg);

/*
 * fd readiness watchers, as libuv's uv_poll (level-triggered):
 *     simul_watch *w = simul_watch_new(fd, cb, arg);  // NULL/ENOMEM, EPERM
 *     simul_watch_set(w, SIMUL_READABLE | SIMUL_WRITABLE);  // 0 = pause
 *     cb(w, revents, arg) runs on the loop while fd is ready;
 *     simul_watch_free(w);     // stops watching (safe inside cb); does not
 *                              // close fd
 * The caller allocates with _new and frees with _free; cb never runs after
 * _free. revents may include SIMUL_ERROR or SIMUL_HANGUP; a watcher for
 * SIMUL_WRITABLE alone is not called for a hangup alone (a peer's
 * half-close concerns readers). Any number of watchers and task waits
 * (simul_wait_fd, streams) may be on one fd: the loop's fd table merges
 * their interest into one poller registration and calls or wakes each.
 * simul_watch_set returns 0, -EBADF (fd not open), -EPERM (a regular file,
 * as epoll), -EMFILE (fd >= 16M), -ENOMEM, -EINVAL (NULL); after an error
 * the watcher is paused.
 *
 * The fd is the caller's, so it may be closed and its number reused behind
 * the runtime's back; what is guaranteed then:
 *  - freeing (or pausing) a watcher removes that watcher only: a watcher on
 *    a number since reused never disturbs the new owner's waits/watchers;
 *  - every simul_watch_set(w, events != 0) and every simul_wait_fd
 *    registers the number afresh (one epoll_ctl, or an io_uring poll), so
 *    it watches the file the number names now, and readiness of an old
 *    file - even one kept open elsewhere by a dup - never reaches it;
 *  - but a close(2) itself is invisible: watchers and tasks still on the
 *    number are not told, and see the next file under it, if any.
 * Call simul_fd_forget (or simul_close) before a descriptor is closed by
 * someone else, or handed to code that will close it.
 */
enum { SIMUL_READABLE = 1, SIMUL_WRITABLE = 4, SIMUL_ERROR = 8, SIMUL_HANGUP = 16 };
typedef struct simul_watch simul_watch;
typedef void (*simul_watch_cb)(simul_watch *w, int revents, void *arg);
SIMUL_API simul_watch *simul_watch_new(int fd, simul_watch_cb cb, void *arg);
SIMUL_API int          simul_watch_set(simul_watch *w, int events);
SIMUL_API int          simul_watch_fd(const simul_watch *w);
SIMUL_API void         simul_watch_free(simul_watch *w);
/* As simul_timer_unref/_ref for watchers: an unref'd watcher still fires,
 * but does not stop the deadlock breaker. 0, -EINVAL for NULL. */
SIMUL_API int          simul_watch_unref(simul_watch *w);
SIMUL_API int          simul_watch_ref(simul_watch *w);

/*
 * Forgets fd (libdill's fdclean): the current loop drops every trace of
 * it - its poller registration (at once: on io_uring a pending poll holds
 * the file open), events already collected for it - wakes the tasks
 * waiting on it (simul_wait_fd, stream and UDP calls) with -EBADF, and
 * pauses its watchers (they stay allocated, are never called, and may be
 * armed again or freed). Does not close fd. For descriptors handed to, or
 * taken back from, a library that closes them itself (libcurl, hiredis,
 * libpq): forget, then let it close. simul_close() is forget + close(2).
 * Does not suspend; callable from tasks and loop callbacks. 0 (also when
 * the loop knew nothing of fd), -EBADF for fd < 0, -EPERM outside a loop.
 */
SIMUL_API int simul_fd_forget(int fd);

/* Name of the backend the current loop uses ("epoll", "io_uring"), or NULL. */
SIMUL_API const char *simul_backend_name(void);

/* ------------------------------------------------------------------------ */
/* Errors and debugging                                                     */

/* Message for a negative (or positive) errno or SIMUL_EAI_* code; never
 * NULL; thread-safe. */
SIMUL_API const char *simul_strerror(int err);

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
 * HTTP client errors (<simul/http.h>): -3100..-3199, one code per thing a
 * caller may branch on. The request's opts.error buffer has libcurl's
 * detail line for each.
 */
#define SIMUL_HTTP_EURL             (-3100)  /* bad URL, or a scheme other than http/https */
#define SIMUL_HTTP_EDNS             (-3101)  /* the host name did not resolve */
#define SIMUL_HTTP_EREFUSED         (-3102)  /* connection refused */
#define SIMUL_HTTP_ECONNECT         (-3103)  /* could not connect otherwise (unreachable...) */
#define SIMUL_HTTP_ERESET           (-3104)  /* connection reset or closed with no/partial answer */
#define SIMUL_HTTP_EINCOMPLETE      (-3105)  /* closed before Content-Length bytes of body */
#define SIMUL_HTTP_ETLS             (-3106)  /* TLS handshake or record failure */
#define SIMUL_HTTP_ECERT            (-3107)  /* the server's certificate did not verify */
#define SIMUL_HTTP_ETIMEOUT_POOL    (-3108)  /* no pool slot within timeouts.pool */
#define SIMUL_HTTP_ETIMEOUT_CONNECT (-3109)  /* not connected within timeouts.connect */
#define SIMUL_HTTP_ETIMEOUT_READ    (-3110)  /* no byte for timeouts.read */
#define SIMUL_HTTP_ETIMEOUT_TOTAL   (-3111)  /* not done within timeouts.total */
#define SIMUL_HTTP_EREDIRECTS       (-3112)  /* more than max_redirects redirects (a loop) */
#define SIMUL_HTTP_EREDIRECT        (-3113)  /* a redirect to a scheme other than http/https */
#define SIMUL_HTTP_EPROTO           (-3114)  /* malformed response (status line, headers, chunks) */
#define SIMUL_HTTP_EBODY            (-3115)  /* the body exceeds max_body */
#define SIMUL_HTTP_EDECODE          (-3116)  /* Content-Encoding could not be decoded */
#define SIMUL_HTTP_ESTATUS          (-3117)  /* raise_for_status: HTTP status >= 400 */
#define SIMUL_HTTP_EPROXY           (-3118)  /* the proxy failed (resolve, connect, CONNECT) */
#define SIMUL_HTTP_EFAIL            (-3199)  /* another libcurl failure: see the detail line */

/*
 * PostgreSQL (<simul/pg.h>) errors, -3200..-3299: a server error is not a
 * transport error is not a bad argument. simul_pg_last_error() has the
 * server's SQLSTATE, message, detail and hint, or libpq's message.
 */
#define SIMUL_PG_ESERVER     (-3200)  /* the server reported an error (SQLSTATE) */
#define SIMUL_PG_ECONNECT    (-3201)  /* connecting failed (refused, auth, ...) */
#define SIMUL_PG_EBROKEN     (-3202)  /* the connection is lost; close it */
#define SIMUL_PG_ECONNINFO   (-3203)  /* the conninfo string or URI does not parse */
#define SIMUL_PG_EPROTO      (-3204)  /* the server's answer does not fit the call
                                         (a COPY where rows were expected, ...) */
/* -3300..-3399: Redis (SIMUL_REDIS_E*, defined in <simul/redis.h>). */

/*
 * Prints every task of the current loop with its state, name and where it
 * is suspended - the wait and the user's function that made it (the first
 * frame outside libsimul; static functions named from the program's symbol
 * table when it has one) - to fd (2 for stderr). Also triggered by SIGQUIT while a loop
 * runs with SIMUL_DEBUG=1. Returns the number of tasks listed or -EPERM.
 */
SIMUL_API int simul_dump_tasks(int fd);

#ifdef __cplusplus
}
#endif

#include <simul/sync.h>   /* queues, semaphores, locks, events, generators, select */
#include <simul/net.h>    /* fd waits, TCP/Unix streams, servers, UDP */
#include <simul/sys.h>    /* thread pool, files, DNS, signals, subprocesses */
#include <simul/url.h>    /* URLs: WHATWG, RFC 3986, normalisation, Python urljoin */

#endif /* SIMUL_H */
