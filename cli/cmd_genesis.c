/* cli/cmd_genesis.c: the genesis ceremony (DESIGN §13): `permit genesis init
 * | add-department | add-registrar | add-industry | add-observer | hash`.
 *
 * A genesis built from public keys only: each department makes its keys on
 * its own machines (`permit keygen`) and hands over the public halves; one
 * officer assembles the file step by step; every department checks the final
 * file with `permit genesis hash` (the full genesis rules of docs/genesis.md,
 * and the SHA-256 of the bytes, which is the chain's genesis hash).  Each
 * step checks what it adds (keys are points, ids and names well formed, no
 * key or id twice) and rewrites the file atomically; a file that is not
 * complete yet (no validator, no industry) is fine until `hash`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "commands.h"
#include "ledger/genesis.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/text.h"
#include "output.h"

#define GENESIS_DUMP_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)

/* ---- the file ---- */

static int load(const char *path, json_t **out, cli_error *err)
{
    uint8_t *text;
    size_t len;
    int rc = cli_read_file("--genesis", path, LEDGER_MAX_GENESIS_BYTES, &text, &len, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_error_t je;
    *out = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return cli_fail(err, CLI_EXIT_USAGE, "--genesis %s: not a JSON object (line %d: %s)",
                        path, je.line, je.text);
    }
    return CLI_EXIT_OK;
}

/* Write the document to path through a temporary file, fsync, rename. */
static int save(const char *path, json_t *root, int must_be_new, cli_error *err)
{
    char *text = json_dumps(root, GENESIS_DUMP_FLAGS);
    if (text == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        free(text);
        return cli_fail(err, CLI_EXIT_USAGE, "%s: path too long", path);
    }
    if (must_be_new && access(path, F_OK) == 0) {
        free(text);
        return cli_fail(err, CLI_EXIT_USAGE, "%s exists already: not overwritten", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = CLI_EXIT_OK;
    if (fd < 0) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: %s", tmp, strerror(errno));
    } else {
        size_t len = strlen(text), off = 0;
        text[len] = '\0';
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off < len || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: write failed: %s", tmp,
                          strerror(errno));
        if (close(fd) != 0 && rc == CLI_EXIT_OK)
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: %s", tmp, strerror(errno));
        if (rc == CLI_EXIT_OK && rename(tmp, path) != 0)
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: %s", path, strerror(errno));
        if (rc != CLI_EXIT_OK)
            unlink(tmp);
    }
    free(text);
    return rc;
}

/* ---- checks of what a step adds ---- */

static int check_key(const char *opt, const char *hex, uint8_t raw[32], cli_error *err)
{
    ledger_pubkey pk;
    if (hex == NULL || ledger_hex_decode_exact(hex, raw, 32) != 0 ||
        ledger_pubkey_parse(&pk, raw) != 0)
        return cli_fail(err, CLI_EXIT_USAGE,
                        "%s: expected a public key, 64 hex digits (permit pubkey prints it)", opt);
    return CLI_EXIT_OK;
}

static int check_name(const char *opt, const char *s, size_t max, cli_error *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || !ledger_utf8_valid(s, n))
        return cli_fail(err, CLI_EXIT_USAGE,
                        "%s: 1 to %zu bytes of single-line UTF-8 text", opt, max);
    return CLI_EXIT_OK;
}

static int check_id(const char *opt, const char *s, cli_error *err)
{
    size_t n = s ? strlen(s) : 0;
    int ok = n > 0 && n <= 32 && s[0] >= 'a' && s[0] <= 'z';
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
             s[i] == '_';
    if (!ok)
        return cli_fail(err, CLI_EXIT_USAGE,
                        "%s: 1 to 32 of a-z 0-9 - _, starting with a letter", opt);
    return CLI_EXIT_OK;
}

/* Every public key already in the document. */
static int key_in(json_t *root, const uint8_t raw[32])
{
    static const char *const lists[] = {"departments", "registrars", "observers"};
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(root, lists[l]), i, e) {
            const char *ks[4] = {json_string_value(json_object_get(e, "seal_key")),
                                 json_string_value(json_object_get(e, "key")),
                                 json_string_value(json_object_get(
                                     json_object_get(e, "validator"), "node_key")),
                                 json_string_value(json_object_get(e, "node_key"))};
            for (size_t k = 0; k < 4; k++) {
                uint8_t other[32];
                if (ks[k] && ledger_hex_decode_exact(ks[k], other, 32) == 0 &&
                    memcmp(other, raw, 32) == 0)
                    return 1;
            }
        }
    }
    return 0;
}

static json_t *find_by(json_t *arr, const char *field, const char *value)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        const char *v = json_string_value(json_object_get(e, field));
        if (v && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

static json_t *array_of(json_t *root, const char *name)
{
    json_t *a = json_object_get(root, name);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(root, name, a);
    }
    return a;
}

static json_t *hexkey(const uint8_t raw[32])
{
    char h[65];
    ledger_hex_encode(raw, 32, h);
    return json_string(h);
}

/* ---- commands ---- */

static int cmd_init(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)ctx;
    const char *chain = cli_arg(a, "chain-id"), *region = cli_arg(a, "region");
    int rc;
    size_t cl = strlen(chain);
    if (cl == 0 || cl > 64 ||
        strspn(chain, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != cl)
        return cli_fail(err, CLI_EXIT_USAGE, "--chain-id: 1 to 64 of A-Z a-z 0-9 . _ -");
    if ((rc = check_name("--region-name", cli_arg(a, "region-name"), 128, err)) != CLI_EXIT_OK)
        return rc;
    int region_ok = region && strlen(region) == 6 && strspn(region, "0123456789") == 6 &&
                    strcmp(region, "000000") != 0;
    if (!region_ok)
        return cli_fail(err, CLI_EXIT_USAGE, "--region: a 6-digit division code");
    uint64_t t = cli_now_ms();
    if (cli_arg(a, "time") &&
        (rc = cli_parse_u64("--time", cli_arg(a, "time"), 1, 4102444800000ull, &t, err)) != 0)
        return rc;
    json_t *root = json_object();
    json_object_set_new(root, "chain_id", json_string(chain));
    json_object_set_new(root, "genesis_time", json_integer((json_int_t)t));
    json_object_set_new(root, "region", json_pack("{s:s, s:s}", "code", region, "name",
                                                  cli_arg(a, "region-name")));
    json_t *params = json_object();
    static const char *const durations[] = {"block-interval", "block_interval", "heartbeat",
                                            "heartbeat", "tx-window", "tx_window"};
    for (size_t i = 0; i < 6; i += 2)
        if (cli_arg(a, durations[i]))
            json_object_set_new(params, durations[i + 1], json_string(cli_arg(a, durations[i])));
    if (json_object_size(params))
        json_object_set(root, "params", params);
    json_decref(params);
    json_object_set_new(root, "departments", json_array());
    json_object_set_new(root, "registrars", json_array());
    json_object_set_new(root, "industries", json_array());
    rc = save(cli_arg(a, "out"), root, 1, err);
    json_decref(root);
    if (rc == CLI_EXIT_OK)
        printf("genesis %s started: add departments, registrars and industries, then every "
               "department runs `permit genesis hash`\n",
               cli_arg(a, "out"));
    return rc;
}

static int cmd_add_department(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)ctx;
    const char *path = cli_arg(a, "genesis"), *id = cli_arg(a, "id");
    uint8_t seal[32], node[32];
    int rc, validator = cli_arg(a, "node") != NULL;
    if ((rc = check_id("--id", id, err)) != CLI_EXIT_OK ||
        (rc = check_name("--name", cli_arg(a, "name"), 128, err)) != CLI_EXIT_OK ||
        (rc = check_key("--seal", cli_arg(a, "seal"), seal, err)) != CLI_EXIT_OK ||
        (validator && (rc = check_key("--node", cli_arg(a, "node"), node, err)) != CLI_EXIT_OK))
        return rc;
    if (validator != (cli_arg(a, "p2p") != NULL))
        return cli_fail(err, CLI_EXIT_USAGE, "a validator needs both --node and --p2p");
    if (validator && memcmp(seal, node, 32) == 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--seal and --node must be different keys");
    json_t *root;
    if ((rc = load(path, &root, err)) != CLI_EXIT_OK)
        return rc;
    json_t *depts = array_of(root, "departments");
    if (find_by(depts, "id", id))
        rc = cli_fail(err, CLI_EXIT_USAGE, "department %s is in the genesis already", id);
    else if (key_in(root, seal) || (validator && key_in(root, node)))
        rc = cli_fail(err, CLI_EXIT_USAGE, "a key given is in the genesis already");
    if (rc == CLI_EXIT_OK) {
        json_t *d = json_pack("{s:s, s:s, s:o}", "id", id, "name", cli_arg(a, "name"),
                              "seal_key", hexkey(seal));
        if (validator) {
            json_t *v = json_pack("{s:o, s:s}", "node_key", hexkey(node), "p2p",
                                  cli_arg(a, "p2p"));
            if (cli_arg(a, "rpc-address"))
                json_object_set_new(v, "rpc", json_string(cli_arg(a, "rpc-address")));
            json_object_set_new(d, "validator", v);
        }
        json_array_append_new(depts, d);
        rc = save(path, root, 0, err);
    }
    json_decref(root);
    if (rc == CLI_EXIT_OK)
        printf("department %s added%s\n", id, validator ? " (a validator)" : "");
    return rc;
}

static int cmd_add_registrar(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)ctx;
    const char *path = cli_arg(a, "genesis"), *dept = cli_arg(a, "department");
    uint8_t key[32];
    int rc;
    if ((rc = check_name("--name", cli_arg(a, "name"), 128, err)) != CLI_EXIT_OK ||
        (rc = check_key("--key", cli_arg(a, "key"), key, err)) != CLI_EXIT_OK)
        return rc;
    json_t *root;
    if ((rc = load(path, &root, err)) != CLI_EXIT_OK)
        return rc;
    if (find_by(json_object_get(root, "departments"), "id", dept) == NULL)
        rc = cli_fail(err, CLI_EXIT_USAGE, "--department %s: no such department in the genesis",
                      dept);
    else if (key_in(root, key))
        rc = cli_fail(err, CLI_EXIT_USAGE, "--key is in the genesis already");
    if (rc == CLI_EXIT_OK) {
        json_array_append_new(array_of(root, "registrars"),
                              json_pack("{s:s, s:s, s:o}", "name", cli_arg(a, "name"),
                                        "department", dept, "key", hexkey(key)));
        rc = save(path, root, 0, err);
    }
    json_decref(root);
    if (rc == CLI_EXIT_OK)
        printf("registrar %s added\n", cli_arg(a, "name"));
    return rc;
}

/* An observer (DESIGN §6): a node key admitted to follow the chain. */
static int cmd_add_observer(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)ctx;
    const char *path = cli_arg(a, "genesis");
    uint8_t key[32];
    int rc;
    if ((rc = check_name("--name", cli_arg(a, "name"), 128, err)) != CLI_EXIT_OK ||
        (rc = check_key("--node-key", cli_arg(a, "node-key"), key, err)) != CLI_EXIT_OK)
        return rc;
    json_t *root;
    if ((rc = load(path, &root, err)) != CLI_EXIT_OK)
        return rc;
    if (key_in(root, key))
        rc = cli_fail(err, CLI_EXIT_USAGE, "--node-key is in the genesis already");
    else if (json_array_size(json_object_get(root, "observers")) >= LEDGER_MAX_OBSERVERS)
        rc = cli_fail(err, CLI_EXIT_USAGE, "the genesis has %d observers already, the limit",
                      LEDGER_MAX_OBSERVERS);
    if (rc == CLI_EXIT_OK) {
        json_array_append_new(array_of(root, "observers"),
                              json_pack("{s:s, s:o}", "name", cli_arg(a, "name"), "node_key",
                                        hexkey(key)));
        rc = save(path, root, 0, err);
    }
    json_decref(root);
    if (rc == CLI_EXIT_OK)
        printf("observer %s added\n", cli_arg(a, "name"));
    return rc;
}

static int cmd_add_industry(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)ctx;
    const char *path = cli_arg(a, "genesis");
    uint8_t *text;
    size_t len;
    int rc = cli_read_file("--industry", cli_arg(a, "industry"), 1 << 20, &text, &len, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_error_t je;
    json_t *ind = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    char code[129];
    const char *c = json_string_value(json_object_get(ind, "code"));
    if (!json_is_object(ind) || c == NULL || strlen(c) >= sizeof code) {
        json_decref(ind);
        return cli_fail(err, CLI_EXIT_USAGE,
                        "--industry: one industry object as in docs/genesis.md, with a code");
    }
    memcpy(code, c, strlen(c) + 1); /* it outlives ind */
    json_t *root;
    if ((rc = load(path, &root, err)) != CLI_EXIT_OK) {
        json_decref(ind);
        return rc;
    }
    json_t *inds = array_of(root, "industries");
    size_t i;
    json_t *item;
    if (find_by(inds, "code", code))
        rc = cli_fail(err, CLI_EXIT_USAGE, "industry %s is in the genesis already", code);
    json_array_foreach(json_object_get(ind, "items"), i, item) {
        const char *d = json_string_value(json_object_get(item, "department"));
        if (rc == CLI_EXIT_OK && (d == NULL || find_by(json_object_get(root, "departments"),
                                                       "id", d) == NULL))
            rc = cli_fail(err, CLI_EXIT_USAGE,
                          "industry %s: item %zu names department %s, not in the genesis", code,
                          i, d ? d : "(none)");
    }
    if (rc == CLI_EXIT_OK) {
        json_array_append(inds, ind);
        rc = save(path, root, 0, err);
    }
    json_decref(ind);
    json_decref(root);
    if (rc == CLI_EXIT_OK)
        printf("industry %s added (its other fields are checked by `permit genesis hash`)\n",
               code);
    return rc;
}

static int cmd_hash(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *path = cli_arg(a, "genesis");
    uint8_t *text;
    size_t len;
    int rc = cli_read_file("--genesis", path, LEDGER_MAX_GENESIS_BYTES, &text, &len, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    ledger_genesis *g = NULL;
    ledger_err lerr;
    if (ledger_genesis_parse((const char *)text, len, &g, &lerr) != 0) {
        free(text);
        return cli_fail(err, CLI_EXIT_USAGE, "genesis %s is not valid: %s", path, lerr.msg);
    }
    uint8_t h[32];
    char hex[65];
    ledger_sha256(text, len, h);
    ledger_hex_encode(h, 32, hex);
    free(text);
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "genesis_hash", hex, "chain_id",
                              g->chain_id, "departments", (json_int_t)g->n_departments,
                              "validators", (json_int_t)g->n_validators, "registrars",
                              (json_int_t)g->n_registrars, "industries",
                              (json_int_t)g->n_industries);
        cli_print_json(stdout, o);
        json_decref(o);
    } else {
        printf("%s  %s\n", hex, path);
        printf("chain %s: %zu departments (%zu validators), %zu registrars, %zu industries\n",
               g->chain_id, g->n_departments, g->n_validators, g->n_registrars,
               g->n_industries);
    }
    ledger_genesis_free(g);
    return CLI_EXIT_OK;
}

static const cli_option init_opts[] = {
    {"out", "FILE", CLI_OPT_REQUIRED, "genesis file to create (never overwritten)"},
    {"chain-id", "ID", CLI_OPT_REQUIRED, "the chain's id (A-Z a-z 0-9 . _ -)"},
    {"region", "CODE", CLI_OPT_REQUIRED, "6-digit division code of the region"},
    {"region-name", "NAME", CLI_OPT_REQUIRED, "name of the region"},
    {"time", "MS", 0, "genesis time, ms since the epoch (default: now)"},
    {"block-interval", "D", 0, "params.block_interval (default 1s)"},
    {"heartbeat", "D", 0, "params.heartbeat (default 60s)"},
    {"tx-window", "D", 0, "params.tx_window"},
    {NULL},
};

static const cli_option dept_opts[] = {
    {"genesis", "FILE", CLI_OPT_REQUIRED, "the genesis being assembled"},
    {"id", "ID", CLI_OPT_REQUIRED, "department id (a-z 0-9 - _)"},
    {"name", "NAME", CLI_OPT_REQUIRED, "department name"},
    {"seal", "PUB", CLI_OPT_REQUIRED, "public seal key (permit pubkey)"},
    {"node", "PUB", 0, "public node key: the department runs a validator"},
    {"p2p", "HOST:PORT", 0, "the validator's p2p address"},
    {"rpc-address", "HOST:PORT", 0, "the validator's RPC address (informative)"},
    {NULL},
};

static const cli_option reg_opts[] = {
    {"genesis", "FILE", CLI_OPT_REQUIRED, "the genesis being assembled"},
    {"name", "NAME", CLI_OPT_REQUIRED, "registrar (service window) name"},
    {"department", "ID", CLI_OPT_REQUIRED, "the department it belongs to"},
    {"key", "PUB", CLI_OPT_REQUIRED, "public key of the registrar"},
    {NULL},
};

static const cli_option ind_opts[] = {
    {"genesis", "FILE", CLI_OPT_REQUIRED, "the genesis being assembled"},
    {"industry", "FILE", CLI_OPT_REQUIRED, "one industry object (docs/genesis.md)"},
    {NULL},
};

static const cli_option obs_opts[] = {
    {"genesis", "FILE", CLI_OPT_REQUIRED, "the genesis being assembled"},
    {"name", "NAME", CLI_OPT_REQUIRED, "observer name (an auditor's office, a service hall)"},
    {"node-key", "PUB", CLI_OPT_REQUIRED, "public node key of the observer (permit pubkey)"},
    {NULL},
};

static const cli_option hash_opts[] = {
    {"genesis", "FILE", CLI_OPT_REQUIRED, "the genesis to check"},
    {NULL},
};

const cli_command cli_genesis_commands[] = {
    {"genesis init", "", 0, 0, init_opts, 0, 0, "start a genesis file (the genesis ceremony)",
     "Writes the chain id, time and region; departments, registrars and industries are\n"
     "added by the other genesis commands, from public keys only.",
     cmd_init},
    {"genesis add-department", "", 0, 0, dept_opts, 0, 0, "add a department (and its validator)",
     NULL, cmd_add_department},
    {"genesis add-registrar", "", 0, 0, reg_opts, 0, 0, "add a registrar", NULL,
     cmd_add_registrar},
    {"genesis add-industry", "", 0, 0, ind_opts, 0, 0, "add an industry of the catalogue", NULL,
     cmd_add_industry},
    {"genesis add-observer", "", 0, 0, obs_opts, 0, 0,
     "admit an observer: a node that follows the chain without voting",
     "Its permitd runs with role = observer (docs/operations.md, \"Observers\").",
     cmd_add_observer},
    {"genesis hash", "", 0, 0, hash_opts, 0, 0,
     "check a genesis by every rule and print its hash",
     "Every department runs this on the final file and compares the hash (SHA-256 of the\n"
     "file's bytes, the chain's genesis hash).  Exit 1 when a rule fails.",
     cmd_hash},
    {NULL},
};
