/* node/rpc_json.c: the JSON shapes of ledger objects in RPC answers
 * (rpc_json.h). */
#include "rpc_json.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/gov.h"
#include "ledger/hex.h"
#include "ledger/text.h"
#include "permit.pb-c.h"

json_t *node_json_hex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        return NULL;
    ledger_hex_encode(p, n, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* Set a member, stealing the reference; a NULL value makes the object
 * incomplete, which callers detect through the `ok` flag. */
static void put(json_t *o, const char *k, json_t *v, int *ok)
{
    if (v == NULL || json_object_set_new(o, k, v) != 0)
        *ok = 0;
}

static json_t *finish(json_t *o, int ok)
{
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *ms(uint64_t v)
{
    return v ? json_integer((json_int_t)v) : json_null();
}

json_t *node_json_license_summary(const ledger_license *l, uint64_t now)
{
    json_t *o = json_object();
    int ok = o != NULL;
    if (!ok)
        return NULL;
    put(o, "id", json_string(l->id), &ok);
    put(o, "status", json_string(ledger_status_name(ledger_license_status_at(l, now))), &ok);
    put(o, "uscc", json_string(l->uscc), &ok);
    put(o, "name", json_string(l->name), &ok);
    put(o, "industry", json_string(l->industry), &ok);
    put(o, "applied_at", ms(l->applied_at), &ok);
    put(o, "issued_at", ms(l->issued_at), &ok);
    put(o, "expires_at", ms(l->expires_at), &ok);
    return finish(o, ok);
}

json_t *node_json_license(const ledger_license *l, uint64_t now)
{
    json_t *o = node_json_license_summary(l, now);
    if (o == NULL)
        return NULL;
    int ok = 1;
    put(o, "stored_status", json_string(ledger_status_name(l->status)), &ok);
    put(o, "legal_rep", json_string(l->legal_rep), &ok);
    put(o, "scope", json_string(l->scope), &ok);
    json_t *addrs = json_array();
    for (size_t i = 0; addrs && i < l->n_addresses; i++) {
        const ledger_address *a = &l->addresses[i];
        json_t *ja = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)a->id, "division",
                               a->division, "text", a->text, "primary", a->primary);
        if (ja == NULL || json_array_append_new(addrs, ja) != 0)
            ok = 0;
    }
    put(o, "addresses", addrs, &ok);
    json_t *items = json_array();
    for (size_t i = 0; items && i < l->n_items; i++) {
        const ledger_item *it = &l->items[i];
        json_t *ji = json_pack("{s:I, s:s, s:s, s:s, s:b, s:o}", "index", (json_int_t)i,
                               "permit", it->permit, "department", it->department, "decision",
                               ledger_decision_name(it->decision), "verified", it->verified,
                               "decided_at", ms(it->decided_at));
        /* 秒批: decided by the ledger's rule, no department signed */
        if (ji != NULL && it->decision == DEC_INSTANT)
            json_object_set_new(ji, "rule", json_string("instant"));
        if (ji == NULL || json_array_append_new(items, ji) != 0)
            ok = 0;
    }
    put(o, "items", items, &ok);
    put(o, "commitment", json_boolean(l->commitment), &ok);
    put(o, "verify_deadline", ms(l->verify_deadline), &ok);
    put(o, "applied_at", ms(l->applied_at), &ok);
    json_t *docs = json_array();
    for (size_t i = 0; docs && i < l->n_documents; i++)
        if (json_array_append_new(docs, node_json_hex(l->documents[i], 32)) != 0)
            ok = 0;
    put(o, "documents", docs, &ok);
    put(o, "suspended_by", str_or_null(l->suspended_by), &ok);
    put(o, "holder_key", l->has_holder ? node_json_hex(l->holder_key, 32) : json_null(), &ok);
    static const uint8_t zero[32];
    put(o, "pledge_sha256",
        l->has_holder && memcmp(l->pledge_sha256, zero, 32) != 0
            ? node_json_hex(l->pledge_sha256, 32) : json_null(), &ok);
    put(o, "seq", json_integer(l->seq), &ok);
    put(o, "head", node_json_hex(l->head, 32), &ok);
    return finish(o, ok);
}

static json_t *address_json(const Permit__Address *a)
{
    if (a == NULL)
        return json_null();
    return json_pack("{s:s, s:s}", "division", a->division, "text", a->text);
}

json_t *node_json_tx_body(const ledger_tx *tx)
{
    const Permit__TxBody *b = tx->body;
    json_t *o = json_object();
    int ok = o != NULL;
    if (!ok)
        return NULL;
    put(o, "kind", json_string(ledger_tx_kind_name(tx->kind)), &ok);
    put(o, "timestamp_ms", json_integer((json_int_t)b->timestamp_ms), &ok);
    put(o, "nonce", node_json_hex(b->nonce.data, b->nonce.len), &ok);
    put(o, "license_id", str_or_null(b->license_id), &ok);
    switch (b->payload_case) {
    case PERMIT__TX_BODY__PAYLOAD_APPLY: {
        const Permit__Apply *a = b->apply;
        put(o, "uscc", json_string(a->uscc), &ok);
        put(o, "name", json_string(a->name), &ok);
        put(o, "legal_rep", json_string(a->legal_rep), &ok);
        put(o, "industry", json_string(a->industry), &ok);
        put(o, "scope", json_string(a->scope), &ok);
        put(o, "address", address_json(a->address), &ok);
        put(o, "commitment", json_boolean(a->commitment), &ok);
        json_t *docs = json_array();
        for (size_t i = 0; docs && i < a->n_documents; i++)
            if (json_array_append_new(docs, node_json_hex(a->documents[i].data,
                                                          a->documents[i].len)) != 0)
                ok = 0;
        put(o, "documents", docs, &ok);
        if (a->holder_key.len)
            put(o, "holder_key", node_json_hex(a->holder_key.data, a->holder_key.len), &ok);
        if (a->pledge_sha256.len)
            put(o, "pledge_sha256", node_json_hex(a->pledge_sha256.data, a->pledge_sha256.len),
                &ok);
        if (a->pledge_sig.len)
            put(o, "pledge_sig", node_json_hex(a->pledge_sig.data, a->pledge_sig.len), &ok);
        break;
    }
    case PERMIT__TX_BODY__PAYLOAD_HOLDER_KEY:
        put(o, "holder_key", node_json_hex(b->holder_key->key.data, b->holder_key->key.len),
            &ok);
        put(o, "holder_sig", node_json_hex(b->holder_key->sig.data, b->holder_key->sig.len),
            &ok);
        break;
    case PERMIT__TX_BODY__PAYLOAD_DECISION: {
        json_t *items = json_array();
        for (size_t i = 0; items && i < b->decision->n_items; i++)
            if (json_array_append_new(items, json_integer(b->decision->items[i])) != 0)
                ok = 0;
        put(o, "items", items, &ok);
        put(o, "reason", str_or_null(b->decision->reason), &ok);
        const Permit__Evidence *ev = b->decision->evidence;
        if (ev != NULL)
            put(o, "evidence",
                json_pack("{s:s, s:o, s:s}", "method", ev->method, "sha256",
                          node_json_hex(ev->sha256.data, ev->sha256.len), "note", ev->note),
                &ok);
        break;
    }
    case PERMIT__TX_BODY__PAYLOAD_ADD_ADDRESS:
        put(o, "address", address_json(b->add_address->address), &ok);
        break;
    case PERMIT__TX_BODY__PAYLOAD_REMOVE_ADDRESS:
        put(o, "address_id", json_integer(b->remove_address->address_id), &ok);
        break;
    case PERMIT__TX_BODY__PAYLOAD_AMEND: {
        const Permit__Amend *a = b->amend;
        if (a->name_opt_case == PERMIT__AMEND__NAME_OPT_NAME)
            put(o, "name", json_string(a->name), &ok);
        if (a->legal_rep_opt_case == PERMIT__AMEND__LEGAL_REP_OPT_LEGAL_REP)
            put(o, "legal_rep", json_string(a->legal_rep), &ok);
        if (a->scope_opt_case == PERMIT__AMEND__SCOPE_OPT_SCOPE)
            put(o, "scope", json_string(a->scope), &ok);
        break;
    }
    case PERMIT__TX_BODY__PAYLOAD_REASON:
        put(o, "reason", str_or_null(b->reason->reason), &ok);
        break;
    case PERMIT__TX_BODY__PAYLOAD_GOV_PROPOSE: {
        const Permit__GovChange *c = b->gov_propose->change;
        put(o, "expires_at", json_integer((json_int_t)b->gov_propose->expires_at), &ok);
        if (c == NULL)
            break;
        json_t *ch = json_object();
        if (ch != NULL) {
            put(ch, "type", json_string(ledger_gov_change_name(c->type)), &ok);
            if (c->name[0])
                put(ch, "name", json_string(c->name), &ok);
            if (c->department[0])
                put(ch, "department", json_string(c->department), &ok);
            if (c->key.len)
                put(ch, "key", node_json_hex(c->key.data, c->key.len), &ok);
            if (c->node_key.len)
                put(ch, "node_key", node_json_hex(c->node_key.data, c->node_key.len), &ok);
            if (c->code[0])
                put(ch, "code", json_string(c->code), &ok);
            if (c->industry)
                put(ch, "industry", json_string(c->industry->code), &ok);
            if (c->value)
                put(ch, "value", json_integer((json_int_t)c->value), &ok);
        }
        put(o, "change", ch, &ok);
        break;
    }
    case PERMIT__TX_BODY__PAYLOAD_GOV_APPROVE:
        put(o, "proposal_id", json_integer(b->gov_approve->proposal_id), &ok);
        break;
    default:
        break;
    }
    return finish(o, ok);
}

json_t *node_json_header(const ledger_header *h)
{
    uint8_t hash[32];
    ledger_header_hash(h, hash);
    json_t *o = json_object();
    int ok = o != NULL;
    if (!ok)
        return NULL;
    put(o, "height", json_integer((json_int_t)h->height), &ok);
    put(o, "hash", node_json_hex(hash, 32), &ok);
    put(o, "chain_id", json_string(h->chain_id), &ok);
    put(o, "time", json_integer((json_int_t)h->time), &ok);
    put(o, "prev_hash", node_json_hex(h->prev_hash, 32), &ok);
    put(o, "tx_root", node_json_hex(h->tx_root, 32), &ok);
    put(o, "state_root", node_json_hex(h->state_root, 32), &ok);
    put(o, "log_size", json_integer((json_int_t)h->log_size), &ok);
    put(o, "log_root", node_json_hex(h->log_root, 32), &ok);
    put(o, "validators_hash", node_json_hex(h->validators_hash, 32), &ok);
    put(o, "proposer", node_json_hex(h->proposer, 32), &ok);
    put(o, "last_commit_hash", node_json_hex(h->last_commit_hash, 32), &ok);
    return finish(o, ok);
}

json_t *node_json_commit(const ledger_commit *c)
{
    if (c == NULL)
        return json_null();
    json_t *o = json_object();
    int ok = o != NULL;
    if (!ok)
        return NULL;
    put(o, "height", json_integer((json_int_t)c->height), &ok);
    put(o, "round", json_integer(c->round), &ok);
    put(o, "block_hash", node_json_hex(c->block_hash, 32), &ok);
    json_t *sigs = json_array();
    for (size_t i = 0; sigs && i < c->n_sigs; i++) {
        json_t *s = json_pack("{s:I, s:o}", "validator", (json_int_t)c->sigs[i].validator, "sig",
                              node_json_hex(c->sigs[i].sig, 64));
        if (s == NULL || json_array_append_new(sigs, s) != 0)
            ok = 0;
    }
    put(o, "signatures", sigs, &ok);
    return finish(o, ok);
}

/* The values AMEND can change, tracked through a history. */
typedef struct {
    char *name, *legal_rep, *scope;
} amendable;

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = strdup(v);
}

/* Who a key is in the membership: {"role", "id"?, "name"}; null when
 * neither the membership in force nor genesis knows it (a key rotated in
 * and out by governance since). */
static json_t *signer_in(const ledger_genesis *m, const uint8_t key[32], const char *when)
{
    int d = ledger_genesis_seal_dept(m, key);
    if (d >= 0)
        return json_pack("{s:s, s:s, s:s, s:s}", "role", "department", "id",
                         m->departments[d].id, "name", m->departments[d].name, "as_of", when);
    const ledger_registrar *r = ledger_genesis_registrar(m, key);
    if (r != NULL)
        return json_pack("{s:s, s:s, s:s, s:s}", "role", "registrar", "department",
                         r->department, "name", r->name, "as_of", when);
    return NULL;
}

json_t *node_json_signer(ledger *L, const uint8_t key[32], const uint8_t *holder_key)
{
    json_t *j = NULL;
    if (holder_key != NULL && memcmp(holder_key, key, 32) == 0)
        return json_pack("{s:s, s:s, s:s}", "role", "holder", "name", "license holder",
                         "as_of", "license");
    ledger_gov *gv = ledger_gov_acquire(L);
    if (gv != NULL) {
        j = signer_in(gv->m, key, "in_force");
        ledger_gov_release(gv);
    }
    if (j == NULL)
        j = signer_in(ledger_genesis_of(L), key, "genesis");
    return j ? j : json_null();
}

int node_json_history(ledger *L, const char *id, json_t **out, ledger_err *err)
{
    ledger_event_rec *evs = NULL;
    size_t n = 0;
    int r = ledger_get_events(L, id, &evs, &n, err);
    if (r <= 0)
        return r;
    const ledger_genesis *g = ledger_genesis_of(L);
    /* the holder's key as it stands names the holder's own filings */
    uint8_t hk[32];
    const uint8_t *holder = NULL;
    ledger_license lic;
    ledger_err lerr;
    if (ledger_get_license(L, id, &lic, &lerr) == 1) {
        if (lic.has_holder) {
            memcpy(hk, lic.holder_key, 32);
            holder = hk;
        }
        ledger_license_clear(&lic);
    }
    json_t *arr = json_array();
    amendable cur = {0};
    int rc = arr ? 1 : ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; rc == 1 && i < n; i++) {
        const ledger_event *e = &evs[i].ev;
        uint8_t *env = NULL;
        size_t elen = 0;
        ledger_tx tx;
        memset(&tx, 0, sizeof tx);
        int t = ledger_get_tx(L, e->tx_id, &env, &elen, NULL, NULL, err);
        if (t <= 0 || ledger_tx_decode(&tx, env, elen, g->chain_id, err) != 0) {
            if (t == 0)
                ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                            "event %u of %s names a transaction that is not stored", e->seq, id);
            ledger_tx_release(&tx);
            free(env);
            rc = -1;
            break;
        }
        json_t *details = node_json_tx_body(&tx);
        if (details) {
            json_object_del(details, "license_id");
            json_object_del(details, "kind");
            json_object_del(details, "nonce");
        }
        const Permit__TxBody *b = tx.body;
        if (tx.kind == PERMIT__TX_KIND__APPLY) {
            set_str(&cur.name, b->apply->name);
            set_str(&cur.legal_rep, b->apply->legal_rep);
            set_str(&cur.scope, b->apply->scope);
        } else if (tx.kind == PERMIT__TX_KIND__AMEND && details) {
            const Permit__Amend *a = b->amend;
            json_t *before = json_object();
            if (a->name_opt_case == PERMIT__AMEND__NAME_OPT_NAME) {
                json_object_set_new(before, "name", str_or_null(cur.name));
                set_str(&cur.name, a->name);
            }
            if (a->legal_rep_opt_case == PERMIT__AMEND__LEGAL_REP_OPT_LEGAL_REP) {
                json_object_set_new(before, "legal_rep", str_or_null(cur.legal_rep));
                set_str(&cur.legal_rep, a->legal_rep);
            }
            if (a->scope_opt_case == PERMIT__AMEND__SCOPE_OPT_SCOPE) {
                json_object_set_new(before, "scope", cur.scope ? json_string(cur.scope)
                                                               : json_null());
                set_str(&cur.scope, a->scope);
            }
            json_object_set_new(details, "before", before);
        }
        int ok = 1;
        json_t *o = json_object();
        if (o == NULL)
            ok = 0;
        else {
            put(o, "seq", json_integer(e->seq), &ok);
            put(o, "kind", json_string(ledger_tx_kind_name(e->kind)), &ok);
            if (e->kind == LEDGER_EVENT_APPLY_INSTANT) /* the event names the rule */
                put(o, "rule", json_string("instant"), &ok);
            put(o, "tx_id", node_json_hex(e->tx_id, 32), &ok);
            put(o, "height", json_integer((json_int_t)e->height), &ok);
            put(o, "time", json_integer((json_int_t)e->time), &ok);
            put(o, "signer", node_json_hex(tx.signer, 32), &ok);
            put(o, "signed_by", node_json_signer(L, tx.signer, holder), &ok);
            put(o, "hash", node_json_hex(evs[i].hash, 32), &ok);
            put(o, "prev", node_json_hex(e->prev, 32), &ok);
            put(o, "log_index", json_integer((json_int_t)evs[i].log_index), &ok);
            put(o, "details", details, &ok);
            details = NULL;
        }
        json_decref(details);
        if (!ok || json_array_append_new(arr, o) != 0)
            rc = ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        ledger_tx_release(&tx);
        free(env);
    }
    free(cur.name);
    free(cur.legal_rep);
    free(cur.scope);
    free(evs);
    if (rc != 1) {
        json_decref(arr);
        return -1;
    }
    *out = json_pack("{s:s, s:o}", "id", id, "events", arr);
    if (*out == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    return 1;
}

static json_t *duration(uint64_t v)
{
    char buf[24];
    ledger_duration_format(v, buf, sizeof buf);
    return json_string(buf);
}

json_t *node_json_industries(const ledger_genesis *g)
{
    json_t *arr = json_array();
    int ok = arr != NULL;
    for (size_t i = 0; ok && i < g->n_industries; i++) {
        const ledger_industry *ind = &g->industries[i];
        json_t *o = json_object();
        if (o == NULL) {
            ok = 0;
            break;
        }
        put(o, "code", json_string(ind->code), &ok);
        put(o, "name", json_string(ind->name), &ok);
        json_t *items = json_array();
        for (size_t k = 0; items && k < ind->n_items; k++)
            if (json_array_append_new(items, json_pack("{s:s, s:s, s:b}", "permit",
                                                       ind->items[k].permit, "department",
                                                       ind->items[k].department, "instant",
                                                       ind->items[k].instant)) != 0)
                ok = 0;
        put(o, "items", items, &ok);
        put(o, "validity", duration(ind->validity_ms), &ok);
        put(o, "commitment_allowed", json_boolean(ind->commitment_allowed), &ok);
        put(o, "verify_within",
            ind->commitment_allowed ? duration(ind->verify_within_ms) : json_null(), &ok);
        put(o, "renew_window", duration(ind->renew_window_ms), &ok);
        put(o, "grace", duration(ind->grace_ms), &ok);
        if (json_array_append_new(arr, o) != 0)
            ok = 0;
    }
    return finish(arr, ok);
}

json_t *node_json_departments(const ledger_genesis *g)
{
    json_t *arr = json_array();
    int ok = arr != NULL;
    for (size_t i = 0; ok && i < g->n_departments; i++) {
        const ledger_department *d = &g->departments[i];
        json_t *o = json_object();
        if (o == NULL) {
            ok = 0;
            break;
        }
        put(o, "id", json_string(d->id), &ok);
        put(o, "name", json_string(d->name), &ok);
        put(o, "seal_key", node_json_hex(d->seal.raw, 32), &ok);
        put(o, "validator", json_boolean(d->validator), &ok);
        put(o, "node_key", d->validator ? node_json_hex(d->node.raw, 32) : json_null(), &ok);
        if (d->validator && d->p2p)
            put(o, "p2p", json_string(d->p2p), &ok);
        if (json_array_append_new(arr, o) != 0)
            ok = 0;
    }
    return finish(arr, ok);
}
