/*
 * simul/sys.h - part of the public API; included by <simul.h>.
 *
 * The system half of the I/O layer: a thread pool for blocking or CPU-bound
 * calls (asyncio.to_thread / loop.run_in_executor), asynchronous files
 * (aiofiles), asynchronous DNS (aiodns), signals and subprocesses.
 * Everything that suspends must be called from a task (else -EPERM).
 */
#ifndef SIMUL_SYS_H
#define SIMUL_SYS_H

#include <simul.h>

#include <errno.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct addrinfo;
/* The stream of <simul/net.h>, for the subprocess pipes. Repeated here so
 * that this header compiles whichever public header is included first
 * (C11 and C++ allow the same typedef twice). */
typedef struct simul_stream simul_stream;

/* ------------------------------------------------------------------------ */
/* Thread pool                                                              */

/*
 * Each loop has its own pool of worker threads, started lazily (the first
 * job starts the first thread) up to a maximum (simul_loop_opts
 * .threadpool_size; default 4, or the environment variable
 * SIMUL_THREADPOOL_SIZE read once per process; simul_threadpool_set_size()),
 * and joined when the loop closes. Workers block every signal, so signals
 * go to the loop thread (see simul_signal_*), and run on 1 MiB stacks.
 * Closing the loop waits for jobs still running in the pool (as asyncio.run
 * waits for its default executor), including abandoned ones: in a task,
 * after the other tasks were cancelled, so their results are discarded on
 * a live loop.
 */
typedef void *(*simul_thread_fn)(void *arg);

/*
 * asyncio.to_thread(fn, arg): runs fn(arg) in a pool thread, suspends the
 * calling task until it returns, and stores its return value in *result
 * (result may be NULL). Returns 0 when fn ran.
 *
 * Cancellation: a cancelled caller returns -ECANCELED at once and never waits
 * for the thread. If fn had not started, it never runs; if it is running, it
 * runs to the end in its thread and its result is discarded. fn must
 * therefore not use memory the caller may release after -ECANCELED (its own
 * stack frame above all): pass heap memory and free it in `discard` with
 * simul_to_thread_ex(), or copy what fn needs into arg.
 *
 * Errors: -EPERM outside a task, -ECANCELED, -ENOMEM, -EINVAL for a NULL
 * fn, -EAGAIN if no worker thread could be started.
 */
SIMUL_API int simul_to_thread(simul_thread_fn fn, void *arg, void **result);

/*
 * simul_to_thread() with a clean-up hook for abandoned jobs: when (and only
 * when) the call returned -ECANCELED, discard(arg, result) runs exactly once
 * on the loop thread after fn finished - with fn's result, or with NULL if fn
 * never started - so heap-allocated arguments and results are freed there.
 * discard may be NULL. discard also runs at loop close for jobs abandoned
 * until then.
 */
SIMUL_API int simul_to_thread_ex(simul_thread_fn fn, void *arg, void **result,
                                 void (*discard)(void *arg, void *result));

/*
 * Sets the maximum number of worker threads (1..256) for pools created from
 * now on and for the current loop's pool (threads already started keep
 * running until the loop closes). Callable anywhere. 0 or -EINVAL.
 */
SIMUL_API int simul_threadpool_set_size(unsigned n);
/* The maximum for the current loop's pool (or the default outside a loop). */
SIMUL_API unsigned simul_threadpool_size(void);

/* ------------------------------------------------------------------------ */
/* Files (aiofiles)                                                         */

/*
 * Asynchronous regular files. Each system call goes to io_uring when the
 * loop runs on that backend, else to the thread pool; the loop never
 * blocks. A simul_file belongs to the loop that opened it and is used by
 * one task at a time.
 *
 * Cancellation: a call made while cancellation is pending returns
 * -ECANCELED and does nothing. Once an operation has started it is not
 * abandoned half-way: the call waits for it and returns its real result;
 * the cancellation is seen at the next suspension point. (So a write either
 * happened and says so, or failed and says so.)
 *
 * Buffering (as Python's open()): writes are gathered in a buffer of
 * 64 KiB (simul_file_set_buffer) and reach the file when it fills, on
 * simul_file_flush, simul_file_fsync and simul_file_close. Reads and lines
 * come through a read-ahead buffer.
 */
typedef struct simul_file simul_file;

/*
 * aiofiles.open(path): opens path with open(2) flags (O_CLOEXEC is always
 * added) and mode (for O_CREAT). Append is O_WRONLY|O_CREAT|O_APPEND (mode
 * "a"): every write lands at the end of the file. On success stores the
 * new file in *out, which the caller gives back with simul_file_close().
 * Errors: open(2)'s (-ENOENT, -EACCES, -EISDIR, ...), -EINVAL (NULL path
 * or out), -ECANCELED, -EPERM outside a task, -ENOMEM.
 */
SIMUL_API int simul_file_open(const char *path, int flags, unsigned mode, simul_file **out);

/*
 * Flushes pending writes, closes the fd and frees f - always, even when an
 * error is returned (then pending bytes the file refused are dropped: the
 * error says so). Runs even in a cancelled task (cleanup). Returns 0, the
 * flush's error (-ENOSPC, -EIO, ...) or close(2)'s, -EPERM outside a task
 * or on another loop's file (f is not freed then), -EINVAL for NULL.
 */
SIMUL_API int simul_file_close(simul_file *f);

/*
 * file.write(data): accepts up to n bytes (at most INT_MAX) and returns how
 * many (n unless an error cut it short). Small writes are copied into the
 * buffer; writes at least as large as the buffer go straight to the file.
 * A full disk is never silent: -ENOSPC (or the kernel's error) is returned
 * by the call that tried to write, the bytes the file refused stay buffered
 * (a later flush retries them), and a short count reports bytes that did
 * reach the file before the error (the next call returns the error).
 * Errors: write(2)'s, -EFAULT (NULL buf), -ECANCELED, -EPERM, -EINVAL, -ENOMEM.
 */
SIMUL_API int simul_file_write(simul_file *f, const void *buf, size_t n);

/* Writes the buffer out. 0, or the write error with the refused bytes
 * still buffered; -ECANCELED, -EPERM, -EINVAL. */
SIMUL_API int simul_file_flush(simul_file *f);

/* Flushes, then fsync(2) (datasync != 0: fdatasync). 0 or -errno as above. */
SIMUL_API int simul_file_fsync(simul_file *f, int datasync);

/* Sets the write buffer size (0 = unbuffered: every write is a system
 * call), at most 16 MiB. Not suspending. 0, -EINVAL, -EBUSY (more bytes
 * pending than the new size: flush first), -ENOMEM. */
SIMUL_API int simul_file_set_buffer(simul_file *f, size_t size);

/*
 * file.read(n): up to n bytes (at most INT_MAX) into buf; returns the count,
 * 0 at end of file. Pending writes are flushed first. Errors: read(2)'s,
 * the flush's, -EFAULT, -ECANCELED, -EPERM, -EINVAL.
 */
SIMUL_API int simul_file_read(simul_file *f, void *buf, size_t n);

/*
 * file.readline() with a hard limit: reads one line, up to and including
 * "\n", into buf (capacity cap; the limit is min(cap, 1 MiB)) and returns
 * its length, followed by a NUL when shorter than cap (so a line is also
 * a C string; the NUL is not counted). At end of file the last line is
 * returned without "\n", and 0 once nothing is left. A line longer than
 * the limit gives -ENOBUFS and consumes nothing (simul_file_read still
 * returns those bytes). Errors as simul_file_read, -EINVAL for cap 0.
 */
SIMUL_API int simul_file_readline(simul_file *f, void *buf, size_t cap);

/* The file's descriptor (owned by f; do not close it), or -EINVAL. */
SIMUL_API int simul_file_fd(const simul_file *f);

/* ------------------------------------------------------------------------ */
/* DNS                                                                      */

/*
 * aiodns / loop.getaddrinfo: resolves host and service (either may be NULL,
 * not both) with getaddrinfo(3) in a pool thread, so the loop never blocks.
 * On success returns 0 and stores in *res a list the caller frees with
 * simul_freeaddrinfo() (never with freeaddrinfo(3)).
 *
 * Numeric hosts ("127.0.0.1", "::1") are resolved inline, without a thread.
 * Successful answers are cached per loop, keyed by host, service and hints,
 * for a fixed 60 s (getaddrinfo reports no TTL) and at most 64 entries
 * (the oldest entry is evicted first); failures are not cached.
 * SIMUL_DNS_TTL (seconds, 0 disables the cache; read once per process)
 * overrides the TTL.
 *
 * Cancellation: a cancelled caller returns -ECANCELED at once; the lookup
 * finishes in its thread and its result goes to the cache.
 *
 * Errors: the resolver's SIMUL_EAI_* codes (<simul.h>; SIMUL_EAI_NONAME for
 * an unknown host or service, SIMUL_EAI_AGAIN when the resolver failed
 * temporarily), the errno of EAI_SYSTEM, -EINVAL (both NULL, or NULL res),
 * -ECANCELED, -EPERM outside a task, -ENOMEM.
 */
SIMUL_API int  simul_getaddrinfo(const char *host, const char *service,
                                 const struct addrinfo *hints, struct addrinfo **res);
/* Frees a list from simul_getaddrinfo(); NULL is a no-op. Callable anywhere. */
SIMUL_API void simul_freeaddrinfo(struct addrinfo *res);
/* Maps a getaddrinfo(3) EAI_* code to its SIMUL_EAI_* code (0 -> 0; codes
 * simul does not know -> SIMUL_EAI_FAIL). EAI_SYSTEM gives -errno, so call
 * it right after getaddrinfo (-EIO if errno is 0). Callable anywhere. */
SIMUL_API int  simul_eai_to_error(int eai);

/* ------------------------------------------------------------------------ */
/* Signals                                                                  */

/*
 * simul_run and signals (as asyncio.run):
 *  - SIGINT: when simul_run runs on the process's main thread and SIGINT
 *    has its default disposition, the first SIGINT cancels the main task
 *    (at its current suspension point), the run shuts down as usual
 *    (every other task cancelled and awaited), and simul_run returns -EINTR
 *    if main ended with -ECANCELED (else main's own result). A second
 *    SIGINT before the run is over kills the process with the default
 *    action. The previous disposition is restored when simul_run returns.
 *  - SIGPIPE: the first simul_run sets it to SIG_IGN if it has the default
 *    disposition (and leaves it so), so writing to a closed pipe or socket
 *    fails with -EPIPE and never kills the process.
 */

typedef struct simul_signal simul_signal;

/*
 * loop.add_signal_handler, as a wait: opens a receiver for the n signals in
 * `signals`. They are blocked in the loop's thread (pool threads block all
 * signals) and read from a signalfd; a signal sent while nobody waits stays
 * pending until simul_signal_wait reads it. Other threads of the program
 * must block these signals too, or the kernel may deliver them there.
 * Two receivers for one signal share it: each occurrence goes to one.
 * From a task or callback of the loop. On success stores a new receiver in
 * *out (the caller frees it with simul_signal_close before the loop ends).
 * Errors: -EINVAL (bad or uncatchable signal: SIGKILL, SIGSTOP and the
 * fault signals SIGSEGV/SIGBUS/SIGFPE/SIGILL; n == 0; NULL), -EPERM outside
 * a loop, -ENOMEM, -EMFILE.
 */
SIMUL_API int simul_signal_open(const int *signals, size_t n, simul_signal **out);

/*
 * Suspends the calling task until one of the receiver's signals arrives and
 * returns its number (> 0). One waiter at a time. Errors: -ECANCELED (the
 * signal, if one arrives later, stays pending), -EBUSY (another task
 * waits), -EINVAL (NULL or another loop's receiver), -EPERM outside a task.
 * For a deadline, wrap it in a simul_scope. To wait for a signal or
 * something else (a second Ctrl-C while a graceful shutdown runs), use a
 * SIMUL_SELECT_SIGNAL case in simul_select: the signal is taken only if
 * that case wins, and each pending signal goes to one waiter, longest
 * waiting first.
 */
SIMUL_API int simul_signal_wait(simul_signal *s);

/*
 * Frees the receiver; when no receiver of the loop has a signal any more,
 * the signal is unblocked again if simul_signal_open blocked it (a pending
 * occurrence is then delivered with its normal disposition). 0, -EBUSY
 * while a task waits on it (in simul_signal_wait or simul_select),
 * -EINVAL, -EPERM (another loop's receiver).
 */
SIMUL_API int simul_signal_close(simul_signal *s);

/* ------------------------------------------------------------------------ */
/* Subprocesses (asyncio.create_subprocess_exec)                            */

typedef struct simul_process simul_process;

enum {
    SIMUL_STDIO_INHERIT = 0,  /* the child shares the parent's fd */
    SIMUL_STDIO_PIPE,         /* a pipe, readable/writable as a simul_stream */
    SIMUL_STDIO_DEVNULL,      /* /dev/null */
    SIMUL_STDIO_STDOUT        /* stderr only: into the child's stdout */
};

/* Zero-initialise; zero fields take the defaults shown. */
typedef struct simul_process_opts {
    int          stdin_mode, stdout_mode, stderr_mode;  /* SIMUL_STDIO_*: INHERIT */
    const char  *cwd;        /* the child's working directory: the parent's */
    char *const *envp;       /* the child's environment: the parent's */
} simul_process_opts;

/*
 * asyncio.create_subprocess_exec(file, *argv): starts file (searched in
 * PATH when it has no "/") with argv (argv[0] first, NULL-terminated). The
 * child starts with an empty signal mask and SIGPIPE at its default action.
 * Does not suspend. On success stores the process in *out; the caller gives
 * it back with simul_process_close(). opts may be NULL (all inherited).
 * Errors: the exec error (-ENOENT, -EACCES, ...), -EINVAL (NULL file/argv,
 * a bad stdio mode), -EPERM outside a loop, -ENOMEM, -EMFILE.
 */
SIMUL_API int simul_process_open(const char *file, char *const argv[],
                                 const simul_process_opts *opts, simul_process **out);

/*
 * The pipes of a process opened with SIMUL_STDIO_PIPE, as streams (see
 * net.h: read, readline, readuntil, write, drain), or NULL. They belong to
 * the process: never simul_stream_close them; simul_process_close does.
 * Writing to a child that exited gives -EPIPE (SIGPIPE is ignored).
 */
SIMUL_API simul_stream *simul_process_stdin(simul_process *p);
SIMUL_API simul_stream *simul_process_stdout(simul_process *p);
SIMUL_API simul_stream *simul_process_stderr(simul_process *p);

/* Closes the stdin pipe so the child reads end of file (after the
 * stream's pending bytes are flushed by simul_stream_close). 0 or its error;
 * 0 if there is none or it was closed already. */
SIMUL_API int simul_process_close_stdin(simul_process *p);

/* The child's pid, or -EINVAL. */
SIMUL_API int simul_process_pid(const simul_process *p);

/*
 * process.wait(): suspends until the child exits, reaps it and stores its
 * returncode as asyncio does: the exit status (>= 0), or -N if signal N
 * killed it. Returns 0 at once if it was reaped already. Waits on a pidfd
 * where the kernel has pidfd_open (5.3+), else on SIGCHLD (re-checked
 * every 100 ms; SIGCHLD must not be SIG_IGN). One waiter at a time.
 * Errors: -ECANCELED (the child keeps running and can be waited for
 * again), -EBUSY (another task waits), -EINVAL, -EPERM outside a task,
 * -ECHILD (someone else reaped it).
 */
SIMUL_API int simul_process_wait(simul_process *p, int *returncode);

/* process.returncode: 0 and *returncode if the child was reaped, -EBUSY if
 * not yet (no waiting), -EINVAL. */
SIMUL_API int simul_process_returncode(const simul_process *p, int *returncode);

/*
 * process.send_signal(sig) / kill() / terminate(): sends sig (pidfd_send_signal
 * where available, so a recycled pid is never hit). 0; -ESRCH once reaped;
 * -EINVAL for a bad signal; kill(2)'s errors.
 */
SIMUL_API int simul_process_kill(simul_process *p, int sig);

/*
 * Closes the pipes and frees p. A child still running is killed with SIGKILL
 * and reaped first (an uncancellable wait: no zombie, no orphan). From a
 * task. 0, -EBUSY while a task waits on p, -EPERM outside a task or on
 * another loop's process, -EINVAL.
 */
SIMUL_API int simul_process_close(simul_process *p);

#ifdef __cplusplus
}
#endif

#endif
