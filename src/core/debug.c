/*
 * debug.c - what helps when things go wrong: SIMUL_DEBUG=1 warnings (a task
 * that runs over 100 ms without suspending, tasks never joined), the task
 * dump (simul_dump_tasks, and SIGQUIT in debug mode, as Go prints its
 * goroutines), and the stack-overflow report from the SIGSEGV handler.
 */
#include "internal.h"

#include <dlfcn.h>
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
static simul_loop *volatile dump_loop;

static void on_sigquit(int sig)
{
    (void)sig;
    simul_loop *l = dump_loop;
    if (l) {
        l->dump_requested = 1;
        uint64_t one = 1;
        ssize_t n = write(l->wake_fd, &one, sizeof one);
        (void)n;
    }
}

void simul__debug_init(simul_loop *l)
{
    const char *d = getenv("SIMUL_DEBUG");
    l->debug = d && *d && strcmp(d, "0") != 0;
    if (!l->debug)
        return;
    dump_loop = l;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigquit;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, NULL);
}

void simul__debug_close(simul_loop *l)
{
    if (dump_loop == l) {
        signal(SIGQUIT, SIG_DFL);
        dump_loop = NULL;
    }
}

void simul__debug_slow(simul_loop *l, simul__task *t, int64_t ran_ns)
{
    (void)l;
    fprintf(stderr, "simul: task '%s' ran %.1f ms without suspending (it blocks the loop)\n",
            simul__task_name(t), (double)ran_ns / 1e6);
}

void simul__debug_unjoined(simul_loop *l, simul__task *t)
{
    if (l->debug)
        fprintf(stderr, "simul: task '%s' was never joined (result %d)\n",
                simul__task_name(t), t->result);
}

static void describe_pc(void *pc, char *buf, size_t len)
{
    Dl_info info;
    if (pc && dladdr(pc, &info) && info.dli_sname)
        snprintf(buf, len, "%s+0x%lx", info.dli_sname,
                 (unsigned long)((char *)pc - (char *)info.dli_saddr));
    else if (pc && dladdr(pc, &info) && info.dli_fname)
        snprintf(buf, len, "%s+0x%lx", info.dli_fname,
                 (unsigned long)((char *)pc - (char *)info.dli_fbase));
    else
        snprintf(buf, len, "%p", pc);
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
            char where[160];
            describe_pc(t->wait_pc, where, sizeof where);
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
    put_num(t->stack_size);
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
