/*
 * debug.c - what helps when things go wrong: SIMUL_DEBUG=1 warnings (a task
 * that runs over 100 ms without suspending, tasks never joined), the task
 * dump (simul_dump_tasks, and SIGQUIT in debug mode, as Go prints its
 * goroutines, naming the user's function each task waits in), and the
 * stack-overflow report from the SIGSEGV handler.
 */
#include "internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *state_name(int s)
{
    switch (s) {
    case SIMUL_TASK_NEW:     return "new";
    case SIMUL_TASK_READY:   return "ready";
    case SIMUL_TASK_RUNNING: return "running";
    case SIMUL_TASK_WAITING: return "waiting";
    case SIMUL_TASK_DONE:    return "done";
    default:                 return "free";
    }
}

/* The loop whose dump SIGQUIT asks for (the last debug loop created). */
static _Atomic(simul_loop *) dump_loop;   /* lock-free: signal-safe */

static void on_sigquit(int sig)
{
    (void)sig;
    simul_loop *l = atomic_load(&dump_loop);
    if (l) {
        l->dump_requested = 1;
        uint64_t one = 1;
        ssize_t n = write(l->wake_fd, &one, sizeof one);
        (void)n;
    }
}

void simul__debug_init(simul_loop *l)
{
    l->debug = l->opts.debug;
    /* SIGQUIT is the process's: taken only with the loop's .signals. */
    if (!l->debug || !l->opts.signals)
        return;
    atomic_store(&dump_loop, l);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigquit;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, NULL);
}

void simul__debug_close(simul_loop *l)
{
    simul_loop *expected = l;
    if (atomic_compare_exchange_strong(&dump_loop, &expected, NULL))
        signal(SIGQUIT, SIG_DFL);
}

void simul__debug_slow(simul_loop *l, simul__task *t, int64_t ran_ns)
{
    (void)l;
    simul__log(SIMUL_LOG_WARN, "task '%s' ran %.1f ms without suspending (it blocks the loop)",
               simul__task_name(t), (double)ran_ns / 1e6);
}

void simul__debug_unjoined(simul_loop *l, simul__task *t)
{
    if (l->debug)
        simul__log(SIMUL_LOG_WARN, "task '%s' was never joined (result %d)",
                   simul__task_name(t), t->result);
}

/* ---- naming the user's function in a dump ------------------------------------ */

/*
 * A waiting task's dump line names the user's function that made the wait,
 * not a frame inside libsimul: the task's saved frame-pointer chain (the
 * build uses -fno-omit-frame-pointer) is walked from its switch-out to the
 * first frame outside the library. When libsimul is its own shared object
 * that is the first frame in another object; when it is linked statically,
 * the frame after the outermost `simul_` function. Names come from dladdr
 * (exported symbols) or, for static functions and executables linked
 * without -rdynamic, from the ELF .symtab of the object's file when it has
 * one (not stripped).
 */
#define MAX_FRAMES 64
#define MAX_SYMS   (1u << 20)   /* hard cap on a .symtab read into memory */

/* Return addresses of t's suspended frames, innermost first. */
static size_t task_frames(const simul__task *t, void **pcs, size_t max)
{
#if defined(SIMUL__CTX_ASM) && (defined(__x86_64__) || defined(__aarch64__))
    if (!t->stack || !t->ctx.sp)
        return 0;
    const uintptr_t *saved = t->ctx.sp;
#if defined(__x86_64__)
    uintptr_t fp = saved[6], pc = saved[7];        /* pushed rbp, return address */
#else
    uintptr_t fp = saved[10], pc = saved[11];      /* x29, x30 */
#endif
    uintptr_t lo = (uintptr_t)t->stack->lo, hi = lo + t->stack->size;
    size_t n = 0;
    pcs[n++] = (void *)pc;
    while (n < max && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
        const uintptr_t *frame = (const uintptr_t *)fp;
        if (!frame[1])
            break;
        pcs[n++] = (void *)frame[1];
        if (frame[0] <= fp)
            break;                                  /* the chain must go up */
        fp = frame[0];
    }
    return n;
#else
    (void)t;
    (void)pcs;
    (void)max;
    return 0;
#endif
}

/* One object's function symbols from its .symtab, for the last file asked
 * about (dumps resolve many frames of the same program). */
static struct {
    char       path[256];
    Elf64_Sym *syms;
    size_t     nsyms;
    char      *strs;
    size_t     strsz;
    uintptr_t  vaddr0;        /* lowest PT_LOAD address: dli_fbase maps to it */
    int        loaded;
} symcache;

static void symcache_load(const char *path)
{
    free(symcache.syms);
    free(symcache.strs);
    memset(&symcache, 0, sizeof symcache);
    snprintf(symcache.path, sizeof symcache.path, "%s", path);
    symcache.loaded = 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_shnum == 0 || eh.e_shnum > 4096)
        goto out;
    symcache.vaddr0 = UINTPTR_MAX;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != (ssize_t)sizeof ph)
            goto out;
        if (ph.p_type == PT_LOAD && ph.p_vaddr < symcache.vaddr0)
            symcache.vaddr0 = ph.p_vaddr & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
    }
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf64_Shdr sh, st;
        if (pread(fd, &sh, sizeof sh, (off_t)(eh.e_shoff + i * sizeof sh)) != (ssize_t)sizeof sh)
            goto out;
        if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh.e_shnum)
            continue;
        if (pread(fd, &st, sizeof st, (off_t)(eh.e_shoff + sh.sh_link * sizeof st)) != (ssize_t)sizeof st)
            goto out;
        size_t n = sh.sh_size / sizeof(Elf64_Sym);
        if (n > MAX_SYMS || st.sh_size > MAX_SYMS * 64)
            goto out;
        symcache.syms = malloc(n * sizeof(Elf64_Sym));
        symcache.strs = malloc(st.sh_size + 1);
        if (!symcache.syms || !symcache.strs ||
            pread(fd, symcache.syms, sh.sh_size, (off_t)sh.sh_offset) != (ssize_t)sh.sh_size ||
            pread(fd, symcache.strs, st.sh_size, (off_t)st.sh_offset) != (ssize_t)st.sh_size) {
            free(symcache.syms);
            free(symcache.strs);
            symcache.syms = NULL;
            symcache.strs = NULL;
            goto out;
        }
        symcache.strs[st.sh_size] = '\0';
        symcache.nsyms = n;
        symcache.strsz = st.sh_size;
        break;
    }
out:
    close(fd);
}

/* The function containing pc, its start, and its object's short name. */
struct frame_name {
    const char *name;         /* NULL if unknown */
    uintptr_t   off;          /* pc - function start (or - object base) */
    const char *object;
    const void *base;
};

static void name_frame(void *pc, struct frame_name *fn)
{
    Dl_info info;
    memset(fn, 0, sizeof *fn);
    if (!pc || !dladdr(pc, &info))
        return;
    fn->base = info.dli_fbase;
    fn->object = info.dli_fname ? info.dli_fname : "?";
    const char *slash = strrchr(fn->object, '/');
    if (slash)
        fn->object = slash + 1;
    fn->off = (uintptr_t)pc - (uintptr_t)info.dli_fbase;
    if (info.dli_sname) {
        fn->name = info.dli_sname;
        fn->off = (uintptr_t)pc - (uintptr_t)info.dli_saddr;
        return;
    }
    /* dladdr knows only dynamic symbols: try the file's .symtab. The main
     * program's dli_fname may be relative to a directory left since. */
    const char *path = info.dli_fname && access(info.dli_fname, R_OK) == 0
                     ? info.dli_fname : "/proc/self/exe";
    if (!symcache.loaded || strcmp(symcache.path, path) != 0)
        symcache_load(path);
    uintptr_t a = (uintptr_t)pc - (uintptr_t)info.dli_fbase + symcache.vaddr0;
    for (size_t i = 0; i < symcache.nsyms; i++) {
        const Elf64_Sym *s = &symcache.syms[i];
        if (ELF64_ST_TYPE(s->st_info) == STT_FUNC && s->st_value <= a &&
            a < s->st_value + s->st_size && s->st_name < symcache.strsz) {
            fn->name = symcache.strs + s->st_name;
            fn->off = a - s->st_value;
            return;
        }
    }
}

/* Writes "function+0xN (object)" for the user's frame of waiting task t. */
static void describe_wait(const simul__task *t, char *buf, size_t len)
{
    void *pcs[MAX_FRAMES];
    size_t n = task_frames(t, pcs, MAX_FRAMES);
    Dl_info self;
    const void *lib = dladdr((void *)simul_dump_tasks, &self) ? self.dli_fbase : NULL;
    struct frame_name fn, best = { 0 };
    int found = 0;
    /* Shared libsimul: the first frame in another object. */
    for (size_t i = 0; i < n && !found; i++) {
        name_frame(pcs[i], &fn);
        if (fn.base && fn.base != lib) {
            best = fn;
            found = 1;
        }
    }
    /* Static libsimul: the frame after the outermost simul_ function. */
    if (!found) {
        for (size_t i = 0; i + 1 < n; i++) {
            name_frame(pcs[i], &fn);
            if (fn.name && strncmp(fn.name, "simul_", 6) == 0) {
                name_frame(pcs[i + 1], &best);
                found = best.name != NULL;
            }
        }
    }
    if (!found)
        name_frame(t->wait_pc, &best);
    if (best.name)
        snprintf(buf, len, "%s+0x%lx (%s)", best.name, (unsigned long)best.off, best.object);
    else if (best.object)
        snprintf(buf, len, "%s+0x%lx", best.object, (unsigned long)best.off);
    else
        snprintf(buf, len, "%p", t->wait_pc);
}

int simul_dump_tasks(int fd)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    FILE *f = fdopen(dup(fd), "w");
    if (!f)
        return -errno;
    int n = 0;
    fprintf(f, "simul: tasks of loop %p (%s backend):\n", (void *)l, l->be->name);
    SIMUL__FOREACH_TASK(l, t) {
        n++;
        fprintf(f, "  #%-6u %-24s %-8s", t->id, simul__task_name(t),
                state_name(t->state));
        if (t->state == SIMUL_TASK_WAITING && t->wait_what) {
            char where[256];
            describe_wait(t, where, sizeof where);
            fprintf(f, " in %s, called from %s", t->wait_what, where);
        } else if (t->state == SIMUL_TASK_DONE) {
            fprintf(f, " result %d", t->result);
        }
        if (t->flags & SIMUL__TF_CANCEL)
            fprintf(f, " (cancelling)");
        fputc('\n', f);
    }
    fclose(f);
    return n;
}

/* ---- stack overflow ------------------------------------------------------ */

static struct sigaction prev_segv;

static void put_str(const char *s)
{
    ssize_t n = write(2, s, strlen(s));
    (void)n;
}

static void put_num(size_t v)
{
    char buf[32];
    int i = sizeof buf;
    buf[--i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    put_str(buf + i);
}

void simul__stack_overflow_report(simul__task *t)
{
    put_str("simul: stack overflow in task '");
    put_str(t->name ? t->name : "(unnamed)");
    put_str("' (id ");
    put_num((size_t)t->id);
    put_str(", stack size ");
    put_num(t->stack->size + SIMUL__STACK_DESC);   /* as asked for */
    put_str(" bytes); give it a bigger stack with simul_task_opts.stack_size or "
            "SIMUL_STACK_SIZE\n");
    if (t->stack->guard == SIMUL__GUARD_CANARY)
        abort();
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (t && t->stack) {
        char *addr = si->si_addr;
        char *lo = t->stack->lo;
        long ps = sysconf(_SC_PAGESIZE);
        if (addr >= lo - ps && addr < lo + 256) {
            simul__stack_overflow_report(t);
            signal(SIGSEGV, SIG_DFL);
            return; /* the fault repeats, now fatal, with a core dump */
        }
    }
    if (prev_segv.sa_flags & SA_SIGINFO) {
        if (prev_segv.sa_sigaction) {
            prev_segv.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (prev_segv.sa_handler != SIG_DFL && prev_segv.sa_handler != SIG_IGN) {
        prev_segv.sa_handler(sig);
        return;
    }
    signal(SIGSEGV, SIG_DFL);
}

static pthread_once_t segv_once = PTHREAD_ONCE_INIT;

static void install_segv(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &prev_segv);
}

/* Each loop thread needs an alternate signal stack: the handler cannot run
 * on the task stack that just overflowed. Kept for the thread's life. */
static __thread void *altstack;

void simul__stack_overflow_install(void)
{
    pthread_once(&segv_once, install_segv);
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE))
        return; /* the thread has one (ASan sets its own) */
    if (altstack)
        return;
    size_t size = 64 * 1024;
    altstack = malloc(size);
    if (!altstack)
        return;
    stack_t ss = { .ss_sp = altstack, .ss_size = size, .ss_flags = 0 };
    if (sigaltstack(&ss, NULL) != 0) {
        free(altstack);
        altstack = NULL;
    }
}

void simul__stack_overflow_uninstall(void)
{
    if (!altstack)
        return;
    stack_t ss = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
    sigaltstack(&ss, NULL);
    free(altstack);
    altstack = NULL;
}
