/*
 * context.h - the contract between the task layer and the CPU-specific
 * context switch.
 *
 * A context is a suspended flow of control. simul__ctx_make() prepares a
 * fresh one that, when first switched to, calls entry(arg) on the given
 * stack; entry must never return. simul__ctx_switch() saves the running
 * context into *from and resumes *to. On x86-64 and aarch64 the switch is
 * hand-written assembly that saves only the callee-saved registers and the
 * floating-point control words (switch_x86_64.S, switch_aarch64.S); other
 * CPUs use a portable ucontext fallback (context_ucontext.c).
 */
#ifndef SIMUL_ARCH_CONTEXT_H
#define SIMUL_ARCH_CONTEXT_H

#include <stddef.h>

#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(SIMUL_FORCE_UCONTEXT)
#define SIMUL__CTX_ASM 1
typedef struct simul__ctx {
    void *sp;   /* saved stack pointer; the registers live on that stack */
} simul__ctx;
#else
#include <ucontext.h>
typedef struct simul__ctx {
    ucontext_t uc;
} simul__ctx;
#endif

/* Prepares ctx to run entry(arg) on [stack_lo, stack_lo + size). */
void simul__ctx_make(simul__ctx *ctx, void *stack_lo, size_t size,
                     void (*entry)(void *), void *arg);

/* Saves the current context into from and resumes to. */
#ifdef SIMUL__CTX_ASM
void simul__ctx_switch_asm(void **from_sp, void *to_sp);
static inline void simul__ctx_switch(simul__ctx *from, simul__ctx *to)
{
    simul__ctx_switch_asm(&from->sp, to->sp);
}
#else
void simul__ctx_switch(simul__ctx *from, simul__ctx *to);
#endif

#endif
