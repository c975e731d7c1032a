/*
 * main.c - simul-crawl's command line: every option of issue 10 (and the
 * limits behind them) parsed with getopt_long into a crawl_opts, seeds
 * from the arguments and -i FILE, then the crawl on a simul loop
 * (crawl.c). Usage errors exit 2 with a one-line reason; --help prints the
 * options, --version the version. SIGINT and SIGTERM are handled inside
 * the crawl (crawl.c's signal task): stop, save, exit 130.
 */
#include "crawl.h"

#include <simul.h>

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: simul-crawl [OPTIONS] SEED_URL...\n"
    "Crawls the web from the seeds: every page in scope fetched once, politely,\n"
    "its links recorded; resumable (run the same command again on the same -o DIR).\n"
    "\n"
    "  -o, --output DIR        the job directory (default ./crawl): foundurls.tsv,\n"
    "                          pages.jsonl, graph.tsv, summary.json, state.db\n"
    "  -i, --input FILE        read seed URLs from FILE, one a line ('-': stdin)\n"
    "  -c, --concurrency N     fetches at once over all hosts (default 32)\n"
    "      --per-host N        fetches at once per host (default 2)\n"
    "      --delay S           seconds between requests to one host (default 0)\n"
    "      --depth N           follow links at most N deep from the seeds (default: no limit)\n"
    "      --max-pages N       admit at most N URLs in all (default: no limit)\n"
    "      --max-host-pages N  admit at most N URLs per host (default: no limit)\n"
    "      --scope host|domain|prefix   which links to follow (default host)\n"
    "      --include RE        follow only URLs matching this POSIX ERE (repeatable)\n"
    "      --exclude RE        never follow URLs matching this ERE (repeatable)\n"
    "      --no-robots         ignore robots.txt\n"
    "      --user-agent S      the User-Agent (default simul-crawl/" CRAWL_VERSION ")\n"
    "      --max-size BYTES    page body cap (default 10485760)\n"
    "      --max-url-length N  longest URL followed (default 2048)\n"
    "      --max-query-variants N  URLs per host+path that differ in the query (default 1000)\n"
    "      --retries N         retries of 5xx/408/429 and transport errors (default 2)\n"
    "      --retry-wait S      first retry's wait; doubles, with jitter (default 1)\n"
    "      --max-retry-after S cap on a Retry-After wait (default 60)\n"
    "      --max-crawl-delay S cap on robots.txt's Crawl-delay (default 30)\n"
    "      --timeout S         per request (default 60); --connect-timeout S (default 10);\n"
    "                          --read-timeout S: no byte received for S (default 30)\n"
    "      --ca-file FILE      CA certificates for https; --insecure: no verification\n"
    "      --no-fsync          do not fdatasync the outputs at commits\n"
    "      --redis URL --job NAME   a shared crawl: this process is one worker of job\n"
    "                          NAME, whose state is in Redis (-o is not used)\n"
    "      --export DIR        with --redis and --job: write the finished job's outputs\n"
    "      --lease S           a worker's URL returns to the others S seconds after it\n"
    "                          stopped renewing it (default 30)\n"
    "      --redis-wait S      how long Redis may be unreachable (default 300)\n"
    "      --loops N           event loops (threads) in this process (default 1; 0: one\n"
    "                          per CPU): a crawl's fetching and parsing spread over\n"
    "                          them; with --redis, N workers\n"
    "      --pg CONNINFO       also write pages and links into PostgreSQL tables\n"
    "                          (a libpq conninfo string or postgresql:// URI)\n"
    "      --pg-schema NAME    their schema (default crawl)\n"
    "      --pg-timeout S      how long a lost server is retried (default 60)\n"
    "  -q, --quiet             errors only: no progress line, no summary\n"
    "  -v, --verbose           more log lines (repeat for more)\n"
    "  -h, --help              this text;  -V, --version  the version\n"
    "Exit status: 0 finished, 1 finished with page errors, 2 usage error,\n"
    "130 interrupted (state saved), 3 fatal error. See simul-crawl(1).\n";

enum {
    O_PER_HOST = 256, O_DELAY, O_DEPTH, O_MAX_PAGES, O_MAX_HOST_PAGES, O_SCOPE, O_INCLUDE,
    O_EXCLUDE, O_NO_ROBOTS, O_USER_AGENT, O_MAX_SIZE, O_MAX_URL, O_MAX_QUERY, O_RETRIES,
    O_RETRY_WAIT, O_MAX_RETRY_AFTER, O_MAX_CRAWL_DELAY, O_TIMEOUT, O_CONNECT_TIMEOUT,
    O_CA_FILE, O_INSECURE, O_NO_FSYNC, O_COMMIT_INTERVAL, O_NO_SITEMAPS, O_READ_TIMEOUT,
    O_REDIS, O_JOB, O_EXPORT, O_LEASE, O_REDIS_WAIT, O_LOOPS,
    O_PG, O_PG_SCHEMA, O_PG_TIMEOUT,
};

static const struct option longopts[] = {
    { "output", required_argument, NULL, 'o' },
    { "input", required_argument, NULL, 'i' },
    { "concurrency", required_argument, NULL, 'c' },
    { "per-host", required_argument, NULL, O_PER_HOST },
    { "delay", required_argument, NULL, O_DELAY },
    { "depth", required_argument, NULL, O_DEPTH },
    { "max-pages", required_argument, NULL, O_MAX_PAGES },
    { "max-host-pages", required_argument, NULL, O_MAX_HOST_PAGES },
    { "scope", required_argument, NULL, O_SCOPE },
    { "include", required_argument, NULL, O_INCLUDE },
    { "exclude", required_argument, NULL, O_EXCLUDE },
    { "no-robots", no_argument, NULL, O_NO_ROBOTS },
    { "user-agent", required_argument, NULL, O_USER_AGENT },
    { "max-size", required_argument, NULL, O_MAX_SIZE },
    { "max-url-length", required_argument, NULL, O_MAX_URL },
    { "max-query-variants", required_argument, NULL, O_MAX_QUERY },
    { "retries", required_argument, NULL, O_RETRIES },
    { "retry-wait", required_argument, NULL, O_RETRY_WAIT },
    { "max-retry-after", required_argument, NULL, O_MAX_RETRY_AFTER },
    { "max-crawl-delay", required_argument, NULL, O_MAX_CRAWL_DELAY },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
    { "read-timeout", required_argument, NULL, O_READ_TIMEOUT },
    { "ca-file", required_argument, NULL, O_CA_FILE },
    { "insecure", no_argument, NULL, O_INSECURE },
    { "no-fsync", no_argument, NULL, O_NO_FSYNC },
    { "commit-interval", required_argument, NULL, O_COMMIT_INTERVAL },
    { "no-sitemaps", no_argument, NULL, O_NO_SITEMAPS },
    { "redis", required_argument, NULL, O_REDIS },
    { "job", required_argument, NULL, O_JOB },
    { "export", required_argument, NULL, O_EXPORT },
    { "lease", required_argument, NULL, O_LEASE },
    { "redis-wait", required_argument, NULL, O_REDIS_WAIT },
    { "loops", required_argument, NULL, O_LOOPS },
    { "pg", required_argument, NULL, O_PG },
    { "pg-schema", required_argument, NULL, O_PG_SCHEMA },
    { "pg-timeout", required_argument, NULL, O_PG_TIMEOUT },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static const char *prog = "simul-crawl";

static void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    exit(2);
}

static uint64_t num(const char *s, const char *opt, uint64_t lo, uint64_t hi)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (errno || e == s || *e || s[0] == '-' || v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s wants a whole number from %llu to %llu, not '%%s'", opt,
                 (unsigned long long)lo, (unsigned long long)hi);
        die_usage(msg, s);
    }
    return v;
}

static double secs(const char *s, const char *opt)
{
    char *e;
    double v = strtod(s, &e);
    if (e == s || *e || !isfinite(v) || v < 0 || v > 1e6) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s wants seconds (a number >= 0), not '%%s'", opt);
        die_usage(msg, s);
    }
    return v;
}

static void add_regex(regex_t **arr, size_t *n, const char *re, const char *opt)
{
    regex_t *a = realloc(*arr, (*n + 1) * sizeof *a);
    if (!a)
        exit(3);
    *arr = a;
    int rc = regcomp(&a[*n], re, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char err[128], msg[256];
        regerror(rc, &a[*n], err, sizeof err);
        snprintf(msg, sizeof msg, "%s: bad regular expression '%%s': %s", opt, err);
        die_usage(msg, re);
    }
    (*n)++;
}

static char **seeds;
static size_t nseeds, capseeds;

static void add_seed(const char *s, size_t len)
{
    while (len && strchr(" \t\r\n", *s)) {
        s++;
        len--;
    }
    while (len && strchr(" \t\r\n", s[len - 1]))
        len--;
    if (!len || *s == '#')
        return;
    if (nseeds == capseeds) {
        capseeds = capseeds ? capseeds * 2 : 16;
        char **n = realloc(seeds, capseeds * sizeof *n);
        if (!n)
            exit(3);
        seeds = n;
    }
    if (!(seeds[nseeds++] = strndup(s, len)))
        exit(3);
}

static void read_seeds(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        char msg[300];
        snprintf(msg, sizeof msg, "-i %%s: %s", strerror(errno));
        die_usage(msg, path);
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0)
        add_seed(line, (size_t)n);
    free(line);
    if (f != stdin)
        fclose(f);
}

typedef struct run_arg {
    crawl_opts *o;
    int         status;
} run_arg;

static int run_main(void *arg)
{
    run_arg *ra = arg;
    /* a single-process crawl runs on loop 0; the other loops only fetch
     * what it hands them (crawl.c), so their mains have nothing to do */
    if (!ra->o->redis && simul_loop_index() > 0) {
        /* SIGINT and SIGTERM are loop 0's (crawl.c's signal task reads
         * them from a signalfd, which sees only what no thread takes): a
         * thread of these loops that took one would run its disposition -
         * SIG_IGN in a background job - and the crawl would never know */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        return 0;
    }
    int st = ra->o->redis ? dist_run(ra->o) : crawl_run(ra->o);
    /* --loops N: the worst of the loops' statuses */
    int cur = __atomic_load_n(&ra->status, __ATOMIC_RELAXED);
    while (st > cur && !__atomic_compare_exchange_n(&ra->status, &cur, st, 0, __ATOMIC_RELAXED,
                                                    __ATOMIC_RELAXED))
        ;
    return 0;
}

int main(int argc, char **argv)
{
    crawl_opts o = {
        .dir = "crawl", .concurrency = 32, .per_host = 2, .depth = -1, .max_query = 1000,
        .max_url_len = 2048, .max_size = 10u << 20, .retries = 2, .retry_wait = 1,
        .max_retry_after = 60, .max_crawl_delay = 30, .timeout = 60, .connect_timeout = 10,
        .read_timeout = 30,
        .scope = SCOPE_HOST, .robots = 1, .sitemaps = 1,
        .user_agent = "simul-crawl/" CRAWL_VERSION, .fsync = 1, .commit_interval = 0.2,
        .lease = 30, .redis_wait = 300, .loops = 1,
        .pg_schema = "crawl", .pg_timeout = 60,
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:i:c:qvhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.dir = optarg; break;
        case 'i': read_seeds(optarg); break;
        case 'c': o.concurrency = (unsigned)num(optarg, "-c", 1, 10000); break;
        case O_PER_HOST: o.per_host = (unsigned)num(optarg, "--per-host", 1, 10000); break;
        case O_DELAY: o.delay = secs(optarg, "--delay"); break;
        case O_DEPTH: o.depth = (long)num(optarg, "--depth", 0, 1000000); break;
        case O_MAX_PAGES: o.max_pages = num(optarg, "--max-pages", 1, UINT64_MAX / 2); break;
        case O_MAX_HOST_PAGES:
            o.max_host_pages = num(optarg, "--max-host-pages", 1, UINT64_MAX / 2);
            break;
        case O_SCOPE:
            if (!strcmp(optarg, "host")) o.scope = SCOPE_HOST;
            else if (!strcmp(optarg, "domain")) o.scope = SCOPE_DOMAIN;
            else if (!strcmp(optarg, "prefix")) o.scope = SCOPE_PREFIX;
            else die_usage("--scope wants host, domain or prefix, not '%s'", optarg);
            break;
        case O_INCLUDE: add_regex(&o.include, &o.ninclude, optarg, "--include"); break;
        case O_EXCLUDE: add_regex(&o.exclude, &o.nexclude, optarg, "--exclude"); break;
        case O_NO_ROBOTS: o.robots = 0; break;
        case O_USER_AGENT:
            if (!*optarg || strpbrk(optarg, "\r\n"))
                die_usage("--user-agent wants a one-line string, not '%s'", optarg);
            o.user_agent = optarg;
            break;
        case O_MAX_SIZE: o.max_size = num(optarg, "--max-size", 1, (uint64_t)1 << 40); break;
        case O_MAX_URL: o.max_url_len = num(optarg, "--max-url-length", 16, 8192); break;
        case O_MAX_QUERY:
            o.max_query = (unsigned)num(optarg, "--max-query-variants", 0, 1u << 30);
            break;
        case O_RETRIES: o.retries = (unsigned)num(optarg, "--retries", 0, 100); break;
        case O_RETRY_WAIT: o.retry_wait = secs(optarg, "--retry-wait"); break;
        case O_MAX_RETRY_AFTER: o.max_retry_after = secs(optarg, "--max-retry-after"); break;
        case O_MAX_CRAWL_DELAY: o.max_crawl_delay = secs(optarg, "--max-crawl-delay"); break;
        case O_TIMEOUT: o.timeout = secs(optarg, "--timeout"); break;
        case O_CONNECT_TIMEOUT: o.connect_timeout = secs(optarg, "--connect-timeout"); break;
        case O_READ_TIMEOUT: o.read_timeout = secs(optarg, "--read-timeout"); break;
        case O_CA_FILE: o.ca_file = optarg; break;
        case O_INSECURE: o.insecure = 1; break;
        case O_NO_FSYNC: o.fsync = 0; break;
        case O_COMMIT_INTERVAL: o.commit_interval = secs(optarg, "--commit-interval"); break;
        case O_NO_SITEMAPS: o.sitemaps = 0; break;
        case O_REDIS: o.redis = optarg; break;
        case O_JOB:
            if (!*optarg || strlen(optarg) > 200 || strpbrk(optarg, "{}\r\n"))
                die_usage("--job wants a name of 1-200 bytes without {}, not '%s'", optarg);
            o.job = optarg;
            break;
        case O_EXPORT: o.export_dir = optarg; break;
        case O_LEASE: o.lease = secs(optarg, "--lease"); break;
        case O_REDIS_WAIT: o.redis_wait = secs(optarg, "--redis-wait"); break;
        case O_LOOPS: o.loops = (unsigned)num(optarg, "--loops", 0, 256); break;
        case O_PG: o.pg = optarg; break;
        case O_PG_SCHEMA:
            /* an identifier only: it is pasted into SQL (quoted) */
            if (!*optarg || strlen(optarg) > 63 || (*optarg >= '0' && *optarg <= '9') ||
                strspn(optarg, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_") != strlen(optarg))
                die_usage("--pg-schema wants a name of letters, digits and _, not '%s'", optarg);
            o.pg_schema = optarg;
            break;
        case O_PG_TIMEOUT: o.pg_timeout = secs(optarg, "--pg-timeout"); break;
        case 'q': o.quiet = 1; break;
        case 'v': o.verbose++; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("simul-crawl %s (simul %d.%d.%d)\n", CRAWL_VERSION, SIMUL_VERSION_MAJOR,
                         SIMUL_VERSION_MINOR, SIMUL_VERSION_PATCH);
                  return 0;
        case ':': die_usage("option '%s' wants an argument", argv[optind - 1]); break;
        default: die_usage("unknown option '%s'", argv[optind - 1]); break;
        }
    }
    for (int i = optind; i < argc; i++)
        add_seed(argv[i], strlen(argv[i]));
    if (!o.redis != !o.job)
        die_usage("%s", "--redis and --job go together");
    if (o.export_dir && !o.redis)
        die_usage("%s", "--export wants --redis and --job");
    if (o.loops == 0) {   /* one per CPU the process may run on */
        cpu_set_t cpus;
        o.loops = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? (unsigned)CPU_COUNT(&cpus) : 1;
        o.loops = o.loops < 1 ? 1 : o.loops > 256 ? 256 : o.loops;
    }
    if (o.loops > 1 && o.export_dir)
        die_usage("%s", "--loops N is for crawling, not with --export");
    if (o.redis && o.lease < 1)
        die_usage("%s", "--lease wants at least 1 second");
    /* the PostgreSQL sink hangs on the single-process store's commits */
    if (o.redis && o.pg)
        die_usage("%s", "--pg is for a single-process crawl, not with --redis");
    if (!nseeds && !o.export_dir)
        die_usage("%s", "no seed URL (give SEED_URL... or -i FILE)");
    if (o.timeout == 0 || o.connect_timeout == 0 || o.read_timeout == 0)
        die_usage("%s", "--timeout, --connect-timeout and --read-timeout want a number > 0");
    o.seeds = seeds;
    o.nseeds = nseeds;
    log_init(o.quiet, o.verbose);
    run_arg ra = { .o = &o, .status = 0 };
    int rc = o.loops > 1 ? simul_run_loops(o.loops, run_main, &ra, NULL)
                         : simul_run(run_main, &ra);
    if (rc < 0 && rc != -EINTR && ra.status == 0)
        ra.status = 3;
    if (rc < 0 && rc != -EINTR)
        fprintf(stderr, "%s: %s\n", prog, simul_strerror(rc));
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i]);
    free(seeds);
    for (size_t i = 0; i < o.ninclude; i++)
        regfree(&o.include[i]);
    for (size_t i = 0; i < o.nexclude; i++)
        regfree(&o.exclude[i]);
    free(o.include);
    free(o.exclude);
    return rc == -EINTR ? 130 : ra.status;
}
