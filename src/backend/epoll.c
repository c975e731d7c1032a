/*
 * epoll.c - the epoll backend (level-triggered, one registration per fd).
 *
 * Events are collected in batches; a watcher freed while its batch is being
 * dispatched is scrubbed from the rest of the batch (forget), so a callback
 * never sees a freed watcher or an event meant for an fd number's previous
 * owner. Timeouts use epoll_pwait2 (nanoseconds) where the kernel has it,
 * else epoll_wait with the timeout rounded up to whole milliseconds.
 */
#include "backend.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256

struct ep {
    int epfd;
    int n, i;              /* batch being dispatched */
    struct epoll_event ev[BATCH];
};

static int pwait2_missing;

static int ep_open(simul_loop *l)
{
    struct ep *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e->epfd < 0) {
        int err = -errno;
        free(e);
        return err;
    }
    l->be_data = e;
    return 0;
}

static void ep_close(simul_loop *l)
{
    struct ep *e = l->be_data;
    if (!e)
        return;
    close(e->epfd);
    free(e);
    l->be_data = NULL;
}

static int ep_arm(simul_loop *l, simul_watch *w, int events)
{
    struct ep *e = l->be_data;
    struct epoll_event ev = { 0 };
    ev.events = ((events & SIMUL_READABLE) ? EPOLLIN | EPOLLRDHUP : 0) |
                ((events & SIMUL_WRITABLE) ? EPOLLOUT : 0);
    ev.data.ptr = w;
    if (!events) {
        /* The fd may already be closed: the kernel dropped it then. */
        if (epoll_ctl(e->epfd, EPOLL_CTL_DEL, w->fd, &ev) < 0 &&
            errno != ENOENT && errno != EBADF)
            return -errno;
        return 0;
    }
    int op = w->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(e->epfd, op, w->fd, &ev) == 0)
        return 0;
    /* Closed and reopened behind our back: register the new file. */
    if (op == EPOLL_CTL_MOD && errno == ENOENT &&
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, w->fd, &ev) == 0)
        return 0;
    return -errno;
}

static void ep_forget(simul_loop *l, simul_watch *w)
{
    struct ep *e = l->be_data;
    for (int j = e->i + 1; j < e->n; j++)
        if (e->ev[j].data.ptr == w)
            e->ev[j].data.ptr = NULL;
}

static int ep_wait(struct ep *e, int64_t timeout_ns)
{
    if (!pwait2_missing && timeout_ns > 0) {
        struct timespec ts = { .tv_sec = timeout_ns / SIMUL__NS_PER_S,
                               .tv_nsec = timeout_ns % SIMUL__NS_PER_S };
        int n = epoll_pwait2(e->epfd, e->ev, BATCH, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        pwait2_missing = 1;
    }
    int ms = timeout_ns < 0 ? -1
           : timeout_ns > (int64_t)INT32_MAX * 1000000 ? INT32_MAX
           : (int)((timeout_ns + 999999) / 1000000);
    return epoll_wait(e->epfd, e->ev, BATCH, ms);
}

static int ep_poll(simul_loop *l, int64_t timeout_ns)
{
    struct ep *e = l->be_data;
    int n = ep_wait(e, timeout_ns);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    e->n = n;
    for (e->i = 0; e->i < e->n; e->i++) {
        simul_watch *w = e->ev[e->i].data.ptr;
        if (!w)
            continue;
        uint32_t got = e->ev[e->i].events;
        int rev = 0;
        if (got & EPOLLIN)
            rev |= SIMUL_READABLE;
        if (got & EPOLLOUT)
            rev |= SIMUL_WRITABLE;
        if (got & EPOLLERR)
            rev |= SIMUL_ERROR | (w->armed & (SIMUL_READABLE | SIMUL_WRITABLE));
        if (got & (EPOLLHUP | EPOLLRDHUP))
            rev |= SIMUL_HANGUP | (w->armed & SIMUL_READABLE);
        rev &= w->armed | SIMUL_ERROR | SIMUL_HANGUP;
        if (rev)
            simul__watch_ready(w, rev);
    }
    e->n = e->i = 0;
    return 0;
}

static int ep_fd(simul_loop *l)
{
    return ((struct ep *)l->be_data)->epfd;
}

const simul__backend simul__backend_epoll = {
    .name = "epoll",
    .open = ep_open,
    .close = ep_close,
    .arm = ep_arm,
    .forget = ep_forget,
    .poll = ep_poll,
    .fd = ep_fd,
};
