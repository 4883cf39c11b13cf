/* cli/testnet.c: genesis, keys and node homes for a local test network. */
#include "testnet.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/genesis.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/text.h"
#include "sign.h"

#define REGISTRAR_FILE "registrar"

/* ---- catalogue ---------------------------------------------------------- */

static int only_members(json_t *o, const char *const *allowed, const char *origin,
                        const char *path, cli_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (k[0] == '_')
            continue;
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(*a, k) == 0;
        if (!ok)
            return cli_fail(err, CLI_EXIT_USAGE, "catalogue %s: %s%sunknown field \"%.40s\"",
                            origin, path, path[0] ? ": " : "", k);
    }
    return CLI_EXIT_OK;
}

int cli_catalogue_parse(const char *text, size_t len, const char *origin, json_t **out,
                        cli_error *err)
{
    static const char *const top[] = {"departments", "industries", NULL};
    static const char *const dept[] = {"id", "name", NULL};
    json_error_t je;
    *out = NULL;
    json_t *c = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (c == NULL)
        return cli_fail(err, CLI_EXIT_USAGE, "catalogue %s: not valid JSON: line %d column %d: %s",
                        origin, je.line, je.column, je.text);
    int rc;
    json_t *ds = json_object_get(c, "departments"), *is = json_object_get(c, "industries");
    if (!json_is_object(c)) {
        rc = cli_fail(err, CLI_EXIT_USAGE, "catalogue %s: must be a JSON object", origin);
        goto fail;
    }
    if ((rc = only_members(c, top, origin, "", err)) != CLI_EXIT_OK)
        goto fail;
    if (!json_is_array(ds) || json_array_size(ds) == 0 ||
        json_array_size(ds) > LEDGER_MAX_DEPARTMENTS) {
        rc = cli_fail(err, CLI_EXIT_USAGE, "catalogue %s: departments: must be an array of 1 "
                      "to %d departments", origin, LEDGER_MAX_DEPARTMENTS);
        goto fail;
    }
    if (!json_is_array(is) || json_array_size(is) == 0) {
        rc = cli_fail(err, CLI_EXIT_USAGE, "catalogue %s: industries: must be a non-empty array",
                      origin);
        goto fail;
    }
    size_t i;
    json_t *d;
    json_array_foreach(ds, i, d) {
        char path[48];
        snprintf(path, sizeof path, "departments[%zu]", i);
        if (!json_is_object(d)) {
            rc = cli_fail(err, CLI_EXIT_USAGE, "catalogue %s: %s: must be an object", origin,
                          path);
            goto fail;
        }
        if ((rc = only_members(d, dept, origin, path, err)) != CLI_EXIT_OK)
            goto fail;
        json_t *id = json_object_get(d, "id");
        if (json_is_string(id) && strcmp(json_string_value(id), REGISTRAR_FILE) == 0) {
            rc = cli_fail(err, CLI_EXIT_USAGE, "catalogue %s: %s.id: \"%s\" is reserved "
                          "(keys/%s.key holds the registrar key)", origin, path, REGISTRAR_FILE,
                          REGISTRAR_FILE);
            goto fail;
        }
    }
    *out = c;
    return CLI_EXIT_OK;
fail:
    json_decref(c);
    return rc;
}

static int catalogue_load(const char *path, json_t **out, cli_error *err)
{
    if (path == NULL) {
        const char *t = cli_default_catalogue();
        return cli_catalogue_parse(t, strlen(t), "(built-in)", out, err);
    }
    uint8_t *buf = NULL;
    size_t n = 0;
    int rc = cli_read_file("--catalogue", path, LEDGER_MAX_GENESIS_BYTES, &buf, &n, err);
    if (rc == CLI_EXIT_OK)
        rc = cli_catalogue_parse((const char *)buf, n, path, out, err);
    free(buf);
    return rc;
}

/* ---- files -------------------------------------------------------------- */

static int write_file(const char *path, const char *data, size_t len, mode_t mode,
                      cli_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: %s", path, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: write failed: %s", path,
                            strerror(e));
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: %s", path, strerror(errno));
    return CLI_EXIT_OK;
}

static int make_dir(const char *path, cli_error *err)
{
    if (mkdir(path, 0700) != 0)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: %s", path, strerror(errno));
    return CLI_EXIT_OK;
}

static int path_join(char *out, const char *a, const char *b, const char *c, cli_error *err)
{
    int n = snprintf(out, PATH_MAX, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
    if (n < 0 || n >= PATH_MAX)
        return cli_fail(err, CLI_EXIT_USAGE, "--out %s: path too long", a);
    return CLI_EXIT_OK;
}

static int key_file(const char *path, const ledger_keypair *kp, cli_error *err)
{
    ledger_err le;
    if (ledger_keyfile_write(path, kp, &le) != 0)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s", le.msg);
    return CLI_EXIT_OK;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* ---- genesis ------------------------------------------------------------ */

static json_t *hexkey(const uint8_t pub[32])
{
    char h[65];
    ledger_hex_encode(pub, 32, h);
    return json_string(h);
}

static json_t *hostport(unsigned port)
{
    char b[32];
    snprintf(b, sizeof b, "127.0.0.1:%u", port);
    return json_string(b);
}

/* Copy of o without its comment members ("_..."). */
static json_t *without_comments(json_t *o)
{
    json_t *c = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
        if (k[0] != '_')
            json_object_set(c, k, v);
    return c;
}

static json_t *build_genesis(const cli_testnet_opts *o, json_t *cat, const char *chain,
                             const char *region, const char *region_name, unsigned base,
                             uint64_t gtime, const ledger_keypair *seal,
                             const ledger_keypair *node, const ledger_keypair *reg,
                             const char *reg_dept, const ledger_keypair *obs)
{
    char about[160];
    snprintf(about, sizeof about, "Test network made by `permit testnet`: %u validator%s, "
             "throw-away keys. Not for production.", o->validators,
             o->validators == 1 ? "" : "s");
    json_t *g = json_object();
    json_object_set_new(g, "_about", json_string(about));
    json_object_set_new(g, "chain_id", json_string(chain));
    json_object_set_new(g, "genesis_time", json_integer((json_int_t)gtime));
    json_object_set_new(g, "region", json_pack("{s:s, s:s}", "code", region, "name",
                                               region_name));
    json_object_set_new(g, "params",
                        json_pack("{s:i, s:s, s:i, s:s, s:s}", "max_addresses", 32, "tx_window",
                                  "1h", "max_block_txs", 10000, "block_interval", "200ms",
                                  "heartbeat", "30s"));
    json_t *depts = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(cat, "departments"), i, d) {
        json_t *x = without_comments(d);
        json_object_set_new(x, "seal_key", hexkey(seal[i].pub));
        if (i < o->validators) {
            unsigned rpc = base + 2 * (unsigned)i;
            json_object_set_new(x, "validator",
                                json_pack("{s:o, s:o, s:o}", "node_key", hexkey(node[i].pub),
                                          "p2p", hostport(rpc + 1), "rpc", hostport(rpc)));
        }
        json_array_append_new(depts, x);
    }
    json_object_set_new(g, "departments", depts);
    json_object_set_new(g, "registrars",
                        json_pack("[{s:s, s:s, s:o}]", "name", CLI_TESTNET_REGISTRAR,
                                  "department", reg_dept, "key", hexkey(reg->pub)));
    json_t *inds = json_array();
    json_array_foreach(json_object_get(cat, "industries"), i, d)
        json_array_append_new(inds, json_is_object(d) ? without_comments(d) : json_incref(d));
    json_object_set_new(g, "industries", inds);
    if (obs)
        json_object_set_new(g, "observers",
                            json_pack("[{s:s, s:o}]", "name", CLI_TESTNET_OBSERVER, "node_key",
                                      hexkey(obs->pub)));
    return g;
}

static int conf_text(char *buf, size_t cap, unsigned i, const char *dept, const char *name,
                     unsigned rpc)
{
    return snprintf(buf, cap,
                    "# permitd configuration of node%u (department %s, %s).\n"
                    "# Made by `permit testnet`; flags given to permitd override these values.\n"
                    "rpc_listen = 127.0.0.1:%u\n"
                    "p2p_listen = 127.0.0.1:%u\n"
                    "log_level = info\n",
                    i, dept, name, rpc, rpc + 1);
}

/* ---- the network -------------------------------------------------------- */

int cli_testnet_create(const cli_testnet_opts *o, json_t **summary, cli_error *err)
{
    const char *region = o->region ? o->region : CLI_TESTNET_REGION;
    unsigned base = o->base_port ? o->base_port : CLI_TESTNET_BASE_PORT;
    char chain[80], region_name[160], out[PATH_MAX], tmp[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    json_t *cat = NULL, *gen = NULL, *sum = NULL;
    ledger_keypair *seal = NULL, *node = NULL, reg, obs;
    ledger_genesis *g = NULL;
    char *text = NULL;
    size_t nd = 0;
    int rc, made_tmp = 0;
    *summary = NULL;
    memset(&reg, 0, sizeof reg);
    memset(&obs, 0, sizeof obs);
    tmp[0] = '\0';

    if (!ledger_region_valid(region))
        return cli_fail(err, CLI_EXIT_USAGE, "--region: '%.40s' is not a region code (6 digits, "
                        "not all zero)", region);
    if (o->chain_id)
        snprintf(chain, sizeof chain, "%s", o->chain_id);
    else
        snprintf(chain, sizeof chain, "permitchain-%s-dev", region);
    if (!cli_chain_id_valid(o->chain_id ? o->chain_id : chain))
        return cli_fail(err, CLI_EXIT_USAGE,
                        "--chain-id: '%.80s' is not a chain id (1 to 64 of A-Z a-z 0-9 . _ -)",
                        o->chain_id);
    if (o->region_name)
        snprintf(region_name, sizeof region_name, "%s", o->region_name);
    else if (strcmp(region, CLI_TESTNET_REGION) == 0)
        snprintf(region_name, sizeof region_name, "%s", CLI_TESTNET_REGION_NAME);
    else
        snprintf(region_name, sizeof region_name, "行政区划%s", region);
    if (o->region_name && (strlen(o->region_name) == 0 || strlen(o->region_name) > 128 ||
                           !ledger_utf8_valid(o->region_name, strlen(o->region_name))))
        return cli_fail(err, CLI_EXIT_USAGE, "--region-name: 1 to 128 bytes of single-line "
                        "UTF-8 text");
    if (o->validators < 1)
        return cli_fail(err, CLI_EXIT_USAGE, "--validators: at least 1");
    if (base < 1 || base + 2 * (uint64_t)o->validators - 1 + (o->observer ? 2 : 0) > 65535)
        return cli_fail(err, CLI_EXIT_USAGE, "--base-port: %u leaves no room for %u validators "
                        "(ports up to %u + 2N - 1 must be at most 65535)", base, o->validators,
                        base);
    size_t olen = o->out ? strlen(o->out) : 0;
    while (olen > 1 && o->out[olen - 1] == '/')
        olen--;
    if (olen == 0 || olen >= PATH_MAX - 64)
        return cli_fail(err, CLI_EXIT_USAGE, "--out: a folder name is needed");
    memcpy(out, o->out, olen);
    out[olen] = '\0';
    struct stat st;
    if (lstat(out, &st) == 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--out %s: already exists; refusing to overwrite "
                        "it", out);
    if (errno != ENOENT)
        return cli_fail(err, CLI_EXIT_USAGE, "--out %s: %s", out, strerror(errno));

    if ((rc = catalogue_load(o->catalogue, &cat, err)) != CLI_EXIT_OK)
        return rc;
    json_t *depts = json_object_get(cat, "departments");
    nd = json_array_size(depts);
    if (o->validators > nd) {
        rc = cli_fail(err, CLI_EXIT_USAGE, "--validators: %u, but the catalogue has only %zu "
                      "departments", o->validators, nd);
        goto out;
    }
    seal = calloc(nd, sizeof *seal);
    node = calloc(o->validators, sizeof *node);
    if (seal == NULL || node == NULL) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        goto out;
    }
    ledger_err le;
    for (size_t i = 0; i < nd; i++)
        if (ledger_keygen(&seal[i], &le) != 0) {
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "key generation failed: %s", le.msg);
            goto out;
        }
    for (size_t i = 0; i < o->validators; i++)
        if (ledger_keygen(&node[i], &le) != 0) {
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "key generation failed: %s", le.msg);
            goto out;
        }
    if (ledger_keygen(&reg, &le) != 0 || (o->observer && ledger_keygen(&obs, &le) != 0)) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "key generation failed: %s", le.msg);
        goto out;
    }
    /* the registrar belongs to the approval bureau, or else the first department */
    const char *reg_dept = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(depts, i, d) {
        json_t *id = json_object_get(d, "id");
        if (json_is_string(id) && strcmp(json_string_value(id), CLI_TESTNET_REGISTRAR_DEPT) == 0)
            reg_dept = CLI_TESTNET_REGISTRAR_DEPT;
    }
    if (reg_dept == NULL) {
        json_t *id = json_object_get(json_array_get(depts, 0), "id");
        reg_dept = json_is_string(id) ? json_string_value(id) : "";
    }
    gen = build_genesis(o, cat, chain, region, region_name, base,
                        o->genesis_time_ms ? o->genesis_time_ms : cli_now_ms(), seal, node, &reg,
                        reg_dept, o->observer ? &obs : NULL);
    char *dumped = gen ? json_dumps(gen, JSON_INDENT(2)) : NULL;
    size_t tlen = dumped ? strlen(dumped) : 0;
    text = dumped ? malloc(tlen + 2) : NULL;
    if (text == NULL) {
        free(dumped);
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        goto out;
    }
    memcpy(text, dumped, tlen);
    text[tlen++] = '\n';
    text[tlen] = '\0';
    free(dumped);
    /* the genesis rules judge the catalogue; their paths are the catalogue's */
    if (ledger_genesis_parse(text, tlen, &g, &le) != 0) {
        rc = cli_fail(err, CLI_EXIT_USAGE, "catalogue %s: %s",
                      o->catalogue ? o->catalogue : "(built-in)", le.msg);
        goto out;
    }

    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", out) >= (int)sizeof tmp ||
        mkdtemp(tmp) == NULL) {
        rc = cli_fail(err, CLI_EXIT_USAGE, "--out %s: cannot create it: %s", out,
                      strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    made_tmp = 1;
    if ((rc = path_join(p, tmp, "genesis.json", NULL, err)) != 0 ||
        (rc = write_file(p, text, tlen, 0644, err)) != 0 ||
        (rc = path_join(p, tmp, "keys", NULL, err)) != 0 || (rc = make_dir(p, err)) != 0)
        goto out;
    json_array_foreach(depts, i, d) {
        char fname[64];
        snprintf(fname, sizeof fname, "%s.key", json_string_value(json_object_get(d, "id")));
        if ((rc = path_join(p, tmp, "keys", fname, err)) != 0 ||
            (rc = key_file(p, &seal[i], err)) != 0)
            goto out;
    }
    if ((rc = path_join(p, tmp, "keys", REGISTRAR_FILE ".key", err)) != 0 ||
        (rc = key_file(p, &reg, err)) != 0)
        goto out;
    for (unsigned v = 0; v < o->validators; v++) {
        char home[32], conf[512];
        json_t *dv = json_array_get(depts, v);
        snprintf(home, sizeof home, "node%u", v);
        int clen = conf_text(conf, sizeof conf, v, json_string_value(json_object_get(dv, "id")),
                             json_string_value(json_object_get(dv, "name")), base + 2 * v);
        if (clen < 0 || clen >= (int)sizeof conf) {
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "node%u: configuration too long", v);
            goto out;
        }
        if ((rc = path_join(p, tmp, home, NULL, err)) != 0 || (rc = make_dir(p, err)) != 0 ||
            (rc = path_join(q, p, "config", NULL, err)) != 0 || (rc = make_dir(q, err)) != 0 ||
            (rc = path_join(p, q, "permitd.conf", NULL, err)) != 0 ||
            (rc = write_file(p, conf, (size_t)clen, 0644, err)) != 0 ||
            (rc = path_join(p, q, "genesis.json", NULL, err)) != 0 ||
            (rc = write_file(p, text, tlen, 0644, err)) != 0 ||
            (rc = path_join(p, q, "node.key", NULL, err)) != 0 ||
            (rc = key_file(p, &node[v], err)) != 0)
            goto out;
    }
    if (o->observer) {
        char conf[512];
        unsigned rpc = base + 2 * o->validators;
        int clen = snprintf(conf, sizeof conf,
                            "# permitd configuration of the observer %s: it follows the "
                            "validators,\n# serves reads and the public site.  Made by `permit "
                            "testnet --observer`.\n"
                            "role = observer\nrpc_listen = 127.0.0.1:%u\n"
                            "public_listen = 127.0.0.1:%u\nlog_level = info\n",
                            CLI_TESTNET_OBSERVER, rpc, rpc + 1);
        if ((rc = path_join(p, tmp, "observer", NULL, err)) != 0 || (rc = make_dir(p, err)) != 0 ||
            (rc = path_join(q, p, "config", NULL, err)) != 0 || (rc = make_dir(q, err)) != 0 ||
            (rc = path_join(p, q, "permitd.conf", NULL, err)) != 0 ||
            (rc = write_file(p, conf, (size_t)clen, 0644, err)) != 0 ||
            (rc = path_join(p, q, "genesis.json", NULL, err)) != 0 ||
            (rc = write_file(p, text, tlen, 0644, err)) != 0 ||
            (rc = path_join(p, q, "node.key", NULL, err)) != 0 ||
            (rc = key_file(p, &obs, err)) != 0)
            goto out;
    }
    if (chmod(tmp, 0755) != 0) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    /* appear complete or not at all, and never replace what someone else made */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) != 0) {
        int e = errno;
        if ((e == EINVAL || e == ENOSYS) && lstat(out, &st) != 0 && errno == ENOENT &&
            rename(tmp, out) == 0) {
            e = 0;
        }
        if (e != 0) {
            rc = cli_fail(err, e == EEXIST ? CLI_EXIT_USAGE : CLI_EXIT_UNAVAILABLE,
                          "--out %s: %s", out,
                          e == EEXIST ? "appeared while the network was being made; left as "
                                        "it is" : strerror(e));
            goto out;
        }
    }
    made_tmp = 0;

    sum = json_object();
    char keysdir[PATH_MAX], home[PATH_MAX];
    json_t *vals = json_array(), *keymap = json_object();
    if ((rc = path_join(p, out, "genesis.json", NULL, err)) != 0 ||
        (rc = path_join(keysdir, out, "keys", NULL, err)) != 0)
        goto out;
    json_object_set_new(sum, "chain_id", json_string(chain));
    json_object_set_new(sum, "dir", json_string(out));
    json_object_set_new(sum, "genesis", json_string(p));
    json_object_set_new(sum, "region", json_pack("{s:s, s:s}", "code", region, "name",
                                                 region_name));
    json_object_set_new(sum, "validators", vals);
    for (unsigned v = 0; v < o->validators; v++) {
        json_t *dv = json_array_get(depts, v);
        char nodename[32];
        snprintf(nodename, sizeof nodename, "node%u", v);
        if ((rc = path_join(home, out, nodename, NULL, err)) != 0)
            goto out;
        json_array_append_new(
            vals, json_pack("{s:s, s:O, s:O, s:s, s:o, s:o, s:o, s:o}", "node", nodename,
                            "department", json_object_get(dv, "id"), "name",
                            json_object_get(dv, "name"), "home", home, "rpc",
                            hostport(base + 2 * v), "p2p", hostport(base + 2 * v + 1),
                            "node_key", hexkey(node[v].pub), "seal_key", hexkey(seal[v].pub)));
    }
    if (o->observer) {
        unsigned rpc = base + 2 * o->validators;
        if ((rc = path_join(home, out, "observer", NULL, err)) != 0)
            goto out;
        json_object_set_new(sum, "observer",
                            json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", CLI_TESTNET_OBSERVER,
                                      "home", home, "rpc", hostport(rpc), "public",
                                      hostport(rpc + 1), "node_key", hexkey(obs.pub)));
    }
    json_object_set_new(sum, "keys", json_pack("{s:s, s:s, s:o}", "dir", keysdir,
                                               "registrar_name", CLI_TESTNET_REGISTRAR,
                                               "departments", keymap));
    json_array_foreach(depts, i, d) {
        char fname[64];
        const char *id = json_string_value(json_object_get(d, "id"));
        snprintf(fname, sizeof fname, "%s.key", id);
        if ((rc = path_join(q, out, "keys", fname, err)) != 0)
            goto out;
        json_object_set_new(keymap, id, json_string(q));
    }
    if ((rc = path_join(q, out, "keys", REGISTRAR_FILE ".key", err)) != 0)
        goto out;
    json_object_set_new(json_object_get(sum, "keys"), "registrar", json_string(q));
    *summary = sum;
    sum = NULL;
    rc = CLI_EXIT_OK;
out:
    json_decref(sum);
    if (made_tmp && tmp[0])
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t k = 0; seal && k < nd; k++)
        ledger_keypair_wipe(&seal[k]);
    for (size_t k = 0; node && k < o->validators; k++)
        ledger_keypair_wipe(&node[k]);
    ledger_keypair_wipe(&reg);
    ledger_keypair_wipe(&obs);
    free(seal);
    free(node);
    free(text);
    json_decref(gen);
    json_decref(cat);
    ledger_genesis_free(g);
    return rc;
}
