/*
 * http_fetch.c - the simul side of the HTTP fetch benchmark
 * (bench/run-http.sh): one session limited to W connections, W tasks taking
 * the URLs of a list in turn, each body streamed and dropped
 * (simul_http_response_read_chunk), as the peers do. Prints one JSON line:
 * pages, errors, bytes, seconds (first request to last body's end).
 *
 *     http_fetch URLS_FILE [W] [read]   W defaults to 50; "read": whole
 *                                       bodies (simul_http_response_read)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <simul.h>
#include <simul/http.h>

static char **urls;
static size_t nurls, next;
static long pages, errors;
static long long bytes;
static simul_http_session *session;
static int whole;   /* read whole bodies instead of streaming them */

static int worker(void *arg)
{
    (void)arg;
    static char sink[65536];   /* shared: the bytes are dropped */
    while (next < nurls) {
        const char *url = urls[next++];
        simul_http_response *r;
        int rc = simul_http_get(session, url, NULL, &r);
        if (rc < 0) {
            errors++;
            continue;
        }
        long long n = 0;
        int k;
        if (whole) {
            const void *body;
            size_t len;
            k = simul_http_response_read(r, &body, &len);
            n = (long long)len;
        } else {
            while ((k = simul_http_response_read_chunk(r, sink, sizeof sink)) > 0)
                n += k;
        }
        if (k < 0 || simul_http_response_status(r) != 200) {
            errors++;
        } else {
            pages++;
            bytes += n;
        }
        simul_http_response_free(r);
    }
    return 0;
}

static int main_task(void *arg)
{
    int w = *(int *)arg;
    simul_http_session_opts o = { .limit = (unsigned)w };
    int rc = simul_http_session_new(&o, &session);
    if (rc < 0) {
        fprintf(stderr, "http_fetch: session: %s\n", simul_strerror(rc));
        return rc;
    }
    simul_task **t = calloc((size_t)w, sizeof *t);
    if (!t)
        return -1;
    double start = simul_now();
    for (int i = 0; i < w; i++)
        t[i] = simul_spawn(worker, NULL);
    rc = simul_gather(t, (size_t)w, NULL, SIMUL_GATHER_COLLECT);
    double secs = simul_now() - start;
    free(t);
    simul_http_session_free(session);
    printf("{\"pages\": %ld, \"errors\": %ld, \"bytes\": %lld, \"seconds\": %.4f}\n", pages,
           errors, bytes, secs);
    return rc < 0 ? rc : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: http_fetch URLS_FILE [WORKERS]\n");
        return 2;
    }
    int w = argc > 2 ? atoi(argv[2]) : 50;
    whole = argc > 3 && strcmp(argv[3], "read") == 0;
    if (w < 1)
        w = 1;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    char line[4096];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line)
            continue;
        if (nurls == cap) {
            cap = cap ? cap * 2 : 1024;
            char **u = realloc(urls, cap * sizeof *urls);
            if (!u)
                return 1;
            urls = u;
        }
        urls[nurls++] = strdup(line);
    }
    fclose(f);
    int rc = simul_run(main_task, &w);
    for (size_t i = 0; i < nurls; i++)
        free(urls[i]);
    free(urls);
    return rc < 0 ? 1 : 0;
}
