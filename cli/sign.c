/* cli/sign.c: signing, local checks, --sign-only and submission. */
#include "sign.h"

#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "ledger/genesis.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/tx.h"
#include "output.h"
#include "rpc_client.h"

#define NODE_DEFAULT_WAIT_MS 10000

int cli_chain_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int cli_body_init(Permit__TxBody *body, int kind, uint8_t nonce[LEDGER_NONCE_LEN],
                  cli_error *err)
{
    if (ledger_tx_body_init(body, kind, cli_now_ms(), nonce) != 0)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "the system random generator failed");
    return CLI_EXIT_OK;
}

/* Exit code of a local ledger error. */
static int ledger_exit(const ledger_err *le)
{
    switch (le->code) {
    case LEDGER_ERR_RULE:
    case LEDGER_ERR_DUPLICATE:
    case LEDGER_ERR_UNAUTHORIZED:
        return CLI_EXIT_REJECTED;
    case LEDGER_ERR_NOTFOUND:
        return CLI_EXIT_NOTFOUND;
    case LEDGER_ERR_VERIFY:
        return CLI_EXIT_VERIFY;
    case LEDGER_ERR_INVALID:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_UNAVAILABLE;
    }
}

static int local_refusal(cli_error *err, const ledger_err *le, const char *where)
{
    int ex = ledger_exit(le);
    if (le->rule)
        cli_fail(err, ex, "rejected (rule %s): %s (%s)", le->rule, le->msg, where);
    else
        cli_fail(err, ex, "%s (%s)", le->msg, where);
    if (le->rule)
        snprintf(err->rule, sizeof err->rule, "%s", le->rule);
    return ex;
}

/* The chain to sign for; *g is the genesis of --genesis (or NULL). */
static int chain_for(cli_ctx *ctx, const cli_args *a, int sign_only, ledger_genesis **g,
                     char chain[65], cli_error *err)
{
    const char *cid = cli_arg(a, "chain-id");
    const char *gpath = cli_arg(a, "genesis");
    *g = NULL;
    if (cid && !cli_chain_id_valid(cid))
        return cli_fail(err, CLI_EXIT_USAGE,
                        "--chain-id: '%.80s' is not a chain id (1 to 64 of A-Z a-z 0-9 . _ -)",
                        cid);
    if (gpath) {
        ledger_err le;
        if (ledger_genesis_load(gpath, g, &le) != 0)
            return cli_fail(err, CLI_EXIT_USAGE, "--genesis: %s", le.msg);
        if (cid && strcmp(cid, (*g)->chain_id) != 0)
            return cli_fail(err, CLI_EXIT_USAGE,
                            "--chain-id %s does not match the chain id of %s (%s)", cid, gpath,
                            (*g)->chain_id);
    }
    const char *local = cid ? cid : (*g ? (*g)->chain_id : NULL);
    if (sign_only) {
        if (local == NULL)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: --sign-only needs the chain id: give "
                            "--chain-id ID or --genesis FILE", a->cmd->name);
        snprintf(chain, 65, "%s", local);
        return CLI_EXIT_OK;
    }
    cli_rpc *rpc;
    json_t *st = NULL;
    int rc = cli_ctx_rpc(ctx, &rpc, err);
    if (rc == CLI_EXIT_OK)
        rc = cli_rpc_call(rpc, "status", NULL, 0, &st, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *jc = json_object_get(st, "chain_id");
    const char *node_chain = json_is_string(jc) ? json_string_value(jc) : NULL;
    if (!cli_chain_id_valid(node_chain)) {
        json_decref(st);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "the node at %s did not report a valid "
                        "chain id", cli_rpc_url(rpc));
    }
    snprintf(chain, 65, "%s", node_chain);
    json_decref(st);
    if (local && strcmp(local, chain) != 0)
        return cli_fail(err, CLI_EXIT_VERIFY,
                        "the node at %s serves chain %s, not %s (from %s); nothing was sent",
                        cli_rpc_url(rpc), chain, local, cid ? "--chain-id" : "--genesis");
    return CLI_EXIT_OK;
}

int cli_chain_id(cli_ctx *ctx, const cli_args *a, int offline, char chain[65], cli_error *err)
{
    ledger_genesis *g = NULL;
    int rc = chain_for(ctx, a, offline, &g, chain, err);
    ledger_genesis_free(g);
    return rc;
}

/* Decode what was signed as the node will, and with a genesis also check
 * the signer's role, the field rules and the signature. */
static int self_check(const ledger_genesis *g, const char *chain, const uint8_t *env,
                      size_t len, cli_error *err)
{
    ledger_tx tx;
    ledger_err le;
    int rc = CLI_EXIT_OK;
    if (ledger_tx_decode(&tx, env, len, chain, &le) != 0) {
        rc = local_refusal(err, &le, "checked locally");
        goto out;
    }
    if (g) {
        const ledger_pubkey *pk;
        int dept;
        /* genesis is where the membership started, not necessarily where it
         * is (governance, DESIGN §11): a key genesis does not know at all
         * may have been added since, so the node judges it; a key genesis
         * gives another role (a registrar's key on a decision) is refused */
        ledger_pubkey own;
        if (ledger_tx_authorize(g, &tx, &pk, &dept, &le) != 0) {
            int known = ledger_genesis_seal_dept(g, tx.signer) >= 0 ||
                        ledger_genesis_registrar(g, tx.signer) != NULL ||
                        ledger_genesis_validator_index(g, tx.signer) >= 0;
            if (le.code != LEDGER_ERR_UNAUTHORIZED || known ||
                ledger_pubkey_parse(&own, tx.signer) != 0) {
                rc = local_refusal(err, &le, "checked locally against --genesis");
                goto out;
            }
            pk = &own;
        }
        if (ledger_tx_check_fields(g, &tx, &le) != 0) {
            rc = local_refusal(err, &le, "checked locally against --genesis");
            goto out;
        }
        if (!ledger_tx_sig_ok(&tx, pk))
            rc = cli_fail(err, CLI_EXIT_VERIFY, "the signature just made does not verify");
    }
out:
    ledger_tx_release(&tx);
    return rc;
}

int cli_submit(cli_ctx *ctx, const char *hex, int no_wait, uint64_t timeout_ms,
               json_t **result, cli_error *err)
{
    cli_rpc *rpc;
    int rc = cli_ctx_rpc(ctx, &rpc, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *p = json_pack("{s:s, s:s}", "tx", hex, "wait", no_wait ? "none" : "commit");
    if (p == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    if (timeout_ms)
        json_object_set_new(p, "timeout_ms", json_integer((json_int_t)timeout_ms));
    int extra = no_wait ? 0 : (int)(timeout_ms ? timeout_ms : NODE_DEFAULT_WAIT_MS);
    rc = cli_rpc_call(rpc, "tx.submit", p, extra, result, err);
    json_decref(p);
    return rc;
}

void cli_print_submit(FILE *f, json_t *r, const char *kind, const char *license)
{
    json_t *js = json_object_get(r, "status");
    json_t *jk = json_object_get(r, "kind");
    json_t *jl = json_object_get(r, "license_id");
    char tx[80], lic[80], k[32];
    cli_clean_text(tx, sizeof tx, json_string_value(json_object_get(r, "tx_id")));
    cli_clean_text(k, sizeof k, kind ? kind : json_is_string(jk) ? json_string_value(jk) : "");
    cli_clean_text(lic, sizeof lic, json_is_string(jl) ? json_string_value(jl) : license);
    int committed = json_is_string(js) && strcmp(json_string_value(js), "committed") == 0;
    fprintf(f, "%s%s%s", k[0] ? k : "transaction", lic[0] ? " " : "", lic);
    int zh = cli_zh();
    if (committed) {
        json_t *h = json_object_get(r, "height");
        fprintf(f, zh ? " 已上链，区块 %lld（交易 %s）\n" : " committed in block %lld (tx %s)\n",
                json_is_integer(h) ? (long long)json_integer_value(h) : -1LL, tx);
    } else {
        fprintf(f, zh ? " 已提交（交易 %s），尚未上链\n" : " submitted (tx %s), not yet committed\n",
                tx);
        /* stdout keeps its one line for scripts; the person is told the next step */
        int apply = strcmp(k, "APPLY") == 0;
        if (zh)
            fprintf(stderr, "上链后，`permit tx %s` 显示其区块%s\n", tx,
                    apply ? "和区块分配的许可证编号" : "");
        else
            fprintf(stderr, "once it is committed, `permit tx %s` shows its block%s\n", tx,
                    apply ? " and the license id the block assigned" : "");
    }
}

int cli_write(cli_ctx *ctx, const cli_args *a, Permit__TxBody *body, cli_error *err)
{
    int sign_only = cli_arg_count(a, "sign-only") > 0;
    int no_wait = cli_arg_count(a, "no-wait") > 0;
    const char *tmo = cli_arg(a, "timeout-ms");
    uint64_t timeout_ms = 0;
    ledger_genesis *g = NULL;
    ledger_keypair kp;
    uint8_t *env = NULL;
    size_t len = 0;
    char *hex = NULL;
    json_t *res = NULL;
    char chain[65];
    int rc;
    memset(&kp, 0, sizeof kp);

    if (tmo && (rc = cli_parse_u64("--timeout-ms", tmo, 1, 60000, &timeout_ms, err)) != 0)
        return rc;
    if (sign_only && (no_wait || tmo))
        return cli_fail(err, CLI_EXIT_USAGE, "%s: --%s has no meaning with --sign-only",
                        a->cmd->name, no_wait ? "no-wait" : "timeout-ms");
    ledger_err le;
    const char *keyfile = cli_arg(a, "key");
    if (ledger_keyfile_read(keyfile, &kp, &le) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--key: %s", le.msg);
    rc = chain_for(ctx, a, sign_only, &g, chain, err);
    if (rc != CLI_EXIT_OK)
        goto out;
    body->timestamp_ms = cli_now_ms();
    if (ledger_tx_sign(chain, body, &kp, &env, &len, &le) != 0) {
        rc = local_refusal(err, &le, "while signing");
        goto out;
    }
    ledger_keypair_wipe(&kp);
    rc = self_check(g, chain, env, len, err);
    if (rc != CLI_EXIT_OK)
        goto out;
    hex = malloc(2 * len + 1);
    if (hex == NULL) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        goto out;
    }
    ledger_hex_encode(env, len, hex);
    const char *kind = ledger_tx_kind_name((int)body->kind);
    if (sign_only) {
        if (ctx->json) {
            uint8_t id[32];
            char idhex[65], signer[65];
            ledger_sha256(env, len, id); /* tx_id = SHA-256(envelope) */
            ledger_hex_encode(id, 32, idhex);
            ledger_hex_encode(env + 1, 32, signer);
            json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "tx", hex, "tx_id", idhex, "kind",
                                  kind, "signer", signer, "chain_id", chain);
            if (o && body->license_id && body->license_id[0])
                json_object_set_new(o, "license_id", json_string(body->license_id));
            if (o)
                cli_print_json(stdout, o);
            json_decref(o);
        } else {
            fputs(hex, stdout);
            fputc('\n', stdout);
        }
        goto out;
    }
    rc = cli_submit(ctx, hex, no_wait, timeout_ms, &res, err);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (ctx->json) {
        cli_print_json(stdout, res);
    } else if (body->kind == PERMIT__TX_KIND__APPLY &&
               json_is_string(json_object_get(res, "license_id"))) {
        char lic[80];
        cli_clean_text(lic, sizeof lic, json_string_value(json_object_get(res, "license_id")));
        printf("%s\n", lic);
    } else {
        cli_print_submit(stdout, res, kind, body->license_id);
        json_t *pid = json_object_get(res, "proposal_id");
        if (json_is_integer(pid))
            printf("proposal %lld %s\n", (long long)json_integer_value(pid),
                   json_is_true(json_object_get(res, "executed")) ? "executed" : "open");
    }
out:
    ledger_keypair_wipe(&kp);
    ledger_genesis_free(g);
    json_decref(res);
    free(env);
    free(hex);
    return rc;
}
