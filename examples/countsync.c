/*
 * countsync.c - the C twin of the walkthrough's countsync.py.
 *
 * The synchronous contrast to countasync.c: count() prints "One", blocks the
 * whole thread for one second with nanosleep() (time.sleep) and prints "Two",
 * three times in a row. There is no event loop, so nothing overlaps: the
 * lines alternate One/Two and the program takes about 3 seconds.
 *
 * The last line names the program as Python's f"{__file__}" did in the
 * walkthrough: the basename of this source file ("countsync.c executed in
 * 3.00 seconds."), timed with CLOCK_MONOTONIC like time.perf_counter().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double perf_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* time.sleep(seconds): blocks the calling thread, resuming after signals. */
static void blocking_sleep(double seconds)
{
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* def count(): print("One"); time.sleep(1); print("Two") */
static void count(void)
{
    puts("One");
    blocking_sleep(1.0);
    puts("Two");
}

/* def main(): for _ in range(3): count() */
static void sync_main(void)
{
    for (int i = 0; i < 3; i++)
        count();
}

int main(void)
{
    const char *file = strrchr(__FILE__, '/') ? strrchr(__FILE__, '/') + 1 : __FILE__;
    double s = perf_counter();
    sync_main();
    double elapsed = perf_counter() - s;
    printf("%s executed in %0.2f seconds.\n", file, elapsed);
    return 0;
}
