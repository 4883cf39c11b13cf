/* ledger/genesis.c: parse and validate the genesis file (docs/genesis.md).
 *
 * Every check names the JSON path of the offending field.  The parsed
 * document owns all its strings; lookups by key go through one sorted array
 * of every key in the file (keys are unique across roles, which the same
 * array proves), so the per-transaction lookups are binary searches. */
#include "genesis.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "hex.h"
#include "limits.h"
#include "text.h"

#define NAME_MAX_BYTES 128
#define PERMIT_MAX_BYTES 256
#define HOST_MAX 253
#define PATH_MAX_LEN 128
/* 9999-12-31T23:59:59.999Z: keeps time + duration far from overflow */
#define GENESIS_TIME_MAX INT64_C(253402300799999)

enum key_kind { KEY_SEAL, KEY_NODE, KEY_REGISTRAR };

typedef struct {
    uint8_t key[32];
    uint8_t kind;     /* enum key_kind */
    uint32_t idx;     /* department, validators[] position or registrar */
    uint32_t order;   /* enumeration order, to name the later of two uses */
} key_entry;

typedef struct {
    const char *code;
    uint32_t idx;
} code_entry;

struct ledger_genesis_index {
    size_t n_keys;
    key_entry *keys;        /* every key of the file, sorted by key bytes */
    code_entry *industries; /* sorted by code */
};

/* ---- error helpers ------------------------------------------------------- */

static int gfail(ledger_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fail with LEDGER_ERR_INVALID and "path: message" (just the message at the
 * top level, whose path is empty). */
static int gfail(ledger_err *err, const char *path, const char *fmt, ...)
{
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path == NULL || path[0] == '\0')
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s", msg);
    return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: %s", path, msg);
}

static int nomem(ledger_err *err)
{
    return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
}

/* A value from the file quoted for an error message: only short, valid
 * single-line UTF-8 is echoed, so messages stay printable and bounded. */
static const char *shown(const char *s, char buf[72])
{
    size_t n = strnlen(s, 65);
    if (n <= 64 && ledger_utf8_valid(s, n)) {
        snprintf(buf, 72, "\"%s\"", s);
        return buf;
    }
    return "(value not shown)";
}

/* ---- paths --------------------------------------------------------------- */

typedef struct {
    char s[PATH_MAX_LEN];
} gpath;

/* Paths are short by construction (ids of at most 32 bytes, indexes below
 * 1024); a truncated one would still be marked. */
static const char *pfix(gpath *p, int r)
{
    if (r < 0 || (size_t)r >= sizeof p->s)
        memcpy(p->s + sizeof p->s - 4, "...", 4);
    return p->s;
}

static const char *pjoin(gpath *p, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        return pfix(p, snprintf(p->s, sizeof p->s, "%s", key));
    return pfix(p, snprintf(p->s, sizeof p->s, "%s.%s", parent, key));
}

static const char *pindex(gpath *p, const char *parent, const char *key, size_t i)
{
    if (parent[0] == '\0')
        return pfix(p, snprintf(p->s, sizeof p->s, "%s[%zu]", key, i));
    return pfix(p, snprintf(p->s, sizeof p->s, "%s.%s[%zu]", parent, key, i));
}

/* ---- typed field access -------------------------------------------------- */

/* Refuse members of obj not in `allowed` (NULL-terminated); members whose
 * name starts with '_' are comments and ignored. */
static int check_fields(json_t *obj, const char *path, const char *const *allowed,
                        ledger_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (key[0] == '_')
            continue;
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char b[72];
            return gfail(err, path, "unknown field %s", shown(key, b));
        }
    }
    return 0;
}

/* obj[key] into *v: -1 with "<path>: missing" when required and absent,
 * otherwise 0 with *v NULL when absent. */
static int member(json_t *obj, const char *parent, const char *key, int required,
                  json_t **v, ledger_err *err)
{
    *v = json_object_get(obj, key);
    if (*v == NULL && required) {
        gpath p;
        return gfail(err, pjoin(&p, parent, key), "missing");
    }
    return 0;
}

static int get_object(json_t *obj, const char *parent, const char *key, int required,
                      json_t **v, ledger_err *err)
{
    if (member(obj, parent, key, required, v, err) != 0)
        return -1;
    if (*v != NULL && !json_is_object(*v)) {
        gpath p;
        return gfail(err, pjoin(&p, parent, key), "must be an object");
    }
    return 0;
}

/* An array with min..max elements. */
static int get_array(json_t *obj, const char *parent, const char *key, size_t min,
                     size_t max, const char *what, json_t **v, ledger_err *err)
{
    gpath p;
    if (member(obj, parent, key, 1, v, err) != 0)
        return -1;
    if (!json_is_array(*v))
        return gfail(err, pjoin(&p, parent, key), "must be an array");
    size_t n = json_array_size(*v);
    if (n < min) /* min is 0 or 1 */
        return gfail(err, pjoin(&p, parent, key),
                     "must not be empty (at least one %s is required)", what);
    if (n > max)
        return gfail(err, pjoin(&p, parent, key), "%zu entries, more than the limit of %zu",
                     n, max);
    return 0;
}

/* A string without NUL bytes; *s NULL when optional and absent. */
static int get_string(json_t *obj, const char *parent, const char *key, int required,
                      const char **s, ledger_err *err)
{
    json_t *v;
    gpath p;
    *s = NULL;
    if (member(obj, parent, key, required, &v, err) != 0)
        return -1;
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return gfail(err, pjoin(&p, parent, key), "must be a string");
    const char *str = json_string_value(v);
    if (strlen(str) != json_string_length(v))
        return gfail(err, pjoin(&p, parent, key), "contains a NUL character");
    *s = str;
    return 0;
}

static int dup_string(const char *s, char **out, ledger_err *err)
{
    *out = strdup(s);
    return *out == NULL ? nomem(err) : 0;
}

/* A required display name: non-empty single-line UTF-8 of at most max bytes. */
static int get_name(json_t *obj, const char *parent, const char *key, size_t max,
                    char **out, ledger_err *err)
{
    const char *s;
    gpath p;
    if (get_string(obj, parent, key, 1, &s, err) != 0)
        return -1;
    size_t n = strlen(s);
    if (n == 0)
        return gfail(err, pjoin(&p, parent, key), "must not be empty");
    if (n > max)
        return gfail(err, pjoin(&p, parent, key), "%zu bytes, more than the limit of %zu",
                     n, max);
    if (!ledger_utf8_valid(s, n))
        return gfail(err, pjoin(&p, parent, key),
                     "not valid single-line UTF-8 text (control characters, "
                     "line breaks and malformed sequences are refused)");
    return dup_string(s, out, err);
}

/* s matches [first][rest]{0,max-1}: first is lower-case letters only when
 * first_lower, else the same set as rest. */
static int id_matches(const char *s, size_t max, int first_lower, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int lower = c >= 'a' && c <= 'z';
        if (i == 0 && first_lower) {
            if (!lower)
                return 0;
            continue;
        }
        int ok = lower || (c >= '0' && c <= '9') || strchr(extra, c) != NULL;
        if (!first_lower)
            ok = ok || (c >= 'A' && c <= 'Z');
        if (!ok)
            return 0;
    }
    return 1;
}

static int get_integer(json_t *obj, const char *parent, const char *key, int required,
                       long long min, long long max, long long *out, int *present,
                       ledger_err *err)
{
    json_t *v;
    gpath p;
    *present = 0;
    if (member(obj, parent, key, required, &v, err) != 0)
        return -1;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return gfail(err, pjoin(&p, parent, key), "must be an integer");
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return gfail(err, pjoin(&p, parent, key), "%lld is out of range %lld..%lld",
                     x, min, max);
    *out = x;
    *present = 1;
    return 0;
}

static int get_bool(json_t *obj, const char *parent, const char *key, int *out,
                    ledger_err *err)
{
    json_t *v;
    gpath p;
    if (member(obj, parent, key, 1, &v, err) != 0)
        return -1;
    if (!json_is_boolean(v))
        return gfail(err, pjoin(&p, parent, key), "must be true or false");
    *out = json_is_true(v);
    return 0;
}

/* A duration string (ledger_duration_parse) of at most LEDGER_MAX_DURATION_MS;
 * when absent and optional, *out = def and *present = 0. */
static int get_duration(json_t *obj, const char *parent, const char *key, int required,
                        uint64_t def, uint64_t *out, int *present, ledger_err *err)
{
    const char *s;
    gpath p;
    char b[72];
    if (present)
        *present = 0;
    if (get_string(obj, parent, key, required, &s, err) != 0)
        return -1;
    if (s == NULL) {
        *out = def;
        return 0;
    }
    uint64_t ms;
    if (ledger_duration_parse(s, &ms) != 0)
        return gfail(err, pjoin(&p, parent, key),
                     "%s is not a duration (digits without sign or leading zero, then "
                     "one unit of s, m, h, d or y, e.g. \"90d\")", shown(s, b));
    if (ms > LEDGER_MAX_DURATION_MS)
        return gfail(err, pjoin(&p, parent, key), "%s is longer than 100y", shown(s, b));
    *out = ms;
    if (present)
        *present = 1;
    return 0;
}

/* A 64-hex-digit x-only public key. */
static int get_key(json_t *obj, const char *parent, const char *key, ledger_pubkey *pk,
                   ledger_err *err)
{
    const char *s;
    gpath p;
    uint8_t raw[32];
    if (get_string(obj, parent, key, 1, &s, err) != 0)
        return -1;
    if (ledger_hex_decode_exact(s, raw, sizeof raw) != 0)
        return gfail(err, pjoin(&p, parent, key), "must be 64 hex digits");
    if (ledger_pubkey_parse(pk, raw) != 0)
        return gfail(err, pjoin(&p, parent, key), "not a valid x-only public key");
    return 0;
}

/* "host:port": host non-empty, at most 253 characters of [A-Za-z0-9._-] or a
 * bracketed IPv6 literal; port decimal 1..65535 without leading zeros.
 * Returns NULL when valid, else what is wrong. */
static const char *hostport_problem(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL)
        return "expected host:port";
    size_t hlen = (size_t)(colon - s);
    if (hlen == 0)
        return "host is empty";
    if (hlen > HOST_MAX)
        return "host is longer than 253 characters";
    if (s[0] == '[') {
        if (hlen < 3 || s[hlen - 1] != ']')
            return "IPv6 host must be [address]";
        for (size_t i = 1; i + 1 < hlen; i++) {
            char c = s[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                  (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                return "invalid character in IPv6 host";
        }
    } else {
        for (size_t i = 0; i < hlen; i++) {
            char c = s[i];
            if (c == ':')
                return "IPv6 host must be in brackets, e.g. [::1]:8646";
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_'))
                return "invalid character in host";
        }
    }
    const char *port = colon + 1;
    size_t plen = strlen(port);
    if (plen == 0 || plen > 5 || port[0] == '0')
        return "port must be a number 1..65535";
    unsigned v = 0;
    for (size_t i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9')
            return "port must be a number 1..65535";
        v = v * 10 + (unsigned)(port[i] - '0');
    }
    if (v < 1 || v > 65535)
        return "port must be a number 1..65535";
    return NULL;
}

static int get_hostport(json_t *obj, const char *parent, const char *key, int required,
                        char **out, ledger_err *err)
{
    const char *s;
    gpath p;
    char b[72];
    *out = NULL;
    if (get_string(obj, parent, key, required, &s, err) != 0)
        return -1;
    if (s == NULL)
        return 0;
    const char *why = hostport_problem(s);
    if (why != NULL)
        return gfail(err, pjoin(&p, parent, key), "%s: %s", shown(s, b), why);
    return dup_string(s, out, err);
}

/* ---- sections ------------------------------------------------------------ */

static int parse_params(json_t *root, ledger_params *pp, ledger_err *err)
{
    static const char *const fields[] = {"max_addresses", "tx_window", "max_block_txs",
                                         "max_block_bytes", "block_interval", "heartbeat",
                                         NULL};
    json_t *o;
    long long x;
    int present;
    pp->max_addresses = 32;
    pp->max_block_txs = 10000;
    pp->max_block_bytes = LEDGER_MAX_BLOCK_BYTES_DEFAULT;
    pp->tx_window_ms = 3600 * 1000;
    pp->block_interval_ms = 1000;
    pp->heartbeat_ms = 60 * 1000;
    if (get_object(root, "", "params", 0, &o, err) != 0)
        return -1;
    if (o == NULL)
        return 0;
    if (check_fields(o, "params", fields, err) != 0)
        return -1;
    if (get_integer(o, "params", "max_addresses", 0, 1, LEDGER_MAX_ADDRESSES_HARD, &x,
                    &present, err) != 0)
        return -1;
    if (present)
        pp->max_addresses = (uint32_t)x;
    if (get_integer(o, "params", "max_block_txs", 0, 1, LEDGER_MAX_BLOCK_TXS_HARD, &x,
                    &present, err) != 0)
        return -1;
    if (present)
        pp->max_block_txs = (uint32_t)x;
    /* one envelope of the largest size must fit, and a block must fit in a
     * p2p frame with its framing (limits.h) */
    if (get_integer(o, "params", "max_block_bytes", 0, LEDGER_MAX_ENVELOPE,
                    LEDGER_MAX_BLOCK_BYTES_HARD, &x, &present, err) != 0)
        return -1;
    if (present)
        pp->max_block_bytes = (uint64_t)x;
    if (get_duration(o, "params", "tx_window", 0, pp->tx_window_ms, &pp->tx_window_ms,
                     NULL, err) != 0 ||
        get_duration(o, "params", "block_interval", 0, pp->block_interval_ms,
                     &pp->block_interval_ms, NULL, err) != 0 ||
        get_duration(o, "params", "heartbeat", 0, pp->heartbeat_ms, &pp->heartbeat_ms,
                     NULL, err) != 0)
        return -1;
    if (pp->heartbeat_ms < pp->block_interval_ms)
        return gfail(err, "params.heartbeat", "must not be shorter than block_interval");
    return 0;
}

static int parse_department(json_t *o, const char *path, ledger_genesis *g, size_t i,
                            ledger_err *err)
{
    static const char *const fields[] = {"id", "name", "seal_key", "validator", NULL};
    static const char *const vfields[] = {"node_key", "p2p", "rpc", NULL};
    ledger_department *d = &g->departments[i];
    const char *id;
    gpath p, vp;
    char b[72];
    if (!json_is_object(o))
        return gfail(err, path, "must be an object");
    if (check_fields(o, path, fields, err) != 0)
        return -1;
    if (get_string(o, path, "id", 1, &id, err) != 0)
        return -1;
    if (!id_matches(id, 32, 1, "_-"))
        return gfail(err, pjoin(&p, path, "id"),
                     "%s is not a department id (a lower-case letter, then up to 31 of "
                     "a-z 0-9 _ -)", shown(id, b));
    for (size_t k = 0; k < i; k++)
        if (strcmp(g->departments[k].id, id) == 0)
            return gfail(err, pjoin(&p, path, "id"),
                         "duplicate department id \"%s\" (also departments[%zu])", id, k);
    if (dup_string(id, &d->id, err) != 0 ||
        get_name(o, path, "name", NAME_MAX_BYTES, &d->name, err) != 0 ||
        get_key(o, path, "seal_key", &d->seal, err) != 0)
        return -1;
    json_t *v;
    if (get_object(o, path, "validator", 0, &v, err) != 0)
        return -1;
    if (v == NULL)
        return 0;
    pjoin(&vp, path, "validator");
    if (check_fields(v, vp.s, vfields, err) != 0 ||
        get_key(v, vp.s, "node_key", &d->node, err) != 0 ||
        get_hostport(v, vp.s, "p2p", 1, &d->p2p, err) != 0 ||
        get_hostport(v, vp.s, "rpc", 0, &d->rpc, err) != 0)
        return -1;
    for (size_t k = 0; k < i; k++)
        if (g->departments[k].validator && strcmp(g->departments[k].p2p, d->p2p) == 0)
            return gfail(err, pjoin(&p, vp.s, "p2p"),
                         "address \"%s\" already used by departments[%zu]", d->p2p, k);
    d->validator = 1;
    return 0;
}

/* The department named by o[key], which must exist: its index in *dept. */
static int get_dept_ref(json_t *o, const char *path, const char *key,
                        const ledger_genesis *g, char **out, int *dept, ledger_err *err)
{
    const char *s;
    gpath p;
    char b[72];
    if (get_string(o, path, key, 1, &s, err) != 0)
        return -1;
    int k = ledger_genesis_dept_index(g, s);
    if (k < 0)
        return gfail(err, pjoin(&p, path, key), "unknown department %s", shown(s, b));
    *dept = k;
    return dup_string(s, out, err);
}

static int parse_registrar(json_t *o, const char *path, ledger_genesis *g, size_t i,
                           ledger_err *err)
{
    static const char *const fields[] = {"name", "department", "key", NULL};
    ledger_registrar *r = &g->registrars[i];
    if (!json_is_object(o))
        return gfail(err, path, "must be an object");
    if (check_fields(o, path, fields, err) != 0 ||
        get_name(o, path, "name", NAME_MAX_BYTES, &r->name, err) != 0 ||
        get_dept_ref(o, path, "department", g, &r->department, &r->dept, err) != 0 ||
        get_key(o, path, "key", &r->key, err) != 0)
        return -1;
    return 0;
}

static int parse_item(json_t *o, const char *path, const ledger_genesis *g,
                      ledger_industry *ind, size_t j, ledger_err *err)
{
    static const char *const fields[] = {"permit", "department", NULL};
    ledger_item_def *it = &ind->items[j];
    gpath p;
    if (!json_is_object(o))
        return gfail(err, path, "must be an object");
    if (check_fields(o, path, fields, err) != 0 ||
        get_name(o, path, "permit", PERMIT_MAX_BYTES, &it->permit, err) != 0)
        return -1;
    for (size_t k = 0; k < j; k++)
        if (strcmp(ind->items[k].permit, it->permit) == 0)
            return gfail(err, pjoin(&p, path, "permit"),
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
    gpath p;
    char b[72];
    int present;
    if (!json_is_object(o))
        return gfail(err, path, "must be an object");
    if (check_fields(o, path, fields, err) != 0 ||
        get_string(o, path, "code", 1, &code, err) != 0)
        return -1;
    if (!id_matches(code, 32, 1, "-"))
        return gfail(err, pjoin(&p, path, "code"),
                     "%s is not an industry code (a lower-case letter, then up to 31 of "
                     "a-z 0-9 -)", shown(code, b));
    for (size_t k = 0; k < i; k++)
        if (strcmp(g->industries[k].code, code) == 0)
            return gfail(err, pjoin(&p, path, "code"),
                         "duplicate industry code \"%s\" (also industries[%zu])", code, k);
    if (dup_string(code, &ind->code, err) != 0 ||
        get_name(o, path, "name", NAME_MAX_BYTES, &ind->name, err) != 0 ||
        get_duration(o, path, "validity", 1, 0, &ind->validity_ms, NULL, err) != 0 ||
        get_bool(o, path, "commitment_allowed", &ind->commitment_allowed, err) != 0 ||
        get_duration(o, path, "verify_within", 0, 0, &ind->verify_within_ms, &present,
                     err) != 0 ||
        get_duration(o, path, "renew_window", 0, 90 * UINT64_C(86400000),
                     &ind->renew_window_ms, NULL, err) != 0 ||
        get_duration(o, path, "grace", 0, 180 * UINT64_C(86400000), &ind->grace_ms, NULL,
                     err) != 0)
        return -1;
    if (ind->commitment_allowed && !present)
        return gfail(err, pjoin(&p, path, "verify_within"),
                     "missing (required when commitment_allowed is true)");
    json_t *items;
    gpath ep;
    if (get_array(o, path, "items", 1, LEDGER_MAX_ITEMS, "item", &items, err) != 0)
        return -1;
    size_t n = json_array_size(items);
    ind->items = calloc(n, sizeof *ind->items);
    if (ind->items == NULL)
        return nomem(err);
    ind->n_items = n;
    for (size_t j = 0; j < n; j++)
        if (parse_item(json_array_get(items, j), pindex(&ep, path, "items", j), g, ind, j,
                       err) != 0)
            return -1;
    return 0;
}

/* ---- keys and indexes ---------------------------------------------------- */

static int key_entry_cmp(const void *a, const void *b)
{
    const key_entry *x = a, *y = b;
    int c = memcmp(x->key, y->key, 32);
    if (c != 0)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int code_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const code_entry *)a)->code, ((const code_entry *)b)->code);
}

/* Where a key entry came from, as a JSON path. */
static const char *key_path(const ledger_genesis *g, const key_entry *e, gpath *p)
{
    switch (e->kind) {
    case KEY_SEAL:
        snprintf(p->s, sizeof p->s, "departments[%u].seal_key", (unsigned)e->idx);
        break;
    case KEY_NODE:
        snprintf(p->s, sizeof p->s, "departments[%d].validator.node_key",
                 g->validators[e->idx]);
        break;
    default:
        snprintf(p->s, sizeof p->s, "registrars[%u].key", (unsigned)e->idx);
        break;
    }
    return p->s;
}

/* Sort every key of the file, refuse any key used twice, and build the
 * lookup indexes. */
static int build_index(ledger_genesis *g, ledger_err *err)
{
    struct ledger_genesis_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL)
        return nomem(err);
    g->index = ix;
    size_t n = g->n_departments + g->n_validators + g->n_registrars;
    ix->keys = calloc(n, sizeof *ix->keys);
    ix->industries = calloc(g->n_industries, sizeof *ix->industries);
    if (ix->keys == NULL || ix->industries == NULL)
        return nomem(err);
    size_t k = 0;
    /* enumeration order: each department's seal key then node key, then the
     * registrars, so a clash is reported at the later field of the file's
     * usual layout */
    size_t v = 0;
    for (size_t i = 0; i < g->n_departments; i++) {
        key_entry *e = &ix->keys[k];
        memcpy(e->key, g->departments[i].seal.raw, 32);
        e->kind = KEY_SEAL;
        e->idx = (uint32_t)i;
        e->order = (uint32_t)k++;
        if (g->departments[i].validator) {
            e = &ix->keys[k];
            memcpy(e->key, g->departments[i].node.raw, 32);
            e->kind = KEY_NODE;
            e->idx = (uint32_t)v++;
            e->order = (uint32_t)k++;
        }
    }
    for (size_t i = 0; i < g->n_registrars; i++) {
        key_entry *e = &ix->keys[k];
        memcpy(e->key, g->registrars[i].key.raw, 32);
        e->kind = KEY_REGISTRAR;
        e->idx = (uint32_t)i;
        e->order = (uint32_t)k++;
    }
    ix->n_keys = k;
    qsort(ix->keys, k, sizeof *ix->keys, key_entry_cmp);
    for (size_t i = 1; i < k; i++) {
        if (memcmp(ix->keys[i - 1].key, ix->keys[i].key, 32) == 0) {
            gpath a, b;
            return gfail(err, key_path(g, &ix->keys[i], &a),
                         "key already used at %s (every key must be distinct)",
                         key_path(g, &ix->keys[i - 1], &b));
        }
    }
    for (size_t i = 0; i < g->n_industries; i++) {
        ix->industries[i].code = g->industries[i].code;
        ix->industries[i].idx = (uint32_t)i;
    }
    qsort(ix->industries, g->n_industries, sizeof *ix->industries, code_entry_cmp);
    return 0;
}

static void validators_hash(ledger_genesis *g)
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

/* ---- the document -------------------------------------------------------- */

static int parse_root(json_t *root, ledger_genesis *g, ledger_err *err)
{
    static const char *const fields[] = {"chain_id", "genesis_time", "region", "params",
                                         "departments", "registrars", "industries", NULL};
    static const char *const rfields[] = {"code", "name", NULL};
    const char *s;
    char b[72];
    long long t;
    int present;
    json_t *o, *arr;
    gpath p;

    if (!json_is_object(root))
        return gfail(err, "", "the genesis document must be a JSON object");
    if (check_fields(root, "", fields, err) != 0)
        return -1;

    if (get_string(root, "", "chain_id", 1, &s, err) != 0)
        return -1;
    if (!id_matches(s, 64, 0, "._-"))
        return gfail(err, "chain_id", "%s is not a chain id (1 to 64 of A-Z a-z 0-9 . _ -)",
                     shown(s, b));
    if (dup_string(s, &g->chain_id, err) != 0)
        return -1;

    if (get_integer(root, "", "genesis_time", 1, 1, GENESIS_TIME_MAX, &t, &present,
                    err) != 0)
        return -1;
    g->genesis_time_ms = (uint64_t)t;

    if (get_object(root, "", "region", 1, &o, err) != 0 ||
        check_fields(o, "region", rfields, err) != 0 ||
        get_string(o, "region", "code", 1, &s, err) != 0)
        return -1;
    if (!ledger_region_valid(s))
        return gfail(err, "region.code",
                     "%s is not a region code (6 digits, not all zero)", shown(s, b));
    if (dup_string(s, &g->region, err) != 0 ||
        get_name(o, "region", "name", NAME_MAX_BYTES, &g->region_name, err) != 0)
        return -1;

    if (parse_params(root, &g->params, err) != 0)
        return -1;

    /* departments */
    if (get_array(root, "", "departments", 1, LEDGER_MAX_DEPARTMENTS, "department", &arr,
                  err) != 0)
        return -1;
    size_t n = json_array_size(arr);
    g->departments = calloc(n, sizeof *g->departments);
    g->validators = calloc(n, sizeof *g->validators);
    if (g->departments == NULL || g->validators == NULL)
        return nomem(err);
    g->n_departments = n;
    for (size_t i = 0; i < n; i++) {
        if (parse_department(json_array_get(arr, i), pindex(&p, "", "departments", i), g,
                             i, err) != 0)
            return -1;
        if (g->departments[i].validator)
            g->validators[g->n_validators++] = (int)i;
    }
    if (g->n_validators == 0)
        return gfail(err, "departments",
                     "no department runs a validator (at least one needs \"validator\")");

    /* registrars (may be empty: filing waits for governance then) */
    if (get_array(root, "", "registrars", 0, LEDGER_MAX_REGISTRARS, "registrar", &arr,
                  err) != 0)
        return -1;
    n = json_array_size(arr);
    if (n > 0) {
        g->registrars = calloc(n, sizeof *g->registrars);
        if (g->registrars == NULL)
            return nomem(err);
    }
    g->n_registrars = n;
    for (size_t i = 0; i < n; i++)
        if (parse_registrar(json_array_get(arr, i), pindex(&p, "", "registrars", i), g, i,
                            err) != 0)
            return -1;

    /* industries */
    if (get_array(root, "", "industries", 1, LEDGER_MAX_INDUSTRIES, "industry", &arr,
                  err) != 0)
        return -1;
    n = json_array_size(arr);
    g->industries = calloc(n, sizeof *g->industries);
    if (g->industries == NULL)
        return nomem(err);
    g->n_industries = n;
    for (size_t i = 0; i < n; i++)
        if (parse_industry(json_array_get(arr, i), pindex(&p, "", "industries", i), g, i,
                           err) != 0)
            return -1;

    if (build_index(g, err) != 0)
        return -1;
    validators_hash(g);
    return 0;
}

int ledger_genesis_parse(const char *json, size_t len, ledger_genesis **out,
                         ledger_err *err)
{
    *out = NULL;
    if (len > LEDGER_MAX_GENESIS_BYTES)
        return gfail(err, "", "genesis is %zu bytes, more than the limit of %u", len,
                     (unsigned)LEDGER_MAX_GENESIS_BYTES);
    if (json == NULL)
        return gfail(err, "", "genesis is empty");
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL)
        return gfail(err, "", "genesis is not valid JSON: line %d column %d: %s", je.line,
                     je.column, je.text);
    ledger_genesis *g = calloc(1, sizeof *g);
    if (g == NULL) {
        json_decref(root);
        return nomem(err);
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
        return nomem(err);
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
                return nomem(err);
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
    free(g->validators);
    if (g->index != NULL) {
        free(g->index->keys);
        free(g->index->industries);
        free(g->index);
    }
    free(g);
}

/* ---- lookups ------------------------------------------------------------- */

int ledger_genesis_dept_index(const ledger_genesis *g, const char *id)
{
    if (g == NULL || id == NULL)
        return -1;
    for (size_t i = 0; i < g->n_departments; i++)
        if (g->departments[i].id != NULL && strcmp(g->departments[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* The index entry of `key` when it has role `kind`, or NULL. */
static const key_entry *find_key(const ledger_genesis *g, const uint8_t key[32],
                                 enum key_kind kind)
{
    const struct ledger_genesis_index *ix = g->index;
    size_t lo = 0, hi = ix->n_keys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(ix->keys[mid].key, key, 32);
        if (c == 0)
            return ix->keys[mid].kind == kind ? &ix->keys[mid] : NULL;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int ledger_genesis_seal_dept(const ledger_genesis *g, const uint8_t key[32])
{
    if (g == NULL || key == NULL)
        return -1;
    if (g->index != NULL) {
        const key_entry *e = find_key(g, key, KEY_SEAL);
        return e ? (int)e->idx : -1;
    }
    for (size_t i = 0; i < g->n_departments; i++)
        if (memcmp(g->departments[i].seal.raw, key, 32) == 0)
            return (int)i;
    return -1;
}

const ledger_registrar *ledger_genesis_registrar(const ledger_genesis *g,
                                                 const uint8_t key[32])
{
    if (g == NULL || key == NULL)
        return NULL;
    if (g->index != NULL) {
        const key_entry *e = find_key(g, key, KEY_REGISTRAR);
        return e ? &g->registrars[e->idx] : NULL;
    }
    for (size_t i = 0; i < g->n_registrars; i++)
        if (memcmp(g->registrars[i].key.raw, key, 32) == 0)
            return &g->registrars[i];
    return NULL;
}

int ledger_genesis_validator_index(const ledger_genesis *g, const uint8_t node_key[32])
{
    if (g == NULL || node_key == NULL)
        return -1;
    if (g->index != NULL) {
        const key_entry *e = find_key(g, node_key, KEY_NODE);
        return e ? (int)e->idx : -1;
    }
    for (size_t i = 0; i < g->n_validators; i++)
        if (memcmp(g->departments[g->validators[i]].node.raw, node_key, 32) == 0)
            return (int)i;
    return -1;
}

const ledger_industry *ledger_genesis_industry(const ledger_genesis *g, const char *code)
{
    if (g == NULL || code == NULL)
        return NULL;
    if (g->index == NULL) {
        for (size_t i = 0; i < g->n_industries; i++)
            if (strcmp(g->industries[i].code, code) == 0)
                return &g->industries[i];
        return NULL;
    }
    const code_entry *ix = g->index->industries;
    size_t lo = 0, hi = g->n_industries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix[mid].code, code);
        if (c == 0)
            return &g->industries[ix[mid].idx];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
