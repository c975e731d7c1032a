/*
 * signal.c - signals: tasks waiting for signals (signalfd), SIGINT during
 * simul_run (asyncio.run's KeyboardInterrupt handling) and SIGPIPE.
 *
 * simul_signal_open blocks its signals in the loop thread (pool workers
 * block every signal from birth) and reads them from a signalfd watched by
 * the loop. A per-loop count per signal remembers who blocked what, so the
 * last close unblocks only signals that were not blocked before.
 *
 * SIGINT: when simul_run runs on the process's main thread and SIGINT has
 * its default disposition, a handler is installed for the run, as asyncio
 * does: the first SIGINT writes to an eventfd the loop watches, and the
 * loop cancels the main task; simul_run then returns -EINTR if main ended
 * cancelled. A second SIGINT restores the default action and re-raises it
 * (the process dies, as a second Ctrl-C ends a hung asyncio shutdown).
 * The eventfd's watcher is not counted as something that can wake a task,
 * so the deadlock detector still works.
 *
 * SIGPIPE: ignored from the first simul_run on if its disposition is the
 * default, so a write to a closed pipe or socket returns -EPIPE instead of
 * killing the process. It is not restored (another loop or thread may
 * still be writing).
 */
#include "sys_internal.h"
#include "../sync/sync_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CALLER() __builtin_return_address(0)

typedef struct sigstate {
    int               count[NSIG];      /* open simul_signals per signal */
    sigset_t          blocked_by_us;    /* to unblock when counts reach 0 */
    /* SIGINT handling of simul_run */
    int               int_fd;           /* eventfd, -1 when not installed */
    simul_watch      *int_watch;
    simul__task      *main;
    int               interrupted;
    struct sigaction  old_int;
} sigstate;

struct simul_signal {
    const simul__selectable *sel;       /* first: select's view of it */
    simul_loop  *loop;
    int          fd;                    /* signalfd */
    sigset_t     set;
    simul_watch *watch;                 /* armed while someone waits */
    simul__task *waiter;                /* the task in simul_signal_wait */
    simul__list  waiters;               /* simul__waiter: that task, selects */
};

/* The eventfd the SIGINT handler writes to, the loop it belongs to, and
 * how many SIGINTs came. */
static volatile int g_int_fd = -1;
static simul_loop *volatile g_int_loop;
static volatile sig_atomic_t g_int_hits;

static sigstate *state_get(simul_loop *l)
{
    if (l->sig)
        return l->sig;
    sigstate *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    sigemptyset(&s->blocked_by_us);
    s->int_fd = -1;
    l->sig = s;
    return s;
}

/* ---- SIGINT and SIGPIPE for simul_run ------------------------------------ */

static void on_sigint(int sig)
{
    int saved = errno;
    if (g_int_hits++ > 0 || g_int_fd < 0) {
        signal(sig, SIG_DFL);
        raise(sig);
    } else {
        uint64_t one = 1;
        ssize_t n = write(g_int_fd, &one, sizeof one);
        /* Also the loop's own wakeup, as call_soon_threadsafe does: a loop
         * busy with ready tasks polls only when this flag is set. */
        simul_loop *l = g_int_loop;
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
    sigstate *s = l->sig;
    uint64_t v;
    if (read(s->int_fd, &v, sizeof v) != sizeof v)
        return;
    if (!s->interrupted && s->main && s->main->state != SIMUL_TASK_DONE) {
        s->interrupted = 1;
        simul__task_cancel(s->main);
    }
}

void simul__sys_run_begin(simul_loop *l, void *main_task)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
    /* SIGINT only on the main thread, only if nobody handles it already,
     * and only for one loop at a time. */
    if (getpid() != (pid_t)syscall(SYS_gettid) || g_int_fd >= 0)
        return;
    if (sigaction(SIGINT, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL ||
        (sa.sa_flags & SA_SIGINFO))
        return;
    sigstate *s = state_get(l);
    if (!s)
        return;
    s->int_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->int_fd < 0)
        return;
    s->int_watch = simul_watch_new(s->int_fd, int_ready, l);
    if (!s->int_watch || simul_watch_set(s->int_watch, SIMUL_READABLE) != 0) {
        simul_watch_free(s->int_watch);
        s->int_watch = NULL;
        close(s->int_fd);
        s->int_fd = -1;
        return;
    }
    /* The watcher does not count as an fd (polling for it alone would slow
     * every yield), but while main runs a SIGINT can still cancel it, which
     * wakes whatever it waits on: a main task sleeping until Ctrl-C is not
     * deadlocked (l->wakers; both restored when main is done). */
    l->nwatch--;
    l->wakers++;
    s->main = main_task;
    g_int_hits = 0;
    g_int_loop = l;
    g_int_fd = s->int_fd;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, &s->old_int);
}

int simul__sys_run_result(simul_loop *l, int result)
{
    sigstate *s = l->sig;
    if (s && s->main) {
        s->main = NULL;          /* main is done: SIGINT can wake nobody now */
        l->wakers--;
    }
    if (s && s->interrupted && result == -ECANCELED)
        return -EINTR;
    return result;
}

static void sigint_close(simul_loop *l, sigstate *s)
{
    if (s->int_fd < 0)
        return;
    sigaction(SIGINT, &s->old_int, NULL);
    g_int_fd = -1;
    g_int_loop = NULL;
    l->nwatch++;
    simul_watch_free(s->int_watch);
    close(s->int_fd);
    s->int_fd = -1;
}

void simul__signal_close(simul_loop *l)
{
    sigstate *s = l->sig;
    if (!s)
        return;
    sigint_close(l, s);
    free(s);
    l->sig = NULL;
}

/* ---- simul_signal -------------------------------------------------------- */

/* Takes one pending signal: its number, 0 if none, or -errno. */
static int take(simul_signal *s)
{
    struct signalfd_siginfo si;
    ssize_t n = read(s->fd, &si, sizeof si);
    if (n == (ssize_t)sizeof si)
        return (int)si.ssi_signo;
    return n < 0 && errno != EAGAIN && errno != EINTR ? -errno : 0;
}

/* Hands each pending signal to the longest live waiter (a select that
 * another source woke first is skipped and takes nothing). */
static void sig_ready(simul_watch *w, int revents, void *arg)
{
    (void)revents;
    simul_signal *s = arg;
    simul__waiter *wt;
    while ((wt = simul__waiters_pop_live(&s->waiters)) != NULL) {
        int sig = take(s);
        if (sig == 0) {
            simul__list_push(&s->waiters, &wt->link);   /* nothing yet */
            return;
        }
        wt->result = sig;
        simul__waiter_fire(wt, sig < 0 ? sig : 0);
    }
    simul_watch_set(w, 0);   /* level-triggered: pause until asked again */
}

/* select's hooks (simul__selectable). */
static int sel_probe(void *obj, int *res)
{
    int sig = take(obj);
    if (sig == 0)
        return 0;
    *res = sig;
    return 1;
}
static void sel_link(void *obj, simul__waiter *w)
{
    simul_signal *s = obj;
    simul__list_push(&s->waiters, &w->link);
    simul_watch_set(s->watch, SIMUL_READABLE);
}
static const simul__selectable sig_selectable = { sel_probe, sel_link };

int simul_signal_open(const int *signals, size_t n, simul_signal **out)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    if (!signals || n == 0 || !out)
        return -EINVAL;
    *out = NULL;
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < n; i++) {
        int sig = signals[i];
        /* SIGKILL/SIGSTOP cannot be caught; the synchronous fault signals
         * cannot be waited for meaningfully. */
        if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP ||
            sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL)
            return -EINVAL;
        sigaddset(&set, sig);
    }
    sigstate *st = state_get(l);
    if (!st)
        return -ENOMEM;
    simul_signal *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int r;
    s->sel = &sig_selectable;
    s->loop = l;
    s->set = set;
    simul__list_init(&s->waiters);
    s->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->fd < 0) {
        r = -errno;
        goto fail_fd;
    }
    s->watch = simul_watch_new(s->fd, sig_ready, s);
    if (!s->watch) {
        r = -errno;
        goto fail_watch;
    }
    /* Block in this thread, remembering what was not blocked before. */
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &set, &old);
    for (int sig = 1; sig < NSIG; sig++) {
        if (!sigismember(&set, sig))
            continue;
        if (st->count[sig]++ == 0 && !sigismember(&old, sig))
            sigaddset(&st->blocked_by_us, sig);
    }
    *out = s;
    return 0;

fail_watch:
    close(s->fd);
fail_fd:
    free(s);
    return r;
}

int simul_signal_wait(simul_signal *s)
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (!t)
        return -EPERM;
    if (!s || s->loop != l)
        return -EINVAL;
    if (s->waiter)
        return -EBUSY;
    if (simul__cancel_pending(t))
        return -ECANCELED;
    int sig = take(s);
    if (sig != 0)
        return sig;
    int r = simul_watch_set(s->watch, SIMUL_READABLE);
    if (r < 0)
        return r;
    simul__waiter w;
    simul__waiter_init(&w, t);
    s->waiter = t;
    r = simul__wait_on(&s->waiters, &w, INFINITY, 0, "signal wait", CALLER());
    s->waiter = NULL;
    return r < 0 ? r : w.result;
}

int simul_signal_close(simul_signal *s)
{
    if (!s)
        return -EINVAL;
    simul_loop *l = simul__loop();
    if (l != s->loop)
        return -EPERM;
    /* Any node still linked belongs to a task that will unlink it. */
    if (s->waiter || !simul__list_empty(&s->waiters))
        return -EBUSY;
    sigstate *st = l->sig;
    simul_watch_free(s->watch);
    close(s->fd);
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int sig = 1; sig < NSIG; sig++) {
        if (!sigismember(&s->set, sig))
            continue;
        if (--st->count[sig] == 0 && sigismember(&st->blocked_by_us, sig)) {
            sigdelset(&st->blocked_by_us, sig);
            sigaddset(&unblock, sig);
        }
    }
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    free(s);
    return 0;
}
