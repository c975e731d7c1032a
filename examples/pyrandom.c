/*
 * pyrandom.c - CPython's `random` integer algorithm in C, for the examples.
 *
 * Written from the published description of MT19937 (Matsumoto & Nishimura,
 * 1998, with the 2002 init_genrand/init_by_array seeding) and from the
 * documented behaviour of CPython's random module, so that rand.c and
 * chained.c print the same numbers as the walkthrough's rand.py and
 * chained.py with random.seed(444). Checked against Debian's python3 by
 * comparing long sequences of randint()/getrandbits()/random() outputs.
 *
 * What CPython does, and what is mirrored here:
 *   seed(int a)     key = 32-bit chunks of abs(a), low chunk first (a single
 *                   0 word for a == 0); init_by_array(key).
 *   getrandbits(k)  k <= 32: next_u32() >> (32 - k); wider: 32-bit words
 *                   filled from the least significant one, the last one
 *                   shifted down to the bits still needed.
 *   _randbelow(n)   k = n.bit_length(); r = getrandbits(k) until r < n.
 *   randrange(a,b)  a + _randbelow(b - a);  randint(a, b) = randrange(a, b+1).
 *   random()        (next_u32() >> 5, next_u32() >> 6) combined into 53 bits.
 */
#include "pyrandom.h"

#define MT_M          397
#define MT_MATRIX_A   0x9908b0dfu
#define MT_UPPER_MASK 0x80000000u
#define MT_LOWER_MASK 0x7fffffffu

/* Fills the state from one 32-bit seed (MT19937's init_genrand). */
static void init_genrand(py_random *r, uint32_t s)
{
    uint32_t *mt = r->state;
    mt[0] = s;
    for (int i = 1; i < PY_MT_N; i++)
        mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint32_t)i;
    r->index = PY_MT_N;
}

/* Mixes an array of 32-bit words into the state (MT19937's init_by_array). */
static void init_by_array(py_random *r, const uint32_t *key, int len)
{
    uint32_t *mt = r->state;
    int i = 1, j = 0;

    init_genrand(r, 19650218u);
    for (int k = PY_MT_N > len ? PY_MT_N : len; k > 0; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u))
                + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= PY_MT_N) {
            mt[0] = mt[PY_MT_N - 1];
            i = 1;
        }
        if (j >= len)
            j = 0;
    }
    for (int k = PY_MT_N - 1; k > 0; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u))
                - (uint32_t)i;
        i++;
        if (i >= PY_MT_N) {
            mt[0] = mt[PY_MT_N - 1];
            i = 1;
        }
    }
    mt[0] = 0x80000000u;   /* guarantees a non-zero initial state */
    r->index = PY_MT_N;
}

void py_random_seed(py_random *r, int64_t seed)
{
    /* abs() without overflow for INT64_MIN */
    uint64_t n = seed < 0 ? (uint64_t)0 - (uint64_t)seed : (uint64_t)seed;
    uint32_t key[2] = { (uint32_t)n, (uint32_t)(n >> 32) };
    init_by_array(r, key, key[1] ? 2 : 1);
}

/* Regenerates all PY_MT_N words of state (the MT19937 "twist"). */
static void twist(py_random *r)
{
    uint32_t *mt = r->state;
    for (int i = 0; i < PY_MT_N; i++) {
        uint32_t y = (mt[i] & MT_UPPER_MASK) | (mt[(i + 1) % PY_MT_N] & MT_LOWER_MASK);
        mt[i] = mt[(i + MT_M) % PY_MT_N] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
    r->index = 0;
}

uint32_t py_random_u32(py_random *r)
{
    if (r->index >= PY_MT_N)
        twist(r);
    uint32_t y = r->state[r->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t py_random_getrandbits(py_random *r, int k)
{
    if (k <= 0 || k > 64)
        return 0;
    if (k <= 32)
        return py_random_u32(r) >> (32 - k);
    uint64_t lo = py_random_u32(r);                      /* least significant word first */
    uint64_t hi = py_random_u32(r) >> (64 - k);          /* then the k - 32 high bits */
    return lo | (hi << 32);
}

uint64_t py_random_randbelow(py_random *r, uint64_t n)
{
    if (n == 0)
        return 0;
    int k = 0;                                           /* n.bit_length() */
    for (uint64_t v = n; v; v >>= 1)
        k++;
    uint64_t x = py_random_getrandbits(r, k);
    while (x >= n)
        x = py_random_getrandbits(r, k);
    return x;
}

int64_t py_random_randrange(py_random *r, int64_t start, int64_t stop)
{
    if (stop <= start)
        return start;
    uint64_t width = (uint64_t)stop - (uint64_t)start;
    return (int64_t)((uint64_t)start + py_random_randbelow(r, width));
}

int64_t py_random_randint(py_random *r, int64_t a, int64_t b)
{
    if (b < a)
        return a;
    uint64_t width = (uint64_t)b - (uint64_t)a + 1;
    if (width == 0)     /* the full 2^64 range: CPython would draw 65 bits */
        return (int64_t)py_random_getrandbits(r, 64);   /* and differ here */
    return (int64_t)((uint64_t)a + py_random_randbelow(r, width));
}

double py_random_random(py_random *r)
{
    uint32_t a = py_random_u32(r) >> 5, b = py_random_u32(r) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}
