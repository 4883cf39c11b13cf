/* cli/cmd_holder.c: the license holder's e-seal key (DESIGN §2, §4): the
 * pledge the holder signs for a notify-and-commit application (`pledge
 * sign`, offline with the holder's key), and a registrar naming the holder
 * key of a license (`holder set`, SET_HOLDER_KEY, with the new key's
 * signature over the license id).  A holder confirms a renewal with `renew
 * LICENSE --key HOLDER.key` (cmd_license.c). */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/limits.h"
#include "ledger/text.h"
#include "ledger/tx.h"
#include "output.h"
#include "sign.h"

int cli_pledge_text_hash(const char *opt, const char *path, uint8_t out[32], cli_error *err)
{
    uint8_t *text;
    size_t len;
    int rc = cli_read_file(opt, path, CLI_PLEDGE_TEXT_MAX, &text, &len, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    ledger_sha256(text, len, out);
    free(text);
    return CLI_EXIT_OK;
}

static int cmd_pledge_sign(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *uscc = cli_arg(a, "uscc"), *industry = cli_arg(a, "industry");
    ledger_err le;
    if (ledger_uscc_check(uscc, &le) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--uscc: %s", le.msg);
    if (strlen(industry) == 0 || strlen(industry) > 64)
        return cli_fail(err, CLI_EXIT_USAGE, "--industry: 1 to 64 characters");
    uint8_t text_sha[32], d[32], sig[64];
    int rc = cli_pledge_text_hash("--text", cli_arg(a, "text"), text_sha, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* offline with --chain-id or --genesis: the holder's key need never
     * be on a machine that talks to a node */
    char chain[65];
    int offline = cli_arg(a, "chain-id") != NULL || cli_arg(a, "genesis") != NULL;
    if ((rc = cli_chain_id(ctx, a, offline, chain, err)) != CLI_EXIT_OK)
        return rc;
    ledger_keypair kp;
    if (ledger_keyfile_read(cli_arg(a, "key"), &kp, &le) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--key: %s", le.msg);
    ledger_pledge_digest(chain, uscc, industry, text_sha, d);
    int signed_ok = ledger_sign(&kp, d, NULL, sig) == 0;
    char pub[65], sh[65], sg[129];
    ledger_hex_encode(kp.pub, 32, pub);
    ledger_keypair_wipe(&kp);
    if (!signed_ok)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "signing failed");
    ledger_hex_encode(text_sha, 32, sh);
    ledger_hex_encode(sig, 64, sg);
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "holder_key", pub,
                              "pledge_sha256", sh, "pledge_sig", sg, "chain_id", chain, "uscc",
                              uscc, "industry", industry);
        if (o == NULL)
            return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        cli_print_json(stdout, o);
        json_decref(o);
    } else {
        printf("%s\n", sg);
    }
    return CLI_EXIT_OK;
}

static int cmd_holder_set(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *lic = a->pos[0];
    if (strlen(lic) == 0 || strlen(lic) > LEDGER_MAX_LICENSE_ID)
        return cli_fail(err, CLI_EXIT_USAGE, "LICENSE: 1 to %d characters",
                        LEDGER_MAX_LICENSE_ID);
    char chain[65];
    int rc = cli_chain_id(ctx, a, cli_arg_count(a, "sign-only") > 0, chain, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    ledger_keypair hk;
    ledger_err le;
    if (ledger_keyfile_read(cli_arg(a, "holder-key"), &hk, &le) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--holder-key: %s", le.msg);
    uint8_t d[32], sig[64], pub[32];
    ledger_holder_digest(chain, lic, d);
    int signed_ok = ledger_sign(&hk, d, NULL, sig) == 0;
    memcpy(pub, hk.pub, 32);
    ledger_keypair_wipe(&hk);
    if (!signed_ok)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "signing failed");
    uint8_t nonce[LEDGER_NONCE_LEN];
    Permit__TxBody b;
    Permit__HolderKey h = PERMIT__HOLDER_KEY__INIT;
    if ((rc = cli_body_init(&b, a->cmd->kind, nonce, err)) != 0)
        return rc;
    b.license_id = (char *)lic;
    h.key.data = pub;
    h.key.len = 32;
    h.sig.data = sig;
    h.sig.len = 64;
    b.payload_case = PERMIT__TX_BODY__PAYLOAD_HOLDER_KEY;
    b.holder_key = &h;
    return cli_write(ctx, a, &b, err);
}

static const cli_option pledge_sign_opts[] = {
    {"key", "FILE", CLI_OPT_REQUIRED, "the holder's e-seal key file (法人电子印章)"},
    {"uscc", "CODE", CLI_OPT_REQUIRED, "the applicant's unified social credit code"},
    {"industry", "CODE", CLI_OPT_REQUIRED, "the industry applied for"},
    {"text", "FILE", CLI_OPT_REQUIRED, "the pledge text (承诺书) as the holder read it"},
    {"chain-id", "ID", 0, "chain to sign for (else asked from the node)"},
    {"genesis", "FILE", 0, "genesis file: the chain id"},
    {NULL},
};

static const cli_option holder_set_opts[] = {
    {"holder-key", "FILE", CLI_OPT_REQUIRED,
     "the holder's key file: it signs the license id to prove the holder holds it"},
    {NULL},
};

const cli_command cli_holder_commands[] = {
    {"pledge sign", "", 0, 0, pledge_sign_opts, 0, 0,
     "the holder signs the notify-and-commit pledge; prints the signature",
     "Signs TaggedHash(\"permit/pledge/v1\", chain id, USCC, industry, SHA-256 of the\n"
     "text) with the holder's key (docs/formats.md, \"Pledge\").  Give the signature to\n"
     "`permit apply --commitment --holder-key PUB --pledge-text FILE --pledge-sig HEX`.\n"
     "With --chain-id or --genesis nothing is sent anywhere.  --json prints the holder\n"
     "key, the text's SHA-256 and the signature.",
     cmd_pledge_sign},
    {"holder set", "LICENSE", 1, 1, holder_set_opts, CLI_CMD_WRITE,
     PERMIT__TX_KIND__SET_HOLDER_KEY, "name or replace the holder key of a license",
     "Signed with a registrar key; the holder's key signs the license id\n"
     "(SET_HOLDER_KEY).  The holder can then confirm a renewal itself:\n"
     "`permit renew LICENSE --key HOLDER.key`.",
     cmd_holder_set},
    {NULL},
};
