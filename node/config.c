#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/text.h"
#include "log.h"

typedef enum { OPT_STR, OPT_PATH, OPT_UINT, OPT_SIZE, OPT_DURATION, OPT_LEVEL } opt_type;

typedef struct {
    const char *name;
    opt_type type;
    size_t offset;
    size_t size; /* for strings */
    const char *def;
    const char *help;
} option;

#define STR(f) OPT_STR, offsetof(node_config, f), sizeof(((node_config *)0)->f)
#define PATH(f) OPT_PATH, offsetof(node_config, f), sizeof(((node_config *)0)->f)
#define NUM(t, f) t, offsetof(node_config, f), 0

static const option options[] = {
    {"rpc_listen", STR(rpc_listen), "127.0.0.1:8645",
     "address:port of the JSON-RPC server (keep it on loopback or a trusted network)"},
    {"rpc_tls_cert", PATH(rpc_tls_cert), "",
     "PEM certificate (chain) the RPC serves HTTPS with; relative to DIR/config; required "
     "with rpc_tls_key and rpc_tokens when rpc_listen is not a loopback address"},
    {"rpc_tls_key", PATH(rpc_tls_key), "", "PEM private key of rpc_tls_cert (mode 0600)"},
    {"rpc_tokens", PATH(rpc_tokens), "",
     "token file: one \"name role token\" a line, role read or submit; with it every RPC "
     "call needs \"Authorization: Bearer TOKEN\""},
    {"p2p_listen", STR(p2p_listen), "0.0.0.0:8646", "address:port for validator connections"},
    {"role", STR(role), "validator",
     "validator (votes when genesis names this node key a validator) or observer (follows "
     "the chain by block sync, serves reads, relays tx.submit to the validators; the node "
     "key must be in genesis observers)"},
    {"public_listen", PATH(public_listen), "",
     "address:port of the read-only public site (the e-license pages, DESIGN §12); empty: off"},
    {"public_url", PATH(public_url), "",
     "the public site's base URL as visitors reach it (e.g. https://zz.example.gov.cn), "
     "encoded in the QR codes; empty: http://public_listen"},
    {"public_web_dir", PATH(public_web_dir), "",
     "folder of the browser verifier the license pages run (verifier.js, verifier.wasm, "
     "page.js; relative to DIR); empty: share/permitchain/web beside permitd's bin folder, "
     "and the pages go without it when it is not there"},
    {"log_level", NUM(OPT_LEVEL, log_level), "info", "error, warn, info or debug"},
    {"log_format", STR(log_format), "text", "text, or json (one object a line: time, level, msg)"},
    {"log_file", PATH(log_file), "",
     "append the log to this file (relative to DIR) instead of stderr; reopened on SIGHUP"},
    {"rpc_max_body", NUM(OPT_SIZE, rpc_max_body), "1M",
     "largest request body accepted (413 beyond); K, M, G suffixes"},
    {"rpc_timeout", NUM(OPT_DURATION, rpc_timeout_ms), "30s",
     "connections silent or slow for this long are closed"},
    {"rpc_workers", NUM(OPT_UINT, rpc_workers), "0",
     "threads that serve requests and verify signatures; 0 = one per core"},
    {"rpc_queue", NUM(OPT_UINT, rpc_queue), "1024",
     "requests waiting for a worker before the node answers 503"},
    {"rpc_max_streams", NUM(OPT_UINT, rpc_max_streams), "64",
     "GET /events streams open at once before the node answers 503"},
    {"rpc_stream_buffer", NUM(OPT_SIZE, rpc_stream_buffer), "1M",
     "bytes a GET /events stream may hold unsent; a reader that lets more pile up is dropped"},
    {"rpc_stream_keepalive", NUM(OPT_DURATION, rpc_stream_keepalive_ms), "15s",
     "a comment line on every GET /events stream this often, so proxies keep it open"},
    {"mempool_max_txs", NUM(OPT_UINT, mempool_max_txs), "100000",
     "transactions waiting for a block before tx.submit answers 1004"},
    {"mempool_max_bytes", NUM(OPT_SIZE, mempool_max_bytes), "256M",
     "bytes of transactions waiting for a block"},
    {"shutdown_grace", NUM(OPT_DURATION, shutdown_grace_ms), "10s",
     "how long shutdown waits for the block being written"},
    {"timeout_propose", NUM(OPT_DURATION, timeout_propose_ms), "3s",
     "BFT: how long to wait for a round's proposal (round 0; later rounds wait longer)"},
    {"timeout_vote", NUM(OPT_DURATION, timeout_vote_ms), "1s",
     "BFT: how long to wait for the rest of the votes once a quorum voted"},
    {"timeout_delta", NUM(OPT_DURATION, timeout_delta_ms), "500ms",
     "BFT: what each further round adds to the timeouts"},
    {"max_clock_drift", NUM(OPT_DURATION, max_clock_drift_ms), "5s",
     "BFT: proposals whose block time is further ahead of this node's clock get no vote"},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static const option *find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1ull << 30, end++;
    if (*end != '\0' || v > UINT64_MAX / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int set(node_config *c, const option *o, const char *v, const char *where,
               ledger_err *err)
{
    char *field = (char *)c + o->offset;
    switch (o->type) {
    case OPT_STR:
        if (strlen(v) >= o->size || *v == '\0')
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s%s: value empty or too long",
                               where, o->name);
        strcpy(field, v);
        return 0;
    case OPT_PATH: /* empty: not set */
        if (strlen(v) >= o->size)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s%s: path too long", where,
                               o->name);
        strcpy(field, v);
        return 0;
    case OPT_UINT:
    case OPT_SIZE: {
        uint64_t n;
        if (parse_size(v, &n) != 0 || (o->type == OPT_UINT && strpbrk(v, "KkMmGg")))
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s%s: \"%s\" is not a number",
                               where, o->name, v);
        memcpy(field, &n, sizeof n);
        return 0;
    }
    case OPT_DURATION: {
        uint64_t ms;
        if (ledger_duration_parse(v, &ms) != 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "%s%s: \"%s\" is not a duration like 30s or 500ms", where,
                               o->name, v);
        memcpy(field, &ms, sizeof ms);
        return 0;
    }
    case OPT_LEVEL: {
        int lv = node_log_parse_level(v);
        if (lv < 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "%s%s: \"%s\" is not error, warn, info or debug", where, o->name,
                               v);
        memcpy(field, &lv, sizeof lv);
        return 0;
    }
    }
    return -1;
}

void node_config_defaults(node_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (set(c, &options[i], options[i].def, "", NULL) != 0)
            abort(); /* a default that does not parse is a programming error */
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static int load_file(node_config *c, const char *path, ledger_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0; /* every option has a default */
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    }
    char line[1024];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s:%d: line too long", path, lineno);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s:%d: expected key = value", path,
                             lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        const option *o = find(key, strlen(key));
        if (o == NULL) {
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s:%d: unknown option \"%s\"", path,
                             lineno, key);
            break;
        }
        char where[NODE_PATH_MAX + 96];
        snprintf(where, sizeof where, "%s:%d: ", path, lineno);
        rc = set(c, o, val, where, err);
    }
    fclose(f);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: permitd --home DIR [--OPTION VALUE]...\n\n"
               "Runs a PermitChain node: JSON-RPC server, mempool, block production and the\n"
               "ledger of DIR/data/db.  DIR/config/ holds genesis.json, node.key (mode 0600)\n"
               "and permitd.conf (key = value lines, keys spelled rpc_listen; flags, spelled\n"
               "--rpc-listen, override them).\n\n"
               "  --home DIR        the node's home (or PERMITD_HOME)\n"
               "  --config FILE     read the settings from FILE instead of DIR/config/permitd.conf\n"
               "  init --home DIR --genesis FILE [--node-key FILE]   lay out a new home\n"
               "  --print-config    print the effective configuration and exit\n"
               "  --help, --version\n\noptions:\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char flag[64];
        size_t k = 0;
        for (; options[i].name[k] && k + 1 < sizeof flag; k++)
            flag[k] = options[i].name[k] == '_' ? '-' : options[i].name[k];
        flag[k] = '\0';
        fprintf(f, "  --%-18s %s (default %s)\n", flag, options[i].help,
                options[i].def[0] ? options[i].def : "none");
    }
    fprintf(f, "\nSIGINT or SIGTERM stops the node after the block in progress is written.\n");
}

int node_config_load(node_config *c, int argc, char **argv, ledger_err *err)
{
    node_config_defaults(c);
    const char *home = getenv("PERMITD_HOME"), *conf = NULL;
    int print = 0;
    /* first pass: --home, --help, --version */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("permitd %s\n", PERMIT_VERSION);
            return 1;
        }
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            home = argv[++i];
        else if (strncmp(argv[i], "--home=", 7) == 0)
            home = argv[i] + 7;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            conf = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            conf = argv[i] + 9;
    }
    if (home == NULL || *home == '\0')
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "--home DIR is required (see --help)");
    if (strlen(home) >= sizeof c->home - 64)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "--home: path too long");
    strcpy(c->home, home);
    char path[NODE_PATH_MAX + 64];
    if (conf) {
        if (access(conf, R_OK) != 0)
            return ledger_fail(err, LEDGER_ERR_IO, NULL, "--config %s: %s", conf,
                               strerror(errno));
        snprintf(path, sizeof path, "%s", conf);
    } else {
        snprintf(path, sizeof path, "%s/config/permitd.conf", c->home);
    }
    if (load_file(c, path, err) != 0)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--home") == 0 || strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--home=", 7) == 0 || strncmp(a, "--config=", 9) == 0)
            continue;
        if (strcmp(a, "--print-config") == 0) {
            print = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "unexpected argument \"%s\"", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        /* flags are spelled with dashes (--rpc-listen), config keys with
         * underscores (rpc_listen); the old flag spelling still works */
        char key[64];
        const option *o = NULL;
        if (nlen < sizeof key) {
            for (size_t k = 0; k < nlen; k++)
                key[k] = name[k] == '-' ? '_' : name[k];
            key[nlen] = '\0';
            o = find(key, nlen);
        }
        if (o == NULL)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "unknown option \"%s\" (see --help)",
                               a);
        if (memchr(name, '_', nlen)) {
            char dashed[64];
            for (size_t k = 0; k <= nlen; k++)
                dashed[k] = k == nlen ? '\0' : key[k] == '_' ? '-' : key[k];
            fprintf(stderr, "permitd: warning: --%s is spelled --%s (the old spelling still "
                            "works, for now)\n",
                    key, dashed);
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (val == NULL)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "--%s needs a value", o->name);
        if (set(c, o, val, "--", err) != 0)
            return -1;
    }
    if (print) {
        node_config_print(c, stdout);
        return 1;
    }
    return 0;
}

void node_config_print(const node_config *c, FILE *f)
{
    fprintf(f, "# permitd configuration (home %s)\n", c->home);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        const char *field = (const char *)c + o->offset;
        fprintf(f, "\n# %s\n%s = ", o->help, o->name);
        uint64_t v;
        switch (o->type) {
        case OPT_STR:
        case OPT_PATH:
            fprintf(f, "%s\n", field);
            break;
        case OPT_LEVEL: {
            static const char *const lv[] = {"error", "warn", "info", "debug"};
            int l;
            memcpy(&l, field, sizeof l);
            fprintf(f, "%s\n", lv[l]);
            break;
        }
        case OPT_DURATION: {
            char d[24];
            memcpy(&v, field, sizeof v);
            ledger_duration_format(v, d, sizeof d);
            fprintf(f, "%s\n", d);
            break;
        }
        default:
            memcpy(&v, field, sizeof v);
            fprintf(f, "%llu\n", (unsigned long long)v);
        }
    }
}

int node_split_hostport(const char *s, char *host, size_t hostcap, uint16_t *port)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= hostcap)
        return -1;
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end != '\0' || p == 0 || p > 65535 || colon[1] == '\0')
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}
