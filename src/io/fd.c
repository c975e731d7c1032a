/*
 * fd.c - the I/O layer's face of the core's fd table (core/fd.c):
 * simul_wait_fd, and simul_close - the runtime's close(2), which first
 * makes the table forget the fd (waiters woken with -EBADF, out of the
 * poller, collected events made stale) so nothing meant for this file
 * reaches a later owner of the number. Also non-blocking set-up, which
 * the networking files share.
 */
#include "net_internal.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int simul_wait_fd(int fd, int events, double deadline)
{
    if (!(events & (SIMUL_READABLE | SIMUL_WRITABLE)) || isnan(deadline))
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    if (fd < 0)
        return -EBADF;
    /* The fd is the caller's: it may have been closed and reopened since
     * the last wait (FOREIGN re-registers it). */
    return simul__fd_wait(fd, events & (SIMUL_READABLE | SIMUL_WRITABLE),
                          simul__deadline_ns(deadline), SIMUL__FDW_FOREIGN);
}

int simul_close(int fd)
{
    if (fd < 0)
        return -EBADF;
    simul_loop *l = simul__loop();
    if (l)
        simul__fd_forget(l, fd);
    return close(fd) == 0 ? 0 : -errno;
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
