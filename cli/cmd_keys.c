/* cli/cmd_keys.c: commands that need no node: keygen, pubkey, testnet. */
#include "commands.h"

#include <string.h>
#include <sys/stat.h>

#include "ledger/hex.h"
#include "ledger/keys.h"
#include "output.h"
#include "testnet.h"

static int print_pub(cli_ctx *ctx, const ledger_keypair *kp, const char *file)
{
    char hex[65];
    ledger_hex_encode(kp->pub, 32, hex);
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:s}", "public_key", hex, "file", file);
        if (o == NULL)
            o = json_pack("{s:s}", "public_key", hex);
        cli_print_json(stdout, o);
        json_decref(o);
    } else {
        printf("%s\n", hex);
    }
    return CLI_EXIT_OK;
}

static int cmd_keygen(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *out = cli_arg(a, "out");
    ledger_keypair kp;
    ledger_err le;
    struct stat st;
    if (lstat(out, &st) == 0) /* the O_EXCL of ledger_keyfile_write guards the race */
        return cli_fail(err, CLI_EXIT_USAGE, "--out %s: already exists; refusing to overwrite "
                        "a key", out);
    if (ledger_keygen(&kp, &le) != 0)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "key generation failed: %s", le.msg);
    if (ledger_keyfile_write(out, &kp, &le) != 0) {
        ledger_keypair_wipe(&kp);
        return cli_fail(err, CLI_EXIT_USAGE, "--out: %s", le.msg);
    }
    int rc = print_pub(ctx, &kp, out);
    ledger_keypair_wipe(&kp);
    return rc;
}

static int cmd_pubkey(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *file = cli_arg(a, "key");
    ledger_keypair kp;
    ledger_err le;
    if (ledger_keyfile_read(file, &kp, &le) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--key: %s", le.msg);
    int rc = print_pub(ctx, &kp, file);
    ledger_keypair_wipe(&kp);
    return rc;
}

static void print_testnet(json_t *s)
{
    json_t *vals = json_object_get(s, "validators");
    json_t *keys = json_object_get(s, "keys");
    json_t *region = json_object_get(s, "region");
    size_t i, dw = 10, nw = 0;
    json_t *v;
    printf("Test network %s in %s\n", json_string_value(json_object_get(s, "chain_id")),
           json_string_value(json_object_get(s, "dir")));
    printf("  region      %s %s\n", json_string_value(json_object_get(region, "code")),
           json_string_value(json_object_get(region, "name")));
    printf("  genesis     %s\n", json_string_value(json_object_get(s, "genesis")));
    printf("  validators  %zu\n", json_array_size(vals));
    json_array_foreach(vals, i, v) {
        size_t w = cli_display_width(json_string_value(json_object_get(v, "department")));
        size_t w2 = cli_display_width(json_string_value(json_object_get(v, "name")));
        dw = w > dw ? w : dw;
        nw = w2 > nw ? w2 : nw;
    }
    json_array_foreach(vals, i, v) {
        printf("    %-6s ", json_string_value(json_object_get(v, "node")));
        cli_put_padded(stdout, json_string_value(json_object_get(v, "department")), dw + 1);
        cli_put_padded(stdout, json_string_value(json_object_get(v, "name")), nw + 2);
        printf("rpc %-16s p2p %-16s home %s\n", json_string_value(json_object_get(v, "rpc")),
               json_string_value(json_object_get(v, "p2p")),
               json_string_value(json_object_get(v, "home")));
    }
    json_t *ob = json_object_get(s, "observer");
    if (ob)
        printf("  observer    %s  rpc %-16s public site %-16s home %s\n",
               json_string_value(json_object_get(ob, "name")),
               json_string_value(json_object_get(ob, "rpc")),
               json_string_value(json_object_get(ob, "public")),
               json_string_value(json_object_get(ob, "home")));
    printf("  keys        %s/: <department>.key, the seal key of each of the %zu "
           "departments,\n              and registrar.key (%s)\n",
           json_string_value(json_object_get(keys, "dir")),
           json_object_size(json_object_get(keys, "departments")),
           json_string_value(json_object_get(keys, "registrar_name")));
    printf("Start node i with: permitd --home %s/node<i>\n",
           json_string_value(json_object_get(s, "dir")));
}

static int cmd_testnet(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    cli_testnet_opts o;
    uint64_t n, port = CLI_TESTNET_BASE_PORT;
    int rc;
    memset(&o, 0, sizeof o);
    if ((rc = cli_parse_u64("--validators", cli_arg(a, "validators"), 1, 64, &n, err)) != 0)
        return rc;
    if (cli_arg(a, "base-port") &&
        (rc = cli_parse_u64("--base-port", cli_arg(a, "base-port"), 1, 65535, &port, err)) != 0)
        return rc;
    o.out = cli_arg(a, "out");
    o.validators = (unsigned)n;
    o.base_port = (unsigned)port;
    o.catalogue = cli_arg(a, "catalogue");
    o.chain_id = cli_arg(a, "chain-id");
    o.region = cli_arg(a, "region");
    o.region_name = cli_arg(a, "region-name");
    o.observer = cli_arg_count(a, "observer") > 0;
    json_t *sum = NULL;
    rc = cli_testnet_create(&o, &sum, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    /* on stderr, so that --json stays clean for scripts */
    fprintf(stderr, "permit: warning: every key of this network is on this machine: it is for "
                    "tests and demos only.\n"
                    "         For a real chain each department makes its keys on its own "
                    "machines and\n"
                    "         hands over public keys only (DESIGN §13, the genesis ceremony).\n");
    if (ctx->json)
        cli_print_json(stdout, sum);
    else
        print_testnet(sum);
    json_decref(sum);
    return CLI_EXIT_OK;
}

static const cli_option keygen_opts[] = {
    {"out", "FILE", CLI_OPT_REQUIRED, "key file to create (mode 0600; never overwritten)"},
    {NULL},
};

static const cli_option pubkey_opts[] = {
    {"key", "FILE", CLI_OPT_REQUIRED, "key file"},
    {NULL},
};

static const cli_option testnet_opts[] = {
    {"validators", "N", CLI_OPT_REQUIRED, "number of validators: the first N departments"},
    {"out", "DIR", CLI_OPT_REQUIRED, "folder to create (must not exist)"},
    {"base-port", "P", 0, "node i: RPC on P+2i, p2p on P+2i+1 (default 8645)"},
    {"catalogue", "FILE", 0, "departments and industries (format of catalogue-example.json; "
                             "default: built in)"},
    {"chain-id", "ID", 0, "chain id (default permitchain-<region>-dev)"},
    {"region", "CODE", 0, "6-digit division code of the region (default 320411)"},
    {"region-name", "NAME", 0, "name of the region (default 常州市新北区 for 320411)"},
    {"observer", NULL, 0, "also an observer (genesis observers) in DIR/observer: RPC on "
                          "P+2N, the public site on P+2N+1"},
    {NULL},
};

const cli_command cli_key_commands[] = {
    {"keygen", "", 0, 0, keygen_opts, 0, 0, "make a new secret key file; prints the public key",
     "The file holds the secret as 64 hex digits, mode 0600.", cmd_keygen},
    {"pubkey", "", 0, 0, pubkey_opts, 0, 0, "print the public key of a key file", NULL,
     cmd_pubkey},
    {"testnet", "", 0, 0, testnet_opts, 0, 0,
     "genesis, keys and node configurations for a local network",
     "Writes DIR/genesis.json, DIR/node<i>/config/{permitd.conf,genesis.json,node.key} for\n"
     "each validator and DIR/keys/<department>.key for every department plus\n"
     "DIR/keys/registrar.key.  Blocks every 200ms, a heartbeat every 30s.  With\n"
     "--observer, DIR/observer/config/... too: an observer named in genesis, with the\n"
     "public site on.",
     cmd_testnet},
    {NULL},
};
