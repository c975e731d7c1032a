/*
 * file.c - asynchronous files (aiofiles): open, read, write (append with
 * O_APPEND), fsync, close and read lines, without blocking the loop.
 *
 * Every system call is a simul__fileop. When the loop's backend has the
 * file_op hook (io_uring) the op goes to the kernel's ring; otherwise (or
 * when the ring's submission queue is full) it runs in the thread pool.
 * Which path a loop takes is decided once, when the file module attaches
 * to it (SIMUL_FILE_POOL=1, read once per process, forces the pool: a
 * testing aid). The
 * task waits for the op without being cancellable once it started (as trio's
 * file I/O in threads): a file op cannot be taken back half-way, so its real
 * result is returned and the cancellation is seen at the task's next
 * suspension point. Only a task already cancelled when it calls is refused
 * (-ECANCELED) before anything happens. Because the wait always lasts until
 * the op is done, the op and its buffer live in the caller's frame.
 *
 * Buffering, as Python's open(): writes gather in a buffer (64 KiB unless
 * set otherwise) flushed when full, by flush, fsync and close; reads and
 * read lines fill a read-ahead buffer. A write the disk refuses is never
 * lost silently: the bytes that could not be written stay in the buffer,
 * the call that tried to write them returns the error, and a later flush
 * tries again; close reports it (and only then drops them).
 */
#include "sys_internal.h"
#include "../core/buf.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CALLER() __builtin_return_address(0)

/* The file module's per-loop state: does this loop use the ring? */
typedef struct file_loop {
    int ring;
} file_loop;

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int env_pool_only;

static void env_read(void)
{
    const char *p = getenv("SIMUL_FILE_POOL");
    env_pool_only = p && *p == '1';
}

static int files_init(simul_loop *l, void *data)
{
    pthread_once(&env_once, env_read);
    ((file_loop *)data)->ring = l->be->file_op != NULL && !env_pool_only;
    return 0;
}

static simul__module file_module = {
    .name = "files",
    .size = sizeof(file_loop),
    .init = files_init,
};

#define FILE_BUF_DEFAULT  (64u * 1024)
#define FILE_BUF_MAX      (16u * 1024 * 1024)
#define FILE_LINE_MAX     (1u * 1024 * 1024)   /* hard cap for read lines */
#define FILE_OP_MAX       (1u << 30)           /* bytes per system call */

struct simul_file {
    simul_loop *loop;
    int     fd;
    char   *wbuf;           /* pending writes */
    size_t  wlen, wcap;
    simul__buf rb;          /* read-ahead not yet returned; cap: FILE_LINE_MAX */
    size_t  bufsize;        /* 0: unbuffered */
};

/* ---- one operation, through the ring or the pool -------------------------- */

typedef struct fwait {
    simul__fileop op;
    simul__work   w;
    simul__task  *waiter;
    int           finished;
} fwait;

static void fop_done(simul__fileop *op)
{
    fwait *fw = simul__container_of(op, fwait, op);
    fw->finished = 1;
    simul__wake(fw->waiter, 0);
}

/* In a pool thread: the blocking system call. */
static void fop_work(simul__work *w)
{
    simul__fileop *op = &simul__container_of(w, fwait, w)->op;
    size_t len = op->len > FILE_OP_MAX ? FILE_OP_MAX : op->len;
    long r = -1;
    switch (op->opcode) {
    case SIMUL__FOP_READ:
        r = op->offset < 0 ? read(op->fd, op->buf, len) : pread(op->fd, op->buf, len, op->offset);
        break;
    case SIMUL__FOP_WRITE:
        r = op->offset < 0 ? write(op->fd, op->buf, len) : pwrite(op->fd, op->buf, len, op->offset);
        break;
    case SIMUL__FOP_FSYNC:
        r = op->flags == 1 ? fdatasync(op->fd) : fsync(op->fd);
        break;
    case SIMUL__FOP_OPEN:
        r = open(op->path, op->flags, (mode_t)op->mode);
        break;
    case SIMUL__FOP_CLOSE:
        r = close(op->fd);
        break;
    default:
        errno = EINVAL;
        break;
    }
    op->result = r < 0 ? -errno : (int)r;
}

static void fop_work_done(simul__work *w, int status)
{
    fwait *fw = simul__container_of(w, fwait, w);
    if (status < 0)
        fw->op.result = status;
    fop_done(&fw->op);
}

/* Runs op to completion and returns its result (bytes, fd, 0 or -errno). */
static int run_op(simul_loop *l, simul__fileop *opin)
{
    fwait fw = { .op = *opin, .waiter = l->current };
    fw.op.done = fop_done;
    int r = -ENOSYS;
    const file_loop *fl = simul__module_data(l, &file_module);
    if (fl && fl->ring)
        r = l->be->file_op(l, &fw.op);
    if (r != 0) {
        /* No hook, or the ring is full for now: the pool does it. */
        fw.w.work = fop_work;
        fw.w.done = fop_work_done;
        r = simul__work_submit(l, &fw.w);
        if (r < 0)
            return r;
    }
    /* Not cancellable: the op and its buffer must outlive the wait. */
    while (!fw.finished)
        simul__park_nocancel("file op", CALLER());
    return fw.op.result;
}

static int simple_op(simul_file *f, int opcode, void *buf, size_t len)
{
    simul__fileop op = { .opcode = opcode, .fd = f->fd, .buf = buf, .len = len, .offset = -1 };
    return run_op(f->loop, &op);
}

/* Checks the caller: 0, -EPERM outside a task or another loop's file,
 * -EINVAL for NULL, -ECANCELED if cancellation is pending. */
static int enter(simul_file *f)
{
    simul_loop *l = simul__loop();
    if (!l || !l->current)
        return -EPERM;
    if (!f)
        return -EINVAL;
    if (f->loop != l)
        return -EPERM;
    if (simul__cancel_pending(l->current))
        return -ECANCELED;
    return 0;
}

/* ---- open / close ------------------------------------------------------- */

int simul_file_open(const char *path, int flags, unsigned mode, simul_file **out)
{
    simul_loop *l = simul__loop();
    if (!l || !l->current)
        return -EPERM;
    if (!path || !out)
        return -EINVAL;
    *out = NULL;
    if (simul__cancel_pending(l->current))
        return -ECANCELED;
    simul_file *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->loop = l;
    f->fd = -1;
    f->bufsize = FILE_BUF_DEFAULT;
    simul__buf_init(&f->rb, FILE_LINE_MAX);
    simul__fileop op = { .opcode = SIMUL__FOP_OPEN, .path = path,
                         .flags = flags | O_CLOEXEC, .mode = mode, .offset = -1 };
    int r = run_op(l, &op);
    if (r < 0) {
        free(f);
        return r;
    }
    f->fd = r;
    *out = f;
    return 0;
}

int simul_file_fd(const simul_file *f)
{
    return f ? f->fd : -EINVAL;
}

/* Writes all of buf; stores how many bytes went in *done. 0 or -errno. */
static int write_all(simul_file *f, const char *buf, size_t len, size_t *done)
{
    *done = 0;
    while (*done < len) {
        int r = simple_op(f, SIMUL__FOP_WRITE, (void *)(buf + *done), len - *done);
        if (r < 0)
            return r;
        if (r == 0)
            return -EIO;   /* write(2) of > 0 bytes never returns 0 on a file */
        *done += (size_t)r;
    }
    return 0;
}

/* Writes the buffer out. On failure the unwritten bytes stay buffered. */
static int flush_writes(simul_file *f)
{
    if (f->wlen == 0)
        return 0;
    size_t done;
    int r = write_all(f, f->wbuf, f->wlen, &done);
    memmove(f->wbuf, f->wbuf + done, f->wlen - done);
    f->wlen -= done;
    return r;
}

/* Before writing: the kernel's position is ahead of the reader by the
 * read-ahead; move it back so the write lands where the reader is. */
static int drop_readahead(simul_file *f)
{
    size_t unread = simul__buf_len(&f->rb);
    simul__buf_consume(&f->rb, unread);
    if (unread && lseek(f->fd, -(off_t)unread, SEEK_CUR) < 0)
        return -errno;
    return 0;
}

int simul_file_close(simul_file *f)
{
    simul_loop *l = simul__loop();
    if (!l || !l->current)
        return -EPERM;
    if (!f)
        return -EINVAL;
    if (f->loop != l)
        return -EPERM;
    /* Not refused when cancelled: closing is cleanup and must happen. */
    int r = flush_writes(f);
    simul__fileop op = { .opcode = SIMUL__FOP_CLOSE, .fd = f->fd, .offset = -1 };
    int c = run_op(l, &op);
    free(f->wbuf);
    simul__buf_free(&f->rb);
    free(f);
    return r < 0 ? r : c;
}

/* The checks read and write share: 1 to go on (n clamped to INT_MAX so the
 * result fits the int return), 0 when there is nothing to do, or -errno. */
static int io_args(simul_file *f, const void *buf, size_t *n)
{
    int r = enter(f);
    if (r < 0)
        return r;
    if (!buf && *n)
        return -EFAULT;
    if (*n > INT_MAX)
        *n = INT_MAX;
    return *n != 0;
}

/* ---- writing ------------------------------------------------------------- */

int simul_file_write(simul_file *f, const void *buf, size_t n)
{
    int r = io_args(f, buf, &n);
    if (r <= 0)
        return r;
    r = drop_readahead(f);
    if (r < 0)
        return r;
    if (f->wlen + n <= f->bufsize) {
        if (!f->wbuf) {
            f->wbuf = malloc(f->bufsize);
            if (!f->wbuf)
                return -ENOMEM;
            f->wcap = f->bufsize;
        }
        memcpy(f->wbuf + f->wlen, buf, n);
        f->wlen += n;
        return (int)n;
    }
    /* Does not fit: write the buffer out first (nothing accepted if that
     * fails), then large writes go straight to the file. */
    r = flush_writes(f);
    if (r < 0)
        return r;
    if (n >= f->bufsize) {
        size_t done;
        r = write_all(f, buf, n, &done);
        /* A short count reports what reached the file; the next call gets
         * the error. */
        return done ? (int)done : r;
    }
    return simul_file_write(f, buf, n);
}

int simul_file_flush(simul_file *f)
{
    int r = enter(f);
    return r < 0 ? r : flush_writes(f);
}

int simul_file_fsync(simul_file *f, int datasync)
{
    int r = enter(f);
    if (r < 0)
        return r;
    r = flush_writes(f);
    if (r < 0)
        return r;
    simul__fileop op = { .opcode = SIMUL__FOP_FSYNC, .fd = f->fd,
                         .flags = datasync ? 1 : 0, .offset = -1 };
    return run_op(f->loop, &op);
}

int simul_file_set_buffer(simul_file *f, size_t size)
{
    if (!f || size > FILE_BUF_MAX)
        return -EINVAL;
    if (f->wlen > size)
        return -EBUSY;   /* flush first */
    if (f->wbuf && size > f->wcap) {
        char *nb = realloc(f->wbuf, size);
        if (!nb)
            return -ENOMEM;
        f->wbuf = nb;
        f->wcap = size;
    }
    f->bufsize = size;
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

/* Makes room for and reads more into the read-ahead buffer (at most `want`
 * bytes of capacity). Returns bytes read, 0 at end of file, or -errno. */
static int fill(simul_file *f, size_t want)
{
    if (want < FILE_BUF_DEFAULT)
        want = FILE_BUF_DEFAULT;
    size_t have = simul__buf_len(&f->rb);
    if (have >= want)
        return -ENOBUFS;
    int r = simul__buf_reserve(&f->rb, want - have);
    if (r)
        return r;
    r = simple_op(f, SIMUL__FOP_READ, simul__buf_tail(&f->rb), simul__buf_room(&f->rb));
    if (r > 0)
        simul__buf_commit(&f->rb, (size_t)r);
    return r;
}

int simul_file_read(simul_file *f, void *buf, size_t n)
{
    int r = io_args(f, buf, &n);
    if (r <= 0)
        return r;
    r = flush_writes(f);
    if (r < 0)
        return r;
    if (!simul__buf_len(&f->rb)) {
        if (n >= FILE_BUF_DEFAULT)   /* large reads: straight into buf */
            return simple_op(f, SIMUL__FOP_READ, buf, n);
        r = fill(f, FILE_BUF_DEFAULT);
        if (r <= 0)
            return r;
    }
    return (int)simul__buf_take(&f->rb, buf, n);
}

int simul_file_readline(simul_file *f, void *buf, size_t cap)
{
    int r = enter(f);
    if (r < 0)
        return r;
    if (!buf || cap == 0)
        return -EINVAL;
    size_t lim_all = cap > FILE_LINE_MAX ? FILE_LINE_MAX : cap;
    r = flush_writes(f);
    if (r < 0)
        return r;
    size_t scanned = 0, len;
    for (;;) {
        char *start = simul__buf_data(&f->rb);
        size_t avail = simul__buf_len(&f->rb);
        size_t lim = avail < lim_all ? avail : lim_all;
        char *nl = scanned < lim ? memchr(start + scanned, '\n', lim - scanned) : NULL;
        if (nl) {
            len = (size_t)(nl - start) + 1;
            break;
        }
        if (avail >= lim_all)
            return -ENOBUFS;   /* longer than the limit: the bytes stay */
        scanned = avail;
        r = simul__cancel_pending(f->loop->current) ? -ECANCELED : fill(f, lim_all);
        if (r < 0)
            return r;
        if (r == 0) {          /* end of file: the last, unterminated line */
            len = avail;
            break;
        }
    }
    simul__buf_take(&f->rb, buf, len);
    if (len < cap)             /* a C string too, when there is room */
        ((char *)buf)[len] = '\0';
    return (int)len;
}
