/*
 * test_gen.c - async generators and select.
 *
 * Generators: lazy start, values in order, exhaustion, errors propagating
 * to the consumer, early stop running the producer's cleanup (its pending
 * yield returns -ECANCELED), a cancelled consumer cancelling the producer,
 * collect with a filter (the walkthrough's async comprehension), misuse.
 * select: the first ready case wins, waiting on queues / events / tasks /
 * a deadline, and no item is taken from a queue that did not win.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <simul.h>

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))
#define RUN(fn) CHECK_EQ(simul_run(fn, NULL), 0)

/* ---- generators ----------------------------------------------------------- */

static int started, cleaned, yield_rc;

/* async def mygen(u=10): yield 2**i, sleep(0.001) between */
static int powers(simul_gen *g, void *arg)
{
    int u = V(arg);
    started = 1;
    for (int i = 0; i < u; i++) {
        yield_rc = simul_gen_yield(g, I(1 << i));
        if (yield_rc) {
            cleaned = 1;          /* the finally: block */
            return yield_rc;
        }
        int r = simul_sleep(0.001);
        if (r) {
            cleaned = 1;
            return r;
        }
    }
    cleaned = 1;
    return 0;
}

static int m_iterate(void *a)
{
    (void)a;
    simul_gen *g = simul_gen_new(powers, I(5));
    CHECK(g != NULL);
    simul_yield();
    CHECK_EQ(started, 0);            /* lazy: nothing runs before next */
    void *v;
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(simul_gen_next(g, &v), 1);
        CHECK_EQ(V(v), 1 << i);
    }
    CHECK_EQ(simul_gen_next(g, &v), 0);   /* StopAsyncIteration */
    CHECK_EQ(simul_gen_next(g, &v), 0);
    CHECK_EQ(cleaned, 1);
    CHECK_EQ(simul_gen_close(g), 0);
    simul_gen_free(g);
    return 0;
}
TEST(generator_yields_values_in_order_then_ends) { RUN(m_iterate); }

static int m_early_stop(void *a)
{
    (void)a;
    simul_gen *g = simul_gen_new(powers, I(100));
    void *v;
    CHECK_EQ(simul_gen_next(g, &v), 1);
    CHECK_EQ(simul_gen_next(g, &v), 1);
    CHECK_EQ(V(v), 2);
    CHECK_EQ(cleaned, 0);
    CHECK_EQ(simul_gen_close(g), 0);       /* aclose */
    CHECK_EQ(cleaned, 1);
    CHECK_EQ(yield_rc, -ECANCELED);        /* its pending yield failed */
    CHECK_EQ(simul_gen_next(g, &v), 0);    /* closed: exhausted */
    CHECK_EQ(simul_gen_close(g), 0);       /* idempotent */
    simul_gen_free(g);

    /* free without close closes too */
    cleaned = 0;
    g = simul_gen_new(powers, I(100));
    CHECK_EQ(simul_gen_next(g, &v), 1);
    simul_gen_free(g);
    CHECK_EQ(cleaned, 1);

    /* closing a generator that never started runs nothing */
    started = 0;
    g = simul_gen_new(powers, I(3));
    CHECK_EQ(simul_gen_close(g), 0);
    CHECK_EQ(simul_gen_next(g, &v), 0);
    CHECK_EQ(started, 0);
    simul_gen_free(g);
    return 0;
}
TEST(early_stop_runs_the_producers_cleanup) { RUN(m_early_stop); }

static int failing(simul_gen *g, void *arg)
{
    (void)arg;
    simul_gen_yield(g, I(1));
    return -EPROTO;
}
static int m_error(void *a)
{
    (void)a;
    simul_gen *g = simul_gen_new(failing, NULL);
    void *v;
    CHECK_EQ(simul_gen_next(g, &v), 1);
    CHECK_EQ(simul_gen_next(g, &v), -EPROTO);
    CHECK_EQ(simul_gen_next(g, &v), 0);
    simul_gen_free(g);

    g = simul_gen_new(failing, NULL);
    void **items;
    size_t n;
    CHECK_EQ(simul_gen_collect(g, NULL, NULL, &items, &n), -EPROTO);
    CHECK(items == NULL);
    CHECK_EQ(n, 0);
    simul_gen_free(g);
    return 0;
}
TEST(producer_errors_propagate_to_the_consumer) { RUN(m_error); }

static int keep(void *v, void *ctx)
{
    (void)ctx;
    return !((V(v) / 3) % 5);        /* if not (j // 3 % 5) */
}
static int m_collect(void *a)
{
    (void)a;
    simul_gen *g = simul_gen_new(powers, I(10));
    void **items;
    size_t n;
    CHECK_EQ(simul_gen_collect(g, NULL, NULL, &items, &n), 0);
    CHECK_EQ(n, 10);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(V(items[i]), 1 << i);
    free(items);
    simul_gen_free(g);

    g = simul_gen_new(powers, I(10));
    CHECK_EQ(simul_gen_collect(g, keep, NULL, &items, &n), 0);
    int want[] = { 1, 2, 16, 32, 256, 512 };
    CHECK_EQ(n, 6);
    for (size_t i = 0; i < n && i < 6; i++)
        CHECK_EQ(V(items[i]), want[i]);
    free(items);
    simul_gen_free(g);
    return 0;
}
TEST(collect_is_the_async_comprehension_with_filter) { RUN(m_collect); }

static simul_gen *cg;
static int cons_rc;
static int consumer(void *a)
{
    (void)a;
    void *v;
    while ((cons_rc = simul_gen_next(cg, &v)) == 1)
        ;
    return 0;
}
static int slow(simul_gen *g, void *arg)
{
    (void)arg;
    for (;;) {
        int r = simul_sleep(0.01);     /* the consumer waits meanwhile */
        if (r) {
            cleaned = 1;
            return r;
        }
        if (simul_gen_yield(g, NULL)) {
            cleaned = 1;
            return -ECANCELED;
        }
    }
}
static int m_consumer_cancel(void *a)
{
    (void)a;
    cg = simul_gen_new(slow, NULL);
    simul_task *c = simul_spawn(consumer, NULL);
    simul_sleep(0.035);
    simul_cancel(c);
    CHECK_EQ(simul_join(c), 0);
    CHECK_EQ(cons_rc, -ECANCELED);
    CHECK_EQ(cleaned, 1);                 /* the producer was cancelled */
    void *v;
    CHECK_EQ(simul_gen_next(cg, &v), 0);
    simul_gen_free(cg);
    return 0;
}
TEST(cancelled_consumer_cancels_the_producer) { RUN(m_consumer_cancel); }

/* The cancel lands while the consumer holds a value (between two nexts):
 * its next call must still cancel the suspended producer, not leave it
 * parked in yield until the generator is freed. */
static int m_cancel_between_items(void *a)
{
    (void)a;
    cleaned = 0;
    cg = simul_gen_new(slow, NULL);
    void *v;
    CHECK_EQ(simul_gen_next(cg, &v), 1);
    simul_cancel(simul_current());
    CHECK_EQ(simul_gen_next(cg, &v), -ECANCELED);
    CHECK_EQ(cleaned, 1);                 /* the producer ran its cleanup */
    CHECK_EQ(simul_gen_next(cg, &v), 0);  /* and the generator is closed */
    simul_gen_free(cg);
    return 0;
}
TEST(consumer_cancelled_between_items_cancels_the_producer) { RUN(m_cancel_between_items); }

static int self_next(simul_gen *g, void *arg)
{
    (void)arg;
    void *v;
    CHECK_EQ(simul_gen_next(g, &v), -EDEADLK);
    CHECK_EQ(simul_gen_close(g), -EDEADLK);
    return 0;
}
static int m_gen_misuse(void *a)
{
    (void)a;
    void *v;
    CHECK_EQ(simul_gen_next(NULL, &v), -EINVAL);
    CHECK_EQ(simul_gen_yield(NULL, NULL), -EINVAL);
    simul_gen *g = simul_gen_new(self_next, NULL);
    CHECK_EQ(simul_gen_yield(g, NULL), -EPERM);   /* not its producer */
    CHECK_EQ(simul_gen_next(g, &v), 0);
    simul_gen_free(g);
    CHECK(simul_gen_new(NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    return 0;
}
TEST(generator_misuse_is_reported)
{
    RUN(m_gen_misuse);
    CHECK(simul_gen_new(powers, NULL) == NULL);
    CHECK_EQ(errno, EPERM);
}

/* ---- select ------------------------------------------------------------------- */

static simul_queue *q1, *q2;
static int delayed_put(void *a)
{
    simul_sleep(0.01);
    return simul_queue_put(q2, a);
}
static int m_select_ready(void *a)
{
    (void)a;
    q1 = simul_queue_new(0);
    q2 = simul_queue_new(0);
    simul_queue_put(q1, I(1));
    simul_queue_put(q2, I(2));
    simul_select_case cs[2] = {
        { .kind = SIMUL_SELECT_GET, .queue = q2 },
        { .kind = SIMUL_SELECT_GET, .queue = q1 },
    };
    CHECK_EQ(simul_select(cs, 2, INFINITY), 0);   /* first ready in order */
    CHECK_EQ(V(cs[0].item), 2);
    CHECK_EQ(cs[0].result, 0);
    CHECK_EQ(simul_queue_qsize(q1), 1);            /* the other kept its item */
    CHECK_EQ(simul_select(cs, 2, INFINITY), 1);
    CHECK_EQ(V(cs[1].item), 1);

    /* nothing ready: waits; the item arrives on q2 */
    simul_task *t = simul_spawn(delayed_put, I(22));
    CHECK_EQ(simul_select(cs, 2, simul_now() + 5), 0);
    CHECK_EQ(V(cs[0].item), 22);
    CHECK_EQ(simul_join(t), 0);
    CHECK(simul_queue_empty(q1) && simul_queue_empty(q2));

    /* deadline */
    double t0 = simul_now();
    CHECK_EQ(simul_select(cs, 2, simul_now() + 0.02), -ETIMEDOUT);
    CHECK(simul_now() - t0 >= 0.019);
    CHECK_EQ(simul_select(NULL, 0, simul_now() + 0.01), -ETIMEDOUT);
    simul_queue_free(q1);
    simul_queue_free(q2);
    return 0;
}
TEST(select_takes_the_first_ready_and_waits_with_deadline) { RUN(m_select_ready); }

/* Two queues get an item in the same instant while a select waits on both:
 * only one is taken; the other stays in its queue. */
static int both_put(void *a)
{
    (void)a;
    simul_queue_put(q1, I(10));
    simul_queue_put(q2, I(20));
    return 0;
}
static int m_select_no_loss(void *a)
{
    (void)a;
    q1 = simul_queue_new(0);
    q2 = simul_queue_new(0);
    simul_select_case cs[2] = {
        { .kind = SIMUL_SELECT_GET, .queue = q1 },
        { .kind = SIMUL_SELECT_GET, .queue = q2 },
    };
    simul_task *t = simul_spawn(both_put, NULL);
    CHECK_EQ(simul_select(cs, 2, INFINITY), 0);
    CHECK_EQ(V(cs[0].item), 10);
    CHECK_EQ(simul_join(t), 0);
    CHECK_EQ(simul_queue_qsize(q1), 0);
    CHECK_EQ(simul_queue_qsize(q2), 1);          /* not lost, not taken */
    void *v;
    CHECK_EQ(simul_queue_get_nowait(q2, &v), 0);
    CHECK_EQ(V(v), 20);
    simul_queue_free(q1);
    simul_queue_free(q2);
    return 0;
}
TEST(select_loses_no_item_from_queues_that_did_not_win) { RUN(m_select_no_loss); }

static simul_event *sev;
static int later_set(void *a)
{
    (void)a;
    simul_sleep(0.01);
    return simul_event_set(sev);
}
static int finisher(void *a)
{
    simul_sleep(0.01);
    return V(a);
}
static int m_select_kinds(void *a)
{
    (void)a;
    q1 = simul_queue_new(1);
    sev = simul_event_new();
    simul_task *f = simul_spawn(finisher, I(33));
    simul_task *s = simul_spawn(later_set, NULL);
    simul_select_case cs[3] = {
        { .kind = SIMUL_SELECT_GET, .queue = q1 },
        { .kind = SIMUL_SELECT_TASK, .task = f },
        { .kind = SIMUL_SELECT_EVENT, .event = sev },
    };
    int r = simul_select(cs, 3, INFINITY);
    CHECK(r == 1 || r == 2);                      /* same instant: either */
    if (r == 1)
        CHECK_EQ(cs[1].result, 33);
    CHECK_EQ(simul_join(f), 33);                  /* still the caller's */
    CHECK_EQ(simul_join(s), 0);

    /* PUT: room appears when a getter takes the item */
    simul_queue_put(q1, I(1));
    simul_select_case p[1] = { { .kind = SIMUL_SELECT_PUT, .queue = q1, .item = I(2) } };
    CHECK_EQ(simul_select(p, 1, simul_now() + 0.01), -ETIMEDOUT);
    CHECK_EQ(simul_queue_qsize(q1), 1);
    void *v;
    simul_queue_get(q1, &v);
    CHECK_EQ(simul_select(p, 1, INFINITY), 0);
    CHECK_EQ(simul_queue_get_nowait(q1, &v), 0);
    CHECK_EQ(V(v), 2);

    /* shutdown makes a GET case fire with -ESHUTDOWN */
    simul_queue_shutdown(q1, 0);
    CHECK_EQ(simul_select(cs, 1, INFINITY), 0);
    CHECK_EQ(cs[0].result, -ESHUTDOWN);

    /* bad cases */
    simul_select_case bad = { .kind = 99 };
    CHECK_EQ(simul_select(&bad, 1, INFINITY), -EINVAL);
    simul_select_case me = { .kind = SIMUL_SELECT_TASK, .task = simul_current() };
    CHECK_EQ(simul_select(&me, 1, INFINITY), -EDEADLK);
    simul_queue_free(q1);
    simul_event_free(sev);
    return 0;
}
TEST(select_on_events_tasks_puts_and_shutdown) { RUN(m_select_kinds); }

static int sel_rc;
static int selector(void *a)
{
    (void)a;
    simul_select_case cs[2] = {
        { .kind = SIMUL_SELECT_GET, .queue = q1 },
        { .kind = SIMUL_SELECT_GET, .queue = q2 },
    };
    sel_rc = simul_select(cs, 2, INFINITY);
    return 0;
}
static int m_select_cancel(void *a)
{
    (void)a;
    q1 = simul_queue_new(0);
    q2 = simul_queue_new(0);
    simul_task *t = simul_spawn(selector, NULL);
    simul_yield();
    simul_cancel(t);
    simul_queue_put(q1, I(5));        /* after the cancel: must stay queued */
    CHECK_EQ(simul_join(t), 0);
    CHECK_EQ(sel_rc, -ECANCELED);
    CHECK_EQ(simul_queue_qsize(q1), 1);
    simul_queue_free(q1);
    simul_queue_free(q2);
    return 0;
}
TEST(cancelled_select_takes_nothing) { RUN(m_select_cancel); }
