/*
 * areq-append.c - the walkthrough's areq.py, file side, written with simul's
 * async file API: for each page, one task "fetches" it, finds the links in
 * it (href="...") and appends "source_url<TAB>parsed_url" lines to the
 * output file opened in append mode, as areq.py's write_one() does with
 * aiofiles.open(file, "a"). Pages are local files here (no traffic leaves
 * the machine); without page arguments, three built-in demo pages are
 * "fetched" from memory after a short simulated network delay.
 *
 *     areq-append OUT.tsv [PAGE.html ...]
 *
 * Like areq.py it writes the header "source_url\tparsed_url" first (with a
 * truncating open), logs "Found N links for URL" and "Wrote results for
 * source URL: URL" to stdout, and keeps going when one page fails.
 */
#include <simul.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MAX  (1 << 20)   /* a page larger than this is an error */
#define LINKS_MAX 1000        /* links kept per page */

static const char *const demo_url[] = {
    "https://regex101.com/", "https://docs.python.org/3/this-url-will-404.html",
    "https://www.nytimes.com/guides/",
};
static const char *const demo_html[] = {
    "<a href=\"https://regex101.com/codegen\">code</a> <a href=\"https://regex101.com/quiz\">quiz</a>",
    NULL, /* the 404 */
    "<a href=\"https://www.nytimes.com/guides/privacy\">p</a>"
    "<a href=\"https://www.nytimes.com/guides/well\">w</a>"
    "<a href=\"https://www.nytimes.com/guides/tech\">t</a>",
};

typedef struct job {
    const char *out;
    const char *url;      /* what is logged and written as source_url */
    int         demo;     /* index into demo_* or -1 for a file */
} job;

/* fetch_html: the page into a malloc'd, NUL-terminated buffer. */
static int fetch(const job *j, char **html)
{
    if (j->demo >= 0) {
        int r = simul_sleep(0.01 * (j->demo + 1));   /* the "network" */
        if (r < 0)
            return r;
        if (!demo_html[j->demo])
            return -ENOENT;                          /* areq's 404 */
        *html = strdup(demo_html[j->demo]);
        return *html ? 0 : -ENOMEM;
    }
    simul_file *f;
    int r = simul_file_open(j->url, O_RDONLY, 0, &f);
    if (r < 0)
        return r;
    char *buf = malloc(PAGE_MAX + 1);
    size_t len = 0;
    if (!buf) {
        simul_file_close(f);
        return -ENOMEM;
    }
    while ((r = simul_file_read(f, buf + len, PAGE_MAX + 1 - len)) > 0) {
        len += (size_t)r;
        if (len > PAGE_MAX) {
            r = -EFBIG;
            break;
        }
    }
    int c = simul_file_close(f);
    if (r == 0)
        r = c;
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[len] = '\0';
    *html = buf;
    return 0;
}

/* parse: every href="..." value, in order (areq's HREF_RE). */
static int parse(const char *html, const char *links[], size_t lens[])
{
    int n = 0;
    for (const char *p = html; n < LINKS_MAX && (p = strstr(p, "href=\"")) != NULL;) {
        p += 6;
        const char *end = strchr(p, '"');
        if (!end)
            break;
        links[n] = p;
        lens[n++] = (size_t)(end - p);
        p = end + 1;
    }
    return n;
}

/* write_one: parse the page and append its links to the output file. */
static int write_one(void *arg)
{
    const job *j = arg;
    char *html = NULL;
    int r = fetch(j, &html);
    if (r < 0) {
        printf("Error for %s: %s\n", j->url, simul_strerror(r));
        return r;
    }
    static const char *links[LINKS_MAX];
    static size_t lens[LINKS_MAX];
    /* Shared by every task: safe because nothing between parse() and the
     * formatting loop below suspends (tasks only switch inside simul calls). */
    int n = parse(html, links, lens);
    printf("Found %d links for %s\n", n, j->url);
    size_t cap = 0;
    for (int i = 0; i < n; i++)
        cap += strlen(j->url) + 1 + lens[i] + 1;
    char *lines = malloc(cap + 1), *w = lines;
    if (!lines) {
        free(html);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++)
        w += sprintf(w, "%s\t%.*s\n", j->url, (int)lens[i], links[i]);
    free(html);

    simul_file *f;
    r = simul_file_open(j->out, O_WRONLY | O_CREAT | O_APPEND, 0644, &f);   /* mode "a" */
    if (r < 0)
        goto out;
    /* One write per line, as areq.py; the file's buffer gathers them. */
    for (char *line = lines; line < w && r >= 0;) {
        char *nl = strchr(line, '\n');
        r = simul_file_write(f, line, (size_t)(nl + 1 - line));
        line = nl + 1;
    }
    int c = simul_file_close(f);   /* flushes: a full disk shows up here */
    if (r >= 0)
        r = c;
    if (r >= 0)
        printf("Wrote results for source URL: %s\n", j->url);
    else
        printf("Error writing results for %s: %s\n", j->url, simul_strerror(r));
out:
    free(lines);
    return r < 0 ? r : 0;
}

typedef struct args {
    int    argc;
    char **argv;
} args;

/* bulk_crawl_and_write: the header, then one task per page, gathered. */
static int amain(void *arg)
{
    args *a = arg;
    const char *out = a->argv[1];
    simul_file *f;
    int r = simul_file_open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
    if (r < 0) {
        fprintf(stderr, "areq-append: %s: %s\n", out, simul_strerror(r));
        return r;
    }
    static const char header[] = "source_url\tparsed_url\n";
    r = simul_file_write(f, header, sizeof header - 1);
    int c = simul_file_close(f);
    if (r < 0 || c < 0) {
        fprintf(stderr, "areq-append: %s: %s\n", out, simul_strerror(r < 0 ? r : c));
        return r < 0 ? r : c;
    }
    int npages = a->argc > 2 ? a->argc - 2 : 3;
    job *jobs = calloc((size_t)npages, sizeof *jobs);
    simul_task **tasks = calloc((size_t)npages, sizeof *tasks);
    int *results = calloc((size_t)npages, sizeof *results);
    if (!jobs || !tasks || !results) {
        r = -ENOMEM;
        goto done;
    }
    int spawned = 0;
    for (int i = 0; i < npages; i++) {
        jobs[i].out = out;
        jobs[i].demo = a->argc > 2 ? -1 : i;
        jobs[i].url = a->argc > 2 ? a->argv[i + 2] : demo_url[i];
        tasks[i] = simul_spawn(write_one, &jobs[i]);
        if (!tasks[i])
            break;
        spawned++;
    }
    /* return_exceptions=True: one bad page does not stop the others. */
    r = simul_gather(tasks, (size_t)spawned, results, SIMUL_GATHER_COLLECT);
    if (r == 0 && spawned < npages)
        r = -ENOMEM;
done:
    free(jobs);
    free(tasks);
    free(results);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT.tsv [PAGE.html ...]\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    args a = { argc, argv };
    int r = simul_run(amain, &a);
    return r < 0 ? 1 : 0;
}
