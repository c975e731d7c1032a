/*
 * dns.c - asynchronous name resolution (aiodns, loop.getaddrinfo).
 *
 * getaddrinfo(3) blocks, so it runs in the loop's thread pool; the task
 * waits parked. Numeric hosts with numeric (or no) services cannot block
 * and are resolved inline. Answers are copied into lists simul owns (one
 * malloc per node: the addrinfo, its address and its canonical name), so
 * that cached answers can be handed out many times and every list is freed
 * the same way, by simul_freeaddrinfo().
 *
 * The cache: per loop, at most DNS_CACHE_MAX entries, each kept for a fixed
 * TTL (getaddrinfo reports none; SIMUL_DNS_TTL overrides the default 60 s,
 * 0 disables caching). Only successful answers are cached, so a name that
 * starts resolving is seen at once. When full, the entry closest to expiry
 * (the oldest, as the TTL is fixed) is evicted.
 */
#include "sys_internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#define CALLER() __builtin_return_address(0)

#define DNS_CACHE_MAX   64
#define DNS_TTL_DEFAULT 60.0
#define DNS_NAME_MAX    1025   /* NI_MAXHOST: longer names are rejected */

typedef struct dns_entry {
    char            *host, *service;    /* NULL allowed */
    int              flags, family, socktype, protocol;
    struct addrinfo *ai;                /* simul-owned copy */
    int64_t          expires;           /* loop clock, ns */
} dns_entry;

typedef struct dns_cache {
    dns_entry e[DNS_CACHE_MAX];
    size_t    n;
    int64_t   ttl_ns;
} dns_cache;

int simul_eai_to_error(int eai)
{
    switch (eai) {
    case 0:              return 0;
    case EAI_SYSTEM:     return errno > 0 ? -errno : -EIO;
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: return SIMUL_EAI_ADDRFAMILY;
#endif
    case EAI_AGAIN:      return SIMUL_EAI_AGAIN;
    case EAI_BADFLAGS:   return SIMUL_EAI_BADFLAGS;
    case EAI_FAIL:       return SIMUL_EAI_FAIL;
    case EAI_FAMILY:     return SIMUL_EAI_FAMILY;
    case EAI_MEMORY:     return SIMUL_EAI_MEMORY;
#ifdef EAI_NODATA
    case EAI_NODATA:     return SIMUL_EAI_NODATA;
#endif
    case EAI_NONAME:     return SIMUL_EAI_NONAME;
    case EAI_OVERFLOW:   return SIMUL_EAI_OVERFLOW;
    case EAI_SERVICE:    return SIMUL_EAI_SERVICE;
    case EAI_SOCKTYPE:   return SIMUL_EAI_SOCKTYPE;
    default:             return SIMUL_EAI_FAIL;   /* glibc's async-only codes */
    }
}

void simul_freeaddrinfo(struct addrinfo *res)
{
    while (res) {
        struct addrinfo *next = res->ai_next;
        free(res);  /* address and name live in the same block */
        res = next;
    }
}

/* A simul-owned deep copy of a getaddrinfo list; NULL on ENOMEM. */
static struct addrinfo *ai_copy(const struct addrinfo *src)
{
    struct addrinfo *head = NULL, **tail = &head;
    for (; src; src = src->ai_next) {
        size_t nlen = src->ai_canonname ? strlen(src->ai_canonname) + 1 : 0;
        struct addrinfo *n = malloc(sizeof *n + src->ai_addrlen + nlen);
        if (!n) {
            simul_freeaddrinfo(head);
            return NULL;
        }
        *n = *src;
        n->ai_next = NULL;
        n->ai_addr = (struct sockaddr *)(void *)(n + 1);
        memcpy(n->ai_addr, src->ai_addr, src->ai_addrlen);
        n->ai_canonname = NULL;
        if (nlen) {
            n->ai_canonname = (char *)n->ai_addr + src->ai_addrlen;
            memcpy(n->ai_canonname, src->ai_canonname, nlen);
        }
        *tail = n;
        tail = &n->ai_next;
    }
    return head;
}

/* ---- the cache --------------------------------------------------------- */

static int streq(const char *a, const char *b)
{
    return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/* The TTL default, from SIMUL_DNS_TTL read once per process. */
static pthread_once_t ttl_once = PTHREAD_ONCE_INIT;
static double ttl_default = DNS_TTL_DEFAULT;

static void ttl_read(void)
{
    const char *s = getenv("SIMUL_DNS_TTL");
    if (s && *s) {
        char *end;
        double v = strtod(s, &end);
        if (*end == '\0' && v >= 0 && v <= 86400)
            ttl_default = v;
        else
            simul__log(SIMUL_LOG_WARN, "ignoring SIMUL_DNS_TTL=%s (0..86400 s)", s);
    }
}

static int cache_init(simul_loop *l, void *data)
{
    (void)l;
    dns_cache *c = data;
    pthread_once(&ttl_once, ttl_read);
    c->ttl_ns = simul__seconds_to_ns(ttl_default);
    return 0;
}

static void entry_clear(dns_entry *e);

/* The cache is a module of the loop, attached by the first answer cached;
 * closing the loop frees it. */
static void cache_close(simul_loop *l, void *data)
{
    (void)l;
    dns_cache *c = data;
    for (size_t i = 0; i < c->n; i++)
        entry_clear(&c->e[i]);
}

static simul__module dns_module = {
    .name = "dns",
    .size = sizeof(dns_cache),
    .init = cache_init,
    .close = cache_close,
};

static void entry_clear(dns_entry *e)
{
    free(e->host);
    free(e->service);
    simul_freeaddrinfo(e->ai);
    memset(e, 0, sizeof *e);
}

static int entry_matches(const dns_entry *e, const char *host, const char *service,
                         const struct addrinfo *h)
{
    return streq(e->host, host) && streq(e->service, service) &&
           e->flags == h->ai_flags && e->family == h->ai_family &&
           e->socktype == h->ai_socktype && e->protocol == h->ai_protocol;
}

/* A copy of the cached answer (0), -ENOENT on a miss, -ENOMEM. */
static int cache_lookup(simul_loop *l, const char *host, const char *service,
                        const struct addrinfo *h, struct addrinfo **res)
{
    dns_cache *c = simul__module_peek(l, &dns_module);
    if (!c)
        return -ENOENT;
    int64_t now = simul__clock_ns();
    for (size_t i = 0; i < c->n; i++) {
        dns_entry *e = &c->e[i];
        if (!entry_matches(e, host, service, h))
            continue;
        if (e->expires <= now) {
            entry_clear(e);
            c->e[i] = c->e[--c->n];
            return -ENOENT;
        }
        *res = ai_copy(e->ai);
        return *res ? 0 : -ENOMEM;
    }
    return -ENOENT;
}

/* Caches a copy of ai. Failure to cache (memory) only costs a later lookup. */
static void cache_insert(simul_loop *l, const char *host, const char *service,
                         const struct addrinfo *h, const struct addrinfo *ai)
{
    dns_cache *c = simul__module_data(l, &dns_module);
    if (!c || c->ttl_ns == 0)
        return;
    int64_t now = simul__clock_ns();
    size_t slot = c->n;
    for (size_t i = 0; i < c->n; i++) {
        if (entry_matches(&c->e[i], host, service, h)) {
            slot = i;   /* refresh */
            break;
        }
    }
    if (slot == DNS_CACHE_MAX) {
        slot = 0;
        for (size_t i = 1; i < c->n; i++)
            if (c->e[i].expires < c->e[slot].expires)
                slot = i;
    }
    dns_entry ne = {
        .host = host ? strdup(host) : NULL,
        .service = service ? strdup(service) : NULL,
        .flags = h->ai_flags, .family = h->ai_family,
        .socktype = h->ai_socktype, .protocol = h->ai_protocol,
        .ai = ai_copy(ai),
        .expires = now + c->ttl_ns,
    };
    if ((host && !ne.host) || (service && !ne.service) || !ne.ai) {
        entry_clear(&ne);
        return;
    }
    if (slot < c->n)
        entry_clear(&c->e[slot]);
    else
        c->n++;
    c->e[slot] = ne;
}

/* ---- lookups in the pool ------------------------------------------------ */

typedef struct dns_job {
    simul__work      w;
    simul_loop      *loop;
    char            *host, *service;  /* copies: the caller may be gone */
    struct addrinfo  hints;
    struct addrinfo *ai;              /* libc's answer */
    int              err;             /* negative errno */
    simul__task     *waiter;
    int              abandoned;
} dns_job;

static void dns_job_free(dns_job *j)
{
    if (j->ai)
        freeaddrinfo(j->ai);
    free(j->host);
    free(j->service);
    free(j);
}

static void dns_work(simul__work *w)
{
    dns_job *j = (dns_job *)w;
    errno = 0;
    int eai = getaddrinfo(j->host, j->service, &j->hints, &j->ai);
    j->err = simul_eai_to_error(eai);
    if (eai != 0)
        j->ai = NULL;
}

static void dns_done(simul__work *w, int status)
{
    dns_job *j = (dns_job *)w;
    if (status < 0)
        j->err = status;
    /* Cache even for an abandoned caller: the next one profits. */
    if (j->err == 0 && j->ai)
        cache_insert(j->loop, j->host, j->service, &j->hints, j->ai);
    if (j->abandoned) {
        dns_job_free(j);
        return;
    }
    simul__wake(j->waiter, 0);
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Numeric host (and numeric or no service): getaddrinfo cannot block. */
static int is_numeric(const char *host, const char *service)
{
    unsigned char buf[16];
    if (!host)
        return 0;
    if (service && !all_digits(service))
        return 0;
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int simul_getaddrinfo(const char *host, const char *service,
                      const struct addrinfo *hints, struct addrinfo **res)
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (!t)
        return -EPERM;
    if (!res || (!host && !service))
        return -EINVAL;
    if ((host && strlen(host) >= DNS_NAME_MAX) || (service && strlen(service) >= DNS_NAME_MAX))
        return SIMUL_EAI_NONAME;
    *res = NULL;
    if (simul__cancel_pending(t))
        return -ECANCELED;
    struct addrinfo h = { 0 };
    if (hints) {
        h.ai_flags = hints->ai_flags;
        h.ai_family = hints->ai_family;
        h.ai_socktype = hints->ai_socktype;
        h.ai_protocol = hints->ai_protocol;
    } else {
        /* getaddrinfo(3)'s defaults for NULL hints */
        h.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG;
    }

    if (is_numeric(host, service)) {
        struct addrinfo *ai = NULL;
        struct addrinfo hn = h;
        hn.ai_flags |= AI_NUMERICHOST | (service ? AI_NUMERICSERV : 0);
        errno = 0;
        int eai = getaddrinfo(host, service, &hn, &ai);
        if (eai != 0)
            return simul_eai_to_error(eai);
        *res = ai_copy(ai);
        freeaddrinfo(ai);
        return *res ? 0 : -ENOMEM;
    }

    int r = cache_lookup(l, host, service, &h, res);
    if (r != -ENOENT)
        return r;

    dns_job *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->w.work = dns_work;
    j->w.done = dns_done;
    j->loop = l;
    j->hints = h;
    j->waiter = t;
    if ((host && !(j->host = strdup(host))) || (service && !(j->service = strdup(service)))) {
        dns_job_free(j);
        return -ENOMEM;
    }
    r = simul__work_submit(l, &j->w);
    if (r < 0) {
        dns_job_free(j);
        return r;
    }
    r = simul__park("getaddrinfo", CALLER());
    if (r == -ECANCELED) {
        if (simul__work_cancel(l, &j->w) == 0)
            dns_job_free(j);
        else
            j->abandoned = 1;
        return -ECANCELED;
    }
    r = j->err;
    if (r == 0) {
        *res = ai_copy(j->ai);
        if (!*res)
            r = -ENOMEM;
    }
    dns_job_free(j);
    return r;
}
