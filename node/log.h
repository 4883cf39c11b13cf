/* node/log.h: leveled logging to stderr, one line per message, safe from
 * any thread. */
#ifndef PERMIT_NODE_LOG_H
#define PERMIT_NODE_LOG_H

enum { NODE_LOG_ERROR = 0, NODE_LOG_WARN, NODE_LOG_INFO, NODE_LOG_DEBUG };

/* Parse "error", "warn", "info" or "debug"; -1 otherwise. */
int node_log_parse_level(const char *s);
void node_log_set_level(int level);
int node_log_enabled(int level);
void node_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_ERROR(...) node_log(NODE_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) node_log(NODE_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) node_log(NODE_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...)                                                                   \
    do {                                                                                 \
        if (node_log_enabled(NODE_LOG_DEBUG))                                            \
            node_log(NODE_LOG_DEBUG, __VA_ARGS__);                                       \
    } while (0)

#endif
