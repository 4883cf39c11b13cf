/* ledger/audit.c: the five checks of DESIGN §9 over a decoded bundle, the
 * checks against a checkpoint (consistency, rollback) and the freshness of
 * a verdict against the caller's clock (audit.h). */
#include "audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "bundle.h"
#include "hash.h"
#include "instant.h"
#include "merkle.h"
#include "permit.pb-c.h"
#include "rules.h"
#include "smt.h"
#include "tx.h"

static const char *const check_names[] = {"bundle", "certificate", "log",
                                          "chain",  "state",       "replay",
                                          "consistency", "rollback", "freshness"};

const char *ledger_audit_check_name(int check)
{
    return check >= 0 && check <= AUDIT_FRESHNESS ? check_names[check] : "?";
}

#define failed ledger_audit_failed

int ledger_audit_failed(ledger_audit_failure *f, int check, long event, uint64_t height,
                        const char *fmt, ...)
{
    f->check = check;
    f->event = event;
    f->height = height;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->reason, sizeof f->reason, fmt, ap);
    va_end(ap);
    return -1;
}

void ledger_audit_failure_format(const ledger_audit_failure *f, char *out, size_t cap)
{
    char where[96] = "";
    if (f->event >= 0 && f->height > 0)
        snprintf(where, sizeof where, " at event %ld (block %llu)", f->event,
                 (unsigned long long)f->height);
    else if (f->event >= 0)
        snprintf(where, sizeof where, " at event %ld", f->event);
    else if (f->height > 0)
        snprintf(where, sizeof where, " at block %llu", (unsigned long long)f->height);
    snprintf(out, cap, "check %d (%s) failed%s: %s", f->check,
             ledger_audit_check_name(f->check), where, f->reason);
}

void ledger_audit_report_clear(ledger_audit_report *rep)
{
    if (rep == NULL)
        return;
    ledger_license_clear(&rep->record);
    ledger_gov_release(rep->vset);
    memset(rep, 0, sizeof *rep);
}

/* ---- 1: the header is certified ------------------------------------------- */

static int check_header(const ledger_genesis *g, const ledger_bundle *b, ledger_header *h,
                        uint8_t block_hash[32], ledger_audit_failure *f)
{
    ledger_err e;
    if (ledger_header_decode(h, b->header, b->header_len, &e) != 0)
        return failed(f, AUDIT_CERTIFICATE, -1, 0, "the header is malformed: %s", e.msg);
    if (strcmp(h->chain_id, g->chain_id) != 0)
        return failed(f, AUDIT_CERTIFICATE, -1, h->height,
                      "the header is of chain \"%s\", not of this genesis' \"%s\"", h->chain_id,
                      g->chain_id);
    if (h->height == 0)
        return failed(f, AUDIT_CERTIFICATE, -1, 0, "the header is of height 0");
    ledger_sha256(b->header, b->header_len, block_hash);
    return 0;
}

/* Against the validators in force at the header's height: the membership
 * after block height-2 (DESIGN §5), which the governance replay gives. */
static int check_certificate(const audit_gov_history *hist, const ledger_bundle *b,
                             const ledger_header *h, const uint8_t block_hash[32],
                             ledger_audit_report *rep, ledger_audit_failure *f)
{
    ledger_err e;
    const ledger_gov *vs = ledger_audit_gov_at(hist, h->height >= 2 ? h->height - 1 : 0);
    if (memcmp(h->validators_hash, vs->m->validators_hash, 32) != 0)
        return failed(f, AUDIT_CERTIFICATE, -1, h->height,
                      "the header names another validator set than the one in force at its "
                      "height (%zu validators, from genesis and the governance record)",
                      vs->m->n_validators);
    if (ledger_commit_verify(vs->m, &b->commit, block_hash, h->height, &e) != 0)
        return failed(f, AUDIT_CERTIFICATE, -1, h->height, "%s", e.msg);
    rep->n_signers = b->commit.n_sigs;
    for (size_t i = 0; i < b->commit.n_sigs; i++)
        rep->signers[i] = vs->m->validators[b->commit.sigs[i].validator];
    rep->vset = ledger_gov_ref((ledger_gov *)vs);
    return 0;
}

/* ---- 2: every event is in the event log ---------------------------------- */

static int check_log(const ledger_bundle *b, const ledger_header *h, uint8_t (*hashes)[32],
                     ledger_audit_failure *f)
{
    for (size_t i = 0; i < b->n_events; i++) {
        const ledger_bundle_event *ev = &b->events[i];
        ledger_merkle_leaf_hash(ev->event, ev->event_len, hashes[i]);
        ledger_err e;
        if (ledger_merkle_verify_inclusion(ev->log_index, h->log_size, hashes[i],
                                    (const uint8_t(*)[32])ev->path, ev->n_path, h->log_root,
                                    &e) != 0)
            return failed(f, AUDIT_LOG, (long)i, h->height,
                          "the event (log index %llu) is not in the event log of %llu events: %s",
                          (unsigned long long)ev->log_index, (unsigned long long)h->log_size,
                          e.msg);
    }
    return 0;
}

/* ---- 3: one unbroken chain from APPLY to the record's head ---------------- */

static int check_chain(const ledger_bundle *b, const ledger_header *h,
                       const uint8_t (*hashes)[32], ledger_event *evs,
                       const ledger_license *rec, ledger_audit_failure *f)
{
    static const uint8_t zero[32];
    for (size_t i = 0; i < b->n_events; i++) {
        ledger_event *ev = &evs[i];
        if (ledger_event_decode(ev, b->events[i].event, b->events[i].event_len) != 0)
            return failed(f, AUDIT_CHAIN, (long)i, 0, "not a canonical event");
        if (strcmp(ev->license_id, b->license_id) != 0)
            return failed(f, AUDIT_CHAIN, (long)i, ev->height,
                          "the event belongs to license %s, not %s", ev->license_id,
                          b->license_id);
        if (ev->seq != i)
            return failed(f, AUDIT_CHAIN, (long)i, ev->height,
                          "the event has seq %u where seq %zu belongs: events are missing, "
                          "added or out of order", ev->seq, i);
        if (i == 0) {
            if ((ev->kind != PERMIT__TX_KIND__APPLY && ev->kind != LEDGER_EVENT_APPLY_INSTANT) ||
                memcmp(ev->prev, zero, 32) != 0)
                return failed(f, AUDIT_CHAIN, 0, ev->height,
                              "the history does not begin with the license's APPLY");
            continue;
        }
        const ledger_event *pv = &evs[i - 1];
        if (memcmp(ev->prev, hashes[i - 1], 32) != 0)
            return failed(f, AUDIT_CHAIN, (long)i, ev->height,
                          "prev is not the hash of event %zu: the chain is broken", i - 1);
        if (b->events[i].log_index <= b->events[i - 1].log_index || ev->height < pv->height ||
            ev->time < pv->time)
            return failed(f, AUDIT_CHAIN, (long)i, ev->height,
                          "the event comes before event %zu in the log", i - 1);
    }
    const ledger_event *last = &evs[b->n_events - 1];
    if (last->height > h->height)
        return failed(f, AUDIT_CHAIN, (long)b->n_events - 1, last->height,
                      "the event is of a block after the certified block %llu",
                      (unsigned long long)h->height);
    if ((size_t)rec->seq + 1 != b->n_events || memcmp(rec->head, hashes[b->n_events - 1], 32) != 0)
        return failed(f, AUDIT_CHAIN, (long)b->n_events - 1, last->height,
                      "the events end at seq %zu but the record's head is seq %u: %s",
                      b->n_events - 1, rec->seq,
                      (size_t)rec->seq + 1 > b->n_events
                          ? "events are missing from the end"
                          : "the chain does not reach the record's head");
    return 0;
}

/* ---- 4: the record is current under state_root ---------------------------- */

static int check_state(const ledger_bundle *b, const ledger_header *h,
                       ledger_audit_failure *f)
{
    uint8_t key[32], value[32];
    ledger_sha256(b->license_id, strlen(b->license_id), key);
    ledger_sha256(b->record, b->record_len, value);
    ledger_err e;
    if (ledger_smt_verify(h->state_root, key, value, &b->state, &e) != 0)
        return failed(f, AUDIT_STATE, -1, h->height,
                      "the record is not the license's state at this block: %s", e.msg);
    return 0;
}

/* The USCC record a license of the commitment route may need (instant.h):
 * when the bundle carries it, its proof, of presence or absence, under the
 * same state_root.  *out gets the decoded record, or NULL when the USCC has
 * none or the bundle carries no proof (the replay then refuses what needs
 * it: bundles made before the rule existed carry none and need none). */
static int check_uscc(const ledger_bundle *b, const ledger_header *h, const ledger_license *rec,
                      ledger_uscc_record *u, const ledger_uscc_record **out,
                      ledger_audit_failure *f)
{
    *out = NULL;
    if (!b->has_uscc)
        return 0;
    if (!rec->commitment)
        return failed(f, AUDIT_BUNDLE, -1, h->height,
                      "the bundle carries a USCC record for a license that did not take "
                      "the commitment route: nothing would check it");
    char id[32];
    ledger_uscc_record_id(rec->uscc, id, sizeof id);
    uint8_t key[32], value[32];
    ledger_sha256(id, strlen(id), key);
    if (b->uscc_record != NULL)
        ledger_sha256(b->uscc_record, b->uscc_record_len, value);
    ledger_err e;
    if (ledger_smt_verify(h->state_root, key, b->uscc_record ? value : NULL, &b->uscc_state,
                          &e) != 0)
        return failed(f, AUDIT_STATE, -1, h->height,
                      "the USCC record %s %s at this block: %s", id,
                      b->uscc_record ? "is not the state" : "is not proven absent", e.msg);
    if (b->uscc_record == NULL)
        return 0;
    if (ledger_uscc_record_decode(u, b->uscc_record, b->uscc_record_len, &e) != 0)
        return failed(f, AUDIT_STATE, -1, h->height, "the USCC record %s is malformed: %s", id,
                      e.msg);
    *out = u;
    return 0;
}

/* ---- 5: the record follows from replaying the transactions ---------------- */

/* Name the first field where two records differ. */
static const char *first_difference(const ledger_license *a, const ledger_license *b)
{
    if (a->status != b->status)
        return "status";
    if (strcmp(a->name, b->name) != 0 || strcmp(a->legal_rep, b->legal_rep) != 0 ||
        strcmp(a->scope, b->scope) != 0 || strcmp(a->uscc, b->uscc) != 0 ||
        strcmp(a->industry, b->industry) != 0)
        return "name, legal representative, scope, USCC or industry";
    if (a->issued_at != b->issued_at || a->expires_at != b->expires_at ||
        a->verify_deadline != b->verify_deadline || a->applied_at != b->applied_at)
        return "dates";
    if (a->n_addresses != b->n_addresses || a->next_address_id != b->next_address_id)
        return "addresses";
    if (a->n_items != b->n_items)
        return "permit items";
    if (a->has_holder != b->has_holder || memcmp(a->holder_key, b->holder_key, 32) != 0 ||
        memcmp(a->pledge_sha256, b->pledge_sha256, 32) != 0)
        return "holder key or pledge";
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i].decision != b->items[i].decision ||
            a->items[i].verified != b->items[i].verified)
            return "permit item decisions";
    return "record bytes";
}

/* The rule `instant` on the license its APPLY (event 0) just created,
 * under the membership m in force then: the event's kind must say what the
 * rule decides, and the items it approves are approved. */
static int replay_instant(const ledger_genesis *m, const ledger_bundle *b,
                          const ledger_event *ev, const ledger_uscc_record *u,
                          ledger_license *lic, ledger_audit_failure *f)
{
    ledger_instant_why why;
    memset(&why, 0, sizeof why);
    uint32_t mask = 0;
    if (lic->commitment && !b->has_uscc) {
        /* what the rule asks before the record: without instant items (or
         * a pledge) it needs no proof */
        ledger_instant_decide(m, lic, ev->time, b->events[0].log_index, NULL, &why);
        if (strcmp(why.rule, "instant") == 0)
            return failed(f, AUDIT_STATE, -1, ev->height,
                          "the license took the commitment route to an instant item and the "
                          "bundle carries no proof of its USCC's record: the rule instant "
                          "cannot be replayed");
    }
    if (lic->commitment)
        mask = ledger_instant_decide(m, lic, ev->time, b->events[0].log_index, u, &why);
    else
        snprintf(why.detail, sizeof why.detail, "the application did not take the commitment "
                 "route (rule instant_not_commitment)");
    int says = ev->kind == LEDGER_EVENT_APPLY_INSTANT;
    if (says && mask == 0)
        return failed(f, AUDIT_REPLAY, 0, ev->height,
                      "the event says APPLY_INSTANT but the rule instant approves nothing: %s%s%s",
                      why.rule ? why.rule : "", why.rule ? ": " : "", why.detail);
    if (!says && mask != 0)
        return failed(f, AUDIT_REPLAY, 0, ev->height,
                      "the event says APPLY but the rule instant approves %s's instant items in "
                      "this block (no license of USCC %s revoked within instant_ban before it)",
                      lic->id, lic->uscc);
    if (mask != 0)
        ledger_instant_approve(lic, mask, ev->time);
    return 0;
}

static int check_replay(const ledger_genesis *g, const audit_gov_history *hist,
                        const ledger_bundle *b, const uint8_t (*hashes)[32],
                        const ledger_event *evs, const ledger_license *rec,
                        const ledger_uscc_record *u, ledger_audit_failure *f)
{
    ledger_license lic;
    memset(&lic, 0, sizeof lic);
    int rc = -1;
    for (size_t i = 0; i < b->n_events; i++) {
        const ledger_event *ev = &evs[i];
        const ledger_bundle_event *be = &b->events[i];
        ledger_tx tx;
        ledger_err e;
        const ledger_pubkey *pk = NULL;
        int dept = -1;
        uint8_t id[32];
        ledger_sha256(be->tx, be->tx_len, id);
        if (memcmp(id, ev->tx_id, 32) != 0) {
            failed(f, AUDIT_REPLAY, (long)i, ev->height,
                   "the envelope is not the event's transaction (tx_id differs)");
            goto out;
        }
        if (ledger_tx_decode(&tx, be->tx, be->tx_len, g->chain_id, &e) != 0) {
            ledger_tx_release(&tx);
            failed(f, AUDIT_REPLAY, (long)i, ev->height, "the transaction is malformed (rule %s): %s",
                   e.rule ? e.rule : "-", e.msg);
            goto out;
        }
        int bad = 0;
        /* the membership in force at the event's block (governance) */
        const ledger_gov *gv = ledger_audit_gov_at(hist, ev->height);
        const ledger_genesis *m = gv->m;
        int kind_ok = tx.kind == ev->kind || (tx.kind == PERMIT__TX_KIND__APPLY && i == 0 &&
                                               ev->kind == LEDGER_EVENT_APPLY_INSTANT);
        if (!kind_ok)
            bad = failed(f, AUDIT_REPLAY, (long)i, ev->height,
                         "the transaction is a %s, the event says %s",
                         ledger_tx_kind_name(tx.kind), ledger_tx_kind_name(ev->kind));
        else if (tx.kind != PERMIT__TX_KIND__APPLY &&
                 strcmp(tx.body->license_id, b->license_id) != 0)
            bad = failed(f, AUDIT_REPLAY, (long)i, ev->height,
                         "the transaction is for another license");
        else if (ledger_gov_authorize(gv, &tx, &pk, &dept, &e) != 0 ||
                 ledger_tx_check_fields(m, &tx, &e) != 0 ||
                 ledger_tx_check_time(&tx, ev->time, m->params.tx_window_ms, &e) != 0)
            bad = failed(f, AUDIT_REPLAY, (long)i, ev->height, "the %s is refused (rule %s): %s",
                         ledger_tx_kind_name(tx.kind), e.rule ? e.rule : "-", e.msg);
        else if (!ledger_tx_sig_ok(&tx, pk))
            bad = failed(f, AUDIT_REPLAY, (long)i, ev->height,
                         "the %s signature does not verify", ledger_tx_kind_name(tx.kind));
        else if (ledger_rules_apply(m, &tx, dept, ev->time, b->license_id, &lic, &e) != 0)
            bad = failed(f, AUDIT_REPLAY, (long)i, ev->height,
                         "the rules of the ledger refuse this %s (rule %s): %s",
                         ledger_tx_kind_name(tx.kind), e.rule ? e.rule : "-", e.msg);
        else if (i == 0 && replay_instant(m, b, ev, u, &lic, f) != 0)
            bad = 1;
        ledger_tx_release(&tx);
        if (bad)
            goto out;
        lic.seq = ev->seq;
        memcpy(lic.head, hashes[i], 32);
    }
    uint8_t *mine = NULL;
    size_t mlen = 0;
    ledger_err e;
    if (ledger_license_encode(&lic, &mine, &mlen, &e) != 0) {
        failed(f, AUDIT_REPLAY, (long)b->n_events - 1, 0, "the replayed record: %s", e.msg);
        goto out;
    }
    int same = mlen == b->record_len && memcmp(mine, b->record, mlen) == 0;
    free(mine);
    if (!same) {
        const char *what = first_difference(&lic, rec);
        if (lic.status != rec->status)
            failed(f, AUDIT_REPLAY, (long)b->n_events - 1, evs[b->n_events - 1].height,
                   "replaying the %zu events gives status %s; the record claims %s",
                   b->n_events, ledger_status_name(lic.status), ledger_status_name(rec->status));
        else
            failed(f, AUDIT_REPLAY, (long)b->n_events - 1, evs[b->n_events - 1].height,
                   "replaying the %zu events gives another record than the one claimed (%s "
                   "differ)", b->n_events, what);
        goto out;
    }
    rc = 0;
out:
    ledger_license_clear(&lic);
    return rc;
}

/* ---- 7 and 6: the checkpoint -------------------------------------------------- */

static int check_checkpoint(const ledger_genesis *g, const ledger_bundle *b,
                            const ledger_header *h, const uint8_t block_hash[32],
                            const ledger_audit_checkpoint *cp, ledger_audit_report *rep,
                            ledger_audit_failure *f)
{
    if (strcmp(cp->chain_id, g->chain_id) != 0)
        return failed(f, AUDIT_CONSISTENCY, -1, 0,
                      "the checkpoint is of chain \"%s\", not \"%s\"", cp->chain_id, g->chain_id);
    /* 7: never back.  With blocks that carry no event (heartbeats) an older
     * header has the checkpoint's log size and root: only the height tells. */
    if (h->height < cp->height)
        return failed(f, AUDIT_ROLLBACK, -1, h->height,
                      "the checkpoint held is newer: it is of block %llu (log size %llu), the "
                      "bundle's header of block %llu (log size %llu); a bundle from an older "
                      "block (a stale bundle, or a node that lags) cannot take the checkpoint "
                      "back", (unsigned long long)cp->height, (unsigned long long)cp->log_size,
                      (unsigned long long)h->height, (unsigned long long)h->log_size);
    if (cp->has_block && h->height == cp->height && memcmp(block_hash, cp->block_hash, 32) != 0)
        return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                      "another block than the checkpoint's is certified at height %llu: the "
                      "chain forked", (unsigned long long)h->height);
    if (cp->has_block && h->time < cp->time)
        return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                      "block %llu is later than the checkpoint's block %llu but its time is "
                      "earlier: not the chain the checkpoint saw",
                      (unsigned long long)h->height, (unsigned long long)cp->height);
    /* 6 */
    if (cp->log_size > h->log_size)
        return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                      "the checkpoint (block %llu, log size %llu) is newer than the bundle's "
                      "header (log size %llu): the bundle cannot prove it extends it",
                      (unsigned long long)cp->height, (unsigned long long)cp->log_size,
                      (unsigned long long)h->log_size);
    if (b->since_log_size != 0 && b->since_log_size != cp->log_size)
        return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                      "the bundle carries a consistency proof from log size %llu, the "
                      "checkpoint is at log size %llu: nothing can check that proof",
                      (unsigned long long)b->since_log_size, (unsigned long long)cp->log_size);
    /* the governance history the checkpoint saw is this bundle's too */
    if (cp->has_gov && cp->gov_seq > 0) {
        uint8_t hh[32];
        if (b->n_gov_events < cp->gov_seq)
            return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                          "the bundle's governance record has %zu events, the checkpoint saw "
                          "%u: governance history was cut or rewritten",
                          b->n_gov_events, cp->gov_seq);
        const ledger_bundle_event *ge = &b->gov_events[cp->gov_seq - 1];
        ledger_merkle_leaf_hash(ge->event, ge->event_len, hh);
        if (memcmp(hh, cp->gov_head, 32) != 0)
            return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                          "governance event %u is not the one the checkpoint saw: another "
                          "governance history (a branch signed by keys retired since?)",
                          cp->gov_seq - 1);
    }
    rep->since_log_size = cp->log_size;
    rep->consistency_checked = 1;
    if (cp->log_size == h->log_size) {
        if (memcmp(cp->log_root, h->log_root, 32) != 0)
            return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                          "the event log of %llu events has another root than the checkpoint's: "
                          "history was rewritten", (unsigned long long)h->log_size);
        return 0;
    }
    if (cp->log_size == 0)
        return 0; /* every log extends the empty one */
    if (b->since_log_size != cp->log_size)
        return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                      "the bundle carries no consistency proof from log size %llu (it has one "
                      "from %llu)", (unsigned long long)cp->log_size,
                      (unsigned long long)b->since_log_size);
    ledger_err e;
    if (ledger_merkle_verify_consistency(cp->log_size, h->log_size, cp->log_root, h->log_root,
                                  (const uint8_t(*)[32])b->consistency, b->n_consistency,
                                  &e) != 0)
        return failed(f, AUDIT_CONSISTENCY, -1, h->height,
                      "the event log does not extend the checkpoint's (block %llu, %llu "
                      "events): history was rewritten: %s",
                      (unsigned long long)cp->height, (unsigned long long)cp->log_size, e.msg);
    return 0;
}

int ledger_audit_verify(const ledger_genesis *g, const uint8_t *bytes, size_t len,
                        const ledger_audit_checkpoint *cp, ledger_audit_report *rep,
                        ledger_audit_failure *f)
{
    memset(rep, 0, sizeof *rep);
    memset(f, 0, sizeof *f);
    f->event = -1;
    ledger_bundle b;
    ledger_err e;
    if (ledger_bundle_decode(&b, bytes, len, &e) != 0) {
        ledger_bundle_free(&b);
        return failed(f, AUDIT_BUNDLE, -1, 0, "%s", e.msg);
    }
    int rc = -1;
    uint8_t(*hashes)[32] = malloc(b.n_events * 32);
    ledger_event *evs = calloc(b.n_events, sizeof *evs);
    ledger_license rec;
    memset(&rec, 0, sizeof rec);
    ledger_header h;
    uint8_t block_hash[32];
    audit_gov_history hist;
    memset(&hist, 0, sizeof hist);
    ledger_uscc_record *ubuf = malloc(sizeof *ubuf);
    const ledger_uscc_record *u = NULL;
    if (hashes == NULL || evs == NULL || ubuf == NULL) {
        failed(f, AUDIT_BUNDLE, -1, 0, "out of memory");
        goto out;
    }
    /* the header, then the governance record it certifies (the membership
     * at every height), then the certificate against the set of its height */
    if (check_header(g, &b, &h, block_hash, f) != 0 || ledger_audit_gov(g, &b, &h, &hist, f) != 0 ||
        check_certificate(&hist, &b, &h, block_hash, rep, f) != 0)
        goto out;
    /* a consistency proof is only verified against a checkpoint, but its
     * length is fixed by the two sizes: a bundle cut inside it is refused */
    if (b.since_log_size > 0 &&
        (b.since_log_size > h.log_size ||
         b.n_consistency != ledger_merkle_consistency_proof_len(b.since_log_size, h.log_size))) {
        failed(f, AUDIT_BUNDLE, -1, h.height,
               "bundle: the consistency proof from log size %llu has %zu hashes; %llu to %llu "
               "needs %zu", (unsigned long long)b.since_log_size, b.n_consistency,
               (unsigned long long)b.since_log_size, (unsigned long long)h.log_size,
               b.since_log_size > h.log_size
                   ? (size_t)0
                   : ledger_merkle_consistency_proof_len(b.since_log_size, h.log_size));
        goto out;
    }
    if (check_log(&b, &h, hashes, f) != 0)
        goto out;
    if (ledger_license_decode(&rec, b.record, b.record_len, &e) != 0) {
        failed(f, AUDIT_STATE, -1, h.height, "the record is malformed: %s", e.msg);
        goto out;
    }
    if (strcmp(rec.id, b.license_id) != 0) {
        failed(f, AUDIT_STATE, -1, h.height, "the record is of license %s, not %s", rec.id,
               b.license_id);
        goto out;
    }
    if (check_chain(&b, &h, (const uint8_t(*)[32])hashes, evs, &rec, f) != 0 ||
        check_state(&b, &h, f) != 0 || check_uscc(&b, &h, &rec, ubuf, &u, f) != 0 ||
        check_replay(g, &hist, &b, (const uint8_t(*)[32])hashes, evs, &rec, u, f) != 0)
        goto out;
    if (cp != NULL && check_checkpoint(g, &b, &h, block_hash, cp, rep, f) != 0)
        goto out;
    /* a proof from an older log is only worth its checkpoint: without one,
     * a bundle carrying it would hold bytes nothing checks */
    if (cp == NULL && b.since_log_size != 0) {
        failed(f, AUDIT_CONSISTENCY, -1, h.height,
               "the bundle carries a consistency proof from log size %llu and no checkpoint "
               "was given to check it against: verify it with the checkpoint it was fetched "
               "for, or fetch a bundle without one", (unsigned long long)b.since_log_size);
        goto out;
    }
    snprintf(rep->license_id, sizeof rep->license_id, "%s", b.license_id);
    rep->record = rec;
    memset(&rec, 0, sizeof rec);
    rep->status = ledger_license_status_at(&rep->record, h.time);
    rep->n_events = b.n_events;
    rep->n_gov_events = b.n_gov_events;
    if (b.n_gov_events > 0)
        ledger_merkle_leaf_hash(b.gov_events[b.n_gov_events - 1].event,
                                b.gov_events[b.n_gov_events - 1].event_len, rep->gov_head);
    rep->header = h;
    memcpy(rep->block_hash, block_hash, 32);
    rc = 0;
out:
    if (rc != 0)
        ledger_audit_report_clear(rep);
    ledger_license_clear(&rec);
    ledger_audit_gov_free(&hist);
    free(ubuf);
    free(hashes);
    free(evs);
    ledger_bundle_free(&b);
    return rc;
}

/* ---- 8: freshness ------------------------------------------------------------ */

#define STALE_HEARTBEATS 3

uint64_t ledger_audit_stale_after_ms(const ledger_genesis *g)
{
    /* genesis bounds every duration far below overflow (genesis.h) */
    return STALE_HEARTBEATS * g->params.heartbeat_ms;
}

void ledger_audit_age_format(uint64_t ms, char *out, size_t cap)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    if (ms < 1000) {
        snprintf(out, cap, "%llums", (unsigned long long)ms);
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms < units[i].ms)
            continue;
        uint64_t hi = ms / units[i].ms;
        if (i + 1 < sizeof units / sizeof units[0]) {
            uint64_t lo = ms % units[i].ms / units[i + 1].ms;
            if (lo) {
                snprintf(out, cap, "%llu%s %llu%s", (unsigned long long)hi, units[i].unit,
                         (unsigned long long)lo, units[i + 1].unit);
                return;
            }
        }
        snprintf(out, cap, "%llu%s", (unsigned long long)hi, units[i].unit);
        return;
    }
}

int ledger_audit_freshness(const ledger_genesis *g, const ledger_audit_report *rep,
                           uint64_t now_ms, uint64_t max_age_ms, ledger_audit_age *age,
                           ledger_audit_failure *f)
{
    memset(age, 0, sizeof *age);
    memset(f, 0, sizeof *f);
    f->event = -1;
    uint64_t t = rep->header.time;
    age->now = now_ms;
    age->age_ms = now_ms > t ? now_ms - t : 0;
    age->ahead_ms = t > now_ms ? t - now_ms : 0;
    age->stale_after_ms = ledger_audit_stale_after_ms(g);
    age->max_age_ms = max_age_ms;
    age->stale = age->age_ms > age->stale_after_ms;
    age->status_now = ledger_license_status_at(&rep->record, now_ms);
    if (max_age_ms > 0 && age->age_ms > max_age_ms) {
        char a[32], m[32];
        ledger_audit_age_format(age->age_ms, a, sizeof a);
        ledger_audit_age_format(max_age_ms, m, sizeof m);
        return failed(f, AUDIT_FRESHNESS, -1, rep->header.height,
                      "the certified block is %s old, more than the %s allowed: it shows the "
                      "license as it stood then, and says nothing of what happened since", a,
                      m);
    }
    return 0;
}
