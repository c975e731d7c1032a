/*
 * rand.c - the C twin of the walkthrough's rand.py.
 *
 * Three makerandom(idx, threshold) tasks run concurrently on one event loop.
 * Each draws random.randint(0, 10) until the number exceeds its threshold,
 * sleeping idx + 1 seconds (simul_sleep, i.e. asyncio.sleep) between draws,
 * and prints its progress in its own ANSI colour (cyan, red, magenta). main
 * gathers the three results (asyncio.gather -> simul_gather) and prints them.
 *
 * The numbers come from pyrandom.c, a re-implementation of CPython's
 * random module seeded with random.seed(444), so with the same task
 * scheduling as asyncio this prints byte for byte what rand.py prints,
 * escape sequences included.
 *
 * Usage: rand [--scale S]
 *   --scale S  multiply every sleep by S (default 1: the walkthrough's real
 *              seconds). Tests use e.g. --scale 0.01 to finish in ~0.1 s
 *              instead of ~11 s; the printed lines do not change.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyrandom.h"
#include "simul.h"

/* ANSI colors */
static const char *const c[] = {
    "\033[0m",   /* End of color */
    "\033[36m",  /* Cyan */
    "\033[91m",  /* Red */
    "\033[35m",  /* Magenta */
};

static py_random rng;         /* the module-level generator of `random` */
static double    scale = 1.0; /* sleep multiplier (--scale) */

struct makerandom_args {
    int idx;
    int threshold;
};

/* async def makerandom(idx, threshold=6) -> int; the int is the task's result. */
static int makerandom(void *arg)
{
    const struct makerandom_args *a = arg;
    int idx = a->idx;

    printf("%sInitiated makerandom(%d).\n", c[idx + 1], idx);
    int i = (int)py_random_randint(&rng, 0, 10);
    while (i <= a->threshold) {
        printf("%smakerandom(%d) == %d too low; retrying.\n", c[idx + 1], idx, i);
        int rc = simul_sleep((idx + 1) * scale);
        if (rc < 0)
            return rc;
        i = (int)py_random_randint(&rng, 0, 10);
    }
    printf("%s---> Finished: makerandom(%d) == %d%s\n", c[idx + 1], idx, i, c[0]);
    return i;
}

struct main_result {
    int r[3];
};

/* async def main(): return await asyncio.gather(*(makerandom(i, 10 - i - 1) for i in range(3))) */
static int amain(void *arg)
{
    struct main_result *res = arg;
    static struct makerandom_args args[3];
    simul_task *tasks[3];

    for (int i = 0; i < 3; i++) {
        args[i] = (struct makerandom_args){ .idx = i, .threshold = 10 - i - 1 };
        tasks[i] = simul_spawn(makerandom, &args[i]);
        if (!tasks[i]) {
            int err = -errno;
            while (i-- > 0) {           /* give back the ones already spawned */
                simul_cancel(tasks[i]);
                simul_join(tasks[i]);
            }
            return err;
        }
    }
    return simul_gather(tasks, 3, res->r, SIMUL_GATHER_FAIL_FAST);
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--scale=", 8) == 0)
            v = argv[i] + 8;
        if (v) {
            char *end;
            scale = strtod(v, &end);
            if (end != v && *end == '\0' && isfinite(scale) && scale >= 0)
                continue;
        }
        fprintf(stderr, "usage: %s [--scale S]   (S >= 0 multiplies every sleep)\n", argv[0]);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) < 0)
        return 2;

    py_random_seed(&rng, 444);   /* random.seed(444) */
    struct main_result res;
    int rc = simul_run(amain, &res);
    if (rc < 0) {
        fprintf(stderr, "rand: %s\n", simul_strerror(rc));
        return 1;
    }
    printf("\n");
    printf("r1: %d, r2: %d, r3: %d\n", res.r[0], res.r[1], res.r[2]);
    return 0;
}
