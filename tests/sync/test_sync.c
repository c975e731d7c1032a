/*
 * test_sync.c - Semaphore, BoundedSemaphore, Lock, Event, Condition and
 * Barrier: limits, FIFO fairness (no barging, no starvation), deadlines and
 * scopes, the documented errors, and the cancellation races: a permit or
 * the lock handed to a waiter that is being cancelled passes to the next
 * waiter; one handed before the cancel is kept.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <simul.h>

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))
#define RUN(fn) CHECK_EQ(simul_run(fn, NULL), 0)

static char order[256];
static int olen;
static void mark(char c) { order[olen++] = c; order[olen] = 0; }

/* ---- semaphores --------------------------------------------------------- */

static simul_sem *gs;
static int inside, max_inside;
static int limited(void *a)
{
    (void)a;
    int r = simul_sem_acquire(gs);
    if (r)
        return r;
    if (++inside > max_inside)
        max_inside = inside;
    simul_sleep(0.002);
    inside--;
    return simul_sem_release(gs);
}
static int m_sem_limit(void *a)
{
    (void)a;
    gs = simul_sem_new(3);
    simul_task *t[20];
    for (int i = 0; i < 20; i++)
        t[i] = simul_spawn(limited, NULL);
    CHECK_EQ(simul_gather(t, 20, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    CHECK_EQ(max_inside, 3);
    CHECK_EQ(simul_sem_value(gs), 3);
    simul_sem_free(gs);
    return 0;
}
TEST(semaphore_limits_concurrency) { RUN(m_sem_limit); }

static int sem_waiter(void *a)
{
    int r = simul_sem_acquire(gs);
    if (r)
        return r;
    mark((char)V(a));
    return 0;
}
static int m_sem_fifo(void *a)
{
    (void)a;
    gs = simul_sem_new(0);
    CHECK(simul_sem_locked(gs));
    CHECK_EQ(simul_sem_try_acquire(gs), -EAGAIN);
    simul_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = simul_spawn(sem_waiter, I('a' + i));
    simul_yield();
    simul_sem_release(gs);
    simul_sem_release(gs);
    /* no barging: the permits went to a and b, none is free */
    CHECK_EQ(simul_sem_try_acquire(gs), -EAGAIN);
    simul_sem_release(gs);
    simul_sem_release(gs);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    CHECK(strcmp(order, "abcd") == 0);
    CHECK_EQ(simul_sem_value(gs), 0);
    simul_sem_free(gs);
    return 0;
}
TEST(semaphore_is_fifo_and_released_permits_are_not_barged) { RUN(m_sem_fifo); }

static int m_sem_cancel_race(void *a)
{
    (void)a;
    gs = simul_sem_new(0);
    simul_task *x = simul_spawn(sem_waiter, I('x'));
    simul_task *y = simul_spawn(sem_waiter, I('y'));
    simul_yield();
    simul_cancel(x);                    /* x woken by the cancel, not run */
    CHECK_EQ(simul_sem_release(gs), 0); /* the permit must go to y */
    CHECK_EQ(simul_join(x), -ECANCELED);
    CHECK_EQ(simul_join(y), 0);
    CHECK(strcmp(order, "y") == 0);
    CHECK_EQ(simul_sem_value(gs), 0);   /* y holds it; none leaked */

    /* handed first, cancelled after: the waiter keeps the permit */
    simul_task *z = simul_spawn(sem_waiter, I('z'));
    simul_yield();
    simul_sem_release(gs);
    simul_cancel(z);
    CHECK_EQ(simul_join(z), 0);
    CHECK(strcmp(order, "yz") == 0);
    CHECK_EQ(simul_sem_value(gs), 0);
    simul_sem_free(gs);
    return 0;
}
TEST(permit_for_a_cancelled_waiter_passes_to_the_next) { RUN(m_sem_cancel_race); }

static int m_bounded(void *a)
{
    (void)a;
    simul_sem *s = simul_sem_new_bounded(2);
    CHECK_EQ(simul_sem_release(s), -EOVERFLOW);
    CHECK_EQ(simul_sem_acquire(s), 0);
    CHECK_EQ(simul_sem_acquire(s), 0);
    CHECK_EQ(simul_sem_acquire_until(s, simul_now() + 0.01), -ETIMEDOUT);
    CHECK_EQ(simul_sem_release(s), 0);
    CHECK_EQ(simul_sem_release(s), 0);
    CHECK_EQ(simul_sem_release(s), -EOVERFLOW);
    CHECK_EQ(simul_sem_value(s), 2);
    simul_sem_free(s);
    simul_sem *u = simul_sem_new(1);
    CHECK_EQ(simul_sem_release(u), 0);   /* a plain one may go above */
    CHECK_EQ(simul_sem_value(u), 2);
    simul_sem_free(u);
    return 0;
}
TEST(bounded_semaphore_rejects_over_release) { RUN(m_bounded); }

/* 200 tasks hammer a semaphore of 2 with sleeps; each must get through. */
static int hammer_count[200];
static int hammer(void *a)
{
    for (int k = 0; k < 20; k++) {
        if (simul_sem_acquire(gs))
            return -1;
        hammer_count[V(a)]++;
        simul_yield();
        simul_sem_release(gs);
    }
    return 0;
}
static int m_starvation(void *a)
{
    (void)a;
    gs = simul_sem_new(2);
    simul_task *t[200];
    for (int i = 0; i < 200; i++)
        t[i] = simul_spawn(hammer, I(i));
    /* halfway, every task must have progressed about equally */
    for (int k = 0; k < 1000; k++)
        simul_yield();
    int lo = 1 << 30, hi = 0;
    for (int i = 0; i < 200; i++) {
        lo = hammer_count[i] < lo ? hammer_count[i] : lo;
        hi = hammer_count[i] > hi ? hammer_count[i] : hi;
    }
    CHECK(hi - lo <= 1);
    CHECK_EQ(simul_gather(t, 200, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    simul_sem_free(gs);
    return 0;
}
TEST(no_waiter_starves_under_contention) { RUN(m_starvation); }

/* ---- locks ----------------------------------------------------------------- */

static simul_lock *gl;
static int lock_user(void *a)
{
    int r = simul_lock_acquire(gl);
    if (r)
        return r;
    mark((char)V(a));
    simul_yield();
    mark((char)V(a));
    return simul_lock_release(gl);
}
static int not_owner(void *a)
{
    (void)a;
    return simul_lock_release(gl);
}
static int m_lock(void *a)
{
    (void)a;
    gl = simul_lock_new();
    CHECK_EQ(simul_lock_acquire(gl), 0);
    CHECK(simul_lock_locked(gl));
    CHECK_EQ(simul_lock_acquire(gl), -EDEADLK);
    CHECK_EQ(simul_lock_try_acquire(gl), -EAGAIN);
    simul_task *n = simul_spawn(not_owner, NULL);
    CHECK_EQ(simul_join(n), -EPERM);
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(lock_user, I('a' + i));
    simul_yield();
    CHECK_EQ(simul_lock_release(gl), 0);
    CHECK_EQ(simul_lock_try_acquire(gl), -EAGAIN);   /* went to a, no barging */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    CHECK(strcmp(order, "aabbcc") == 0);
    CHECK(!simul_lock_locked(gl));
    CHECK_EQ(simul_lock_release(gl), -EPERM);
    simul_lock_free(gl);
    return 0;
}
TEST(lock_is_exclusive_fifo_owned_and_not_reentrant) { RUN(m_lock); }

static int lock_waiter(void *a)
{
    int r = simul_lock_acquire(gl);
    if (r)
        return r;
    mark((char)V(a));
    return simul_lock_release(gl);
}
static int m_lock_cancel_race(void *a)
{
    (void)a;
    gl = simul_lock_new();
    simul_lock_acquire(gl);
    simul_task *x = simul_spawn(lock_waiter, I('x'));
    simul_task *y = simul_spawn(lock_waiter, I('y'));
    simul_yield();
    simul_cancel(x);
    CHECK_EQ(simul_lock_release(gl), 0);   /* to y, not the cancelled x */
    CHECK_EQ(simul_join(x), -ECANCELED);
    CHECK_EQ(simul_join(y), 0);
    CHECK(strcmp(order, "y") == 0);
    CHECK(!simul_lock_locked(gl));

    /* timeout of the first waiter: the lock passes to the second */
    simul_lock_acquire(gl);
    CHECK_EQ(simul_lock_acquire_until(gl, simul_now()), -EDEADLK);
    simul_task *z = simul_spawn(lock_waiter, I('z'));
    simul_yield();
    simul_lock_release(gl);
    simul_cancel(z);                       /* after the hand-off: keeps it */
    CHECK_EQ(simul_join(z), 0);
    CHECK(strcmp(order, "yz") == 0);
    CHECK(!simul_lock_locked(gl));
    simul_lock_free(gl);
    return 0;
}
TEST(lock_for_a_cancelled_waiter_passes_to_the_next) { RUN(m_lock_cancel_race); }

static int timed_locker(void *a)
{
    (void)a;
    return simul_lock_acquire_until(gl, simul_now() + 0.02);
}
static int m_lock_timeout(void *a)
{
    (void)a;
    gl = simul_lock_new();
    simul_lock_acquire(gl);
    simul_task *t = simul_spawn(timed_locker, NULL);
    simul_task *w = simul_spawn(lock_waiter, I('w'));
    CHECK_EQ(simul_join(t), -ETIMEDOUT);
    simul_lock_release(gl);
    CHECK_EQ(simul_join(w), 0);
    CHECK(strcmp(order, "w") == 0);
    simul_lock_free(gl);
    return 0;
}
TEST(lock_acquire_times_out) { RUN(m_lock_timeout); }

/* ---- events ------------------------------------------------------------------ */

static simul_event *ge;
static int ev_waiter(void *a)
{
    int r = simul_event_wait(ge);
    if (r)
        return r;
    mark((char)V(a));
    return 0;
}
static int m_event(void *a)
{
    (void)a;
    ge = simul_event_new();
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(ev_waiter, I('a' + i));
    simul_yield();
    CHECK_EQ(olen, 0);
    CHECK_EQ(simul_event_set(ge), 0);
    CHECK(simul_event_is_set(ge));
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    CHECK(strcmp(order, "abc") == 0);
    CHECK_EQ(simul_event_wait(ge), 0);     /* set: at once */
    simul_event_clear(ge);
    CHECK_EQ(simul_event_wait_until(ge, simul_now() + 0.01), -ETIMEDOUT);
    simul_task *c = simul_spawn(ev_waiter, I('c'));
    simul_yield();
    simul_cancel(c);
    CHECK_EQ(simul_join(c), -ECANCELED);
    simul_event_free(ge);
    return 0;
}
TEST(event_wakes_all_waiters_and_clears) { RUN(m_event); }

static int m_event_free(void *a)
{
    (void)a;
    ge = simul_event_new();
    simul_task *t = simul_spawn(ev_waiter, I('a'));
    simul_yield();
    simul_event_free(ge);
    CHECK_EQ(simul_join(t), -EIDRM);
    return 0;
}
TEST(event_free_wakes_waiters_with_eidrm) { RUN(m_event_free); }

/* ---- conditions ------------------------------------------------------------------ */

static simul_cond *gc;
static int items_ready;
static int cond_consumer(void *a)
{
    simul_lock *l = simul_cond_lock(gc);
    int r = simul_lock_acquire(l);
    if (r)
        return r;
    while (items_ready == 0) {
        r = simul_cond_wait(gc);
        if (r) {
            CHECK(simul_lock_locked(l));   /* held again even on error */
            simul_lock_release(l);
            return r;
        }
    }
    items_ready--;
    mark((char)V(a));
    return simul_lock_release(l);
}
static int m_cond(void *a)
{
    (void)a;
    gc = simul_cond_new(NULL);
    simul_lock *l = simul_cond_lock(gc);
    CHECK_EQ(simul_cond_wait(gc), -EPERM);         /* lock not held */
    CHECK_EQ(simul_cond_notify(gc, 1), -EPERM);
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(cond_consumer, I('a' + i));
    simul_yield();
    simul_lock_acquire(l);
    items_ready = 1;
    CHECK_EQ(simul_cond_notify(gc, 1), 0);
    simul_lock_release(l);
    simul_yield();
    simul_yield();
    CHECK(strcmp(order, "a") == 0);
    simul_lock_acquire(l);
    items_ready = 2;
    CHECK_EQ(simul_cond_notify_all(gc), 0);
    simul_lock_release(l);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    CHECK(strcmp(order, "abc") == 0);
    simul_cond_free(gc);
    return 0;
}
TEST(condition_notify_one_then_all_in_fifo_order) { RUN(m_cond); }

static int m_cond_cancel(void *a)
{
    (void)a;
    gc = simul_cond_new(NULL);
    simul_lock *l = simul_cond_lock(gc);
    items_ready = 0;
    simul_task *x = simul_spawn(cond_consumer, I('x'));
    simul_task *y = simul_spawn(cond_consumer, I('y'));
    simul_yield();
    simul_lock_acquire(l);
    simul_cancel(x);                 /* x woken by cancel before the notify */
    items_ready = 1;
    simul_cond_notify(gc, 1);        /* must reach y, not the cancelled x */
    simul_lock_release(l);
    CHECK_EQ(simul_join(x), -ECANCELED);   /* re-acquired, then released */
    CHECK_EQ(simul_join(y), 0);
    CHECK(strcmp(order, "y") == 0);
    CHECK(!simul_lock_locked(l));

    /* wait_until times out with the lock held again */
    simul_lock_acquire(l);
    CHECK_EQ(simul_cond_wait_until(gc, simul_now() + 0.01), -ETIMEDOUT);
    CHECK(simul_lock_locked(l));
    CHECK_EQ(simul_lock_release(l), 0);
    simul_cond_free(gc);
    return 0;
}
TEST(condition_notify_skips_a_cancelled_waiter) { RUN(m_cond_cancel); }

static int flag;
static int pred(void *a) { (void)a; return flag; }
static int setter(void *a)
{
    (void)a;
    simul_lock *l = simul_cond_lock(gc);
    for (int i = 0; i < 3; i++) {
        simul_sleep(0.001);
        simul_lock_acquire(l);
        flag = i == 2;
        simul_cond_notify_all(gc);
        simul_lock_release(l);
    }
    return 0;
}
static int m_wait_for(void *a)
{
    (void)a;
    simul_lock *own = simul_lock_new();
    gc = simul_cond_new(own);
    CHECK(simul_cond_lock(gc) == own);
    simul_task *s = simul_spawn(setter, NULL);
    simul_lock_acquire(own);
    CHECK_EQ(simul_cond_wait_for(gc, pred, NULL, INFINITY), 0);
    CHECK_EQ(flag, 1);
    simul_lock_release(own);
    CHECK_EQ(simul_join(s), 0);
    simul_cond_free(gc);
    simul_lock_free(own);                 /* the caller's lock stays theirs */
    return 0;
}
TEST(condition_wait_for_predicate_with_caller_lock) { RUN(m_wait_for); }

/* ---- barriers -------------------------------------------------------------------- */

static simul_barrier *gb;
static int idx_seen[8];
static int party(void *a)
{
    int r = simul_barrier_wait(gb);
    if (r < 0)
        return r;
    idx_seen[r]++;
    mark((char)V(a));
    return 0;
}
static int m_barrier(void *a)
{
    (void)a;
    gb = simul_barrier_new(3);
    CHECK(simul_barrier_new(0) == NULL);
    simul_task *t[2];
    for (int i = 0; i < 2; i++)
        t[i] = simul_spawn(party, I('a' + i));
    simul_yield();
    CHECK_EQ(simul_barrier_n_waiting(gb), 2);
    CHECK_EQ(olen, 0);
    int r = simul_barrier_wait(gb);
    CHECK_EQ(r, 2);                    /* the last to arrive */
    for (int i = 0; i < 2; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    CHECK_EQ(idx_seen[0], 1);
    CHECK_EQ(idx_seen[1], 1);
    CHECK_EQ(simul_barrier_n_waiting(gb), 0);

    /* a second round works the same; a cancelled waiter withdraws */
    simul_task *c = simul_spawn(party, I('c'));
    simul_task *d = simul_spawn(party, I('d'));
    simul_yield();
    simul_cancel(c);
    simul_task *e = simul_spawn(party, I('e'));
    simul_yield();                     /* c withdrew: d and e wait, not released */
    CHECK_EQ(simul_join(c), -ECANCELED);
    CHECK_EQ(simul_barrier_n_waiting(gb), 2);
    CHECK(strchr(order, 'd') == NULL);
    CHECK_EQ(simul_barrier_wait(gb), 2);
    CHECK_EQ(simul_join(d), 0);
    CHECK_EQ(simul_join(e), 0);

    /* cancelled but not yet run when the last party arrives: not counted */
    c = simul_spawn(party, I('c'));
    d = simul_spawn(party, I('d'));
    simul_yield();
    simul_cancel(c);
    CHECK_EQ(simul_barrier_wait_until(gb, simul_now() + 0.02), -ETIMEDOUT);
    CHECK_EQ(simul_join(c), -ECANCELED);
    CHECK_EQ(simul_barrier_n_waiting(gb), 1);

    /* abort breaks it: the waiter and later waits get -EPIPE */
    CHECK_EQ(simul_barrier_abort(gb), 0);
    CHECK_EQ(simul_join(d), -EPIPE);
    CHECK(simul_barrier_broken(gb));
    CHECK_EQ(simul_barrier_wait(gb), -EPIPE);
    CHECK_EQ(simul_barrier_reset(gb), 0);
    CHECK(!simul_barrier_broken(gb));
    simul_barrier_free(gb);
    return 0;
}
TEST(barrier_releases_parties_with_indices_withdraws_and_aborts) { RUN(m_barrier); }

static int m_outside(void *a)
{
    (void)a;
    return 0;
}
TEST(waits_outside_a_task_return_eperm)
{
    simul_sem *s = simul_sem_new(0);
    simul_lock *l = simul_lock_new();
    simul_event *e = simul_event_new();
    simul_barrier *b = simul_barrier_new(2);
    CHECK_EQ(simul_sem_acquire(s), -EPERM);
    CHECK_EQ(simul_sem_release(s), 0);       /* never waits: fine anywhere */
    CHECK_EQ(simul_sem_try_acquire(s), 0);
    CHECK_EQ(simul_lock_acquire(l), -EPERM);
    CHECK_EQ(simul_event_wait(e), -EPERM);
    CHECK_EQ(simul_event_set(e), 0);
    CHECK_EQ(simul_barrier_wait(b), -EPERM);
    CHECK_EQ(simul_sem_acquire(NULL), -EPERM);
    simul_sem_free(s);
    simul_lock_free(l);
    simul_event_free(e);
    simul_barrier_free(b);
    RUN(m_outside);
}

static int m_nulls(void *a)
{
    (void)a;
    CHECK_EQ(simul_sem_acquire(NULL), -EINVAL);
    CHECK_EQ(simul_sem_release(NULL), -EINVAL);
    CHECK_EQ(simul_lock_acquire(NULL), -EINVAL);
    CHECK_EQ(simul_event_wait(NULL), -EINVAL);
    CHECK_EQ(simul_cond_wait(NULL), -EINVAL);
    CHECK_EQ(simul_barrier_wait(NULL), -EINVAL);
    simul_event *e = simul_event_new();
    CHECK_EQ(simul_event_wait_until(e, NAN), -EINVAL);
    simul_event_free(e);
    return 0;
}
TEST(null_objects_are_einval) { RUN(m_nulls); }

/* A lock waiter whose timeout scope expires gives up (-ECANCELED inside,
 * -ETIMEDOUT from the scope) and the lock passes to the next waiter. */
static int scoped_locker(void *a)
{
    (void)a;
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.01);
    int r = simul_lock_acquire(gl);
    int s = simul_scope_exit(&sc);
    return r == -ECANCELED && s == -ETIMEDOUT ? 0 : -1;
}
static int m_lock_scope(void *a)
{
    (void)a;
    gl = simul_lock_new();
    simul_lock_acquire(gl);
    simul_task *s = simul_spawn(scoped_locker, NULL);
    simul_task *w = simul_spawn(lock_waiter, I('w'));
    simul_sleep(0.03);
    CHECK_EQ(simul_join(s), 0);
    CHECK_EQ(simul_lock_release(gl), 0);
    CHECK_EQ(simul_join(w), 0);
    CHECK(strcmp(order, "w") == 0);
    simul_lock_free(gl);
    return 0;
}
TEST(lock_waiter_in_an_expired_scope_gives_up_and_lock_passes_on) { RUN(m_lock_scope); }
