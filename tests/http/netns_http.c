/*
 * netns_http.c - the HTTP client's failures that need a network of their
 * own: a name that does not resolve, and an address with no route. Run
 * only by tests/http/netns.sh inside a fresh network namespace (unshare
 * -n: no interface up, not even lo), where the resolver's queries fail at
 * once with ENETUNREACH - no packet leaves the machine, which a test on
 * the host's network could not promise (a .invalid name would go to the
 * host's DNS server). The program checks that it is isolated first, and
 * fails if it is not, rather than pass without testing anything.
 */
#include "harness.h"

#include <simul.h>
#include <simul/http.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    const char *url;
    int         rc;
    char        err[256];
    double      secs;
} probe;

static int get_task(void *arg)
{
    probe *p = arg;
    simul_http_session *h;
    int rc = simul_http_session_new(NULL, &h);
    if (rc < 0)
        return rc;
    simul_http_request_opts o = {.error = p->err, .error_cap = sizeof p->err,
                                 .timeouts = {.total = 10}};
    simul_http_response *r = NULL;
    double t0 = simul_now();
    p->rc = simul_http_get(h, p->url, &o, &r);
    p->secs = simul_now() - t0;
    if (p->rc == 0)
        simul_http_response_free(r);
    return simul_http_session_free(h);
}

static void get(probe *p)
{
    setenv("no_proxy", "*", 1);   /* a proxy from the environment must not answer */
    CHECK_EQ(simul_run(get_task, p), 0);
}

/* In a namespace of our own, lo is down: a connect to 127.0.0.1 fails
 * with ENETUNREACH instead of reaching anything. */
TEST(isolated)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9),
                            .sin_addr.s_addr = htonl(0x7f000001)};
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    close(fd);
    CHECK_EQ(rc, -1);
    CHECK_EQ(e, ENETUNREACH);
}

TEST(dns_failure)
{
    probe p = {.url = "http://simul-test-name.invalid/"};
    get(&p);
    CHECK_EQ(p.rc, SIMUL_HTTP_EDNS);
    CHECK(strstr(p.err, "resolve") != NULL);   /* libcurl's detail line */
    CHECK(p.secs < 5);
    CHECK(strcmp(simul_strerror(SIMUL_HTTP_EDNS), simul_strerror(SIMUL_HTTP_ECONNECT)) != 0);
}

TEST(no_route)
{
    /* not refused (no RST ever comes): the connect fails with ENETUNREACH */
    probe p = {.url = "http://127.0.0.1:9/"};
    get(&p);
    CHECK_EQ(p.rc, SIMUL_HTTP_ECONNECT);
    CHECK(p.err[0] != 0);
    CHECK(p.secs < 5);
}
