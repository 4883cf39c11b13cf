/* cli/cli.c: the error record, the exit code order, the run context. */
#include "cli.h"

#include <stdint.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "rpc_client.h"

int cli_fail(cli_error *e, int code, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    e->exit = code;
    e->rpc_code = 0;
    e->rule[0] = '\0';
    e->tx_id[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void cli_error_print(const cli_error *e)
{
    fprintf(stderr, "permit: %s\n", e->msg[0] ? e->msg : "failed");
    fflush(stderr);
}

/* Rank of an exit code: higher is worse. */
static int rank(int code)
{
    switch (code) {
    case CLI_EXIT_OK: return 0;
    case CLI_EXIT_NOTFOUND: return 1;
    case CLI_EXIT_REJECTED: return 2;
    case CLI_EXIT_USAGE: return 3;
    case CLI_EXIT_VERIFY: return 4;
    default: return 5; /* CLI_EXIT_UNAVAILABLE and anything unexpected */
    }
}

int cli_exit_worst(int a, int b)
{
    return rank(b) > rank(a) ? b : a;
}

int cli_ctx_rpc(cli_ctx *ctx, cli_rpc **out, cli_error *err)
{
    if (ctx->rpc == NULL) {
        int rc = cli_rpc_new(&ctx->rpc, ctx->rpc_url, ctx->timeout_ms, err);
        if (rc == CLI_EXIT_OK)
            rc = cli_rpc_set_credentials(ctx->rpc, ctx->token_file, ctx->cacert, err);
        if (rc != CLI_EXIT_OK) {
            cli_rpc_free(ctx->rpc);
            ctx->rpc = NULL;
            return rc;
        }
    }
    *out = ctx->rpc;
    return CLI_EXIT_OK;
}

uint64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read a whole file of at most max bytes (checked before reading). */
int cli_read_file(const char *opt, const char *path, size_t max, uint8_t **out, size_t *len,
                  cli_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail(err, CLI_EXIT_USAGE, "%s %s: %s", opt, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cli_fail(err, CLI_EXIT_USAGE, "%s %s: not a regular file", opt, path);
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return cli_fail(err, CLI_EXIT_USAGE, "%s %s: %lld bytes, more than %zu", opt, path,
                        (long long)st.st_size, max);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n + 1);
    if (buf == NULL) {
        close(fd);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return cli_fail(err, CLI_EXIT_USAGE, "%s %s: could not read the whole file", opt, path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CLI_EXIT_OK;
}
