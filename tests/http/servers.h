/*
 * servers.h - the real servers of the HTTP tests, for test programs in C:
 * the fault server (build/tests/faultd) and the private nginx
 * (tests/http/nginx.sh), started on free loopback ports and stopped when
 * the program exits (atexit, and on SIGINT/SIGTERM through the default
 * disposition: each server also dies with its parent, PR_SET_PDEATHSIG).
 * Plain blocking code: call these from main() before simul_run, or from a
 * task that does not mind blocking for the start-up (under 1 s).
 *
 * A program using them is built with servers.c and the c_args
 * tests/meson.build gives (http_servers_c_args: the paths of faultd and
 * nginx.sh), and depends on faultd.
 */
#ifndef SIMUL_TESTS_HTTP_SERVERS_H
#define SIMUL_TESTS_HTTP_SERVERS_H

/* faultd (tests/http/faultd.c: every path it serves is listed there).
 * two: also listen on 127.0.0.2 (same port). Returns the port (> 0), or
 * -1 with a message on stderr. */
int servers_faultd_start(int two);

/* nginx serving root (tests/http/nginx.sh: plain HTTP/1.1 on 127.0.0.1 and
 * 127.0.0.2, TLS + HTTP/2 on 127.0.0.1, gzip, /redir, /redir-loop,
 * /redir-a <-> /redir-b, /404). Fills *out; 0, or -1 with a message on
 * stderr (e.g. no /usr/sbin/nginx: a test may skip then). */
typedef struct servers_nginx {
    int  port;          /* http://127.0.0.1:port */
    int  tls_port;      /* https://localhost:tls_port (HTTP/2 by ALPN) */
    char ca[512];       /* the CA certificate file to verify it with */
    char dir[256];      /* nginx's own directory (config, logs) */
} servers_nginx;
int servers_nginx_start(const char *root, servers_nginx *out);

/* Stops every server started here (also done at exit). */
void servers_stop_all(void);

#endif
