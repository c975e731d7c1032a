/*
 * client.c - the HTTP client's session: libcurl's multi_socket API driven
 * by the loop. libcurl tells us which sockets to watch (socket callback ->
 * one simul_watch per socket, in the core's fd table) and when to call it
 * back (timer callback -> one timer node per session); a ready socket or
 * the timer calls curl_multi_socket_action, and finished transfers are
 * collected from curl_multi_info_read. Sockets are opened and closed
 * through our callbacks so the fd table forgets a number before libcurl
 * closes it. No thread per request, no polling: a task making a request
 * parks (the core's wait primitive) until its response's headers arrived.
 *
 * The pool: libcurl limits connections (CURLMOPT_MAX_TOTAL_CONNECTIONS,
 * MAX_HOST_CONNECTIONS), but queues excess transfers inside itself with
 * their timeouts already running. So requests first pass our admission
 * queue (FIFO, per-host aware), which hands out at most `limit` slots;
 * only a request holding a slot is added to libcurl and timed. A slot is
 * freed when the transfer finishes (its connection is back in libcurl's
 * cache then), fails, or its response is freed.
 */
#include "client_internal.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- process-wide libcurl init ------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- sockets and the timer ---------------------------------------------- */

typedef struct http_sock {
    simul__list          node;     /* in s->socks */
    simul_http_session  *s;
    simul_watch         *w;
    curl_socket_t        fd;
    int64_t              last_rx;  /* loop ns of its last readable event */
} http_sock;

static void collect_done(simul_http_session *s);

static void on_ready(simul_watch *w, int revents, void *arg)
{
    http_sock *k = arg;
    simul_http_session *s = k->s;
    int flags = 0, running;
    (void)w;
    if (revents & (SIMUL_READABLE | SIMUL_HANGUP)) {
        flags |= CURL_CSELECT_IN;
        k->last_rx = s->loop->now;
    }
    if (revents & SIMUL_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    if (revents & SIMUL_ERROR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(s->multi, k->fd, flags, &running);
    collect_done(s);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sp)
{
    simul_http_session *s = ud;
    http_sock *k = sp;
    simul_http_response *r = NULL;
    /* the transfer that wants this socket (CURLINFO_ACTIVESOCKET is only
     * set for finished or connect-only transfers): for its read timeout */
    if (easy && curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r) == CURLE_OK && r)
        r->sock = fd;
    if (what == CURL_POLL_REMOVE) {
        if (k) {
            simul_watch_free(k->w);
            simul__list_remove(&k->node);
            free(k);
            curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k)
            return -1;
        k->w = simul_watch_new(fd, on_ready, k);
        if (!k->w) {
            free(k);
            return -1;
        }
        k->s = s;
        k->fd = fd;
        simul__list_push(&s->socks, &k->node);
        curl_multi_assign(s->multi, fd, k);
    }
    int ev = ((what & CURL_POLL_IN) ? SIMUL_READABLE : 0) |
             ((what & CURL_POLL_OUT) ? SIMUL_WRITABLE : 0);
    int rc = simul_watch_set(k->w, ev);
    if (rc < 0)
        simul__log(SIMUL_LOG_WARN, "http: cannot watch fd %d: %s", (int)fd, simul_strerror(rc));
    return 0;
}

static void on_session_timer(simul__tnode *n)
{
    simul_http_session *s = simul__container_of(n, simul_http_session, timer);
    int running;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect_done(s);
}

static int on_curl_timer(CURLM *multi, long ms, void *ud)
{
    simul_http_session *s = ud;
    (void)multi;
    if (ms < 0) {
        if (simul__timer_armed(&s->timer))
            simul__timer_disarm(s->loop, &s->timer);
        return 0;
    }
    /* ms == 0: in the next iteration, never from inside libcurl. */
    return simul__timer_arm(s->loop, &s->timer, simul__timeout_ns(s->loop, ms / 1000.0),
                            on_session_timer) < 0 ? -1 : 0;
}

/* libcurl opens and closes sockets through these, so the fd table never
 * keeps a number libcurl closed behind its back. */
static curl_socket_t on_open(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)ud;
    (void)purpose;
    int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    simul_fd_forget(fd);   /* stale handles of a previous file under the number */
    return fd;
}

static int on_close(void *ud, curl_socket_t fd)
{
    (void)ud;
    simul_fd_forget(fd);
    return close(fd);
}

/* ---- errors ------------------------------------------------------------- */

static int map_curl(simul_http_response *r, CURLcode cc)
{
    long oserr = 0, connects = 0;
    curl_off_t pre = 0;
    switch (cc) {
    case CURLE_OK:                   return 0;
    case CURLE_OUT_OF_MEMORY:
        /* libcurl's header buffer refuses a line over CURL_MAX_HTTP_HEADER
         * (100 KiB) with this code and no message: a server's fault */
        if (r->status && !r->final) {
            if (!r->errbuf[0])
                snprintf(r->errbuf, sizeof r->errbuf, "response header line too large");
            return SIMUL_HTTP_EPROTO;
        }
        return -ENOMEM;
    case CURLE_URL_MALFORMAT:        return SIMUL_HTTP_EURL;
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* a refused redirect, a response that is not HTTP (0.9) after
         * connecting, or a bad scheme in the URL given */
        if (r->nhist)
            return SIMUL_HTTP_EREDIRECT;
        curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects);
        curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        return connects || pre ? SIMUL_HTTP_EPROTO : SIMUL_HTTP_EURL;
    case CURLE_COULDNT_RESOLVE_HOST: return SIMUL_HTTP_EDNS;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_PROXY:                return SIMUL_HTTP_EPROXY;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
        return oserr == ECONNREFUSED ? SIMUL_HTTP_EREFUSED : SIMUL_HTTP_ECONNECT;
    case CURLE_OPERATION_TIMEDOUT:   return SIMUL_HTTP_ETIMEOUT_CONNECT;  /* ours are total/read */
    case CURLE_RECV_ERROR:
        /* a failed recv has its errno; libcurl's parsers (bad chunked
         * encoding, oversized headers) give this code without one */
        curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
        return oserr ? SIMUL_HTTP_ERESET : SIMUL_HTTP_EPROTO;
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:          return SIMUL_HTTP_ERESET;
    case CURLE_PARTIAL_FILE:         return SIMUL_HTTP_EINCOMPLETE;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS: return SIMUL_HTTP_ECERT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:       return SIMUL_HTTP_ETLS;
    case CURLE_TOO_MANY_REDIRECTS:   return SIMUL_HTTP_EREDIRECTS;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_RANGE_ERROR:          return SIMUL_HTTP_EPROTO;
    case CURLE_BAD_CONTENT_ENCODING: return SIMUL_HTTP_EDECODE;
    case CURLE_FILESIZE_EXCEEDED:    return SIMUL_HTTP_EBODY;
    default:                         return SIMUL_HTTP_EFAIL;
    }
}

/* ---- the admission queue ------------------------------------------------- */

typedef struct http_admit {
    simul__list          node;
    simul__task         *task;
    simul_http_response *r;
    int                  granted;
} http_admit;

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* scheme://host:port of url, lowercased, into key (cap bytes); its length,
 * or 0 if url has no authority. */
static size_t host_key(const char *url, char *key, size_t cap)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return 0;
    const char *a = sep + 3, *e = a + strcspn(a, "/?#");
    const char *at = memrchr(a, '@', (size_t)(e - a));
    if (at)
        a = at + 1;
    size_t sl = (size_t)(sep - url), al = (size_t)(e - a);
    if (sl + 3 + al + 8 >= cap)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < sl; i++)
        key[n++] = (char)tolower((unsigned char)url[i]);
    memcpy(key + n, "://", 3);
    n += 3;
    for (size_t i = 0; i < al; i++)
        key[n++] = (char)tolower((unsigned char)a[i]);
    /* a port given? (after the last ':' that is not inside [v6]) */
    const char *colon = memrchr(a, ':', al), *br = memrchr(a, ']', al);
    if (!colon || (br && br > colon))
        n += (size_t)snprintf(key + n, cap - n, ":%s",
                              sl == 5 && !strncasecmp(url, "https", 5) ? "443" : "80");
    key[n] = 0;
    return n;
}

static int host_ref(simul_http_session *s, const char *url, http_host **out)
{
    char key[512];
    size_t n = host_key(url, key, sizeof key);
    *out = NULL;
    if (!n)
        return 0;   /* libcurl will refuse the URL */
    if (!s->hosts) {
        s->nhosts = 256;
        s->hosts = calloc(s->nhosts, sizeof *s->hosts);
        if (!s->hosts)
            return -ENOMEM;
    }
    uint64_t h = fnv1a(key, n);
    http_host **b = &s->hosts[h % s->nhosts];
    for (http_host *e = *b; e; e = e->next)
        if (e->hash == h && !strcmp(e->key, key)) {
            e->refs++;
            *out = e;
            return 0;
        }
    http_host *e = malloc(sizeof *e + n + 1);
    if (!e)
        return -ENOMEM;
    e->hash = h;
    e->active = 0;
    e->refs = 1;
    memcpy(e->key, key, n + 1);
    e->next = *b;
    *b = e;
    *out = e;
    return 0;
}

static void host_unref(simul_http_session *s, http_host *e)
{
    if (!e || --e->refs)
        return;
    for (http_host **p = &s->hosts[e->hash % s->nhosts]; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    free(e);
}

static int has_room(const simul_http_session *s, const simul_http_response *r)
{
    return s->active < s->limit &&
           (!r->host || !s->limit_per_host || r->host->active < s->limit_per_host);
}

/* Grants slots to waiters in FIFO order, skipping those whose host is full. */
static void pump(simul_http_session *s)
{
    simul__task *self = simul__current();
    for (simul__list *n = s->waiters.next; n != &s->waiters && s->active < s->limit;) {
        http_admit *a = simul__container_of(n, http_admit, node);
        n = n->next;
        if (!has_room(s, a->r))
            continue;
        simul__list_remove(&a->node);
        s->active++;
        if (a->r->host)
            a->r->host->active++;
        a->r->has_slot = 1;
        a->granted = 1;
        if (a->task != self)
            simul__wake(a->task, 0);
    }
}

static void slot_release(simul_http_response *r)
{
    if (!r->has_slot)
        return;
    r->has_slot = 0;
    r->s->active--;
    if (r->host)
        r->host->active--;
    pump(r->s);
}

/* Waits for a slot until `deadline` (loop ns). 0 with r->has_slot set. */
static int admit(simul_http_session *s, simul_http_response *r, int64_t deadline)
{
    http_admit a = {.task = simul__current(), .r = r};
    simul__list_push(&s->waiters, &a.node);
    pump(s);
    if (a.granted)
        return 0;
    int rc = simul__park_until(deadline, 0, "http pool", __builtin_return_address(0));
    if (a.granted) {
        if (rc >= 0)
            return 0;
        slot_release(r);   /* granted, but the cancel or deadline came first */
    } else {
        simul__list_remove(&a.node);
    }
    return rc == -ETIMEDOUT ? SIMUL_HTTP_ETIMEOUT_POOL : rc;
}

/* ---- transfers ------------------------------------------------------------ */

static void wake_waiter(simul_http_response *r)
{
    simul__task *t = r->waiter;
    if (t) {
        r->waiter = NULL;
        r->wait = HTTP_WAIT_NONE;
        simul__wake(t, 0);
    }
}

void simul__http_detach(simul_http_response *r)
{
    if (simul__timer_armed(&r->timer))
        simul__timer_disarm(r->s->loop, &r->timer);
    if (r->in_multi) {
        r->in_multi = 0;
        if (r->paused) {
            /* libcurl 7.88 frees what it held for a paused transfer only
             * when the connection is free too: on an HTTP/2 connection
             * other streams still use, removing a paused transfer leaks
             * its buffers (curl issue #10971). Unpausing hands them to
             * on_write, which drops them, and libcurl frees them then. */
            r->discard = 1;
            r->paused = 0;
            (void)curl_easy_pause(r->easy, CURLPAUSE_CONT);
        }
        curl_multi_remove_handle(r->s->multi, r->easy);
    }
    slot_release(r);
}

void simul__http_fail(simul_http_response *r, int err)
{
    if (r->done)
        return;
    simul__http_detach(r);
    r->done = 1;
    if (!r->err)
        r->err = err;
    wake_waiter(r);
}

static void finish(simul_http_response *r, CURLcode cc)
{
    if (r->done)
        return;
    if (cc != CURLE_OK && !r->err)
        r->err = map_curl(r, cc);
    if (cc == CURLE_OK && !r->final && simul__http_make_final(r) < 0 && !r->err)
        r->err = -ENOMEM;   /* finished without a blank line after the headers */
    simul__http_detach(r);
    r->done = 1;
    wake_waiter(r);
}

static void collect_done(simul_http_session *s)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        simul_http_response *r = NULL;
        CURLcode cc = m->data.result;   /* m dies with the removal */
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            finish(r, cc);
    }
}

/* The callbacks see whole header lines and body chunks only; bytes of a
 * line still arriving (slowloris headers) show on the socket. So before a
 * read timeout, the last readable event of the transfer's socket counts
 * too (for HTTP/2, any stream's bytes: a live connection, as aiohttp's
 * sock_read measures it). Only looked up when the timeout seems due. */
static int64_t sock_rx(simul_http_response *r)
{
    int64_t t = r->last_rx;
    if (r->sock < 0)
        return t;
    for (simul__list *n = r->s->socks.next; n != &r->s->socks; n = n->next) {
        http_sock *k = simul__container_of(n, http_sock, node);
        if (k->fd == r->sock && k->last_rx > t)
            t = k->last_rx;
    }
    return t;
}

/* The transfer's own timer: total deadline and read inactivity. */
static void on_xfer_timer(simul__tnode *n)
{
    simul_http_response *r = simul__container_of(n, simul_http_response, timer);
    simul_loop *l = r->s->loop;
    int64_t now = l->now;
    if (now >= r->total_deadline) {
        snprintf(r->errbuf, sizeof r->errbuf, "no complete response within %.3f s",
                 r->s->timeouts.total);
        simul__http_fail(r, SIMUL_HTTP_ETIMEOUT_TOTAL);
        return;
    }
    int64_t next = r->total_deadline;
    if (r->read_ns != SIMUL__NO_DEADLINE) {
        long connects = 0;
        curl_off_t pre = 0;
        curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &connects);
        curl_easy_getinfo(r->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        if (r->paused || (connects && !pre))
            r->last_rx = now;   /* our reader is slow, or still connecting */
        else if (now - r->last_rx >= r->read_ns)
            r->last_rx = sock_rx(r);
        if (now - r->last_rx >= r->read_ns) {
            snprintf(r->errbuf, sizeof r->errbuf, "no data received for %.3f s",
                     (double)r->read_ns / 1e9);
            simul__http_fail(r, SIMUL_HTTP_ETIMEOUT_READ);
            return;
        }
        if (r->last_rx + r->read_ns < next)
            next = r->last_rx + r->read_ns;
    }
    if (next != SIMUL__NO_DEADLINE && simul__timer_arm(l, &r->timer, next, on_xfer_timer) < 0)
        simul__http_fail(r, -ENOMEM);
}

int simul__http_park(simul_http_response *r, int wait)
{
    r->waiter = simul__current();
    r->wait = wait;
    int rc = simul__park("http", __builtin_return_address(0));
    r->waiter = NULL;
    r->wait = HTTP_WAIT_NONE;
    return rc;
}

void simul__http_resume(simul_http_response *r)
{
    if (!r->paused || r->done)
        return;
    r->paused = 0;
    r->last_rx = r->s->loop->now;
    /* Delivers the data libcurl held to on_write at once (which may pause
     * again). If on_write refused it (the body cap), libcurl returns the
     * error here without scheduling the transfer again: end it ourselves. */
    CURLcode cc = curl_easy_pause(r->easy, CURLPAUSE_CONT);
    if (cc != CURLE_OK) {
        if (!r->err)
            r->err = map_curl(r, cc);
        simul__http_fail(r, r->err);
    }
}

int simul__http_check(const simul_http_session *s)
{
    simul_loop *l = simul__loop();
    if (!l || !l->current)
        return -EPERM;
    return s->loop == l ? 0 : -EXDEV;
}

/* ---- sessions -------------------------------------------------------------- */

static int bad_time(double t) { return isnan(t) || t < 0; }

/* 0 -> dflt; INFINITY stays. */
static double pick(double v, double dflt) { return v == 0 ? dflt : v; }

static int copy_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    return (*dst = strdup(src)) ? 0 : -ENOMEM;
}

static int valid_headers(const char *const *h)
{
    for (; h && *h; h++)
        if (!strchr(*h, ':') || **h == ':')
            return 0;
    return 1;
}

int simul_http_session_new(const simul_http_session_opts *opts, simul_http_session **out)
{
    static const simul_http_session_opts none;
    simul_loop *l = simul__loop();
    if (!out)
        return -EINVAL;
    if (!l)
        return -EPERM;
    if (!opts)
        opts = &none;
    const simul_http_timeouts *t = &opts->timeouts;
    if (bad_time(t->total) || bad_time(t->connect) || bad_time(t->read) || bad_time(t->pool) ||
        (opts->limit && opts->limit_per_host > opts->limit) ||
        (opts->http_version != SIMUL_HTTP_VERSION_AUTO &&
         opts->http_version != SIMUL_HTTP_VERSION_1_1 &&
         opts->http_version != SIMUL_HTTP_VERSION_2) ||
        opts->max_redirects < SIMUL_HTTP_NO_REDIRECTS || !valid_headers(opts->headers))
        return -EINVAL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return SIMUL_HTTP_EFAIL;

    simul_http_session *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = l;
    s->limit = opts->limit ? opts->limit : 100;
    s->limit_per_host = opts->limit_per_host;
    s->insecure = opts->insecure;
    s->cookies = opts->cookies;
    s->max_redirects = opts->max_redirects ? opts->max_redirects : 10;
    s->http_version = opts->http_version;
    s->max_body = opts->max_body ? opts->max_body : HTTP_DEFAULT_BODY;
    s->timeouts.total = pick(t->total, 300);
    s->timeouts.connect = pick(t->connect, INFINITY);
    s->timeouts.read = pick(t->read, INFINITY);
    s->timeouts.pool = pick(t->pool, INFINITY);
    simul__list_init(&s->waiters);
    simul__list_init(&s->socks);
    int rc = -ENOMEM;
    char ua[64];
    snprintf(ua, sizeof ua, "simul/%d.%d.%d", SIMUL_VERSION_MAJOR, SIMUL_VERSION_MINOR,
             SIMUL_VERSION_PATCH);
    if (copy_str(&s->user_agent, opts->user_agent ? opts->user_agent : ua) < 0 ||
        copy_str(&s->ca_file, opts->ca_file) < 0)
        goto fail;
    for (const char *const *h = opts->headers; h && *h; h++) {
        struct curl_slist *n = curl_slist_append(s->headers, *h);
        if (!n)
            goto fail;
        s->headers = n;
    }
    if (!(s->multi = curl_multi_init()))
        goto fail;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)s->limit);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)s->limit_per_host);
    curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->limit);
    curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    if (s->cookies) {
        if (!(s->share = curl_share_init()))
            goto fail;
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
    }
    *out = s;
    return 0;
fail:
    if (s->multi)
        curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->headers);
    free(s->user_agent);
    free(s->ca_file);
    free(s);
    return rc;
}

int simul_http_session_free(simul_http_session *s)
{
    if (!s)
        return -EINVAL;
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    if (l != s->loop)
        return -EXDEV;
    if (s->nresp)
        return -EBUSY;
    curl_multi_cleanup(s->multi);   /* closes the pooled connections (on_close) */
    if (simul__timer_armed(&s->timer))
        simul__timer_disarm(l, &s->timer);
    simul__list *n;
    while ((n = simul__list_pop(&s->socks))) {
        http_sock *k = simul__container_of(n, http_sock, node);
        simul_watch_free(k->w);
        free(k);
    }
    if (s->share)
        curl_share_cleanup(s->share);
    curl_slist_free_all(s->headers);
    free(s->hosts);   /* empty: every response released its entry */
    free(s->user_agent);
    free(s->ca_file);
    free(s);
    return 0;
}

/* ---- requests ---------------------------------------------------------------- */

/* name of "Name: value" equal (case-insensitive) to that of b? */
static int same_name(const char *a, const char *b)
{
    size_t n = strcspn(a, ":");
    return strlen(b) > n && b[n] == ':' && !strncasecmp(a, b, n);
}

static int build_headers(simul_http_response *r, const char *const *extra)
{
    simul_http_session *s = r->s;
    if (!extra || !*extra)
        return 0;   /* the session's list is used as it is */
    struct curl_slist *l = NULL, *n;
    for (struct curl_slist *d = s->headers; d; d = d->next) {
        int replaced = 0;
        for (const char *const *h = extra; *h; h++)
            replaced |= same_name(d->data, *h);
        if (!replaced) {
            if (!(n = curl_slist_append(l, d->data)))
                goto oom;
            l = n;
        }
    }
    for (const char *const *h = extra; *h; h++) {
        if (!(n = curl_slist_append(l, *h)))
            goto oom;
        l = n;
    }
    r->hdrs = l;
    return 0;
oom:
    curl_slist_free_all(l);
    return -ENOMEM;
}

static int setup(simul_http_response *r, const char *method, const char *url,
                 const simul_http_request_opts *o)
{
    simul_http_session *s = r->s;
    CURL *e = r->easy = curl_easy_init();
    if (!e)
        return -ENOMEM;
    int rc = build_headers(r, o->headers);
    if (rc < 0)
        return rc;
    int redirs = o->max_redirects ? o->max_redirects : s->max_redirects;
    r->follow = redirs != SIMUL_HTTP_NO_REDIRECTS;
    double connect = pick(o->timeouts.connect, s->timeouts.connect);

    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* libcurl reads a socket in buffer-sized pieces and, after each, polls
     * it for more: a syscall pair per piece. 32 KiB instead of 16 halves
     * them (measured on the crawl: 6.3 -> 3.4 recv and 6.7 -> 3.9 poll a
     * page). Not more: one piece of a gzip bomb inflates ~1000-fold, and
     * libcurl fails with "out of memory" instead of letting our body cap
     * answer once a paused transfer holds over 64 MiB of it. */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)HTTP_PIECE);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, simul__http_on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, simul__http_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, s);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, r->follow ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, r->follow ? (long)redirs : 0L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");   /* every decoder libcurl has */
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, s->user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs ? r->hdrs : s->headers);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     s->http_version == SIMUL_HTTP_VERSION_1_1 ? (long)CURL_HTTP_VERSION_1_1
                     : s->http_version == SIMUL_HTTP_VERSION_2
                         ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                         : (long)CURL_HTTP_VERSION_2TLS);
    /* Wait for a pending connection that may turn out HTTP/2 and carry this
     * stream too - only where h2 is possible: over TLS (ALPN), or always
     * with prior knowledge. A cleartext HTTP/1.1 server that is slow to
     * answer would otherwise hold every request to it behind the first. */
    if (s->http_version == SIMUL_HTTP_VERSION_2 ||
        (s->http_version == SIMUL_HTTP_VERSION_AUTO && !strncasecmp(url, "https:", 6)))
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    if (s->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    if (s->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (s->share) {
        curl_easy_setopt(e, CURLOPT_SHARE, s->share);
        curl_easy_setopt(e, CURLOPT_COOKIEFILE, "");   /* the engine on, no file */
    }
    if (isfinite(connect))
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(connect * 1000) > 0 ? (long)(connect * 1000) : 1L);
    if (o->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, (const char *)o->body);
        if (strcmp(method, "POST"))
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    } else if (!strcmp(method, "GET")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "");
    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    }
    return curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK ? 0 : -ENOMEM;
}

static void copy_error(const simul_http_request_opts *o, const simul_http_response *r)
{
    if (o->error && o->error_cap) {
        size_t n = strnlen(r->errbuf, sizeof r->errbuf);
        if (n >= o->error_cap)
            n = o->error_cap - 1;
        memcpy(o->error, r->errbuf, n);
        o->error[n] = 0;
    }
}

int simul_http_request(simul_http_session *s, const char *method, const char *url,
                       const simul_http_request_opts *opts, simul_http_response **out)
{
    static const simul_http_request_opts none;
    if (!s || !method || !*method || !url || !out)
        return -EINVAL;
    int rc = simul__http_check(s);
    if (rc < 0)
        return rc;
    const simul_http_request_opts *o = opts ? opts : &none;
    const simul_http_timeouts *t = &o->timeouts;
    if (bad_time(t->total) || bad_time(t->connect) || bad_time(t->read) || bad_time(t->pool) ||
        o->max_redirects < SIMUL_HTTP_NO_REDIRECTS || !valid_headers(o->headers) ||
        (o->body_len && !o->body) || (o->error && !o->error_cap))
        return -EINVAL;
    if (o->error)
        o->error[0] = 0;
    if (simul__cancel_pending(simul__current()))
        return -ECANCELED;

    simul_http_response *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->s = s;
    r->sock = -1;
    s->nresp++;
    r->max_body = o->max_body ? o->max_body : s->max_body;
    simul__buf_init(&r->body, r->max_body < SIZE_MAX ? r->max_body + 1 : SIZE_MAX);
    if ((rc = setup(r, method, url, o)) < 0 ||
        (s->limit_per_host && (rc = host_ref(s, url, &r->host)) < 0))
        goto out;

    simul_loop *l = s->loop;
    int64_t t0 = simul__clock_ns();
    rc = admit(s, r, simul__timeout_ns(l, pick(t->pool, s->timeouts.pool)));
    r->pool_wait = (double)(simul__clock_ns() - t0) / 1e9;
    if (rc < 0) {
        if (rc == SIMUL_HTTP_ETIMEOUT_POOL)
            snprintf(r->errbuf, sizeof r->errbuf, "no connection slot within %.3f s",
                     r->pool_wait);
        goto out;
    }

    /* Timed from here: the slot is ours. */
    double total = pick(t->total, s->timeouts.total), rd = pick(t->read, s->timeouts.read);
    r->total_deadline = simul__timeout_ns(l, total);
    r->read_ns = isfinite(rd) ? simul__seconds_to_ns(rd) : SIMUL__NO_DEADLINE;
    r->last_rx = l->now;
    int64_t first = r->total_deadline;
    if (r->read_ns != SIMUL__NO_DEADLINE && r->last_rx + r->read_ns < first)
        first = r->last_rx + r->read_ns;
    if (first != SIMUL__NO_DEADLINE &&
        (rc = simul__timer_arm(l, &r->timer, first, on_xfer_timer)) < 0)
        goto out;
    if (curl_multi_add_handle(s->multi, r->easy) != CURLM_OK) {
        rc = -ENOMEM;
        goto out;
    }
    r->in_multi = 1;

    while (!r->final && !r->done) {
        rc = simul__http_park(r, HTTP_WAIT_HEADERS);
        if (rc == -ECANCELED)
            goto out;
    }
    if (!r->final) {
        rc = r->err ? r->err : SIMUL_HTTP_EPROTO;
        goto out;
    }
    *out = r;
    return 0;
out:
    copy_error(o, r);
    simul_http_response_free(r);
    return rc;
}

int simul_http_get(simul_http_session *s, const char *url, const simul_http_request_opts *opts,
                   simul_http_response **out)
{
    return simul_http_request(s, "GET", url, opts, out);
}

void simul_http_response_free(simul_http_response *r)
{
    if (!r)
        return;
    simul_http_session *s = r->s;
    simul__http_detach(r);   /* an unfinished transfer's connection is closed */
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    host_unref(s, r->host);
    simul__http_response_release(r);
    free(r);
    s->nresp--;
}

/* ---- error messages ------------------------------------------------------ */

/* simul_strerror's words for this layer's range, registered at load time
 * (this file is linked whenever the layer is), so the core names none. */
static const char *message(int code)
{
    switch (-code) {   /* code is negative, the cases positive */
    case -SIMUL_HTTP_EURL:             return "Bad URL or unsupported scheme";
    case -SIMUL_HTTP_EDNS:             return "Could not resolve host";
    case -SIMUL_HTTP_EREFUSED:         return "Connection refused";
    case -SIMUL_HTTP_ECONNECT:         return "Could not connect";
    case -SIMUL_HTTP_ERESET:           return "Connection reset or closed by the server";
    case -SIMUL_HTTP_EINCOMPLETE:      return "Response body shorter than announced";
    case -SIMUL_HTTP_ETLS:             return "TLS failure";
    case -SIMUL_HTTP_ECERT:            return "Server certificate verification failed";
    case -SIMUL_HTTP_ETIMEOUT_POOL:    return "Timed out waiting for a connection slot";
    case -SIMUL_HTTP_ETIMEOUT_CONNECT: return "Timed out connecting";
    case -SIMUL_HTTP_ETIMEOUT_READ:    return "Timed out reading (no data received)";
    case -SIMUL_HTTP_ETIMEOUT_TOTAL:   return "Request timed out (total)";
    case -SIMUL_HTTP_EREDIRECTS:       return "Too many redirects";
    case -SIMUL_HTTP_EREDIRECT:        return "Redirect to a refused scheme";
    case -SIMUL_HTTP_EPROTO:           return "Malformed HTTP response";
    case -SIMUL_HTTP_EBODY:            return "Response body too large";
    case -SIMUL_HTTP_EDECODE:          return "Could not decode the response body";
    case -SIMUL_HTTP_ESTATUS:          return "HTTP error status (>= 400)";
    case -SIMUL_HTTP_EPROXY:           return "Proxy failure";
    case -SIMUL_HTTP_EFAIL:            return "HTTP transfer failed";
    default: return NULL;
    }
}

static const simul__errtab errtab = { -3199, -3100, message };

__attribute__((constructor)) static void register_messages(void)
{
    simul__strerror_add(&errtab);
}
