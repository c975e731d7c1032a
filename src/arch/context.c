/*
 * context.c - building fresh contexts for the assembly switch, and the
 * portable ucontext fallback for CPUs without hand-written assembly.
 *
 * A fresh assembly context is a stack laid out exactly as
 * simul__ctx_switch_asm leaves a suspended one, with the "return address"
 * pointing at simul__ctx_trampoline, which calls entry(arg).
 */
#include "context.h"

#include <stdint.h>
#include <string.h>

#ifdef SIMUL__CTX_ASM

void simul__ctx_trampoline(void);

void simul__ctx_make(simul__ctx *ctx, void *stack_lo, size_t size,
                     void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* From low to high: [mxcsr|fpucw] r15 r14 r13 r12 rbx rbp ret, then
     * 16 bytes of padding so that rsp is 16-byte aligned at the
     * trampoline's call instruction, as the ABI requires. */
    uint64_t *sp = (uint64_t *)(top - 16 - 8 * 8);
    memset(sp, 0, 8 * 8);
    sp[0] = 0x037F00001F80ull;          /* x87 CW 0x037F (high), MXCSR 0x1F80 */
    sp[4] = (uint64_t)(uintptr_t)entry; /* r12 */
    sp[3] = (uint64_t)(uintptr_t)arg;   /* r13 */
    sp[7] = (uint64_t)(uintptr_t)simul__ctx_trampoline;
#elif defined(__aarch64__)
    uint64_t *sp = (uint64_t *)(top - 176);
    memset(sp, 0, 176);
    sp[0] = (uint64_t)(uintptr_t)entry;                 /* x19 */
    sp[1] = (uint64_t)(uintptr_t)arg;                   /* x20 */
    sp[11] = (uint64_t)(uintptr_t)simul__ctx_trampoline; /* x30 */
#endif
    ctx->sp = sp;
}

#else /* portable fallback */

#include <stdlib.h>

/* makecontext passes int arguments only; split the pointers in two. */
static void uc_entry(unsigned e_hi, unsigned e_lo, unsigned a_hi, unsigned a_lo)
{
    void (*entry)(void *) = (void (*)(void *))(((uintptr_t)e_hi << 16 << 16) | e_lo);
    void *arg = (void *)(((uintptr_t)a_hi << 16 << 16) | a_lo);
    entry(arg);
    abort();
}

void simul__ctx_make(simul__ctx *ctx, void *stack_lo, size_t size,
                     void (*entry)(void *), void *arg)
{
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = stack_lo;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    makecontext(&ctx->uc, (void (*)(void))uc_entry, 4,
                (unsigned)(e >> 16 >> 16), (unsigned)e,
                (unsigned)(a >> 16 >> 16), (unsigned)a);
}

void simul__ctx_switch(simul__ctx *from, simul__ctx *to)
{
    swapcontext(&from->uc, &to->uc);
}

#endif
