/*
 * test_dns.c - simul_getaddrinfo: numeric hosts inline, names through the
 * thread pool, the TTL cache, unresolvable names and unknown services, bad
 * arguments, and a cancelled lookup.
 *
 * No packet may leave the machine, so every case that resolves a name runs
 * in its own network namespace (only a downed loopback) and mount namespace,
 * with /etc/nsswitch.conf replaced by "hosts: files" and /etc/hosts by the
 * test's own file: answers are deterministic and come from that file. If
 * namespaces are not permitted, those cases say so and skip.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>
#include <simul.h>

static int bind_file(const char *content, const char *target)
{
    char tmp[] = "/tmp/simul-dns-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, content, strlen(content));
    close(fd);
    int r = (n == (ssize_t)strlen(content) && mount(tmp, target, NULL, MS_BIND, NULL) == 0) ? 0 : -1;
    unlink(tmp);
    return r;
}

/* 0, or -1 (and a skip message) if namespaces are not permitted. */
static int isolate(const char *hosts)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWNET) != 0 &&
        unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0)
        goto skip;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        goto skip;
    if (bind_file("hosts: files\nservices: files\n", "/etc/nsswitch.conf") != 0)
        goto skip;
    if (bind_file(hosts, "/etc/hosts") != 0)
        goto skip;
    return 0;
skip:
    fprintf(stderr, "  skip: cannot create network/mount namespaces (%s); "
                    "not resolving names without isolation\n", strerror(errno));
    return -1;
}

/* The first IPv4 address of a list as a string. */
static const char *v4(const struct addrinfo *ai, char *buf)
{
    for (; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET)
            return inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, buf, 64);
    return "none";
}

static int main_numeric(void *a)
{
    (void)a;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    CHECK_EQ(simul_getaddrinfo("127.0.0.1", "8080", &hints, &res), 0);
    CHECK(res != NULL);
    CHECK_EQ(res->ai_family, AF_INET);
    CHECK_EQ(res->ai_socktype, SOCK_STREAM);
    CHECK_EQ(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 8080);
    CHECK(res->ai_next == NULL);
    simul_freeaddrinfo(res);
    CHECK_EQ(simul_getaddrinfo("::1", NULL, &hints, &res), 0);
    CHECK_EQ(res->ai_family, AF_INET6);
    CHECK(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr));
    simul_freeaddrinfo(res);
    /* Bad input. */
    CHECK_EQ(simul_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
    CHECK_EQ(simul_getaddrinfo("127.0.0.1", "80", NULL, NULL), -EINVAL);
    struct addrinfo badfam = { .ai_family = 12345 };
    CHECK_EQ(simul_getaddrinfo("127.0.0.1", "80", &badfam, &res), SIMUL_EAI_FAMILY);
    char longname[2000];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_EQ(simul_getaddrinfo(longname, NULL, NULL, &res), SIMUL_EAI_NONAME);
    simul_freeaddrinfo(NULL);
    return 0;
}
TEST(numeric_hosts_and_bad_input)
{
    struct addrinfo *res;
    CHECK_EQ(simul_getaddrinfo("127.0.0.1", NULL, NULL, &res), -EPERM);
    CHECK_EQ(simul_run(main_numeric, NULL), 0);
}

TEST(eai_mapping)
{
    CHECK_EQ(simul_eai_to_error(0), 0);
    CHECK_EQ(simul_eai_to_error(EAI_ADDRFAMILY), SIMUL_EAI_ADDRFAMILY);
    CHECK_EQ(simul_eai_to_error(EAI_AGAIN), SIMUL_EAI_AGAIN);
    CHECK_EQ(simul_eai_to_error(EAI_BADFLAGS), SIMUL_EAI_BADFLAGS);
    CHECK_EQ(simul_eai_to_error(EAI_FAIL), SIMUL_EAI_FAIL);
    CHECK_EQ(simul_eai_to_error(EAI_FAMILY), SIMUL_EAI_FAMILY);
    CHECK_EQ(simul_eai_to_error(EAI_MEMORY), SIMUL_EAI_MEMORY);
    CHECK_EQ(simul_eai_to_error(EAI_NODATA), SIMUL_EAI_NODATA);
    CHECK_EQ(simul_eai_to_error(EAI_NONAME), SIMUL_EAI_NONAME);
    CHECK_EQ(simul_eai_to_error(EAI_OVERFLOW), SIMUL_EAI_OVERFLOW);
    CHECK_EQ(simul_eai_to_error(EAI_SERVICE), SIMUL_EAI_SERVICE);
    CHECK_EQ(simul_eai_to_error(EAI_SOCKTYPE), SIMUL_EAI_SOCKTYPE);
    /* Not an errno: an unknown host must not read as a device error. */
    CHECK(SIMUL_EAI_NONAME != -ENXIO && SIMUL_EAI_AGAIN != -EAGAIN);
    /* EAI_SYSTEM carries the errno getaddrinfo left. */
    errno = EMFILE;
    CHECK_EQ(simul_eai_to_error(EAI_SYSTEM), -EMFILE);
    errno = 0;
    CHECK_EQ(simul_eai_to_error(EAI_SYSTEM), -EIO);
    CHECK_EQ(simul_eai_to_error(EAI_INPROGRESS), SIMUL_EAI_FAIL);
}

static int main_names(void *a)
{
    (void)a;
    char buf[64];
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    CHECK_EQ(simul_getaddrinfo("localhost", "80", &hints, &res), 0);
    CHECK(strcmp(v4(res, buf), "127.0.0.1") == 0);
    CHECK_EQ(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 80);
    simul_freeaddrinfo(res);
    CHECK_EQ(simul_getaddrinfo("simul-test.example", NULL, &hints, &res), 0);
    CHECK(strcmp(v4(res, buf), "127.0.0.5") == 0);
    simul_freeaddrinfo(res);
    /* The failures. */
    res = (struct addrinfo *)1;
    CHECK_EQ(simul_getaddrinfo("nonexistent.invalid", "80", &hints, &res), SIMUL_EAI_NONAME);
    CHECK(res == NULL);
    CHECK_EQ(simul_getaddrinfo("localhost", "no-such-service-xyz", &hints, &res), SIMUL_EAI_SERVICE);
    /* The same code through a stream connect, and what it says. */
    simul_stream *c = NULL;
    CHECK_EQ(simul_open_connection("nonexistent.invalid", 80, 5, NULL, &c), SIMUL_EAI_NONAME);
    CHECK(c == NULL);
    CHECK(strcmp(simul_strerror(SIMUL_EAI_NONAME), "Unknown node or service") == 0);
    /* A canonical name survives the copy. */
    struct addrinfo canon = { .ai_family = AF_INET, .ai_flags = AI_CANONNAME };
    CHECK_EQ(simul_getaddrinfo("localhost", NULL, &canon, &res), 0);
    CHECK(res->ai_canonname && strcmp(res->ai_canonname, "localhost") == 0);
    simul_freeaddrinfo(res);
    return 0;
}
TEST(names_resolve_in_pool)
{
    if (isolate("127.0.0.1 localhost\n127.0.0.5 simul-test.example\n") != 0)
        return;
    CHECK_EQ(simul_run(main_names, NULL), 0);
}

static int rewrite_hosts(const char *content)
{
    /* Write through the bind mount: same file, new content. */
    int fd = open("/etc/hosts", O_WRONLY | O_TRUNC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, content, strlen(content));
    close(fd);
    return n == (ssize_t)strlen(content) ? 0 : -1;
}

static int main_cache(void *a)
{
    (void)a;
    char buf[64];
    struct addrinfo hints = { .ai_family = AF_INET };
    struct addrinfo *res = NULL;
    CHECK_EQ(simul_getaddrinfo("cached.example", NULL, &hints, &res), 0);
    CHECK(strcmp(v4(res, buf), "127.0.0.5") == 0);
    simul_freeaddrinfo(res);
    CHECK_EQ(rewrite_hosts("127.0.0.6 cached.example\n"), 0);
    /* Within the TTL: the cached answer, without a thread round trip. */
    CHECK_EQ(simul_getaddrinfo("cached.example", NULL, &hints, &res), 0);
    CHECK(strcmp(v4(res, buf), "127.0.0.5") == 0);
    simul_freeaddrinfo(res);
    /* Other hints are another key. */
    struct addrinfo h2 = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
    CHECK_EQ(simul_getaddrinfo("cached.example", NULL, &h2, &res), 0);
    CHECK(strcmp(v4(res, buf), "127.0.0.6") == 0);
    simul_freeaddrinfo(res);
    /* After the TTL (0.3 s here): the new answer. */
    CHECK_EQ(simul_sleep(0.35), 0);
    CHECK_EQ(simul_getaddrinfo("cached.example", NULL, &hints, &res), 0);
    CHECK(strcmp(v4(res, buf), "127.0.0.6") == 0);
    simul_freeaddrinfo(res);
    /* Failures are not cached. */
    CHECK_EQ(simul_getaddrinfo("late.example", NULL, &hints, &res), SIMUL_EAI_NONAME);
    CHECK_EQ(rewrite_hosts("127.0.0.7 late.example\n"), 0);
    CHECK_EQ(simul_getaddrinfo("late.example", NULL, &hints, &res), 0);
    CHECK(strcmp(v4(res, buf), "127.0.0.7") == 0);
    simul_freeaddrinfo(res);
    /* More names than the cache holds: still right answers, no leak. */
    char hosts[100 * 40] = "";
    for (int i = 0; i < 100; i++) {
        char line[40];
        snprintf(line, sizeof line, "127.0.1.%d n%d.example\n", i, i);
        strcat(hosts, line);
    }
    CHECK_EQ(rewrite_hosts(hosts), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 100; i++) {
            char name[32], want[32];
            snprintf(name, sizeof name, "n%d.example", i);
            snprintf(want, sizeof want, "127.0.1.%d", i);
            CHECK_EQ(simul_getaddrinfo(name, NULL, &hints, &res), 0);
            CHECK(strcmp(v4(res, buf), want) == 0);
            simul_freeaddrinfo(res);
        }
    }
    return 0;
}
TEST(ttl_cache)
{
    if (isolate("127.0.0.5 cached.example\n") != 0)
        return;
    setenv("SIMUL_DNS_TTL", "0.3", 1);
    CHECK_EQ(simul_run(main_cache, NULL), 0);
}

/* A lookup stuck behind a busy one-thread pool: its caller is cancelled and
 * returns at once; the loop still closes cleanly. */
static void *block(void *a)
{
    (void)a;
    struct timespec ts = { 0, 150 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    return NULL;
}
static int busy(void *a) { (void)a; return simul_to_thread(block, NULL, NULL); }
static int lookup(void *a)
{
    (void)a;
    struct addrinfo *res = NULL;
    int r = simul_getaddrinfo("localhost", NULL, NULL, &res);
    CHECK(res == NULL);
    return r;
}
static int main_cancel(void *a)
{
    (void)a;
    simul_threadpool_set_size(1);
    simul_task *b = simul_spawn(busy, NULL);
    simul_yield();
    simul_task *t = simul_spawn(lookup, NULL);
    simul_yield();
    double t0 = simul_now();
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK(simul_now() - t0 < 0.1);   /* the blocker holds the thread 0.15 s */
    /* And one whose lookup is already running in the thread. */
    t = simul_spawn(lookup, NULL);
    simul_yield();
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK_EQ(simul_join(b), 0);
    return 0;
}
TEST(cancelled_lookup)
{
    if (isolate("127.0.0.1 localhost\n") != 0)
        return;
    CHECK_EQ(simul_run(main_cancel, NULL), 0);
}
