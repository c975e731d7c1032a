/*
 * test_file.c - async files: write/read round trips, append, read lines
 * with their hard limit, fsync, unbuffered and large writes, open errors,
 * cancellation (refused before, never half-way), and full disks: /dev/full
 * and a 64 KiB tmpfs, where no accepted byte may be lost silently.
 * Runs on whichever backend SIMUL_BACKEND picks (io_uring: the ring's file
 * ops; epoll: the thread pool); SIMUL_FILE_POOL=1 forces the pool.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <simul.h>

static char dir[64];

static void mkdir_tmp(void)
{
    strcpy(dir, "/tmp/simul-file-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Removes the test's directory (a failed CHECK leaves it for inspection). */
static void rm_tmp(void)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_of(char *buf, const char *name)
{
    snprintf(buf, 128, "%s/%s", dir, name);
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static int main_roundtrip(void *a)
{
    (void)a;
    char p[128];
    path_of(p, "rt");
    simul_file *f;
    CHECK_EQ(simul_file_open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f), 0);
    CHECK_EQ(simul_file_write(f, "hello\n", 6), 6);
    CHECK_EQ(simul_file_write(f, "world\n", 6), 6);
    CHECK_EQ(file_size(p), 0);                 /* still buffered */
    CHECK_EQ(simul_file_flush(f), 0);
    CHECK_EQ(file_size(p), 12);
    CHECK_EQ(simul_file_fsync(f, 0), 0);
    CHECK_EQ(simul_file_fsync(f, 1), 0);
    CHECK_EQ(simul_file_close(f), 0);

    /* append: two opens, each write at the end */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(simul_file_open(p, O_WRONLY | O_CREAT | O_APPEND, 0644, &f), 0);
        CHECK_EQ(simul_file_write(f, "more\n", 5), 5);
        CHECK_EQ(simul_file_close(f), 0);
    }
    CHECK_EQ(file_size(p), 22);

    CHECK_EQ(simul_file_open(p, O_RDONLY, 0, &f), 0);
    char buf[64];
    CHECK_EQ(simul_file_read(f, buf, 3), 3);
    CHECK(memcmp(buf, "hel", 3) == 0);
    memset(buf, 'X', sizeof buf);
    CHECK_EQ(simul_file_readline(f, buf, sizeof buf), 3);
    CHECK(strcmp(buf, "lo\n") == 0);              /* NUL-terminated: room */
    memset(buf, 'X', sizeof buf);
    CHECK_EQ(simul_file_readline(f, buf, 6), 6);   /* exactly cap: no NUL */
    CHECK(memcmp(buf, "world\nX", 7) == 0);
    CHECK_EQ(simul_file_read(f, buf, sizeof buf), 10);
    CHECK(memcmp(buf, "more\nmore\n", 10) == 0);
    CHECK_EQ(simul_file_read(f, buf, sizeof buf), 0);
    CHECK_EQ(simul_file_readline(f, buf, sizeof buf), 0);
    CHECK(simul_file_fd(f) >= 0);
    CHECK_EQ(simul_file_write(f, "x", 1), 1);  /* buffered; the fd is read-only */
    CHECK_EQ(simul_file_close(f), -EBADF);     /* the refused write is reported */
    return 0;
}
TEST(write_read_append)
{
    mkdir_tmp();
    CHECK_EQ(simul_run(main_roundtrip, NULL), 0);
    rm_tmp();
}

static int main_lines(void *a)
{
    (void)a;
    char p[128];
    path_of(p, "lines");
    simul_file *f;
    CHECK_EQ(simul_file_open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f), 0);
    /* 100,000 numbered lines, one long line, a last one without "\n" */
    char line[64];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(line, sizeof line, "line %d\n", i);
        CHECK_EQ(simul_file_write(f, line, (size_t)n), n);
    }
    char longl[300];
    memset(longl, 'x', sizeof longl);
    longl[299] = '\n';
    CHECK_EQ(simul_file_write(f, longl, 300), 300);
    CHECK_EQ(simul_file_write(f, "tail", 4), 4);
    CHECK_EQ(simul_file_close(f), 0);

    CHECK_EQ(simul_file_open(p, O_RDONLY, 0, &f), 0);
    char buf[128];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(line, sizeof line, "line %d\n", i);
        int r = simul_file_readline(f, buf, sizeof buf);
        CHECK_EQ(r, n);
        CHECK(memcmp(buf, line, (size_t)n) == 0);
    }
    /* 300 bytes with a 128-byte limit: -ENOBUFS, nothing consumed */
    CHECK_EQ(simul_file_readline(f, buf, sizeof buf), -ENOBUFS);
    CHECK_EQ(simul_file_readline(f, buf, sizeof buf), -ENOBUFS);
    char big[400];
    CHECK_EQ(simul_file_readline(f, big, sizeof big), 300);
    CHECK(big[0] == 'x' && big[299] == '\n');
    CHECK_EQ(simul_file_readline(f, buf, sizeof buf), 4);
    CHECK(strcmp(buf, "tail") == 0);               /* the last line too */
    CHECK_EQ(simul_file_readline(f, buf, sizeof buf), 0);
    CHECK_EQ(simul_file_readline(f, buf, 0), -EINVAL);
    CHECK_EQ(simul_file_close(f), 0);
    return 0;
}
TEST(read_lines_with_limit)
{
    mkdir_tmp();
    CHECK_EQ(simul_run(main_lines, NULL), 0);
    rm_tmp();
}

/* Large and unbuffered writes, read back whole; read-then-write position. */
static int main_large(void *a)
{
    (void)a;
    char p[128];
    path_of(p, "large");
    size_t n = 3 * 1024 * 1024 + 17;
    unsigned char *data = malloc(n), *back = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 13));
    simul_file *f;
    CHECK_EQ(simul_file_open(p, O_RDWR | O_CREAT | O_TRUNC, 0600, &f), 0);
    CHECK_EQ(simul_file_write(f, data, 100), 100);
    CHECK_EQ(simul_file_write(f, data + 100, n - 100), (long long)(n - 100));
    CHECK_EQ(simul_file_close(f), 0);
    CHECK_EQ(file_size(p), (long)n);
    CHECK_EQ(simul_file_open(p, O_RDWR, 0, &f), 0);
    size_t got = 0;
    while (got < n) {
        int r = simul_file_read(f, back + got, n - got);
        CHECK(r > 0);
        got += (size_t)r;
    }
    CHECK(memcmp(data, back, n) == 0);
    CHECK_EQ(simul_file_close(f), 0);
    /* read 5 bytes (the read-ahead takes more), then write: lands at 5 */
    CHECK_EQ(simul_file_open(p, O_RDWR, 0, &f), 0);
    CHECK_EQ(simul_file_set_buffer(f, 0), 0);
    CHECK_EQ(simul_file_read(f, back, 5), 5);
    CHECK_EQ(simul_file_write(f, "ABC", 3), 3);
    CHECK_EQ(simul_file_read(f, back, 2), 2);
    CHECK(back[0] == data[8] && back[1] == data[9]);
    CHECK_EQ(simul_file_close(f), 0);
    CHECK_EQ(simul_file_open(p, O_RDONLY, 0, &f), 0);
    CHECK_EQ(simul_file_read(f, back, 10), 10);
    CHECK(memcmp(back, data, 5) == 0 && memcmp(back + 5, "ABC", 3) == 0);
    CHECK_EQ(simul_file_set_buffer(f, 17u << 20), -EINVAL);
    CHECK_EQ(simul_file_close(f), 0);
    free(data);
    free(back);
    return 0;
}
TEST(large_and_unbuffered)
{
    mkdir_tmp();
    CHECK_EQ(simul_run(main_large, NULL), 0);
    rm_tmp();
}

static int main_errors(void *a)
{
    (void)a;
    simul_file *f = (simul_file *)1;
    CHECK_EQ(simul_file_open("/nonexistent/dir/x", O_RDONLY, 0, &f), -ENOENT);
    CHECK(f == NULL);
    CHECK_EQ(simul_file_open(dir, O_WRONLY, 0, &f), -EISDIR);
    CHECK_EQ(simul_file_open(NULL, O_RDONLY, 0, &f), -EINVAL);
    CHECK_EQ(simul_file_write(NULL, "x", 1), -EINVAL);
    CHECK_EQ(simul_file_close(NULL), -EINVAL);
    return 0;
}
TEST(open_errors)
{
    mkdir_tmp();
    simul_file *f;
    CHECK_EQ(simul_file_open("/tmp", O_RDONLY, 0, &f), -EPERM);
    CHECK_EQ(simul_run(main_errors, NULL), 0);
    rm_tmp();
}

/* /dev/full: every write fails with ENOSPC. */
static int main_devfull(void *a)
{
    (void)a;
    simul_file *f;
    CHECK_EQ(simul_file_open("/dev/full", O_WRONLY, 0, &f), 0);
    CHECK_EQ(simul_file_write(f, "abc", 3), 3);   /* buffered */
    CHECK_EQ(simul_file_flush(f), -ENOSPC);
    CHECK_EQ(simul_file_flush(f), -ENOSPC);       /* still pending, still refused */
    CHECK_EQ(simul_file_fsync(f, 0), -ENOSPC);
    CHECK_EQ(simul_file_close(f), -ENOSPC);       /* reported, not silent */
    CHECK_EQ(simul_file_open("/dev/full", O_WRONLY, 0, &f), 0);
    CHECK_EQ(simul_file_set_buffer(f, 0), 0);
    CHECK_EQ(simul_file_write(f, "abc", 3), -ENOSPC);
    CHECK_EQ(simul_file_close(f), 0);
    return 0;
}
TEST(dev_full)
{
    if (access("/dev/full", W_OK) != 0) {
        fprintf(stderr, "  skip: no writable /dev/full\n");
        return;
    }
    CHECK_EQ(simul_run(main_devfull, NULL), 0);
}

/* A 64 KiB tmpfs (in a private mount namespace): fill it; every byte a call
 * accepted is on disk or still pending, and gets there once space frees. */
static char mnt[64];
static int main_tmpfs(void *a)
{
    (void)a;
    char filler[128], p[128];
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    snprintf(p, sizeof p, "%s/data", mnt);
    simul_file *f;
    char chunk[1000];
    /* 20 KiB of filler, to delete later */
    CHECK_EQ(simul_file_open(filler, O_WRONLY | O_CREAT, 0600, &f), 0);
    memset(chunk, 'F', sizeof chunk);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(simul_file_write(f, chunk, 1000), 1000);
    CHECK_EQ(simul_file_close(f), 0);

    /* Unbuffered: the counts returned add up to exactly what is on disk. */
    CHECK_EQ(simul_file_open(p, O_WRONLY | O_CREAT | O_APPEND, 0600, &f), 0);
    CHECK_EQ(simul_file_set_buffer(f, 0), 0);
    long accepted = 0;
    int r = 0;
    for (int i = 0; i < 200; i++) {
        for (int k = 0; k < 1000; k++)
            chunk[k] = (char)('a' + (accepted + k) % 26);
        r = simul_file_write(f, chunk, 1000);
        if (r < 0)
            break;
        accepted += r;
    }
    CHECK_EQ(r, -ENOSPC);
    CHECK(accepted > 0 && accepted < 64 * 1024);
    CHECK_EQ(simul_file_close(f), 0);
    CHECK_EQ(file_size(p), accepted);

    /* Buffered: the write that hits the full disk fails, the bytes stay
     * pending; after freeing space a flush writes them all. */
    CHECK_EQ(simul_file_open(p, O_WRONLY | O_APPEND, 0, &f), 0);
    CHECK_EQ(simul_file_set_buffer(f, 4096), 0);
    long pend = 0;
    r = 0;
    for (int i = 0; i < 10 && r >= 0; i++) {
        memset(chunk, 'B', sizeof chunk);
        r = simul_file_write(f, chunk, 1000);
        if (r > 0)
            pend += r;
    }
    CHECK_EQ(r, -ENOSPC);
    CHECK(pend >= 4000);
    CHECK_EQ(simul_file_flush(f), -ENOSPC);
    CHECK_EQ(unlink(filler), 0);
    CHECK_EQ(simul_file_flush(f), 0);
    CHECK_EQ(simul_file_close(f), 0);
    CHECK_EQ(file_size(p), accepted + pend);
    /* and the content is right */
    CHECK_EQ(simul_file_open(p, O_RDONLY, 0, &f), 0);
    char *all = malloc((size_t)(accepted + pend));
    long got = 0;
    while (got < accepted + pend) {
        r = simul_file_read(f, all + got, (size_t)(accepted + pend - got));
        CHECK(r > 0);
        got += r;
    }
    for (long i = 0; i < accepted; i++)
        if (all[i] != (char)('a' + i % 26)) {
            CHECK(!"first part corrupted");
            break;
        }
    for (long i = accepted; i < accepted + pend; i++)
        if (all[i] != 'B') {
            CHECK(!"second part corrupted");
            break;
        }
    free(all);
    CHECK_EQ(simul_file_close(f), 0);
    return 0;
}
TEST(full_tmpfs_loses_nothing)
{
    strcpy(mnt, "/tmp/simul-tmpfs-XXXXXX");
    CHECK(mkdtemp(mnt) != NULL);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        fprintf(stderr, "  skip: cannot mount a 64 KiB tmpfs (%s); /dev/full covers ENOSPC\n",
                strerror(errno));
        rmdir(mnt);
        return;
    }
    CHECK_EQ(simul_run(main_tmpfs, NULL), 0);
    umount(mnt);
    rmdir(mnt);
}

/* Cancellation: refused before starting; never abandoned half-way. */
static int writer(void *a)
{
    simul_file *f = a;
    static char big[4 << 20];
    int r = simul_file_write(f, big, sizeof big);   /* straight to the file */
    CHECK_EQ(r, (int)sizeof big);                   /* completed although cancelled */
    CHECK_EQ(simul_file_write(f, "x", 1), -ECANCELED);
    CHECK_EQ(simul_file_close(f), 0);               /* cleanup still works */
    return 0;
}
static int main_cancel(void *a)
{
    (void)a;
    char p[128];
    path_of(p, "cancel");
    simul_file *f;
    CHECK_EQ(simul_file_open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f), 0);
    simul_task *t = simul_spawn(writer, f);
    CHECK_EQ(simul_yield(), 0);     /* the writer's op is in flight */
    simul_cancel(t);
    CHECK_EQ(simul_join(t), 0);
    CHECK_EQ(file_size(p), 4 << 20);
    simul_scope sc;
    simul_scope_enter(&sc, INFINITY);
    simul_scope_cancel(&sc);
    CHECK_EQ(simul_file_open(p, O_RDONLY, 0, &f), -ECANCELED);
    simul_scope_exit(&sc);
    return 0;
}
TEST(cancel_never_half_way)
{
    mkdir_tmp();
    CHECK_EQ(simul_run(main_cancel, NULL), 0);
    rm_tmp();
}

/* Many tasks on many files at once. */
static int appender(void *a)
{
    char p[128];
    snprintf(p, sizeof p, "%s/f%d", dir, (int)(intptr_t)a);
    simul_file *f;
    int r = simul_file_open(p, O_WRONLY | O_CREAT | O_APPEND, 0644, &f);
    if (r < 0)
        return r;
    simul_file_set_buffer(f, 256);
    for (int i = 0; i < 2000; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "%d\n", i);
        if (simul_file_write(f, line, (size_t)n) != n)
            return -EIO;
    }
    return simul_file_close(f);
}
static int main_many(void *a)
{
    (void)a;
    simul_task *ts[32];
    int res[32];
    for (int i = 0; i < 32; i++)
        ts[i] = simul_spawn(appender, (void *)(intptr_t)i);
    CHECK_EQ(simul_gather(ts, 32, res, SIMUL_GATHER_FAIL_FAST), 0);
    char p[128];
    path_of(p, "f31");
    long want = 0;
    for (int i = 0; i < 2000; i++)
        want += snprintf(NULL, 0, "%d\n", i);
    CHECK_EQ(file_size(p), want);
    return 0;
}
TEST(many_files_at_once)
{
    mkdir_tmp();
    CHECK_EQ(simul_run(main_many, NULL), 0);
    rm_tmp();
}

/* A file operation must complete while other tasks keep the loop busy: the
 * loop may skip polling only when nothing is in flight (with io_uring the
 * completion arrives on the ring, not through a watched fd). */
static int spin_flag;
static int spinner_task(void *a)
{
    (void)a;
    double end = simul_now() + 1.0;
    while (!spin_flag && simul_now() < end)
        if (simul_yield() < 0)
            break;
    return 0;
}
static int main_busy(void *a)
{
    (void)a;
    char path[] = "/tmp/simul-busy-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    simul_task *s = simul_spawn(spinner_task, NULL);
    simul_file *f;
    double t0 = simul_now();
    CHECK_EQ(simul_file_open(path, O_WRONLY, 0, &f), 0);
    CHECK_EQ(simul_file_write(f, "x", 1), 1);
    CHECK_EQ(simul_file_fsync(f, 0), 0);
    CHECK_EQ(simul_file_close(f), 0);
    double took = simul_now() - t0;
    spin_flag = 1;
    CHECK_EQ(simul_join(s), 0);
    unlink(path);
    CHECK(took < 0.5);   /* not held back until the spinner stops (1 s) */
    return 0;
}
TEST(file_ops_complete_while_other_tasks_keep_the_loop_busy)
{
    CHECK_EQ(simul_run(main_busy, NULL), 0);
}
