/* node/rpc_gov.c: the membership and governance methods (rpc_gov.h) and
 * the JSON shapes of proposals and changes. */
#include "rpc_gov.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/gov.h"
#include "ledger/hex.h"
#include "node.h"
#include "rpc_json.h"

const char *const node_rpc_gov_list_params[] = {"status", "limit", "cursor", NULL};
const char *const node_rpc_gov_get_params[] = {"id", NULL};
const char *const node_rpc_membership_params[] = {"height", NULL};

#define GOV_LIST_DEFAULT 100
#define GOV_LIST_MAX 1000

static void set_result(rpc_outcome *o, json_t *r)
{
    if (r == NULL)
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "out of memory");
    else
        o->result = r;
}

static json_t *registrars_json(const ledger_gov *gv)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < gv->m->n_registrars; i++) {
        const ledger_registrar *r = &gv->m->registrars[i];
        if (json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:b}", "name", r->name, "key",
                                                 node_json_hex(r->key.raw, 32), "department",
                                                 r->department, "active", 1)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *observers_json(const ledger_gov *gv)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < gv->n_observers; i++)
        if (json_array_append_new(arr, json_pack("{s:s, s:o}", "name", gv->observers[i].name,
                                                 "node_key",
                                                 node_json_hex(gv->observers[i].node.raw, 32))) !=
            0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static json_t *params_json(const ledger_params *p)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "max_addresses",
                     (json_int_t)p->max_addresses, "tx_window_ms", (json_int_t)p->tx_window_ms,
                     "max_block_txs", (json_int_t)p->max_block_txs, "max_block_bytes",
                     (json_int_t)p->max_block_bytes, "block_interval_ms",
                     (json_int_t)p->block_interval_ms, "heartbeat_ms",
                     (json_int_t)p->heartbeat_ms, "gov_window_ms", (json_int_t)p->gov_window_ms,
                     "instant_ban_ms", (json_int_t)p->instant_ban_ms);
}

static json_t *change_json(const ledger_gov_change *c)
{
    json_t *o = json_pack("{s:s}", "type", ledger_gov_change_name(c->type));
    if (o == NULL)
        return NULL;
    if (c->name && c->name[0])
        json_object_set_new(o, "name", json_string(c->name));
    if (c->department && c->department[0])
        json_object_set_new(o, "department", json_string(c->department));
    if (c->has_key)
        json_object_set_new(o, "key", node_json_hex(c->key, 32));
    if (c->has_node)
        json_object_set_new(o, "node_key", node_json_hex(c->node_key, 32));
    if (c->p2p && c->p2p[0])
        json_object_set_new(o, "p2p", json_string(c->p2p));
    if (c->rpc && c->rpc[0])
        json_object_set_new(o, "rpc", json_string(c->rpc));
    if (c->code && c->code[0])
        json_object_set_new(o, "code", json_string(c->code));
    if (c->type == LEDGER_GOV_SET_PARAM)
        json_object_set_new(o, "value", json_integer((json_int_t)c->value));
    if (c->has_industry) {
        ledger_genesis one;
        memset(&one, 0, sizeof one);
        one.n_industries = 1;
        one.industries = (ledger_industry *)&c->industry;
        json_t *arr = node_json_industries(&one);
        json_t *ind = arr ? json_array_get(arr, 0) : NULL;
        if (ind)
            json_object_set(o, "industry", ind);
        json_decref(arr);
    }
    return o;
}

static const char *status_name(const ledger_gov_proposal *p, uint64_t now)
{
    if (p->status == LEDGER_GOV_EXECUTED)
        return "executed";
    if (p->status == LEDGER_GOV_EXPIRED || p->expires_at <= now)
        return "expired";
    return "open";
}

static json_t *proposal_json(const ledger_gov_proposal *p, const ledger_gov *gv, uint64_t now)
{
    json_t *appr = json_array();
    for (size_t i = 0; appr && i < p->n_approvals; i++)
        json_array_append_new(appr, json_string(p->approvals[i]));
    json_t *o = json_pack("{s:I, s:o, s:s, s:o, s:I, s:I, s:I, s:s, s:I}", "id",
                          (json_int_t)p->id, "change", change_json(&p->ch), "proposer",
                          p->proposer, "approvals", appr, "approved",
                          (json_int_t)ledger_gov_approvals(gv, p), "needed",
                          (json_int_t)ledger_gov_needed(gv), "expires_at",
                          (json_int_t)p->expires_at, "status", status_name(p, now), "height",
                          (json_int_t)p->height);
    if (o && p->status != LEDGER_GOV_OPEN)
        json_object_set_new(o, "closed_height", json_integer((json_int_t)p->closed_height));
    return o;
}

void node_rpc_industries(node *n, json_t *params, rpc_outcome *o)
{
    (void)params;
    ledger_gov *gv = ledger_gov_acquire(n->L);
    set_result(o, json_pack("{s:o}", "industries", node_json_industries(gv->m)));
    ledger_gov_release(gv);
}

void node_rpc_departments(node *n, json_t *params, rpc_outcome *o)
{
    (void)params;
    ledger_gov *gv = ledger_gov_acquire(n->L);
    set_result(o, json_pack("{s:o}", "departments", node_json_departments(gv->m)));
    ledger_gov_release(gv);
}

void node_rpc_registrars(node *n, json_t *params, rpc_outcome *o)
{
    (void)params;
    ledger_gov *gv = ledger_gov_acquire(n->L);
    set_result(o, json_pack("{s:o}", "registrars", registrars_json(gv)));
    ledger_gov_release(gv);
}

void node_rpc_observers(node *n, json_t *params, rpc_outcome *o)
{
    (void)params;
    ledger_gov *gv = ledger_gov_acquire(n->L);
    set_result(o, json_pack("{s:o}", "observers", observers_json(gv)));
    ledger_gov_release(gv);
}

static uint64_t tip_time(node *n)
{
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    return tip.time;
}

static int proposal_id_param(json_t *params, const char *name, int required, uint32_t *id,
                             rpc_outcome *o)
{
    json_int_t v = 0;
    int r = node_rpc_int_param(params, name, required, 1, UINT32_MAX, &v, o);
    *id = (uint32_t)v;
    return r;
}

void node_rpc_gov_get(node *n, json_t *params, rpc_outcome *o)
{
    uint32_t id;
    if (proposal_id_param(params, "id", 1, &id, o) < 0)
        return;
    ledger_gov_proposal p;
    ledger_err e;
    int r = ledger_gov_get_proposal(n->L, id, &p, &e);
    if (r < 0) {
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "internal error: %s", e.msg);
        return;
    }
    if (r == 0) {
        node_rpc_outcome_error(o, RPC_NOT_FOUND, json_pack("{s:s}", "rule",
                                                           "gov_proposal_not_found"),
                               "there is no proposal %u", (unsigned)id);
        return;
    }
    ledger_gov *gv = ledger_gov_acquire(n->L);
    set_result(o, proposal_json(&p, gv, tip_time(n)));
    ledger_gov_release(gv);
    ledger_gov_proposal_clear(&p);
}

void node_rpc_gov_list(node *n, json_t *params, rpc_outcome *o)
{
    json_t *js = json_object_get(params, "status");
    const char *status = NULL;
    if (js != NULL) {
        status = json_is_string(js) ? json_string_value(js) : "";
        if (strcmp(status, "open") != 0 && strcmp(status, "executed") != 0 &&
            strcmp(status, "expired") != 0) {
            node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "status"),
                                   "param \"status\" must be open, executed or expired");
            return;
        }
    }
    json_int_t limit = GOV_LIST_DEFAULT;
    if (node_rpc_int_param(params, "limit", 0, 1, GOV_LIST_MAX, &limit, o) < 0)
        return;
    uint32_t after = 0;
    json_t *jc = json_object_get(params, "cursor");
    if (jc != NULL) {
        const char *c = json_is_string(jc) ? json_string_value(jc) : "";
        char *end = NULL;
        unsigned long v = strtoul(c, &end, 10);
        if (c[0] < '0' || c[0] > '9' || *end != '\0' || v > UINT32_MAX || strlen(c) > 10) {
            node_rpc_outcome_error(o, RPC_INVALID_PARAMS, json_pack("{s:s}", "param", "cursor"),
                                   "param \"cursor\" must be a next_cursor of gov.list");
            return;
        }
        after = (uint32_t)v;
    }
    ledger_gov *gv = ledger_gov_acquire(n->L);
    uint64_t now = tip_time(n);
    json_t *arr = json_array();
    uint32_t last = after;
    int more = 0;
    /* 64-bit: the cursor may be the largest id (after + 1 must not wrap to 0) */
    for (uint64_t id = (uint64_t)after + 1; arr && id < gv->next_proposal; id++) {
        if (json_array_size(arr) >= (size_t)limit) {
            more = 1;
            break;
        }
        ledger_gov_proposal p;
        ledger_err e;
        int r = ledger_gov_get_proposal(n->L, (uint32_t)id, &p, &e);
        if (r < 0) {
            json_decref(arr);
            ledger_gov_release(gv);
            node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "internal error: %s", e.msg);
            return;
        }
        last = (uint32_t)id;
        if (r == 0)
            continue;
        if (status == NULL || strcmp(status, status_name(&p, now)) == 0)
            json_array_append_new(arr, proposal_json(&p, gv, now));
        ledger_gov_proposal_clear(&p);
    }
    char cur[16];
    snprintf(cur, sizeof cur, "%u", (unsigned)last);
    set_result(o, json_pack("{s:o, s:s?}", "proposals", arr, "next_cursor", more ? cur : NULL));
    ledger_gov_release(gv);
}

void node_rpc_membership(node *n, json_t *params, rpc_outcome *o)
{
    json_int_t h = 0;
    int has = node_rpc_int_param(params, "height", 0, 1, INT64_MAX, &h, o);
    if (has < 0)
        return;
    ledger_tip tip;
    ledger_get_tip(n->L, &tip);
    ledger_gov *gv = NULL;
    ledger_err e;
    if (!has) {
        gv = ledger_gov_acquire(n->L);
        h = (json_int_t)tip.height + 1;
    } else if ((uint64_t)h > tip.height + 1) {
        node_rpc_outcome_error(o, RPC_NOT_FOUND, NULL, "height %lld is beyond the next block",
                               (long long)h);
        return;
    } else if (ledger_gov_at(n->L, (uint64_t)h, &gv, &e) != 0) {
        node_rpc_outcome_error(o, RPC_INTERNAL, NULL, "internal error: %s", e.msg);
        return;
    }
    set_result(o, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "height", (json_int_t)h,
                            "departments", node_json_departments(gv->m), "registrars",
                            registrars_json(gv), "observers", observers_json(gv), "industries",
                            node_json_industries(gv->m), "params", params_json(&gv->m->params),
                            "gov_seq", (json_int_t)(gv->exists ? gv->seq + 1 : 0),
                            "open_proposals", (json_int_t)gv->n_open));
    ledger_gov_release(gv);
}
