#include "rpc_methods.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/eventlog.h"
#include "ledger/gov.h"
#include "ledger/hex.h"
#include "ledger/query.h"
#include "ledger/tx.h"
#include "log.h"
#include "node.h"
#include "permit.pb-c.h"
#include "rpc_json.h"
#include "rpc_gov.h"
#include "rpc_proof.h"

typedef void (*rpc_handler)(node *n, json_t *params, rpc_outcome *out);

typedef struct {
    const char *name;
    rpc_handler fn;
    const char *const *params; /* allowed param names, NULL-terminated */
} rpc_method;

void node_rpc_outcome_clear(rpc_outcome *o)
{
    json_decref(o->result);
    json_decref(o->data);
    free(o->env);
    memset(o, 0, sizeof *o);
}

void node_rpc_outcome_error(rpc_outcome *o, int code, json_t *data, const char *fmt, ...)
{
    o->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
    json_decref(o->data);
    o->data = data;
}

static json_t *tx_id_json(const uint8_t *tx_id)
{
    return tx_id ? node_json_hex(tx_id, 32) : json_null();
}

void node_rpc_outcome_ledger_error(rpc_outcome *o, const ledger_err *e, const uint8_t *tx_id)
{
    int code;
    switch (e->code) {
    case LEDGER_ERR_RULE:
        code = RPC_REJECTED;
        break;
    case LEDGER_ERR_NOTFOUND:
        code = RPC_NOT_FOUND;
        break;
    case LEDGER_ERR_DUPLICATE:
        code = RPC_DUPLICATE;
        break;
    case LEDGER_ERR_UNAUTHORIZED:
        code = RPC_UNAUTHORIZED;
        break;
    default:
        code = RPC_INTERNAL;
    }
    json_t *data = json_object();
    if (data) {
        if (e->rule)
            json_object_set_new(data, "rule", json_string(e->rule));
        if (tx_id)
            json_object_set_new(data, "tx_id", tx_id_json(tx_id));
    }
    node_rpc_outcome_error(o, code, data, "%s", e->msg);
}

/* ---- params ---- */

static int check_params(json_t *params, const char *const *allowed, rpc_outcome *out)
{
    if (params == NULL || json_is_null(params))
        return 0;
    if (!json_is_object(params)) {
        node_rpc_outcome_error(out, RPC_INVALID_PARAMS, NULL, "params must be an object (by name)");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed && allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0)
                ok = 1;
        if (!ok) {
            node_rpc_outcome_error(out, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", key),
                              "unknown param \"%.64s\"", key);
            return -1;
        }
    }
    return 0;
}

static json_t *param(json_t *params, const char *name)
{
    if (params == NULL || !json_is_object(params))
        return NULL;
    json_t *v = json_object_get(params, name);
    return v && !json_is_null(v) ? v : NULL;
}

/* A string param: 1 present, 0 absent (when optional), -1 error reported. */
static int str_param(json_t *params, const char *name, int required, size_t max,
                     const char **out, rpc_outcome *o)
{
    json_t *v = param(params, name);
    *out = NULL;
    if (v == NULL) {
        if (!required)
            return 0;
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", name),
                          "param \"%s\" is required", name);
        return -1;
    }
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", name),
                          "param \"%s\" must be a string of at most %zu bytes", name, max);
        return -1;
    }
    *out = json_string_value(v);
    return 1;
}

static int int_param(json_t *params, const char *name, int required, json_int_t lo,
                     json_int_t hi, json_int_t *out, rpc_outcome *o)
{
    json_t *v = param(params, name);
    if (v == NULL) {
        if (!required)
            return 0;
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", name),
                          "param \"%s\" is required", name);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", name),
                          "param \"%s\" must be an integer from %lld to %lld", name,
                          (long long)lo, (long long)hi);
        return -1;
    }
    *out = json_integer_value(v);
    return 1;
}

static int hash_param(json_t *params, const char *name, uint8_t out[32], rpc_outcome *o)
{
    const char *s;
    if (str_param(params, name, 1, 64, &s, o) < 0)
        return -1;
    if (ledger_hex_decode_exact(s, out, 32) != 0) {
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", name),
                          "param \"%s\" must be 64 hex digits", name);
        return -1;
    }
    return 0;
}

static void internal(rpc_outcome *o, const ledger_err *e)
{
    node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "internal error: %s", e->msg);
}

static uint64_t tip_time(node *n)
{
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    return tip.time;
}

static void set_result(rpc_outcome *o, json_t *r)
{
    if (r == NULL)
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "out of memory");
    else
        o->result = r;
}

/* ---- methods ---- */

static const char *const no_params[] = {NULL};

static void m_status(node *n, json_t *params, rpc_outcome *o)
{
    (void)params;
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    json_t *vals = json_array();
    for (size_t i = 0; vals && i < n->g->n_validators; i++) {
        const ledger_department *d = &n->g->departments[n->g->validators[i]];
        json_array_append_new(vals, json_pack("{s:s, s:o}", "department", d->id, "node_key",
                                              node_json_hex(d->node.raw, 32)));
    }
    json_t *mp = json_pack("{s:I, s:I, s:I}", "size", (json_int_t)atomic_load(&n->mp_size),
                           "bytes", (json_int_t)atomic_load(&n->mp_bytes), "max_size",
                           (json_int_t)n->cfg.mempool_max_txs);
    set_result(o, json_pack("{s:s, s:o, s:s?, s:s, s:I, s:o, s:I, s:o, s:i, s:o, s:b, s:s}",
                            "chain_id", n->g->chain_id, "node_id",
                            node_json_hex(n->key.pub, 32), "department",
                            n->dept >= 0 ? n->g->departments[n->dept].id : NULL, "role",
                            n->observer >= 0 ? "observer" : "validator", "height",
                            (json_int_t)tip.height, "block_hash", node_json_hex(tip.hash, 32),
                            "block_time", (json_int_t)tip.time, "validators", vals, "peers",
                            (int)atomic_load(&n->peers), "mempool", mp, "syncing",
                            atomic_load(&n->syncing), "version", PERMIT_VERSION));
}

static const char *const submit_params[] = {"tx", "wait", "timeout_ms", NULL};

static void m_tx_submit(node *n, json_t *params, rpc_outcome *o)
{
    const char *hex, *wait = "commit";
    json_int_t timeout = RPC_DEFAULT_TIMEOUT_MS;
    if (str_param(params, "tx", 1, 2 * LEDGER_MAX_ENVELOPE + 2, &hex, o) < 0 ||
        str_param(params, "wait", 0, 16, &wait, o) < 0 ||
        int_param(params, "timeout_ms", 0, 1, RPC_MAX_TIMEOUT_MS, &timeout, o) < 0)
        return;
    if (wait == NULL)
        wait = "commit";
    if (strcmp(wait, "commit") != 0 && strcmp(wait, "none") != 0) {
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "wait"),
                          "param \"wait\" must be \"commit\" or \"none\"");
        return;
    }
    size_t hl = strlen(hex);
    if (hl > 2 * LEDGER_MAX_ENVELOPE) {
        ledger_err e;
        ledger_fail(&e, LEDGER_ERR_RULE, "tx_too_large",
                    "envelope is %zu bytes; the limit is %d", hl / 2, LEDGER_MAX_ENVELOPE);
        node_rpc_outcome_ledger_error(o, &e, NULL);
        return;
    }
    uint8_t *env = malloc(hl / 2 + 1);
    size_t len = 0;
    if (env == NULL || ledger_hex_decode(hex, hl, env, hl / 2 + 1, &len) != 0) {
        free(env);
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "tx"),
                          "param \"tx\" must be the envelope in hex");
        return;
    }
    ledger_tx tx;
    ledger_err e;
    int dept;
    int bad = ledger_admit(n->L, env, len, node_now_ms(), 0, &tx, &dept, &e) != 0;
    int have_id = tx.env != NULL;
    if (bad) {
        node_rpc_outcome_ledger_error(o, &e, have_id ? tx.id : NULL);
        ledger_tx_release(&tx);
        free(env);
        return;
    }
    o->submit = 1;
    memcpy(o->tx_id, tx.id, 32);
    o->env = env;
    o->env_len = len;
    o->kind = tx.kind;
    o->wait_commit = strcmp(wait, "commit") == 0;
    o->timeout_ms = (uint64_t)timeout;
    ledger_tx_release(&tx);
}

static const char *const tx_get_params[] = {"tx_id", NULL};

static void m_tx_get(node *n, json_t *params, rpc_outcome *o)
{
    uint8_t id[32];
    if (hash_param(params, "tx_id", id, o) < 0)
        return;
    uint8_t *env;
    size_t len;
    uint64_t height;
    uint32_t index;
    ledger_err e;
    int r = ledger_get_tx(n->L, id, &env, &len, &height, &index, &e);
    if (r < 0)
        return internal(o, &e);
    if (r == 0) {
        node_rpc_outcome_error(o, RPC_NOT_FOUND, NULL, "no committed transaction with that id");
        return;
    }
    ledger_tx tx;
    if (ledger_tx_decode(&tx, env, len, n->g->chain_id, &e) != 0) {
        ledger_tx_release(&tx);
        free(env);
        return internal(o, &e);
    }
    ledger_header h;
    uint64_t btime = 0;
    if (ledger_get_block(n->L, height, &h, NULL, NULL, NULL, NULL, &e) == 1)
        btime = h.time;
    /* the license the transaction's event went to: for an APPLY, the id the
     * block assigned (the k-th transaction of a block made the k-th event) */
    json_t *lic = json_null();
    ledger_log_block lb;
    ledger_log_event *ev = malloc(sizeof *ev);
    size_t nev = 0;
    if (ev && ledger_log_block_get(n->L, height, &lb, &e) == 1 && lb.first + index < lb.end &&
        ledger_log_events(n->L, &lb, lb.first + index, 1, ev, &nev, &e) == 0 && nev == 1 &&
        memcmp(ev->ev.tx_id, id, 32) == 0) {
        json_decref(lic);
        lic = json_string(ev->ev.license_id);
    }
    free(ev);
    set_result(o, json_pack("{s:o, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:I}", "tx_id",
                            node_json_hex(id, 32), "height", (json_int_t)height, "index",
                            (json_int_t)index, "kind", ledger_tx_kind_name(tx.kind), "signer",
                            node_json_hex(tx.signer, 32), "signed_by",
                            node_json_signer(n->L, tx.signer, NULL), "license_id", lic, "body",
                            node_json_tx_body(&tx), "block_time", (json_int_t)btime));
    ledger_tx_release(&tx);
    free(env);
}

static const char *const block_params[] = {"height", NULL};

static void m_block_get(node *n, json_t *params, rpc_outcome *o)
{
    json_int_t height = 0;
    int have = int_param(params, "height", 0, 1, INT64_MAX, &height, o);
    if (have < 0)
        return;
    if (!have)
        height = (json_int_t)ledger_height(n->L);
    if (height == 0) {
        node_rpc_outcome_error(o, RPC_NOT_FOUND, NULL, "no block has been committed yet");
        return;
    }
    ledger_header h;
    uint8_t(*ids)[32] = NULL;
    size_t nids = 0;
    ledger_err e;
    int r = ledger_get_block(n->L, (uint64_t)height, &h, NULL, NULL, &ids, &nids, &e);
    if (r < 0)
        return internal(o, &e);
    if (r == 0) {
        node_rpc_outcome_error(o, RPC_NOT_FOUND, NULL, "no block at height %lld", (long long)height);
        return;
    }
    json_t *j = node_json_header(&h);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < nids; i++)
        json_array_append_new(arr, node_json_hex(ids[i], 32));
    free(ids);
    ledger_commit c;
    r = ledger_get_commit(n->L, (uint64_t)height, &c, &e);
    if (j == NULL || arr == NULL || r < 0) {
        json_decref(j);
        json_decref(arr);
        if (r < 0)
            return internal(o, &e);
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "out of memory");
        return;
    }
    json_object_set_new(j, "tx_ids", arr);
    json_object_set_new(j, "commit", node_json_commit(r == 1 ? &c : NULL));
    set_result(o, j);
}

static const char *const id_params[] = {"id", NULL};

static int license_id_param(json_t *params, const char **id, rpc_outcome *o)
{
    return str_param(params, "id", 1, LEDGER_MAX_LICENSE_ID, id, o) < 0 ? -1 : 0;
}

int node_rpc_license_id_param(json_t *params, const char **id, rpc_outcome *o)
{
    return license_id_param(params, id, o);
}

int node_rpc_int_param(json_t *params, const char *name, int required, json_int_t lo,
                       json_int_t hi, json_int_t *out, rpc_outcome *o)
{
    return int_param(params, name, required, lo, hi, out, o);
}

static void not_found_license(rpc_outcome *o, const char *id)
{
    node_rpc_outcome_error(o, RPC_NOT_FOUND, json_pack("{s:s}", "rule", "license_not_found"),
                      "license %s does not exist", id);
}

static void m_license_get(node *n, json_t *params, rpc_outcome *o)
{
    const char *id;
    if (license_id_param(params, &id, o) < 0)
        return;
    ledger_license l;
    ledger_err e;
    int r = ledger_get_license(n->L, id, &l, &e);
    if (r < 0)
        return internal(o, &e);
    if (r == 0)
        return not_found_license(o, id);
    set_result(o, node_json_license(&l, tip_time(n)));
    ledger_license_clear(&l);
}

static void m_license_history(node *n, json_t *params, rpc_outcome *o)
{
    const char *id;
    if (license_id_param(params, &id, o) < 0)
        return;
    json_t *out = NULL;
    ledger_err e;
    int r = node_json_history(n->L, id, &out, &e);
    if (r < 0)
        return internal(o, &e);
    if (r == 0)
        return not_found_license(o, id);
    o->result = out;
}

static void run_query(node *n, ledger_query *q, json_t *params, rpc_outcome *o)
{
    json_int_t limit = LEDGER_QUERY_DEFAULT_LIMIT;
    if (int_param(params, "limit", 0, 1, LEDGER_QUERY_MAX_LIMIT, &limit, o) < 0 ||
        str_param(params, "cursor", 0, LEDGER_CURSOR_MAX, &q->cursor, o) < 0)
        return;
    q->limit = (size_t)limit;
    q->now = tip_time(n);
    ledger_query_result res;
    ledger_err e;
    if (ledger_query_run(n->L, q, &res, &e) != 0) {
        if (e.code == LEDGER_ERR_INVALID)
            node_rpc_outcome_error(o, RPC_INVALID_PARAMS, NULL, "%s", e.msg);
        else
            internal(o, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < res.n; i++) {
        const ledger_license *l = &res.items[i];
        json_t *one = node_json_license_summary(l, q->now);
        /* what a department's desk wants to see first: how long it has waited */
        if (one && q->kind == LEDGER_Q_PENDING)
            json_object_set_new(one, "waiting_ms",
                                json_integer((json_int_t)(q->now > l->applied_at
                                                              ? q->now - l->applied_at
                                                              : 0)));
        json_array_append_new(arr, one);
    }
    set_result(o, json_pack("{s:o, s:o}", "licenses", arr ? arr : json_null(), "next_cursor",
                            res.next_cursor[0] ? json_string(res.next_cursor) : json_null()));
    ledger_query_result_free(&res);
}

static const char *const search_params[] = {"uscc",     "name",  "address", "industry",
                                             "status",   "limit", "cursor",  NULL};

static void m_license_search(node *n, json_t *params, rpc_outcome *o)
{
    ledger_query q = {.kind = LEDGER_Q_SEARCH};
    const char *status = NULL;
    if (str_param(params, "uscc", 0, 18, &q.uscc, o) < 0 ||
        str_param(params, "name", 0, LEDGER_MAX_NAME, &q.name, o) < 0 ||
        str_param(params, "address", 0, LEDGER_MAX_ADDRESS_TEXT, &q.address, o) < 0 ||
        str_param(params, "industry", 0, 64, &q.industry, o) < 0 ||
        str_param(params, "status", 0, 32, &status, o) < 0)
        return;
    if (q.uscc && strlen(q.uscc) != 18) {
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "uscc"),
                          "param \"uscc\" must be 18 characters");
        return;
    }
    if (status) {
        q.status = ledger_status_parse(status);
        if (q.status < 0) {
            node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "status"),
                              "unknown status \"%.32s\"", status);
            return;
        }
    }
    run_query(n, &q, params, o);
}

static const char *const pending_params[] = {"department", "limit", "cursor", NULL};

static void m_license_pending(node *n, json_t *params, rpc_outcome *o)
{
    ledger_query q = {.kind = LEDGER_Q_PENDING};
    if (str_param(params, "department", 1, 64, &q.department, o) < 0)
        return;
    /* a department governance added has a desk too */
    ledger_gov *gv = ledger_gov_acquire(n->L);
    int known = ledger_genesis_dept_index(gv ? gv->m : n->g, q.department) >= 0;
    if (gv)
        ledger_gov_release(gv);
    if (!known) {
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "department"),
                          "unknown department \"%.64s\"", q.department);
        return;
    }
    run_query(n, &q, params, o);
}

static const char *const expiring_params[] = {"within_days", "limit", "cursor", NULL};

static void m_license_expiring(node *n, json_t *params, rpc_outcome *o)
{
    json_int_t days;
    if (int_param(params, "within_days", 1, 0, 3650, &days, o) < 0)
        return;
    ledger_query q = {.kind = LEDGER_Q_EXPIRING, .within_ms = (uint64_t)days * 86400000ULL};
    run_query(n, &q, params, o);
}

static const char *const page_params[] = {"limit", "cursor", NULL};

static void m_license_overdue(node *n, json_t *params, rpc_outcome *o)
{
    ledger_query q = {.kind = LEDGER_Q_OVERDUE};
    run_query(n, &q, params, o);
}

/* node.backup {dir}: a consistent copy of the database in dir, on the node's
 * machine (docs/operations.md, "Backup and restore"). */
static const char *const backup_params[] = {"dir", NULL};

static void m_backup(node *n, json_t *params, rpc_outcome *o)
{
    const char *dir;
    if (str_param(params, "dir", 1, 4000, &dir, o) < 0)
        return;
    if (n->cfg.home[0] == '\0') {
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "this node has no home to back up");
        return;
    }
    if (dir[0] != '/') {
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "dir"),
                               "dir must be an absolute path on the node's machine");
        return;
    }
    if (access(dir, F_OK) == 0) {
        node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "dir"),
                               "%.200s exists already: a backup goes into a new folder", dir);
        return;
    }
    uint64_t h, t0 = node_now_ms();
    ledger_err err;
    if (ledger_backup(n->L, dir, &h, &err) != 0) {
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "backup failed: %s", err.msg);
        return;
    }
    LOG_INFO("backup: the database at height %llu copied into %s", (unsigned long long)h, dir);
    set_result(o, json_pack("{s:s, s:I, s:s, s:I}", "dir", dir, "height", (json_int_t)h,
                            "chain_id", n->g->chain_id, "ms", (json_int_t)(node_now_ms() - t0)));
}

int node_rpc_method_needs_submit(int m)
{
    static const char *const writes[] = {"tx.submit", "node.backup"};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        if (m >= 0 && strcmp(node_rpc_method_name(m), writes[i]) == 0)
            return 1;
    return 0;
}

static const rpc_method methods[] = {
    {"status", m_status, no_params},
    {"tx.submit", m_tx_submit, submit_params},
    {"tx.get", m_tx_get, tx_get_params},
    {"block.get", m_block_get, block_params},
    {"license.get", m_license_get, id_params},
    {"license.history", m_license_history, id_params},
    {"license.search", m_license_search, search_params},
    {"license.pending", m_license_pending, pending_params},
    {"license.expiring", m_license_expiring, expiring_params},
    {"license.overdue", m_license_overdue, page_params},
    {"license.proof", node_rpc_license_proof, node_rpc_proof_params},
    {"industries.list", node_rpc_industries, no_params},
    {"departments.list", node_rpc_departments, no_params},
    {"registrars.list", node_rpc_registrars, no_params},
    {"observers.list", node_rpc_observers, no_params},
    {"gov.list", node_rpc_gov_list, node_rpc_gov_list_params},
    {"gov.get", node_rpc_gov_get, node_rpc_gov_get_params},
    {"chain.membership", node_rpc_membership, node_rpc_membership_params},
    {"node.backup", m_backup, backup_params},
};
#define N_METHODS ((int)(sizeof methods / sizeof methods[0]))
_Static_assert(N_METHODS < NODE_RPC_MAX_METHODS, "metrics table too small");

int node_rpc_method_count(void)
{
    return N_METHODS + 1; /* the last index counts unknown methods */
}

const char *node_rpc_method_name(int i)
{
    return i >= 0 && i < N_METHODS ? methods[i].name : "unknown";
}

int node_rpc_method_index(const char *name)
{
    for (int i = 0; i < N_METHODS; i++)
        if (strcmp(methods[i].name, name) == 0)
            return i;
    return -1;
}

void node_rpc_call(node *n, int m, json_t *params, rpc_outcome *out)
{
    memset(out, 0, sizeof *out);
    if (m < 0 || m >= N_METHODS) {
        node_rpc_outcome_error(out, RPC_UNKNOWN_METHOD, NULL, "unknown method");
        return;
    }
    if (check_params(params, methods[m].params, out) != 0)
        return;
    methods[m].fn(n, params, out);
}
