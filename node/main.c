/* permitd: the PermitChain node.  See `permitd --help` and docs/operations.md. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "log.h"
#include "node.h"

int main(int argc, char **argv)
{
    node_config cfg;
    ledger_err err;
    ledger_err_clear(&err);
    int r = node_config_load(&cfg, argc, argv, &err);
    if (r == 1)
        return 0;
    if (r != 0) {
        fprintf(stderr, "permitd: %s\n", err.msg);
        return 1;
    }
    int json = strcmp(cfg.log_format, "json") == 0;
    if (!json && strcmp(cfg.log_format, "text") != 0) {
        fprintf(stderr, "permitd: log_format: \"%s\" is not text or json\n", cfg.log_format);
        return 1;
    }
    char logpath[2 * NODE_PATH_MAX], why[2 * NODE_PATH_MAX + 64];
    if (cfg.log_file[0] == '/' || cfg.log_file[0] == '\0')
        snprintf(logpath, sizeof logpath, "%s", cfg.log_file);
    else
        snprintf(logpath, sizeof logpath, "%s/%s", cfg.home, cfg.log_file);
    if (node_log_configure(json, logpath, why, sizeof why) != 0) {
        fprintf(stderr, "permitd: %s\n", why);
        return 1;
    }
    /* a server holding blocks of megabytes: keep freed memory for reuse
     * instead of faulting it in again for every block */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    /* sockets: as many as the hard limit allows */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);

    static node n;
    if (node_start(&n, &cfg, &err) != 0) {
        LOG_ERROR("cannot start: %s", err.msg);
        node_close(&n);
        return 1;
    }
    int rc = node_run(&n);
    node_close(&n);
    return rc == 0 ? 0 : 1;
}
