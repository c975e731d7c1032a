/*
 * epoll.c - the epoll backend (level-triggered, one registration per fd
 * table entry).
 *
 * Each registration carries the fd and a tag (the entry's be_gen, new for
 * every EPOLL_CTL_ADD) in its data. An event whose tag is not the entry's
 * current one - collected before the fd was forgotten, or coming from an
 * old file that a dup keeps registered after its number was closed and
 * reused - is dropped, so no event reaches a later owner of the number.
 * epoll registers files, not numbers: re-arming does MOD and, if the
 * kernel answers ENOENT (the file was closed behind our back), ADDs the
 * file the number names now. Timeouts use epoll_pwait2 (nanoseconds) where
 * the kernel has it, else epoll_wait rounded up to whole milliseconds.
 */
#include "backend.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256

struct ep {
    int epfd;
    struct epoll_event ev[BATCH];
};

enum { REGISTERED = 1 };   /* simul__fd.be_flags */

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

/* epoll_data: the fd and the entry's registration tag (be_gen). */
static inline uint64_t ev_tag(const simul__fd *e)
{
    return (uint64_t)e->be_gen << 32 | (uint32_t)e->fd;
}

static void ep_forget(simul_loop *l, simul__fd *e)
{
    struct ep *e_ = l->be_data;
    if (!(e->be_flags & REGISTERED))
        return;
    /* The fd may already be closed: the kernel dropped it then. */
    struct epoll_event ev = { 0 };
    (void)epoll_ctl(e_->epfd, EPOLL_CTL_DEL, e->fd, &ev);
    e->be_flags = 0;
}

static int ep_arm(simul_loop *l, simul__fd *e, int events, int fresh)
{
    (void)fresh;   /* MOD checks the file anyway */
    struct ep *ep = l->be_data;
    if (!events) {
        ep_forget(l, e);
        return 0;
    }
    struct epoll_event ev = { 0 };
    ev.events = ((events & SIMUL_READABLE) ? EPOLLIN | EPOLLRDHUP : 0) |
                ((events & SIMUL_WRITABLE) ? EPOLLOUT : 0);
    if (e->be_flags & REGISTERED) {
        ev.data.u64 = ev_tag(e);
        if (epoll_ctl(ep->epfd, EPOLL_CTL_MOD, e->fd, &ev) == 0)
            return 0;
        if (errno != ENOENT)
            return -errno;
        /* The file registered is gone: closed behind our back, and maybe
         * another has the number now. Register that one, below. */
        e->be_flags = 0;
    }
    /* A new tag for every registration: events of an old one - collected
     * before a forget, or from an old file kept open elsewhere by a dup -
     * are told apart and dropped. */
    e->be_gen++;
    ev.data.u64 = ev_tag(e);
    if (epoll_ctl(ep->epfd, EPOLL_CTL_ADD, e->fd, &ev) < 0) {
        if (errno != EEXIST || epoll_ctl(ep->epfd, EPOLL_CTL_MOD, e->fd, &ev) < 0)
            return -errno;
    }
    e->be_flags = REGISTERED;
    return 0;
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
    for (int i = 0; i < n; i++) {
        uint64_t tag = e->ev[i].data.u64;
        simul__fd *f = simul__fd_find(l, (int)(uint32_t)tag);
        /* Stale: forgotten, or registered anew since it was collected. */
        if (!f || f->be_gen != (uint32_t)(tag >> 32) || !(f->be_flags & REGISTERED))
            continue;
        uint32_t got = e->ev[i].events;
        int rev = 0;
        if (got & EPOLLIN)
            rev |= SIMUL_READABLE;
        if (got & EPOLLOUT)
            rev |= SIMUL_WRITABLE;
        if (got & EPOLLERR)
            rev |= SIMUL_ERROR | (f->armed & (SIMUL_READABLE | SIMUL_WRITABLE));
        if (got & (EPOLLHUP | EPOLLRDHUP))
            rev |= SIMUL_HANGUP | (f->armed & SIMUL_READABLE);
        rev &= f->armed | SIMUL_ERROR | SIMUL_HANGUP;
        if (rev)
            simul__fd_ready(l, f, rev);
    }
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
    .lazy_ok = 1,
};
