/* bench/benchutil.h: what every benchmark needs: a monotonic clock and
 * sizes from the environment. */
#ifndef PERMIT_BENCHUTIL_H
#define PERMIT_BENCHUTIL_H

#include <stdlib.h>
#include <time.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A positive integer from environment variable `name`, or `def`. */
static inline size_t bench_env_size(const char *name, size_t def)
{
    const char *s = getenv(name);
    return s && *s ? (size_t)strtoull(s, NULL, 10) : def;
}

#endif
