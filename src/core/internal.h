/*
 * internal.h - what the core's files share: the loop, the task, the ready
 * queue, parking and waking, timers, stacks and the backend contract.
 *
 * Nothing here is public. Other layers of the library (sync, I/O, HTTP)
 * build on the small set of simul__ functions declared below: park the
 * current task, wake a parked one, arm a timer, watch an fd.
 *
 * Parking protocol. A task that must wait registers itself wherever it
 * waits (a wait list, a timer, a done-callback), then calls simul__park().
 * Whoever satisfies the wait calls simul__wake(task, value): the first wake
 * wins and later ones are ignored until the task parks again. Cancellation
 * wakes a cancellable park with -ECANCELED; the waiter then removes its own
 * registration (the waker never has to). Because the first wake wins, a
 * value handed to a waiter (an item, a lock) is never lost to a cancel that
 * arrives later: the park returns the value, and the cancel is seen at the
 * task's next suspension point.
 */
#ifndef SIMUL_CORE_INTERNAL_H
#define SIMUL_CORE_INTERNAL_H

#include "simul.h"
#include "../arch/context.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define SIMUL__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIMUL__ASAN 1
#endif
#endif

/* Debug-build invariants (libuv's assert()s): checked when NDEBUG is not
 * defined - buildtype=debug, as build-asan and build-vg are - and compiled
 * out of optimized builds (meson.build gives debugoptimized, the default and
 * benchmark build, NDEBUG too). Only O(1) checks on hot paths. */
#define SIMUL__ASSERT(cond) assert(cond)

/* ThreadSanitizer: task switches are announced as fiber switches (task.c). */
#if defined(__SANITIZE_THREAD__)
#define SIMUL__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIMUL__TSAN 1
#endif
#endif

#define SIMUL__LIKELY(x)   __builtin_expect(!!(x), 1)
#define SIMUL__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SIMUL__NOINLINE __attribute__((noinline))
#define SIMUL__NS_PER_S    1000000000LL
#define SIMUL__NO_DEADLINE INT64_MAX

/* ---- intrusive doubly linked list ------------------------------------- */

typedef struct simul__list {
    struct simul__list *next, *prev;
} simul__list;

static inline void simul__list_init(simul__list *l) { l->next = l->prev = l; }
static inline bool simul__list_empty(const simul__list *l) { return l->next == l; }
static inline bool simul__list_linked(const simul__list *n) { return n->next != NULL && n->next != n; }
static inline void simul__list_push(simul__list *l, simul__list *n)
{
    SIMUL__ASSERT(l->prev->next == l && n != l);
    n->prev = l->prev;
    n->next = l;
    l->prev->next = n;
    l->prev = n;
}
static inline void simul__list_remove(simul__list *n)
{
    SIMUL__ASSERT(n->next->prev == n && n->prev->next == n);   /* linked, not corrupt */
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = n;
}
static inline simul__list *simul__list_pop(simul__list *l)
{
    simul__list *n = l->next;
    if (n == l)
        return NULL;
    simul__list_remove(n);
    return n;
}
#define simul__container_of(p, type, member) \
    ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* ---- runnables: the ready queue holds tasks and callbacks -------------- */

/* CALLBACK: malloc'd, recycled after it runs (those queued when the run
 * ends still run, for a bounded number of ticks; any left are dropped); POSTED: owned by whoever posted it (remote.c), never freed by the
 * loop, and run even when the loop closes; ASYNC: a wake handle's node. */
enum { SIMUL__RUN_TASK = 0, SIMUL__RUN_CALLBACK = 1, SIMUL__RUN_POSTED = 2,
       SIMUL__RUN_ASYNC = 3 };

typedef struct simul__runnable {
    struct simul__runnable *next;
    uint8_t kind;
} simul__runnable;

typedef struct simul__callback {
    simul__runnable run;
    void (*cb)(void *);
    void *arg;
} simul__callback;

/* Before-poll hook (libuv's uv_prepare, one-shot): a layer queues it with
 * simul__prepoll_add and the loop calls it once, after running the ready
 * tasks and before polling, so work batched during the tick (a stream's
 * small writes) goes out in one go. Re-add it from cb for another tick. */
typedef struct simul__prepoll {
    simul__list link;
    void (*cb)(struct simul__prepoll *p);
} simul__prepoll;

/* ---- tasks ------------------------------------------------------------- */

typedef struct simul__task simul__task;

/* Run when a task finishes (joiners, gather, as_completed, select). */
typedef struct simul__donecb {
    simul__list link;
    void (*fn)(struct simul__donecb *cb, simul__task *t);
} simul__donecb;

typedef struct simul__stack {
    void  *lo;               /* lowest usable byte */
    size_t size;             /* usable bytes */
    struct simul__stack *next_free;
    int    guard;            /* SIMUL__GUARD_* */
    unsigned vg_id;          /* valgrind stack id (-Dvalgrind=true builds) */
    void  *slab;
#ifdef SIMUL__TSAN
    void  *tsan_fiber;       /* the running task's TSan fiber */
#endif
} simul__stack;

/* The descriptor lives in the top bytes of the stack it describes, so a
 * stack of n bytes has n - SIMUL__STACK_DESC usable ones. */
#define SIMUL__STACK_DESC 64

enum { SIMUL__GUARD_MADVISE = 1, SIMUL__GUARD_MPROTECT = 2, SIMUL__GUARD_CANARY = 3 };

enum {
    SIMUL__TF_DETACHED   = 1u << 0,
    SIMUL__TF_CANCEL     = 1u << 1, /* cancellation requested */
    SIMUL__TF_JOINING    = 1u << 2, /* a task is in simul_join on it */
    SIMUL__TF_NOCANCEL   = 1u << 3, /* parked in an uncancellable wait */
    SIMUL__TF_GROUP      = 1u << 4, /* owned by a simul_group */
    SIMUL__TF_WARNED     = 1u << 5, /* debug: already reported as slow */
    SIMUL__TF_MAIN       = 1u << 6,
    SIMUL__TF_OWNED_AC   = 1u << 7, /* owned by an as_completed/gather */
    SIMUL__TF_WAITED     = 1u << 8  /* in the set of a running simul_wait */
};

enum { SIMUL__TASK_FREE = 0xFF };

/* Two cache lines: a million tasks touch as little memory as possible.
 * Fields never live at the same time share storage. */
struct simul__task {
    union {
        simul__runnable run;  /* must stay first: ready-queue link */
        struct {
            void    *run_next_;
            uint8_t  run_kind_;
            uint8_t  state;   /* simul_task_state or SIMUL__TASK_FREE */
            uint16_t gen;     /* handle generation, see simul__task_handle */
            uint32_t flags;
        };
    };
    simul__ctx      ctx;
    union {                   /* one per state, never two at once */
        uint32_t    stack_size; /* NEW: the stack to get at the first run */
        int         wake;       /* WAITING..RUNNING: what the waker gave */
        int         result;     /* DONE: the fn's return value */
    };
    uint32_t        id;
    union {
        struct {              /* until the task first runs */
            simul_fn fn;
            void    *arg;
        };
        struct {              /* while it waits (task dumps) */
            const char *wait_what;
            void       *wait_pc;
        };
    };
    simul__stack   *stack;    /* NULL until first run */
    simul_loop     *loop;     /* owner: only its thread runs or wakes t */
    simul_scope    *scopes;   /* innermost entered scope */
    simul__tnode    sleep_timer;
    simul__list     donecbs;  /* simul__donecb, fired when DONE */
    simul_group    *group;
    char           *name;     /* malloc'd; NULL until named or asked for */
};

/* Handles carry a 16-bit generation in their top bits (user addresses fit
 * in 48 bits on x86-64 and aarch64), so a stale handle - a task already
 * joined, detached or freed - is recognised and rejected with -ESRCH even
 * after its memory was reused. Task memory is type-stable while the loop
 * lives: it returns to a per-loop pool, never to malloc. */
#define SIMUL__HANDLE_SHIFT 48
static inline simul_task *simul__task_handle(simul__task *t)
{
    return (simul_task *)((uintptr_t)t | ((uintptr_t)t->gen << SIMUL__HANDLE_SHIFT));
}
static inline simul__task *simul__task_raw(const simul_task *h)
{
    return (simul__task *)((uintptr_t)h & (((uintptr_t)1 << SIMUL__HANDLE_SHIFT) - 1));
}
/* The live task behind h, or NULL for NULL/stale handles. */
static inline simul__task *simul__task_get(const simul_task *h)
{
    simul__task *t = simul__task_raw(h);
    if (t == NULL || t->state == SIMUL__TASK_FREE ||
        t->gen != (uint16_t)((uintptr_t)h >> SIMUL__HANDLE_SHIFT))
        return NULL;
    return t;
}

/* ---- the loop ---------------------------------------------------------- */

typedef struct simul__backend simul__backend;

/* ---- the fd table (fd.c) ----------------------------------------------- */

/*
 * One interest in an fd: a parked task, a one-shot callback (streams flush
 * from the loop this way), or a public watcher (SIMUL__FDW_KEEP). Every
 * interest in fd N is linked on the loop's table entry for N, which merges
 * them into one backend registration and hands each its share of an event.
 */
typedef struct simul__fdwait simul__fdwait;
struct simul__fdwait {
    simul__list   link;       /* in its entry's handle list while registered */
    simul__task  *task;       /* parked task (woken once), or NULL: cb */
    void        (*cb)(simul__fdwait *w, int res);  /* res: revents or -errno */
    int           events;     /* SIMUL_READABLE and/or SIMUL_WRITABLE */
    int           flags;      /* SIMUL__FDW_* */
};
enum {
    SIMUL__FDW_KEEP    = 1,   /* stays registered when it fires (watchers) */
    SIMUL__FDW_FOREIGN = 2,   /* fd may be closed/reused behind our back (public
                                 waits, watchers): re-register it on every add */
    /* What a registered handle counts for in the loop (l->nwatch,
     * l->nwatch_ref): UNREF, it does not keep tasks waiting (simul_watch_unref;
     * the deadlock breaker ignores it); QUIET, its readiness is also announced
     * through ts_signalled (the loop's wakeup eventfd, the SIGINT eventfd), so
     * a busy loop need not poll for it. Watchers change them with
     * simul__watch_flags. */
    SIMUL__FDW_UNREF   = 4,
    SIMUL__FDW_QUIET   = 8,
};

/* The table's entry for one fd number. Entries live until the loop closes
 * (pointers to them stay valid); simul__fd_forget resets one. */
typedef struct simul__fd {
    int          fd;
    int          armed;       /* events the backend was asked for */
    int          lazy;        /* READABLE kept armed with no reader: the next
                                 read wait costs nothing (backends with lazy_ok) */
    uint32_t     nread, nwrite;  /* registered handles wanting each direction */
    uint32_t     gen;         /* bumped when forgotten (simul_close, ...) */
    simul__list  handles;     /* simul__fdwait */
    simul__list  firing;      /* handles the running dispatch has not reached */
    /* the backend's own words */
    uint32_t     be_gen;      /* registration tag (epoll data, io_uring user_data) */
    uint32_t     be_tag;      /* io_uring: tag of the poll in flight, 0: none */
    uint32_t     be_flags;
} simul__fd;

struct simul_watch {
    simul__fdwait  h;         /* KEEP | FOREIGN; linked while active */
    simul_loop    *loop;
    int            fd;
    simul_watch_cb cb;
    void          *arg;
};

struct simul_timer {
    simul__tnode node;
    simul_loop  *loop;
    void       (*cb)(void *);
    void        *arg;
    int          oneshot_free;  /* simul_call_later: free after firing */
    int          unref;         /* simul_timer_unref: ignored by the deadlock breaker */
};

/* ---- per-loop modules (module.c) ---------------------------------------
 *
 * A layer above the core (the thread pool, the fd table, DNS, signals,
 * files) keeps per-loop state in a module: a static descriptor with hooks,
 * attached to a loop on first use by simul__module_data(), which returns
 * the module's zeroed per-loop data (`size` bytes) after running init.
 * Hooks run in attach order, close in reverse order (a module attached
 * while another's init ran - its dependency - closes after it):
 *   init(l, data)       on attach; 0 or -errno (then nothing is attached);
 *   run_begin(l, data)  a run starts (l->main is the main task): at
 *                       simul_loop_start, or at attach if a run is going on;
 *   run_end(l, data)    the run is over (main finished, or the loop is
 *                       freed before it did); l->main is still set;
 *   shutdown(l, data)   in a task of the loop, after main returned and the
 *                       other tasks were cancelled, before the final
 *                       cancel-all (asyncio's shutdown_default_executor);
 *                       may park; runs once per loop;
 *   close(l, data)      loop free, before the backend closes; the data is
 *                       freed after it. No module attaches from here on.
 * Every hook is optional. Module ids are process-wide (assigned on first
 * attach anywhere); a loop has at most SIMUL__MAX_MODULES modules.
 */
#define SIMUL__MAX_MODULES 32

typedef struct simul__module {
    const char *name;
    size_t      size;
    int  (*init)(simul_loop *l, void *data);
    void (*run_begin)(simul_loop *l, void *data);
    void (*run_end)(simul_loop *l, void *data);
    void (*shutdown)(simul_loop *l, void *data);
    void (*close)(simul_loop *l, void *data);
    atomic_uint id;           /* 0 until first attached */
} simul__module;

typedef struct simul__stackpool {
    size_t        size;       /* usable bytes per stack */
    simul__stack *free;
    size_t        nfree;
} simul__stackpool;

#define SIMUL__NPOOLS 8

struct simul__slab {
    simul__task *base;
    size_t       count;     /* slots */
    size_t       used;      /* slots ever handed out (bump pointer) */
};

struct simul_loop {
    /* hot: the scheduler */
    simul__runnable  *rq_head;
    simul__runnable **rq_tail;
    size_t            rq_len;
    size_t            budget;       /* runs left before the loop polls again */
    simul__task      *current;
    simul__task      *zombie;       /* finished task whose stack is still live */
    simul__ctx        sched_ctx;    /* the loop's own context (thread stack) */
    int64_t           now;          /* cached monotonic ns */

    /* timers: 4-ary min-heap */
    simul__tnode    **heap;
    size_t            heap_len, heap_cap;
    uint64_t          timer_seq;

    /* backend */
    const simul__backend *be;
    void             *be_data;
    size_t            nwatch;       /* registered fd handles a busy loop polls for (not QUIET) */
    size_t            nwatch_ref;   /* registered fd handles that keep tasks waiting (not UNREF) */
    size_t            ntimer_unref; /* armed simul_timers that do not */
    atomic_int        external;     /* pending wakeups from elsewhere (threads) */
    int               deadlocks;    /* times the deadlock breaker ran */
    simul__list       prepoll;      /* simul__prepoll hooks for this tick */
    simul__fd       **fds;          /* the fd table, by number (fd.c) */
    size_t            nfds;

    /* tasks */
    size_t            ntasks_live;  /* not DONE */
    simul__task      *task_free;    /* pool free list (via run.next) */
    struct simul__slab *task_slabs; /* every task lives in one of these */
    size_t            ntask_slabs, task_slabs_cap;
    uint32_t          next_id;
    int64_t           ran_at;       /* debug: when the current task got the CPU */
    simul__callback  *cb_free;

    /* stacks */
    simul__stackpool  pools[SIMUL__NPOOLS];
    void            **stack_slabs;
    size_t            nstack_slabs, stack_slabs_cap;
    size_t            guarded_mprotect;  /* of the process-wide budget (stack.c) */

    /* call_soon_threadsafe */
    pthread_mutex_t   ts_lock;
    simul__callback  *ts_head, **ts_tail;
    atomic_int        ts_signalled;
    int               wake_fd;
    simul_watch      *wake_watch;
    atomic_int        closed;       /* set under ts_lock: posts refused */
    atomic_int        keep;         /* 1 + holders of the memory (remote.c) */

    /* modules (module.c): data by module id (slot 0 stays NULL), attach order */
    void             *mod_data[SIMUL__MAX_MODULES];
    simul__module    *mod_order[SIMUL__MAX_MODULES];
    unsigned          nmods;
    int               mod_closing;  /* close hooks run: no more attaching */

    /* lifecycle (loop.c) */
    simul__task      *main;         /* main task of the current run, or NULL */
    int               interrupted;  /* SIGINT cancelled main (result -EINTR) */
    int               running;      /* a run/run_once/free drives the loop */
    atomic_int        stopping;     /* simul_loop_free began: remote spawns refused */
    void             *data;         /* simul_loop_set_data */
    simul_loop_opts   opts;         /* as given, zeros resolved to defaults */

    /* debug */
    int               debug;
    volatile sig_atomic_t dump_requested;
#ifdef SIMUL__ASAN
    const void       *sched_stack_bottom;
    size_t            sched_stack_size;
#endif
#ifdef SIMUL__TSAN
    void             *tsan_fiber;   /* the loop's own (the thread's) */
#endif
};

/* Attaches m to l (init, then run_begin if a run is going on) unless it
 * is; returns its data, or NULL with errno (ENOMEM, ENOSPC past
 * SIMUL__MAX_MODULES, ESHUTDOWN once the loop closes, init's error). */
void *simul__module_attach(simul_loop *l, simul__module *m);
/* run_begin of every attached module, in order (loop.c at a run's start). */
void  simul__modules_run_begin(simul_loop *l);
/* run_end of every attached module, in order (loop.c when a run ends). */
void  simul__modules_run_end(simul_loop *l);
/* shutdown of every attached module, in order, in the current task. */
void  simul__modules_shutdown(simul_loop *l);
/* close of every attached module in reverse order; frees their data. */
void  simul__modules_close(simul_loop *l);

/* m's data in l, attaching m on first use (NULL with errno on failure). */
static inline void *simul__module_data(simul_loop *l, simul__module *m)
{
    void *d = l->mod_data[atomic_load_explicit(&m->id, memory_order_relaxed)];
    return SIMUL__LIKELY(d != NULL) ? d : simul__module_attach(l, m);
}
/* m's data in l if attached, else NULL (never attaches). */
static inline void *simul__module_peek(const simul_loop *l, simul__module *m)
{
    return l->mod_data[atomic_load_explicit(&m->id, memory_order_relaxed)];
}

/* Process signal handling of a run (signals.c): SIGINT cancels main,
 * SIGPIPE ignored; installed when the loop's options ask for it. */
extern simul__module simul__signals_module;

/* Queues p for the end of this tick (no-op if queued); _del unqueues it. */
static inline void simul__prepoll_add(simul_loop *l, simul__prepoll *p)
{
    if (!simul__list_linked(&p->link))
        simul__list_push(&l->prepoll, &p->link);
}
static inline void simul__prepoll_del(simul__prepoll *p)
{
    if (simul__list_linked(&p->link))
        simul__list_remove(&p->link);
}

extern __thread simul_loop *simul__loop_tls __attribute__((tls_model("initial-exec")));

static inline simul_loop *simul__loop(void) { return simul__loop_tls; }

/* For the _new calls of handles bound to the running loop (timers, wake
 * handles): calloc'd `size` bytes and *lp, or NULL with errno EPERM
 * (outside a loop), EINVAL (no callback) or ENOMEM. */
void *simul__loop_handle_new(size_t size, const void *cb, simul_loop **lp);

/* ---- scheduling (task.c) ---------------------------------------------- */

/* Puts a runnable at the tail of the ready queue. */
static inline void simul__ready_push(simul_loop *l, simul__runnable *r)
{
    SIMUL__ASSERT(*l->rq_tail == NULL && r != l->rq_head);
    r->next = NULL;
    *l->rq_tail = r;
    l->rq_tail = &r->next;
    l->rq_len++;
}
static inline simul__runnable *simul__ready_pop(simul_loop *l)
{
    simul__runnable *r = l->rq_head;
    SIMUL__ASSERT((r == NULL) == (l->rq_len == 0) && l->budget <= l->rq_len);
    if (r) {
        l->rq_head = r->next;
        if (!l->rq_head)
            l->rq_tail = &l->rq_head;
        l->rq_len--;
    }
    return r;
}

/* CAUGHT: the scope's cancellation reached the task (trio's
 * cancelled_caught); only then does simul_scope_exit report it. */
enum { SIMUL__SCOPE_CANCELLED = 1, SIMUL__SCOPE_SHIELD = 2, SIMUL__SCOPE_EXPIRED = 4,
       SIMUL__SCOPE_ENTERED = 8, SIMUL__SCOPE_CAUGHT = 16 };

/*
 * 1 if t or a scope it is in (not hidden behind a shield) is cancelled.
 * Every caller turns a 1 into -ECANCELED for t (or tells t, as
 * simul_cancelled() does), so each cancelled scope seen is marked CAUGHT:
 * a scope whose deadline passed while the call inside it succeeded anyway
 * is not reported as a timeout. Cheap when nothing is cancelled.
 */
static inline int simul__cancel_pending(simul__task *t)
{
    int hit = 0;
    for (simul_scope *s = t->scopes; s; s = s->outer) {
        if (SIMUL__UNLIKELY(s->flags & SIMUL__SCOPE_CANCELLED)) {
            s->flags |= SIMUL__SCOPE_CAUGHT;
            hit = 1;
        }
        if (s->flags & SIMUL__SCOPE_SHIELD)
            return hit;
    }
    return hit || (t->flags & SIMUL__TF_CANCEL) != 0;
}

/*
 * The wait primitive: every wait in the library (sleep, join, sync objects,
 * select, fd readiness, connect, server close) parks through this one call.
 * Suspends the current task until one of three clauses fires, the first
 * wins (libdill's clauses):
 *   - simul__wake(t, value): returns value (>= 0, or a waker's -errno);
 *   - the deadline passes (loop-clock ns, SIMUL__NO_DEADLINE: never):
 *     -ETIMEDOUT; a deadline already past (checked against a fresh clock
 *     reading) returns -ETIMEDOUT at once, without suspending;
 *   - cancellation (unless SIMUL__PARK_NOCANCEL): -ECANCELED, at once if
 *     it is already pending.
 * The deadline uses the task's own timer node, so it costs no allocation;
 * the timer is disarmed before this returns. The caller registers itself
 * wherever it waits before parking and unlinks itself after a failure (the
 * waker never has to). `what` names the wait for task dumps; pc is the
 * caller's address. -EPERM outside a task, -ENOMEM if the timer heap
 * cannot grow.
 */
enum { SIMUL__PARK_NOCANCEL = 1 };
int  simul__park_until(int64_t deadline, unsigned flags, const char *what, void *pc);
/* Without a deadline: the common case, for waits that only a waker ends. */
static inline int simul__park(const char *what, void *pc)
{
    return simul__park_until(SIMUL__NO_DEADLINE, 0, what, pc);
}
/* The same, but cancellation does not wake it (cleanup waits). */
static inline int simul__park_nocancel(const char *what, void *pc)
{
    return simul__park_until(SIMUL__NO_DEADLINE, SIMUL__PARK_NOCANCEL, what, pc);
}
/* Makes a parked task ready; value is what its park returns. First wins.
 * From another thread than t's loop's, it goes through that loop's
 * thread-safe path (simul__wake_remote): t never runs on the wrong thread. */
void simul__wake_remote(simul__task *t, int value);
static inline void simul__wake(simul__task *t, int value)
{
    simul_loop *l = simul__loop();
    if (SIMUL__UNLIKELY(t->loop != l)) {
        simul__wake_remote(t, value);
        return;
    }
    if (t->state != SIMUL_TASK_WAITING)
        return;
    t->wake = value;
    t->state = SIMUL_TASK_READY;
    simul__ready_push(l, &t->run);
}
/* Wakes t with -ECANCELED if it is parked and cancellable and its
 * cancellation is now pending (after a task or scope cancel). */
void simul__deliver_cancel(simul__task *t);
/* The running task, or NULL when the loop itself runs (callbacks). */
static inline simul__task *simul__current(void)
{
    simul_loop *l = simul__loop();
    return l ? l->current : NULL;
}
void simul__task_free(simul_loop *l, simul__task *t);
void simul__tasks_close(simul_loop *l);

/* Every task of the loop that is not free (spawned and not yet released),
 * in memory order. Task memory is type-stable, so scanning it is safe. */
#define SIMUL__FOREACH_TASK(l, t)                                              \
    for (size_t slab_ = 0; slab_ < (l)->ntask_slabs; slab_++)                  \
        for (simul__task *t = (l)->task_slabs[slab_].base,                     \
                         *end_ = t + (l)->task_slabs[slab_].used;              \
             t < end_; t++)                                                    \
            if (t->state != SIMUL__TASK_FREE)
simul__task *simul__spawn(simul_loop *l, simul_fn fn, void *arg,
                          const simul_task_opts *opts);
/* Request cancellation of t (sets the flag, delivers). */
void simul__task_cancel(simul__task *t);
/* Waits for t (already checked), frees it and returns its result. With
 * shield, a cancelled caller detaches t instead of cancelling it. */
int  simul__join_task(simul__task *t, int shield, void *pc);
/* Sleeps until `when` (loop-clock ns; SIMUL__NO_DEADLINE: until woken);
 * 0, or -ECANCELED. A time already past still yields once. */
int  simul__sleep_until_ns(int64_t when, void *pc);
/* Pops the innermost scope s of the current task (misuse: -EPERM/-EINVAL). */
int  simul__scope_pop(simul_scope *s);
const char *simul__task_name(simul__task *t);
/* A group child finished (combinators.c). */
void simul__group_child_done(simul_group *g, simul__task *t);

/* The loop's scheduler: runs until stop() returns true. */
void simul__loop_run_until(simul_loop *l, int (*stop)(simul_loop *, void *), void *arg);

/* ---- the thread-safe path (remote.c) ------------------------------------- */

/* Keeps l's memory (and its thread-safe path, which then refuses with
 * -ESHUTDOWN) alive after it closes, until the matching release. */
void simul__loop_keep(simul_loop *l);
void simul__loop_release(simul_loop *l);
/* Queues node c (SIMUL__RUN_POSTED or _CALLBACK, filled in) for l from any
 * thread and wakes l. 0, or -ESHUTDOWN once l has closed (c not queued). */
int  simul__post(simul_loop *l, simul__callback *c);
/* loop_new / loop_free: the eventfd, its watcher; close drains and refuses. */
int  simul__remote_open(simul_loop *l);
void simul__remote_close(simul_loop *l);
/* simul__wake for a task of another loop: posted to t->loop (declared
 * above simul__wake). */
/*
 * Runs fn(arg) in a task of loop `owner` (another thread's) and waits for
 * it from the current task, whose loop is kept from declaring a deadlock
 * meanwhile. Returns fn's result, -ESHUTDOWN if owner closed first, -ENOMEM,
 * or -ECANCELED. A cancel of the caller cancels that task and waits for it
 * (so nothing fn did is lost: if fn succeeded first, its result is
 * returned). For objects owned by another loop (sync layer).
 */
int  simul__xcall(simul_loop *owner, simul_fn fn, void *arg, const char *what, void *pc);

/* Posts a chain of nodes (linked through run.next, NULL-terminated, all
 * filled in) to l under one lock, with at most one eventfd write: a waker
 * with several tasks of one loop to wake posts them as one batch. 0, or
 * -ESHUTDOWN (nothing queued). */
int  simul__post_chain(simul_loop *l, simul__callback *first);

/* Futures held by the core's cross-loop calls (future.c, for loops.c):
 * hold keeps f's memory past simul_future_free; settle, on f's loop's
 * thread, completes f unless it was freed or its loop closed (result >= 0:
 * value; -ECANCELED: cancelled; else the error) and drops the hold; drop
 * only drops it (any thread, once f's loop has closed). */
void simul__future_hold(simul_future *f);
void simul__future_settle(simul_future *f, int result, void *value);
void simul__future_drop(simul_future *f);

/* ---- timers (timer.c) ------------------------------------------------- */

int64_t simul__clock_ns(void);
static inline int64_t simul__seconds_to_ns(double s)
{
    if (s >= 9.2e9)
        return SIMUL__NO_DEADLINE;
    return (int64_t)(s * 1e9 + (s >= 0 ? 0.5 : -0.5));
}
/*
 * The one deadline helper. Public times are doubles in seconds: absolute
 * ones (parameters named `deadline`, calls ending in _until/_at) are on the
 * simul_now() clock, relative ones are named `timeout` or `seconds`. Both
 * become an absolute loop-clock ns deadline here; INFINITY (or anything
 * past 9.2e9 s) is SIMUL__NO_DEADLINE. Callers reject NaN first.
 */
/* Absolute: anything not after the clock's start is "already past" (0). */
static inline int64_t simul__deadline_ns(double deadline)
{
    if (deadline >= 9.2e9)
        return SIMUL__NO_DEADLINE;
    if (!(deadline > 0))
        return 0;
    return simul__seconds_to_ns(deadline);
}
/* Relative (>= 0): from the clock now; refreshes the loop's cached clock. */
static inline int64_t simul__timeout_ns(simul_loop *l, double seconds)
{
    l->now = simul__clock_ns();
    int64_t d = simul__seconds_to_ns(seconds > 0 ? seconds : 0);
    return d >= SIMUL__NO_DEADLINE - l->now ? SIMUL__NO_DEADLINE : l->now + d;
}
/* Arms (or re-arms) n to fire at `when` (loop-clock ns). */
int  simul__timer_arm(simul_loop *l, simul__tnode *n, int64_t when,
                      void (*cb)(simul__tnode *));
void simul__timer_disarm(simul_loop *l, simul__tnode *n);
static inline bool simul__timer_armed(const simul__tnode *n) { return n->idx != 0; }
/* Next deadline, or SIMUL__NO_DEADLINE. */
static inline int64_t simul__timer_next(const simul_loop *l)
{
    return l->heap_len ? l->heap[0]->when : SIMUL__NO_DEADLINE;
}
/* Fires every timer due at l->now. */
void simul__timers_run(simul_loop *l);
void simul__timers_close(simul_loop *l);

/* ---- stacks (stack.c) -------------------------------------------------- */

size_t        simul__stack_round(size_t bytes);
simul__stack *simul__stack_get(simul_loop *l, size_t size);
void          simul__stack_put(simul_loop *l, simul__stack *s);
void          simul__stacks_close(simul_loop *l);
int           simul__stack_canary_ok(const simul__stack *s);
void          simul__stack_overflow_install(void);
void          simul__stack_overflow_uninstall(void);
extern _Atomic size_t simul__default_stack;   /* relaxed loads and stores */

/* ---- logging (log.c) --------------------------------------------------- */

/* Formats a one-line message (no "simul: " prefix, no newline) for the
 * log handler, if level (SIMUL_LOG_*) is enabled. Any thread. */
void simul__log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int  simul__log_enabled(int level);

/* ---- error messages (error.c) ------------------------------------------ */

/* A layer's own error range [lo, hi] (negative codes) and its messages:
 * msg(code) returns a static string, or NULL for a code it does not know.
 * Registered once per process (simul__strerror_add; repeats are no-ops, at
 * most 8 tables), from any thread; simul_strerror consults it. */
typedef struct simul__errtab {
    int lo, hi;
    const char *(*msg)(int code);
} simul__errtab;
void simul__strerror_add(const simul__errtab *t);

/* ---- debug (debug.c) --------------------------------------------------- */

void simul__debug_init(simul_loop *l);
void simul__debug_close(simul_loop *l);
void simul__debug_slow(simul_loop *l, simul__task *t, int64_t ran_ns);
void simul__debug_unjoined(simul_loop *l, simul__task *t);
void simul__stack_overflow_report(simul__task *t);

/* ---- backends (../backend/backend.h) ---------------------------------- */

struct simul__fileop;

struct simul__backend {
    const char *name;
    /* Opens the poller; 0 or -errno (then the loop tries the next one). */
    int  (*open)(simul_loop *l);
    void (*close)(simul_loop *l);
    /* Makes the backend watch e->fd for `events` (0: stop); e->armed still
     * holds the previous events. fresh: the file behind the number may have
     * changed since it was registered (closed and reopened behind the
     * runtime's back): register whatever file the number names now. Only
     * the fd table calls it. 0 or -errno (-EBADF, -EPERM: regular file). */
    int  (*arm)(simul_loop *l, simul__fd *e, int events, int fresh);
    /* e's file leaves the runtime (simul_close, simul_fd_forget): drop its
     * registration now, and make events already collected for it stale. */
    void (*forget)(simul_loop *l, simul__fd *e);
    /* Waits up to timeout_ns (-1: no limit, 0: just look), then calls
     * simul__fd_ready() for each ready entry. 0 or -errno. */
    int  (*poll)(simul_loop *l, int64_t timeout_ns);
    /* Optional (NULL: the I/O layer uses the thread pool): starts an
     * asynchronous file operation; op->done(op) runs on the loop when it
     * completes, with op->result set (bytes, fd, 0 or -errno). The buffer
     * and op must stay valid until then, even if the waiter is cancelled.
     * Returns 0 if started, or -errno. */
    int  (*file_op)(simul_loop *l, struct simul__fileop *op);
    /* An fd that is readable when poll has work, for a host to poll (the
     * epoll fd; an eventfd the ring signals). fd >= 0 or -errno. */
    int  (*fd)(simul_loop *l);
    /* 1 if keeping read interest armed with no reader is harmless and
     * cheaper than dropping it (epoll: saves an epoll_ctl per wait); 0 where
     * a registration pins the file (an io_uring POLL_ADD holds a reference:
     * a socket closed with close(2) would stay open). */
    int  lazy_ok;
};

enum { SIMUL__FOP_READ, SIMUL__FOP_WRITE, SIMUL__FOP_FSYNC, SIMUL__FOP_OPEN,
       SIMUL__FOP_CLOSE };

typedef struct simul__fileop {
    int         opcode;      /* SIMUL__FOP_* */
    int         fd;
    void       *buf;
    size_t      len;
    int64_t     offset;      /* -1: the file position (append/sequential) */
    const char *path;        /* OPEN */
    int         flags;       /* OPEN: open(2) flags; FSYNC: 1 = fdatasync */
    unsigned    mode;        /* OPEN */
    int         result;
    void      (*done)(struct simul__fileop *op);
    void       *data;        /* the waiter's */
} simul__fileop;

extern const simul__backend simul__backend_epoll;
#ifdef SIMUL_HAVE_IO_URING
extern const simul__backend simul__backend_io_uring;
#endif

/* A backend reports readiness of e (SIMUL_* bits, for e->armed). */
void simul__fd_ready(simul_loop *l, simul__fd *e, int revents);

/* ---- the fd table (fd.c) ---------------------------------------------- */

/* fd's entry, or NULL if the table never saw fd. */
static inline simul__fd *simul__fd_find(const simul_loop *l, int fd)
{
    return (size_t)fd < l->nfds ? l->fds[fd] : NULL;
}
/* Registers w on fd's entry and arms the backend as needed. w->task or
 * w->cb, and w->events, must be set. 0, -EBADF, -EMFILE (fd beyond the
 * table's cap), -ENOMEM, or a poller error (then w is not registered). The
 * first event (or a forget) unlinks w - unless KEEP - and wakes or calls
 * it. */
int  simul__fd_wait_add(simul_loop *l, int fd, simul__fdwait *w);
/* Unlinks w if still registered (after a cancel or timeout). */
void simul__fd_wait_del(simul_loop *l, int fd, simul__fdwait *w);
/* 1 if w is still registered. */
static inline int simul__fd_wait_linked(const simul__fdwait *w)
{
    return simul__list_linked(&w->link);
}
/* Parks the current task until fd is ready for `events`, the deadline
 * (loop ns, SIMUL__NO_DEADLINE) or cancellation; flags: SIMUL__FDW_FOREIGN
 * for fds the runtime does not own. Returns revents > 0 or -errno as
 * simul_wait_fd: -EBADF if fd was forgotten (simul_close) meanwhile. */
int  simul__fd_wait(int fd, int events, int64_t deadline_ns, int flags);
/* Drops what l remembers about fd: the backend registration (at once),
 * waiters woken with -EBADF, watchers paused. Does not close fd. The I/O
 * layer also calls it on every fd it creates: state left under that number
 * belonged to a file closed behind the runtime's back. */
void simul__fd_forget(simul_loop *l, int fd);
/* Sets the SIMUL__FDW_UNREF/QUIET bits of w to those in flags, keeping the
 * loop's counters right while it is registered. */
void simul__watch_flags(simul_watch *w, int flags);
/* Frees the table (loop close, before the backend closes). */
void simul__fds_close(simul_loop *l);

#endif /* SIMUL_CORE_INTERNAL_H */
