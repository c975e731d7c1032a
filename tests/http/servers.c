/*
 * servers.c - starts and stops the HTTP tests' real servers for C test
 * programs (see servers.h). faultd runs as a child whose first stdout line
 * is its port; nginx through tests/http/nginx.sh in a temporary directory,
 * whose env file gives the ports and the CA. Everything started is stopped
 * at exit.
 */
#include "servers.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SIMUL_FAULTD
#error "SIMUL_FAULTD (the faultd binary) comes from tests/meson.build"
#endif
#ifndef SIMUL_NGINX_SH
#error "SIMUL_NGINX_SH (tests/http/nginx.sh) comes from tests/meson.build"
#endif

#define MAX_CHILDREN 8
static pid_t children[MAX_CHILDREN];
static int nchildren;
static char nginx_dirs[MAX_CHILDREN][64];   /* the mkdtemp directories */
static int nnginx;
static int registered;

static void at_exit(void)
{
    servers_stop_all();
}

static void register_exit(void)
{
    if (!registered) {
        atexit(at_exit);
        registered = 1;
    }
}

void servers_stop_all(void)
{
    for (int i = 0; i < nchildren; i++) {
        kill(children[i], SIGTERM);
        waitpid(children[i], NULL, 0);
    }
    nchildren = 0;
    for (int i = 0; i < nnginx; i++) {
        pid_t p = fork();
        if (p == 0) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0)
                dup2(null, 1);
            char srv[300];
            snprintf(srv, sizeof srv, "%.63s/srv", nginx_dirs[i]);
            execl("/bin/bash", "bash", SIMUL_NGINX_SH, "stop", srv, (char *)NULL);
            _exit(127);
        }
        if (p > 0)
            waitpid(p, NULL, 0);
        char cmd[320];
        snprintf(cmd, sizeof cmd, "rm -rf '%.63s'", nginx_dirs[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "servers: cannot remove %s\n", nginx_dirs[i]);
    }
    nnginx = 0;
}

int servers_faultd_start(int two)
{
    if (nchildren == MAX_CHILDREN)
        return -1;
    register_exit();
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        /* dies with the test program, even if it is killed */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(SIMUL_FAULTD, "faultd", two ? "-2" : "-p0", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    children[nchildren++] = p;
    char line[32];
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(fds[0], line + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    close(fds[0]);
    line[n] = 0;
    int port = atoi(line);
    if (port <= 0) {
        fprintf(stderr, "servers: %s printed no port\n", SIMUL_FAULTD);
        return -1;
    }
    return port;
}

int servers_nginx_start(const char *root, servers_nginx *out)
{
    if (nnginx == MAX_CHILDREN)
        return -1;
    register_exit();
    memset(out, 0, sizeof *out);
    char dir[] = "/tmp/simul-nginx-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    snprintf(nginx_dirs[nnginx++], sizeof nginx_dirs[0], "%s", dir);
    snprintf(out->dir, sizeof out->dir, "%s/srv", dir);
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        /* nginx is a daemon, not our child: nginx.sh's watchdog stops it
         * if this program dies without running its atexit handlers */
        char pid[24];
        snprintf(pid, sizeof pid, "%d", (int)parent);
        setenv("NGINX_WATCH_PID", pid, 1);
        execl("/bin/bash", "bash", SIMUL_NGINX_SH, "start", out->dir, root, (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "servers: nginx.sh start failed\n");
        return -1;
    }
    char path[300], line[512];
    snprintf(path, sizeof path, "%s/env", out->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "NGINX_PORT=", 11) == 0)
            out->port = atoi(line + 11);
        else if (strncmp(line, "NGINX_TLS_PORT=", 15) == 0)
            out->tls_port = atoi(line + 15);
        else if (strncmp(line, "NGINX_CA=", 9) == 0)
            snprintf(out->ca, sizeof out->ca, "%s", line + 9);
    }
    fclose(f);
    return out->port > 0 && out->tls_port > 0 && out->ca[0] ? 0 : -1;
}
