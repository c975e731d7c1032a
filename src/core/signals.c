/*
 * signals.c - the process-signal handling of a run (simul_loop_opts
 * .signals, on for simul_run), as a module of the loop: SIGSEGV reports a
 * task's stack overflow, SIGQUIT dumps the tasks in debug mode (debug.c),
 * SIGINT cancels the main task and SIGPIPE is ignored. A loop created
 * without .signals touches no disposition, so a host keeps its own.
 *
 * SIGINT: when the run is on the process's main thread and SIGINT has its
 * default disposition, a handler is installed, as asyncio.run does: the
 * first SIGINT writes to an eventfd the loop watches, and the loop cancels
 * the main task; the run then returns -EINTR if main ended cancelled. A
 * second SIGINT restores the default action and re-raises it (the process
 * dies, as a second Ctrl-C ends a hung asyncio shutdown). The eventfd's
 * watcher is quiet (the handler also flags the loop's wakeup, so a busy
 * loop need not poll for it, which would slow every yield) and ref'd only
 * while main runs: then a Ctrl-C can still cancel main, which wakes
 * whatever it waits on, so a main task waiting for Ctrl-C is not
 * deadlocked; once main is done it wakes nobody (unref'd).
 *
 * SIGPIPE: ignored from the first run on if its disposition is the
 * default, so a write to a closed pipe or socket returns -EPIPE instead of
 * killing the process. It is not restored (another loop or thread may
 * still be writing).
 */
#include "internal.h"

#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct sigint_state {
    int              fd;         /* eventfd, -1 when not installed */
    simul_watch     *watch;
    struct sigaction old;
} sigint_state;

/* The eventfd the SIGINT handler writes to, the loop it belongs to, and
 * how many SIGINTs came. One loop at a time owns SIGINT. */
static atomic_int g_int_fd = -1;           /* lock-free atomics: the handler */
static _Atomic(simul_loop *) g_int_loop;   /* may run on any thread */
static atomic_int g_int_hits;

static void on_sigint(int sig)
{
    int saved = errno;
    int fd = atomic_load(&g_int_fd);
    if (atomic_fetch_add(&g_int_hits, 1) > 0 || fd < 0) {
        signal(sig, SIG_DFL);
        raise(sig);
    } else {
        uint64_t one = 1;
        ssize_t n = write(fd, &one, sizeof one);
        /* Also the loop's own wakeup, as call_soon_threadsafe does: a loop
         * busy with ready tasks polls only when this flag is set. */
        simul_loop *l = atomic_load(&g_int_loop);
        if (l) {
            atomic_store(&l->ts_signalled, 1);
            n = write(l->wake_fd, &one, sizeof one);
        }
        (void)n;
    }
    errno = saved;
}

static void int_ready(simul_watch *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    simul_loop *l = arg;
    sigint_state *s = simul__module_peek(l, &simul__signals_module);
    uint64_t v;
    if (read(s->fd, &v, sizeof v) != sizeof v)
        return;
    if (!l->interrupted && l->main && l->main->state != SIMUL_TASK_DONE) {
        l->interrupted = 1;
        simul__task_cancel(l->main);
    }
}

static int signals_init(simul_loop *l, void *data)
{
    sigint_state *s = data;
    s->fd = -1;
    simul__stack_overflow_install();
    (void)l;
    return 0;
}

static void sigint_install(simul_loop *l, sigint_state *s)
{
    struct sigaction sa;
    /* Only on the main thread, only if nobody handles SIGINT already, and
     * only for one loop at a time. */
    if (s->fd >= 0 || getpid() != (pid_t)syscall(SYS_gettid) ||
        atomic_load(&g_int_fd) >= 0)
        return;
    if (sigaction(SIGINT, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL ||
        (sa.sa_flags & SA_SIGINFO))
        return;
    s->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->fd < 0)
        return;
    s->watch = simul_watch_new(s->fd, int_ready, l);
    if (!s->watch || simul_watch_set(s->watch, SIMUL_READABLE) != 0) {
        simul_watch_free(s->watch);
        s->watch = NULL;
        close(s->fd);
        s->fd = -1;
        return;
    }
    atomic_store(&g_int_hits, 0);
    atomic_store(&g_int_loop, l);
    atomic_store(&g_int_fd, s->fd);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &s->old);
}

static void signals_run_begin(simul_loop *l, void *data)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
    sigint_state *s = data;
    sigint_install(l, s);
    if (s->watch)
        simul__watch_flags(s->watch, SIMUL__FDW_QUIET);   /* can cancel main */
}

static void signals_run_end(simul_loop *l, void *data)
{
    (void)l;
    sigint_state *s = data;
    if (s->watch)
        simul__watch_flags(s->watch, SIMUL__FDW_QUIET | SIMUL__FDW_UNREF);
}

static void signals_close(simul_loop *l, void *data)
{
    sigint_state *s = data;
    if (s->fd >= 0) {
        sigaction(SIGINT, &s->old, NULL);
        atomic_store(&g_int_fd, -1);
        atomic_store(&g_int_loop, NULL);
        simul_watch_free(s->watch);
        close(s->fd);
        s->fd = -1;
    }
    simul__stack_overflow_uninstall();
    (void)l;
}

simul__module simul__signals_module = {
    .name = "signals",
    .size = sizeof(sigint_state),
    .init = signals_init,
    .run_begin = signals_run_begin,
    .run_end = signals_run_end,
    .close = signals_close,
};
