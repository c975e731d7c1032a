/*
 * test_backend.c - the backend contract, checked on every backend of the
 * build: watcher readiness, level-triggered re-delivery, freeing watchers
 * inside a callback of the same batch (and reusing the fd number there), an
 * fd closed while watched, timeouts with sub-millisecond precision, many
 * watchers (more than the io_uring SQ and CQ hold), SIMUL_BACKEND selection
 * (auto, a bogus name, io_uring forbidden by seccomp: ENOSYS and EPERM),
 * call_soon_threadsafe wakeups, and the io_uring file operations.
 *
 * With SIMUL_BACKEND set (tests/run.sh sets it) the contract cases run on
 * that backend only; unset, they run on epoll and on io_uring (when this
 * build and kernel have it).
 */
#include "harness.h"
#include "../../src/core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <simul.h>

/* ---- running a case on each backend ------------------------------------ */

static int nothing(void *a) { (void)a; return 0; }

/* simul_run on the backend named (NULL: the default), through the loop
 * API: the environment is read once per process, so it cannot switch. */
static int run_on(const char *be, simul_fn fn, void *arg)
{
    simul_loop_opts o = { .backend = be, .signals = 1 };
    simul_loop *l;
    int r = simul_loop_new(&o, &l);
    if (r)
        return r;
    r = simul_loop_run(l, fn, arg);
    CHECK_EQ(simul_loop_free(l), 0);
    return r;
}

static int uring_available(void)
{
    return run_on("io_uring", nothing, NULL) == 0;
}

/* Runs fn on each backend to test; checks it returned 0 and ran on the
 * backend asked for. */
static const char *want_be;
static void on_each_backend(simul_fn fn, void *arg)
{
    const char *env = getenv("SIMUL_BACKEND");
    const char *list[2];
    int n = 0;
    if (env && *env && strcmp(env, "auto") != 0) {
        list[n++] = env;
    } else {
        list[n++] = "epoll";
        if (uring_available())
            list[n++] = "io_uring";
        else
            printf("# io_uring unavailable here: epoll only\n");
    }
    for (int i = 0; i < n; i++) {
        want_be = list[i];
        int r = run_on(list[i], fn, arg);
        if (r != 0)
            printf("# on %s: %s\n", list[i], simul_strerror(r));
        CHECK_EQ(r, 0);
        want_be = NULL;
    }
}

static void check_backend(void)
{
    CHECK(simul_backend_name() != NULL);
    if (want_be && simul_backend_name())
        CHECK(strcmp(simul_backend_name(), want_be) == 0);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- readiness ----------------------------------------------------------- */

struct rd { int calls; int rev; int last_rev; };

static void count_cb(simul_watch *w, int revents, void *arg)
{
    (void)w;
    struct rd *r = arg;
    r->calls++;
    r->rev |= revents;
    r->last_rev = revents;
}

static int main_readiness(void *a)
{
    (void)a;
    check_backend();
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct rd r = { 0 }, wr = { 0 };
    simul_watch *rw = simul_watch_new(p[0], count_cb, &r);
    simul_watch *ww = simul_watch_new(p[1], count_cb, &wr);
    CHECK(rw && ww);
    CHECK_EQ(simul_watch_set(rw, SIMUL_READABLE), 0);
    CHECK_EQ(simul_watch_set(ww, SIMUL_WRITABLE), 0);
    CHECK_EQ(simul_sleep(0.002), 0);
    CHECK_EQ(r.calls, 0);               /* nothing to read yet */
    CHECK(wr.calls >= 1);               /* an empty pipe is writable */
    CHECK_EQ(wr.rev, SIMUL_WRITABLE);
    simul_watch_set(ww, 0);
    int before = wr.calls;
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(simul_sleep(0.002), 0);
    CHECK(r.calls >= 1);
    CHECK_EQ(r.rev, SIMUL_READABLE);
    CHECK_EQ(wr.calls, before);         /* disarmed: silent though ready */
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);

    /* Changing the events replaces what is watched. */
    r.calls = 0;
    r.rev = 0;
    CHECK_EQ(simul_watch_set(rw, 0), 0);
    CHECK_EQ(simul_watch_set(rw, SIMUL_READABLE | SIMUL_WRITABLE), 0);
    CHECK_EQ(simul_sleep(0.002), 0);
    CHECK_EQ(r.calls, 0);               /* a read end is never writable */

    /* The writer goes: HANGUP (with READABLE, as epoll says it). */
    close(p[1]);
    simul_watch_free(ww);
    CHECK_EQ(simul_sleep(0.002), 0);
    CHECK(r.calls >= 1);
    CHECK(r.rev & SIMUL_HANGUP);
    CHECK(r.rev & SIMUL_READABLE);
    simul_watch_free(rw);
    close(p[0]);
    return 0;
}
TEST(watchers_report_readiness_and_hangup)
{
    on_each_backend(main_readiness, NULL);
}

static int main_bad_fds(void *a)
{
    (void)a;
    check_backend();
    int p[2];
    CHECK_EQ(pipe(p), 0);
    struct rd r = { 0 };
    simul_watch *w = simul_watch_new(p[0], count_cb, &r);
    close(p[0]);
    close(p[1]);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), -EBADF);  /* closed fd */
    simul_watch_free(w);
    char path[] = "/tmp/simul-be-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    w = simul_watch_new(fd, count_cb, &r);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), -EPERM);  /* regular file */
    simul_watch_free(w);
    close(fd);
    CHECK_EQ(r.calls, 0);
    /* Two watchers on one fd: both armed, each called. */
    int e = eventfd(0, EFD_NONBLOCK);
    struct rd r1 = { 0 }, r2 = { 0 };
    simul_watch *w1 = simul_watch_new(e, count_cb, &r1);
    simul_watch *w2 = simul_watch_new(e, count_cb, &r2);
    CHECK_EQ(simul_watch_set(w1, SIMUL_READABLE), 0);
    CHECK_EQ(simul_watch_set(w2, SIMUL_READABLE), 0);
    uint64_t one = 1;
    CHECK_EQ(write(e, &one, sizeof one), (ssize_t)sizeof one);
    CHECK_EQ(simul_sleep(0.002), 0);
    CHECK(r1.calls >= 1 && r2.calls >= 1);
    /* Pausing one leaves the other armed. */
    CHECK_EQ(simul_watch_set(w1, 0), 0);
    int c1 = r1.calls, c2 = r2.calls;
    CHECK_EQ(simul_sleep(0.002), 0);
    CHECK_EQ(r1.calls, c1);
    CHECK(r2.calls > c2);
    simul_watch_free(w1);
    simul_watch_free(w2);
    close(e);
    return 0;
}
TEST(bad_fds_and_regular_files_are_refused_as_epoll_does)
{
    on_each_backend(main_bad_fds, NULL);
}

/* ---- level-triggered ------------------------------------------------------ */

static int main_level(void *a)
{
    (void)a;
    check_backend();
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct rd r = { 0 }, wr = { 0 };
    simul_watch *rw = simul_watch_new(sv[0], count_cb, &r);
    simul_watch *ww = simul_watch_new(sv[1], count_cb, &wr);
    CHECK_EQ(simul_watch_set(rw, SIMUL_READABLE), 0);
    CHECK_EQ(simul_watch_set(ww, SIMUL_WRITABLE), 0);
    CHECK_EQ(write(sv[1], "abc", 3), 3);
    /* Nobody reads: every poll reports the fd again (the loop polls once
     * per tick; yield is one tick). */
    for (int i = 0; i < 20; i++)
        simul_yield();
    CHECK(r.calls >= 15);
    CHECK(wr.calls >= 15);
    CHECK_EQ(r.rev, SIMUL_READABLE);
    CHECK_EQ(wr.rev, SIMUL_WRITABLE);
    /* Drained: the reports stop. */
    char buf[8];
    CHECK_EQ(read(sv[0], buf, sizeof buf), 3);
    simul_yield();            /* a report may be on its way already */
    int calls = r.calls;
    for (int i = 0; i < 10; i++)
        simul_yield();
    CHECK_EQ(r.calls, calls);
    /* Ready again: reported again. */
    CHECK_EQ(write(sv[1], "d", 1), 1);
    for (int i = 0; i < 5; i++)
        simul_yield();
    CHECK(r.calls > calls);
    simul_watch_free(rw);
    simul_watch_free(ww);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
TEST(level_triggered_watchers_are_reported_each_poll_while_ready)
{
    on_each_backend(main_level, NULL);
}

/* A callback that does not re-arm but leaves its watcher armed keeps being
 * called while blocked in poll too (no task is runnable). */
struct lt_wait { int calls; simul_task *main; };
static void lt_cb(simul_watch *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    struct lt_wait *s = arg;
    if (++s->calls == 50)
        simul_cancel(s->main);
}
static int main_level_blocking(void *a)
{
    (void)a;
    check_backend();
    int e = eventfd(1, EFD_NONBLOCK);
    struct lt_wait s = { 0, simul_current() };
    simul_watch *w = simul_watch_new(e, lt_cb, &s);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    double t0 = mono();
    CHECK_EQ(simul_sleep(10), -ECANCELED);
    CHECK(mono() - t0 < 5);
    CHECK_EQ(s.calls, 50);
    simul_watch_free(w);
    close(e);
    return 0;
}
TEST(level_triggered_re_delivery_while_the_loop_blocks)
{
    on_each_backend(main_level_blocking, NULL);
}

/* ---- freeing inside callbacks -------------------------------------------- */

struct batch {
    int fds[2][2];
    simul_watch *w[2];
    int calls[2];
    int reuse[2];            /* a new pipe made in the callback */
    simul_watch *nw;
    int new_calls;
};

static void new_cb(simul_watch *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    ((struct batch *)arg)->new_calls++;
}

static void batch_cb(simul_watch *w, int revents, void *arg)
{
    (void)revents;
    struct batch *b = arg;
    int i = w == b->w[0] ? 0 : 1;
    b->calls[i]++;
    int o = 1 - i;
    /* Free the other watcher (ready in this same batch), close its fd and
     * reuse the number at once for a new, idle pipe. */
    int ofd = b->fds[o][0];
    simul_watch_free(b->w[o]);
    b->w[o] = NULL;
    close(ofd);
    close(b->fds[o][1]);
    CHECK_EQ(pipe2(b->reuse, O_NONBLOCK), 0);
    CHECK_EQ(b->reuse[0], ofd);          /* the number came back */
    b->nw = simul_watch_new(b->reuse[0], new_cb, b);
    CHECK_EQ(simul_watch_set(b->nw, SIMUL_READABLE), 0);
    /* And free ourselves. */
    simul_watch_free(w);
    b->w[i] = NULL;
}

static int main_batch(void *a)
{
    (void)a;
    check_backend();
    struct batch b;
    memset(&b, 0, sizeof b);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(pipe2(b.fds[i], O_NONBLOCK), 0);
        b.w[i] = simul_watch_new(b.fds[i][0], batch_cb, &b);
        CHECK_EQ(simul_watch_set(b.w[i], SIMUL_READABLE), 0);
    }
    simul_yield();          /* both polls are in the kernel now */
    CHECK_EQ(write(b.fds[0][1], "x", 1), 1);
    CHECK_EQ(write(b.fds[1][1], "x", 1), 1);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(b.calls[0] + b.calls[1], 1);   /* exactly one ran */
    CHECK_EQ(b.new_calls, 0);               /* no stale event for the new fd */
    for (int i = 0; i < 5; i++)
        simul_yield();
    CHECK_EQ(b.new_calls, 0);
    CHECK_EQ(write(b.reuse[1], "y", 1), 1);  /* its own event does arrive */
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK(b.new_calls >= 1);
    simul_watch_free(b.nw);
    int i = b.calls[0] ? 0 : 1;
    close(b.fds[i][0]);
    close(b.fds[i][1]);
    close(b.reuse[0]);
    close(b.reuse[1]);
    return 0;
}
TEST(a_watcher_freed_in_a_callback_of_the_same_batch_is_never_called)
{
    on_each_backend(main_batch, NULL);
}

/* ---- fd closed while watched ---------------------------------------------- */

static int main_closed(void *a)
{
    (void)a;
    check_backend();
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct rd r = { 0 };
    simul_watch *w = simul_watch_new(sv[0], count_cb, &r);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    CHECK_EQ(simul_sleep(0.001), 0);          /* the poll is in the kernel */
    int num = sv[0];
    close(sv[0]);                             /* the misuse: close first ... */
    simul_watch_free(w);                      /* ... then free */
    /* The socket is really closed now: the peer sees EOF at once. */
    char c;
    CHECK_EQ(read(sv[1], &c, 1), 0);
    /* The number, reused, gets no event meant for the old file. */
    int sv2[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv2), 0);
    CHECK_EQ(sv2[0], num);
    struct rd r2 = { 0 };
    simul_watch *w2 = simul_watch_new(sv2[0], count_cb, &r2);
    CHECK_EQ(simul_watch_set(w2, SIMUL_READABLE), 0);
    CHECK(write(sv[1], "x", 1) < 0);          /* EPIPE: the old one is gone */
    CHECK_EQ(simul_sleep(0.003), 0);
    CHECK_EQ(r2.calls, 0);
    CHECK_EQ(r.calls, 0);
    CHECK_EQ(write(sv2[1], "x", 1), 1);
    CHECK_EQ(simul_sleep(0.003), 0);
    CHECK(r2.calls >= 1);
    simul_watch_free(w2);
    close(sv[1]);
    close(sv2[0]);
    close(sv2[1]);
    return 0;
}
TEST(an_fd_closed_while_watched_is_released_when_its_watcher_is_freed)
{
    signal(SIGPIPE, SIG_IGN);
    on_each_backend(main_closed, NULL);
}

/* ---- timeouts --------------------------------------------------------------- */

static int main_precision(void *a)
{
    (void)a;
    check_backend();
    /* Keep a watcher armed so the loop really polls the backend. */
    int e = eventfd(0, EFD_NONBLOCK);
    struct rd r = { 0 };
    simul_watch *w = simul_watch_new(e, count_cb, &r);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    static const double delays[] = { 50e-6, 300e-6, 1.5e-3 };
    for (size_t d = 0; d < sizeof delays / sizeof delays[0]; d++) {
        double best = 1e9;
        for (int i = 0; i < 15; i++) {
            double t0 = mono();
            CHECK_EQ(simul_sleep(delays[d]), 0);
            double el = mono() - t0;
            CHECK(el >= delays[d] - 1e-6);       /* never early */
            if (el < best)
                best = el;
        }
        /* Rounded up to whole milliseconds, 50 us would take 1 ms and
         * 1.5 ms would take 2 ms. */
        if (!(best < delays[d] + 400e-6))
            printf("# %s: %.0f us asked, best %.0f us\n", simul_backend_name(),
                   delays[d] * 1e6, best * 1e6);
        CHECK(best < delays[d] + 400e-6);
    }
    simul_watch_free(w);
    close(e);
    return 0;
}
TEST(timeouts_have_sub_millisecond_precision)
{
    on_each_backend(main_precision, NULL);
}

/* ---- many watchers -------------------------------------------------------- */

struct many { int n; int *fds; simul_watch **w; int *calls; int *index; int total;
               int reading; };

static void many_cb(simul_watch *w, int revents, void *arg)
{
    struct many *m = arg;
    (void)revents;
    int fd = simul_watch_fd(w);
    int i = m->index[fd];
    CHECK(m->w[i] == w);
    if (m->w[i] != w)
        return;
    m->calls[i]++;
    m->total++;
    if (m->reading) {
        uint64_t v;
        CHECK_EQ(read(fd, &v, sizeof v), (ssize_t)sizeof v);
        simul_watch_free(w);
        m->w[i] = NULL;
    }
}

static int main_many(void *a)
{
    (void)a;
    check_backend();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = 10000;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct many m = { 0 };
    m.n = rl.rlim_cur >= want ? 9000 : (int)rl.rlim_cur - 100;
    if (m.n < 9000)
        printf("# RLIMIT_NOFILE %llu: %d watchers only\n",
               (unsigned long long)rl.rlim_cur, m.n);
    m.fds = calloc((size_t)m.n, sizeof *m.fds);
    m.w = calloc((size_t)m.n, sizeof *m.w);
    m.calls = calloc((size_t)m.n, sizeof *m.calls);
    m.index = calloc(rl.rlim_cur, sizeof *m.index);   /* fd -> i */
    CHECK(m.fds && m.w && m.calls && m.index);
    /* 9000 > the io_uring SQ (1024 entries) and CQ (8192): all ready in the
     * same poll, so both fill up and are drained. */
    for (int i = 0; i < m.n; i++) {
        m.fds[i] = eventfd(1, EFD_NONBLOCK);
        CHECK(m.fds[i] >= 0 && (rlim_t)m.fds[i] < rl.rlim_cur);
        m.index[m.fds[i]] = i;
        m.w[i] = simul_watch_new(m.fds[i], many_cb, &m);
        CHECK_EQ(simul_watch_set(m.w[i], SIMUL_READABLE), 0);
    }
    /* Level-triggered, unread: each reported again and again (epoll
     * reports 256 per poll, round-robin: 36 polls go round once). */
    for (int k = 0; k < 100; k++)
        simul_yield();
    int lo = 1 << 30;
    for (int i = 0; i < m.n; i++)
        if (m.calls[i] < lo)
            lo = m.calls[i];
    CHECK(lo >= 2);
    /* Now each callback reads and frees its watcher: exactly one more. */
    memset(m.calls, 0, (size_t)m.n * sizeof *m.calls);
    m.reading = 1;
    for (int k = 0; k < 50; k++)
        simul_yield();
    CHECK_EQ(simul_sleep(0.01), 0);
    int ones = 0;
    for (int i = 0; i < m.n; i++)
        ones += m.calls[i] == 1;
    CHECK_EQ(ones, m.n);
    for (int i = 0; i < m.n; i++) {
        simul_watch_free(m.w[i]);   /* NULL for all, if all went well */
        close(m.fds[i]);
    }
    free(m.fds);
    free(m.w);
    free(m.calls);
    free(m.index);
    return 0;
}
TEST_T(nine_thousand_watchers_ready_at_once, 60)
{
    on_each_backend(main_many, NULL);
}

/* ---- call_soon_threadsafe ---------------------------------------------------- */

#define TS_N 2000
struct ts { simul_loop *loop; int got[2]; int bad_order; simul_task *main;
            double sent_at, woke_at; int done; };
struct ts_item { struct ts *s; int thread; int seq; };
static struct ts_item items[2][TS_N];

static void ts_cb(void *arg)
{
    struct ts_item *it = arg;
    struct ts *s = it->s;
    if (it->seq != s->got[it->thread])
        s->bad_order++;
    s->got[it->thread]++;
    if (s->got[0] + s->got[1] == 2 * TS_N) {
        s->woke_at = mono();
        simul_cancel(s->main);
    }
}

static void *ts_thread(void *arg)
{
    struct ts_item *mine = arg;
    struct ts *s = mine[0].s;
    usleep(20000);             /* the loop is asleep in poll by now */
    for (int i = 0; i < TS_N; i++) {
        if (i == TS_N - 1)
            s->sent_at = mono();
        CHECK_EQ(simul_call_soon_threadsafe(s->loop, ts_cb, &mine[i]), 0);
    }
    return NULL;
}

static int main_threadsafe(void *a)
{
    (void)a;
    check_backend();
    struct ts s;
    memset(&s, 0, sizeof s);
    s.loop = simul_loop_current();
    s.main = simul_current();
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < TS_N; i++)
            items[t][i] = (struct ts_item){ &s, t, i };
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        CHECK_EQ(pthread_create(&th[t], NULL, ts_thread, items[t]), 0);
    double t0 = mono();
    /* No timer would end this sleep early: only the eventfd wakeup. */
    CHECK_EQ(simul_sleep(30), -ECANCELED);
    CHECK(mono() - t0 < 10);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    CHECK_EQ(s.got[0], TS_N);
    CHECK_EQ(s.got[1], TS_N);
    CHECK_EQ(s.bad_order, 0);              /* per thread, in order */
    CHECK(s.woke_at >= s.sent_at);
    CHECK(s.woke_at - s.sent_at < 1.0);
    return 0;
}
TEST(call_soon_threadsafe_wakes_a_loop_blocked_in_poll)
{
    on_each_backend(main_threadsafe, NULL);
}

/* ---- backend selection ------------------------------------------------------- */

static char seen[32];
static int main_name(void *a)
{
    (void)a;
    snprintf(seen, sizeof seen, "%s", simul_backend_name() ? simul_backend_name() : "");
    return 0;
}

/* In a child: SIMUL_BACKEND=value (NULL: unset), then simul_run; the
 * child exits 0 if it ran on `want`, 2 if the run failed with -EINVAL.
 * The variable is read once per process, so the child must be forked
 * before this process created any loop. */
struct envcase { const char *value, *want; };
static int env_child(void *a)
{
    const struct envcase *c = a;
    if (c->value)
        setenv("SIMUL_BACKEND", c->value, 1);
    else
        unsetenv("SIMUL_BACKEND");
    seen[0] = 0;
    int r = simul_run(main_name, NULL);
    if (r == -EINVAL)
        return seen[0] == 0 ? 2 : 3;
    return r == 0 && strcmp(seen, c->want) == 0 ? 0 : 1;
}
static int env_case(const char *value, const char *want)
{
    char buf[512];
    struct envcase c = { value, want };
    int st = harness_child_stderr(env_child, &c, buf, sizeof buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(simul_backend_selects_auto_and_refuses_a_bogus_name)
{
    /* The environment first: the default when the option is NULL. Unset
     * or empty: epoll, the default. */
    CHECK_EQ(env_case(NULL, "epoll"), 0);
    CHECK_EQ(env_case("", "epoll"), 0);
    CHECK_EQ(env_case("epoll", "epoll"), 0);
    CHECK_EQ(env_case("kqueue", ""), 2);
    int auto_uring = env_case("auto", "io_uring") == 0;
    int have_uring = uring_available();
    CHECK_EQ(auto_uring, have_uring);
    CHECK_EQ(run_on("epoll", main_name, NULL), 0);
    CHECK(strcmp(seen, "epoll") == 0);
    if (have_uring) {
        CHECK_EQ(run_on("io_uring", main_name, NULL), 0);
        CHECK(strcmp(seen, "io_uring") == 0);
    }
    /* auto: io_uring first where it works */
    seen[0] = 0;
    CHECK_EQ(run_on("auto", main_name, NULL), 0);
    CHECK(strcmp(seen, have_uring ? "io_uring" : "epoll") == 0);
    seen[0] = 0;
    CHECK_EQ(run_on("kqueue", main_name, NULL), -EINVAL);
    CHECK_EQ(seen[0], 0);
    CHECK_EQ(run_on("io_uring ", main_name, NULL), -EINVAL);  /* no trimming */
}

/* io_uring_setup fails with err (a seccomp filter in this forked child). */
static void forbid_io_uring(int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    CHECK_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    CHECK_EQ(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0);
}

static void forbidden_case(int err)
{
    forbid_io_uring(err);
    CHECK_EQ(run_on("auto", main_name, NULL), 0);   /* silent fallback */
    CHECK(strcmp(seen, "epoll") == 0);
    int r = run_on("io_uring", main_name, NULL);
    /* Asked for by name: the error, no fallback (-EINVAL: not built). */
    CHECK(r == -err || r == -EINVAL);
}
TEST(auto_falls_back_to_epoll_when_io_uring_setup_is_enosys)
{
    forbidden_case(ENOSYS);
}
TEST(auto_falls_back_to_epoll_when_io_uring_setup_is_eperm)
{
    forbidden_case(EPERM);
}

/* ---- file operations (io_uring's file_op hook) ------------------------------ */

struct fw { simul__fileop op; int done; };
static void fop_done(simul__fileop *op)
{
    ((struct fw *)op->data)->done++;
}

/* Starts op and waits for it; returns its result. */
static int run_op(struct fw *f)
{
    simul_loop *l = simul_loop_current();
    f->op.done = fop_done;
    f->op.data = f;
    f->done = 0;
    int r = l->be->file_op(l, &f->op);
    if (r)
        return r;
    while (!f->done)
        simul_sleep(0.0002);
    CHECK_EQ(f->done, 1);
    return f->op.result;
}

static int main_files(void *a)
{
    (void)a;
    simul_loop *l = simul_loop_current();
    if (strcmp(simul_backend_name(), "io_uring") != 0) {
        CHECK(l->be->file_op == NULL);   /* epoll: the thread pool does files */
        return 0;
    }
    CHECK(l->be->file_op != NULL);
    char dir[] = "/tmp/simul-be-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/f", dir);
    struct fw f;
    memset(&f, 0, sizeof f);
    f.op.opcode = SIMUL__FOP_OPEN;
    f.op.path = path;
    f.op.flags = O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC;
    f.op.mode = 0600;
    int fd = run_op(&f);
    CHECK(fd >= 0);
    /* Sequential writes at the file position (offset -1). */
    const char *lines[] = { "hello\n", "world\n" };
    for (int i = 0; i < 2; i++) {
        memset(&f.op, 0, sizeof f.op);
        f.op.opcode = SIMUL__FOP_WRITE;
        f.op.fd = fd;
        f.op.buf = (void *)lines[i];
        f.op.len = 6;
        f.op.offset = -1;
        CHECK_EQ(run_op(&f), 6);
    }
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 12);
    for (int flags = 0; flags < 2; flags++) {      /* fsync, fdatasync */
        memset(&f.op, 0, sizeof f.op);
        f.op.opcode = SIMUL__FOP_FSYNC;
        f.op.fd = fd;
        f.op.flags = flags;
        CHECK_EQ(run_op(&f), 0);
    }
    /* A positioned read (offset 6) leaves the position alone. */
    char buf[32] = { 0 };
    memset(&f.op, 0, sizeof f.op);
    f.op.opcode = SIMUL__FOP_READ;
    f.op.fd = fd;
    f.op.buf = buf;
    f.op.len = sizeof buf;
    f.op.offset = 6;
    CHECK_EQ(run_op(&f), 6);
    CHECK(memcmp(buf, "world\n", 6) == 0);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 12);
    /* At the position: end of file. */
    f.op.offset = -1;
    CHECK_EQ(run_op(&f), 0);
    memset(&f.op, 0, sizeof f.op);
    f.op.opcode = SIMUL__FOP_CLOSE;
    f.op.fd = fd;
    CHECK_EQ(run_op(&f), 0);
    CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF);

    /* Errors come back as results. */
    memset(&f.op, 0, sizeof f.op);
    f.op.opcode = SIMUL__FOP_READ;
    f.op.fd = fd;                       /* closed */
    f.op.buf = buf;
    f.op.len = 4;
    f.op.offset = -1;
    CHECK_EQ(run_op(&f), -EBADF);
    memset(&f.op, 0, sizeof f.op);
    f.op.opcode = SIMUL__FOP_OPEN;
    f.op.path = "/nonexistent/simul";
    f.op.flags = O_RDONLY;
    CHECK_EQ(run_op(&f), -ENOENT);
    /* A full disk: ENOSPC, never a silent short success. */
    memset(&f.op, 0, sizeof f.op);
    f.op.opcode = SIMUL__FOP_OPEN;
    f.op.path = "/dev/full";
    f.op.flags = O_WRONLY | O_CLOEXEC;
    int full = run_op(&f);
    CHECK(full >= 0);
    memset(&f.op, 0, sizeof f.op);
    f.op.opcode = SIMUL__FOP_WRITE;
    f.op.fd = full;
    f.op.buf = (void *)"x";
    f.op.len = 1;
    f.op.offset = -1;
    CHECK_EQ(run_op(&f), -ENOSPC);
    close(full);
    /* Bad requests are refused before anything starts. */
    memset(&f.op, 0, sizeof f.op);
    f.op.opcode = 99;
    f.op.done = fop_done;
    CHECK_EQ(l->be->file_op(l, &f.op), -EINVAL);
    f.op.opcode = SIMUL__FOP_OPEN;
    f.op.path = NULL;
    CHECK_EQ(l->be->file_op(l, &f.op), -EFAULT);
    unlink(path);
    rmdir(dir);
    return 0;
}
TEST(io_uring_file_ops_open_write_fsync_read_close_and_errors)
{
    on_each_backend(main_files, NULL);
}

static struct fw orphan;
static char orphan_buf[8];
static int orphan_pipe[2], orphans;

/* Reads and writes on sockets (offset -1): completion-based socket I/O,
 * the hook a stream layer can use instead of readiness. */
static int main_socket_ops(void *a)
{
    (void)a;
    simul_loop *l = simul_loop_current();
    if (!l->be->file_op)
        return 0;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    char buf[16] = { 0 };
    struct fw rd;
    memset(&rd, 0, sizeof rd);
    rd.op.opcode = SIMUL__FOP_READ;
    rd.op.fd = sv[0];
    rd.op.buf = buf;
    rd.op.len = sizeof buf;
    rd.op.offset = -1;
    rd.op.done = fop_done;
    rd.op.data = &rd;
    /* Nothing to read yet: the op waits in the kernel (no EAGAIN, even on a
     * non-blocking socket) ... */
    CHECK_EQ(l->be->file_op(l, &rd.op), 0);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(rd.done, 0);
    /* ... until the peer's write, itself a file op. */
    struct fw wr;
    memset(&wr, 0, sizeof wr);
    wr.op.opcode = SIMUL__FOP_WRITE;
    wr.op.fd = sv[1];
    wr.op.buf = (void *)"ping";
    wr.op.len = 4;
    wr.op.offset = -1;
    CHECK_EQ(run_op(&wr), 4);
    while (!rd.done)
        simul_sleep(0.0002);
    CHECK_EQ(rd.op.result, 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    /* The peer goes: a read gives 0 (EOF), a write EPIPE. */
    close(sv[1]);
    CHECK_EQ(run_op(&rd), 0);
    int sv2[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv2), 0);
    close(sv2[1]);
    wr.op.fd = sv2[0];
    CHECK_EQ(run_op(&wr), -EPIPE);
    close(sv2[0]);
    /* A read still in flight when the loop ends is cancelled by the
     * backend's close: done runs with -ECANCELED (the op memory is static
     * here, as an orphaned op's must outlive the loop). */
    CHECK_EQ(pipe(orphan_pipe), 0);
    memset(&orphan, 0, sizeof orphan);
    orphan.op.opcode = SIMUL__FOP_READ;
    orphan.op.fd = orphan_pipe[0];          /* idle: never ready */
    orphan.op.buf = orphan_buf;
    orphan.op.len = sizeof orphan_buf;
    orphan.op.offset = -1;
    orphan.op.done = fop_done;
    orphan.op.data = &orphan;
    CHECK_EQ(l->be->file_op(l, &orphan.op), 0);
    orphans++;
    close(sv[0]);
    return 0;                               /* with the read in flight */
}
TEST(io_uring_socket_reads_and_writes_complete_when_the_peer_acts)
{
    signal(SIGPIPE, SIG_IGN);
    on_each_backend(main_socket_ops, NULL);
    if (orphans) {
        CHECK_EQ(orphan.done, 1);
        CHECK(orphan.op.result == -ECANCELED || orphan.op.result == -EINTR);
    }
}

/* The cancel hook a completion-based stream layer needs (io_uring only). */
int simul__io_uring_cancel(simul_loop *l, simul__fileop *op);

static int main_cancel(void *a)
{
    (void)a;
    simul_loop *l = simul_loop_current();
    if (!l->be->file_op)
        return 0;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    char buf[16];
    struct fw rd;
    memset(&rd, 0, sizeof rd);
    rd.op.opcode = SIMUL__FOP_READ;
    rd.op.fd = sv[0];
    rd.op.buf = buf;
    rd.op.len = sizeof buf;
    rd.op.offset = -1;
    rd.op.done = fop_done;
    rd.op.data = &rd;
    /* Waiting for data: cancelled, done runs once with -ECANCELED. */
    CHECK_EQ(l->be->file_op(l, &rd.op), 0);
    CHECK_EQ(simul_sleep(0.002), 0);
    CHECK_EQ(rd.done, 0);
    CHECK_EQ(simul__io_uring_cancel(l, &rd.op), 0);
    while (!rd.done)
        simul_sleep(0.0002);
    CHECK_EQ(rd.done, 1);
    CHECK_EQ(rd.op.result, -ECANCELED);
    /* The data sent afterwards is not lost: the next read gets it. */
    CHECK_EQ(write(sv[1], "abc", 3), 3);
    CHECK_EQ(run_op(&rd), 3);
    /* Cancel and completion in the same poll: done runs once, and the
     * bytes are either delivered (result 3) or still in the socket. */
    rd.done = 0;
    CHECK_EQ(l->be->file_op(l, &rd.op), 0);
    CHECK_EQ(write(sv[1], "xyz", 3), 3);
    CHECK_EQ(simul__io_uring_cancel(l, &rd.op), 0);
    while (!rd.done)
        simul_sleep(0.0002);
    CHECK_EQ(simul_sleep(0.002), 0);
    CHECK_EQ(rd.done, 1);
    if (rd.op.result == -ECANCELED)
        CHECK_EQ(read(sv[0], buf, sizeof buf), 3);
    else
        CHECK_EQ(rd.op.result, 3);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
TEST(io_uring_a_socket_read_in_flight_can_be_cancelled)
{
    on_each_backend(main_cancel, NULL);
}

/* A callback that arms a watcher on a far higher fd number (the io_uring
 * backend's fd table grows, and moves, under the callback) while its own
 * watcher stays armed: its own re-delivery and the new watcher both work. */
struct grow { int calls, high_calls, high_fd; simul_watch *high; };
static void high_cb(simul_watch *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    ((struct grow *)arg)->high_calls++;
}
static void grow_cb(simul_watch *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    struct grow *g = arg;
    if (g->calls++ == 0) {
        int e = eventfd(1, EFD_NONBLOCK);
        CHECK(e >= 0);
        CHECK_EQ(dup2(e, g->high_fd), g->high_fd);
        close(e);
        g->high = simul_watch_new(g->high_fd, high_cb, g);
        CHECK_EQ(simul_watch_set(g->high, SIMUL_READABLE), 0);
    }
}
static int main_grow(void *a)
{
    (void)a;
    check_backend();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    struct grow g = { 0, 0, (int)(rl.rlim_cur > 4000 ? 3999 : rl.rlim_cur - 1), NULL };
    int e = eventfd(1, EFD_NONBLOCK);
    simul_watch *w = simul_watch_new(e, grow_cb, &g);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    for (int i = 0; i < 10; i++)
        simul_yield();
    CHECK(g.calls >= 5);          /* still re-delivered after the growth */
    CHECK(g.high_calls >= 3);
    simul_watch_free(g.high);
    simul_watch_free(w);
    close(g.high_fd);
    close(e);
    return 0;
}
TEST(a_callback_may_watch_a_far_higher_fd_number)
{
    on_each_backend(main_grow, NULL);
}
