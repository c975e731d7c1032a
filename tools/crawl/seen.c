/*
 * seen.c - the crawler's dedup set: 64-bit hashes of normalised URLs in an
 * open-addressing table (linear probing, at most 3/4 full, doubling up to
 * a cap), 8 bytes a slot; the URL strings themselves live only in the
 * store. Two distinct URLs share a hash with probability 2^-64 per pair:
 * for n URLs about n^2 / 2^65 in all (10^7 URLs: 2.7e-6), and a collision
 * only means one URL is taken for seen and not fetched. The same table,
 * cleared per page, is the set of a page's distinct links. The crawl's
 * set is ranked: beside each hash a 16-bit rank, the shortest distance
 * from a seed found so far (crawl.c lowers it when a shorter path turns
 * up), in an array of its own so the probe loop stays on the hashes.
 */
#include "crawl.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t fold(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t crawl_hash(const void *p, size_t n)
{
    static const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
                          k2 = 0x8ebc6af09c88c6e3ull;
    const unsigned char *s = p;
    uint64_t h = k0 ^ (n * k2);
    while (n >= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, 8);
        h = fold(a ^ k1 ^ h, b ^ k2);
        s += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n > 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + 8, n - 8);
    } else {
        memcpy(&a, s, n);
    }
    h = fold(a ^ k1 ^ h, b ^ k2 ^ n);
    return fold(h ^ k0, k1);
}

void seen_init(seen_set *s, size_t max)
{
    memset(s, 0, sizeof *s);
    s->max = max;
}

void seen_init_ranked(seen_set *s, size_t max)
{
    seen_init(s, max);
    s->ranked = 1;
}

void seen_fini(seen_set *s)
{
    free(s->slot);
    free(s->rank);
    memset(s, 0, sizeof *s);
}

void seen_clear(seen_set *s)
{
    if (s->slot && s->n)
        memset(s->slot, 0, (s->mask + 1) * sizeof *s->slot);
    s->n = 0;
}

/* 0 marks an empty slot: the one hash that is 0 is stored as 1. */
static inline uint64_t key(uint64_t h)
{
    return h ? h : 1;
}

static int grow(seen_set *s)
{
    size_t cap = s->mask ? (s->mask + 1) * 2 : 1024;
    uint64_t *slot = calloc(cap, sizeof *slot);
    uint16_t *rank = s->ranked ? malloc(cap * sizeof *rank) : NULL;
    if (!slot || (s->ranked && !rank)) {
        free(slot);
        free(rank);
        return -ENOMEM;
    }
    for (size_t i = 0; s->slot && i <= s->mask; i++) {
        uint64_t h = s->slot[i];
        if (!h)
            continue;
        size_t j = h & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = h;
        if (rank)
            rank[j] = s->rank[i];
    }
    free(s->slot);
    free(s->rank);
    s->slot = slot;
    s->rank = rank;
    s->mask = cap - 1;
    return 0;
}

/* Where h (a key) is, or the empty slot it goes into, the table grown
 * first if need be; SIZE_MAX if it could not grow. Inlined: the per-page
 * link sets call seen_add for every link. */
static inline size_t slot_of(seen_set *s, uint64_t h)
{
    if ((s->n + 1) * 4 > (s->mask + 1) * 3 || !s->slot) {
        if (grow(s) < 0)
            return SIZE_MAX;
    }
    size_t j = h & s->mask;
    while (s->slot[j] && s->slot[j] != h)
        j = (j + 1) & s->mask;
    return j;
}

int seen_add(seen_set *s, uint64_t h)
{
    assert(!s->ranked);   /* a rank is given with seen_offer */
    h = key(h);
    size_t j = slot_of(s, h);
    if (j == SIZE_MAX)
        return -ENOMEM;
    if (s->slot[j])
        return 0;
    if (s->max && s->n >= s->max)
        return -E2BIG;
    s->slot[j] = h;
    s->n++;
    return 1;
}

int seen_offer(seen_set *s, uint64_t h, unsigned rank)
{
    assert(s->ranked && rank <= 0xffff);
    h = key(h);
    size_t j = slot_of(s, h);
    if (j == SIZE_MAX)
        return -ENOMEM;
    if (s->slot[j]) {
        if (s->rank[j] <= rank)
            return 0;
        s->rank[j] = (uint16_t)rank;
        return 2;
    }
    if (s->max && s->n >= s->max)
        return -E2BIG;
    s->slot[j] = h;
    s->rank[j] = (uint16_t)rank;
    s->n++;
    return 1;
}

unsigned seen_rank(const seen_set *s, uint64_t h)
{
    assert(s->ranked);
    if (!s->slot)
        return SEEN_NONE;
    h = key(h);
    for (size_t j = h & s->mask; s->slot[j]; j = (j + 1) & s->mask)
        if (s->slot[j] == h)
            return s->rank[j];
    return SEEN_NONE;
}

int seen_has(const seen_set *s, uint64_t h)
{
    if (!s->slot)
        return 0;
    h = key(h);
    for (size_t j = h & s->mask; s->slot[j]; j = (j + 1) & s->mask)
        if (s->slot[j] == h)
            return 1;
    return 0;
}
