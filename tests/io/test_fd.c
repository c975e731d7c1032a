/*
 * test_fd.c - waiting on descriptors: readiness, deadlines, cancellation,
 * a reader and a writer on one fd, simul_close waking waiters, and fd
 * numbers reused after close never seeing a stale event.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <simul.h>

static int pfd[2];

/* Runs fn under simul_run with &flag as its argument; checks it returned 0. */
static void run_with(simul_fn fn, int flag)
{
    CHECK_EQ(simul_run(fn, &flag), 0);
}

static int write_later(void *a)
{
    (void)a;
    CHECK_EQ(simul_sleep(0.02), 0);
    CHECK_EQ(write(pfd[1], "x", 1), 1);
    return 0;
}
static int main_readable(void *a)
{
    (void)a;
    CHECK_EQ(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    simul_task *t = simul_spawn(write_later, NULL);
    double t0 = simul_now();
    int r = simul_wait_fd(pfd[0], SIMUL_READABLE, INFINITY);
    CHECK(r > 0 && (r & SIMUL_READABLE));
    CHECK(simul_now() - t0 >= 0.015);
    CHECK_EQ(simul_join(t), 0);
    /* Level-triggered: still readable, returns at once. */
    CHECK(simul_wait_fd(pfd[0], SIMUL_READABLE, simul_now() + 1) & SIMUL_READABLE);
    /* A pipe's write end is writable at once. */
    CHECK(simul_wait_fd(pfd[1], SIMUL_WRITABLE, INFINITY) & SIMUL_WRITABLE);
    CHECK_EQ(simul_close(pfd[0]), 0);
    CHECK_EQ(simul_close(pfd[1]), 0);
    return 0;
}
TEST(wait_fd_returns_when_readable_or_writable)
{
    CHECK_EQ(simul_run(main_readable, NULL), 0);
}

static int main_deadline(void *a)
{
    (void)a;
    CHECK_EQ(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    double t0 = simul_now();
    CHECK_EQ(simul_wait_fd(pfd[0], SIMUL_READABLE, t0 + 0.05), -ETIMEDOUT);
    double el = simul_now() - t0;
    CHECK(el >= 0.045 && el < 1.0);
    /* A deadline already past: at once. */
    CHECK_EQ(simul_wait_fd(pfd[0], SIMUL_READABLE, t0 - 1), -ETIMEDOUT);
    /* Bad arguments. */
    CHECK_EQ(simul_wait_fd(pfd[0], 0, INFINITY), -EINVAL);
    CHECK_EQ(simul_wait_fd(pfd[0], SIMUL_READABLE, NAN), -EINVAL);
    CHECK_EQ(simul_wait_fd(-1, SIMUL_READABLE, INFINITY), -EBADF);
    /* An fd that is not open: the poller refuses it. */
    CHECK_EQ(simul_wait_fd(900, SIMUL_READABLE, INFINITY), -EBADF);
    simul_close(pfd[0]);
    simul_close(pfd[1]);
    return 0;
}
TEST(wait_fd_deadline_gives_etimedout_and_bad_arguments_are_refused)
{
    CHECK_EQ(simul_run(main_deadline, NULL), 0);
    CHECK_EQ(simul_wait_fd(0, SIMUL_READABLE, INFINITY), -EPERM);
}

static int wait_forever(void *a)
{
    return simul_wait_fd(*(int *)a, SIMUL_READABLE, INFINITY);
}
static int main_cancel(void *a)
{
    (void)a;
    CHECK_EQ(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
    simul_task *t = simul_spawn(wait_forever, &pfd[0]);
    CHECK_EQ(simul_sleep(0.01), 0);
    CHECK_EQ(simul_cancel(t), 0);
    CHECK_EQ(simul_join(t), -ECANCELED);
    /* The registration is gone: a later wait still works. */
    CHECK_EQ(write(pfd[1], "x", 1), 1);
    CHECK(simul_wait_fd(pfd[0], SIMUL_READABLE, simul_now() + 1) > 0);
    /* A scope deadline cancels a wait too. */
    char c;
    CHECK_EQ(read(pfd[0], &c, 1), 1);
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.03);
    CHECK_EQ(simul_wait_fd(pfd[0], SIMUL_READABLE, INFINITY), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    simul_close(pfd[0]);
    simul_close(pfd[1]);
    return 0;
}
TEST(cancelled_wait_returns_ecanceled_and_unregisters)
{
    CHECK_EQ(simul_run(main_cancel, NULL), 0);
}

static int sp[2];
static int reader_task(void *a)
{
    (void)a;
    int r = simul_wait_fd(sp[0], SIMUL_READABLE, simul_now() + 5);
    CHECK(r > 0 && (r & SIMUL_READABLE));
    char buf[16];
    CHECK_EQ(read(sp[0], buf, sizeof buf), 4);
    return 1;
}
static int writer_task(void *a)
{
    (void)a;
    /* Fill sp[0]'s send buffer, then wait until the peer makes room. */
    static char big[65536];
    while (send(sp[0], big, sizeof big, MSG_DONTWAIT) > 0)
        ;
    CHECK_EQ(errno, EAGAIN);
    int r = simul_wait_fd(sp[0], SIMUL_WRITABLE, simul_now() + 5);
    CHECK(r > 0 && (r & SIMUL_WRITABLE));
    return 2;
}
static int drain_peer(void *a)
{
    (void)a;
    static char buf[65536];
    CHECK_EQ(simul_sleep(0.03), 0);
    CHECK_EQ(send(sp[1], "ping", 4, 0), 4);
    CHECK_EQ(simul_sleep(0.03), 0);
    while (recv(sp[1], buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    return 0;
}
static int main_two_waiters(void *a)
{
    (void)a;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
    simul_task *t[3] = { simul_spawn(reader_task, NULL), simul_spawn(writer_task, NULL),
                         simul_spawn(drain_peer, NULL) };
    int res[3];
    CHECK_EQ(simul_gather(t, 3, res, SIMUL_GATHER_COLLECT), 0);
    CHECK_EQ(res[0], 1);
    CHECK_EQ(res[1], 2);
    CHECK_EQ(res[2], 0);
    simul_close(sp[0]);
    simul_close(sp[1]);
    return 0;
}
TEST(a_reader_and_a_writer_wait_on_one_fd)
{
    CHECK_EQ(simul_run(main_two_waiters, NULL), 0);
}

static int wait_rw(void *a)
{
    return simul_wait_fd(sp[0], *(int *)a, INFINITY);
}
static int main_close_wakes(void *a)
{
    (void)a;
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
    static char big[65536];
    while (send(sp[0], big, sizeof big, MSG_DONTWAIT) > 0)
        ;
    static int rd = SIMUL_READABLE, wr = SIMUL_WRITABLE;
    simul_task *t[3] = { simul_spawn(wait_rw, &rd), simul_spawn(wait_rw, &rd),
                         simul_spawn(wait_rw, &wr) };
    CHECK_EQ(simul_sleep(0.01), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_task_state_of(t[i]), SIMUL_TASK_WAITING);
    CHECK_EQ(simul_close(sp[0]), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_join(t[i]), -EBADF);
    /* The fd really is closed. */
    CHECK_EQ(fcntl(sp[0], F_GETFD), -1);
    simul_close(sp[1]);
    CHECK_EQ(simul_close(-1), -EBADF);
    return 0;
}
TEST(simul_close_wakes_every_waiter_with_ebadf)
{
    CHECK_EQ(simul_run(main_close_wakes, NULL), 0);
}

/*
 * Stale events. Two pipes are made ready before one poll; a watcher on the
 * second one closes the first (which a task waits on) and reopens its fd
 * number in the same callback. Whether the task was already woken for the
 * old file or not, it gets -EBADF, and a wait on the new file with the same
 * number sees no event.
 */
static int p1[2], p2[2];
static int reused_ok;
static void reopen_cb(simul_watch *w, int revents, void *arg)
{
    (void)revents;
    (void)arg;
    int old = p1[0];
    CHECK_EQ(simul_close(p1[0]), 0);
    int np[2];
    CHECK_EQ(pipe2(np, O_NONBLOCK | O_CLOEXEC), 0);
    reused_ok = np[0] == old;
    close(p1[1]);
    p1[0] = np[0];
    p1[1] = np[1];
    simul_watch_free(w);
}
static int waiter(void *a)
{
    (void)a;
    return simul_wait_fd(p1[0], SIMUL_READABLE, simul_now() + 5);
}
static int main_stale(void *a)
{
    int first = *(int *)a;   /* 1: the waited fd gets ready first */
    CHECK_EQ(pipe2(p1, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(pipe2(p2, O_NONBLOCK | O_CLOEXEC), 0);
    simul_watch *w = simul_watch_new(p2[0], reopen_cb, NULL);
    CHECK(w != NULL);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    simul_task *t = simul_spawn(waiter, NULL);
    CHECK_EQ(simul_yield(), 0);   /* the waiter parks */
    /* epoll lists ready files in the order they became ready */
    if (first) {
        CHECK_EQ(write(p1[1], "a", 1), 1);
        CHECK_EQ(write(p2[1], "b", 1), 1);
    } else {
        CHECK_EQ(write(p2[1], "b", 1), 1);
        CHECK_EQ(write(p1[1], "a", 1), 1);
    }
    CHECK_EQ(simul_join(t), -EBADF);
    CHECK(reused_ok);
    /* The new file behind the reused number has no data: no event. */
    CHECK_EQ(simul_wait_fd(p1[0], SIMUL_READABLE, simul_now() + 0.05), -ETIMEDOUT);
    CHECK_EQ(write(p1[1], "c", 1), 1);
    CHECK(simul_wait_fd(p1[0], SIMUL_READABLE, simul_now() + 1) > 0);
    simul_close(p1[0]);
    simul_close(p1[1]);
    simul_close(p2[0]);
    simul_close(p2[1]);
    return 0;
}
TEST(reused_fd_number_never_sees_a_stale_event_woken_first)
{
    run_with(main_stale, 1);
}
TEST(reused_fd_number_never_sees_a_stale_event_closed_first)
{
    run_with(main_stale, 0);
}

static int main_many(void *a)
{
    (void)a;
    /* Waits on many fds at once, and across fd numbers beyond the first
     * table size. */
    enum { N = 300 };
    static int fds[N][2];
    for (int i = 0; i < N; i++)
        CHECK_EQ(pipe2(fds[i], O_NONBLOCK | O_CLOEXEC), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(write(fds[i][1], "z", 1), 1);
    for (int i = 0; i < N; i++)
        CHECK(simul_wait_fd(fds[i][0], SIMUL_READABLE, simul_now() + 1) > 0);
    for (int i = 0; i < N; i++) {
        simul_close(fds[i][0]);
        simul_close(fds[i][1]);
    }
    return 0;
}
TEST(many_fds)
{
    CHECK_EQ(simul_run(main_many, NULL), 0);
}

/* ---- descriptors the runtime does not own (the fd table) ----------------- */

/* Closes pipe p with close(2), behind the runtime's back, and makes pipe q,
 * which gets p[0]'s number. */
static void reopen_behind(int p[2], int q[2])
{
    int num = p[0];
    close(p[0]);
    close(p[1]);
    CHECK_EQ(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(q[0], num);            /* the number came back */
}

/* fd is readable: a wait with a 0.5 s deadline says so promptly. */
static void check_readable_soon(int fd)
{
    double t0 = simul_now();
    int r = simul_wait_fd(fd, SIMUL_READABLE, t0 + 0.5);
    CHECK(r > 0 && (r & SIMUL_READABLE));
    CHECK(simul_now() - t0 < 0.25);
}

/*
 * The first case: a task waits on fd N; N is closed with close(2)
 * behind the runtime's back; a new pipe reuses N and is already readable.
 * A wait on it with a 0.5 s deadline returns readable at once on every
 * backend (it re-registers the number), whether the first waiter is still
 * parked (it then sees the new file's readiness too: waits are on numbers)
 * or had already gone.
 */
static int behind_fd;
static int wait_behind(void *a)
{
    (void)a;
    return simul_wait_fd(behind_fd, SIMUL_READABLE, simul_now() + 5);
}
static int main_closed_behind(void *a)
{
    int parked = *(int *)a;
    int p[2], q[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    behind_fd = p[0];
    simul_task *t = NULL;
    if (parked) {
        t = simul_spawn(wait_behind, NULL);
        CHECK_EQ(simul_sleep(0.01), 0);
        CHECK_EQ(simul_task_state_of(t), SIMUL_TASK_WAITING);
    } else {
        CHECK_EQ(simul_wait_fd(p[0], SIMUL_READABLE, simul_now() + 0.01), -ETIMEDOUT);
    }
    reopen_behind(p, q);
    CHECK_EQ(write(q[1], "x", 1), 1);
    check_readable_soon(q[0]);
    if (t) {
        int r = simul_join(t);
        CHECK(r > 0 && (r & SIMUL_READABLE));
    }
    /* And it goes on working: drained, then ready again. */
    char c;
    CHECK_EQ(read(q[0], &c, 1), 1);
    CHECK_EQ(simul_wait_fd(q[0], SIMUL_READABLE, simul_now() + 0.02), -ETIMEDOUT);
    CHECK_EQ(write(q[1], "y", 1), 1);
    CHECK(simul_wait_fd(q[0], SIMUL_READABLE, simul_now() + 1) > 0);
    simul_close(q[0]);
    simul_close(q[1]);
    return 0;
}
TEST(a_wait_after_close_behind_our_back_sees_the_new_file_waiter_parked)
{
    run_with(main_closed_behind, 1);
}
TEST(a_wait_after_close_behind_our_back_sees_the_new_file_no_waiter)
{
    run_with(main_closed_behind, 0);
}

/*
 * The second case: a watcher on N, N closed with close(2), a new
 * pipe under N gets a new watcher (refused with -EEXIST on io_uring once),
 * then the stale watcher is freed: that must not touch the new owner's
 * registration (it deleted it on epoll once), so the new watcher fires.
 */
struct cnt { int calls; int rev; };
static void cnt_cb(simul_watch *w, int revents, void *arg)
{
    (void)w;
    struct cnt *c = arg;
    c->calls++;
    c->rev |= revents;
}
static int main_stale_watcher(void *a)
{
    int task_owner = *(int *)a;   /* the new owner waits in a task instead */
    int p[2], q[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct cnt old = { 0 }, neu = { 0 };
    simul_watch *w = simul_watch_new(p[0], cnt_cb, &old);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    CHECK_EQ(simul_sleep(0.002), 0);        /* registered in the kernel */
    reopen_behind(p, q);
    simul_watch *w2 = NULL;
    if (!task_owner) {
        w2 = simul_watch_new(q[0], cnt_cb, &neu);
        CHECK_EQ(simul_watch_set(w2, SIMUL_READABLE), 0);
    } else {
        CHECK_EQ(simul_wait_fd(q[0], SIMUL_READABLE, simul_now() + 0.01), -ETIMEDOUT);
    }
    simul_watch_free(w);                    /* the stale one goes */
    CHECK_EQ(write(q[1], "x", 1), 1);
    if (!task_owner) {
        CHECK_EQ(simul_sleep(0.01), 0);
        CHECK(neu.calls >= 1);
        CHECK(neu.rev & SIMUL_READABLE);
        simul_watch_free(w2);
    } else {
        check_readable_soon(q[0]);
    }
    simul_close(q[0]);
    simul_close(q[1]);
    return 0;
}
TEST(freeing_a_stale_watcher_never_touches_the_new_owner_watcher)
{
    run_with(main_stale_watcher, 0);
}
TEST(freeing_a_stale_watcher_never_touches_the_new_owner_task)
{
    run_with(main_stale_watcher, 1);
}

/*
 * The old file still open through a dup when its number is closed and
 * reused: its readiness never reaches the number's new file.
 */
static int main_dup_kept(void *a)
{
    (void)a;
    int p[2], q[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(simul_wait_fd(p[0], SIMUL_READABLE, simul_now() + 0.005), -ETIMEDOUT);
    int d = dup(p[0]);
    CHECK(d >= 0);
    int num = p[0];
    close(p[0]);                    /* the file lives on as d */
    CHECK_EQ(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(q[0], num);
    CHECK_EQ(write(p[1], "old", 3), 3);   /* the old file is readable ... */
    CHECK_EQ(simul_wait_fd(q[0], SIMUL_READABLE, simul_now() + 0.05), -ETIMEDOUT);
    CHECK_EQ(write(q[1], "x", 1), 1);     /* ... the new one only now */
    CHECK(simul_wait_fd(q[0], SIMUL_READABLE, simul_now() + 1) > 0);
    close(d);
    close(p[1]);
    simul_close(q[0]);
    simul_close(q[1]);
    return 0;
}
TEST(an_old_file_kept_open_by_a_dup_never_wakes_the_new_one)
{
    CHECK_EQ(simul_run(main_dup_kept, NULL), 0);
}

/* A task wait and callback watchers on one fd coexist: each gets its event. */
static int coex_fd;
static int wait_coex(void *a)
{
    return simul_wait_fd(coex_fd, *(int *)a, simul_now() + 5);
}
static int main_coexist(void *a)
{
    (void)a;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    coex_fd = sv[0];
    struct cnt rd = { 0 }, other = { 0 };
    simul_watch *w = simul_watch_new(sv[0], cnt_cb, &rd);
    simul_watch *w2 = simul_watch_new(sv[0], cnt_cb, &other);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    CHECK_EQ(simul_watch_set(w2, SIMUL_READABLE), 0);
    static int R = SIMUL_READABLE, W = SIMUL_WRITABLE;
    simul_task *reader = simul_spawn(wait_coex, &R);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(rd.calls, 0);
    /* A writer wait on the same fd returns at once (a socket is writable)
     * while the reader and the watchers stay put. */
    CHECK(simul_wait_fd(sv[0], SIMUL_WRITABLE, simul_now() + 1) & SIMUL_WRITABLE);
    simul_task *writer = simul_spawn(wait_coex, &W);
    CHECK(simul_join(writer) & SIMUL_WRITABLE);
    CHECK_EQ(simul_task_state_of(reader), SIMUL_TASK_WAITING);
    CHECK_EQ(rd.calls, 0);
    /* One freed before anything is ready: the rest are unaffected. */
    simul_watch_free(w2);
    CHECK_EQ(write(sv[1], "x", 1), 1);
    int r = simul_join(reader);
    CHECK(r > 0 && (r & SIMUL_READABLE));
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK(rd.calls >= 1);
    CHECK(rd.rev & SIMUL_READABLE);
    CHECK_EQ(other.calls, 0);
    /* The watcher stays armed after the wait is done (level-triggered). */
    int c = rd.calls;
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK(rd.calls > c);
    simul_watch_free(w);
    simul_close(sv[0]);
    simul_close(sv[1]);
    return 0;
}
TEST(a_task_wait_and_watchers_on_one_fd_coexist)
{
    CHECK_EQ(simul_run(main_coexist, NULL), 0);
}

/*
 * simul_fd_forget: for an fd handed to a library that closes it itself.
 * Waiters get -EBADF, watchers are paused, the fd stays open - and nothing
 * of the runtime keeps the file alive: closed right after, the socket's
 * peer sees EOF at once (an io_uring poll holds a reference otherwise).
 */
static int forget_fd;
static int wait_forget(void *a)
{
    (void)a;
    return simul_wait_fd(forget_fd, SIMUL_READABLE, INFINITY);
}
static int main_forget(void *a)
{
    (void)a;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    forget_fd = sv[0];
    struct cnt c = { 0 };
    simul_watch *w = simul_watch_new(sv[0], cnt_cb, &c);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    simul_task *t = simul_spawn(wait_forget, NULL);
    CHECK_EQ(simul_sleep(0.005), 0);          /* parked, polls in the kernel */
    CHECK_EQ(simul_fd_forget(sv[0]), 0);
    CHECK_EQ(simul_join(t), -EBADF);
    CHECK(fcntl(sv[0], F_GETFD) >= 0);        /* still open */
    CHECK_EQ(write(sv[1], "x", 1), 1);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(c.calls, 0);                     /* paused */
    simul_watch_free(w);                      /* harmless after a forget */
    /* The library reads and closes it: really closed, the peer sees EOF. */
    char b;
    CHECK_EQ(read(sv[0], &b, 1), 1);
    CHECK_EQ(close(sv[0]), 0);
    CHECK_EQ(read(sv[1], &b, 1), 0);
    CHECK_EQ(simul_fd_forget(-1), -EBADF);
    CHECK_EQ(simul_fd_forget(sv[0]), 0);      /* nothing known: fine */
    simul_close(sv[1]);
    return 0;
}
TEST(fd_forget_wakes_waiters_pauses_watchers_and_releases_the_file)
{
    CHECK_EQ(simul_run(main_forget, NULL), 0);
    CHECK_EQ(simul_fd_forget(0), -EPERM);
}

/* A paused (forgotten) watcher armed again watches the fd afresh. */
static int main_forget_rearm(void *a)
{
    (void)a;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    struct cnt c = { 0 };
    simul_watch *w = simul_watch_new(p[0], cnt_cb, &c);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    CHECK_EQ(simul_fd_forget(p[0]), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(c.calls, 0);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK(c.calls >= 1);
    simul_watch_free(w);
    simul_close(p[0]);
    simul_close(p[1]);
    return 0;
}
TEST(a_watcher_paused_by_a_forget_can_be_armed_again)
{
    CHECK_EQ(simul_run(main_forget_rearm, NULL), 0);
}

/* simul_close with a task waiting and a watcher armed: the task gets
 * -EBADF, the watcher is never called again, its free is harmless. */
static int main_close_under(void *a)
{
    (void)a;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    forget_fd = sv[0];
    struct cnt c = { 0 };
    simul_watch *w = simul_watch_new(sv[0], cnt_cb, &c);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    simul_task *t = simul_spawn(wait_forget, NULL);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(simul_close(sv[0]), 0);
    CHECK_EQ(simul_join(t), -EBADF);
    /* The number, reused at once, is not the old watcher's. */
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(p[0], sv[0]);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK(simul_wait_fd(p[0], SIMUL_READABLE, simul_now() + 1) > 0);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(c.calls, 0);
    simul_watch_free(w);
    CHECK(simul_wait_fd(p[0], SIMUL_READABLE, simul_now() + 1) > 0);
    simul_close(p[0]);
    simul_close(p[1]);
    simul_close(sv[1]);
    return 0;
}
TEST(simul_close_under_a_waiter_and_a_watcher)
{
    CHECK_EQ(simul_run(main_close_under, NULL), 0);
}

/*
 * A number closed behind the runtime's back (after a wait on it, and with a
 * watcher still on it) and then taken by a descriptor the runtime owns -
 * here a stream: the stream's reads wait and wake, and the stale watcher
 * never sees the stream's data.
 */
static int read_two(void *a)
{
    char buf[4];
    int r = simul_stream_readexactly(a, buf, 2);
    CHECK(r != 2 || memcmp(buf, "hi", 2) == 0);
    return r;
}
static int main_owned_reuse(void *a)
{
    (void)a;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(simul_wait_fd(p[0], SIMUL_READABLE, simul_now() + 0.005), -ETIMEDOUT);
    struct cnt c = { 0 };
    simul_watch *w = simul_watch_new(p[0], cnt_cb, &c);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    CHECK_EQ(simul_sleep(0.002), 0);
    int num = p[0];
    close(p[0]);
    close(p[1]);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_EQ(sv[0], num);
    simul_stream *s;
    CHECK_EQ(simul_stream_from_fd(sv[0], NULL, &s), 0);
    simul_task *t = simul_spawn(read_two, s);
    CHECK_EQ(simul_sleep(0.005), 0);           /* the reader waits */
    CHECK_EQ(write(sv[1], "hi", 2), 2);
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 1);
    CHECK_EQ(simul_join(t), 2);
    CHECK_EQ(simul_scope_exit(&sc), 0);
    CHECK_EQ(c.calls, 0);
    simul_watch_free(w);
    simul_stream_close(s);
    simul_close(sv[1]);
    return 0;
}
TEST(a_number_closed_behind_our_back_then_owned_by_a_stream)
{
    CHECK_EQ(simul_run(main_owned_reuse, NULL), 0);
}
