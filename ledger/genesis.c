/* ledger/genesis.c: parse and validate the genesis file (docs/genesis.md):
 * its sections and their rules, reading the file, freeing it.
 *
 * Every check names the JSON path of the offending field (the typed field
 * readers: genesis_field.c).  The parsed document owns all its strings; the
 * index behind the lookups is genesis_index.c. */
#include "genesis.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "genesis_int.h"
#include "hash.h"
#include "limits.h"
#include "text.h"

#define NAME_MAX_BYTES 128
#define PERMIT_MAX_BYTES 256
/* 9999-12-31T23:59:59.999Z: keeps time + duration far from overflow */
#define GENESIS_TIME_MAX INT64_C(253402300799999)

/* ---- sections ------------------------------------------------------------ */

static int parse_params(json_t *root, ledger_params *pp, ledger_err *err)
{
    static const char *const fields[] = {"max_addresses", "tx_window", "max_block_txs",
                                         "max_block_bytes", "block_interval", "heartbeat",
                                         "gov_window", "instant_ban", NULL};
    json_t *o;
    long long x;
    int present;
    pp->max_addresses = 32;
    pp->max_block_txs = 10000;
    pp->max_block_bytes = LEDGER_MAX_BLOCK_BYTES_DEFAULT;
    pp->tx_window_ms = 3600 * 1000;
    pp->block_interval_ms = 1000;
    pp->heartbeat_ms = 60 * 1000;
    pp->gov_window_ms = UINT64_C(7) * 86400 * 1000;
    pp->instant_ban_ms = LEDGER_INSTANT_BAN_DEFAULT_MS;
    if (ledger_gj_object(root, "", "params", 0, &o, err) != 0)
        return -1;
    if (o == NULL)
        return 0;
    if (ledger_gj_check_fields(o, "params", fields, err) != 0)
        return -1;
    if (ledger_gj_integer(o, "params", "max_addresses", 0, 1, LEDGER_MAX_ADDRESSES_HARD, &x,
                          &present, err) != 0)
        return -1;
    if (present)
        pp->max_addresses = (uint32_t)x;
    if (ledger_gj_integer(o, "params", "max_block_txs", 0, 1, LEDGER_MAX_BLOCK_TXS_HARD, &x,
                          &present, err) != 0)
        return -1;
    if (present)
        pp->max_block_txs = (uint32_t)x;
    /* one envelope of the largest size must fit, and a block must fit in a
     * p2p frame with its framing (limits.h) */
    if (ledger_gj_integer(o, "params", "max_block_bytes", 0, LEDGER_MAX_ENVELOPE,
                          LEDGER_MAX_BLOCK_BYTES_HARD, &x, &present, err) != 0)
        return -1;
    if (present)
        pp->max_block_bytes = (uint64_t)x;
    if (ledger_gj_duration(o, "params", "tx_window", 0, pp->tx_window_ms, &pp->tx_window_ms, NULL,
                           err) != 0 ||
        ledger_gj_duration(o, "params", "block_interval", 0, pp->block_interval_ms,
                           &pp->block_interval_ms, NULL, err) != 0 ||
        ledger_gj_duration(o, "params", "heartbeat", 0, pp->heartbeat_ms, &pp->heartbeat_ms, NULL,
                           err) != 0 ||
        ledger_gj_duration(o, "params", "gov_window", 0, pp->gov_window_ms, &pp->gov_window_ms,
                           NULL, err) != 0 ||
        ledger_gj_duration(o, "params", "instant_ban", 0, pp->instant_ban_ms,
                           &pp->instant_ban_ms, NULL, err) != 0)
        return -1;
    if (pp->heartbeat_ms < pp->block_interval_ms)
        return ledger_gj_fail(err, "params.heartbeat", "must not be shorter than block_interval");
    return 0;
}

static int parse_department(json_t *o, const char *path, ledger_genesis *g, size_t i,
                            ledger_err *err)
{
    static const char *const fields[] = {"id", "name", "seal_key", "validator", NULL};
    static const char *const vfields[] = {"node_key", "p2p", "rpc", NULL};
    ledger_department *d = &g->departments[i];
    const char *id;
    ledger_gj_path vp;
    char b[72];
    if (!json_is_object(o))
        return ledger_gj_fail(err, path, "must be an object");
    if (ledger_gj_check_fields(o, path, fields, err) != 0)
        return -1;
    if (ledger_gj_string(o, path, "id", 1, &id, err) != 0)
        return -1;
    if (!ledger_gj_id_matches(id, 32, 1, "_-"))
        return ledger_gj_fail_at(err, path, "id",
                                 "%s is not a department id (a lower-case letter, then up to 31 "
                                 "of a-z 0-9 _ -)", ledger_gj_shown(id, b));
    for (size_t k = 0; k < i; k++)
        if (strcmp(g->departments[k].id, id) == 0)
            return ledger_gj_fail_at(err, path, "id",
                                     "duplicate department id \"%s\" (also departments[%zu])", id,
                                     k);
    if (ledger_gj_dup(id, &d->id, err) != 0 ||
        ledger_gj_name(o, path, "name", NAME_MAX_BYTES, &d->name, err) != 0 ||
        ledger_gj_key(o, path, "seal_key", &d->seal, err) != 0)
        return -1;
    json_t *v;
    if (ledger_gj_object(o, path, "validator", 0, &v, err) != 0)
        return -1;
    if (v == NULL)
        return 0;
    ledger_gj_join(&vp, path, "validator");
    if (ledger_gj_check_fields(v, vp.s, vfields, err) != 0 ||
        ledger_gj_key(v, vp.s, "node_key", &d->node, err) != 0 ||
        ledger_gj_hostport(v, vp.s, "p2p", 1, &d->p2p, err) != 0 ||
        ledger_gj_hostport(v, vp.s, "rpc", 0, &d->rpc, err) != 0)
        return -1;
    for (size_t k = 0; k < i; k++)
        if (g->departments[k].validator && strcmp(g->departments[k].p2p, d->p2p) == 0)
            return ledger_gj_fail_at(err, vp.s, "p2p",
                                     "address \"%s\" already used by departments[%zu]", d->p2p, k);
    d->validator = 1;
    return 0;
}

/* The department named by o[key], which must exist: its index in *dept. */
static int get_dept_ref(json_t *o, const char *path, const char *key,
                        const ledger_genesis *g, char **out, int *dept, ledger_err *err)
{
    const char *s;
    char b[72];
    if (ledger_gj_string(o, path, key, 1, &s, err) != 0)
        return -1;
    int k = ledger_genesis_dept_index(g, s);
    if (k < 0)
        return ledger_gj_fail_at(err, path, key, "unknown department %s", ledger_gj_shown(s, b));
    *dept = k;
    return ledger_gj_dup(s, out, err);
}

static int parse_registrar(json_t *o, const char *path, ledger_genesis *g, size_t i,
                           ledger_err *err)
{
    static const char *const fields[] = {"name", "department", "key", NULL};
    ledger_registrar *r = &g->registrars[i];
    if (!json_is_object(o))
        return ledger_gj_fail(err, path, "must be an object");
    if (ledger_gj_check_fields(o, path, fields, err) != 0 ||
        ledger_gj_name(o, path, "name", NAME_MAX_BYTES, &r->name, err) != 0 ||
        get_dept_ref(o, path, "department", g, &r->department, &r->dept, err) != 0 ||
        ledger_gj_key(o, path, "key", &r->key, err) != 0)
        return -1;
    return 0;
}

static int parse_observer(json_t *o, const char *path, ledger_genesis *g, size_t i,
                          ledger_err *err)
{
    static const char *const fields[] = {"name", "node_key", NULL};
    ledger_observer *ob = &g->observers[i];
    if (!json_is_object(o))
        return ledger_gj_fail(err, path, "must be an object");
    if (ledger_gj_check_fields(o, path, fields, err) != 0 ||
        ledger_gj_name(o, path, "name", NAME_MAX_BYTES, &ob->name, err) != 0 ||
        ledger_gj_key(o, path, "node_key", &ob->node, err) != 0)
        return -1;
    return 0;
}

static int parse_item(json_t *o, const char *path, const ledger_genesis *g,
                      ledger_industry *ind, size_t j, ledger_err *err)
{
    static const char *const fields[] = {"permit", "department", "instant", NULL};
    ledger_item_def *it = &ind->items[j];
    if (!json_is_object(o))
        return ledger_gj_fail(err, path, "must be an object");
    if (ledger_gj_check_fields(o, path, fields, err) != 0 ||
        ledger_gj_name(o, path, "permit", PERMIT_MAX_BYTES, &it->permit, err) != 0 ||
        (json_object_get(o, "instant") != NULL &&
         ledger_gj_bool(o, path, "instant", &it->instant, err) != 0))
        return -1;
    /* 秒批 is a decision on notify-and-commit applications (DESIGN §2) */
    if (it->instant && !ind->commitment_allowed)
        return ledger_gj_fail_at(err, path, "instant",
                                 "true only where the industry allows the commitment route "
                                 "(commitment_allowed)");
    for (size_t k = 0; k < j; k++)
        if (strcmp(ind->items[k].permit, it->permit) == 0)
            return ledger_gj_fail_at(err, path, "permit",
                                     "duplicate permit in this industry (also items[%zu])", k);
    return get_dept_ref(o, path, "department", g, &it->department, &it->dept, err);
}

static int parse_industry(json_t *o, const char *path, ledger_genesis *g, size_t i,
                          ledger_err *err)
{
    static const char *const fields[] = {"code", "name", "validity", "commitment_allowed",
                                         "verify_within", "renew_window", "grace",
                                         "items", NULL};
    ledger_industry *ind = &g->industries[i];
    const char *code;
    char b[72];
    int present;
    if (!json_is_object(o))
        return ledger_gj_fail(err, path, "must be an object");
    if (ledger_gj_check_fields(o, path, fields, err) != 0 ||
        ledger_gj_string(o, path, "code", 1, &code, err) != 0)
        return -1;
    if (!ledger_gj_id_matches(code, 32, 1, "-"))
        return ledger_gj_fail_at(err, path, "code",
                                 "%s is not an industry code (a lower-case letter, then up to 31 "
                                 "of a-z 0-9 -)", ledger_gj_shown(code, b));
    for (size_t k = 0; k < i; k++)
        if (strcmp(g->industries[k].code, code) == 0)
            return ledger_gj_fail_at(err, path, "code",
                                     "duplicate industry code \"%s\" (also industries[%zu])",
                                     code, k);
    if (ledger_gj_dup(code, &ind->code, err) != 0 ||
        ledger_gj_name(o, path, "name", NAME_MAX_BYTES, &ind->name, err) != 0 ||
        ledger_gj_duration(o, path, "validity", 1, 0, &ind->validity_ms, NULL, err) != 0 ||
        ledger_gj_bool(o, path, "commitment_allowed", &ind->commitment_allowed, err) != 0 ||
        ledger_gj_duration(o, path, "verify_within", 0, 0, &ind->verify_within_ms, &present,
                           err) != 0 ||
        ledger_gj_duration(o, path, "renew_window", 0, 90 * UINT64_C(86400000),
                           &ind->renew_window_ms, NULL, err) != 0 ||
        ledger_gj_duration(o, path, "grace", 0, 180 * UINT64_C(86400000), &ind->grace_ms, NULL,
                           err) != 0)
        return -1;
    if (ind->commitment_allowed && !present)
        return ledger_gj_fail_at(err, path, "verify_within",
                                 "missing (required when commitment_allowed is true)");
    json_t *items;
    ledger_gj_path ep;
    if (ledger_gj_array(o, path, "items", 1, LEDGER_MAX_ITEMS, "item", &items, err) != 0)
        return -1;
    size_t n = json_array_size(items);
    ind->items = calloc(n, sizeof *ind->items);
    if (ind->items == NULL)
        return ledger_gj_nomem(err);
    ind->n_items = n;
    for (size_t j = 0; j < n; j++)
        if (parse_item(json_array_get(items, j), ledger_gj_index(&ep, path, "items", j), g, ind, j,
                       err) != 0)
            return -1;
    return 0;
}

/* ---- the document -------------------------------------------------------- */

#define SET_HASH_TAG "permit/validators/v2"

static void nodes_hash(const ledger_genesis *m, uint8_t out[32])
{
    ledger_sha256_ctx c;
    uint8_t cnt[2] = {(uint8_t)(m->n_validators >> 8), (uint8_t)m->n_validators};
    ledger_sha256_init(&c);
    ledger_sha256_update(&c, SET_HASH_TAG, strlen(SET_HASH_TAG));
    ledger_sha256_update(&c, cnt, 2);
    for (size_t i = 0; i < m->n_validators; i++)
        ledger_sha256_update(&c, m->departments[m->validators[i]].node.raw, 32);
    ledger_sha256_final(&c, out);
}

void ledger_set_validators_hash(ledger_genesis *m)
{
    uint8_t h[32];
    nodes_hash(m, h);
    /* the node keys of genesis, in its order: genesis' value, whatever seal
     * keys rotated since (a seal key certifies no block) */
    memcpy(m->validators_hash, memcmp(h, m->genesis_nodes, 32) == 0 ? m->genesis_vhash : h, 32);
}

void ledger_genesis_validators_hash(ledger_genesis *g)
{
    ledger_sha256_ctx c;
    uint8_t cnt[2] = {(uint8_t)(g->n_validators >> 8), (uint8_t)g->n_validators};
    ledger_sha256_init(&c);
    ledger_sha256_update(&c, cnt, 2);
    for (size_t i = 0; i < g->n_validators; i++) {
        const ledger_department *d = &g->departments[g->validators[i]];
        ledger_sha256_update(&c, d->node.raw, 32);
        ledger_sha256_update(&c, d->seal.raw, 32);
    }
    ledger_sha256_final(&c, g->validators_hash);
}

static int parse_root(json_t *root, ledger_genesis *g, ledger_err *err)
{
    static const char *const fields[] = {"chain_id", "genesis_time", "region", "params",
                                         "departments", "registrars", "industries",
                                         "observers", NULL};
    static const char *const rfields[] = {"code", "name", NULL};
    const char *s;
    char b[72];
    long long t;
    int present;
    json_t *o, *arr;
    ledger_gj_path p;

    if (!json_is_object(root))
        return ledger_gj_fail(err, "", "the genesis document must be a JSON object");
    if (ledger_gj_check_fields(root, "", fields, err) != 0)
        return -1;

    if (ledger_gj_string(root, "", "chain_id", 1, &s, err) != 0)
        return -1;
    if (!ledger_gj_id_matches(s, 64, 0, "._-"))
        return ledger_gj_fail(err, "chain_id",
                              "%s is not a chain id (1 to 64 of A-Z a-z 0-9 . _ -)",
                              ledger_gj_shown(s, b));
    if (ledger_gj_dup(s, &g->chain_id, err) != 0)
        return -1;

    if (ledger_gj_integer(root, "", "genesis_time", 1, 1, GENESIS_TIME_MAX, &t, &present, err) != 0)
        return -1;
    g->genesis_time_ms = (uint64_t)t;

    if (ledger_gj_object(root, "", "region", 1, &o, err) != 0 ||
        ledger_gj_check_fields(o, "region", rfields, err) != 0 ||
        ledger_gj_string(o, "region", "code", 1, &s, err) != 0)
        return -1;
    if (!ledger_region_valid(s))
        return ledger_gj_fail(err, "region.code",
                              "%s is not a region code (6 digits, not all zero)",
                              ledger_gj_shown(s, b));
    if (ledger_gj_dup(s, &g->region, err) != 0 ||
        ledger_gj_name(o, "region", "name", NAME_MAX_BYTES, &g->region_name, err) != 0)
        return -1;

    if (parse_params(root, &g->params, err) != 0)
        return -1;

    /* departments */
    if (ledger_gj_array(root, "", "departments", 1, LEDGER_MAX_DEPARTMENTS, "department", &arr,
                        err) != 0)
        return -1;
    size_t n = json_array_size(arr);
    g->departments = calloc(n, sizeof *g->departments);
    g->validators = calloc(n, sizeof *g->validators);
    if (g->departments == NULL || g->validators == NULL)
        return ledger_gj_nomem(err);
    g->n_departments = n;
    for (size_t i = 0; i < n; i++) {
        if (parse_department(json_array_get(arr, i), ledger_gj_index(&p, "", "departments", i), g,
                             i, err) != 0)
            return -1;
        if (g->departments[i].validator)
            g->validators[g->n_validators++] = (int)i;
    }
    if (g->n_validators == 0)
        return ledger_gj_fail(err, "departments",
                              "no department runs a validator (at least one needs \"validator\")");

    /* registrars (may be empty: filing waits for governance then) */
    if (ledger_gj_array(root, "", "registrars", 0, LEDGER_MAX_REGISTRARS, "registrar", &arr,
                        err) != 0)
        return -1;
    n = json_array_size(arr);
    if (n > 0) {
        g->registrars = calloc(n, sizeof *g->registrars);
        if (g->registrars == NULL)
            return ledger_gj_nomem(err);
    }
    g->n_registrars = n;
    for (size_t i = 0; i < n; i++)
        if (parse_registrar(json_array_get(arr, i), ledger_gj_index(&p, "", "registrars", i), g, i,
                            err) != 0)
            return -1;

    /* industries */
    if (ledger_gj_array(root, "", "industries", 1, LEDGER_MAX_INDUSTRIES, "industry", &arr,
                        err) != 0)
        return -1;
    n = json_array_size(arr);
    g->industries = calloc(n, sizeof *g->industries);
    if (g->industries == NULL)
        return ledger_gj_nomem(err);
    g->n_industries = n;
    for (size_t i = 0; i < n; i++)
        if (parse_industry(json_array_get(arr, i), ledger_gj_index(&p, "", "industries", i), g, i,
                           err) != 0)
            return -1;

    /* observers: optional (node keys that follow the chain without voting) */
    if (json_object_get(root, "observers") != NULL) {
        if (ledger_gj_array(root, "", "observers", 0, LEDGER_MAX_OBSERVERS, "observer", &arr,
                            err) != 0)
            return -1;
        n = json_array_size(arr);
        if (n > 0 && (g->observers = calloc(n, sizeof *g->observers)) == NULL)
            return ledger_gj_nomem(err);
        g->n_observers = n;
        for (size_t i = 0; i < n; i++)
            if (parse_observer(json_array_get(arr, i), ledger_gj_index(&p, "", "observers", i), g,
                               i, err) != 0)
                return -1;
    }

    if (ledger_genesis_index_build(g, err) != 0)
        return -1;
    ledger_genesis_validators_hash(g);
    memcpy(g->genesis_vhash, g->validators_hash, 32);
    nodes_hash(g, g->genesis_nodes);
    return 0;
}

int ledger_genesis_parse(const char *json, size_t len, ledger_genesis **out,
                         ledger_err *err)
{
    *out = NULL;
    if (len > LEDGER_MAX_GENESIS_BYTES)
        return ledger_gj_fail(err, "", "genesis is %zu bytes, more than the limit of %u", len,
                              (unsigned)LEDGER_MAX_GENESIS_BYTES);
    if (json == NULL)
        return ledger_gj_fail(err, "", "genesis is empty");
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return ledger_gj_fail(err, "", "genesis is not valid JSON: line %d column %d: %s", je.line,
                              je.column, je.text);
    ledger_genesis *g = calloc(1, sizeof *g);
    if (g == NULL) {
        json_decref(root);
        return ledger_gj_nomem(err);
    }
    int rc = parse_root(root, g, err);
    json_decref(root);
    if (rc != 0) {
        ledger_genesis_free(g);
        return -1;
    }
    ledger_sha256(json, len, g->hash);
    *out = g;
    return 0;
}

int ledger_genesis_load(const char *path, ledger_genesis **out, ledger_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: not a regular file", path);
    }
    if (st.st_size > (off_t)LEDGER_MAX_GENESIS_BYTES) {
        close(fd);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "%s: %lld bytes, more than the genesis limit of %u", path,
                           (long long)st.st_size, (unsigned)LEDGER_MAX_GENESIS_BYTES);
    }
    /* read one byte more than the limit: the file may grow after fstat */
    size_t cap = (size_t)st.st_size + 1, n = 0;
    if (cap > LEDGER_MAX_GENESIS_BYTES + 1u)
        cap = LEDGER_MAX_GENESIS_BYTES + 1u;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return ledger_gj_nomem(err);
    }
    for (;;) {
        if (n == cap) {
            if (cap > LEDGER_MAX_GENESIS_BYTES)
                break;
            size_t ncap = cap * 2 > LEDGER_MAX_GENESIS_BYTES + 1u
                              ? LEDGER_MAX_GENESIS_BYTES + 1u
                              : cap * 2;
            char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                free(buf);
                close(fd);
                return ledger_gj_nomem(err);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    int rc;
    if (n > LEDGER_MAX_GENESIS_BYTES)
        rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                         "%s: more than the genesis limit of %u bytes", path,
                         (unsigned)LEDGER_MAX_GENESIS_BYTES);
    else if ((rc = ledger_genesis_parse(buf, n, out, err)) != 0)
        ledger_err_prefix(err, path);
    free(buf);
    return rc;
}

void ledger_genesis_free(ledger_genesis *g)
{
    if (g == NULL)
        return;
    free(g->chain_id);
    free(g->region);
    free(g->region_name);
    for (size_t i = 0; i < g->n_departments; i++) {
        free(g->departments[i].id);
        free(g->departments[i].name);
        free(g->departments[i].p2p);
        free(g->departments[i].rpc);
    }
    free(g->departments);
    for (size_t i = 0; i < g->n_registrars; i++) {
        free(g->registrars[i].name);
        free(g->registrars[i].department);
    }
    free(g->registrars);
    for (size_t i = 0; i < g->n_industries; i++) {
        ledger_industry *ind = &g->industries[i];
        free(ind->code);
        free(ind->name);
        for (size_t j = 0; j < ind->n_items; j++) {
            free(ind->items[j].permit);
            free(ind->items[j].department);
        }
        free(ind->items);
    }
    free(g->industries);
    for (size_t i = 0; i < g->n_observers; i++)
        free(g->observers[i].name);
    free(g->observers);
    free(g->validators);
    ledger_genesis_index_free(g->index);
    free(g);
}
