/*
 * mygen.c - the C twin of the walkthrough's async generator and async
 * comprehension example ("Other Features: async for and Async Generators +
 * Comprehensions").
 *
 *     async def mygen(u: int = 10):
 *         i = 0
 *         while i < u:
 *             yield 2 ** i
 *             i += 1
 *             await asyncio.sleep(0.1)
 *
 *     g = [i async for i in mygen()]
 *     f = [j async for j in mygen() if not (j // 3 % 5)]
 *
 * mygen is a simul_gen producer: simul_gen_yield() is `yield`, and
 * simul_gen_collect() with a filter is the async comprehension. As in
 * Python this is not concurrent: the producer runs only while the
 * comprehension waits for its next value. Prints the two lists as Python's
 * REPL shows g and f:
 *     [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
 *     [1, 2, 16, 32, 256, 512]
 *
 * Usage: mygen [--scale S]   (S multiplies the 0.1 s sleeps; default 1)
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simul.h"

static double scale = 1.0;

/* async def mygen(u=10); u travels in arg */
static int mygen(simul_gen *g, void *arg)
{
    int u = (int)(intptr_t)arg;
    for (int i = 0; i < u; i++) {
        int rc = simul_gen_yield(g, (void *)((intptr_t)1 << i));    /* yield 2 ** i */
        if (rc < 0)
            return rc;          /* closed early: nothing to clean up */
        rc = simul_sleep(0.1 * scale);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* the comprehension's condition: not (j // 3 % 5) */
static int keep(void *v, void *ctx)
{
    (void)ctx;
    intptr_t j = (intptr_t)v;
    return !(j / 3 % 5);
}

static void print_list(void **items, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++)
        printf("%s%ld", i ? ", " : "", (long)(intptr_t)items[i]);
    printf("]\n");
}

/* [x async for x in mygen() if filter(x)], stored in items and n */
static int comprehension(int (*filter)(void *, void *), void ***items, size_t *n)
{
    simul_gen *g = simul_gen_new(mygen, (void *)(intptr_t)10);
    if (!g)
        return -errno;
    int rc = simul_gen_collect(g, filter, NULL, items, n);
    simul_gen_free(g);
    return rc;
}

/* async def main(): return g, f */
static int amain(void *arg)
{
    (void)arg;
    void **g = NULL, **f = NULL;
    size_t ng = 0, nf = 0;
    int rc = comprehension(NULL, &g, &ng);
    if (rc < 0)
        goto out;
    rc = comprehension(keep, &f, &nf);
    if (rc < 0)
        goto out_g;
    print_list(g, ng);
    print_list(f, nf);
    free(f);
out_g:
    free(g);
out:
    return rc;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale = strtod(argv[++i], &end);
            if (*end == '\0' && isfinite(scale) && scale >= 0)
                continue;
        }
        fprintf(stderr, "usage: %s [--scale S]   (S >= 0 multiplies the sleeps)\n", argv[0]);
        return 2;
    }
    int rc = simul_run(amain, NULL);
    if (rc < 0) {
        fprintf(stderr, "mygen: %s\n", simul_strerror(rc));
        return 1;
    }
    return 0;
}
