/* ledger/audit_json.c: a verified audit as JSON, the one shape `permit
 * audit --json` prints and the browser verifier (wasm/verifier.c) hands to
 * the public page. */
#include "audit_json.h"

#include <string.h>

#include "gov.h"
#include "hex.h"

json_t *ledger_audit_report_json(const ledger_genesis *g, const ledger_audit_report *r,
                                 const ledger_audit_age *age)
{
    /* names from the membership of the certified block (a department added
     * by governance is not in genesis) */
    if (r->vset != NULL)
        g = r->vset->m;
    json_t *signers = json_array();
    for (size_t i = 0; signers && i < r->n_signers; i++) {
        const ledger_department *d = &g->departments[r->signers[i]];
        json_array_append_new(signers, json_pack("{s:s, s:s}", "department", d->id, "name",
                                                 d->name));
    }
    char hash[65], lroot[65], sroot[65];
    ledger_hex_encode(r->block_hash, 32, hash);
    ledger_hex_encode(r->header.log_root, 32, lroot);
    ledger_hex_encode(r->header.state_root, 32, sroot);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:o, s:I, s:I, s:s, s:s, s:b}",
                          "license_id", r->license_id, "status", ledger_status_name(r->status),
                          "stored_status", ledger_status_name(r->record.status), "name",
                          r->record.name, "events", (json_int_t)r->n_events, "height",
                          (json_int_t)r->header.height, "block_hash", hash, "time",
                          (json_int_t)r->header.time, "certified_by",
                          signers ? signers : json_null(), "validators",
                          (json_int_t)g->n_validators, "log_size",
                          (json_int_t)r->header.log_size, "log_root", lroot, "state_root",
                          sroot, "consistency_checked", r->consistency_checked);
    if (j != NULL)
        json_object_set_new(j, "gov_events", json_integer((json_int_t)r->n_gov_events));
    if (j != NULL) {
        /* what the license grants and who decided it: the page says it in words */
        json_t *items = json_array();
        for (size_t i = 0; items && i < r->record.n_items; i++) {
            const ledger_item *it = &r->record.items[i];
            int d = ledger_genesis_dept_index(g, it->department);
            json_array_append_new(
                items, json_pack("{s:s, s:s, s:s, s:s, s:b}", "permit", it->permit, "department",
                                 it->department, "department_name",
                                 d >= 0 ? g->departments[d].name : it->department, "decision",
                                 ledger_decision_name(it->decision), "verified", it->verified));
        }
        json_object_set_new(j, "industry", json_string(r->record.industry));
        json_object_set_new(j, "uscc", json_string(r->record.uscc));
        json_object_set_new(j, "items", items ? items : json_null());
    }
    if (j != NULL && r->record.has_holder) {
        static const uint8_t zero[32];
        char hk[65], ph[65];
        ledger_hex_encode(r->record.holder_key, 32, hk);
        json_object_set_new(j, "holder_key", json_string(hk));
        if (memcmp(r->record.pledge_sha256, zero, 32) != 0) {
            ledger_hex_encode(r->record.pledge_sha256, 32, ph);
            json_object_set_new(j, "pledge_sha256", json_string(ph));
        }
    }
    /* 秒批: the items the rule instant approved, replayed */
    json_t *inst = j != NULL ? json_array() : NULL;
    for (size_t i = 0; inst != NULL && i < r->record.n_items; i++)
        if (r->record.items[i].decision == DEC_INSTANT)
            json_array_append_new(inst, json_pack("{s:s, s:s, s:s}", "permit",
                                                  r->record.items[i].permit, "department",
                                                  r->record.items[i].department, "rule",
                                                  "instant"));
    if (inst != NULL)
        json_object_set_new(j, "instant", inst);
    json_t *fresh = json_pack("{s:I, s:I, s:I, s:I, s:b, s:o, s:s}", "now", (json_int_t)age->now,
                              "age_ms", (json_int_t)age->age_ms, "ahead_ms",
                              (json_int_t)age->ahead_ms, "stale_after_ms",
                              (json_int_t)age->stale_after_ms, "stale", age->stale,
                              "max_age_ms",
                              age->max_age_ms ? json_integer((json_int_t)age->max_age_ms)
                                              : json_null(),
                              "status_now", ledger_status_name(age->status_now));
    if (j == NULL || fresh == NULL || json_object_update(j, fresh) != 0) {
        json_decref(j);
        json_decref(fresh);
        return NULL;
    }
    json_decref(fresh);
    return j;
}
