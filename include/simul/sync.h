/*
 * simul/sync.h - part of the public API; included by <simul.h>.
 *
 * The coordination layer: what asyncio.Queue, asyncio.Semaphore, Lock,
 * Event, Condition, Barrier and async generators do, plus select (wait on
 * the first of several queues, events, tasks and a deadline).
 *
 * Common rules for everything below:
 *  - Objects are opaque, made with _new (NULL with errno ENOMEM or EINVAL)
 *    and given back with _free. They belong to one loop and are used only
 *    from its tasks (or its callbacks, for the calls that never wait).
 *  - Waiting is FIFO-fair: whatever becomes available (an item, a free
 *    slot, a permit, the lock) is handed directly to the longest waiter, so
 *    a newcomer never overtakes it and nobody starves.
 *  - Every call that may wait also comes as _until(..., deadline): an
 *    absolute deadline on the simul_now() clock (INFINITY = none) after
 *    which it gives up with -ETIMEDOUT. All waits also end early with
 *    -ECANCELED when the task or an enclosing simul_scope is cancelled, so
 *    the timeout scopes of the core compose with them.
 *  - Cancellation never loses anything. A waiter that was handed what it
 *    waited for (an item, a permit, the lock) in the same instant it was
 *    cancelled gets it: the call succeeds and the cancellation surfaces at
 *    the task's next suspension point. A waiter that was cancelled first is
 *    skipped, and the item / permit / lock goes to the next waiter.
 *  - Freeing an object that tasks still wait on wakes them with -EIDRM
 *    (they then do not touch it again).
 *  - Calls that may wait return -EPERM outside a task.
 */
#ifndef SIMUL_SYNC_H
#define SIMUL_SYNC_H

#include <simul.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Queues (asyncio.Queue, LifoQueue, PriorityQueue)                         */

typedef struct simul_queue simul_queue;

/* Hard cap on the number of items any queue holds (also the largest
 * maxsize): a put that would exceed it fails with -ENOBUFS. */
#define SIMUL_QUEUE_CAP ((size_t)1 << 26)

/* Priority order: < 0 if a comes out before b, as strcmp. */
typedef int (*simul_queue_cmp)(const void *a, const void *b, void *ctx);

/*
 * asyncio.Queue(maxsize): a FIFO queue of void * items; maxsize 0 means
 * unbounded (up to SIMUL_QUEUE_CAP). The items live in a ring allocated
 * here for up to 1024 of them, doubled when full up to maxsize: a queue
 * of maxsize <= 1024 never allocates again. The queue never owns the
 * items: whoever gets one owns it.
 * Returns NULL with errno EINVAL (maxsize > SIMUL_QUEUE_CAP) or ENOMEM.
 */
SIMUL_API simul_queue *simul_queue_new(size_t maxsize);
/* asyncio.LifoQueue(maxsize): the last item put is the first one got. */
SIMUL_API simul_queue *simul_queue_new_lifo(size_t maxsize);
/*
 * asyncio.PriorityQueue(maxsize): the smallest item (by cmp(a, b, ctx))
 * comes out first; items that compare equal come out in the order they were
 * put (unlike heapq, the order is stable). cmp NULL: the items are integer
 * priorities cast to pointers ((void *)(intptr_t)prio), smallest first.
 */
SIMUL_API simul_queue *simul_queue_new_priority(size_t maxsize, simul_queue_cmp cmp, void *ctx);

/*
 * Frees q. Tasks still waiting on it wake with -EIDRM (a waiting putter
 * keeps its item). Items still queued are passed to the drop function set
 * with simul_queue_set_drop(), if any, and are otherwise forgotten: drain
 * the queue first if they own memory. NULL is ignored.
 */
SIMUL_API void simul_queue_free(simul_queue *q);

/* Sets the function called for each item the queue itself discards
 * (simul_queue_shutdown(q, 1) and simul_queue_free()). NULL: none. */
SIMUL_API void simul_queue_set_drop(simul_queue *q, void (*drop)(void *item, void *ctx), void *ctx);

/*
 * await q.put(item): appends item, waiting while the queue is full. If a
 * getter is waiting the item goes straight to it. Returns 0, -ESHUTDOWN
 * once the queue is shut down (also when the shutdown happens while
 * waiting), -ENOBUFS at SIMUL_QUEUE_CAP, -ENOMEM if an unbounded queue
 * cannot grow, -ECANCELED, -ETIMEDOUT (_until), -EIDRM, -EPERM, -EINVAL.
 * On any error the item was NOT queued and still belongs to the caller.
 */
SIMUL_API int simul_queue_put(simul_queue *q, void *item);
SIMUL_API int simul_queue_put_until(simul_queue *q, void *item, double deadline);
/* q.put_nowait(item): as put, but -EAGAIN instead of waiting when full.
 * Callable from callbacks too. */
SIMUL_API int simul_queue_put_nowait(simul_queue *q, void *item);

/*
 * item = await q.get(): removes the next item and stores it in *item,
 * waiting while the queue is empty. Returns 0, -ESHUTDOWN if the queue is
 * shut down and empty (after a plain shutdown the items already queued can
 * still be got), -ECANCELED, -ETIMEDOUT (_until), -EIDRM, -EPERM, -EINVAL.
 * On error *item is left unchanged and no item was taken.
 */
SIMUL_API int simul_queue_get(simul_queue *q, void **item);
SIMUL_API int simul_queue_get_until(simul_queue *q, void **item, double deadline);
/*
 * `async for item in q` (until shut down): get in the library's "next item"
 * form - 1 with *item set, 0 once the queue is shut down and empty (the
 * end), else get's errors (< 0):
 *     while ((r = simul_queue_next(q, &item)) > 0) { ... }
 */
SIMUL_API int simul_queue_next(simul_queue *q, void **item);
/* q.get_nowait(): as get, but -EAGAIN instead of waiting when empty. */
SIMUL_API int simul_queue_get_nowait(simul_queue *q, void **item);

/*
 * q.task_done(): marks one item got earlier as processed. When every item
 * ever put has been marked, the tasks in simul_queue_join() wake.
 * Returns 0, or -EINVAL if called more times than items were put
 * (Python's ValueError).
 */
SIMUL_API int simul_queue_task_done(simul_queue *q);

/*
 * await q.join(): waits until every item put has been marked with
 * simul_queue_task_done() (at once if none is pending). Returns 0,
 * -ECANCELED, -ETIMEDOUT (_until), -EIDRM, -EPERM, -EINVAL.
 */
SIMUL_API int simul_queue_join(simul_queue *q);
SIMUL_API int simul_queue_join_until(simul_queue *q, double deadline);

/* q.qsize(), q.empty(), q.full(), q.maxsize (0 = unbounded). */
SIMUL_API size_t simul_queue_qsize(const simul_queue *q);
SIMUL_API int    simul_queue_empty(const simul_queue *q);
SIMUL_API int    simul_queue_full(const simul_queue *q);
SIMUL_API size_t simul_queue_maxsize(const simul_queue *q);

/*
 * q.shutdown(immediate) (Python 3.13): from now on put fails with
 * -ESHUTDOWN; get fails with -ESHUTDOWN once the queue is empty. Every
 * waiting putter and getter wakes with -ESHUTDOWN. With immediate != 0 the
 * queued items are dropped too (each passed to the drop function, see
 * simul_queue_set_drop) and counted as done for simul_queue_join().
 * Returns 0, or -EINVAL for NULL. Shutting down twice is harmless.
 */
SIMUL_API int simul_queue_shutdown(simul_queue *q, int immediate);
/* 1 if simul_queue_shutdown() was called. */
SIMUL_API int simul_queue_is_shutdown(const simul_queue *q);

/* ------------------------------------------------------------------------ */
/* Semaphores (asyncio.Semaphore, asyncio.BoundedSemaphore)                 */

typedef struct simul_sem simul_sem;

/* asyncio.Semaphore(value). NULL with errno ENOMEM. */
SIMUL_API simul_sem *simul_sem_new(unsigned value);
/* asyncio.BoundedSemaphore(value): releasing above value is an error. */
SIMUL_API simul_sem *simul_sem_new_bounded(unsigned value);
/* Frees s; waiters wake with -EIDRM. NULL is ignored. */
SIMUL_API void simul_sem_free(simul_sem *s);

/*
 * await s.acquire(): takes a permit, waiting FIFO while there is none.
 * Returns 0, -ECANCELED, -ETIMEDOUT (_until), -EIDRM, -EPERM, -EINVAL.
 * On error no permit is held.
 */
SIMUL_API int simul_sem_acquire(simul_sem *s);
SIMUL_API int simul_sem_acquire_until(simul_sem *s, double deadline);
/* Takes a permit if one is free at once: 0, or -EAGAIN. Also from callbacks. */
SIMUL_API int simul_sem_try_acquire(simul_sem *s);
/*
 * s.release(): gives a permit back (to the first waiter if there is one).
 * Returns 0, or -EOVERFLOW for a bounded semaphore released more often than
 * acquired (Python's ValueError). Also from callbacks.
 */
SIMUL_API int simul_sem_release(simul_sem *s);
/* Free permits now (s._value). */
SIMUL_API unsigned simul_sem_value(const simul_sem *s);
/* s.locked(): 1 if an acquire would wait. */
SIMUL_API int simul_sem_locked(const simul_sem *s);

/* ------------------------------------------------------------------------ */
/* Locks (asyncio.Lock, non-reentrant, owned by the task that holds it)      */

typedef struct simul_lock simul_lock;

SIMUL_API simul_lock *simul_lock_new(void);
/* Frees l (held or not); waiters wake with -EIDRM. NULL is ignored. */
SIMUL_API void simul_lock_free(simul_lock *l);
/*
 * await lock.acquire(): FIFO. Returns 0, -EDEADLK if the calling task
 * already holds it (the lock is not reentrant), -ECANCELED, -ETIMEDOUT
 * (_until), -EIDRM, -EPERM, -EINVAL. On error the lock is not held.
 */
SIMUL_API int simul_lock_acquire(simul_lock *l);
SIMUL_API int simul_lock_acquire_until(simul_lock *l, double deadline);
/* 0 if taken at once, -EAGAIN if held, -EPERM outside a task. */
SIMUL_API int simul_lock_try_acquire(simul_lock *l);
/* lock.release(): passes the lock to the first waiter, if any. Returns 0 or
 * -EPERM if the calling task does not hold it (RuntimeError in Python). */
SIMUL_API int simul_lock_release(simul_lock *l);
/* lock.locked() */
SIMUL_API int simul_lock_locked(const simul_lock *l);

/* ------------------------------------------------------------------------ */
/* Events (asyncio.Event)                                                    */

typedef struct simul_event simul_event;

SIMUL_API simul_event *simul_event_new(void);
/* Frees e; waiters wake with -EIDRM. NULL is ignored. */
SIMUL_API void simul_event_free(simul_event *e);
/* event.set(): wakes every waiter; later waits return at once. Also from
 * callbacks. 0 or -EINVAL. */
SIMUL_API int  simul_event_set(simul_event *e);
/* event.clear() */
SIMUL_API int  simul_event_clear(simul_event *e);
/* event.is_set() */
SIMUL_API int  simul_event_is_set(const simul_event *e);
/* await event.wait(): 0 once set, -ECANCELED, -ETIMEDOUT (_until), -EIDRM,
 * -EPERM, -EINVAL. */
SIMUL_API int  simul_event_wait(simul_event *e);
SIMUL_API int  simul_event_wait_until(simul_event *e, double deadline);

/* ------------------------------------------------------------------------ */
/* Conditions (asyncio.Condition)                                           */

typedef struct simul_cond simul_cond;

/* asyncio.Condition(lock): lock NULL makes one that the condition owns (see
 * simul_cond_lock); a lock passed in stays the caller's. NULL/ENOMEM. */
SIMUL_API simul_cond *simul_cond_new(simul_lock *lock);
/* Frees c (and its own lock); waiters wake with -EIDRM. */
SIMUL_API void simul_cond_free(simul_cond *c);
/* The condition's lock: acquire it before wait/notify. */
SIMUL_API simul_lock *simul_cond_lock(simul_cond *c);
/*
 * await cond.wait(): releases the lock, waits for a notify, re-acquires the
 * lock and returns 0. The lock is held again on every return except -EPERM
 * and -EINVAL (the caller did not hold it) and -EIDRM: after -ECANCELED or
 * -ETIMEDOUT (_until) it was re-acquired without regard to cancellation,
 * as Python does. A waiter notified and cancelled in the same instant
 * returns 0 (the notification is not lost).
 */
SIMUL_API int simul_cond_wait(simul_cond *c);
SIMUL_API int simul_cond_wait_until(simul_cond *c, double deadline);
/* await cond.wait_for(predicate): waits until pred(arg) is nonzero, checked
 * with the lock held. Returns 0 or an error of simul_cond_wait_until. */
SIMUL_API int simul_cond_wait_for(simul_cond *c, int (*pred)(void *arg), void *arg,
                                  double deadline);
/* cond.notify(n) / notify_all(): wakes up to n waiters, FIFO. The caller
 * must hold the lock: 0, or -EPERM. */
SIMUL_API int simul_cond_notify(simul_cond *c, size_t n);
SIMUL_API int simul_cond_notify_all(simul_cond *c);

/* ------------------------------------------------------------------------ */
/* Barriers (asyncio.Barrier)                                               */

typedef struct simul_barrier simul_barrier;

/* asyncio.Barrier(parties); parties >= 1 (else NULL/EINVAL). */
SIMUL_API simul_barrier *simul_barrier_new(unsigned parties);
/* Frees b; waiters wake with -EIDRM. NULL is ignored. */
SIMUL_API void simul_barrier_free(simul_barrier *b);
/*
 * await barrier.wait(): waits until `parties` tasks are waiting, then
 * releases them all and returns this task's arrival index, 0 ... parties-1
 * (the task that completed the set gets parties-1). A waiter that is
 * cancelled or times out (_until) withdraws (the barrier does not break;
 * as asyncio) and returns -ECANCELED / -ETIMEDOUT. Returns -EPIPE
 * (BrokenBarrierError) if the barrier is or becomes broken (abort/reset),
 * -EIDRM, -EPERM, -EINVAL.
 */
SIMUL_API int simul_barrier_wait(simul_barrier *b);
SIMUL_API int simul_barrier_wait_until(simul_barrier *b, double deadline);
/* barrier.abort(): breaks it; waiters and later waits get -EPIPE. */
SIMUL_API int simul_barrier_abort(simul_barrier *b);
/* barrier.reset(): waiters get -EPIPE, then the barrier is whole and empty. */
SIMUL_API int simul_barrier_reset(simul_barrier *b);
/* barrier.parties, barrier.n_waiting, barrier.broken */
SIMUL_API unsigned simul_barrier_parties(const simul_barrier *b);
SIMUL_API unsigned simul_barrier_n_waiting(const simul_barrier *b);
SIMUL_API int      simul_barrier_broken(const simul_barrier *b);

/* ------------------------------------------------------------------------ */
/* Async generators (async def ... yield; async for; aclose)                */

typedef struct simul_gen simul_gen;

/* The generator's body: runs as its own task, calls simul_gen_yield() for
 * each value and returns >= 0 when done or a negative errno to fail. */
typedef int (*simul_gen_fn)(simul_gen *g, void *arg);

/*
 * Creates a generator. As in Python nothing runs yet: the producer task is
 * spawned by the first simul_gen_next(). The caller owns g and frees it
 * with simul_gen_free(). NULL with errno EPERM (outside a loop), EINVAL,
 * ENOMEM. stack_size 0 = the default task stack.
 */
SIMUL_API simul_gen *simul_gen_new(simul_gen_fn fn, void *arg);
SIMUL_API simul_gen *simul_gen_new_opts(simul_gen_fn fn, void *arg, const simul_task_opts *opts);

/*
 * await anext(g) (the step of `async for v in g`): resumes the producer and
 * waits for its next value. Returns 1 with *value set, 0 when the producer
 * returned >= 0 (StopAsyncIteration; every later call returns 0 too), or
 * the producer's negative result (the error propagates; later calls return
 * 0). If the caller is cancelled while waiting, the producer is cancelled
 * too (as when a generator is awaited in a cancelled task): its pending
 * operation returns -ECANCELED, it runs its cleanup, and this returns
 * -ECANCELED - unless the value arrived in the same instant, which is then
 * returned (1) and not lost. A call made while the caller is already
 * cancelled cancels a suspended producer the same way (and closes g) before
 * returning -ECANCELED. -EBUSY if another task is in next on g,
 * -EDEADLK from the producer itself, -EPERM, -EINVAL.
 */
SIMUL_API int simul_gen_next(simul_gen *g, void **value);

/*
 * In the producer: `yield value`. Hands value to the consumer and suspends
 * until the next simul_gen_next(). Returns 0 to go on, or -ECANCELED when
 * the consumer closed the generator (aclose: GeneratorExit) or the producer
 * was cancelled: the producer should then clean up and return. Cleanup that
 * must wait needs a shielded simul_scope, since cancellation is level-
 * triggered. -EPERM if not called from g's producer task.
 */
SIMUL_API int simul_gen_yield(simul_gen *g, void *value);

/*
 * await g.aclose(): stops the generator early. If its producer is running
 * or suspended in simul_gen_yield(), it is cancelled, and this waits
 * (without regard to the caller's own cancellation, so the cleanup always
 * completes) until it has returned. Returns 0, or the producer's result if
 * it was a failure other than -ECANCELED. Idempotent; -EPERM, -EINVAL.
 */
SIMUL_API int simul_gen_close(simul_gen *g);

/* Closes g if needed (as simul_gen_close) and frees it. NULL is ignored. */
SIMUL_API void simul_gen_free(simul_gen *g);

/* Hard cap on the items simul_gen_collect() gathers (-E2BIG beyond). */
#define SIMUL_GEN_COLLECT_MAX ((size_t)1 << 24)

/*
 * The async comprehension [v async for v in g if keep(v)]: runs g to the
 * end and stores the values for which keep(v, ctx) is nonzero (all of them
 * when keep is NULL) in a malloc'd array *items (free() it; NULL when
 * empty) of *n entries. Returns 0, or the error of simul_gen_next() /
 * -ENOMEM / -E2BIG, in which case *items is NULL, *n is 0, and g is closed.
 */
SIMUL_API int simul_gen_collect(simul_gen *g, int (*keep)(void *value, void *ctx), void *ctx,
                                void ***items, size_t *n);

/* ------------------------------------------------------------------------ */
/* Channels: bounded queues between loops (Go's buffered channels)           */

/*
 * A channel is the one object of this header that is NOT bound to a loop:
 * any task of any loop (simul_run_loops, or loops of your own threads)
 * sends and receives, and the calls that never wait (try_send, try_recv,
 * close, len) work from any thread, loop or not. It holds up to `capacity`
 * void * items in FIFO order (per sender: items one task sends arrive in
 * the order it sent them); a sender waits while it is full, a receiver
 * while it is empty - backpressure, and memory bounded by the capacity
 * (capacity 0: unbuffered, every send waits for a receiver, as in Go).
 * Items are handed over directly to a waiting receiver, and room goes to
 * the longest-waiting sender (FIFO-fair on both sides).
 *
 * Wakeups are batched: a waiter of another loop is woken through that
 * loop's thread-safe path (one lock and at most one eventfd write per
 * batch: every waiter of one loop that a call satisfies goes in one post;
 * nothing at all when nobody waits). The _many calls move a batch of items
 * under one lock. A waiter whose peers run on other loops, on a loop with
 * nothing else ready, spins briefly (at most 50 us, adaptive, yielding the
 * CPU) before it parks, so a steady flow between loops keeps both threads
 * awake instead of paying a thread wake-up per ring's worth of items.
 *
 * Cancellation and deadlines (as every wait in simul; the sync.h rules):
 * a sender that returns an error did NOT put its item: it is still the
 * caller's; a sender that returns 0 put it, even when it was cancelled in
 * the same instant (the cancel is then seen at its next suspension point).
 * A receiver that returns an error took nothing; one that returns an item
 * owns it. So an item is never lost nor duplicated by a cancel. The _many
 * forms return how many went (a prefix of the array; the rest stays the
 * caller's).
 *
 * Close: simul_chan_close() makes every later send fail with -ESHUTDOWN
 * and wakes waiting senders with -ESHUTDOWN (their items stay theirs);
 * receivers still get every item already in the channel, then -ESHUTDOWN
 * (simul_chan_next and the _many receive: 0, the end).
 *
 * A task waiting on a channel is not taken for a deadlock by its loop (the
 * other side may be another thread); a channel nobody will ever send on
 * again therefore waits for ever: close it.
 */
typedef struct simul_chan simul_chan;

/* Largest capacity (2^24 items: the ring is capacity pointers). */
#define SIMUL_CHAN_CAP ((size_t)1 << 24)

/* Any thread. The ring of `capacity` items is allocated here, once. NULL
 * with errno EINVAL (capacity > SIMUL_CHAN_CAP) or ENOMEM. */
SIMUL_API simul_chan *simul_chan_new(size_t capacity);
/* Frees ch; any thread, once no task uses it or waits on it (close it and
 * let the users finish first). Items still queued are forgotten (drain
 * first if they own memory). NULL is ignored. */
SIMUL_API void simul_chan_free(simul_chan *ch);

/* Sends item, waiting while the channel is full. 0; -ESHUTDOWN (closed,
 * also while waiting), -ECANCELED, -ETIMEDOUT (_until), -EPERM outside a
 * task, -EINVAL. On error the item was not sent. */
SIMUL_API int simul_chan_send(simul_chan *ch, void *item);
SIMUL_API int simul_chan_send_until(simul_chan *ch, void *item, double deadline);
/* Sends items[0..n) in order under as few locks as there is room for,
 * waiting for room for the rest. Returns n, or k < n when an error ended
 * the wait after items[0..k) went (k > 0), or the error when none went
 * (send's errors). n = 0 returns 0. */
SIMUL_API int simul_chan_send_many(simul_chan *ch, void *const *items, size_t n);
SIMUL_API int simul_chan_send_many_until(simul_chan *ch, void *const *items, size_t n,
                                         double deadline);

/* Receives the next item into *item (item may be NULL), waiting while the
 * channel is empty. 0; -ESHUTDOWN once closed and drained, -ECANCELED,
 * -ETIMEDOUT (_until), -EPERM, -EINVAL. On error nothing was taken. */
SIMUL_API int simul_chan_recv(simul_chan *ch, void **item);
SIMUL_API int simul_chan_recv_until(simul_chan *ch, void **item, double deadline);
/* The "next item" form: 1 with *item set, 0 at the end (closed and
 * drained), < 0 as recv:
 *     while ((r = simul_chan_next(ch, &item)) > 0) { ... } */
SIMUL_API int simul_chan_next(simul_chan *ch, void **item);
/* Waits until at least one item is there, then takes up to cap at once
 * (in order) into items[]. Returns how many (> 0), 0 at the end, < 0 as
 * recv. */
SIMUL_API int simul_chan_recv_many(simul_chan *ch, void **items, size_t cap);
SIMUL_API int simul_chan_recv_many_until(simul_chan *ch, void **items, size_t cap,
                                         double deadline);

/* Without waiting, from any thread: 0, -EAGAIN (full / empty), -ESHUTDOWN
 * (closed; for try_recv: closed and drained), -EINVAL. */
SIMUL_API int simul_chan_try_send(simul_chan *ch, void *item);
SIMUL_API int simul_chan_try_recv(simul_chan *ch, void **item);
/* Closes ch (see above); any thread; closing twice is harmless. 0, -EINVAL. */
SIMUL_API int simul_chan_close(simul_chan *ch);
/* Items queued now (a snapshot), the capacity, 1 if closed (-EINVAL for
 * NULL). Any thread. */
SIMUL_API size_t simul_chan_len(simul_chan *ch);
SIMUL_API size_t simul_chan_cap(const simul_chan *ch);
SIMUL_API int    simul_chan_closed(simul_chan *ch);

/* ------------------------------------------------------------------------ */
/* select: the first of several queues, events, tasks and a deadline         */

enum {
    SIMUL_SELECT_GET = 1,   /* an item from .queue (stored in .item) */
    SIMUL_SELECT_PUT,       /* room in .queue for .item (which is put) */
    SIMUL_SELECT_EVENT,     /* .event is set */
    SIMUL_SELECT_TASK,      /* .task has finished (its result in .result) */
    SIMUL_SELECT_SIGNAL     /* a signal of .signal arrived (taken; its number
                               in .result) - see simul_signal_open */
};

typedef struct simul_signal simul_signal;   /* <simul/sys.h> */

typedef struct simul_select_case {
    int          kind;      /* SIMUL_SELECT_* */
    simul_queue *queue;     /* GET, PUT */
    simul_event *event;     /* EVENT */
    simul_task  *task;      /* TASK: still yours to join; select does not */
    void        *item;      /* GET: out; PUT: in */
    int          result;    /* out: 0, -ESHUTDOWN for a shut-down queue,
                               -EIDRM for a freed object, the TASK's
                               result, or the SIGNAL's number */
    simul_signal *signal;   /* SIGNAL */
} simul_select_case;

/*
 * Waits until one of the n cases can proceed, performs it and returns its
 * index. Only that case happens: an item is taken from (or put into) the
 * winning queue only, so the queues that did not win lose nothing. When
 * several are ready at once, the first in the array wins. A queue that is
 * shut down (and, for GET, empty) counts as ready with .result -ESHUTDOWN.
 * An object freed while select waits makes its case fire with .result
 * -EIDRM. deadline: absolute on the simul_now() clock, INFINITY for none;
 * -ETIMEDOUT when it passes first. Also -ECANCELED, -EINVAL (bad case,
 * NULL), -ESRCH (stale task handle), -EDEADLK (the caller's own task),
 * -ENOMEM (more than 8 cases need a small allocation), -EPERM.
 * n may be 0 (then it just waits for the deadline).
 */
SIMUL_API int simul_select(simul_select_case *cases, size_t n, double deadline);

#ifdef __cplusplus
}
#endif

#endif
