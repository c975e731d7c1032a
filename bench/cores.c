/*
 * cores.c - simul's side of the loops-across-cores benchmarks
 * (bench/run-cores.sh):
 *
 *   cores chan N CAP LOOPS BATCH   N items through a channel of capacity
 *                                  CAP from one sender task to one
 *                                  receiver task: LOOPS 2 puts them on two
 *                                  loops (two threads, simul_run_loops),
 *                                  1 in one loop. BATCH 1: simul_chan_send
 *                                  / _recv per item; BATCH > 1:
 *                                  _send_many / _recv_many of BATCH items
 *   cores queue N CAP              the same through a simul_queue in one
 *                                  loop (the single-thread reference)
 *
 * (The echo server on several loops is examples/echo-server.c with LOOPS.)
 * Each prints one JSON object: items, wall seconds, CPU seconds (all
 * threads), items per second. The receiver checks every item's order.
 */
#include <simul.h>

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static long n_items;
static size_t cap, batch;
static int nloops;
static simul_chan *ch;
static simul_queue *q;
static double t0, c0, wall, cpu;
static atomic_int bad;

static int sender(void *arg)
{
    (void)arg;
    void *buf[256];
    for (long i = 0; i < n_items;) {
        if (batch == 1) {
            if (simul_chan_send(ch, (void *)(intptr_t)(i + 1)) != 0)
                return -EIO;
            i++;
            continue;
        }
        size_t k = n_items - i < (long)batch ? (size_t)(n_items - i) : batch;
        for (size_t j = 0; j < k; j++)
            buf[j] = (void *)(intptr_t)(i + (long)j + 1);
        int r = simul_chan_send_many(ch, buf, k);
        if (r <= 0)
            return -EIO;
        i += r;
    }
    return 0;
}

static int receiver(void *arg)
{
    (void)arg;
    void *buf[256];
    long next = 1;
    while (next <= n_items) {
        int r = batch == 1 ? simul_chan_recv(ch, buf) == 0 : simul_chan_recv_many(ch, buf, batch);
        if (r <= 0)
            return -EIO;
        for (int j = 0; j < r; j++)
            if ((intptr_t)buf[j] != next++)
                atomic_store(&bad, 1);
    }
    wall = simul_now() - t0;
    cpu = cpu_now() - c0;
    return 0;
}

static int chan_two(void *arg)
{
    (void)arg;
    return simul_loop_index() == 0 ? sender(NULL) : receiver(NULL);
}

static int chan_one(void *arg)
{
    (void)arg;
    simul_task *s = simul_spawn(sender, NULL), *r = simul_spawn(receiver, NULL);
    int a = simul_join(s), b = simul_join(r);
    return a < 0 ? a : b;
}

static int put_task(void *a)
{
    (void)a;
    for (long i = 0; i < n_items; i++)
        if (simul_queue_put(q, (void *)(intptr_t)(i + 1)) != 0)
            return -EIO;
    return 0;
}

static int queue_one(void *arg)
{
    (void)arg;
    q = simul_queue_new(cap);
    t0 = simul_now();
    c0 = cpu_now();
    simul_task *s = simul_spawn(put_task, NULL);
    long next = 1;
    for (long i = 0; i < n_items; i++) {
        void *v;
        if (simul_queue_get(q, &v) != 0)
            return -EIO;
        if ((intptr_t)v != next++)
            atomic_store(&bad, 1);
    }
    wall = simul_now() - t0;
    cpu = cpu_now() - c0;
    int r = simul_join(s);
    simul_queue_free(q);
    return r;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "chan") == 0) {
        n_items = atol(argv[2]);
        cap = (size_t)atol(argv[3]);
        nloops = atoi(argv[4]);
        batch = (size_t)atol(argv[5]);
        if (batch < 1 || batch > 256 || (nloops != 1 && nloops != 2))
            return 2;
        ch = simul_chan_new(cap);
        t0 = simul_now();
        c0 = cpu_now();
        int r = nloops == 2 ? simul_run_loops(2, chan_two, NULL, NULL) : simul_run(chan_one, NULL);
        simul_chan_free(ch);
        if (r < 0 || atomic_load(&bad)) {
            fprintf(stderr, "cores: chan failed: %s%s\n", simul_strerror(r),
                    atomic_load(&bad) ? " (items out of order)" : "");
            return 1;
        }
    } else if (argc >= 4 && strcmp(argv[1], "queue") == 0) {
        n_items = atol(argv[2]);
        cap = (size_t)atol(argv[3]);
        int r = simul_run(queue_one, NULL);
        if (r < 0 || atomic_load(&bad))
            return 1;
    } else {
        fprintf(stderr, "usage: cores chan N CAP LOOPS BATCH | cores queue N CAP\n");
        return 2;
    }
    printf("{\"items\": %ld, \"wall_s\": %.6f, \"cpu_s\": %.6f, \"items_per_s\": %.0f, "
           "\"ns_per_item\": %.1f}\n", n_items, wall, cpu, n_items / wall, wall * 1e9 / n_items);
    return 0;
}
