/*
 * stack.c - task stacks: mmap'd, pooled, committed lazily, guarded.
 *
 * Stacks are carved from slabs (one mmap holds several) so that a million
 * tasks need few mappings. Below each stack sits one guard page:
 *  - MADV_GUARD_INSTALL (Linux 6.13+) makes it fault without splitting the
 *    mapping, so a million guarded stacks cost no extra VMAs;
 *  - otherwise mprotect(PROT_NONE), which costs two VMAs per stack, is used
 *    while the process stays well under vm.max_map_count;
 *  - past that budget the guard page is left as untouched slack and a
 *    canary word at the bottom of the stack is checked at every switch away
 *    from the task, so an overflow is still reported, naming the task.
 * Pages are committed by the kernel on first touch (MAP_NORESERVE), and a
 * finished task's stack goes back to a per-size free list at once, so a
 * stream of short tasks keeps reusing the same hot stack.
 *
 * The descriptor of each stack lives in its top 64 bytes (that page is
 * touched by the task anyway).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef SIMUL_VALGRIND
#include <valgrind/valgrind.h>
#define VG_REGISTER(s) ((s)->vg_id = VALGRIND_STACK_REGISTER((s)->lo, (char *)(s)->lo + (s)->size))
#define VG_DEREGISTER(s) VALGRIND_STACK_DEREGISTER((s)->vg_id)
#else
#define VG_REGISTER(s) ((void)(s))
#define VG_DEREGISTER(s) ((void)(s))
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define MIN_STACK   (16u * 1024)
#define MAX_STACK   (256u * 1024 * 1024)
#define DESC_BYTES  SIMUL__STACK_DESC
#define CANARY      0x51a7c0de5eedf00dull

/* Process-wide, read and written by loops on any thread: atomics (relaxed:
 * each is a value on its own, ordering nothing else). */
_Atomic size_t simul__default_stack = 64 * 1024;

static size_t page_size(void)
{
    static _Atomic size_t ps;
    size_t v = atomic_load_explicit(&ps, memory_order_relaxed);
    if (!v) {
        v = (size_t)sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&ps, v, memory_order_relaxed);
    }
    return v;
}

size_t simul__stack_round(size_t bytes)
{
    if (bytes < MIN_STACK)
        bytes = MIN_STACK;
    if (bytes > MAX_STACK)
        return 0;
    size_t ps = page_size();
    return (bytes + ps - 1) & ~(ps - 1);
}

int simul_set_default_stack_size(size_t bytes)
{
    size_t r = simul__stack_round(bytes);
    if (!r || bytes == 0)
        return -EINVAL;
    atomic_store_explicit(&simul__default_stack, r, memory_order_relaxed);
    simul_loop *l = simul__loop();
    if (l)
        l->opts.stack_size = r;   /* "tasks spawned from now on" */
    return 0;
}

size_t simul_default_stack_size(void)
{
    simul_loop *l = simul__loop();
    return l ? l->opts.stack_size
             : atomic_load_explicit(&simul__default_stack, memory_order_relaxed);
}

/* -1 unknown, 0 unsupported, 1 supported */
static atomic_int madv_guard_ok = -1;
/* Stacks guarded with mprotect by every loop of the process: the VMA
 * budget is the process's, so loops on several threads share it. */
static _Atomic size_t guarded_total;

static size_t mprotect_budget(void)
{
    static _Atomic size_t cached;
    size_t budget = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!budget) {
        long max = 65530;
        FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
        if (f) {
            if (fscanf(f, "%ld", &max) != 1)
                max = 65530;
            fclose(f);
        }
        /* Two VMAs per guarded stack; keep three quarters of the limit
         * for the rest of the program. */
        budget = (size_t)(max / 8);
        atomic_store_explicit(&cached, budget, memory_order_relaxed);
    }
    return budget;
}

static int guard_one(simul_loop *l, char *guard, simul__stack *s)
{
    size_t ps = page_size();
    if (atomic_load_explicit(&madv_guard_ok, memory_order_relaxed) != 0) {
        if (madvise(guard, ps, MADV_GUARD_INSTALL) == 0) {
            atomic_store_explicit(&madv_guard_ok, 1, memory_order_relaxed);
            return SIMUL__GUARD_MADVISE;
        }
        atomic_store_explicit(&madv_guard_ok, 0, memory_order_relaxed);
    }
    /* Take one from the shared budget first; give it back on failure. */
    if (atomic_fetch_add_explicit(&guarded_total, 1, memory_order_relaxed) < mprotect_budget()) {
        if (mprotect(guard, ps, PROT_NONE) == 0) {
            l->guarded_mprotect++;
            return SIMUL__GUARD_MPROTECT;
        }
    }
    atomic_fetch_sub_explicit(&guarded_total, 1, memory_order_relaxed);
    *(uint64_t *)s->lo = CANARY;
    return SIMUL__GUARD_CANARY;
}

int simul__stack_canary_ok(const simul__stack *s)
{
    return *(const uint64_t *)s->lo == CANARY;
}

static simul__stackpool *pool_for(simul_loop *l, size_t size)
{
    for (int i = 0; i < SIMUL__NPOOLS; i++) {
        if (l->pools[i].size == size)
            return &l->pools[i];
        if (l->pools[i].size == 0) {
            l->pools[i].size = size;
            return &l->pools[i];
        }
    }
    return NULL; /* too many distinct sizes: unpooled */
}

static int remember_slab(simul_loop *l, void *base, size_t len)
{
    if (l->nstack_slabs + 2 > l->stack_slabs_cap) {
        size_t cap = l->stack_slabs_cap ? l->stack_slabs_cap * 2 : 64;
        void **n = realloc(l->stack_slabs, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        l->stack_slabs = n;
        l->stack_slabs_cap = cap;
    }
    l->stack_slabs[l->nstack_slabs++] = base;
    l->stack_slabs[l->nstack_slabs++] = (void *)len;
    return 0;
}

simul__stack *simul__stack_get(simul_loop *l, size_t size)
{
    simul__stackpool *p = pool_for(l, size);
    if (SIMUL__LIKELY(p && p->free)) {
        simul__stack *s = p->free;
        p->free = s->next_free;
        p->nfree--;
        return s;
    }
    size_t ps = page_size();
    size_t stride = size + ps;
    /* Slabs of about 2 MiB keep mappings few without over-reserving. */
    size_t count = p ? (2u * 1024 * 1024) / stride : 1;
    if (count < 1)
        count = 1;
    if (count > 32)
        count = 32;
    size_t len = count * stride;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (remember_slab(l, base, len)) {
        munmap(base, len);
        return NULL;
    }
    simul__stack *first = NULL;
    for (size_t i = 0; i < count; i++) {
        char *guard = base + i * stride;
        char *top = guard + stride;
        simul__stack *s = (simul__stack *)(void *)(top - DESC_BYTES);
        s->lo = guard + ps;
        s->size = size - DESC_BYTES;
        s->slab = p ? NULL : base;
        s->guard = guard_one(l, guard, s);
        VG_REGISTER(s);
        if (i == 0) {
            first = s;
        } else {
            s->next_free = p->free;
            p->free = s;
            p->nfree++;
        }
    }
    return first;
}

void simul__stack_put(simul_loop *l, simul__stack *s)
{
    if (!s)
        return;
    simul__stackpool *p = NULL;
    size_t full = s->size + DESC_BYTES;
    for (int i = 0; i < SIMUL__NPOOLS; i++)
        if (l->pools[i].size == full)
            p = &l->pools[i];
    if (!p) {
        /* Unpooled: unmap now and forget the slab record. */
        void *base = (char *)s->lo - page_size();
        for (size_t i = 0; i < l->nstack_slabs; i += 2) {
            if (l->stack_slabs[i] == base) {
                VG_DEREGISTER(s);
                munmap(base, (size_t)l->stack_slabs[i + 1]);
                l->stack_slabs[i] = l->stack_slabs[l->nstack_slabs - 2];
                l->stack_slabs[i + 1] = l->stack_slabs[l->nstack_slabs - 1];
                l->nstack_slabs -= 2;
                return;
            }
        }
        return;
    }
    s->next_free = p->free;
    p->free = s;
    p->nfree++;
}

void simul__stacks_close(simul_loop *l)
{
    /* Every task has finished, so every pooled stack is on a free list. */
    for (int i = 0; i < SIMUL__NPOOLS; i++)
        for (simul__stack *s = l->pools[i].free; s; s = s->next_free)
            VG_DEREGISTER(s);
    for (size_t i = 0; i < l->nstack_slabs; i += 2)
        munmap(l->stack_slabs[i], (size_t)l->stack_slabs[i + 1]);
    free(l->stack_slabs);
    l->stack_slabs = NULL;
    atomic_fetch_sub_explicit(&guarded_total, l->guarded_mprotect, memory_order_relaxed);
    l->guarded_mprotect = 0;
    l->nstack_slabs = l->stack_slabs_cap = 0;
    memset(l->pools, 0, sizeof l->pools);
}
