/* cli/cmd_gov.c: governance and the membership in force (DESIGN §8, §11):
 * gov propose, gov approve, key retire (writes, signed like every write and
 * with --sign-only), gov list, gov show, and the lists of industries,
 * departments, registrars and observers (reads over the public RPC). */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/gov.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/text.h"
#include "output.h"
#include "rpc_client.h"
#include "sign.h"

#define INDUSTRY_FILE_MAX (64 * 1024)

/* ---- writes -------------------------------------------------------------- */

/* A 64-hex-digit x-only public key that names a point. */
static int pub_arg(const char *what, const char *s, uint8_t out[32], cli_error *err)
{
    int rc = cli_parse_hex(what, s, out, 32, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    ledger_pubkey pk;
    if (ledger_pubkey_parse(&pk, out) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "%s: not a valid x-only public key", what);
    return CLI_EXIT_OK;
}

static int text_arg(const char *what, const char *s, cli_error *err)
{
    if (s == NULL || s[0] == '\0' || !ledger_utf8_valid(s, strlen(s)))
        return cli_fail(err, CLI_EXIT_USAGE, "%s: not valid single-line UTF-8 text", what);
    return CLI_EXIT_OK;
}

static int duration_field(json_t *o, const char *key, int required, uint64_t *out,
                          cli_error *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        if (required)
            return cli_fail(err, CLI_EXIT_USAGE, "industry file: \"%s\" is missing", key);
        return CLI_EXIT_OK;
    }
    if (!json_is_string(v) || ledger_duration_parse(json_string_value(v), out) != 0)
        return cli_fail(err, CLI_EXIT_USAGE,
                        "industry file: \"%s\" must be a duration such as \"90d\" or \"5y\"",
                        key);
    return CLI_EXIT_OK;
}

/* An industry in the genesis file's form (docs/genesis.md, industries[]),
 * read from a file into ind, whose strings point into *doc (keep it until
 * the transaction is signed). */
static int read_industry(const char *path, json_t **doc, Permit__GovIndustry *ind,
                         Permit__GovItem *items, Permit__GovItem **item_ptrs, cli_error *err)
{
    uint8_t *buf;
    size_t n;
    int rc = cli_read_file("set-industry", path, INDUSTRY_FILE_MAX, &buf, &n, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_error_t je;
    *doc = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (*doc == NULL || !json_is_object(*doc))
        return cli_fail(err, CLI_EXIT_USAGE, "%s: not a JSON object (%s)", path, je.text);
    json_t *o = *doc;
    const char *code = json_string_value(json_object_get(o, "code"));
    const char *name = json_string_value(json_object_get(o, "name"));
    if (code == NULL || name == NULL)
        return cli_fail(err, CLI_EXIT_USAGE, "industry file: \"code\" and \"name\" are required");
    ind->code = (char *)code;
    ind->name = (char *)name;
    uint64_t renew = 90 * UINT64_C(86400000), grace = 180 * UINT64_C(86400000), verify = 0;
    if ((rc = duration_field(o, "validity", 1, &ind->validity_ms, err)) != 0 ||
        (rc = duration_field(o, "renew_window", 0, &renew, err)) != 0 ||
        (rc = duration_field(o, "grace", 0, &grace, err)) != 0 ||
        (rc = duration_field(o, "verify_within", 0, &verify, err)) != 0)
        return rc;
    ind->renew_window_ms = renew;
    ind->grace_ms = grace;
    json_t *ca = json_object_get(o, "commitment_allowed");
    if (ca != NULL && !json_is_boolean(ca))
        return cli_fail(err, CLI_EXIT_USAGE, "industry file: \"commitment_allowed\" is a boolean");
    ind->commitment_allowed = ca != NULL && json_is_true(ca);
    ind->verify_within_ms = ind->commitment_allowed ? verify : 0;
    json_t *arr = json_object_get(o, "items");
    size_t k = json_is_array(arr) ? json_array_size(arr) : 0;
    if (k < 1 || k > LEDGER_MAX_ITEMS)
        return cli_fail(err, CLI_EXIT_USAGE, "industry file: \"items\" holds 1 to %d items",
                        LEDGER_MAX_ITEMS);
    for (size_t i = 0; i < k; i++) {
        json_t *it = json_array_get(arr, i);
        permit__gov_item__init(&items[i]);
        items[i].permit = (char *)json_string_value(json_object_get(it, "permit"));
        items[i].department = (char *)json_string_value(json_object_get(it, "department"));
        if (items[i].permit == NULL || items[i].department == NULL)
            return cli_fail(err, CLI_EXIT_USAGE,
                            "industry file: items[%zu] needs \"permit\" and \"department\"", i);
        json_t *inst = json_object_get(it, "instant");
        if (inst != NULL && !json_is_boolean(inst))
            return cli_fail(err, CLI_EXIT_USAGE,
                            "industry file: items[%zu].instant is a boolean", i);
        items[i].instant = inst != NULL && json_is_true(inst);
        item_ptrs[i] = &items[i];
    }
    ind->n_items = k;
    ind->items = item_ptrs;
    return CLI_EXIT_OK;
}

/* set-param VALUE: an integer, or a duration for the parameters that are
 * one (tx_window, gov_window, block_interval, heartbeat, instant_ban), in ms. */
static int param_value(const char *name, const char *s, uint64_t *v, cli_error *err)
{
    static const char *const durations[] = {"tx_window", "gov_window", "block_interval",
                                            "heartbeat", "instant_ban"};
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++)
        if (strcmp(name, durations[i]) == 0) {
            if (ledger_duration_parse(s, v) != 0)
                return cli_fail(err, CLI_EXIT_USAGE,
                                "set-param %s: VALUE is a duration such as \"2h\"", name);
            return CLI_EXIT_OK;
        }
    return cli_parse_u64("set-param VALUE", s, 1, UINT64_MAX, v, err);
}

static int want_args(const cli_args *a, size_t n, const char *usage, cli_error *err)
{
    if (a->n_pos != n + 1)
        return cli_fail(err, CLI_EXIT_USAGE, "usage: permit gov propose %s", usage);
    return CLI_EXIT_OK;
}

static int cmd_gov_propose(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    Permit__TxBody b;
    Permit__GovPropose gp = PERMIT__GOV_PROPOSE__INIT;
    Permit__GovChange gc = PERMIT__GOV_CHANGE__INIT;
    Permit__GovIndustry ind = PERMIT__GOV_INDUSTRY__INIT;
    Permit__GovItem items[LEDGER_MAX_ITEMS];
    Permit__GovItem *item_ptrs[LEDGER_MAX_ITEMS];
    uint8_t key[32], node_key[32], nonce[LEDGER_NONCE_LEN];
    json_t *doc = NULL;
    const char *what = a->pos[0];
    const char *seal = cli_arg(a, "seal"), *node = cli_arg(a, "node");
    int rc;
    int type = ledger_gov_change_parse(what);
    if (type < 0) { /* the CLI spells them with dashes */
        char u[32];
        snprintf(u, sizeof u, "%s", what);
        for (char *p = u; *p; p++)
            if (*p == '-')
                *p = '_';
        type = ledger_gov_change_parse(u);
    }
    if (type < 0)
        return cli_fail(err, CLI_EXIT_USAGE,
                        "gov propose: unknown change \"%.40s\" (add-registrar, remove-registrar, "
                        "add-department, remove-department, rotate-key, add-observer, "
                        "remove-observer, set-industry, remove-industry, set-param)", what);
    gc.type = (uint32_t)type;
    const char *dept = cli_arg(a, "department");
    switch (type) {
    case LEDGER_GOV_ADD_REGISTRAR:
        if ((rc = want_args(a, 2, "add-registrar NAME PUBKEY --department ID", err)) != 0 ||
            (rc = text_arg("NAME", a->pos[1], err)) != 0 ||
            (rc = pub_arg("PUBKEY", a->pos[2], key, err)) != 0)
            return rc;
        if (dept == NULL)
            return cli_fail(err, CLI_EXIT_USAGE,
                            "add-registrar: --department names the authorising department");
        gc.name = (char *)a->pos[1];
        gc.department = (char *)dept;
        gc.key.data = key;
        gc.key.len = 32;
        break;
    case LEDGER_GOV_REMOVE_REGISTRAR:
        if ((rc = want_args(a, 1, "remove-registrar PUBKEY", err)) != 0 ||
            (rc = pub_arg("PUBKEY", a->pos[1], key, err)) != 0)
            return rc;
        gc.key.data = key;
        gc.key.len = 32;
        break;
    case LEDGER_GOV_ADD_DEPARTMENT:
        if ((rc = want_args(a, 2, "add-department ID NAME --seal PUB [--node PUB --p2p HOST:PORT "
                                  "--validator]", err)) != 0 ||
            (rc = text_arg("NAME", a->pos[2], err)) != 0)
            return rc;
        if (seal == NULL)
            return cli_fail(err, CLI_EXIT_USAGE, "add-department: --seal is required");
        if ((rc = pub_arg("--seal", seal, key, err)) != 0)
            return rc;
        gc.department = (char *)a->pos[1];
        gc.name = (char *)a->pos[2];
        gc.key.data = key;
        gc.key.len = 32;
        if (node) {
            if ((rc = pub_arg("--node", node, node_key, err)) != 0)
                return rc;
            gc.node_key.data = node_key;
            gc.node_key.len = 32;
        }
        if (cli_arg(a, "p2p"))
            gc.p2p = (char *)cli_arg(a, "p2p");
        if ((cli_arg_count(a, "validator") > 0) != (node != NULL && gc.p2p[0] != '\0'))
            return cli_fail(err, CLI_EXIT_USAGE,
                            "add-department: --validator goes with --node and --p2p");
        break;
    case LEDGER_GOV_REMOVE_DEPARTMENT:
        if ((rc = want_args(a, 1, "remove-department ID", err)) != 0)
            return rc;
        gc.department = (char *)a->pos[1];
        break;
    case LEDGER_GOV_ROTATE_KEY:
        if ((rc = want_args(a, 1, "rotate-key ID (--seal PUB | --node PUB)", err)) != 0)
            return rc;
        if ((seal == NULL) == (node == NULL))
            return cli_fail(err, CLI_EXIT_USAGE, "rotate-key: give exactly one of --seal, --node");
        gc.department = (char *)a->pos[1];
        if (seal) {
            if ((rc = pub_arg("--seal", seal, key, err)) != 0)
                return rc;
            gc.key.data = key;
            gc.key.len = 32;
        } else {
            if ((rc = pub_arg("--node", node, node_key, err)) != 0)
                return rc;
            gc.node_key.data = node_key;
            gc.node_key.len = 32;
        }
        break;
    case LEDGER_GOV_ADD_OBSERVER:
        if ((rc = want_args(a, 2, "add-observer NAME PUBKEY", err)) != 0 ||
            (rc = text_arg("NAME", a->pos[1], err)) != 0 ||
            (rc = pub_arg("PUBKEY", a->pos[2], node_key, err)) != 0)
            return rc;
        gc.name = (char *)a->pos[1];
        gc.node_key.data = node_key;
        gc.node_key.len = 32;
        break;
    case LEDGER_GOV_REMOVE_OBSERVER:
        if ((rc = want_args(a, 1, "remove-observer PUBKEY", err)) != 0 ||
            (rc = pub_arg("PUBKEY", a->pos[1], node_key, err)) != 0)
            return rc;
        gc.node_key.data = node_key;
        gc.node_key.len = 32;
        break;
    case LEDGER_GOV_SET_INDUSTRY:
        if ((rc = want_args(a, 1, "set-industry FILE.json", err)) != 0 ||
            (rc = read_industry(a->pos[1], &doc, &ind, items, item_ptrs, err)) != 0) {
            json_decref(doc);
            return rc;
        }
        gc.industry = &ind;
        break;
    case LEDGER_GOV_REMOVE_INDUSTRY:
        if ((rc = want_args(a, 1, "remove-industry CODE", err)) != 0)
            return rc;
        gc.code = (char *)a->pos[1];
        break;
    default: /* set_param */
        if ((rc = want_args(a, 2, "set-param NAME VALUE", err)) != 0 ||
            (rc = param_value(a->pos[1], a->pos[2], &gc.value, err)) != 0)
            return rc;
        gc.name = (char *)a->pos[1];
        break;
    }
    if ((type != LEDGER_GOV_ADD_REGISTRAR && dept != NULL) ||
        ((seal || node) && type != LEDGER_GOV_ADD_DEPARTMENT && type != LEDGER_GOV_ROTATE_KEY) ||
        (cli_arg(a, "p2p") && type != LEDGER_GOV_ADD_DEPARTMENT)) {
        json_decref(doc);
        return cli_fail(err, CLI_EXIT_USAGE, "gov propose %s: an option it does not take", what);
    }
    const char *exp = cli_arg(a, "expires-in");
    uint64_t within = 0;
    if (exp && ledger_duration_parse(exp, &within) != 0) {
        json_decref(doc);
        return cli_fail(err, CLI_EXIT_USAGE, "--expires-in: a duration such as \"3d\"");
    }
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0) {
        json_decref(doc);
        return rc;
    }
    gp.change = &gc;
    gp.expires_at = within ? cli_now_ms() + within : 0;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_GOV_PROPOSE;
    b.gov_propose = &gp;
    rc = cli_write(ctx, a, &b, err);
    json_decref(doc);
    return rc;
}

static int cmd_gov_approve(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    uint64_t id;
    uint8_t nonce[LEDGER_NONCE_LEN];
    int rc = cli_parse_u64("PROPOSAL", a->pos[0], 1, UINT32_MAX, &id, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    Permit__TxBody b;
    Permit__GovApprove ga = PERMIT__GOV_APPROVE__INIT;
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0)
        return rc;
    ga.proposal_id = (uint32_t)id;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_GOV_APPROVE;
    b.gov_approve = &ga;
    return cli_write(ctx, a, &b, err);
}

static int cmd_key_retire(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    uint8_t nonce[LEDGER_NONCE_LEN];
    const char *reason = cli_arg(a, "reason");
    if (reason && !ledger_utf8_valid_multiline(reason, strlen(reason)))
        return cli_fail(err, CLI_EXIT_USAGE, "--reason: not valid UTF-8 text");
    Permit__TxBody b;
    Permit__Reason r = PERMIT__REASON__INIT;
    int rc = cli_body_init(&b, a->cmd->kind, nonce, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    r.reason = (char *)(reason ? reason : "");
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_REASON;
    b.reason = &r;
    return cli_write(ctx, a, &b, err);
}

/* ---- reads --------------------------------------------------------------- */

static void put_text(FILE *f, const char *label, json_t *v)
{
    char buf[600];
    cli_clean_text(buf, sizeof buf, json_is_string(v) ? json_string_value(v) : "");
    fprintf(f, "%s%s", label, buf);
}

static void print_industries(FILE *f, json_t *r)
{
    json_t *arr = json_object_get(r, "industries"), *it;
    size_t i;
    json_array_foreach(arr, i, it) {
        put_text(f, "", json_object_get(it, "code"));
        put_text(f, "  ", json_object_get(it, "name"));
        put_text(f, "  validity ", json_object_get(it, "validity"));
        fprintf(f, "%s\n", json_is_true(json_object_get(it, "commitment_allowed"))
                               ? "  notify-and-commit allowed"
                               : "");
        json_t *items = json_object_get(it, "items"), *x;
        size_t k;
        json_array_foreach(items, k, x) {
            put_text(f, "    ", json_object_get(x, "permit"));
            put_text(f, "  (", json_object_get(x, "department"));
            fputs(json_is_true(json_object_get(x, "instant")) ? ")  instant (秒批)\n" : ")\n", f);
        }
    }
}

static void print_departments(FILE *f, json_t *r)
{
    json_t *arr = json_object_get(r, "departments"), *d;
    size_t i;
    json_array_foreach(arr, i, d) {
        put_text(f, "", json_object_get(d, "id"));
        put_text(f, "  ", json_object_get(d, "name"));
        put_text(f, "  seal ", json_object_get(d, "seal_key"));
        fprintf(f, "%s\n", json_is_true(json_object_get(d, "validator")) ? "  validator" : "");
    }
}

static void print_registrars(FILE *f, json_t *r)
{
    json_t *arr = json_object_get(r, "registrars"), *d;
    size_t i;
    json_array_foreach(arr, i, d) {
        put_text(f, "", json_object_get(d, "key"));
        put_text(f, "  ", json_object_get(d, "department"));
        put_text(f, "  ", json_object_get(d, "name"));
        fputc('\n', f);
    }
}

static void print_observers(FILE *f, json_t *r)
{
    json_t *arr = json_object_get(r, "observers"), *d;
    size_t i;
    json_array_foreach(arr, i, d) {
        put_text(f, "", json_object_get(d, "node_key"));
        put_text(f, "  ", json_object_get(d, "name"));
        fputc('\n', f);
    }
}

static void print_proposal(FILE *f, json_t *p)
{
    json_t *ch = json_object_get(p, "change");
    fprintf(f, "proposal %lld", (long long)json_integer_value(json_object_get(p, "id")));
    put_text(f, "  ", json_object_get(ch, "type"));
    const char *keys[] = {"department", "name", "code", "key", "node_key"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_is_string(json_object_get(ch, keys[i])))
            put_text(f, " ", json_object_get(ch, keys[i]));
    if (json_is_integer(json_object_get(ch, "value")))
        fprintf(f, " %lld", (long long)json_integer_value(json_object_get(ch, "value")));
    put_text(f, "  ", json_object_get(p, "status"));
    fprintf(f, "  %lld of %lld approvals, proposed by ",
            (long long)json_integer_value(json_object_get(p, "approved")),
            (long long)json_integer_value(json_object_get(p, "needed")));
    put_text(f, "", json_object_get(p, "proposer"));
    fputc('\n', f);
}

static void print_gov_list(FILE *f, json_t *r)
{
    json_t *arr = json_object_get(r, "proposals"), *p;
    size_t i;
    json_array_foreach(arr, i, p)
        print_proposal(f, p);
    if (json_is_string(json_object_get(r, "next_cursor")))
        put_text(f, "more: --cursor ", json_object_get(r, "next_cursor")), fputc('\n', f);
}

static void print_gov_show(FILE *f, json_t *p)
{
    print_proposal(f, p);
    json_t *ap = json_object_get(p, "approvals"), *d;
    size_t i;
    fputs("approved by:", f);
    json_array_foreach(ap, i, d)
        put_text(f, " ", d);
    fprintf(f, "\nexpires at %lld, proposed in block %lld\n",
            (long long)json_integer_value(json_object_get(p, "expires_at")),
            (long long)json_integer_value(json_object_get(p, "height")));
}

static int cmd_industries(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)a;
    return cli_query(ctx, "industries.list", NULL, print_industries, err);
}

static int cmd_departments(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)a;
    return cli_query(ctx, "departments.list", NULL, print_departments, err);
}

static int cmd_registrars(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)a;
    return cli_query(ctx, "registrars.list", NULL, print_registrars, err);
}

static int cmd_observers(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    (void)a;
    return cli_query(ctx, "observers.list", NULL, print_observers, err);
}

static int cmd_gov_list(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    json_t *p = json_object();
    const char *st = cli_arg(a, "status"), *lim = cli_arg(a, "limit"), *cur = cli_arg(a, "cursor");
    if (st)
        json_object_set_new(p, "status", json_string(st));
    if (lim) {
        uint64_t v;
        int rc = cli_parse_u64("--limit", lim, 1, 1000, &v, err);
        if (rc != CLI_EXIT_OK) {
            json_decref(p);
            return rc;
        }
        json_object_set_new(p, "limit", json_integer((json_int_t)v));
    }
    if (cur)
        json_object_set_new(p, "cursor", json_string(cur));
    return cli_query(ctx, "gov.list", p, print_gov_list, err);
}

static int cmd_gov_show(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    uint64_t id;
    int rc = cli_parse_u64("PROPOSAL", a->pos[0], 1, UINT32_MAX, &id, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    return cli_query(ctx, "gov.get", json_pack("{s:I}", "id", (json_int_t)id), print_gov_show,
                     err);
}

static const cli_option propose_opts[] = {
    {"department", "ID", 0, "add-registrar: the department that authorises the registrar"},
    {"seal", "PUBKEY", 0, "add-department, rotate-key: the (new) seal key"},
    {"node", "PUBKEY", 0, "add-department, rotate-key: the (new) node key of a validator"},
    {"p2p", "HOST:PORT", 0, "add-department: where its validator listens"},
    {"validator", NULL, 0, "add-department: the department runs a validator"},
    {"expires-in", "DURATION", 0, "the proposal expires after this (default and most: "
                                  "gov_window, 7d unless genesis says otherwise)"},
    {NULL},
};

static const cli_option retire_opts[] = {
    {"reason", "TEXT", 0, "why the key retires (kept on the chain)"},
    {NULL},
};

static const cli_option gov_list_opts[] = {
    {"status", "STATUS", 0, "open, executed or expired"},
    {"limit", "N", 0, "at most N proposals, 1..1000 (node default 100)"},
    {"cursor", "CURSOR", 0, "continue after a previous page (its next_cursor)"},
    {NULL},
};

const cli_command cli_gov_commands[] = {
    {"gov propose", "CHANGE ARGS...", 1, 3, propose_opts, CLI_CMD_WRITE,
     PERMIT__TX_KIND__GOV_PROPOSE, "propose a membership, catalogue or parameter change",
     "Signed with a department's seal key, which counts as its approval.  CHANGE is one of\n"
     "  add-registrar NAME PUBKEY --department ID    remove-registrar PUBKEY\n"
     "  add-department ID NAME --seal PUB            remove-department ID\n"
     "  rotate-key ID (--seal PUB | --node PUB)      add-observer NAME PUB\n"
     "  remove-observer PUB                          set-industry FILE.json\n"
     "  remove-industry CODE                         set-param NAME VALUE\n"
     "The change executes in the block where more than 2/3 of the departments in force\n"
     "have signed it.  Validator changes (a department with a node, a node key) are\n"
     "refused until the consensus engine follows the validator set.",
     cmd_gov_propose},
    {"gov approve", "PROPOSAL", 1, 1, NULL, CLI_CMD_WRITE, PERMIT__TX_KIND__GOV_APPROVE,
     "approve a proposal with a department's seal key", NULL, cmd_gov_approve},
    {"gov list", "", 0, 0, gov_list_opts, 0, 0, "proposals, oldest first", NULL, cmd_gov_list},
    {"gov show", "PROPOSAL", 1, 1, NULL, 0, 0, "one proposal with its change and approvals",
     NULL, cmd_gov_show},
    {"key retire", "", 0, 0, retire_opts, CLI_CMD_WRITE, PERMIT__TX_KIND__RETIRE_KEY,
     "the key given with --key disables itself (seal, registrar or observer key)",
     "No quorum: a key may always retire itself, at once and for good.", cmd_key_retire},
    {"industries", "", 0, 0, NULL, 0, 0, "the catalogue in force", NULL, cmd_industries},
    {"departments", "", 0, 0, NULL, 0, 0, "the departments in force", NULL, cmd_departments},
    {"registrars", "", 0, 0, NULL, 0, 0, "the registrars in force", NULL, cmd_registrars},
    {"observers", "", 0, 0, NULL, 0, 0, "the observers in force", NULL, cmd_observers},
    {NULL},
};
