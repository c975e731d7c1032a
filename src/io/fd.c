/*
 * fd.c - waiting on file descriptors, and the runtime's close.
 *
 * Each loop has a table indexed by fd number (a module of the loop,
 * attached on first use; its close hook frees it before the backend
 * closes). A slot holds the fd's one
 * simul_watch, its readers and writers (simul__fdwait records, which live
 * in the waiters' frames or in streams) and a generation counter that
 * simul_close bumps: a task woken for an fd that was closed - and perhaps
 * reopened under the same number - before it got to run sees the changed
 * generation and returns -EBADF instead of a readiness meant for the old
 * file. simul_close also removes the fd from the poller (and scrubs its
 * collected events) before close(2), so the poller never reports the old
 * file's events under the new number.
 */
#include "net_internal.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TABLE_CAP (1u << 24)   /* hard cap on fd numbers we track */

struct slot {
    simul_watch *w;            /* NULL until someone waits */
    uint32_t     gen;          /* bumped by simul_close */
    int          fd;
    simul__list  readers, writers;
};

struct nettab {
    struct slot **slots;       /* by fd; each slot allocated on first use */
    size_t        cap;
};

static void table_close(simul_loop *l, void *data);

static simul__module fd_module = {
    .name = "fdtable",
    .size = sizeof(struct nettab),
    .close = table_close,
};

static struct nettab *table(simul_loop *l, int create)
{
    return create ? simul__module_data(l, &fd_module) : simul__module_peek(l, &fd_module);
}

static struct slot *slot_find(simul_loop *l, int fd)
{
    struct nettab *t = table(l, 0);
    if (!t || (size_t)fd >= t->cap)
        return NULL;
    return t->slots[fd];
}

static struct slot *slot_get(simul_loop *l, int fd, int *err)
{
    struct nettab *t = table(l, 1);
    if (!t) {
        *err = -ENOMEM;
        return NULL;
    }
    if (SIMUL__UNLIKELY((size_t)fd >= t->cap)) {
        if ((size_t)fd >= TABLE_CAP) {
            *err = -EMFILE;
            return NULL;
        }
        size_t cap = t->cap ? t->cap : 256;
        while (cap <= (size_t)fd)
            cap *= 2;
        struct slot **s = realloc(t->slots, cap * sizeof *s);
        if (!s) {
            *err = -ENOMEM;
            return NULL;
        }
        memset(s + t->cap, 0, (cap - t->cap) * sizeof *s);
        t->slots = s;
        t->cap = cap;
    }
    struct slot *s = t->slots[fd];
    if (SIMUL__UNLIKELY(!s)) {
        s = calloc(1, sizeof *s);
        if (!s) {
            *err = -ENOMEM;
            return NULL;
        }
        s->fd = fd;
        simul__list_init(&s->readers);
        simul__list_init(&s->writers);
        t->slots[fd] = s;
    }
    return s;
}

/* Moves every record of src to dst (an empty local head). Waking from a
 * private list lets a callback waiter register again without being seen
 * twice in one round. */
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

static void wake_all(simul__list *from, int res)
{
    simul__list l;
    list_take(&l, from);
    simul__list *n;
    while ((n = simul__list_pop(&l)) != NULL) {
        simul__fdwait *w = simul__container_of(n, simul__fdwait, link);
        if (w->task)
            simul__wake(w->task, res);
        else
            w->cb(w, res);
    }
}

/* The interest the slot's waiters need; read interest may stay on lazily. */
static void slot_rearm(struct slot *s, int keep_read)
{
    if (!s->w)
        return;
    int ev = 0;
    if (!simul__list_empty(&s->readers) || keep_read)
        ev |= SIMUL_READABLE;
    if (!simul__list_empty(&s->writers))
        ev |= SIMUL_WRITABLE;
    if (ev != s->w->events)
        simul_watch_set(s->w, ev);   /* dropping interest cannot fail */
}

static void slot_ready(simul_watch *w, int revents, void *arg)
{
    (void)w;
    struct slot *s = arg;
    int keep_read = 0;
    /* A half-close by the peer (HANGUP alone) concerns readers only:
     * waking writers for it would spin while they wait for buffer space. */
    if (revents & (SIMUL_READABLE | SIMUL_ERROR | SIMUL_HANGUP)) {
        keep_read = !simul__list_empty(&s->readers);
        wake_all(&s->readers, revents);
    }
    if (revents & (SIMUL_WRITABLE | SIMUL_ERROR))
        wake_all(&s->writers, revents);
    /* A callback may have closed the fd (s->w is NULL then). Read interest
     * stays on after waking readers: they usually wait again at once. */
    slot_rearm(s, keep_read);
}

int simul__fd_wait_add(simul_loop *l, int fd, simul__fdwait *w)
{
    if (fd < 0)
        return -EBADF;
    int err = 0;
    struct slot *s = slot_get(l, fd, &err);
    if (!s)
        return err;
    if (SIMUL__UNLIKELY(!s->w)) {
        s->w = simul_watch_new(fd, slot_ready, s);
        if (!s->w)
            return -errno;
    }
    int want = s->w->events | w->events;
    if (want != s->w->events) {
        err = simul_watch_set(s->w, want);
        if (err)
            return err;
    }
    simul__list_push(w->events & SIMUL_READABLE ? &s->readers : &s->writers, &w->link);
    return 0;
}

void simul__fd_wait_del(simul_loop *l, int fd, simul__fdwait *w)
{
    if (!simul__list_linked(&w->link))
        return;
    simul__list_remove(&w->link);
    struct slot *s = slot_find(l, fd);
    /* Drop write interest nobody needs; read interest stays (lazy). */
    if (s && s->w && (s->w->events & SIMUL_WRITABLE) && simul__list_empty(&s->writers))
        slot_rearm(s, (s->w->events & SIMUL_READABLE) != 0);
}

int simul__fd_wait(int fd, int events, int64_t deadline_ns)
{
    simul_loop *l = simul__loop();
    simul__task *t = simul__current();
    if (!t)
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    if (simul__cancel_pending(t))
        return -ECANCELED;
    simul__fdwait w[2];        /* read, write */
    int n = 0, r;
    if (events & SIMUL_READABLE) {
        w[n] = (simul__fdwait){ .task = t, .events = SIMUL_READABLE };
        if ((r = simul__fd_wait_add(l, fd, &w[n])) < 0)
            goto out;
        n++;
    }
    if (events & SIMUL_WRITABLE) {
        w[n] = (simul__fdwait){ .task = t, .events = SIMUL_WRITABLE };
        if ((r = simul__fd_wait_add(l, fd, &w[n])) < 0)
            goto out;
        n++;
    }
    struct slot *s = slot_find(l, fd);
    uint32_t gen = s->gen;
    r = simul__park_until(deadline_ns, 0, "fd", __builtin_return_address(0));
    /* Closed (and maybe reopened) before we ran: never report the new
     * file's readiness as the old one's. */
    if (s->gen != gen && r > 0)
        r = -EBADF;
out:
    for (int i = 0; i < n; i++)
        simul__fd_wait_del(l, fd, &w[i]);
    return r;
}

int simul_wait_fd(int fd, int events, double deadline)
{
    if (!(events & (SIMUL_READABLE | SIMUL_WRITABLE)) || isnan(deadline))
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    return simul__fd_wait(fd, events & (SIMUL_READABLE | SIMUL_WRITABLE),
                          simul__deadline_ns(deadline));
}

int simul_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    simul_loop *l = simul__loop();
    struct slot *s = l ? slot_find(l, fd) : NULL;
    if (s) {
        s->gen++;
        simul_watch *w = s->w;
        s->w = NULL;
        /* Out of the poller first (EPOLL_CTL_DEL, batch scrubbed), so
         * nothing collected for this file reaches a later owner. */
        simul_watch_free(w);
        wake_all(&s->readers, -EBADF);
        wake_all(&s->writers, -EBADF);
    }
    return close(fd) == 0 ? 0 : -errno;
}

static void table_close(simul_loop *l, void *data)
{
    (void)l;
    struct nettab *t = data;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i]) {
            simul_watch_free(t->slots[i]->w);
            free(t->slots[i]);
        }
    }
    free(t->slots);
}

int simul__set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl >= 0 && !(fdfl & FD_CLOEXEC))
        fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC);
    return 0;
}
