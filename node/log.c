#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = NODE_LOG_INFO;
static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const lower_names[] = {"error", "warn", "info", "debug"};

/* where lines go: stderr, or log_file (reopened on SIGHUP) */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_fd = -1; /* -1: stderr */
static int g_json;
static char g_path[4096];

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

int node_log_configure(int json, const char *path, char *why, size_t cap)
{
    int fd = -1;
    if (path && path[0]) {
        if (strlen(path) >= sizeof g_path) {
            snprintf(why, cap, "log_file: path too long");
            return -1;
        }
        if ((fd = open_log(path)) < 0) {
            snprintf(why, cap, "log_file %s: %s", path, strerror(errno));
            return -1;
        }
    }
    pthread_mutex_lock(&g_mu);
    if (g_fd >= 0)
        close(g_fd);
    g_fd = fd;
    g_json = json;
    snprintf(g_path, sizeof g_path, "%s", fd >= 0 ? path : "");
    pthread_mutex_unlock(&g_mu);
    return 0;
}

int node_log_reopen(void)
{
    pthread_mutex_lock(&g_mu);
    int rc = 0;
    if (g_path[0]) {
        int fd = open_log(g_path);
        if (fd >= 0) {
            close(g_fd);
            g_fd = fd;
        } else {
            rc = -1; /* keep writing to the file we have */
        }
    }
    pthread_mutex_unlock(&g_mu);
    return rc;
}

/* msg as a JSON string's contents */
static size_t json_escape(const char *msg, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 7 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p; /* UTF-8 as it is */
        }
    }
    out[o] = '\0';
    return o;
}

int node_log_parse_level(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, lower_names[i]) == 0)
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
    char line[2 * 6 * 1024 + 128];
    int n;
    pthread_mutex_lock(&g_mu);
    if (g_json) {
        char esc[6 * 1024 + 8];
        json_escape(msg, esc, sizeof esc);
        n = snprintf(line, sizeof line, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\"}\n",
                     when, ts.tv_nsec / 1000000, lower_names[level], esc);
    } else {
        n = snprintf(line, sizeof line, "%s.%03ldZ %-5s %s\n", when, ts.tv_nsec / 1000000,
                     names[level], msg);
    }
    /* one write per line, under the lock: lines never interleave */
    if (n > 0) {
        size_t out = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
        ssize_t w = write(g_fd >= 0 ? g_fd : 2, line, out);
        (void)w; /* nowhere to report a failed log write */
    }
    pthread_mutex_unlock(&g_mu);
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
