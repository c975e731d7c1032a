/*
 * net_internal.h - what the networking files of the I/O layer share: the
 * per-loop fd table (fd.c) and its waiter records.
 *
 * Each fd a task waits on has one slot in the loop's table, holding the
 * fd's single simul_watch and two wait lists (readers, writers). A waiter
 * is either a parked task (woken through simul__wake with the ready events
 * or -errno) or a callback (streams flush their output from the loop that
 * way, without a task). The watcher's interest follows the wait lists:
 * read interest stays armed after readers are woken (a reader usually waits
 * again soon, so the common read-wait-read cycle costs no epoll_ctl) and is
 * dropped the first time it fires with nobody waiting; write interest is
 * dropped as soon as no writer waits (it would fire on every poll).
 */
#ifndef SIMUL_IO_NET_INTERNAL_H
#define SIMUL_IO_NET_INTERNAL_H

#include "../core/internal.h"

#include <netdb.h>

typedef struct simul__fdwait simul__fdwait;
struct simul__fdwait {
    simul__list   link;       /* in the slot's readers or writers list */
    simul__task  *task;       /* parked task, or NULL for a callback waiter */
    void        (*cb)(simul__fdwait *w, int res);  /* res: revents or -errno */
    int           events;     /* SIMUL_READABLE or SIMUL_WRITABLE (one) */
};

/* Registers w (one direction) on fd's slot and arms the watcher as needed.
 * w->task or w->cb must be set. 0, -EBADF, -EMFILE, -ENOMEM, or a poller
 * error. The first event (or simul_close) unlinks w and wakes/calls it. */
int  simul__fd_wait_add(simul_loop *l, int fd, simul__fdwait *w);
/* Unlinks w if still registered (after a cancel or timeout). */
void simul__fd_wait_del(simul_loop *l, int fd, simul__fdwait *w);
/* 1 if w is still registered. */
static inline int simul__fd_wait_linked(const simul__fdwait *w)
{
    return simul__list_linked(&w->link);
}
/* Parks the current task until fd is ready for `events` (one direction),
 * the deadline (loop ns, SIMUL__NO_DEADLINE) or cancellation. Returns
 * revents > 0 or -errno as simul_wait_fd. */
int  simul__fd_wait(int fd, int events, int64_t deadline_ns);


/* Resolved addresses (copied out of getaddrinfo's list; hard cap). */
#define SIMUL__MAX_ADDRS 16
typedef struct simul__addrs {
    int n;
    struct sockaddr_storage a[SIMUL__MAX_ADDRS];
    socklen_t len[SIMUL__MAX_ADDRS];
} simul__addrs;
/* Resolves host:port (numeric, "localhost", a name; NULL with passive:
 * the wildcard addresses) for `socktype`. Names go through the async
 * resolver. 0, a SIMUL_EAI_* code, -EINVAL, -ECANCELED. */
int  simul__net_resolve(const char *host, int port, int socktype, int passive,
                        simul__addrs *out);

/* simul_stream_close that gives up flushing at `deadline` (loop ns): then
 * the stream is aborted (simul_stream_abort) and -ETIMEDOUT returned. The
 * server's implicit close after a handler returns. */
int  simul__stream_close_until(simul_stream *s, int64_t deadline);
/* Marks a server's stream: simul_stream_abort from the handler closes the
 * fd and discards the bytes, and simul__stream_close_until frees it. */
void simul__stream_set_owned(simul_stream *s);

/* Sets O_NONBLOCK (and FD_CLOEXEC). 0 or -errno. */
int  simul__set_nonblock(int fd);

#endif
