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

void node_log(int level, const char *fmt, ...)
{
    if (!node_log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    /* one fprintf per line: stdio locks the stream, so lines never interleave */
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", when, ts.tv_nsec / 1000000, names[level], msg);
}
