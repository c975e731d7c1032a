/*
 * fd.c - the loop's one fd table: every interest in a descriptor (a task in
 * simul_wait_fd or a stream call, a stream's flush callback, a public
 * simul_watch) is a handle linked on the entry for its fd number.
 *
 * The entry merges its handles' events into one backend registration and,
 * when the backend reports the fd ready, hands each handle its share: a
 * task or one-shot callback is unlinked and woken, a watcher stays. So a
 * task wait and any number of watchers coexist on one fd, and removing a
 * handle (freeing a watcher, a wait that timed out) unlinks exactly that
 * handle - by identity, as libuv's uv__io_stop - and touches the
 * registration only if the merged interest changed: a watcher freed after
 * its fd number was reused never disturbs the number's new owner.
 *
 * Descriptors the runtime does not own. The kernel registers a file, not a
 * number: a close(2) done behind the runtime's back silently drops an epoll
 * registration (io_uring's poll keeps the old file alive instead), and a
 * new file may then get the number. Handles flagged FOREIGN (public waits
 * and watchers) therefore re-register the number every time they are added
 * ("fresh": epoll MOD, and ADD if the kernel says ENOENT; io_uring cancels
 * its poll and polls anew), so the next wait after such a close sees the
 * file the number names now. The runtime's own descriptors skip that: it
 * closes them with simul_close, and forgets whatever the table held for a
 * number when it creates a descriptor under it (simul__fd_forget). An
 * explicit forget (simul_close, simul_fd_forget) bumps the entry's
 * generation: a task woken with readiness just before sees the change and
 * reports -EBADF instead of an event meant for the old file.
 *
 * Interest follows the handles, except that read interest may stay armed
 * with no reader (lazy, on backends where that is free: epoll) - a reader
 * usually waits again at once, so the read-wait-read cycle costs no
 * epoll_ctl - until a read event finds nobody waiting. Write interest is
 * dropped as soon as no handle wants it (it would fire on every poll).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_CAP (1u << 24)   /* hard cap on fd numbers tracked */

#define RW (SIMUL_READABLE | SIMUL_WRITABLE)

static simul__fd *entry_get(simul_loop *l, int fd, int *err)
{
    if (SIMUL__UNLIKELY((size_t)fd >= l->nfds)) {
        if ((size_t)fd >= TABLE_CAP) {
            *err = -EMFILE;
            return NULL;
        }
        size_t cap = l->nfds ? l->nfds : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        simul__fd **t = realloc(l->fds, cap * sizeof *t);
        if (!t) {
            *err = -ENOMEM;
            return NULL;
        }
        memset(t + l->nfds, 0, (cap - l->nfds) * sizeof *t);
        l->fds = t;
        l->nfds = cap;
    }
    simul__fd *e = l->fds[fd];
    if (SIMUL__UNLIKELY(!e)) {
        e = calloc(1, sizeof *e);
        if (!e) {
            *err = -ENOMEM;
            return NULL;
        }
        e->fd = fd;
        simul__list_init(&e->handles);
        simul__list_init(&e->firing);
        l->fds[fd] = e;
    }
    return e;
}

/* ---- handles ------------------------------------------------------------- */

/* What a registered handle with these flags counts for in the loop: the
 * busy loop's poll (not QUIET), the deadlock breaker (not UNREF). */
static void loop_count(simul_loop *l, int flags, int d)
{
    if (!(flags & SIMUL__FDW_QUIET))
        l->nwatch += (size_t)(ptrdiff_t)d;
    if (!(flags & SIMUL__FDW_UNREF))
        l->nwatch_ref += (size_t)(ptrdiff_t)d;
}

static void count(simul_loop *l, simul__fd *e, const simul__fdwait *w, int d)
{
    if (w->events & SIMUL_READABLE)
        e->nread += (uint32_t)d;
    if (w->events & SIMUL_WRITABLE)
        e->nwrite += (uint32_t)d;
    loop_count(l, w->flags, d);
    SIMUL__ASSERT(e->nread < (1u << 31) && e->nwrite < (1u << 31));
}

static void link_handle(simul_loop *l, simul__fd *e, simul__fdwait *w)
{
    simul__list_push(&e->handles, &w->link);
    count(l, e, w, 1);
}

/* w leaves e (already off the list when popped by a dispatch). A reader
 * that leaves keeps read interest armed where that is free (lazy). */
static void left(simul_loop *l, simul__fd *e, simul__fdwait *w, int lazy)
{
    count(l, e, w, -1);
    if (lazy && (w->events & SIMUL_READABLE) && l->be->lazy_ok)
        e->lazy = SIMUL_READABLE;
}

/* Brings the backend registration in line with the handles. */
static int update(simul_loop *l, simul__fd *e, int fresh)
{
    int want = (e->nread ? SIMUL_READABLE : 0) | (e->nwrite ? SIMUL_WRITABLE : 0) | e->lazy;
    if (want == e->armed && !(fresh && want))
        return 0;
    int r = l->be->arm(l, e, want, fresh && want);
    if (r == 0)
        e->armed = want;
    return r;
}

int simul__fd_wait_add(simul_loop *l, int fd, simul__fdwait *w)
{
    if (fd < 0)
        return -EBADF;
    SIMUL__ASSERT(w->events & RW);
    SIMUL__ASSERT(!simul__list_linked(&w->link));
    int err = 0;
    simul__fd *e = entry_get(l, fd, &err);
    if (!e)
        return err;
    link_handle(l, e, w);
    err = update(l, e, w->flags & SIMUL__FDW_FOREIGN);
    if (SIMUL__UNLIKELY(err)) {
        simul__list_remove(&w->link);
        left(l, e, w, 0);
    }
    return err;
}

void simul__fd_wait_del(simul_loop *l, int fd, simul__fdwait *w)
{
    if (!simul__list_linked(&w->link))
        return;
    simul__fd *e = simul__fd_find(l, fd);
    SIMUL__ASSERT(e != NULL);
    simul__list_remove(&w->link);
    left(l, e, w, 1);
    (void)update(l, e, 0);   /* dropping interest cannot fail */
}

/* What of revents concerns a handle wanting `want`, or 0 if nothing does.
 * A hangup alone (a peer's half-close) is for readers only: writers woken
 * for it would spin while they wait for buffer space. */
static inline int share(int want, int revents)
{
    int got = revents & (want | SIMUL_ERROR | SIMUL_HANGUP);
    if (got & (want | SIMUL_ERROR))
        return got;
    return (want & SIMUL_READABLE) ? got : 0;
}

/* Moves every node of src to dst (an empty head). */
static void list_take(simul__list *dst, simul__list *src)
{
    simul__list_init(dst);
    if (simul__list_empty(src))
        return;
    dst->next = src->next;
    dst->prev = src->prev;
    dst->next->prev = dst;
    dst->prev->next = dst;
    simul__list_init(src);
}

static void fire(simul__fdwait *w, int res)
{
    if (w->task)
        simul__wake(w->task, res);
    else
        w->cb(w, res);
}

void simul__fd_ready(simul_loop *l, simul__fd *e, int revents)
{
    /* A read event nobody waits for ends lazy read interest. */
    if (!e->nread && (revents & (SIMUL_READABLE | SIMUL_HANGUP | SIMUL_ERROR)))
        e->lazy = 0;
    /* Handles are visited from e->firing, so a callback may free, add or
     * re-register any handle (or forget the fd) while this runs: what it
     * adds waits for the next event, what it removes is never reached. */
    SIMUL__ASSERT(simul__list_empty(&e->firing));
    list_take(&e->firing, &e->handles);
    simul__list *n;
    while ((n = simul__list_pop(&e->firing)) != NULL) {
        simul__fdwait *w = simul__container_of(n, simul__fdwait, link);
        int got = share(w->events, revents);
        if (!got || (w->flags & SIMUL__FDW_KEEP))
            simul__list_push(&e->handles, n);
        else
            left(l, e, w, 1);
        if (got)
            fire(w, got);
    }
    (void)update(l, e, 0);
}

/* ---- forgetting ----------------------------------------------------------- */

void simul__fd_forget(simul_loop *l, int fd)
{
    simul__fd *e = l ? simul__fd_find(l, fd) : NULL;
    if (!e)
        return;
    e->gen++;
    /* Out of the poller first, so nothing collected for this file reaches
     * a later owner of the number. */
    if (e->armed || e->be_flags || e->be_tag)
        l->be->forget(l, e);
    e->armed = 0;
    e->lazy = 0;
    /* Every handle, including those a running dispatch has not reached:
     * waiters get -EBADF, watchers are paused (their owner frees them). A
     * waiter's callback may register again: that starts afresh. */
    simul__list all;
    list_take(&all, &e->handles);
    while (!simul__list_empty(&e->firing))
        simul__list_push(&all, simul__list_pop(&e->firing));
    simul__list *n;
    while ((n = simul__list_pop(&all)) != NULL) {
        simul__fdwait *w = simul__container_of(n, simul__fdwait, link);
        left(l, e, w, 0);
        if (!(w->flags & SIMUL__FDW_KEEP))
            fire(w, -EBADF);
    }
}

int simul_fd_forget(int fd)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    simul__fd_forget(l, fd);
    return 0;
}

void simul__fds_close(simul_loop *l)
{
    for (size_t i = 0; i < l->nfds; i++) {
        simul__fd *e = l->fds[i];
        if (!e)
            continue;
        /* Watchers their owner never freed: unlinked, so a late
         * simul_watch_free touches nothing. */
        simul__list *n;
        while ((n = simul__list_pop(&e->handles)) != NULL)
            ;
        free(e);
    }
    free(l->fds);
    l->fds = NULL;
    l->nfds = 0;
}

/* ---- task waits ------------------------------------------------------------ */

int simul__fd_wait(int fd, int events, int64_t deadline_ns, int flags)
{
    simul_loop *l = simul__loop();
    simul__task *t = simul__current();
    if (!t)
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    if (simul__cancel_pending(t))
        return -ECANCELED;
    simul__fdwait w = { .task = t, .events = events & RW,
                        .flags = flags & SIMUL__FDW_FOREIGN };
    int r = simul__fd_wait_add(l, fd, &w);
    if (r < 0)
        return r;
    simul__fd *e = simul__fd_find(l, fd);
    uint32_t gen = e->gen;
    r = simul__park_until(deadline_ns, 0, "fd", __builtin_return_address(0));
    /* Forgotten (closed, maybe reopened) before we ran: never report the
     * new file's readiness as the old one's. */
    if (e->gen != gen && r > 0)
        r = -EBADF;
    simul__fd_wait_del(l, fd, &w);
    return r;
}

/* ---- public watchers --------------------------------------------------------- */

static void watch_fire(simul__fdwait *h, int revents)
{
    simul_watch *w = simul__container_of(h, simul_watch, h);
    w->cb(w, revents, w->arg);
}

simul_watch *simul_watch_new(int fd, simul_watch_cb cb, void *arg)
{
    simul_loop *l = simul__loop();
    if (!l) {
        errno = EPERM;
        return NULL;
    }
    if (fd < 0 || !cb) {
        errno = fd < 0 ? EBADF : EINVAL;
        return NULL;
    }
    simul_watch *w = calloc(1, sizeof *w);
    if (!w) {
        errno = ENOMEM;
        return NULL;
    }
    simul__list_init(&w->h.link);
    w->h.cb = watch_fire;
    w->h.flags = SIMUL__FDW_KEEP | SIMUL__FDW_FOREIGN;
    w->loop = l;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    return w;
}

int simul_watch_set(simul_watch *w, int events)
{
    if (!w)
        return -EINVAL;
    simul_loop *l = w->loop;
    events &= RW;
    if (simul__list_linked(&w->h.link)) {
        simul__fd *e = simul__fd_find(l, w->fd);
        simul__list_remove(&w->h.link);
        left(l, e, &w->h, 0);
        if (!events) {
            w->h.events = 0;
            (void)update(l, e, 0);
            return 0;
        }
    }
    w->h.events = events;
    if (!events)
        return 0;
    /* Registered afresh every time: the fd is the caller's, and may have
     * been closed and reopened since (see the file comment). */
    int r = simul__fd_wait_add(l, w->fd, &w->h);
    if (r) {
        /* Paused; the interest it had before goes too. */
        w->h.events = 0;
        simul__fd *e = simul__fd_find(l, w->fd);
        if (e)
            (void)update(l, e, 0);
    }
    return r;
}

void simul__watch_flags(simul_watch *w, int flags)
{
    int mask = SIMUL__FDW_UNREF | SIMUL__FDW_QUIET;
    flags = (w->h.flags & ~mask) | (flags & mask);
    if (simul__list_linked(&w->h.link)) {
        loop_count(w->loop, w->h.flags, -1);
        loop_count(w->loop, flags, 1);
    }
    w->h.flags = flags;
}

int simul_watch_unref(simul_watch *w)
{
    if (!w)
        return -EINVAL;
    simul__watch_flags(w, w->h.flags | SIMUL__FDW_UNREF);
    return 0;
}

int simul_watch_ref(simul_watch *w)
{
    if (!w)
        return -EINVAL;
    simul__watch_flags(w, w->h.flags & ~SIMUL__FDW_UNREF);
    return 0;
}

int simul_watch_fd(const simul_watch *w)
{
    return w ? w->fd : -EINVAL;
}

void simul_watch_free(simul_watch *w)
{
    if (!w)
        return;
    if (simul__list_linked(&w->h.link))
        simul__fd_wait_del(w->loop, w->fd, &w->h);
    free(w);
}
