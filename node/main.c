/* permitd: the PermitChain node.  See `permitd --help` and docs/operations.md. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ledger/genesis.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "log.h"
#include "node.h"

/* `permitd init --home DIR --genesis FILE [--node-key FILE]`: lay out a home
 * (DESIGN §10, §13): the genesis (checked), a node key (copied from the one
 * whose public key went into the genesis, or a new one), the default
 * permitd.conf.  Nothing is overwritten. */
static int init_home(int argc, char **argv)
{
    const char *home = NULL, *genesis = NULL, *keyfile = NULL;
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--home") == 0       ? &home
                            : strcmp(argv[i], "--genesis") == 0  ? &genesis
                            : strcmp(argv[i], "--node-key") == 0 ? &keyfile
                                                                 : NULL;
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: permitd init --home DIR --genesis FILE [--node-key FILE]\n\n"
                   "Makes DIR/config/{genesis.json,node.key,permitd.conf} and DIR/data.  The\n"
                   "node key is copied from --node-key (the key whose public half the genesis\n"
                   "names for this department's validator), else made new (an observer's).\n");
            return 0;
        }
        if (slot == NULL || i + 1 >= argc) {
            fprintf(stderr, "permitd init: unexpected argument \"%s\" (see --help)\n", argv[i]);
            return 1;
        }
        *slot = argv[++i];
    }
    if (home == NULL || genesis == NULL) {
        fprintf(stderr, "permitd init: --home DIR and --genesis FILE are required\n");
        return 1;
    }
    ledger_err err;
    ledger_genesis *g = NULL;
    if (ledger_genesis_load(genesis, &g, &err) != 0) {
        fprintf(stderr, "permitd init: %s: %s\n", genesis, err.msg);
        return 1;
    }
    char cfgdir[NODE_PATH_MAX + 16], data[NODE_PATH_MAX + 16], path[NODE_PATH_MAX + 32];
    snprintf(cfgdir, sizeof cfgdir, "%s/config", home);
    snprintf(data, sizeof data, "%s/data", home);
    snprintf(path, sizeof path, "%s/genesis.json", cfgdir);
    int rc = 1;
    ledger_keypair kp;
    memset(&kp, 0, sizeof kp);
    FILE *in = NULL, *out = NULL;
    if ((mkdir(home, 0700) != 0 && errno != EEXIST) || mkdir(cfgdir, 0700) != 0 ||
        (mkdir(data, 0700) != 0 && errno != EEXIST)) {
        fprintf(stderr, "permitd init: %s: %s (a home is never made over another)\n", cfgdir,
                strerror(errno));
        goto out;
    }
    if ((keyfile ? ledger_keyfile_read(keyfile, &kp, &err) : ledger_keygen(&kp, &err)) != 0) {
        fprintf(stderr, "permitd init: node key: %s\n", err.msg);
        goto out;
    }
    /* the genesis, byte for byte: its hash is the chain's */
    if ((in = fopen(genesis, "rb")) == NULL || (out = fopen(path, "wbx")) == NULL) {
        fprintf(stderr, "permitd init: %s: %s\n", in ? path : genesis, strerror(errno));
        goto out;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            break;
    if (ferror(in) || fflush(out) != 0 || fsync(fileno(out)) != 0) {
        fprintf(stderr, "permitd init: writing %s failed\n", path);
        goto out;
    }
    snprintf(path, sizeof path, "%s/node.key", cfgdir);
    if (ledger_keyfile_write(path, &kp, &err) != 0) {
        fprintf(stderr, "permitd init: %s\n", err.msg);
        goto out;
    }
    node_config cfg;
    node_config_defaults(&cfg);
    snprintf(cfg.home, sizeof cfg.home, "%s", home);
    int v = -1;
    for (size_t i = 0; i < g->n_departments; i++)
        if (g->departments[i].validator && memcmp(g->departments[i].node.raw, kp.pub, 32) == 0)
            v = (int)i;
    if (v >= 0 && g->departments[v].p2p && g->departments[v].p2p[0]) {
        /* listen on the port the genesis gives this validator */
        const char *colon = strrchr(g->departments[v].p2p, ':');
        if (colon)
            snprintf(cfg.p2p_listen, sizeof cfg.p2p_listen, "0.0.0.0%s", colon);
    }
    int obs = v < 0 ? ledger_genesis_observer_index(g, kp.pub) : -1;
    if (obs >= 0)
        snprintf(cfg.role, sizeof cfg.role, "observer");
    snprintf(path, sizeof path, "%s/permitd.conf", cfgdir);
    FILE *conf = fopen(path, "wx");
    if (conf == NULL) {
        fprintf(stderr, "permitd init: %s: %s\n", path, strerror(errno));
        goto out;
    }
    node_config_print(&cfg, conf);
    if (fclose(conf) != 0) {
        fprintf(stderr, "permitd init: writing %s failed\n", path);
        goto out;
    }
    char hex[65];
    ledger_hex_encode(kp.pub, 32, hex);
    printf("home %s for chain %s\nnode key %s: %s\n", home, g->chain_id, hex,
           v >= 0     ? "the validator of this department in the genesis"
           : obs >= 0 ? "an observer of the genesis (role = observer)"
                      : "named by no validator of the genesis: a validator (or, with role = "
                        "observer, an observer) that governance adds; set p2p_listen to the "
                        "address the proposal names");
    rc = 0;
out:
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    ledger_keypair_wipe(&kp);
    ledger_genesis_free(g);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "init") == 0)
        return init_home(argc, argv);
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
    if (strcmp(cfg.role, "validator") != 0 && strcmp(cfg.role, "observer") != 0) {
        fprintf(stderr, "permitd: role: \"%s\" is not validator or observer\n", cfg.role);
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
