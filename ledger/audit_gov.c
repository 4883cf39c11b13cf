/* ledger/audit_gov.c: the governance record in a proof bundle (audit_int.h,
 * DESIGN §9): its events are in the log (2), chain from seq 0 to the
 * record's head (3), the record is the one under state_root (4), and
 * replaying its transactions from genesis under the ledger's own rules
 * (ledger_gov_step) gives exactly that record (5).  What the replay passes
 * through is the membership in force at every height, which the license's
 * replay asks: a signature by a key counts while the key was in force. */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"
#include "hash.h"
#include "license.h"
#include "merkle.h"
#include "permit.pb-c.h"
#include "smt.h"
#include "tx.h"

#define FAIL ledger_audit_failed

void ledger_audit_gov_free(audit_gov_history *hist)
{
    for (size_t i = 0; i < hist->n; i++)
        ledger_gov_release(hist->v[i].gv);
    free(hist->v);
    memset(hist, 0, sizeof *hist);
}

const ledger_gov *ledger_audit_gov_at(const audit_gov_history *hist, uint64_t height)
{
    const ledger_gov *gv = hist->v[0].gv;
    for (size_t i = 1; i < hist->n && hist->v[i].from <= height; i++)
        gv = hist->v[i].gv;
    return gv;
}

/* The record after an event at `height` is in force from height + 1. */
static int push_version(audit_gov_history *hist, uint64_t height, ledger_gov *gv)
{
    audit_gov_version *last = &hist->v[hist->n - 1];
    if (last->from == height + 1) {
        ledger_gov_release(last->gv);
        last->gv = gv;
        return 0;
    }
    audit_gov_version *nv = realloc(hist->v, (hist->n + 1) * sizeof *nv);
    if (nv == NULL)
        return -1;
    hist->v = nv;
    nv[hist->n].from = height + 1;
    nv[hist->n].gv = gv;
    hist->n++;
    return 0;
}

/* Replay governance event i: its transaction under the membership in force
 * at its block, on the record as it stands (*cur, replaced). */
static int replay_one(const ledger_genesis *g, const ledger_bundle_event *be,
                      const ledger_event *ev, const uint8_t hash[32], size_t i,
                      audit_gov_history *hist, ledger_gov **cur, ledger_audit_failure *f)
{
    uint8_t id[32];
    ledger_sha256(be->tx, be->tx_len, id);
    if (memcmp(id, ev->tx_id, 32) != 0)
        return FAIL(f, AUDIT_REPLAY, -1, ev->height,
                    "governance event %zu: the envelope is not the event's transaction", i);
    ledger_tx tx;
    ledger_err e;
    if (ledger_tx_decode(&tx, be->tx, be->tx_len, g->chain_id, &e) != 0) {
        ledger_tx_release(&tx);
        return FAIL(f, AUDIT_REPLAY, -1, ev->height,
                    "governance event %zu: the transaction is malformed (rule %s): %s", i,
                    e.rule ? e.rule : "-", e.msg);
    }
    const ledger_gov *inforce = ledger_audit_gov_at(hist, ev->height);
    const ledger_pubkey *pk = NULL;
    int dept = -1, rc = -1;
    ledger_gov_outcome o;
    memset(&o, 0, sizeof o);
    if (tx.kind != ev->kind || !ledger_tx_kind_is_gov(tx.kind))
        FAIL(f, AUDIT_REPLAY, -1, ev->height,
             "governance event %zu: the transaction is a %s, the event says %s", i,
             ledger_tx_kind_name(tx.kind), ledger_tx_kind_name(ev->kind));
    else if (ledger_gov_authorize(inforce, &tx, &pk, &dept, &e) != 0 ||
             ledger_tx_check_fields(inforce->m, &tx, &e) != 0 ||
             ledger_tx_check_time(&tx, ev->time, inforce->m->params.tx_window_ms, &e) != 0)
        FAIL(f, AUDIT_REPLAY, -1, ev->height,
             "governance event %zu: the %s is refused (rule %s): %s", i,
             ledger_tx_kind_name(tx.kind), e.rule ? e.rule : "-", e.msg);
    else if (!ledger_tx_sig_ok(&tx, pk))
        FAIL(f, AUDIT_REPLAY, -1, ev->height, "governance event %zu: the signature does not verify",
             i);
    else if (ledger_gov_step(*cur, inforce,
                             ledger_audit_gov_at(hist, ev->height >= 2 ? ev->height - 1 : 0), &tx,
                             dept, ev->time, ev->height, &o, &e) != 0)
        FAIL(f, AUDIT_REPLAY, -1, ev->height,
             "governance event %zu: the rules of the ledger refuse this %s (rule %s): %s", i,
             ledger_tx_kind_name(tx.kind), e.rule ? e.rule : "-", e.msg);
    else
        rc = 0;
    ledger_tx_release(&tx);
    if (rc != 0) {
        ledger_gov_outcome_clear(&o);
        return -1;
    }
    ledger_gov *after = ledger_gov_ref(o.after);
    ledger_gov_outcome_clear(&o);
    after->exists = 1;
    after->seq = ev->seq;
    memcpy(after->head, hash, 32);
    if (push_version(hist, ev->height, ledger_gov_ref(after)) != 0) {
        ledger_gov_release(after);
        ledger_gov_release(after);
        return FAIL(f, AUDIT_BUNDLE, -1, 0, "out of memory");
    }
    ledger_gov_release(*cur);
    *cur = after;
    return 0;
}

int ledger_audit_gov(const ledger_genesis *g, const ledger_bundle *b, const ledger_header *h,
                     audit_gov_history *out, ledger_audit_failure *f)
{
    static const uint8_t zero[32];
    memset(out, 0, sizeof *out);
    ledger_gov *cur = NULL;
    ledger_err e;
    out->v = calloc(1, sizeof *out->v);
    if (out->v == NULL || ledger_gov_from_genesis(g, &cur, &e) != 0)
        return FAIL(f, AUDIT_BUNDLE, -1, 0, "out of memory");
    out->n = 1;
    out->v[0].gv = ledger_gov_ref(cur);
    if (b->gov_record == NULL) {
        ledger_gov_release(cur);
        return 0;
    }
    char rid[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(g, rid, sizeof rid);
    int rc = -1;
    uint8_t prev_hash[32];
    ledger_event prev;
    memset(&prev, 0, sizeof prev);
    for (size_t i = 0; i < b->n_gov_events; i++) {
        const ledger_bundle_event *be = &b->gov_events[i];
        uint8_t hash[32];
        ledger_merkle_leaf_hash(be->event, be->event_len, hash);
        /* 2 */
        if (ledger_merkle_verify_inclusion(be->log_index, h->log_size, hash,
                                           (const uint8_t(*)[32])be->path, be->n_path,
                                           h->log_root, &e) != 0) {
            FAIL(f, AUDIT_LOG, -1, h->height,
                 "governance event %zu (log index %llu) is not in the event log: %s", i,
                 (unsigned long long)be->log_index, e.msg);
            goto out;
        }
        /* 3 */
        ledger_event ev;
        if (ledger_event_decode(&ev, be->event, be->event_len) != 0) {
            FAIL(f, AUDIT_CHAIN, -1, 0, "governance event %zu is not a canonical event", i);
            goto out;
        }
        if (strcmp(ev.license_id, rid) != 0 || ev.seq != i ||
            memcmp(ev.prev, i ? prev_hash : zero, 32) != 0 || ev.height > h->height ||
            (i > 0 && (be->log_index <= b->gov_events[i - 1].log_index ||
                       ev.height < prev.height || ev.time < prev.time))) {
            FAIL(f, AUDIT_CHAIN, -1, ev.height,
                 "governance event %zu does not continue the governance record's chain "
                 "(record, seq, prev, log order or height)", i);
            goto out;
        }
        /* 5, event by event */
        if (replay_one(g, be, &ev, hash, i, out, &cur, f) != 0)
            goto out;
        memcpy(prev_hash, hash, 32);
        prev = ev;
    }
    /* 4 */
    uint8_t key[32], value[32];
    ledger_sha256(rid, strlen(rid), key);
    ledger_sha256(b->gov_record, b->gov_record_len, value);
    if (ledger_smt_verify(h->state_root, key, value, &b->gov_state, &e) != 0) {
        FAIL(f, AUDIT_STATE, -1, h->height,
             "the governance record is not the one under this block's state_root: %s", e.msg);
        goto out;
    }
    /* 5: the replay ends in exactly the record shown (seq and head included,
     * so no governance event was left out at the end) */
    uint8_t *mine = NULL;
    size_t mlen = 0;
    if (ledger_gov_encode(cur, rid, &mine, &mlen, &e) != 0) {
        FAIL(f, AUDIT_REPLAY, -1, h->height, "the replayed governance record: %s", e.msg);
        goto out;
    }
    int same = mlen == b->gov_record_len && memcmp(mine, b->gov_record, mlen) == 0;
    free(mine);
    if (!same) {
        FAIL(f, AUDIT_REPLAY, -1, h->height,
             "replaying the %zu governance events gives another governance record than the "
             "one under state_root: events are missing or altered", b->n_gov_events);
        goto out;
    }
    rc = 0;
out:
    ledger_gov_release(cur);
    if (rc != 0)
        ledger_audit_gov_free(out);
    return rc;
}
