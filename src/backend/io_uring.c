/*
 * io_uring.c - the io_uring backend (liburing): fd watchers through
 * IORING_OP_POLL_ADD, and asynchronous file operations (read, write, fsync,
 * openat, close) completed on the loop through the file_op hook.
 *
 * Watchers are level-triggered, as with epoll: each watcher has at most one
 * one-shot POLL_ADD in flight. When it completes, the watcher's callback
 * runs; if the watcher is still armed afterwards, a new POLL_ADD goes into
 * the submission queue and is submitted with the next poll. The kernel
 * checks readiness when it arms a poll, so a still-ready fd completes again
 * in that very io_uring_enter - the callback runs once per poll for as long
 * as the fd stays ready, exactly like epoll's level-triggered mode. A
 * multishot poll (IORING_POLL_ADD_MULTI) would save that SQE, but it posts
 * a completion only on wake-ups, not while an fd merely stays ready, so it
 * cannot give level-triggered semantics without a re-check that costs the
 * same SQE (POLL_UPDATE); and a callback that disarms its watcher - the
 * common "wake the waiting task" pattern - would then cost a POLL_REMOVE,
 * where a one-shot poll costs nothing.
 *
 * Stale completions. Polls are made for entries of the core's fd table.
 * Every POLL_ADD carries a tag (fd + a per-entry generation, be_gen) in its
 * user_data; the entry remembers the tag of the one poll that is current
 * (be_tag). A completion whose tag is not the current one - a poll that was
 * cancelled, re-armed with other events, or belonged to an fd since
 * forgotten, whose number may since have been reused - is dropped. Polls
 * that must go are cancelled with POLL_REMOVE (the SQE is queued; forget()
 * submits it at once so the file is released).
 *
 * poll() submits everything queued and waits in one io_uring_enter
 * (io_uring_submit_and_wait_timeout: nanosecond timeouts), then consumes
 * the completions one by one, so callbacks may queue new SQEs freely. A
 * full SQ is submitted and retried; a CQ overflow (-EBUSY, or the overflow
 * flag) is drained before waiting again.
 *
 * A poll keeps a reference to the file: closing an fd with close(2) while
 * a poll is in flight does not release the file (a socket stays open, its
 * peer sees no EOF) until the poll is cancelled - by simul_close or
 * simul_fd_forget, by the fd's last waiter leaving, or by a fresh arm (a
 * public wait or watcher re-registering the number). So this backend keeps
 * no lazy read interest (lazy_ok 0): with no waiter there is no poll. A
 * fresh arm re-checks the file (fstat, as epoll_ctl would refuse it) and
 * polls anew, so it watches the file the number names now.
 */
#include "backend.h"

#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef SIMUL_VALGRIND
#include <valgrind/memcheck.h>
#define VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED(p, n)
#else
#define VG_DEFINED(p, n) ((void)0)
#endif

#define SQ_ENTRIES   1024
#define CQ_ENTRIES   8192

/* user_data: the top two bits say what completed. */
#define UD_KIND_MASK (3ull << 62)
#define UD_IGNORE    0ull            /* POLL_REMOVE results, ... */
#define UD_POLL      (1ull << 62)    /* | gen << 32 | fd */
#define UD_FILE      (2ull << 62)    /* | (uintptr_t)op */
#define GEN_MASK     0x3fffffffu     /* 30 bits of generation */

/* simul__fd.be_flags */
enum {
    CHECKED = 1,   /* fstat said pollable (redone by a fresh arm) */
    FAILED  = 2,   /* the poll failed: not re-armed until armed anew */
};

struct ur {
    struct io_uring ring;
    size_t          nfileops;    /* file ops in flight */
    int             closing;     /* ur_close drains file ops: no watchers */
    int             efd;         /* eventfd for a host's poll (0: none yet) */
};

static inline uint64_t poll_ud(int fd, uint32_t gen)
{
    return UD_POLL | ((uint64_t)gen << 32) | (uint32_t)fd;
}

static int setup_ring(struct io_uring *ring)
{
    /* Cheapest first; older kernels reject unknown flags with EINVAL. */
    static const unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
            IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,
        IORING_SETUP_CQSIZE,
        0,
    };
    int r = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i];
        p.cq_entries = CQ_ENTRIES;
        r = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
        if (r != -EINVAL)
            return r;
    }
    return r;
}

static int ur_open(simul_loop *l)
{
    struct ur *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    /* ENOSYS (no io_uring), EPERM (seccomp, io_uring_disabled=2 or a
     * group restriction): the loop falls back to the next backend. */
    int r = setup_ring(&u->ring);
    if (r < 0)
        goto fail_setup;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&u->ring);
    if (!probe) {
        r = -ENOSYS;
        goto fail_probe;
    }
    static const int needed[] = { IORING_OP_POLL_ADD, IORING_OP_POLL_REMOVE,
                                  IORING_OP_READ, IORING_OP_WRITE, IORING_OP_FSYNC,
                                  IORING_OP_OPENAT, IORING_OP_CLOSE };
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!io_uring_opcode_supported(probe, needed[i]))
            r = -ENOSYS;
    io_uring_free_probe(probe);
    /* Needed too: the "-1 = file position" offset, nanosecond waits
     * (EXT_ARG, 5.11), no lost completions (NODROP) and CQE_SKIP (5.17:
     * POLL_REMOVEs post nothing when they work). An older kernel is served
     * by epoll instead. */
    if (r == 0 && (!(u->ring.features & IORING_FEAT_RW_CUR_POS) ||
                   !(u->ring.features & IORING_FEAT_EXT_ARG) ||
                   !(u->ring.features & IORING_FEAT_NODROP) ||
                   !(u->ring.features & IORING_FEAT_CQE_SKIP)))
        r = -ENOSYS;
    if (r < 0)
        goto fail_probe;
    /* Saves the fd lookup on every io_uring_enter; optional (5.18). */
    (void)io_uring_register_ring_fd(&u->ring);
    l->be_data = u;
    return 0;

fail_probe:
    io_uring_queue_exit(&u->ring);
fail_setup:
    free(u);
    return r;
}

static int reap(simul_loop *l, struct ur *u);
static struct io_uring_sqe *get_sqe(struct ur *u);

static void ur_close(simul_loop *l)
{
    struct ur *u = l->be_data;
    if (!u)
        return;
    /* A file op still in flight would write into memory its owner frees
     * once done has run: wait for every one (cancelled tasks' orphans). */
    u->closing = 1;
    if (u->nfileops > 0) {
        /* Cancel them all (a read on an idle pipe would never end); each
         * still completes, with -ECANCELED (or -EINTR), and done runs. */
        struct io_uring_sqe *sqe = get_sqe(u);
        if (sqe) {
            io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
            io_uring_sqe_set_data64(sqe, UD_IGNORE);
        }
    }
    for (int waited = 0; u->nfileops > 0 && waited < 10; waited++) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = { .tv_sec = 1 };
        int r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
        if (r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN && r != -ETIME)
            break;
        reap(l, u);
    }
    io_uring_queue_exit(&u->ring);
    if (u->efd > 0)
        close(u->efd);
    free(u);
    l->be_data = NULL;
}

/* An SQE, submitting what is queued if the SQ is full. NULL only if the
 * kernel takes nothing (then the SQ stays full: -EBUSY for the caller). */
static struct io_uring_sqe *get_sqe(struct ur *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    for (int tries = 0; !sqe && tries < 4; tries++) {
        int r = io_uring_submit(&u->ring);
        if (r < 0 && r != -EINTR && r != -EBUSY && r != -EAGAIN)
            return NULL;
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

/* Cancels e's current poll, if any; its completion becomes stale. */
static int cancel_poll(struct ur *u, simul__fd *e)
{
    if (!e->be_tag)
        return 0;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_poll_remove(sqe, poll_ud(e->fd, e->be_tag));
    /* Only a failure (the poll had already completed) posts a CQE. */
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
    e->be_tag = 0;
    return 0;
}

static unsigned poll_mask(int events)
{
    return ((events & SIMUL_READABLE) ? POLLIN | POLLRDHUP : 0) |
           ((events & SIMUL_WRITABLE) ? POLLOUT : 0);
}

/* Queues a one-shot POLL_ADD for e with a fresh tag. */
static int add_poll(struct ur *u, simul__fd *e, int events)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return -EBUSY;
    e->be_gen = (e->be_gen + 1) & GEN_MASK;
    if (e->be_gen == 0)
        e->be_gen = 1;
    io_uring_prep_poll_add(sqe, e->fd, poll_mask(events));
    io_uring_sqe_set_data64(sqe, poll_ud(e->fd, e->be_gen));
    e->be_tag = e->be_gen;
    e->be_flags &= ~FAILED;
    return 0;
}

/* Cancels e's poll and submits that at once: the poll's reference to the
 * file goes now (a socket the caller then closes is really closed: its
 * peer sees EOF), not at the next poll. GETEVENTS runs the cancelled
 * poll's completion (deferred task work), which drops the reference. */
static void release(struct ur *u, simul__fd *e)
{
    if (!e->be_tag)
        return;
    (void)cancel_poll(u, e);
    if (io_uring_sq_ready(&u->ring) > 0)
        (void)io_uring_submit_and_get_events(&u->ring);
}

static int ur_arm(simul_loop *l, simul__fd *e, int events, int fresh)
{
    struct ur *u = l->be_data;
    if (!events) {
        release(u, e);
        return 0;
    }
    int r;
    if (fresh || !(e->be_flags & CHECKED)) {
        /* What epoll_ctl(ADD) would refuse, refused here too: a closed fd,
         * and regular files (always "ready"; use file ops instead). */
        struct stat st;
        if (fstat(e->fd, &st) < 0)
            return -errno;
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
            return -EPERM;
        e->be_flags |= CHECKED;
        /* A poll in flight may be on the number's previous file. */
        if ((r = cancel_poll(u, e)) != 0)
            return r;
    } else if (e->be_tag && events != e->armed) {
        /* Other events: replace the poll in flight. */
        if ((r = cancel_poll(u, e)) != 0)
            return r;
    }
    return e->be_tag ? 0 : add_poll(u, e, events);
}

static void ur_forget(simul_loop *l, simul__fd *e)
{
    release(l->be_data, e);
    e->be_flags = 0;
}

static int revents_of(unsigned got, int armed)
{
    int rev = 0;
    if (got & POLLIN)
        rev |= SIMUL_READABLE;
    if (got & POLLOUT)
        rev |= SIMUL_WRITABLE;
    if (got & POLLERR)
        rev |= SIMUL_ERROR | (armed & (SIMUL_READABLE | SIMUL_WRITABLE));
    if (got & (POLLHUP | POLLRDHUP))
        rev |= SIMUL_HANGUP | (armed & SIMUL_READABLE);
    return rev & (armed | SIMUL_ERROR | SIMUL_HANGUP);
}

static void poll_done(simul_loop *l, struct ur *u, uint64_t ud, int res)
{
    simul__fd *e = simul__fd_find(l, (int)(uint32_t)ud);
    uint32_t gen = (uint32_t)(ud >> 32) & GEN_MASK;
    if (!e || e->be_tag != gen || u->closing)
        return;                  /* stale: cancelled, replaced or forgotten */
    e->be_tag = 0;
    int rev;
    if (res < 0) {
        /* The fd went bad under the poll (closed before the poll was
         * armed, ...): say so once; the owner's next read or write gets
         * the error itself. Not re-armed until armed anew. */
        e->be_flags |= FAILED;
        rev = SIMUL_ERROR | (e->armed & (SIMUL_READABLE | SIMUL_WRITABLE));
    } else {
        rev = revents_of((unsigned)res, e->armed);
    }
    if (rev)
        simul__fd_ready(l, e, rev);
    /* Still wanted, with nothing in flight (the dispatch may have re-armed
     * or forgotten it): poll again - level-triggered. Entries outlive
     * callbacks, so e is still valid. */
    if (e->armed && !e->be_tag && !(e->be_flags & FAILED))
        (void)add_poll(u, e, e->armed);
}

static void file_done(struct ur *u, simul_loop *l, uint64_t ud, int res)
{
    simul__fileop *op = (simul__fileop *)(uintptr_t)(ud & ~UD_KIND_MASK);
    u->nfileops--;
    atomic_fetch_sub(&l->external, 1);
    if (op->opcode == SIMUL__FOP_READ && res > 0)
        VG_DEFINED(op->buf, (size_t)res);
    op->result = res;
    op->done(op);
}

/* Consumes the completions that are there when it starts (and those the
 * CQ overflowed with). Each is marked seen before its callback runs, so
 * callbacks may submit (and so post) freely; what they cause waits for the
 * next poll - a level-triggered re-arm of a ready fd completes at once, so
 * consuming until the CQ is empty would never end. */
static int reap(simul_loop *l, struct ur *u)
{
    int n = 0;
    for (int round = 0; round < 8; round++) {
        struct io_uring_cqe *cqe;
        unsigned budget = io_uring_cq_ready(&u->ring);
        while (budget-- > 0 && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
            uint64_t ud = io_uring_cqe_get_data64(cqe);
            int res = cqe->res;
            io_uring_cqe_seen(&u->ring, cqe);
            n++;
            switch (ud & UD_KIND_MASK) {
            case UD_POLL:
                poll_done(l, u, ud, res);
                break;
            case UD_FILE:
                file_done(u, l, ud, res);
                break;
            default:
                break;
            }
        }
        /* Completions the CQ had no room for wait in the kernel's
         * overflow list: flush them in and go on. */
        if (!(IO_URING_READ_ONCE(*u->ring.sq.kflags) & IORING_SQ_CQ_OVERFLOW))
            break;
        (void)io_uring_get_events(&u->ring);
    }
    return n;
}

static int ur_poll(simul_loop *l, int64_t timeout_ns)
{
    struct ur *u = l->be_data;
    struct io_uring_cqe *cqe;
    int r;
    if (timeout_ns == 0) {
        r = io_uring_submit_and_get_events(&u->ring);
    } else if (timeout_ns < 0) {
        r = io_uring_submit_and_wait(&u->ring, 1);
    } else {
        struct __kernel_timespec ts = { .tv_sec = timeout_ns / SIMUL__NS_PER_S,
                                        .tv_nsec = timeout_ns % SIMUL__NS_PER_S };
        r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    /* ETIME: the timeout passed; EINTR: a signal; EBUSY/EAGAIN: the CQ is
     * full (or the kernel is short of memory) - reaping makes room. */
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
        return r;
    if (SIMUL__UNLIKELY(u->efd > 0)) {
        /* A host polls the eventfd: reset it before reaping, so a
         * completion posted from here on makes it readable again. */
        uint64_t v;
        ssize_t n = read(u->efd, &v, sizeof v);
        (void)n;
    }
    reap(l, u);
    return 0;
}

static int ur_file_op(simul_loop *l, simul__fileop *op)
{
    struct ur *u = l->be_data;
    if (!op || !op->done)
        return -EINVAL;
    if ((op->opcode == SIMUL__FOP_READ || op->opcode == SIMUL__FOP_WRITE) &&
        (!op->buf && op->len))
        return -EFAULT;
    if (op->opcode == SIMUL__FOP_OPEN && !op->path)
        return -EFAULT;
    if (op->opcode < SIMUL__FOP_READ || op->opcode > SIMUL__FOP_CLOSE)
        return -EINVAL;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return -EBUSY;
    /* One SQE moves at most 4 GiB - 1; ask for 1 GiB at most, as read(2)
     * moves at most 2 GiB: a short count the caller continues from. */
    unsigned len = op->len > (1u << 30) ? 1u << 30 : (unsigned)op->len;
    uint64_t off = op->offset < 0 ? (uint64_t)-1 : (uint64_t)op->offset;
    switch (op->opcode) {
    case SIMUL__FOP_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, len, off);
        break;
    case SIMUL__FOP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf, len, off);
        break;
    case SIMUL__FOP_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, op->flags == 1 ? IORING_FSYNC_DATASYNC : 0);
        break;
    case SIMUL__FOP_OPEN:
        io_uring_prep_openat(sqe, AT_FDCWD, op->path, op->flags, op->mode);
        break;
    case SIMUL__FOP_CLOSE:
        io_uring_prep_close(sqe, op->fd);
        break;
    }
    io_uring_sqe_set_data64(sqe, UD_FILE | (uint64_t)(uintptr_t)op);
    u->nfileops++;
    /* The loop must keep polling (not call it a deadlock) until done runs. */
    atomic_fetch_add(&l->external, 1);
    return 0;
}

/*
 * Asks the kernel to cancel op, a file op of this loop still in flight
 * (done not yet run; never after done: the op's memory may by then carry
 * another op). done still runs exactly once: with -ECANCELED (or -EINTR)
 * if the cancel won, else with the op's own result - bytes a READ got are
 * in the buffer and must be kept. A READ or WRITE on a socket or pipe
 * waiting for readiness is always cancellable; one already running in a
 * kernel worker (a regular file) may just finish. 0 or -EBUSY (SQ full).
 * Not yet in struct simul__backend: this is the hook a completion-based
 * stream layer needs (a reader's task is cancelled, a deadline passes), to
 * become its file_cancel member.
 */
int simul__io_uring_cancel(simul_loop *l, simul__fileop *op);
int simul__io_uring_cancel(simul_loop *l, simul__fileop *op)
{
    struct ur *u = l->be_data;
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_cancel64(sqe, UD_FILE | (uint64_t)(uintptr_t)op, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
    return 0;
}

/* What a host polls. Not the ring fd: with DEFER_TASKRUN (the cheapest
 * setup) a poll completion is deferred task work, which never wakes a
 * poll(2) on the ring fd; it does signal a registered eventfd. Created on
 * first request, so loops nobody embeds pay nothing. */
static int ur_fd(simul_loop *l)
{
    struct ur *u = l->be_data;
    if (u->efd > 0)
        return u->efd;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0)
        return -errno;
    int r = io_uring_register_eventfd(&u->ring, efd);
    if (r < 0) {
        close(efd);
        return r;
    }
    u->efd = efd;
    return efd;
}

const simul__backend simul__backend_io_uring = {
    .name = "io_uring",
    .open = ur_open,
    .close = ur_close,
    .arm = ur_arm,
    .forget = ur_forget,
    .poll = ur_poll,
    .file_op = ur_file_op,
    .fd = ur_fd,
    .lazy_ok = 0,
};
