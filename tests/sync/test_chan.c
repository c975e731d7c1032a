/*
 * test_chan.c - channels between loops: FIFO order, backpressure (a full
 * channel blocks its senders; the channel never holds more than its
 * capacity), unbuffered hand-over, close while senders and receivers wait
 * (receivers drain first), cancelled and timed-out senders and receivers
 * (nothing lost, nothing duplicated; a cut-short many-item send says how
 * many went), the calls from a plain thread, and
 * exactly-once delivery of 1,000,000 items across 4 loops with mixed
 * senders and receivers - some of them giving up on short deadlines and
 * retrying - checking FIFO per sender. The TSan build runs it too.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <simul.h>

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))

static simul_chan *ch;

/* ---- one loop --------------------------------------------------------------------- */

static int fifo_main(void *arg)
{
    (void)arg;
    ch = simul_chan_new(4);
    CHECK(ch != NULL);
    CHECK_EQ(simul_chan_cap(ch), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(simul_chan_try_send(ch, I(i)), 0);
    CHECK_EQ(simul_chan_try_send(ch, I(9)), -EAGAIN);       /* full */
    CHECK_EQ(simul_chan_len(ch), 4);
    void *v;
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(simul_chan_recv(ch, &v), 0);
        CHECK_EQ(V(v), i);
    }
    CHECK_EQ(simul_chan_try_recv(ch, &v), -EAGAIN);         /* empty */
    void *many[6] = { I(10), I(11), I(12), I(13), I(14), I(15) };
    /* 4 fit; a deadline already past ends the wait for the rest */
    CHECK_EQ(simul_chan_send_many_until(ch, many, 6, simul_now() - 1), 4);
    void *got[8];
    CHECK_EQ(simul_chan_recv_many(ch, got, 8), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(V(got[i]), 10 + i);
    CHECK_EQ(simul_chan_recv_until(ch, &v, simul_now() + 0.005), -ETIMEDOUT);
    CHECK_EQ(simul_chan_send_many(ch, many, 0), 0);
    CHECK_EQ(simul_chan_send(NULL, I(1)), -EINVAL);
    CHECK_EQ(simul_chan_recv_many(ch, NULL, 1), -EINVAL);
    CHECK_EQ(simul_chan_recv_until(ch, &v, NAN), -EINVAL);
    simul_chan_free(ch);
    return 0;
}

TEST(fifo_try_calls_and_many_in_one_loop)
{
    CHECK_EQ(simul_run(fifo_main, NULL), 0);
    errno = 0;
    CHECK(simul_chan_new(SIMUL_CHAN_CAP + 1) == NULL && errno == EINVAL);
    simul_chan *c = simul_chan_new(1);          /* outside any loop */
    CHECK_EQ(simul_chan_send(c, I(1)), -EPERM);
    CHECK_EQ(simul_chan_try_send(c, I(1)), 0);
    void *v;
    CHECK_EQ(simul_chan_try_recv(c, &v), 0);
    CHECK_EQ(V(v), 1);
    simul_chan_free(c);
}

static atomic_int blocked_sends;

static int slow_sender(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        if (simul_chan_len(ch) > simul_chan_cap(ch))
            return -EOVERFLOW;
        if (simul_chan_try_send(ch, I(i)) == -EAGAIN) {
            atomic_fetch_add(&blocked_sends, 1);
            int r = simul_chan_send(ch, I(i));
            if (r)
                return r;
        }
    }
    return 0;
}

static int backpressure_main(void *arg)
{
    (void)arg;
    ch = simul_chan_new(8);
    simul_task *t = simul_spawn(slow_sender, NULL);
    for (int i = 0; i < 100; i++) {
        simul_sleep(0.0002);
        CHECK(simul_chan_len(ch) <= 8);
        void *v;
        CHECK_EQ(simul_chan_recv(ch, &v), 0);
        CHECK_EQ(V(v), i);
    }
    CHECK_EQ(simul_join(t), 0);
    CHECK(atomic_load(&blocked_sends) > 50);    /* it had to wait */
    simul_chan_free(ch);
    return 0;
}

TEST(a_full_channel_blocks_its_sender_and_never_grows)
{
    CHECK_EQ(simul_run(backpressure_main, NULL), 0);
}

static int unbuffered_recv(void *arg)
{
    void *v = NULL;
    int r = simul_chan_recv(ch, &v);
    *(int *)arg = V(v);
    return r;
}

static int unbuffered_main(void *arg)
{
    (void)arg;
    ch = simul_chan_new(0);
    CHECK_EQ(simul_chan_try_send(ch, I(1)), -EAGAIN);      /* nobody receives */
    CHECK_EQ(simul_chan_send_until(ch, I(1), simul_now() + 0.002), -ETIMEDOUT);
    int got = 0;
    simul_task *t = simul_spawn(unbuffered_recv, &got);
    simul_yield();                                          /* it waits now */
    CHECK_EQ(simul_chan_send(ch, I(5)), 0);                 /* handed over */
    CHECK_EQ(simul_join(t), 0);
    CHECK_EQ(got, 5);
    CHECK_EQ(simul_chan_len(ch), 0);
    simul_chan_free(ch);
    return 0;
}

TEST(an_unbuffered_channel_hands_items_over)
{
    CHECK_EQ(simul_run(unbuffered_main, NULL), 0);
}

/* ---- close ---------------------------------------------------------------------------- */

static int blocked_recv(void *arg)
{
    (void)arg;
    void *v;
    return simul_chan_recv(ch, &v);
}

static int blocked_send(void *arg)
{
    (void)arg;
    return simul_chan_send(ch, I(99));
}

static int close_main(void *arg)
{
    (void)arg;
    ch = simul_chan_new(2);
    simul_task *r1 = simul_spawn(blocked_recv, NULL);
    simul_task *r2 = simul_spawn(blocked_recv, NULL);
    simul_sleep(0.002);
    CHECK_EQ(simul_chan_close(ch), 0);
    CHECK_EQ(simul_join(r1), -ESHUTDOWN);
    CHECK_EQ(simul_join(r2), -ESHUTDOWN);
    CHECK_EQ(simul_chan_closed(ch), 1);
    simul_chan_free(ch);

    /* senders waiting on a full channel; the items in it are drained */
    ch = simul_chan_new(2);
    CHECK_EQ(simul_chan_send(ch, I(1)), 0);
    CHECK_EQ(simul_chan_send(ch, I(2)), 0);
    simul_task *s1 = simul_spawn(blocked_send, NULL);
    simul_sleep(0.002);
    CHECK_EQ(simul_chan_close(ch), 0);
    CHECK_EQ(simul_join(s1), -ESHUTDOWN);                   /* not sent */
    CHECK_EQ(simul_chan_send(ch, I(3)), -ESHUTDOWN);
    CHECK_EQ(simul_chan_try_send(ch, I(3)), -ESHUTDOWN);
    void *v;
    CHECK_EQ(simul_chan_next(ch, &v), 1);
    CHECK_EQ(V(v), 1);
    CHECK_EQ(simul_chan_recv(ch, &v), 0);
    CHECK_EQ(V(v), 2);
    CHECK_EQ(simul_chan_next(ch, &v), 0);                   /* the end */
    CHECK_EQ(simul_chan_recv(ch, &v), -ESHUTDOWN);
    CHECK_EQ(simul_chan_try_recv(ch, &v), -ESHUTDOWN);
    CHECK_EQ(simul_chan_close(ch), 0);                      /* twice */
    simul_chan_free(ch);
    return 0;
}

TEST(close_wakes_waiters_and_receivers_drain_first)
{
    CHECK_EQ(simul_run(close_main, NULL), 0);
}

/* ---- cancellation ------------------------------------------------------------------------ */

static int cancel_main(void *arg)
{
    (void)arg;
    ch = simul_chan_new(1);
    CHECK_EQ(simul_chan_send(ch, I(1)), 0);
    /* a cancelled blocked sender: its item is not in the channel */
    simul_task *s = simul_spawn(blocked_send, NULL);
    simul_sleep(0.002);
    CHECK_EQ(simul_cancel(s), 0);
    CHECK_EQ(simul_join(s), -ECANCELED);
    void *v;
    CHECK_EQ(simul_chan_recv(ch, &v), 0);
    CHECK_EQ(V(v), 1);
    CHECK_EQ(simul_chan_try_recv(ch, &v), -EAGAIN);         /* 99 never went */
    /* a cancelled blocked receiver takes nothing */
    simul_task *r = simul_spawn(blocked_recv, NULL);
    simul_sleep(0.002);
    CHECK_EQ(simul_cancel(r), 0);
    CHECK_EQ(simul_join(r), -ECANCELED);
    CHECK_EQ(simul_chan_send(ch, I(7)), 0);
    CHECK_EQ(simul_chan_recv(ch, &v), 0);
    CHECK_EQ(V(v), 7);
    /* handed over and cancelled in the same instant: the item wins */
    r = simul_spawn(blocked_recv, NULL);
    simul_sleep(0.002);
    CHECK_EQ(simul_chan_send(ch, I(8)), 0);                 /* to r, directly */
    CHECK_EQ(simul_cancel(r), 0);
    CHECK_EQ(simul_join(r), 0);
    CHECK_EQ(simul_chan_len(ch), 0);
    /* a cancelled caller fails at once */
    simul_cancel(simul_current());
    CHECK_EQ(simul_chan_send(ch, I(1)), -ECANCELED);
    CHECK_EQ(simul_chan_len(ch), 0);
    simul_chan_free(ch);
    return 0;
}

TEST(cancelled_senders_and_receivers_lose_nothing)
{
    CHECK_EQ(simul_run(cancel_main, NULL), 0);
}

/* ---- across loops --------------------------------------------------------------------------- */

#define LOOPS      4
#define SENDERS    2        /* per loop */
#define RECEIVERS  2        /* per loop */
#define TOTAL      1000000
#define PER_SENDER (TOTAL / (LOOPS * SENDERS))

static struct {
    simul_chan  *ch;
    atomic_uchar *seen;      /* TOTAL flags */
    atomic_int   dup, order, overflow, got, senders_left;
    atomic_int   timeouts;
} x;

/* item = sender * PER_SENDER + seq + 1 (never NULL) */
static int x_sender(void *arg)
{
    int id = V(arg);
    void *batch[8];
    int seq = 0;
    unsigned rnd = (unsigned)id * 2654435761u + 1;
    while (seq < PER_SENDER) {
        rnd ^= rnd << 13, rnd ^= rnd >> 17, rnd ^= rnd << 5;
        int r;
        if (rnd % 3 == 0) {
            int n = PER_SENDER - seq < 8 ? PER_SENDER - seq : 8;
            for (int i = 0; i < n; i++)
                batch[i] = I(id * PER_SENDER + seq + i + 1);
            r = simul_chan_send_many(x.ch, batch, (size_t)n);
            if (r > 0)
                seq += r;
        } else {
            /* a short deadline: on -ETIMEDOUT the item is still ours */
            double d = rnd % 3 == 1 ? simul_now() + 0.00002 : INFINITY;
            r = simul_chan_send_until(x.ch, I(id * PER_SENDER + seq + 1), d);
            if (r == 0)
                seq++;
            else if (r == -ETIMEDOUT)
                atomic_fetch_add(&x.timeouts, 1);
        }
        if (r < 0 && r != -ETIMEDOUT)
            return r;
    }
    if (atomic_fetch_sub(&x.senders_left, 1) == 1)
        simul_chan_close(x.ch);
    return 0;
}

static int x_receiver(void *arg)
{
    (void)arg;
    int *last = calloc(LOOPS * SENDERS, sizeof *last);   /* FIFO per sender */
    void *buf[16];
    unsigned rnd = (unsigned)(uintptr_t)&buf | 1;
    for (;;) {
        rnd ^= rnd << 13, rnd ^= rnd >> 17, rnd ^= rnd << 5;
        int n;
        if (rnd & 1) {
            n = simul_chan_recv_many_until(x.ch, buf, 1 + rnd % 16, simul_now() + 0.00002);
            if (n == -ETIMEDOUT) {
                atomic_fetch_add(&x.timeouts, 1);
                continue;
            }
        } else {
            n = simul_chan_next(x.ch, buf);
        }
        if (n == 0)
            break;
        if (n < 0) {
            free(last);
            return n;
        }
        if (simul_chan_len(x.ch) > simul_chan_cap(x.ch))
            atomic_store(&x.overflow, 1);
        for (int i = 0; i < n; i++) {
            int v = V(buf[i]) - 1;
            if (v < 0 || v >= TOTAL) {
                atomic_store(&x.dup, 1);
                continue;
            }
            int s = v / PER_SENDER, seq = v % PER_SENDER + 1;
            if (seq <= last[s])
                atomic_store(&x.order, 1);
            last[s] = seq;
            if (atomic_exchange(&x.seen[v], 1))
                atomic_store(&x.dup, 1);
        }
        atomic_fetch_add(&x.got, n);
    }
    free(last);
    return 0;
}

static int x_main(void *arg)
{
    (void)arg;
    int li = simul_loop_index();
    simul_task *t[SENDERS + RECEIVERS];
    for (int i = 0; i < SENDERS; i++)
        t[i] = simul_spawn(x_sender, I(li * SENDERS + i));
    for (int i = 0; i < RECEIVERS; i++)
        t[SENDERS + i] = simul_spawn(x_receiver, NULL);
    return simul_gather(t, SENDERS + RECEIVERS, NULL, SIMUL_GATHER_FAIL_FAST);
}

TEST_T(a_million_items_across_four_loops_exactly_once_in_order_per_sender, 300)
{
    memset(&x, 0, sizeof x);
    x.ch = simul_chan_new(64);
    x.seen = calloc(TOTAL, 1);
    atomic_store(&x.senders_left, LOOPS * SENDERS);
    CHECK_EQ(simul_run_loops(LOOPS, x_main, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&x.got), TOTAL);
    CHECK_EQ(atomic_load(&x.dup), 0);
    CHECK_EQ(atomic_load(&x.order), 0);
    CHECK_EQ(atomic_load(&x.overflow), 0);
    for (int i = 0; i < TOTAL; i++)
        if (!x.seen[i]) {
            CHECK_EQ(i, -1);         /* lost */
            break;
        }
    CHECK(atomic_load(&x.timeouts) > 0);   /* the give-up paths ran */
    simul_chan_free(x.ch);
    free(x.seen);
}

/* Two loops: one blocked on a full channel, the other on an empty one,
 * then a close from a plain thread wakes both sides' waiters. */
static struct {
    simul_chan *full, *empty;
    atomic_int  waiting;
} cl;

static int cl_main(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cl.waiting, 1);
    void *v;
    if (simul_loop_index() == 0)
        return simul_chan_send(cl.full, I(1)) == -ESHUTDOWN ? 0 : -EINVAL;
    return simul_chan_recv(cl.empty, &v) == -ESHUTDOWN ? 0 : -EINVAL;
}

static void *cl_closer(void *p)
{
    (void)p;
    while (atomic_load(&cl.waiting) < 2)
        ;
    struct timespec ts = { 0, 5000000 };
    nanosleep(&ts, NULL);
    simul_chan_close(cl.full);
    simul_chan_close(cl.empty);
    return NULL;
}

TEST(a_close_from_a_plain_thread_wakes_waiters_on_two_loops)
{
    cl.full = simul_chan_new(1);
    cl.empty = simul_chan_new(1);
    CHECK_EQ(simul_chan_try_send(cl.full, I(1)), 0);
    atomic_store(&cl.waiting, 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, cl_closer, NULL), 0);
    CHECK_EQ(simul_run_loops(2, cl_main, NULL, NULL), 0);
    pthread_join(th, NULL);
    simul_chan_free(cl.full);
    simul_chan_free(cl.empty);
}

/* A many-item send cut short by a cancel returns how many went: those are
 * in the channel, in order, the rest are still the caller's. */
static void *many_items[5] = { I(1), I(2), I(3), I(4), I(5) };
static int many_sender(void *arg)
{
    (void)arg;
    return simul_chan_send_many(ch, many_items, 5);
}

static int partial_main(void *arg)
{
    (void)arg;
    ch = simul_chan_new(2);
    simul_task *s = simul_spawn(many_sender, NULL);
    simul_sleep(0.002);                          /* 2 in the ring, 3 waiting */
    CHECK_EQ(simul_chan_len(ch), 2);
    void *v;
    CHECK_EQ(simul_chan_recv(ch, &v), 0);        /* room: item 3 moves in */
    CHECK_EQ(V(v), 1);
    CHECK_EQ(simul_cancel(s), 0);
    CHECK_EQ(simul_join(s), 3);                  /* 1, 2, 3 went; 4, 5 did not */
    CHECK_EQ(simul_chan_recv(ch, &v), 0);
    CHECK_EQ(V(v), 2);
    CHECK_EQ(simul_chan_recv(ch, &v), 0);
    CHECK_EQ(V(v), 3);
    CHECK_EQ(simul_chan_try_recv(ch, &v), -EAGAIN);
    simul_chan_free(ch);
    return 0;
}

TEST(a_cancelled_many_item_send_returns_how_many_went)
{
    CHECK_EQ(simul_run(partial_main, NULL), 0);
}
