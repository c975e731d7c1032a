/*
 * progress.c - what a person watching sees on stderr: log lines with a
 * time and a level ("00:51:02 warn: ..."), and, when stderr is a terminal
 * and -q was not given, one progress line (pages done, queued, pages/s,
 * errors, bytes, hosts) redrawn in place at most ten times a second. A log
 * line first erases the progress line, which the next tick draws again.
 * Each line is one write, so nothing interleaves.
 */
#include "crawl.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int level_max = LOG_WARN;
static int tty, drawn;
static double last_draw = -1, last_rate_t = -1;
static uint64_t last_rate_done;
static double rate;

void log_init(int q, int verbose)
{
    level_max = q ? LOG_ERROR : LOG_WARN + verbose;
    tty = !q && isatty(STDERR_FILENO);
}

void progress_clear(void)
{
    if (drawn) {
        fputs("\r\033[K", stderr);
        drawn = 0;
    }
}

void logmsg(int level, const char *fmt, ...)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    if (level > level_max)
        return;
    char buf[4096];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int n = snprintf(buf, sizeof buf, "%02d:%02d:%02d %s: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m >= (int)(sizeof buf - (size_t)n - 1) ? (int)(sizeof buf - (size_t)n - 2) : m;
    buf[n++] = '\n';
    progress_clear();
    fwrite(buf, 1, (size_t)n, stderr);
}

/* 1234567 -> "1.2 MB" */
static void human(char *out, size_t cap, double v)
{
    static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

void progress_tick(const progress_stats *s, double now, int force)
{
    if (!tty || (!force && last_draw >= 0 && now - last_draw < 0.1))
        return;
    last_draw = now;
    /* pages/s over the last second or so */
    if (last_rate_t < 0) {
        last_rate_t = now;
        last_rate_done = s->done;
    } else if (now - last_rate_t >= 1.0) {
        rate = (double)(s->done - last_rate_done) / (now - last_rate_t);
        last_rate_t = now;
        last_rate_done = s->done;
    } else if (rate == 0 && now - last_rate_t >= 0.2) {   /* the first second */
        rate = (double)(s->done - last_rate_done) / (now - last_rate_t);
    }
    char bytes[32], line[256];
    human(bytes, sizeof bytes, (double)s->bytes);
    int n = snprintf(line, sizeof line,
                     "\r\033[K%llu pages, %llu queued, %llu in flight, %.0f pages/s, "
                     "%llu errors, %s, %llu hosts",
                     (unsigned long long)s->done, (unsigned long long)s->queued,
                     (unsigned long long)s->inflight, rate, (unsigned long long)s->errors,
                     bytes, (unsigned long long)s->hosts);
    fwrite(line, 1, (size_t)n, stderr);
    drawn = 1;
}
