/*
 * task.c - tasks: spawn, the switch between tasks, parking and waking,
 * join, cancel, yield, sleep and cancel scopes.
 *
 * Switching. A task that suspends does not go back to the loop if it can
 * avoid it: when the head of the ready queue is another task and the
 * current loop iteration still has budget (the number of runnables that
 * were ready when the iteration began), it switches straight to that task.
 * Only when the budget is spent, or a callback is next, does it switch to
 * the loop's own context to poll for I/O and run timers. If polling is
 * pointless (no fds watched, no timer due, no cross-thread wakeup pending)
 * the budget is simply refilled. That keeps a yield to one switch and keeps
 * FIFO order: every task ready at the start of an iteration runs before any
 * task made ready during it.
 *
 * Lifetimes. A task's memory comes from a per-loop pool and its stack from
 * the stack pool when it first runs; the stack goes back the moment the task
 * finishes (a finished task is a "zombie" until the next context frees its
 * stack, since no code can free the stack it runs on). The task itself lives
 * until joined or, if detached or owned by a group, until it finishes.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef SIMUL__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef SIMUL__TSAN
#include <sanitizer/tsan_interface.h>
#endif

__thread simul_loop *simul__loop_tls __attribute__((tls_model("initial-exec")));

#define CALLER() __builtin_return_address(0)

#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(simul__task) == 128, "a task is two cache lines");
#endif

/* ---- task memory pool ---------------------------------------------------- */

/* Slabs grow geometrically (64 tasks, then twice as many each time, up to
 * 2 MiB), so a million tasks need a few dozen mappings; fresh slots are
 * handed out with a bump pointer, freed ones from a LIFO free list. */
#define SLAB_MIN_TASKS 64
#define SLAB_MAX_BYTES (2u * 1024 * 1024)

static simul__task *task_alloc(simul_loop *l)
{
    simul__task *t = l->task_free;
    if (SIMUL__LIKELY(t != NULL)) {
        SIMUL__ASSERT(t->state == SIMUL__TASK_FREE);
        l->task_free = (simul__task *)t->run.next;
        return t;
    }
    struct simul__slab *last = l->ntask_slabs ? &l->task_slabs[l->ntask_slabs - 1] : NULL;
    if (!last || last->used == last->count) {
        if (l->ntask_slabs == l->task_slabs_cap) {
            size_t cap = l->task_slabs_cap ? l->task_slabs_cap * 2 : 16;
            struct simul__slab *n = realloc(l->task_slabs, cap * sizeof *n);
            if (!n)
                return NULL;
            l->task_slabs = n;
            l->task_slabs_cap = cap;
        }
        size_t count = SLAB_MIN_TASKS;
        if (l->ntask_slabs) {
            count = l->task_slabs[l->ntask_slabs - 1].count * 2;
            if (count * sizeof(simul__task) > SLAB_MAX_BYTES)
                count = SLAB_MAX_BYTES / sizeof(simul__task);
        }
        /* Pre-faulted in one go: cheaper than a fault per page, and every
         * slot of a slab is used before the next slab is made. */
        simul__task *slab = mmap(NULL, count * sizeof(simul__task), PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (slab == MAP_FAILED)
            return NULL;
        last = &l->task_slabs[l->ntask_slabs++];
        last->base = slab;
        last->count = count;
        last->used = 0;
    }
    t = &last->base[last->used++];
    t->gen = 1;
    return t;
}

void simul__task_free(simul_loop *l, simul__task *t)
{
    /* finished, or a spawn that failed before it was queued */
    SIMUL__ASSERT(t->state == SIMUL_TASK_DONE || t->state == SIMUL_TASK_NEW);
    free(t->name);
    t->name = NULL;
    t->state = SIMUL__TASK_FREE;
    t->gen = (uint16_t)(t->gen + 1);
    t->run.next = (simul__runnable *)l->task_free;
    l->task_free = t;
}

void simul__tasks_close(simul_loop *l)
{
    for (size_t i = 0; i < l->ntask_slabs; i++)
        munmap(l->task_slabs[i].base, l->task_slabs[i].count * sizeof(simul__task));
    free(l->task_slabs);
    l->task_slabs = NULL;
    l->ntask_slabs = l->task_slabs_cap = 0;
    l->task_free = NULL;
}

/* ---- the switch ---------------------------------------------------------- */

/* Switches from the running context to `to` (a task, or the loop when
 * NULL). `dying` tells ASan the current stack will not be resumed; TSan
 * sees each task as a fiber (created at its first run, destroyed when its
 * stack is reaped), so it checks data shared between loops' threads
 * without mistaking one thread's tasks for threads of their own. */
static inline void switch_to(simul_loop *l, simul__ctx *from, simul__task *to, int dying)
{
#ifdef SIMUL__TSAN
    __tsan_switch_to_fiber(to ? to->stack->tsan_fiber : l->tsan_fiber, 0);
#endif
#ifdef SIMUL__ASAN
    void *fake = NULL;
    const void *bottom = to ? to->stack->lo : l->sched_stack_bottom;
    size_t size = to ? to->stack->size : l->sched_stack_size;
    __sanitizer_start_switch_fiber(dying ? NULL : &fake, bottom, size);
#else
    (void)dying;
#endif
    simul__ctx_switch(from, to ? &to->ctx : &l->sched_ctx);
#ifdef SIMUL__ASAN
    const void *old_bottom;
    size_t old_size;
    __sanitizer_finish_switch_fiber(fake, &old_bottom, &old_size);
#endif
}

/* Frees the stack (and, if nobody owns it, the memory) of the task that
 * finished just before this context was resumed. */
static inline void reap_zombie(simul_loop *l)
{
    simul__task *z = l->zombie;
    if (z) {
        l->zombie = NULL;
#ifdef SIMUL__TSAN
        __tsan_destroy_fiber(z->stack->tsan_fiber);
#endif
        simul__stack_put(l, z->stack);
        z->stack = NULL;
        if (z->flags & (SIMUL__TF_DETACHED | SIMUL__TF_GROUP))
            simul__task_free(l, z);
    }
}

static void task_entry(void *p);
static void task_finish(simul_loop *l, simul__task *t, int result);

/*
 * Makes a task picked from the ready queue runnable: a new one gets a stack
 * and a fresh context, or finishes on the spot if it was cancelled before
 * it ever ran or no stack can be had. Returns 1 if it can be switched to.
 */
static int task_prepare(simul_loop *l, simul__task *t)
{
    /* Only a task taken from the ready queue: woken, yielded or new. */
    SIMUL__ASSERT(t->state == SIMUL_TASK_READY || t->state == SIMUL_TASK_NEW);
    if (SIMUL__LIKELY(t->state != SIMUL_TASK_NEW)) {
        t->state = SIMUL_TASK_RUNNING;
        return 1;
    }
    if (t->flags & SIMUL__TF_CANCEL) {
        task_finish(l, t, -ECANCELED);
        return 0;
    }
    t->stack = simul__stack_get(l, t->stack_size);
    if (!t->stack) {
        task_finish(l, t, -ENOMEM);
        return 0;
    }
#ifdef SIMUL__ASAN
    /* A reused stack still carries the shadow of the frames of the task that
     * died on it (a dead fiber never runs its epilogues): clear it. */
    ASAN_UNPOISON_MEMORY_REGION(t->stack->lo, t->stack->size);
#endif
    simul__ctx_make(&t->ctx, t->stack->lo, t->stack->size, task_entry, t);
#ifdef SIMUL__TSAN
    t->stack->tsan_fiber = __tsan_create_fiber(0);
#endif
    t->state = SIMUL_TASK_RUNNING;
    return 1;
}

/* Is there nothing for the loop to look at before more tasks run? */
static inline int poll_pointless(simul_loop *l)
{
    if (l->nwatch > 0 || atomic_load_explicit(&l->ts_signalled, memory_order_relaxed) ||
        atomic_load_explicit(&l->external, memory_order_relaxed) > 0 || l->dump_requested ||
        !simul__list_empty(&l->prepoll))
        return 0;
    if (l->heap_len) {
        l->now = simul__clock_ns();
        if (l->heap[0]->when <= l->now)
            return 0;
    }
    return 1;
}

/*
 * Gives the CPU away from `self`: to the next ready task if the iteration's
 * budget allows, else to the loop. Returns when self is resumed.
 */
static void switch_out(simul_loop *l, simul__task *self, int dying)
{
    if (SIMUL__UNLIKELY(self->stack->guard == SIMUL__GUARD_CANARY) &&
        !simul__stack_canary_ok(self->stack))
        simul__stack_overflow_report(self);
    if (SIMUL__UNLIKELY(l->debug)) {
        int64_t ran = simul__clock_ns() - l->ran_at;
        if (ran > 100 * 1000000LL)
            simul__debug_slow(l, self, ran);
    }
    for (;;) {
        simul__runnable *r = l->rq_head;
        if (!r || r->kind != SIMUL__RUN_TASK)
            break;
        if (l->budget == 0) {
            if (!poll_pointless(l))
                break;
            l->budget = l->rq_len;
        }
        l->budget--;
        simul__ready_pop(l);
        simul__task *next = (simul__task *)r;
        if (!task_prepare(l, next))
            continue;
        if (next == self) {           /* yield with nobody else ready */
            reap_zombie(l);
            return;
        }
        l->current = next;
        if (SIMUL__UNLIKELY(l->debug))
            l->ran_at = simul__clock_ns();
        switch_to(l, &self->ctx, next, dying);
        goto resumed;
    }
    l->current = NULL;
    switch_to(l, &self->ctx, NULL, dying);
resumed:
    reap_zombie(l);
}

static void task_entry(void *p)
{
    simul__task *t = p;
    simul_loop *l = simul__loop();
#ifdef SIMUL__ASAN
    const void *old_bottom;
    size_t old_size;
    __sanitizer_finish_switch_fiber(NULL, &old_bottom, &old_size);
    if (!l->sched_stack_bottom) {
        l->sched_stack_bottom = old_bottom;
        l->sched_stack_size = old_size;
    }
#endif
    reap_zombie(l);
    simul_fn fn = t->fn;      /* fn and arg share storage with wait info */
    void *arg = t->arg;
    int r = fn(arg);
    task_finish(l, t, r);
    l->zombie = t;
    switch_out(l, t, 1);
    abort(); /* not reached: a finished task is never resumed */
}

/* Marks t finished and tells whoever waits for it. */
static void task_finish(simul_loop *l, simul__task *t, int result)
{
    SIMUL__ASSERT(t->state == SIMUL_TASK_RUNNING || t->state == SIMUL_TASK_NEW);
    t->result = result;
    t->state = SIMUL_TASK_DONE;
    t->wait_what = NULL;
    l->ntasks_live--;
    if (simul__timer_armed(&t->sleep_timer))
        simul__timer_disarm(l, &t->sleep_timer);
    if (t->group)
        simul__group_child_done(t->group, t);
    simul__list *n;
    while ((n = simul__list_pop(&t->donecbs)) != NULL) {
        simul__donecb *cb = simul__container_of(n, simul__donecb, link);
        cb->fn(cb, t);
    }
    /* Unstarted tasks have no stack to wait for: free owned ones now. */
    if (!t->stack && (t->flags & (SIMUL__TF_DETACHED | SIMUL__TF_GROUP)))
        simul__task_free(l, t);
}

/* Called by the loop (sched context) to run one runnable task. */
void simul__run_task(simul_loop *l, simul__task *t)
{
    if (!task_prepare(l, t))
        return;
#ifdef SIMUL__TSAN
    if (!l->tsan_fiber)
        l->tsan_fiber = __tsan_get_current_fiber();
#endif
    l->current = t;
    if (SIMUL__UNLIKELY(l->debug))
        l->ran_at = simul__clock_ns();
    switch_to(l, &l->sched_ctx, t, 0);
    l->current = NULL;
    reap_zombie(l);
}

/* ---- spawn ------------------------------------------------------------- */

simul__task *simul__spawn(simul_loop *l, simul_fn fn, void *arg, const simul_task_opts *opts)
{
    size_t size = l->opts.stack_size;
    if (opts && opts->stack_size) {
        size = simul__stack_round(opts->stack_size);
        if (!size) {
            errno = EINVAL;
            return NULL;
        }
    }
    simul__task *t = task_alloc(l);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    t->run.kind = SIMUL__RUN_TASK;
    t->state = SIMUL_TASK_NEW;
    t->flags = 0;
    t->stack_size = (uint32_t)size;   /* shares storage with wake/result */
    t->fn = fn;
    t->arg = arg;
    t->stack = NULL;
    t->loop = l;
    t->scopes = NULL;
    t->sleep_timer.idx = 0;
    t->group = NULL;
    t->id = ++l->next_id;
    t->name = NULL;
    if (opts && opts->name && !(t->name = strndup(opts->name, 31))) {
        simul__task_free(l, t);
        errno = ENOMEM;
        return NULL;
    }
    simul__list_init(&t->donecbs);
    l->ntasks_live++;
    simul__ready_push(l, &t->run);
    return t;
}

simul_task *simul_spawn_opts(simul_fn fn, void *arg, const simul_task_opts *opts)
{
    simul_loop *l = simul__loop();
    if (!l) {
        errno = EPERM;
        return NULL;
    }
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    simul__task *t = simul__spawn(l, fn, arg, opts);
    return t ? simul__task_handle(t) : NULL;
}

simul_task *simul_spawn(simul_fn fn, void *arg)
{
    return simul_spawn_opts(fn, arg, NULL);
}

/* ---- parking: the wait primitive (internal.h) ----------------------------- */

static void park_timeout(simul__tnode *n)
{
    simul__wake(simul__container_of(n, simul__task, sleep_timer), -ETIMEDOUT);
}

/* Parks t (the running task), whose wait_what/wait_pc/flags are set: the
 * untimed path, kept lean (only l and t live across the switch) because
 * every coordination wait goes through it. */
static inline int park(simul_loop *l, simul__task *t)
{
    SIMUL__ASSERT(t->state == SIMUL_TASK_RUNNING && t == l->current);
    t->state = SIMUL_TASK_WAITING;
    switch_out(l, t, 0);
    t->wait_what = NULL;
    return t->wake;
}

/* The timed path: arms the task's timer for `deadline` (absolute ns), parks,
 * disarms it if something else woke the task. A deadline already past fails
 * at once (-ETIMEDOUT), but only after the caller's fast path had its
 * chance (as asyncio.timeout(0)) -- unless `always`: a sleep suspends even
 * then (its timer fires at the next tick), as asyncio.sleep does. Out of
 * line: it keeps more live and calls more. */
static SIMUL__NOINLINE int park_timed(simul_loop *l, simul__task *t, int64_t deadline,
                                      int always)
{
    int r = 0;
    if (!always) {
        l->now = simul__clock_ns();
        if (deadline <= l->now)
            r = -ETIMEDOUT;
    }
    if (!r)
        r = simul__timer_arm(l, &t->sleep_timer, deadline, park_timeout);
    if (SIMUL__UNLIKELY(r)) {
        t->wait_what = NULL;
        return r;
    }
    r = park(l, t);
    if (simul__timer_armed(&t->sleep_timer))
        simul__timer_disarm(l, &t->sleep_timer);
    return r;
}

int simul__park_until(int64_t deadline, unsigned flags, const char *what, void *pc)
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (SIMUL__UNLIKELY(!t))
        return -EPERM;
    uint32_t nocancel = 0;
    if (flags & SIMUL__PARK_NOCANCEL)
        nocancel = SIMUL__TF_NOCANCEL;
    else if (simul__cancel_pending(t))
        return -ECANCELED;
    /* Recorded before the timed path's calls, so that only l and t must
     * survive them; the flag matters only while the task is parked. */
    t->flags = (t->flags & ~SIMUL__TF_NOCANCEL) | nocancel;
    t->wait_what = what;
    t->wait_pc = pc;
    if (deadline != SIMUL__NO_DEADLINE)
        return park_timed(l, t, deadline, 0);
    return park(l, t);
}

void simul__deliver_cancel(simul__task *t)
{
    if (t->state == SIMUL_TASK_WAITING && !(t->flags & SIMUL__TF_NOCANCEL) &&
        simul__cancel_pending(t))
        simul__wake(t, -ECANCELED);
}

void simul__task_cancel(simul__task *t)
{
    t->flags |= SIMUL__TF_CANCEL;
    simul__deliver_cancel(t);
}

/* ---- join, cancel, detach, shield --------------------------------------- */

struct joiner {
    simul__donecb cb;
    simul__task  *waiter;
};

void simul__joiner_fire(simul__donecb *cb, simul__task *t)
{
    (void)t;
    simul__wake(((struct joiner *)cb)->waiter, 0);
}

/* Checks a join-like call: sets *tp, or returns the error. */
static int join_check(const simul_task *h, simul__task **selfp, simul__task **tp)
{
    simul_loop *l = simul__loop();
    simul__task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    simul__task *t = simul__task_get(h);
    if (!t)
        return -ESRCH;
    if (SIMUL__UNLIKELY(t->loop != l))
        return -EXDEV;
    if (t == self)
        return -EDEADLK;
    if (t->flags & (SIMUL__TF_DETACHED | SIMUL__TF_GROUP | SIMUL__TF_OWNED_AC))
        return -EINVAL;
    if (t->flags & SIMUL__TF_JOINING)
        return -EBUSY;
    *selfp = self;
    *tp = t;
    return 0;
}

int simul__join_task(simul__task *t, int shield, void *pc)
{
    simul_loop *l = simul__loop();
    simul__task *self = l->current;
    if (t->state != SIMUL_TASK_DONE) {
        struct joiner j = { .cb.fn = simul__joiner_fire, .waiter = self };
        simul__list_push(&t->donecbs, &j.cb.link);
        t->flags |= SIMUL__TF_JOINING;
        int r = simul__park("join", pc);
        if (r == -ECANCELED) {
            if (shield && t->state != SIMUL_TASK_DONE) {
                simul__list_remove(&j.cb.link);
                t->flags = (t->flags & ~SIMUL__TF_JOINING) | SIMUL__TF_DETACHED;
                return -ECANCELED;
            }
            if (t->state != SIMUL_TASK_DONE) {
                simul__task_cancel(t);
                while (t->state != SIMUL_TASK_DONE)
                    simul__park_nocancel("join (cancelling it)", pc);
            }
            simul__task_free(l, t);
            return -ECANCELED;
        }
    }
    int res = t->result;
    simul__task_free(l, t);
    return res;
}

int simul_join(simul_task *h)
{
    simul__task *self, *t;
    int r = join_check(h, &self, &t);
    if (r)
        return r;
    return simul__join_task(t, 0, CALLER());
}

int simul_shield(simul_task *h)
{
    simul__task *self, *t;
    int r = join_check(h, &self, &t);
    if (r)
        return r;
    return simul__join_task(t, 1, CALLER());
}

int simul_cancel(simul_task *h)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    simul__task *t = simul__task_get(h);
    if (!t)
        return -ESRCH;
    if (t->loop != l)
        return -EXDEV;
    if (t->state == SIMUL_TASK_DONE)
        return -EALREADY;
    simul__task_cancel(t);
    return 0;
}

int simul_detach(simul_task *h)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    simul__task *t = simul__task_get(h);
    if (!t)
        return -ESRCH;
    if (t->loop != l)
        return -EXDEV;
    if (t->flags & (SIMUL__TF_DETACHED | SIMUL__TF_GROUP | SIMUL__TF_OWNED_AC | SIMUL__TF_JOINING))
        return -EINVAL;
    t->flags |= SIMUL__TF_DETACHED;
    if (t->state == SIMUL_TASK_DONE && l->zombie != t)
        simul__task_free(l, t);
    return 0;
}

/* ---- yield and sleep ----------------------------------------------------- */

int simul_yield(void)
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (SIMUL__UNLIKELY(!t))
        return -EPERM;
    if (SIMUL__UNLIKELY(simul__cancel_pending(t)))
        return -ECANCELED;
    SIMUL__ASSERT(t->state == SIMUL_TASK_RUNNING);
    t->state = SIMUL_TASK_READY;
    simul__ready_push(l, &t->run);
    switch_out(l, t, 0);
    return simul__cancel_pending(t) ? -ECANCELED : 0;
}

int simul__sleep_until_ns(int64_t when, void *pc)
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (!t)
        return -EPERM;
    if (simul__cancel_pending(t))
        return -ECANCELED;
    t->flags &= ~SIMUL__TF_NOCANCEL;
    t->wait_what = "sleep";
    t->wait_pc = pc;
    int r = when == SIMUL__NO_DEADLINE ? park(l, t) : park_timed(l, t, when, 1);
    return r == -ETIMEDOUT ? 0 : r;
}

int simul_sleep(double seconds)
{
    simul_loop *l = simul__loop();
    if (!l || !l->current)
        return -EPERM;
    if (isnan(seconds) || seconds < 0)
        return -EINVAL;
    if (seconds == 0)
        return simul_yield();
    return simul__sleep_until_ns(isinf(seconds) ? SIMUL__NO_DEADLINE
                                                : simul__timeout_ns(l, seconds), CALLER());
}

/* ---- introspection ------------------------------------------------------- */

simul_task *simul_current(void)
{
    simul__task *t = simul__current();
    return t ? simul__task_handle(t) : NULL;
}

const char *simul__task_name(simul__task *t)
{
    if (!t->name) {
        char buf[24];
        snprintf(buf, sizeof buf, "task-%u", t->id);
        t->name = strdup(buf);
        if (!t->name)
            return "task-?";
    }
    return t->name;
}

const char *simul_task_name(const simul_task *h)
{
    simul__task *t = simul__task_get(h);
    return t ? simul__task_name(t) : "?";
}

int simul_task_set_name(simul_task *h, const char *name)
{
    simul__task *t = simul__task_get(h);
    if (!t)
        return -ESRCH;
    if (!name)
        return -EINVAL;
    char *copy = strndup(name, 31);
    if (!copy)
        return -ENOMEM;
    free(t->name);
    t->name = copy;
    return 0;
}

int simul_task_state_of(const simul_task *h)
{
    simul__task *t = simul__task_get(h);
    return t ? (int)t->state : -ESRCH;
}

int simul_task_done(const simul_task *h)
{
    simul__task *t = simul__task_get(h);
    return t ? t->state == SIMUL_TASK_DONE : -ESRCH;
}

int simul_task_cancelled(const simul_task *h)
{
    simul__task *t = simul__task_get(h);
    if (!t)
        return -ESRCH;
    /* Its own cancellation ended it: asked for (simul_cancel, its group,
     * a cancelled joiner) and passed up as its result. */
    return t->state == SIMUL_TASK_DONE && t->result == -ECANCELED &&
           (t->flags & SIMUL__TF_CANCEL) != 0;
}

int simul_all_tasks(simul_task **out, size_t cap)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    if (cap && !out)
        return -EINVAL;
    size_t n = 0;
    SIMUL__FOREACH_TASK(l, t) {
        if (t->state == SIMUL_TASK_DONE)
            continue;
        if (n < cap)
            out[n] = simul__task_handle(t);
        n++;
    }
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int simul_cancelled(void)
{
    simul__task *t = simul__current();
    return t ? simul__cancel_pending(t) : 0;
}

/* ---- cancel scopes ------------------------------------------------------- */

static void scope_fire(simul__tnode *n)
{
    simul_scope *s = simul__container_of(n, simul_scope, timer);
    s->flags |= SIMUL__SCOPE_CANCELLED | SIMUL__SCOPE_EXPIRED;
    simul__deliver_cancel(s->task);
}

static int scope_enter(simul_scope *s, double deadline, int flags)
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (!t)
        return -EPERM;
    if (!s || isnan(deadline))
        return -EINVAL;
    s->outer = t->scopes;
    s->task = t;
    s->deadline = deadline;
    s->flags = SIMUL__SCOPE_ENTERED | flags;
    s->timer.idx = 0;
    t->scopes = s;
    return simul_scope_reschedule(s, deadline);
}

int simul_scope_enter(simul_scope *s, double deadline)
{
    return scope_enter(s, deadline, 0);
}

int simul_scope_enter_shielded(simul_scope *s, double deadline)
{
    return scope_enter(s, deadline, SIMUL__SCOPE_SHIELD);
}

int simul_scope_reschedule(simul_scope *s, double deadline)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    if (!s || !(s->flags & SIMUL__SCOPE_ENTERED) || isnan(deadline))
        return -EINVAL;
    s->deadline = deadline;
    if (simul__timer_armed(&s->timer))
        simul__timer_disarm(l, &s->timer);
    if (s->flags & SIMUL__SCOPE_EXPIRED)
        return 0;   /* an expired scope stays expired */
    int64_t when = simul__deadline_ns(deadline);
    if (when == SIMUL__NO_DEADLINE)
        return 0;
    l->now = simul__clock_ns();
    if (when <= l->now) {
        s->flags |= SIMUL__SCOPE_CANCELLED | SIMUL__SCOPE_EXPIRED;
        simul__deliver_cancel(s->task);
        return 0;
    }
    return simul__timer_arm(l, &s->timer, when, scope_fire);
}

/* Pops s; returns 0 or -EPERM/-EINVAL for misuse. */
int simul__scope_pop(simul_scope *s)
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (!t)
        return -EPERM;
    if (!s || s->task != (void *)t || !(s->flags & SIMUL__SCOPE_ENTERED) || t->scopes != s)
        return -EINVAL;
    if (simul__timer_armed(&s->timer))
        simul__timer_disarm(l, &s->timer);
    t->scopes = s->outer;
    s->flags &= ~SIMUL__SCOPE_ENTERED;
    return 0;
}

int simul_scope_exit(simul_scope *s)
{
    int r = simul__scope_pop(s);
    if (r)
        return r;
    if (simul__cancel_pending(s->task))
        return -ECANCELED;          /* an outer cancellation is still on */
    /* Only a cancellation that reached the code inside counts: a result
     * that arrived with the deadline is not thrown away as a timeout. */
    if (!(s->flags & SIMUL__SCOPE_CAUGHT))
        return 0;
    return s->flags & SIMUL__SCOPE_EXPIRED ? -ETIMEDOUT : -ECANCELED;
}

void simul_scope_cancel(simul_scope *s)
{
    if (!s || !(s->flags & SIMUL__SCOPE_ENTERED) || (s->flags & SIMUL__SCOPE_CANCELLED))
        return;
    s->flags |= SIMUL__SCOPE_CANCELLED;
    simul__deliver_cancel(s->task);
}

int simul_scope_cancelled(const simul_scope *s)
{
    return s && (s->flags & SIMUL__SCOPE_CANCELLED) != 0;
}
