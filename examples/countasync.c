/*
 * countasync.c - the C twin of the walkthrough's countasync.py.
 *
 * Three count() tasks each print "One", sleep one second with simul_sleep()
 * (asyncio.sleep) and print "Two". Gathered on one event loop, the sleeps
 * overlap: all three "One" lines come first, then the three "Two" lines, and
 * the whole program takes about 1 second (compare countsync.c: 3 seconds).
 *
 * The last line names the program as Python's f"{__file__}" did in the
 * walkthrough ("countasync.py executed in 1.01 seconds."): here it is the
 * basename of this source file, so it reads "countasync.c executed in 1.00
 * seconds.". The time is measured like time.perf_counter(), with
 * CLOCK_MONOTONIC around simul_run() (asyncio.run), and printed with two
 * decimals.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "simul.h"

static double perf_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* async def count(): print("One"); await asyncio.sleep(1); print("Two") */
static int count(void *arg)
{
    (void)arg;
    puts("One");
    int rc = simul_sleep(1.0);
    if (rc < 0)
        return rc;
    puts("Two");
    return 0;
}

/* async def main(): await asyncio.gather(count(), count(), count()) */
static int amain(void *arg)
{
    (void)arg;
    simul_task *tasks[3];
    for (size_t i = 0; i < 3; i++) {
        tasks[i] = simul_spawn(count, NULL);
        if (!tasks[i]) {
            int err = -errno;
            while (i-- > 0) {           /* give back the ones already spawned */
                simul_cancel(tasks[i]);
                simul_join(tasks[i]);
            }
            return err;
        }
    }
    return simul_gather(tasks, 3, NULL, SIMUL_GATHER_FAIL_FAST);
}

int main(void)
{
    const char *file = strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') + 1 : __FILE__;
    double s = perf_counter();
    int rc = simul_run(amain, NULL);
    double elapsed = perf_counter() - s;
    if (rc < 0) {
        fprintf(stderr, "countasync: %s\n", simul_strerror(rc));
        return 1;
    }
    printf("%s executed in %0.2f seconds.\n", file, elapsed);
    return 0;
}
