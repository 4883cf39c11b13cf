/* cli/cmd_license.c: the commands that write: filings signed by a registrar
 * (apply, address add/remove, amend, renew, cancel) and decisions signed
 * with a department's seal key (approve, reject, verify, suspend, resume,
 * revoke).  Each builds a permit.TxBody and hands it to cli_write. */
#include "commands.h"

#include <string.h>

#include "ledger/license.h"
#include "ledger/text.h"
#include "ledger/tx.h"
#include "sign.h"

/* A text option: single-line (or multi-line) well-formed UTF-8 without
 * control characters, as the ledger will demand.  NULL stays NULL. */
static int text_opt(const cli_args *a, const char *name, int multiline, const char **out,
                    cli_error *err)
{
    const char *s = cli_arg(a, name);
    *out = s;
    if (s == NULL)
        return CLI_EXIT_OK;
    size_t n = strlen(s);
    if (!(multiline ? ledger_utf8_valid_multiline(s, n) : ledger_utf8_valid(s, n)))
        return cli_fail(err, CLI_EXIT_USAGE,
                        "--%s: not valid UTF-8 text%s (is the terminal set to UTF-8?)", name,
                        multiline ? " (CR and control characters are refused)"
                                  : " on one line (control characters are refused)");
    return CLI_EXIT_OK;
}

/* ---- registrar filings -------------------------------------------------- */

static int cmd_apply(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *uscc, *name, *rep, *industry, *division, *address, *scope;
    uint8_t docs[LEDGER_MAX_DOCUMENTS][32];
    ProtobufCBinaryData doc_bin[LEDGER_MAX_DOCUMENTS];
    uint8_t nonce[LEDGER_NONCE_LEN];
    int rc;
    if ((rc = text_opt(a, "uscc", 0, &uscc, err)) != 0 ||
        (rc = text_opt(a, "name", 0, &name, err)) != 0 ||
        (rc = text_opt(a, "legal-rep", 0, &rep, err)) != 0 ||
        (rc = text_opt(a, "industry", 0, &industry, err)) != 0 ||
        (rc = text_opt(a, "division", 0, &division, err)) != 0 ||
        (rc = text_opt(a, "address", 0, &address, err)) != 0 ||
        (rc = text_opt(a, "scope", 1, &scope, err)) != 0)
        return rc;
    size_t n_docs = cli_arg_count(a, "document");
    if (n_docs > LEDGER_MAX_DOCUMENTS)
        return cli_fail(err, CLI_EXIT_USAGE, "--document: at most %d documents",
                        LEDGER_MAX_DOCUMENTS);
    for (size_t i = 0; i < n_docs; i++) {
        if ((rc = cli_parse_hex("--document", cli_arg_nth(a, "document", i), docs[i], 32,
                                err)) != 0)
            return rc;
        doc_bin[i].data = docs[i];
        doc_bin[i].len = 32;
    }
    ledger_err le;
    if (ledger_uscc_check(uscc, &le) != 0) {
        cli_fail(err, CLI_EXIT_REJECTED, "rejected (rule %s): --uscc: %s",
                 le.rule ? le.rule : "uscc_invalid", le.msg);
        snprintf(err->rule, sizeof err->rule, "%s", le.rule ? le.rule : "uscc_invalid");
        return CLI_EXIT_REJECTED;
    }

    Permit__TxBody b;
    Permit__Apply ap = PERMIT__APPLY__INIT;
    Permit__Address ad = PERMIT__ADDRESS__INIT;
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0)
        return rc;
    ap.uscc = (char *)uscc;
    ap.name = (char *)name;
    ap.legal_rep = (char *)rep;
    ap.industry = (char *)industry;
    ap.scope = (char *)(scope ? scope : "");
    ad.division = (char *)division;
    ad.text = (char *)address;
    ap.address = &ad;
    ap.commitment = cli_arg_count(a, "commitment") > 0;
    /* the holder's pledge (permit pledge sign): all three or none */
    const char *hkey = cli_arg(a, "holder-key"), *ptext = cli_arg(a, "pledge-text"),
               *psig = cli_arg(a, "pledge-sig");
    uint8_t holder[32], text_sha[32], sig[64];
    if (hkey || ptext || psig) {
        if (!hkey || !ptext || !psig)
            return cli_fail(err, CLI_EXIT_USAGE, "apply: the pledge needs --holder-key, "
                            "--pledge-text and --pledge-sig together");
        if ((rc = cli_parse_hex("--holder-key", hkey, holder, 32, err)) != 0 ||
            (rc = cli_parse_hex("--pledge-sig", psig, sig, 64, err)) != 0 ||
            (rc = cli_pledge_text_hash("--pledge-text", ptext, text_sha, err)) != 0)
            return rc;
        ap.holder_key.data = holder;
        ap.holder_key.len = 32;
        ap.pledge_sha256.data = text_sha;
        ap.pledge_sha256.len = 32;
        ap.pledge_sig.data = sig;
        ap.pledge_sig.len = 64;
    }
    ap.n_documents = n_docs;
    ap.documents = n_docs ? doc_bin : NULL;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_APPLY;
    b.apply = &ap;
    return cli_write(ctx, a, &b, err);
}

static int cmd_address_add(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *division, *text;
    uint8_t nonce[LEDGER_NONCE_LEN];
    int rc;
    if ((rc = text_opt(a, "division", 0, &division, err)) != 0 ||
        (rc = text_opt(a, "address", 0, &text, err)) != 0)
        return rc;
    Permit__TxBody b;
    Permit__AddAddress aa = PERMIT__ADD_ADDRESS__INIT;
    Permit__Address ad = PERMIT__ADDRESS__INIT;
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0)
        return rc;
    b.license_id = (char *)a->pos[0];
    ad.division = (char *)division;
    ad.text = (char *)text;
    aa.address = &ad;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_ADD_ADDRESS;
    b.add_address = &aa;
    return cli_write(ctx, a, &b, err);
}

static int cmd_address_remove(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    uint64_t id;
    uint8_t nonce[LEDGER_NONCE_LEN];
    int rc = cli_parse_u64("--address-id", cli_arg(a, "address-id"), 1, UINT32_MAX, &id, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    Permit__TxBody b;
    Permit__RemoveAddress ra = PERMIT__REMOVE_ADDRESS__INIT;
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0)
        return rc;
    b.license_id = (char *)a->pos[0];
    ra.address_id = (uint32_t)id;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REMOVE_ADDRESS;
    b.remove_address = &ra;
    return cli_write(ctx, a, &b, err);
}

static int cmd_amend(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *name, *rep, *scope;
    uint8_t nonce[LEDGER_NONCE_LEN];
    int rc;
    if ((rc = text_opt(a, "name", 0, &name, err)) != 0 ||
        (rc = text_opt(a, "legal-rep", 0, &rep, err)) != 0 ||
        (rc = text_opt(a, "scope", 1, &scope, err)) != 0)
        return rc;
    if (!name && !rep && !scope)
        return cli_fail(err, CLI_EXIT_USAGE,
                        "amend: give at least one of --name, --legal-rep, --scope");
    Permit__TxBody b;
    Permit__Amend am = PERMIT__AMEND__INIT;
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0)
        return rc;
    b.license_id = (char *)a->pos[0];
    if (name) {
        am.name_opt_case = PERMIT__AMEND__NAME_OPT_NAME;
        am.name = (char *)name;
    }
    if (rep) {
        am.legal_rep_opt_case = PERMIT__AMEND__LEGAL_REP_OPT_LEGAL_REP;
        am.legal_rep = (char *)rep;
    }
    if (scope) {
        am.scope_opt_case = PERMIT__AMEND__SCOPE_OPT_SCOPE;
        am.scope = (char *)scope;
    }
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_AMEND;
    b.amend = &am;
    return cli_write(ctx, a, &b, err);
}

/* SUSPEND, RESUME, REVOKE, CANCEL, RENEW: a Reason payload. */
static int cmd_reason(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *reason;
    uint8_t nonce[LEDGER_NONCE_LEN];
    int rc = text_opt(a, "reason", 1, &reason, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    Permit__TxBody b;
    Permit__Reason r = PERMIT__REASON__INIT;
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0)
        return rc;
    b.license_id = (char *)a->pos[0];
    r.reason = (char *)(reason ? reason : "");
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
    b.reason = &r;
    return cli_write(ctx, a, &b, err);
}

/* APPROVE, REJECT, VERIFY: a Decision payload. */
static int cmd_decide(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *reason;
    uint32_t items[LEDGER_MAX_ITEMS];
    uint8_t nonce[LEDGER_NONCE_LEN];
    int rc = text_opt(a, "reason", 1, &reason, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    size_t n = cli_arg_count(a, "item");
    if (n > LEDGER_MAX_ITEMS)
        return cli_fail(err, CLI_EXIT_USAGE, "--item: at most %d items", LEDGER_MAX_ITEMS);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if ((rc = cli_parse_u64("--item", cli_arg_nth(a, "item", i), 0, LEDGER_MAX_ITEMS - 1,
                                &v, err)) != 0)
            return rc;
        items[i] = (uint32_t)v;
    }
    /* VERIFY: the evidence of the check (all three or none) */
    Permit__Evidence ev = PERMIT__EVIDENCE__INIT;
    uint8_t ev_hash[32];
    const char *method = cli_arg(a, "evidence"), *note = NULL;
    if ((rc = text_opt(a, "evidence-note", 1, &note, err)) != CLI_EXIT_OK)
        return rc;
    if (method != NULL) {
        int known = 0;
        for (size_t i = 0; ledger_evidence_methods[i]; i++)
            known |= strcmp(method, ledger_evidence_methods[i]) == 0;
        if (!known)
            return cli_fail(err, CLI_EXIT_USAGE,
                            "--evidence: '%.40s' is not on_site, remote_video or documents",
                            method);
        if (cli_arg(a, "evidence-sha256") == NULL)
            return cli_fail(err, CLI_EXIT_USAGE,
                            "--evidence needs --evidence-sha256 (SHA-256 of the check's record)");
        if ((rc = cli_parse_hex("--evidence-sha256", cli_arg(a, "evidence-sha256"), ev_hash,
                                32, err)) != 0)
            return rc;
        ev.method = (char *)method;
        ev.sha256.data = ev_hash;
        ev.sha256.len = 32;
        ev.note = (char *)(note ? note : "");
    } else if (cli_arg(a, "evidence-sha256") != NULL || note != NULL) {
        return cli_fail(err, CLI_EXIT_USAGE,
                        "--evidence-sha256 and --evidence-note need --evidence METHOD");
    }
    Permit__TxBody b;
    Permit__Decision d = PERMIT__DECISION__INIT;
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0)
        return rc;
    if (method != NULL)
        d.evidence = &ev;
    b.license_id = (char *)a->pos[0];
    d.n_items = n;
    d.items = n ? items : NULL;
    d.reason = (char *)(reason ? reason : "");
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_DECISION;
    b.decision = &d;
    return cli_write(ctx, a, &b, err);
}

/* ---- tables ------------------------------------------------------------- */

static const cli_option apply_opts[] = {
    {"uscc", "CODE", CLI_OPT_REQUIRED, "unified social credit code of the applicant (18 characters)"},
    {"name", "NAME", CLI_OPT_REQUIRED, "business name"},
    {"legal-rep", "NAME", CLI_OPT_REQUIRED, "legal representative"},
    {"industry", "CODE", CLI_OPT_REQUIRED, "industry of the catalogue (e.g. convenience-store)"},
    {"division", "CODE", CLI_OPT_REQUIRED, "division code of the primary address (6, 9 or 12 digits)"},
    {"address", "TEXT", CLI_OPT_REQUIRED, "primary business address"},
    {"scope", "TEXT", 0, "business scope"},
    {"commitment", NULL, 0, "notify-and-commit route (告知承诺): issued at once, verified later; "
                            "needs the holder's pledge"},
    {"holder-key", "PUBHEX", 0, "the holder's e-seal public key (with --commitment)"},
    {"pledge-text", "FILE", 0, "the pledge text the holder signed (its SHA-256 goes on the license)"},
    {"pledge-sig", "HEX", 0, "the holder's pledge signature (permit pledge sign)"},
    {"document", "SHA256HEX", CLI_OPT_MULTI, "SHA-256 of an off-chain document (at most 16)"},
    {NULL},
};

static const cli_option address_add_opts[] = {
    {"division", "CODE", CLI_OPT_REQUIRED, "division code of the address, inside the chain's region"},
    {"address", "TEXT", CLI_OPT_REQUIRED, "the address"},
    {NULL},
};

static const cli_option address_remove_opts[] = {
    {"address-id", "N", CLI_OPT_REQUIRED, "id of the address (see permit address list)"},
    {NULL},
};

static const cli_option amend_opts[] = {
    {"name", "NAME", 0, "new business name"},
    {"legal-rep", "NAME", 0, "new legal representative"},
    {"scope", "TEXT", 0, "new business scope"},
    {NULL},
};

static const cli_option reason_required_opts[] = {
    {"reason", "TEXT", CLI_OPT_REQUIRED, "the reason, recorded in the license's history"},
    {NULL},
};

static const cli_option reason_optional_opts[] = {
    {"reason", "TEXT", 0, "a note recorded in the license's history"},
    {NULL},
};

static const cli_option decide_opts[] = {
    {"reason", "TEXT", 0, "a note recorded in the license's history"},
    {"item", "N", CLI_OPT_MULTI, "decide only this item (index from permit show); default: all "
                                 "of the department's items"},
    {NULL},
};

static const cli_option verify_opts[] = {
    {"reason", "TEXT", 0, "a note recorded in the license's history"},
    {"item", "N", CLI_OPT_MULTI, "verify only this item (index from permit show); default: all "
                                 "of the department's items"},
    {"evidence", "METHOD", 0, "how it was checked: on_site, remote_video or documents"},
    {"evidence-sha256", "SHA256HEX", 0, "SHA-256 of the check's record (photos, video, report)"},
    {"evidence-note", "TEXT", 0, "a note on the check"},
    {NULL},
};

static const cli_option reject_opts[] = {
    {"reason", "TEXT", CLI_OPT_REQUIRED, "why the application is rejected"},
    {"item", "N", CLI_OPT_MULTI, "reject only this item (index from permit show)"},
    {NULL},
};

#define LIC "LICENSE"

const cli_command cli_filing_commands[] = {
    {"apply", "", 0, 0, apply_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__APPLY,
     "file an application for an integrated license; prints the license id",
     "Signed with a registrar key.  Prints the license id the ledger assigned once the\n"
     "application is committed (with --no-wait: the transaction id).",
     cmd_apply},
    {"address add", LIC, 1, 1, address_add_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__ADD_ADDRESS,
     "file an additional business address (一照多址)",
     "Signed with a registrar key.  The license must be active.", cmd_address_add},
    {"address remove", LIC, 1, 1, address_remove_opts, CLI_CMD_WRITE,
     PERMIT__TX_KIND__REMOVE_ADDRESS, "remove a filed address (not the primary one)",
     "Signed with a registrar key.", cmd_address_remove},
    {"amend", LIC, 1, 1, amend_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__AMEND,
     "change the name, legal representative or scope",
     "Signed with a registrar key.  The history keeps the old values.", cmd_amend},
    {"renew", LIC, 1, 1, reason_optional_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__RENEW,
     "renew a license inside its renewal window or grace period",
     "Signed with a registrar key, or with the license's holder key (无感智办: the\n"
     "holder confirms and the renewal is done; see permit holder set).", cmd_reason},
    {"cancel", LIC, 1, 1, reason_required_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__CANCEL,
     "cancel (注销) a license at the applicant's request",
     "Signed with a registrar key.", cmd_reason},
    {NULL},
};

const cli_command cli_decision_commands[] = {
    {"approve", LIC, 1, 1, decide_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__APPROVE,
     "approve the department's permit items of a pending license",
     "Signed with the department's seal key.  The last approval issues the license.",
     cmd_decide},
    {"reject", LIC, 1, 1, reject_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__REJECT,
     "reject a pending license (one rejection rejects it)",
     "Signed with the department's seal key.", cmd_decide},
    {"verify", LIC, 1, 1, verify_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__VERIFY,
     "verify a commitment-route license (ISSUED_UNVERIFIED)",
     "Signed with the department's seal key.  The last verification makes it ISSUED.",
     cmd_decide},
    {"suspend", LIC, 1, 1, reason_required_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__SUSPEND,
     "suspend an issued license", "Signed with the seal key of a department owning an item.",
     cmd_reason},
    {"resume", LIC, 1, 1, reason_required_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__RESUME,
     "lift a suspension", "Signed with the seal key of the department that suspended it.",
     cmd_reason},
    {"revoke", LIC, 1, 1, reason_required_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__REVOKE,
     "revoke a license (final)", "Signed with the seal key of a department owning an item.",
     cmd_reason},
    {NULL},
};
