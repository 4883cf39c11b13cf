/* node/log.h: leveled logging to stderr or a file, one line per message
 * (text, or a JSON object with time, level and msg), safe from any
 * thread. */
#ifndef PERMIT_NODE_LOG_H
#define PERMIT_NODE_LOG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { NODE_LOG_ERROR = 0, NODE_LOG_WARN, NODE_LOG_INFO, NODE_LOG_DEBUG };

/* Parse "error", "warn", "info" or "debug"; -1 otherwise. */
int node_log_parse_level(const char *s);
void node_log_set_level(int level);
int node_log_enabled(int level);
void node_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Lines as JSON objects (json = 1) or text, to the file at path (appended;
 * NULL or "": stderr).  -1 with the reason in why when the file cannot be
 * opened (nothing changes then). */
int node_log_configure(int json, const char *path, char *why, size_t cap);
/* Open the log file again (after logrotate moved it; SIGHUP): -1, and the
 * old file kept, when it cannot be. */
int node_log_reopen(void);

#define LOG_ERROR(...) node_log(NODE_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) node_log(NODE_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) node_log(NODE_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...)                                                                   \
    do {                                                                                 \
        if (node_log_enabled(NODE_LOG_DEBUG))                                            \
            node_log(NODE_LOG_DEBUG, __VA_ARGS__);                                       \
    } while (0)

/* The state of one rate-limited call site: what anyone who can reach a port
 * can cause (failed handshakes, refused peers) must not flood the log.
 * Zero-initialised (a static) means "has not logged yet". */
typedef struct {
    _Atomic uint64_t last_ms;    /* monotonic time of the last line, 0 = none */
    _Atomic uint64_t suppressed; /* lines left out since then */
} node_log_rate;

/* 1 when the site may log now (its last line is at least a second old);
 * *suppressed is then how many lines it left out since that line, and the
 * count starts again.  0 (and the line counted) otherwise.  Any thread. */
int node_log_rate_pass(node_log_rate *r, uint64_t *suppressed);

/* node_log, with " (N similar suppressed)" appended when suppressed > 0. */
void node_log_n(int level, uint64_t suppressed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* At most one line a second from this call site (each expansion has its own
 * state); the next line that passes says how many were left out. */
#define LOG_RATE(level, ...)                                                             \
    do {                                                                                 \
        static node_log_rate log_rate_;                                                  \
        uint64_t log_left_out_;                                                          \
        if (node_log_enabled(level) && node_log_rate_pass(&log_rate_, &log_left_out_))   \
            node_log_n(level, log_left_out_, __VA_ARGS__);                               \
    } while (0)
#define LOG_WARN_RATE(...) LOG_RATE(NODE_LOG_WARN, __VA_ARGS__)
#define LOG_INFO_RATE(...) LOG_RATE(NODE_LOG_INFO, __VA_ARGS__)

#endif
