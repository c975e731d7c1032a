/*
 * process.c - subprocesses (asyncio.create_subprocess_exec): spawn with
 * pipes to stdin/stdout/stderr wrapped as streams (net.h), wait for exit,
 * send signals.
 *
 * Spawning uses posix_spawnp (glibc: clone(CLONE_VFORK) + exec, which
 * reports exec failures such as ENOENT to the parent). The child gets an
 * empty signal mask and SIGPIPE back at its default disposition, whatever
 * the loop thread blocked or ignored. Parent ends of the pipes are
 * close-on-exec and become streams.
 *
 * Waiting: with pidfd_open (Linux 5.3+) the task parks until the pidfd is
 * readable (the child exited), then reaps it with waitid(P_PIDFD). Without
 * it (or with SIMUL_NO_PIDFD=1) it waits for SIGCHLD through a signalfd and
 * also re-checks at least every 100 ms, because one SIGCHLD may stand for
 * several children and goes to only one receiver. Either way the wait is
 * cancellable and a cancelled wait leaves the child running and waitable.
 */
#include "sys_internal.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

struct simul_process {
    simul_loop   *loop;
    pid_t         pid;
    int           pidfd;          /* -1: SIGCHLD fallback */
    int           reaped;
    int           returncode;     /* once reaped: exit code or -signal */
    int           waiting;        /* a task is in simul_process_wait */
    simul_stream *io[3];          /* stdin, stdout, stderr pipes or NULL */
};

/* SIMUL_NO_PIDFD=1 (a testing aid: the SIGCHLD path), read once. */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static int env_no_pidfd;

static void env_read(void)
{
    const char *no = getenv("SIMUL_NO_PIDFD");
    env_no_pidfd = no && *no == '1';
}

static int open_pidfd(pid_t pid)
{
    pthread_once(&env_once, env_read);
    if (env_no_pidfd)
        return -1;
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);   /* pidfds are close-on-exec already */
        simul__fd_forget(simul__loop(), fd);
    }
    return fd;
#else
    (void)pid;
    return -1;
#endif
}

/* For each stdio slot: the child's fd (-1: inherit) and the parent's end. */
static int setup_stdio(const simul_process_opts *o, int slot, int child[3], int parent[3],
                       posix_spawn_file_actions_t *fa)
{
    int mode = o ? (slot == 0 ? o->stdin_mode : slot == 1 ? o->stdout_mode : o->stderr_mode)
                 : SIMUL_STDIO_INHERIT;
    switch (mode) {
    case SIMUL_STDIO_INHERIT:
        return 0;
    case SIMUL_STDIO_DEVNULL:
        return -posix_spawn_file_actions_addopen(fa, slot, "/dev/null",
                                                 slot == 0 ? O_RDONLY : O_WRONLY, 0);
    case SIMUL_STDIO_STDOUT:
        if (slot != 2)
            return -EINVAL;
        return -posix_spawn_file_actions_adddup2(fa, 1, 2);
    case SIMUL_STDIO_PIPE: {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return -errno;
        /* stdin: the child reads p[0]; stdout/stderr: the child writes p[1] */
        child[slot] = slot == 0 ? p[0] : p[1];
        parent[slot] = slot == 0 ? p[1] : p[0];
        return -posix_spawn_file_actions_adddup2(fa, child[slot], slot);
    }
    default:
        return -EINVAL;
    }
}

int simul_process_open(const char *file, char *const argv[], const simul_process_opts *opts,
                       simul_process **out)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    if (!file || !argv || !argv[0] || !out)
        return -EINVAL;
    *out = NULL;
    if (opts && opts->stdout_mode == SIMUL_STDIO_STDOUT)
        return -EINVAL;
    simul_process *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->loop = l;
    p->pidfd = -1;
    int child[3] = { -1, -1, -1 }, parent[3] = { -1, -1, -1 };
    int r;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if ((r = -posix_spawn_file_actions_init(&fa)) != 0)
        goto fail_fa;
    if ((r = -posix_spawnattr_init(&attr)) != 0)
        goto fail_attr;
    for (int i = 0; i < 3; i++)
        if ((r = setup_stdio(opts, i, child, parent, &fa)) != 0)
            goto fail_stdio;
    if (opts && opts->cwd && (r = -posix_spawn_file_actions_addchdir_np(&fa, opts->cwd)) != 0)
        goto fail_stdio;
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    extern char **environ;
    char *const *envp = opts && opts->envp ? opts->envp : environ;
    r = -posix_spawnp(&p->pid, file, &fa, &attr, argv, envp);
    if (r != 0)
        goto fail_stdio;
    for (int i = 0; i < 3; i++) {
        if (child[i] >= 0)
            close(child[i]);
        child[i] = -1;
    }
    p->pidfd = open_pidfd(p->pid);
    /* The child runs: from here on failures leave it to simul_process_close. */
    for (int i = 0; i < 3; i++) {
        if (parent[i] < 0)
            continue;
        r = simul_stream_from_fd(parent[i], NULL, &p->io[i]);
        if (r < 0) {
            for (int k = i; k < 3; k++)
                if (parent[k] >= 0)
                    close(parent[k]);
            posix_spawnattr_destroy(&attr);
            posix_spawn_file_actions_destroy(&fa);
            simul_process_kill(p, SIGKILL);
            simul_process_close(p);
            return r;
        }
        parent[i] = -1;
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    *out = p;
    return 0;

fail_stdio:
    for (int i = 0; i < 3; i++) {
        if (child[i] >= 0)
            close(child[i]);
        if (parent[i] >= 0)
            close(parent[i]);
    }
    posix_spawnattr_destroy(&attr);
fail_attr:
    posix_spawn_file_actions_destroy(&fa);
fail_fa:
    free(p);
    return r;
}

int simul_process_pid(const simul_process *p)
{
    return p ? (int)p->pid : -EINVAL;
}

simul_stream *simul_process_stdin(simul_process *p) { return p ? p->io[0] : NULL; }
simul_stream *simul_process_stdout(simul_process *p) { return p ? p->io[1] : NULL; }
simul_stream *simul_process_stderr(simul_process *p) { return p ? p->io[2] : NULL; }

int simul_process_close_stdin(simul_process *p)
{
    if (!p)
        return -EINVAL;
    if (!p->io[0])
        return 0;
    int r = simul_stream_close(p->io[0]);
    p->io[0] = NULL;
    return r;
}

/* Reaps the child if it has exited: 1 if reaped (now or before), 0 if it
 * still runs, -errno. */
static int try_reap(simul_process *p)
{
    if (p->reaped)
        return 1;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = p->pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG)
                          : waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG);
    if (r < 0)
        return -errno;
    if (si.si_pid == 0)
        return 0;
    p->reaped = 1;
    p->returncode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    return 1;
}

/* One wait for a sign of exit: the pidfd, or SIGCHLD / 100 ms. */
static int wait_exit_event(simul_process *p, int nocancel)
{
    if (p->pidfd >= 0) {
        if (!nocancel) {
            int r = simul_wait_fd(p->pidfd, SIMUL_READABLE, INFINITY);
            return r < 0 ? r : 0;
        }
        simul_scope sc;
        simul_scope_enter_shielded(&sc, INFINITY);
        int r = simul_wait_fd(p->pidfd, SIMUL_READABLE, INFINITY);
        simul_scope_exit(&sc);
        return r < 0 ? r : 0;
    }
    int sigs[] = { SIGCHLD };
    simul_signal *s;
    int r = simul_signal_open(sigs, 1, &s);
    if (r < 0)
        return r;
    /* Checked again after blocking SIGCHLD: an exit just before is seen. */
    r = try_reap(p);
    if (r == 0) {
        simul_scope sc;
        if (nocancel)
            simul_scope_enter_shielded(&sc, simul_now() + 0.1);
        else
            simul_scope_enter(&sc, simul_now() + 0.1);
        r = simul_signal_wait(s);
        int e = simul_scope_exit(&sc);
        r = (r < 0 && e == -ETIMEDOUT) ? 0 : (r < 0 ? r : 0);
    }
    simul_signal_close(s);
    return r < 0 ? r : 0;
}

int simul_process_wait(simul_process *p, int *returncode)
{
    simul_loop *l = simul__loop();
    if (!l || !l->current)
        return -EPERM;
    if (!p || p->loop != l)
        return -EINVAL;
    if (p->waiting)
        return -EBUSY;
    int r;
    p->waiting = 1;
    while ((r = try_reap(p)) == 0) {
        r = wait_exit_event(p, 0);
        if (r < 0)
            break;
    }
    p->waiting = 0;
    if (r < 0)
        return r;
    if (returncode)
        *returncode = p->returncode;
    return 0;
}

int simul_process_returncode(const simul_process *p, int *returncode)
{
    if (!p || !returncode)
        return -EINVAL;
    if (!p->reaped)
        return -EBUSY;
    *returncode = p->returncode;
    return 0;
}

int simul_process_kill(simul_process *p, int sig)
{
    if (!p || sig < 0 || sig >= NSIG)
        return -EINVAL;
    if (p->reaped)
        return -ESRCH;   /* its pid may belong to someone else by now */
#ifdef SYS_pidfd_send_signal
    if (p->pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) == 0)
            return 0;
        if (errno != ENOSYS)
            return -errno;
    }
#endif
    return kill(p->pid, sig) == 0 ? 0 : -errno;
}

int simul_process_close(simul_process *p)
{
    simul_loop *l = simul__loop();
    if (!p)
        return -EINVAL;
    if (!l || !l->current)
        return -EPERM;
    if (p->loop != l)
        return -EPERM;
    if (p->waiting)
        return -EBUSY;
    int r = 0;
    for (int i = 0; i < 3; i++) {
        if (p->io[i]) {
            simul_stream_close(p->io[i]);
            p->io[i] = NULL;
        }
    }
    /* Never leave a zombie or an orphan: kill and reap what still runs.
     * The reap wait is uncancellable (a SIGKILLed child dies promptly). */
    if (!p->reaped) {
        simul_process_kill(p, SIGKILL);
        while ((r = try_reap(p)) == 0)
            if ((r = wait_exit_event(p, 1)) < 0)
                break;
        r = r < 0 ? r : 0;
    }
    if (p->pidfd >= 0)
        simul_close(p->pidfd);
    free(p);
    return r;
}
