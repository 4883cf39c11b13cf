#include "rules.h"

#include <stdlib.h>
#include <string.h>

#include "permit.pb-c.h"
#include "text.h"

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

static int oom(ledger_err *err)
{
    return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
}

int ledger_rules_owns_item(const ledger_genesis *g, const ledger_license *lic, int dept)
{
    const char *id = g->departments[dept].id;
    for (size_t i = 0; i < lic->n_items; i++)
        if (strcmp(lic->items[i].department, id) == 0)
            return 1;
    return 0;
}

static int is_final(int status)
{
    return status == LIC_REJECTED || status == LIC_REVOKED || status == LIC_CANCELLED;
}

static int status_fail(ledger_err *err, const char *rule, const ledger_license *lic,
                       int status, const char *kind, const char *needs)
{
    return ledger_fail(err, LEDGER_ERR_RULE, rule, "%s on license %s needs %s; it is %s",
                       kind, lic->id, needs, ledger_status_name(status));
}

static int apply_new(const ledger_genesis *g, const Permit__Apply *a, uint64_t now,
                     const char *new_id, ledger_license *lic, ledger_err *err)
{
    const ledger_industry *ind = ledger_genesis_industry(g, a->industry);
    if (ind == NULL) /* checked by ledger_tx_check_fields; defensive */
        return ledger_fail(err, LEDGER_ERR_RULE, "industry_unknown", "unknown industry");
    lic->id = dup_str(new_id);
    lic->uscc = dup_str(a->uscc);
    lic->name = dup_str(a->name);
    lic->legal_rep = dup_str(a->legal_rep);
    lic->industry = dup_str(a->industry);
    lic->scope = dup_str(a->scope);
    lic->suspended_by = dup_str("");
    lic->addresses = calloc(1, sizeof *lic->addresses);
    if (!lic->id || !lic->uscc || !lic->name || !lic->legal_rep || !lic->industry ||
        !lic->scope || !lic->suspended_by || !lic->addresses)
        return oom(err);
    lic->n_addresses = 1;
    lic->addresses[0].id = 1;
    lic->addresses[0].primary = 1;
    lic->addresses[0].division = dup_str(a->address->division);
    lic->addresses[0].text = dup_str(a->address->text);
    lic->next_address_id = 2;
    if (!lic->addresses[0].division || !lic->addresses[0].text)
        return oom(err);
    for (size_t i = 0; i < ind->n_items; i++) {
        ledger_item *it = &lic->items[i];
        lic->n_items = i + 1;
        it->permit = dup_str(ind->items[i].permit);
        it->department = dup_str(ind->items[i].department);
        if (!it->permit || !it->department)
            return oom(err);
        it->decision = a->commitment ? DEC_COMMITTED : DEC_PENDING;
        it->decided_at = a->commitment ? now : 0;
    }
    lic->n_documents = a->n_documents;
    for (size_t i = 0; i < a->n_documents; i++)
        memcpy(lic->documents[i], a->documents[i].data, 32);
    lic->applied_at = now;
    lic->commitment = a->commitment ? 1 : 0;
    if (a->holder_key.len == 32 && a->pledge_sha256.len == 32) {
        /* the pledge (checked by ledger_tx_check_fields: pledge_required,
         * pledge_invalid) names the holder */
        lic->has_holder = 1;
        memcpy(lic->holder_key, a->holder_key.data, 32);
        memcpy(lic->pledge_sha256, a->pledge_sha256.data, 32);
    }
    if (a->commitment) {
        /* notify-and-commit (告知承诺): issued at once (秒批), verified later */
        lic->status = LIC_ISSUED_UNVERIFIED;
        lic->issued_at = now;
        lic->expires_at = now + ind->validity_ms;
        lic->verify_deadline = now + ind->verify_within_ms;
    } else {
        lic->status = LIC_PENDING;
    }
    return 0;
}

/* Select the items a decision applies to into sel[] (1 = selected).  An
 * empty list selects every item of the department that `wanted` accepts. */
static int select_items(const ledger_genesis *g, const ledger_license *lic, int dept,
                        const Permit__Decision *d, int (*wanted)(const ledger_item *),
                        const char *done_rule, const char *done_what, uint8_t sel[],
                        ledger_err *err)
{
    const char *dept_id = g->departments[dept].id;
    memset(sel, 0, LEDGER_MAX_ITEMS);
    if (!ledger_rules_owns_item(g, lic, dept))
        return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "department_not_owner",
                           "department %s owns no permit item of license %s", dept_id, lic->id);
    if (d->n_items == 0) {
        int any = 0;
        for (size_t i = 0; i < lic->n_items; i++)
            if (strcmp(lic->items[i].department, dept_id) == 0 && wanted(&lic->items[i]))
                sel[i] = 1, any = 1;
        if (!any)
            return ledger_fail(err, LEDGER_ERR_RULE, done_rule,
                               "every item of department %s on license %s is already %s",
                               dept_id, lic->id, done_what);
        return 0;
    }
    for (size_t k = 0; k < d->n_items; k++) {
        uint32_t i = d->items[k];
        if (i >= lic->n_items)
            return ledger_fail(err, LEDGER_ERR_RULE, "item_invalid",
                               "license %s has %zu items; there is no item %u", lic->id,
                               lic->n_items, i);
        if (strcmp(lic->items[i].department, dept_id) != 0)
            return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "department_not_owner",
                               "item %u (%s) of license %s belongs to %s, not %s", i,
                               lic->items[i].permit, lic->id, lic->items[i].department,
                               dept_id);
        if (!wanted(&lic->items[i]))
            return ledger_fail(err, LEDGER_ERR_RULE, done_rule,
                               "item %u of license %s is already %s", i, lic->id, done_what);
        sel[i] = 1;
    }
    return 0;
}

static int item_pending(const ledger_item *it)
{
    return it->decision == DEC_PENDING;
}

static int item_unverified(const ledger_item *it)
{
    return !it->verified;
}

static int decide(const ledger_genesis *g, const ledger_tx *tx, int dept, uint64_t now,
                  ledger_license *lic, ledger_err *err)
{
    int status = ledger_license_status_at(lic, now);
    uint8_t sel[LEDGER_MAX_ITEMS];
    const Permit__Decision *d = tx->body->decision;
    if (tx->kind == PERMIT__TX_KIND__VERIFY) {
        if (status != LIC_ISSUED_UNVERIFIED && status != LIC_OVERDUE)
            return status_fail(err, "license_not_unverified", lic, status, "VERIFY",
                               "status ISSUED_UNVERIFIED (or OVERDUE)");
        if (select_items(g, lic, dept, d, item_unverified, "already_verified", "verified",
                         sel, err) != 0)
            return -1;
        int all = 1;
        for (size_t i = 0; i < lic->n_items; i++) {
            if (sel[i])
                lic->items[i].verified = 1;
            all &= lic->items[i].verified;
        }
        if (all)
            lic->status = LIC_ISSUED;
        return 0;
    }
    if (status != LIC_PENDING)
        return status_fail(err, "license_not_pending", lic, status,
                           ledger_tx_kind_name(tx->kind), "status PENDING");
    if (select_items(g, lic, dept, d, item_pending, "item_already_decided", "decided", sel,
                     err) != 0)
        return -1;
    int approve = tx->kind == PERMIT__TX_KIND__APPROVE;
    int all = 1;
    for (size_t i = 0; i < lic->n_items; i++) {
        if (sel[i]) {
            lic->items[i].decision = approve ? DEC_APPROVED : DEC_REJECTED;
            lic->items[i].decided_at = now;
        }
        all &= lic->items[i].decision == DEC_APPROVED;
    }
    if (!approve) {
        lic->status = LIC_REJECTED; /* one rejection rejects the application */
    } else if (all) {
        const ledger_industry *ind = ledger_genesis_industry(g, lic->industry);
        if (ind == NULL)
            return ledger_fail(err, LEDGER_ERR_RULE, "industry_unknown",
                               "industry %s of license %s is no longer in the catalogue",
                               lic->industry, lic->id);
        lic->status = LIC_ISSUED;
        lic->issued_at = now;
        lic->expires_at = now + ind->validity_ms;
    }
    return 0;
}

static int add_address(const ledger_genesis *g, const Permit__Address *a, uint64_t now,
                       ledger_license *lic, ledger_err *err)
{
    int status = ledger_license_status_at(lic, now);
    if (!ledger_license_active_at(lic, now))
        return status_fail(err, "license_not_active", lic, status, "ADD_ADDRESS",
                           "an active license (ISSUED or ISSUED_UNVERIFIED)");
    for (size_t i = 0; i < lic->n_addresses; i++)
        if (strcmp(lic->addresses[i].division, a->division) == 0 &&
            strcmp(lic->addresses[i].text, a->text) == 0)
            return ledger_fail(err, LEDGER_ERR_RULE, "address_duplicate",
                               "license %s already lists this address as #%u", lic->id,
                               lic->addresses[i].id);
    if (lic->n_addresses >= g->params.max_addresses)
        return ledger_fail(err, LEDGER_ERR_RULE, "address_limit",
                           "license %s already has %zu addresses; the limit is %u", lic->id,
                           lic->n_addresses, g->params.max_addresses);
    ledger_address *na = realloc(lic->addresses, (lic->n_addresses + 1) * sizeof *na);
    if (na == NULL)
        return oom(err);
    lic->addresses = na;
    ledger_address *ad = &na[lic->n_addresses++];
    ad->id = lic->next_address_id++;
    ad->primary = 0;
    ad->division = dup_str(a->division);
    ad->text = dup_str(a->text);
    if (!ad->division || !ad->text)
        return oom(err);
    return 0;
}

static int remove_address(uint32_t id, uint64_t now, ledger_license *lic, ledger_err *err)
{
    int status = ledger_license_status_at(lic, now);
    if (!ledger_license_active_at(lic, now))
        return status_fail(err, "license_not_active", lic, status, "REMOVE_ADDRESS",
                           "an active license (ISSUED or ISSUED_UNVERIFIED)");
    for (size_t i = 0; i < lic->n_addresses; i++) {
        if (lic->addresses[i].id != id)
            continue;
        if (lic->addresses[i].primary)
            return ledger_fail(err, LEDGER_ERR_RULE, "address_primary",
                               "address #%u is the primary address of %s and cannot be removed",
                               id, lic->id);
        free(lic->addresses[i].division);
        free(lic->addresses[i].text);
        memmove(&lic->addresses[i], &lic->addresses[i + 1],
                (lic->n_addresses - i - 1) * sizeof lic->addresses[0]);
        lic->n_addresses--;
        return 0;
    }
    return ledger_fail(err, LEDGER_ERR_RULE, "address_not_found",
                       "license %s has no address #%u", lic->id, id);
}

static int replace_str(char **slot, const char *v, int *changed)
{
    if (strcmp(*slot, v) == 0)
        return 0;
    char *n = strdup(v);
    if (n == NULL)
        return -1;
    free(*slot);
    *slot = n;
    *changed = 1;
    return 0;
}

static int amend(const Permit__Amend *a, uint64_t now, ledger_license *lic, ledger_err *err)
{
    int status = ledger_license_status_at(lic, now);
    if (status == LIC_EXPIRED)
        return status_fail(err, "license_expired", lic, status, "AMEND",
                           "a license that has not expired");
    int changed = 0;
    if ((a->name_opt_case == PERMIT__AMEND__NAME_OPT_NAME &&
         replace_str(&lic->name, a->name, &changed)) ||
        (a->legal_rep_opt_case == PERMIT__AMEND__LEGAL_REP_OPT_LEGAL_REP &&
         replace_str(&lic->legal_rep, a->legal_rep, &changed)) ||
        (a->scope_opt_case == PERMIT__AMEND__SCOPE_OPT_SCOPE &&
         replace_str(&lic->scope, a->scope, &changed)))
        return oom(err);
    if (!changed)
        return ledger_fail(err, LEDGER_ERR_RULE, "amend_unchanged",
                           "the amendment repeats the values license %s already has", lic->id);
    return 0;
}

static int renew(const ledger_genesis *g, const ledger_tx *tx, int dept, uint64_t now,
                 ledger_license *lic, ledger_err *err)
{
    if (dept == LEDGER_DEPT_HOLDER &&
        (!lic->has_holder || memcmp(lic->holder_key, tx->signer, 32) != 0))
        return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "signer_not_holder",
                           "RENEW must be signed by a registrar or by the holder key of "
                           "license %s; %s", lic->id,
                           lic->has_holder ? "this key is not it" : "the license names none");
    int status = ledger_license_status_at(lic, now);
    int stored = lic->status;
    if (stored != LIC_ISSUED && stored != LIC_ISSUED_UNVERIFIED)
        return status_fail(err, "license_not_active", lic, status, "RENEW",
                           "an issued license");
    const ledger_industry *ind = ledger_genesis_industry(g, lic->industry);
    if (ind == NULL)
        return ledger_fail(err, LEDGER_ERR_RULE, "industry_unknown",
                           "industry %s of license %s is no longer in the catalogue",
                           lic->industry, lic->id);
    uint64_t opens = lic->expires_at > ind->renew_window_ms
                         ? lic->expires_at - ind->renew_window_ms : 0;
    uint64_t closes = lic->expires_at + ind->grace_ms;
    char exp[LEDGER_CST_TEXT], at[LEDGER_CST_TEXT];
    ledger_cst_text(lic->expires_at, exp);
    if (now < opens) {
        ledger_cst_text(opens, at);
        return ledger_fail(err, LEDGER_ERR_RULE, "renew_window",
                           "license %s expires %s; renewal opens %s", lic->id, exp, at);
    }
    if (now >= closes) {
        ledger_cst_text(closes, at);
        return ledger_fail(err, LEDGER_ERR_RULE, "renew_window",
                           "license %s expired %s and its grace period ended %s", lic->id, exp,
                           at);
    }
    uint64_t base = lic->expires_at > now ? lic->expires_at : now;
    lic->expires_at = base + ind->validity_ms;
    return 0;
}

int ledger_rules_check_events(const ledger_license *lic, int kind, ledger_err *err)
{
    uint64_t n = (uint64_t)lic->seq + 1; /* events the license has */
    int filing = kind == PERMIT__TX_KIND__AMEND || kind == PERMIT__TX_KIND__ADD_ADDRESS ||
                 kind == PERMIT__TX_KIND__REMOVE_ADDRESS || kind == PERMIT__TX_KIND__SUSPEND ||
                 kind == PERMIT__TX_KIND__RESUME;
    uint64_t max = filing ? LEDGER_LICENSE_FILINGS_MAX : LEDGER_MAX_LICENSE_EVENTS;
    if (n >= max)
        return ledger_fail(err, LEDGER_ERR_RULE, "license_events_full",
                           "license %s has %llu events; %s is refused from %llu on (a "
                           "license's history is bounded so that its proof bundle stays "
                           "verifiable)",
                           lic->id, (unsigned long long)n, ledger_tx_kind_name(kind),
                           (unsigned long long)max);
    return 0;
}

int ledger_rules_apply(const ledger_genesis *g, const ledger_tx *tx, int dept,
                       uint64_t now, const char *new_id, ledger_license *lic,
                       ledger_err *err)
{
    const Permit__TxBody *b = tx->body;
    if (tx->kind == PERMIT__TX_KIND__APPLY)
        return apply_new(g, b->apply, now, new_id, lic, err);

    int status = ledger_license_status_at(lic, now);
    if (is_final(lic->status))
        return ledger_fail(err, LEDGER_ERR_RULE, "license_final",
                           "license %s is %s; no further %s is possible", lic->id,
                           ledger_status_name(lic->status), ledger_tx_kind_name(tx->kind));
    if (ledger_license_overdue_at(lic, now) &&
        (tx->kind == PERMIT__TX_KIND__RENEW || tx->kind == PERMIT__TX_KIND__AMEND ||
         tx->kind == PERMIT__TX_KIND__ADD_ADDRESS || tx->kind == PERMIT__TX_KIND__REMOVE_ADDRESS))
    {
        char dl[LEDGER_CST_TEXT];
        ledger_cst_text(lic->verify_deadline, dl);
        return ledger_fail(err, LEDGER_ERR_RULE, "license_overdue",
                           "license %s was issued on the applicant's commitment and its "
                           "verification deadline (%s) has passed unverified; no %s until "
                           "every owning department has verified it",
                           lic->id, dl, ledger_tx_kind_name(tx->kind));
    }
    const char *dept_id = dept >= 0 ? g->departments[dept].id : "";
    switch (tx->kind) {
    case PERMIT__TX_KIND__APPROVE:
    case PERMIT__TX_KIND__REJECT:
    case PERMIT__TX_KIND__VERIFY:
        return decide(g, tx, dept, now, lic, err);
    case PERMIT__TX_KIND__ADD_ADDRESS:
        return add_address(g, b->add_address->address, now, lic, err);
    case PERMIT__TX_KIND__REMOVE_ADDRESS:
        return remove_address(b->remove_address->address_id, now, lic, err);
    case PERMIT__TX_KIND__AMEND:
        return amend(b->amend, now, lic, err);
    case PERMIT__TX_KIND__SUSPEND:
        if (status != LIC_ISSUED)
            return status_fail(err, "license_not_issued", lic, status, "SUSPEND",
                               "status ISSUED");
        if (!ledger_rules_owns_item(g, lic, dept))
            return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "department_not_owner",
                               "department %s owns no permit item of license %s", dept_id,
                               lic->id);
        lic->status = LIC_SUSPENDED;
        free(lic->suspended_by);
        lic->suspended_by = dup_str(dept_id);
        return lic->suspended_by ? 0 : oom(err);
    case PERMIT__TX_KIND__RESUME:
        if (status != LIC_SUSPENDED)
            return status_fail(err, "license_not_suspended", lic, status, "RESUME",
                               "status SUSPENDED");
        if (strcmp(lic->suspended_by, dept_id) != 0)
            return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "resume_by_suspender",
                               "license %s was suspended by %s; only %s can resume it",
                               lic->id, lic->suspended_by, lic->suspended_by);
        lic->status = LIC_ISSUED;
        lic->suspended_by[0] = '\0';
        return 0;
    case PERMIT__TX_KIND__REVOKE:
        if (status != LIC_ISSUED && status != LIC_ISSUED_UNVERIFIED && status != LIC_OVERDUE &&
            status != LIC_SUSPENDED)
            return status_fail(err, "license_not_revocable", lic, status, "REVOKE",
                               "an issued or suspended license that has not expired");
        if (!ledger_rules_owns_item(g, lic, dept))
            return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "department_not_owner",
                               "department %s owns no permit item of license %s", dept_id,
                               lic->id);
        lic->status = LIC_REVOKED;
        lic->suspended_by[0] = '\0';
        return 0;
    case PERMIT__TX_KIND__RENEW:
        return renew(g, tx, dept, now, lic, err);
    case PERMIT__TX_KIND__SET_HOLDER_KEY:
        /* the new key's signature over the license id: check_fields */
        lic->has_holder = 1;
        memcpy(lic->holder_key, b->holder_key->key.data, 32);
        return 0;
    case PERMIT__TX_KIND__CANCEL:
        lic->status = LIC_CANCELLED; /* 注销: any non-final license, expired or not */
        lic->suspended_by[0] = '\0';
        return 0;
    }
    return ledger_fail(err, LEDGER_ERR_RULE, "kind_unknown", "unknown transaction kind");
}
