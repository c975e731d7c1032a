/*
 * client_internal.h - what the HTTP client's two files share: the session
 * (client.c: libcurl's multi handle on the loop, the pool's admission
 * queue, starting and finishing transfers) and the response (response.c:
 * header and body storage, the body readers, the accessors). A response
 * *is* its transfer: one object from the request until
 * simul_http_response_free.
 */
#ifndef SIMUL_HTTP_CLIENT_INTERNAL_H
#define SIMUL_HTTP_CLIENT_INTERNAL_H

#include "../core/internal.h"
#include "../core/buf.h"

#include <simul/http.h>
#include <simul/text.h>

#include <curl/curl.h>

/* Bytes held for a streaming reader before the transfer is paused. */
#define HTTP_WINDOW       (64 * 1024)
/* libcurl's socket read size (CURLOPT_BUFFERSIZE; client.c says why): a
 * streaming reader's buffer holds at most a window and one piece. */
#define HTTP_PIECE        (32 * 1024)
#define HTTP_MAX_HEADERS  1000
#define HTTP_MAX_HDR_MEM  (1024 * 1024)
#define HTTP_DEFAULT_BODY ((size_t)64 * 1024 * 1024)

/* A per-host slot count (only with limit_per_host), keyed scheme://host:port. */
typedef struct http_host {
    struct http_host *next;
    uint64_t hash;
    unsigned active;    /* slots held */
    unsigned refs;      /* requests alive that name it */
    char     key[];
} http_host;

/* What the task parked on a response waits for. */
enum { HTTP_WAIT_NONE = 0, HTTP_WAIT_HEADERS, HTTP_WAIT_DATA, HTTP_WAIT_DONE };

typedef struct http_hop {
    int   status;
    char *url;
} http_hop;

struct simul_http_response {
    simul_http_session *s;
    CURL               *easy;
    struct curl_slist  *hdrs;       /* the request's header list (owned) */
    http_host          *host;       /* per-host entry, or NULL */
    simul__task        *waiter;     /* parked on this transfer, or NULL */
    int                 wait;       /* HTTP_WAIT_*: what it waits for */
    simul__tnode        timer;      /* total and read timeouts */
    int64_t             total_deadline, read_ns, last_rx;
    int                 sock;       /* the socket libcurl last watched for it, or -1 */
    unsigned            in_multi : 1, has_slot : 1, final : 1, done : 1,
                        paused : 1, wants_all : 1, follow : 1, block_location : 1,
                        discard : 1;   /* leaving: the callbacks drop what comes */
    int                 err;        /* sticky error, 0 */
    int                 status, version;
    char               *reason;
    char               *url;        /* final URL */
    char               *text;       /* the last simul_http_response_text */
    /* headers of the current block: "name\0value\0" pairs at offsets */
    char               *hmem;
    size_t              hlen, hcap;
    uint32_t           *hoff;
    size_t              nh, nhcap;
    http_hop           *hist;
    size_t              nhist;
    simul__buf          body;
    size_t              max_body, received;
    double              pool_wait;
    char                errbuf[CURL_ERROR_SIZE];
};

struct simul_http_session {
    simul_loop         *loop;
    CURLM              *multi;
    CURLSH             *share;
    simul__tnode        timer;      /* libcurl's one timeout */
    unsigned            limit, limit_per_host;
    char               *user_agent;
    char               *ca_file;
    struct curl_slist  *headers;    /* default headers */
    int                 insecure, cookies, max_redirects, http_version;
    size_t              max_body;
    simul_http_timeouts timeouts;   /* resolved: INFINITY for "none" */
    unsigned            active;     /* slots held */
    simul__list         waiters;    /* admission queue, FIFO */
    simul__list         socks;      /* sockets libcurl asked us to watch */
    http_host         **hosts;      /* hash table (limit_per_host only) */
    size_t              nhosts;     /* buckets */
    unsigned            nresp;      /* responses alive (requests in flight too) */
};

/* client.c */
/* Takes r out of libcurl (if still in), closing its connection unless the
 * transfer finished, and frees its pool slot. */
void simul__http_detach(simul_http_response *r);
/* Stops the transfer with err (a timeout, a reader's failure): detached,
 * done, the waiter woken. */
void simul__http_fail(simul_http_response *r, int err);
/* Parks the current task on r until `wait` is met (or r is done, or the
 * task is cancelled: -ECANCELED). */
int  simul__http_park(simul_http_response *r, int wait);
/* Resumes a paused transfer (the reader caught up). */
void simul__http_resume(simul_http_response *r);
/* 0, -EPERM (not in a task), -EXDEV (another loop's session). */
int  simul__http_check(const simul_http_session *s);

/* response.c */
size_t simul__http_on_header(char *p, size_t size, size_t n, void *ud);
size_t simul__http_on_write(char *p, size_t size, size_t n, void *ud);

/* text.c: simul_text_decode_opts for a body that outlives the text and has
 * a NUL after its len bytes (the response's own buffer): when the text is
 * the body's bytes (valid UTF-8 after any BOM), *text points into body and
 * *owned is NULL - no copy; otherwise *text == *owned, allocated (the
 * caller frees *owned). Errors as simul_text_decode_opts. */
int simul__text_decode_view(const void *body, size_t len, const char *content_type,
                            const simul_text_opts *opts, const char **text, char **owned,
                            size_t *outlen, const char **encoding);
/* The current block is the final response: its URL kept, the request's
 * task woken. 0 or -ENOMEM. */
int    simul__http_make_final(simul_http_response *r);
/* Frees what the response holds itself (strings, headers, body). */
void   simul__http_response_release(simul_http_response *r);

#endif
