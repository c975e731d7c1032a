/*
 * switch_aarch64.S - task context switch for aarch64 (AAPCS64).
 *
 * Saves the callee-saved registers x19-x28, the frame pointer x29, the
 * link register x30, the low halves d8-d15 of v8-v15 and the FPCR. The
 * context is the stack pointer; the registers live on the suspended stack.
 */
#if defined(__aarch64__)
    .text

/* void simul__ctx_switch_asm(void **from_sp, void *to_sp) */
    .globl  simul__ctx_switch_asm
    .hidden simul__ctx_switch_asm
    .type   simul__ctx_switch_asm, %function
    .p2align 4
simul__ctx_switch_asm:
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8,  d9,  [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x9, fpcr
    str     x9, [sp, #160]
    mov     x9, sp
    str     x9, [x0]
    mov     sp, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8,  d9,  [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldr     x9, [sp, #160]
    msr     fpcr, x9
    add     sp, sp, #176
    ret
    .size   simul__ctx_switch_asm, .-simul__ctx_switch_asm

/* First code on a fresh stack: entry in x19, argument in x20. */
    .globl  simul__ctx_trampoline
    .hidden simul__ctx_trampoline
    .type   simul__ctx_trampoline, %function
    .p2align 4
simul__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov     x0, x20
    blr     x19
    brk     #0
    .cfi_endproc
    .size   simul__ctx_trampoline, .-simul__ctx_trampoline
#endif
    .section .note.GNU-stack,"",%progbits
