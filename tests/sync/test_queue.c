/*
 * test_queue.c - queues: FIFO/LIFO/priority order, bounded put/get that
 * wait, _nowait errors, task_done/join, shutdown (plain and immediate),
 * deadlines and scopes, freeing with waiters, and the cancellation races:
 * an item handed to a getter that is cancelled in the same instant is not
 * lost; a getter cancelled first is skipped; a cancelled putter's item is
 * neither queued nor lost.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <simul.h>

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))

/* Runs fn as the main task and checks it returned 0. */
#define RUN(fn) CHECK_EQ(simul_run(fn, NULL), 0)

static int m_fifo(void *a)
{
    (void)a;
    simul_queue *q = simul_queue_new(0);
    CHECK(q != NULL);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(simul_queue_put(q, I(i)), 0);
    CHECK_EQ(simul_queue_qsize(q), 1000);
    CHECK_EQ(simul_queue_full(q), 0);
    for (int i = 0; i < 1000; i++) {
        void *v = NULL;
        CHECK_EQ(simul_queue_get(q, &v), 0);
        CHECK_EQ(V(v), i);
    }
    CHECK(simul_queue_empty(q));
    void *v = I(-1);
    CHECK_EQ(simul_queue_get_nowait(q, &v), -EAGAIN);
    CHECK_EQ(V(v), -1);
    simul_queue_free(q);
    return 0;
}
TEST(fifo_order_and_unbounded_growth) { RUN(m_fifo); }

static int m_lifo(void *a)
{
    (void)a;
    simul_queue *q = simul_queue_new_lifo(3);
    for (int i = 1; i <= 3; i++)
        CHECK_EQ(simul_queue_put_nowait(q, I(i)), 0);
    CHECK(simul_queue_full(q));
    CHECK_EQ(simul_queue_put_nowait(q, I(4)), -EAGAIN);
    void *v;
    for (int i = 3; i >= 1; i--) {
        CHECK_EQ(simul_queue_get_nowait(q, &v), 0);
        CHECK_EQ(V(v), i);
    }
    simul_queue_free(q);
    return 0;
}
TEST(lifo_order_and_put_nowait_full) { RUN(m_lifo); }

static int by_string(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return strcmp(a, b);
}
static int m_prio(void *a)
{
    (void)a;
    simul_queue *q = simul_queue_new_priority(0, NULL, NULL);
    int in[] = { 5, 1, 4, 1, 5, 9, 2, 6, -3, 0 };
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        CHECK_EQ(simul_queue_put(q, I(in[i])), 0);
    int prev = -100;
    void *v;
    while (simul_queue_get_nowait(q, &v) == 0) {
        CHECK(V(v) >= prev);
        prev = V(v);
    }
    CHECK_EQ(prev, 9);
    simul_queue_free(q);

    /* comparator, and FIFO among equal items */
    q = simul_queue_new_priority(8, by_string, NULL);
    static char b1[] = "b", b2[] = "b", a1[] = "a", c1[] = "c";
    simul_queue_put(q, b1);
    simul_queue_put(q, c1);
    simul_queue_put(q, b2);
    simul_queue_put(q, a1);
    char *s;
    simul_queue_get(q, (void **)&s); CHECK(s == a1);
    simul_queue_get(q, (void **)&s); CHECK(s == b1);
    simul_queue_get(q, (void **)&s); CHECK(s == b2);
    simul_queue_get(q, (void **)&s); CHECK(s == c1);
    simul_queue_free(q);
    return 0;
}
TEST(priority_order_integer_and_comparator_stable) { RUN(m_prio); }

/* A bounded queue: a producer of 1000 items through maxsize 4. */
static simul_queue *gq;
static int producer(void *a)
{
    int n = (int)(intptr_t)a;
    for (int i = 0; i < n; i++) {
        int r = simul_queue_put(gq, I(i));
        if (r)
            return r;
        CHECK(simul_queue_qsize(gq) <= 4);
    }
    return 0;
}
static int m_bounded(void *a)
{
    (void)a;
    gq = simul_queue_new(4);
    simul_task *p = simul_spawn(producer, I(1000));
    for (int i = 0; i < 1000; i++) {
        void *v;
        CHECK_EQ(simul_queue_get(gq, &v), 0);
        CHECK_EQ(V(v), i);
        if (i % 7 == 0)
            simul_yield();
    }
    CHECK_EQ(simul_join(p), 0);
    CHECK(simul_queue_empty(gq));
    simul_queue_free(gq);
    return 0;
}
TEST(bounded_queue_producer_consumer_in_order) { RUN(m_bounded); }

static int putters_order[16], nput;
static int tagged_putter(void *a)
{
    int r = simul_queue_put(gq, a);
    putters_order[nput++] = V(a);
    return r;
}
static int m_putters_fifo(void *a)
{
    (void)a;
    gq = simul_queue_new(1);
    simul_queue_put(gq, I(0));
    simul_task *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = simul_spawn(tagged_putter, I(i + 1));
    simul_yield();   /* all five wait, in order */
    for (int i = 0; i <= 5; i++) {
        void *v;
        CHECK_EQ(simul_queue_get(gq, &v), 0);
        CHECK_EQ(V(v), i);
    }
    for (int i = 0; i < 5; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(putters_order[i], i + 1);
    simul_queue_free(gq);
    return 0;
}
TEST(waiting_putters_are_served_fifo) { RUN(m_putters_fifo); }

static int got_order[16], ngot;
static int tagged_getter(void *a)
{
    void *v;
    int r = simul_queue_get(gq, &v);
    if (r)
        return r;
    got_order[ngot++] = V(a) * 100 + V(v);
    return 0;
}
static int m_getters_fifo(void *a)
{
    (void)a;
    gq = simul_queue_new(0);
    simul_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = simul_spawn(tagged_getter, I(i));
    simul_yield();
    for (int i = 0; i < 4; i++)
        simul_queue_put(gq, I(i));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(got_order[i], i * 100 + i);   /* getter i got item i */
    simul_queue_free(gq);
    return 0;
}
TEST(waiting_getters_are_served_fifo) { RUN(m_getters_fifo); }

/* The race: an item is handed to a getter, which is cancelled in the same
 * instant (before it runs). It must return the item. */
static void *race_item;
static int race_rc, race_next;
static int race_getter(void *a)
{
    (void)a;
    race_rc = simul_queue_get(gq, &race_item);
    race_next = simul_yield();    /* the cancellation surfaces here */
    return 0;
}
static int m_handoff_then_cancel(void *a)
{
    (void)a;
    gq = simul_queue_new(0);
    simul_task *g = simul_spawn(race_getter, NULL);
    simul_yield();                       /* g waits in get */
    CHECK_EQ(simul_queue_put(gq, I(77)), 0);
    CHECK_EQ(simul_cancel(g), 0);        /* same instant: g has not run */
    CHECK_EQ(simul_join(g), 0);
    CHECK_EQ(race_rc, 0);
    CHECK_EQ(V(race_item), 77);
    CHECK_EQ(race_next, -ECANCELED);
    CHECK(simul_queue_empty(gq));
    simul_queue_free(gq);
    return 0;
}
TEST(getter_cancelled_as_item_is_handed_keeps_the_item) { RUN(m_handoff_then_cancel); }

static int m_cancel_then_put(void *a)
{
    (void)a;
    gq = simul_queue_new(0);
    race_item = NULL;
    simul_task *g1 = simul_spawn(race_getter, NULL);
    simul_task *g2 = simul_spawn(tagged_getter, I(5));
    ngot = 0;
    simul_yield();                       /* both wait, g1 first */
    CHECK_EQ(simul_cancel(g1), 0);       /* g1 woken by cancel, not yet run */
    CHECK_EQ(simul_queue_put(gq, I(42)), 0);   /* must skip g1 for g2 */
    CHECK_EQ(simul_join(g1), 0);
    CHECK_EQ(race_rc, -ECANCELED);
    CHECK(race_item == NULL);
    CHECK_EQ(simul_join(g2), 0);
    CHECK_EQ(ngot, 1);
    CHECK_EQ(got_order[0], 542);
    simul_queue_free(gq);
    return 0;
}
TEST(getter_cancelled_before_put_is_skipped_item_goes_to_next) { RUN(m_cancel_then_put); }

static int m_cancel_then_put_nobody(void *a)
{
    (void)a;
    gq = simul_queue_new(0);
    simul_task *g1 = simul_spawn(race_getter, NULL);
    simul_yield();
    simul_cancel(g1);
    CHECK_EQ(simul_queue_put(gq, I(9)), 0);   /* nobody live: it is queued */
    CHECK_EQ(simul_queue_qsize(gq), 1);
    CHECK_EQ(simul_join(g1), 0);
    CHECK_EQ(race_rc, -ECANCELED);
    void *v;
    CHECK_EQ(simul_queue_get_nowait(gq, &v), 0);
    CHECK_EQ(V(v), 9);
    simul_queue_free(gq);
    return 0;
}
TEST(item_put_for_a_cancelled_getter_stays_queued) { RUN(m_cancel_then_put_nobody); }

static int put_rc;
static int one_putter(void *a)
{
    put_rc = simul_queue_put(gq, a);
    return 0;
}
static int m_putter_cancel(void *a)
{
    (void)a;
    gq = simul_queue_new(1);
    simul_queue_put(gq, I(1));
    simul_task *p = simul_spawn(one_putter, I(2));
    simul_yield();                      /* p waits: full */
    simul_cancel(p);
    void *v;
    CHECK_EQ(simul_queue_get(gq, &v), 0);   /* must not pull p's item in */
    CHECK_EQ(V(v), 1);
    CHECK_EQ(simul_join(p), 0);
    CHECK_EQ(put_rc, -ECANCELED);
    CHECK(simul_queue_empty(gq));
    CHECK_EQ(simul_queue_task_done(gq), 0);
    CHECK_EQ(simul_queue_task_done(gq), -EINVAL);  /* only one was put */

    /* and the other order: room first, then the cancel: the put succeeded */
    simul_queue_put(gq, I(3));
    p = simul_spawn(one_putter, I(4));
    simul_yield();
    CHECK_EQ(simul_queue_get(gq, &v), 0);
    CHECK_EQ(V(v), 3);
    simul_cancel(p);
    CHECK_EQ(simul_join(p), 0);
    CHECK_EQ(put_rc, 0);
    CHECK_EQ(simul_queue_get_nowait(gq, &v), 0);
    CHECK_EQ(V(v), 4);
    simul_queue_free(gq);
    return 0;
}
TEST(cancelled_putter_neither_queues_nor_loses_its_item) { RUN(m_putter_cancel); }

static int worker_done;
static int worker(void *a)
{
    (void)a;
    for (;;) {
        void *v;
        int r = simul_queue_get(gq, &v);
        if (r)
            return r == -ECANCELED ? 0 : r;
        simul_sleep(0.001);
        worker_done++;
        CHECK_EQ(simul_queue_task_done(gq), 0);
    }
}
static int m_join(void *a)
{
    (void)a;
    gq = simul_queue_new(0);
    CHECK_EQ(simul_queue_join(gq), 0);      /* nothing pending */
    simul_task *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = simul_spawn(worker, NULL);
    for (int i = 0; i < 20; i++)
        simul_queue_put(gq, I(i));
    CHECK_EQ(simul_queue_join(gq), 0);
    CHECK_EQ(worker_done, 20);
    for (int i = 0; i < 3; i++) {
        simul_cancel(w[i]);
        CHECK_EQ(simul_join(w[i]), 0);
    }
    simul_queue_free(gq);
    return 0;
}
TEST(join_waits_for_every_task_done_then_consumers_are_cancelled) { RUN(m_join); }

static int sd_rc[4];
static int sd_getter(void *a)
{
    void *v;
    sd_rc[V(a)] = simul_queue_get(gq, &v);
    return 0;
}
static int sd_putter(void *a)
{
    sd_rc[V(a)] = simul_queue_put(gq, I(100));
    return 0;
}
static int m_shutdown(void *a)
{
    (void)a;
    /* waiting getters wake with -ESHUTDOWN */
    gq = simul_queue_new(2);
    simul_task *g = simul_spawn(sd_getter, I(0));
    simul_yield();
    CHECK_EQ(simul_queue_shutdown(gq, 0), 0);
    CHECK_EQ(simul_join(g), 0);
    CHECK_EQ(sd_rc[0], -ESHUTDOWN);
    CHECK_EQ(simul_queue_put(gq, I(1)), -ESHUTDOWN);
    simul_queue_free(gq);

    /* putters too; queued items can still be got, then -ESHUTDOWN */
    gq = simul_queue_new(2);
    simul_queue_put(gq, I(1));
    simul_queue_put(gq, I(2));
    simul_task *p = simul_spawn(sd_putter, I(1));
    simul_yield();
    CHECK_EQ(simul_queue_shutdown(gq, 0), 0);
    CHECK_EQ(simul_join(p), 0);
    CHECK_EQ(sd_rc[1], -ESHUTDOWN);
    void *v;
    CHECK_EQ(simul_queue_get(gq, &v), 0);
    CHECK_EQ(V(v), 1);
    CHECK_EQ(simul_queue_get(gq, &v), 0);
    CHECK_EQ(V(v), 2);
    CHECK_EQ(simul_queue_get(gq, &v), -ESHUTDOWN);
    CHECK(simul_queue_is_shutdown(gq));
    simul_queue_free(gq);
    return 0;
}
TEST(shutdown_wakes_getters_and_putters_and_keeps_items) { RUN(m_shutdown); }

static int dropped;
static void drop(void *item, void *ctx)
{
    (void)item;
    *(int *)ctx += 1;
}
static int joiner_rc = 1;
static int joiner(void *a)
{
    (void)a;
    joiner_rc = simul_queue_join(gq);
    return 0;
}
static int m_shutdown_immediate(void *a)
{
    (void)a;
    gq = simul_queue_new(0);
    simul_queue_set_drop(gq, drop, &dropped);
    for (int i = 0; i < 5; i++)
        simul_queue_put(gq, I(i));
    void *v;
    simul_queue_get(gq, &v);              /* one got, not done */
    simul_task *j = simul_spawn(joiner, NULL);
    simul_yield();
    CHECK_EQ(joiner_rc, 1);               /* still waiting */
    CHECK_EQ(simul_queue_shutdown(gq, 1), 0);
    CHECK_EQ(dropped, 4);
    CHECK_EQ(simul_queue_qsize(gq), 0);
    simul_yield();
    CHECK_EQ(joiner_rc, 1);               /* the one got is still pending */
    CHECK_EQ(simul_queue_task_done(gq), 0);
    CHECK_EQ(simul_join(j), 0);
    CHECK_EQ(joiner_rc, 0);
    CHECK_EQ(simul_queue_get(gq, &v), -ESHUTDOWN);
    simul_queue_free(gq);
    return 0;
}
TEST(shutdown_immediate_drops_items_and_counts_them_done) { RUN(m_shutdown_immediate); }

static int m_deadlines(void *a)
{
    (void)a;
    gq = simul_queue_new(1);
    void *v = NULL;
    double t0 = simul_now();
    CHECK_EQ(simul_queue_get_until(gq, &v, simul_now() + 0.05), -ETIMEDOUT);
    double el = simul_now() - t0;
    CHECK(el >= 0.045 && el < 1.0);
    CHECK_EQ(simul_queue_get_until(gq, &v, simul_now() - 1), -ETIMEDOUT);
    CHECK_EQ(simul_queue_put_until(gq, I(1), simul_now() - 1), 0);   /* room: ok */
    CHECK_EQ(simul_queue_put_until(gq, I(2), simul_now() + 0.02), -ETIMEDOUT);
    CHECK_EQ(simul_queue_qsize(gq), 1);
    CHECK_EQ(simul_queue_get_until(gq, &v, simul_now() - 1), 0);     /* item: ok */
    CHECK_EQ(V(v), 1);
    CHECK_EQ(simul_queue_get_until(gq, &v, NAN), -EINVAL);
    CHECK_EQ(simul_queue_join_until(gq, simul_now() + 0.01), -ETIMEDOUT);

    /* a timeout scope around a plain get */
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.03);
    CHECK_EQ(simul_queue_get(gq, &v), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    simul_queue_free(gq);
    return 0;
}
TEST(deadlines_time_out_and_compose_with_scopes) { RUN(m_deadlines); }

static int m_free_with_waiters(void *a)
{
    (void)a;
    gq = simul_queue_new(0);
    simul_task *g = simul_spawn(sd_getter, I(2));
    simul_yield();
    simul_queue_free(gq);
    CHECK_EQ(simul_join(g), 0);
    CHECK_EQ(sd_rc[2], -EIDRM);
    return 0;
}
TEST(free_wakes_waiters_with_eidrm) { RUN(m_free_with_waiters); }

static int m_errors(void *a)
{
    (void)a;
    void *v;
    CHECK_EQ(simul_queue_put(NULL, v = NULL), -EINVAL);
    CHECK_EQ(simul_queue_get(NULL, &v), -EINVAL);
    CHECK_EQ(simul_queue_task_done(NULL), -EINVAL);
    CHECK(simul_queue_new(SIMUL_QUEUE_CAP + 1) == NULL);
    CHECK_EQ(errno, EINVAL);
    simul_queue *q = simul_queue_new(0);
    CHECK_EQ(simul_queue_get(q, NULL), -EINVAL);
    CHECK_EQ(simul_queue_task_done(q), -EINVAL);
    simul_queue_free(q);
    return 0;
}
TEST(bad_arguments_are_rejected)
{
    RUN(m_errors);
    simul_queue *q = simul_queue_new(2);
    void *v;
    CHECK_EQ(simul_queue_get(q, &v), -EPERM);        /* outside a task */
    CHECK_EQ(simul_queue_put(q, NULL), -EPERM);
    CHECK_EQ(simul_queue_put_nowait(q, I(3)), 0);    /* nowait needs no task */
    CHECK_EQ(simul_queue_get_nowait(q, &v), 0);
    CHECK_EQ(V(v), 3);
    simul_queue_free(q);
}

/* Many producers and consumers through a small queue, with random
 * cancellations of consumers: every item is accounted for exactly once. */
#define NITEMS 20000
static unsigned char seen[NITEMS];
static int stress_cons(void *a)
{
    (void)a;
    for (;;) {
        void *v;
        int r = simul_queue_get(gq, &v);
        if (r)
            return 0;
        seen[V(v)]++;
        simul_queue_task_done(gq);
        if (V(v) % 3 == 0)
            simul_yield();
    }
}
static int stress_prod(void *a)
{
    int base = V(a);
    for (int i = 0; i < NITEMS / 4; i++)
        if (simul_queue_put(gq, I(base + i)) != 0)
            return -1;
    return 0;
}
static int m_stress(void *a)
{
    (void)a;
    gq = simul_queue_new(8);
    simul_task *p[4], *c[16];
    for (int i = 0; i < 16; i++)
        c[i] = simul_spawn(stress_cons, NULL);
    for (int i = 0; i < 4; i++)
        p[i] = simul_spawn(stress_prod, I(i * (NITEMS / 4)));
    /* cancel consumers now and then while it runs; respawn them */
    for (int k = 0; k < 200; k++) {
        simul_yield();
        int i = k % 16;
        simul_cancel(c[i]);
        CHECK_EQ(simul_join(c[i]), 0);
        c[i] = simul_spawn(stress_cons, NULL);
    }
    for (int i = 0; i < 4; i++)
        CHECK_EQ(simul_join(p[i]), 0);
    CHECK_EQ(simul_queue_join(gq), 0);
    for (int i = 0; i < 16; i++) {
        simul_cancel(c[i]);
        simul_join(c[i]);
    }
    for (int i = 0; i < NITEMS; i++)
        if (seen[i] != 1) {
            CHECK_EQ(seen[i], 1);
            break;
        }
    simul_queue_free(gq);
    return 0;
}
TEST(stress_with_cancelled_consumers_loses_and_duplicates_nothing) { RUN(m_stress); }

static int m_big_bounded(void *a)
{
    (void)a;
    /* storage grows as needed up to maxsize, for every kind */
    simul_queue *qs[3] = { simul_queue_new(5000), simul_queue_new_lifo(5000),
                           simul_queue_new_priority(5000, NULL, NULL) };
    for (int k = 0; k < 3; k++) {
        simul_queue *q = qs[k];
        CHECK(q != NULL);
        for (int i = 0; i < 5000; i++)
            CHECK_EQ(simul_queue_put_nowait(q, I(i)), 0);
        CHECK(simul_queue_full(q));
        CHECK_EQ(simul_queue_put_nowait(q, I(1)), -EAGAIN);
        CHECK_EQ(simul_queue_put_until(q, I(1), simul_now() + 0.001), -ETIMEDOUT);
        long sum = 0;
        void *v;
        while (simul_queue_get_nowait(q, &v) == 0)
            sum += V(v);
        CHECK_EQ(sum, 5000L * 4999 / 2);
        simul_queue_free(q);
    }
    return 0;
}
TEST(large_bounded_queues_grow_lazily_up_to_maxsize) { RUN(m_big_bounded); }

/* The timeout race: a get_until whose deadline is the same instant as a
 * timer callback that puts. Equal deadlines fire in arming order, so both
 * orders can be made to happen; either way the item is in exactly one
 * place. */
static double race_deadline;
static int timed_getter(void *a)
{
    (void)a;
    race_item = NULL;
    race_rc = simul_queue_get_until(gq, &race_item, race_deadline);
    return 0;
}
static void put_cb(void *a)
{
    CHECK_EQ(simul_queue_put_nowait(gq, a), 0);
}
static int m_timeout_race(void *a)
{
    (void)a;
    gq = simul_queue_new(0);
    simul_timer *tm = simul_timer_new(put_cb, I(8));
    for (int order = 0; order < 2; order++) {
        race_deadline = simul_now() + 0.2;   /* far enough that load cannot pass it before both arm */
        simul_task *g = NULL;
        if (order == 0) {            /* the getter's timer first: it times out */
            g = simul_spawn(timed_getter, NULL);
            simul_yield();
            simul_timer_start_at(tm, race_deadline);
        } else {                     /* the put first: the getter gets it */
            simul_timer_start_at(tm, race_deadline);
            g = simul_spawn(timed_getter, NULL);
            simul_yield();
        }
        CHECK_EQ(simul_join(g), 0);
        if (order == 0) {
            CHECK_EQ(race_rc, -ETIMEDOUT);
            CHECK(race_item == NULL);
            CHECK_EQ(simul_queue_qsize(gq), 1);    /* queued, not lost */
            void *v;
            simul_queue_get_nowait(gq, &v);
            CHECK_EQ(V(v), 8);
        } else {
            CHECK_EQ(race_rc, 0);
            CHECK_EQ(V(race_item), 8);
            CHECK_EQ(simul_queue_qsize(gq), 0);
        }
    }
    simul_timer_free(tm);
    simul_queue_free(gq);
    return 0;
}
TEST(getter_timing_out_as_an_item_arrives_loses_nothing) { RUN(m_timeout_race); }


/* The iteration form keeps the library's "next item" convention: 1 with
 * an item, 0 at the end (shut down and drained), < 0 for an error. */
static int m_next(void *a)
{
    (void)a;
    simul_queue *q = simul_queue_new(4);
    simul_queue_put(q, I(1));
    simul_queue_put(q, I(2));
    CHECK_EQ(simul_queue_shutdown(q, 0), 0);
    void *v;
    int r, sum = 0;
    while ((r = simul_queue_next(q, &v)) > 0)
        sum += V(v);
    CHECK_EQ(r, 0);
    CHECK_EQ(sum, 3);
    CHECK_EQ(simul_queue_next(q, &v), 0);
    CHECK_EQ(simul_queue_next(NULL, &v), -EINVAL);
    simul_queue_free(q);
    return 0;
}
TEST(queue_next_iterates_until_shutdown)
{
    CHECK_EQ(simul_run(m_next, NULL), 0);
}
