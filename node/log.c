#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int g_level = NODE_LOG_INFO;
static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int node_log_parse_level(const char *s)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, lower[i]) == 0)
            return i;
    return -1;
}

void node_log_set_level(int level)
{
    atomic_store(&g_level, level);
}

int node_log_enabled(int level)
{
    return level <= atomic_load(&g_level);
}

static void vlog(int level, uint64_t suppressed, const char *fmt, va_list ap)
{
    char msg[1024];
    int len = vsnprintf(msg, sizeof msg, fmt, ap);
    if (suppressed && len >= 0 && (size_t)len < sizeof msg)
        snprintf(msg + len, sizeof msg - (size_t)len, " (%llu similar suppressed)",
                 (unsigned long long)suppressed);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    /* one fprintf per line: stdio locks the stream, so lines never interleave */
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", when, ts.tv_nsec / 1000000, names[level], msg);
}

void node_log(int level, const char *fmt, ...)
{
    if (!node_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, 0, fmt, ap);
    va_end(ap);
}

void node_log_n(int level, uint64_t suppressed, const char *fmt, ...)
{
    if (!node_log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, suppressed, fmt, ap);
    va_end(ap);
}

int node_log_rate_pass(node_log_rate *r, uint64_t *suppressed)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    /* +1: a zero last_ms means "never", whatever the clock's origin */
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + 1;
    uint64_t last = atomic_load(&r->last_ms);
    /* the exchange lets one thread of several racing at the boundary win */
    if ((last != 0 && now - last < 1000) ||
        !atomic_compare_exchange_strong(&r->last_ms, &last, now)) {
        atomic_fetch_add(&r->suppressed, 1);
        return 0;
    }
    *suppressed = atomic_exchange(&r->suppressed, 0);
    return 1;
}
