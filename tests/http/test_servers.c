/*
 * test_servers.c - the C helpers that start the HTTP tests' real servers
 * (servers.c): faultd answers on 127.0.0.1 and 127.0.0.2 and counts each
 * address apart; nginx serves a page, has its TLS port and CA; stopping
 * them frees their ports. Requests go over simul's own streams.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <simul.h>

#include "harness.h"
#include "servers.h"

struct get {
    const char *host;
    int port;
    const char *path;
    char resp[4096];
    int rc;
};

/* One GET over a new connection (Connection: close): the whole answer. */
static int get_task(void *arg)
{
    struct get *g = arg;
    simul_stream *s;
    g->rc = simul_open_connection(g->host, g->port, 5.0, NULL, &s);
    if (g->rc < 0)
        return 0;
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     g->path);
    simul_stream_write(s, req, (size_t)n);
    size_t got = 0;
    int r;
    while (got < sizeof g->resp - 1 &&
           (r = simul_stream_read(s, g->resp + got, sizeof g->resp - 1 - got)) > 0)
        got += (size_t)r;
    g->resp[got] = 0;
    simul_stream_close(s);
    return 0;
}

static void get(struct get *g, const char *host, int port, const char *path)
{
    memset(g, 0, sizeof *g);
    g->host = host;
    g->port = port;
    g->path = path;
    CHECK_EQ(simul_run(get_task, g), 0);
}

TEST(faultd_two_addresses)
{
    int port = servers_faultd_start(1);
    CHECK(port > 0);
    struct get g;
    get(&g, "127.0.0.1", port, "/ok");
    CHECK_EQ(g.rc, 0);
    CHECK(strncmp(g.resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    get(&g, "127.0.0.2", port, "/nolinks");
    CHECK(strncmp(g.resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    get(&g, "127.0.0.2", port, "/stats");
    /* the two earlier connections and this one: one per address before */
    CHECK(strstr(g.resp, "\"accepted\":3,") != NULL);
    CHECK(strstr(g.resp, "\"127.0.0.1\":{\"open\":0,\"peak\":1,\"accepted\":1,") != NULL);
    CHECK(strstr(g.resp, "\"127.0.0.2\":{\"open\":1,\"peak\":1,\"accepted\":2,") != NULL);
    servers_stop_all();
    get(&g, "127.0.0.1", port, "/ok");
    CHECK_EQ(g.rc, -ECONNREFUSED);
}

TEST_T(nginx_page, 30)
{
    char root[] = "/tmp/simul-root-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/index.html", root);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("<html><body>servers test page</body></html>\n", f);
    fclose(f);
    servers_nginx ng;
    if (servers_nginx_start(root, &ng) < 0 && access("/usr/sbin/nginx", X_OK) != 0) {
        printf("# no /usr/sbin/nginx: skipped\n");
        unlink(path);
        rmdir(root);
        return;
    }
    CHECK(ng.port > 0 && ng.tls_port > 0 && ng.tls_port != ng.port);
    CHECK(access(ng.ca, R_OK) == 0);
    struct get g;
    get(&g, "127.0.0.1", ng.port, "/index.html");
    CHECK(strncmp(g.resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(g.resp, "servers test page") != NULL);
    get(&g, "127.0.0.1", ng.port, "/redir");
    CHECK(strncmp(g.resp, "HTTP/1.1 301 ", 13) == 0);
    servers_stop_all();
    get(&g, "127.0.0.1", ng.port, "/index.html");
    CHECK_EQ(g.rc, -ECONNREFUSED);
    unlink(path);
    rmdir(root);
}
