/*
 * signal.c - tasks waiting for signals (signalfd), alone or as select cases.
 *
 * simul_signal_open blocks its signals in the loop thread (pool workers
 * block every signal from birth) and reads them from a signalfd watched by
 * the loop. A per-loop count per signal (the data of this file's module of
 * the loop) remembers who blocked what, so the last close unblocks only
 * signals that were not blocked before. The process-wide handling of a run
 * (SIGINT cancels main, SIGPIPE ignored) is the core's (core/signals.c).
 */
#include "sys_internal.h"
#include "../sync/sync_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define CALLER() __builtin_return_address(0)

typedef struct sigstate {
    int               count[NSIG];      /* open simul_signals per signal */
    sigset_t          blocked_by_us;    /* to unblock when counts reach 0 */
} sigstate;

static int state_init(simul_loop *l, void *data)
{
    (void)l;
    sigemptyset(&((sigstate *)data)->blocked_by_us);
    return 0;
}

static simul__module signal_module = {
    .name = "signal-waits",
    .size = sizeof(sigstate),
    .init = state_init,
};

struct simul_signal {
    const simul__selectable *sel;       /* first: select's view of it */
    simul_loop  *loop;
    int          fd;                    /* signalfd */
    sigset_t     set;
    simul_watch *watch;                 /* armed while someone waits */
    simul__task *waiter;                /* the task in simul_signal_wait */
    simul__list  waiters;               /* simul__waiter: that task, selects */
};

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
    sigstate *st = simul__module_data(l, &signal_module);
    if (!st)
        return -errno;
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
    sigstate *st = simul__module_peek(l, &signal_module);
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
