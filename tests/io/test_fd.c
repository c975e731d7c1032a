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
    int first = 1;
    CHECK_EQ(simul_run(main_stale, &first), 0);
}
TEST(reused_fd_number_never_sees_a_stale_event_closed_first)
{
    int first = 0;
    CHECK_EQ(simul_run(main_stale, &first), 0);
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
