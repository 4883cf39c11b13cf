/* ledger/exec_rules.c: the license rules that need more than the license
 * itself (docs/rules.md): one non-final license per USCC and industry
 * (license_duplicate, through the by_uscc index and the block overlay), and
 * its admission-time twin (ledger_precheck_duplicate); the rule `instant`
 * (秒批) against the USCC record, and the revocations that record lists
 * (instant.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instant.h"
#include "ledger_int.h"
#include "permit.pb-c.h"

static int is_final(int status)
{
    return status == LIC_REJECTED || status == LIC_REVOKED || status == LIC_CANCELLED;
}

/* 1 when the record `id` (as this block sees it) is a non-final license of
 * `uscc` and `industry`; 0 if not; -1 on error.  *dup_id gets the id. */
static int holds(ledger_exec *x, const char *id, const char *uscc, const char *industry,
                 ledger_err *err)
{
    lic_entry *e;
    int r = ledger_exec_lookup(x, id, &e, err);
    if (r <= 0)
        return r;
    ledger_license l;
    if (ledger_license_decode(&l, e->cur, e->cur_len, err) != 0)
        return -1;
    r = !is_final(l.status) && strcmp(l.uscc, uscc) == 0 && strcmp(l.industry, industry) == 0;
    ledger_license_clear(&l);
    return r;
}

static int dup_fail(ledger_err *err, const char *uscc, const char *industry, const char *id)
{
    return ledger_fail(err, LEDGER_ERR_RULE, "license_duplicate",
                       "USCC %s already holds license %s of industry %s, which is not "
                       "rejected, revoked or cancelled; amend or renew it, or cancel it first",
                       uscc, id, industry);
}

/* Call fn(ctx, id) for each license id the store's USCC index holds for
 * uscc, until one returns non-zero (-1 with err set); 0 after them all, -1
 * when the store fails. */
static int each_uscc_license(ledger_store *st, const char *uscc, size_t ulen,
                             int (*fn)(void *ctx, const char *id, ledger_err *err), void *ctx,
                             ledger_err *err)
{
    ledger_iter *it = ledger_iter_new(st, CF_BY_USCC);
    if (it == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    int rc = 0;
    for (ledger_iter_seek(it, uscc, ulen); ledger_iter_valid(it); ledger_iter_next(it)) {
        size_t klen;
        const uint8_t *k = ledger_iter_key(it, &klen);
        if (klen <= ulen || memcmp(k, uscc, ulen) != 0)
            break;
        size_t idlen = klen - ulen;
        if (idlen > LEDGER_MAX_LICENSE_ID)
            continue; /* not an id this ledger writes */
        char id[LEDGER_MAX_LICENSE_ID + 1];
        memcpy(id, k + ulen, idlen);
        id[idlen] = '\0';
        if ((rc = fn(ctx, id, err)) != 0)
            break;
    }
    if (rc == 0 && ledger_iter_status(it, err) != 0)
        rc = -1;
    ledger_iter_free(it);
    return rc;
}

struct dup_ctx {
    ledger_exec *x; /* in a block: through its overlay */
    ledger *L;      /* at admission: the store */
    const char *uscc, *industry;
};

static int exec_holds(void *ctx, const char *id, ledger_err *err)
{
    const struct dup_ctx *c = ctx;
    int r = holds(c->x, id, c->uscc, c->industry, err);
    return r < 0 ? -1 : r > 0 ? dup_fail(err, c->uscc, c->industry, id) : 0;
}

static int store_holds(void *ctx, const char *id, ledger_err *err)
{
    const struct dup_ctx *c = ctx;
    ledger_license l;
    int r = ledger_get_license(c->L, id, &l, err);
    if (r <= 0)
        return r;
    int dup = !is_final(l.status) && strcmp(l.industry, c->industry) == 0;
    ledger_license_clear(&l);
    return dup ? dup_fail(err, c->uscc, c->industry, id) : 0;
}

/* The licenses of uscc new in execution `in` (this block's or the one
 * before, whose write is pending), as block x sees them: found by the
 * execution's USCC index, so a block of n applications costs n lookups,
 * not n² record decodes. */
static int scan_new(ledger_exec *x, const ledger_exec *in, const char *uscc,
                    const char *industry, ledger_err *err)
{
    for (long i = ledger_exec_new_of_uscc(in, uscc); i >= 0;
         i = (long)in->lics[i].uscc_prev - 1) {
        char id[LEDGER_MAX_LICENSE_ID + 1];
        snprintf(id, sizeof id, "%s", in->lics[i].id);
        int r = holds(x, id, uscc, industry, err);
        if (r != 0)
            return r < 0 ? -1 : dup_fail(err, uscc, industry, id);
    }
    return 0;
}

int ledger_exec_check_duplicate(ledger_exec *x, const char *uscc, const char *industry,
                                ledger_err *err)
{
    size_t ulen = strlen(uscc);
    if (ulen != 18) /* checked by ledger_tx_check_fields; defensive */
        return ledger_fail(err, LEDGER_ERR_RULE, "uscc_invalid", "uscc must be 18 characters");
    /* licenses of this block and of the block before whose write is pending
     * are not in the store's index yet */
    int r = scan_new(x, x, uscc, industry, err);
    if (r == 0 && x->prev)
        r = scan_new(x, x->prev, uscc, industry, err);
    if (r != 0) {
        if (err->code != LEDGER_ERR_RULE)
            x->broken = 1;
        return -1;
    }
    struct dup_ctx c = {.x = x, .uscc = uscc, .industry = industry};
    r = each_uscc_license(x->L->st, uscc, ulen, exec_holds, &c, err);
    if (r != 0 && err->code != LEDGER_ERR_RULE)
        x->broken = 1;
    return r;
}

int ledger_precheck_duplicate(ledger *L, const char *uscc, const char *industry,
                              ledger_err *err)
{
    size_t ulen = strlen(uscc);
    if (ulen != 18)
        return 0; /* ledger_tx_check_fields refused it already */
    struct dup_ctx c = {.L = L, .uscc = uscc, .industry = industry};
    return each_uscc_license(L->st, uscc, ulen, store_holds, &c, err);
}

/* ---- 秒批: the USCC record ---------------------------------------------------- */

/* The USCC record of uscc as this block sees it: 1 (decoded into *u, its
 * overlay entry in *e), 0 none yet, -1 error. */
static int uscc_load(ledger_exec *x, const char *uscc, ledger_uscc_record *u, lic_entry **e,
                     ledger_err *err)
{
    char id[32];
    ledger_uscc_record_id(uscc, id, sizeof id);
    int r = ledger_exec_lookup(x, id, e, err);
    if (r <= 0)
        return r;
    return ledger_uscc_record_decode(u, (*e)->cur, (*e)->cur_len, err) == 0 ? 1 : -1;
}

int ledger_exec_instant(ledger_exec *x, ledger_license *lic, uint64_t log_index, int *kind,
                        ledger_err *err)
{
    const ledger_genesis *m = x->gov->m;
    ledger_instant_why why;
    /* without the record first: most applications have no instant item */
    if (ledger_instant_decide(m, lic, x->ctx.time, log_index, NULL, &why) == 0)
        return 0;
    ledger_uscc_record *u = malloc(sizeof *u);
    if (u == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    lic_entry *e;
    int r = uscc_load(x, lic->uscc, u, &e, err);
    if (r >= 0) {
        uint32_t mask = ledger_instant_decide(m, lic, x->ctx.time, log_index, r ? u : NULL,
                                              &why);
        if (mask != 0) {
            ledger_instant_approve(lic, mask, x->ctx.time);
            *kind = LEDGER_EVENT_APPLY_INSTANT;
        }
    }
    free(u);
    return r < 0 ? -1 : 0;
}

int ledger_exec_note_revocation(ledger_exec *x, const ledger_license *lic, uint64_t log_index,
                                ledger_err *err)
{
    ledger_uscc_record *u = malloc(sizeof *u);
    if (u == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    lic_entry *e = NULL;
    int r = uscc_load(x, lic->uscc, u, &e, err);
    if (r == 0) {
        memset(u, 0, sizeof *u);
        snprintf(u->uscc, sizeof u->uscc, "%s", lic->uscc);
    }
    uint8_t *rec = NULL;
    size_t len = 0;
    if (r >= 0) {
        ledger_uscc_record_add(u, log_index, x->ctx.time, lic->id);
        if (ledger_uscc_record_encode(u, &rec, &len, err) != 0)
            r = -1;
    }
    free(u);
    if (r < 0)
        return -1;
    if (e == NULL) {
        char id[32];
        ledger_uscc_record_id(lic->uscc, id, sizeof id);
        if (ledger_exec_add_record(x, id, NULL, rec, len, err) != 0) {
            free(rec);
            return -1;
        }
        return 0;
    }
    free(e->cur);
    e->cur = rec;
    e->cur_len = len;
    e->dirty = 1;
    return 0;
}
