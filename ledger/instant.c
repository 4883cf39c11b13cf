/* ledger/instant.c: the USCC record and the rule `instant` (instant.h). */
#include "instant.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gov.h"

#define USCC_RECORD_VERSION 1

void ledger_uscc_record_id(const char *uscc, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", LEDGER_USCC_ID_PREFIX, uscc);
}

int ledger_uscc_is_record_id(const char *id)
{
    return id != NULL &&
           strncmp(id, LEDGER_USCC_ID_PREFIX, strlen(LEDGER_USCC_ID_PREFIX)) == 0;
}

int ledger_is_license_id(const char *id)
{
    return id != NULL && !ledger_gov_is_record_id(id) && !ledger_uscc_is_record_id(id);
}

int ledger_uscc_record_encode(const ledger_uscc_record *u, uint8_t **out, size_t *len,
                              ledger_err *err)
{
    char id[32];
    ledger_uscc_record_id(u->uscc, id, sizeof id);
    lbuf b;
    ledger_lbuf_init(&b, LEDGER_MAX_USCC_RECORD);
    ledger_lbuf_u8(&b, USCC_RECORD_VERSION);
    ledger_lbuf_str(&b, id);
    ledger_lbuf_u8(&b, (uint8_t)u->n);
    for (size_t i = 0; i < u->n; i++) {
        ledger_lbuf_u64(&b, u->v[i].log_index);
        ledger_lbuf_u64(&b, u->v[i].time);
        ledger_lbuf_str(&b, u->v[i].license_id);
    }
    ledger_lbuf_u8(&b, u->full ? 1 : 0);
    if (u->full)
        ledger_lbuf_u64(&b, u->unlisted_from);
    if (b.err || u->n > LEDGER_USCC_REVOCATIONS_MAX) {
        ledger_lbuf_free(&b);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "USCC record cannot be encoded");
    }
    *out = ledger_lbuf_take(&b, len);
    return 0;
}

int ledger_uscc_record_decode(ledger_uscc_record *u, const uint8_t *p, size_t len,
                              ledger_err *err)
{
    memset(u, 0, sizeof *u);
    lrd r;
    ledger_lrd_init(&r, p, len);
    if (len > LEDGER_MAX_USCC_RECORD || ledger_lrd_u8(&r) != USCC_RECORD_VERSION)
        r.err = 1;
    char *id = ledger_lrd_str(&r, 32);
    size_t pl = strlen(LEDGER_USCC_ID_PREFIX);
    if (id == NULL || strlen(id) != pl + 18 || !ledger_uscc_is_record_id(id))
        r.err = 1;
    else
        memcpy(u->uscc, id + pl, 19);
    free(id);
    size_t n = ledger_lrd_u8(&r);
    if (n > LEDGER_USCC_REVOCATIONS_MAX)
        r.err = 1;
    for (size_t i = 0; i < n && !r.err; i++) {
        ledger_revocation *v = &u->v[i];
        v->log_index = ledger_lrd_u64(&r);
        v->time = ledger_lrd_u64(&r);
        char *lid = ledger_lrd_str(&r, LEDGER_MAX_LICENSE_ID);
        if (lid == NULL || lid[0] == '\0' || !ledger_is_license_id(lid))
            r.err = 1;
        else
            memcpy(v->license_id, lid, strlen(lid) + 1);
        free(lid);
        if (i > 0 && (v->log_index <= u->v[i - 1].log_index || v->time < u->v[i - 1].time))
            r.err = 1; /* in log order, as appended */
        u->n = i + 1;
    }
    uint8_t full = ledger_lrd_u8(&r);
    if (full > 1 || (full && n != LEDGER_USCC_REVOCATIONS_MAX))
        r.err = 1;
    u->full = full;
    if (full) {
        u->unlisted_from = ledger_lrd_u64(&r);
        if (n > 0 && u->unlisted_from <= u->v[n - 1].log_index)
            r.err = 1;
    }
    if (!ledger_lrd_done(&r)) {
        memset(u, 0, sizeof *u);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "corrupt USCC record");
    }
    return 0;
}

void ledger_uscc_record_add(ledger_uscc_record *u, uint64_t log_index, uint64_t time,
                            const char *license_id)
{
    if (u->full)
        return; /* the first one left out is what the rule needs */
    if (u->n == LEDGER_USCC_REVOCATIONS_MAX) {
        u->full = 1;
        u->unlisted_from = log_index;
        return;
    }
    ledger_revocation *v = &u->v[u->n++];
    v->log_index = log_index;
    v->time = time;
    snprintf(v->license_id, sizeof v->license_id, "%s", license_id);
}

static uint32_t skip(ledger_instant_why *why, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static uint32_t skip(ledger_instant_why *why, const char *rule, const char *fmt, ...)
{
    why->rule = rule;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->detail, sizeof why->detail, fmt, ap);
    va_end(ap);
    return 0;
}

uint32_t ledger_instant_decide(const ledger_genesis *m, const ledger_license *lic, uint64_t now,
                               uint64_t log_index, const ledger_uscc_record *u,
                               ledger_instant_why *why)
{
    static const uint8_t zero[32];
    memset(why, 0, sizeof *why);
    const ledger_industry *ind = ledger_genesis_industry(m, lic->industry);
    uint32_t mask = 0;
    for (size_t j = 0; ind != NULL && j < ind->n_items && j < lic->n_items; j++)
        if (ind->items[j].instant)
            mask |= 1u << j;
    if (mask == 0)
        return skip(why, "instant_none", "industry %s has no instant item", lic->industry);
    if (!lic->commitment)
        return skip(why, "instant_not_commitment",
                    "the application of %s did not take the commitment route", lic->id);
    if (!lic->has_holder || memcmp(lic->pledge_sha256, zero, 32) == 0)
        return skip(why, "instant_no_pledge", "the holder of %s signed no pledge", lic->id);
    if (u != NULL) {
        if (u->full && u->unlisted_from < log_index)
            return skip(why, "uscc_revocations_full",
                        "USCC %s has more revoked licenses than its record lists; the rule "
                        "approves nothing after log index %llu", lic->uscc,
                        (unsigned long long)u->unlisted_from);
        uint64_t ban = m->params.instant_ban_ms;
        for (size_t i = u->n; i-- > 0;) {
            const ledger_revocation *v = &u->v[i];
            if (v->log_index >= log_index)
                continue; /* after the APPLY */
            if (v->time + ban >= now)
                return skip(why, "instant_banned",
                            "license %s of USCC %s was revoked at %llu, within instant_ban "
                            "(%llu ms) of %llu", v->license_id, lic->uscc,
                            (unsigned long long)v->time, (unsigned long long)ban,
                            (unsigned long long)now);
            break; /* in log order, so in time order: the rest are older */
        }
    }
    why->rule = "instant";
    snprintf(why->detail, sizeof why->detail, "approved by rule instant in the block of the APPLY");
    return mask;
}

void ledger_instant_approve(ledger_license *lic, uint32_t mask, uint64_t now)
{
    int all = 1;
    for (size_t j = 0; j < lic->n_items; j++) {
        if (mask & (1u << j)) {
            lic->items[j].decision = DEC_INSTANT;
            lic->items[j].verified = 1;
            lic->items[j].decided_at = now;
        }
        all &= lic->items[j].verified;
    }
    if (all && lic->status == LIC_ISSUED_UNVERIFIED)
        lic->status = LIC_ISSUED;
}
