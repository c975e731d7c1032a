/*
 * pyrandom.h - a small re-implementation of the integer side of CPython's
 * `random` module, so that the examples that mirror the asyncio walkthrough
 * (rand.c, chained.c) draw the same numbers as rand.py and chained.py do
 * after random.seed(444), and therefore print exactly the same lines.
 *
 * It is NOT a general-purpose or cryptographic generator; it only follows
 * CPython's documented algorithm (see pyrandom.c for the details):
 *   - MT19937 (Matsumoto & Nishimura) as the core generator;
 *   - random.seed(int): init_by_array() keyed with the 32-bit chunks of
 *     abs(seed), least significant chunk first;
 *   - getrandbits(k), random(), and randint()/randrange() built on
 *     _randbelow(n): draw k = n.bit_length() bits, reject values >= n.
 */
#ifndef PYRANDOM_H
#define PYRANDOM_H

#include <stdint.h>

#define PY_MT_N 624

typedef struct py_random {
    uint32_t state[PY_MT_N];
    int      index;             /* next word of state to temper and return */
} py_random;

/* random.seed(seed) for an int seed (negative seeds use abs(), as CPython). */
void     py_random_seed(py_random *r, int64_t seed);

/* The raw 32-bit output of MT19937 (CPython's genrand_uint32). */
uint32_t py_random_u32(py_random *r);

/* random.getrandbits(k) for 0 <= k <= 64 (other k return 0). */
uint64_t py_random_getrandbits(py_random *r, int k);

/* random._randbelow(n): uniform in [0, n); n must be > 0 (0 returns 0). */
uint64_t py_random_randbelow(py_random *r, uint64_t n);

/* random.randrange(start, stop) for start < stop (else returns start). */
int64_t  py_random_randrange(py_random *r, int64_t start, int64_t stop);

/* random.randint(a, b) == randrange(a, b + 1), for a <= b. */
int64_t  py_random_randint(py_random *r, int64_t a, int64_t b);

/* random.random(): a double in [0, 1) with 53 random bits. */
double   py_random_random(py_random *r);

#endif /* PYRANDOM_H */
