/*
 * switch_x86_64.S - task context switch for x86-64 (System V ABI).
 *
 * Only what the ABI says a callee must preserve is saved: rbx, rbp,
 * r12-r15, the MXCSR and the x87 control word. Everything else is already
 * saved by the caller of simul__ctx_switch_asm, as for any function call.
 * The saved registers live on the suspended stack; the context is just the
 * stack pointer.
 */
#if defined(__x86_64__)
    .text

/* void simul__ctx_switch_asm(void **from_sp, void *to_sp) */
    .globl  simul__ctx_switch_asm
    .hidden simul__ctx_switch_asm
    .type   simul__ctx_switch_asm, @function
    .p2align 4
simul__ctx_switch_asm:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    subq    $8, %rsp
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   simul__ctx_switch_asm, .-simul__ctx_switch_asm

/*
 * First code run on a fresh stack: simul__ctx_make leaves the entry
 * function in r12 and its argument in r13. The entry never returns; ud2
 * traps if it does. The undefined return address ends unwinding here, so
 * debuggers show the task's frames and nothing beyond.
 */
    .globl  simul__ctx_trampoline
    .hidden simul__ctx_trampoline
    .type   simul__ctx_trampoline, @function
    .p2align 4
simul__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %r13, %rdi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   simul__ctx_trampoline, .-simul__ctx_trampoline
#endif
    .section .note.GNU-stack,"",@progbits
