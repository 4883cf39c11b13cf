/* cli/cmd_chain.c: blocks and transactions: block, tx, tx submit. */
#include "commands.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include "ledger/hex.h"
#include "ledger/tx.h"
#include "output.h"
#include "rpc_client.h"
#include "sign.h"

/* Longest input line tx submit accepts: a maximal envelope in hex, plus
 * slack for spaces and a CR. */
#define LINE_CAP (2 * LEDGER_MAX_ENVELOPE + 256)

static int cmd_block(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    json_t *p = NULL;
    if (a->n_pos == 1) {
        uint64_t h;
        int rc = cli_parse_u64("HEIGHT", a->pos[0], 0, INT64_MAX, &h, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        p = json_pack("{s:I}", "height", (json_int_t)h);
    }
    return cli_query(ctx, "block.get", p, cli_print_block, err);
}

static int cmd_tx(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    uint8_t id[32];
    char hex[65];
    int rc = cli_parse_hex("TXID", a->pos[0], id, 32, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    ledger_hex_encode(id, 32, hex);
    return cli_query(ctx, "tx.get", json_pack("{s:s}", "tx_id", hex), cli_print_tx, err);
}

/* Submit one hex envelope and print its outcome. */
static int submit_one(cli_ctx *ctx, const char *in, int no_wait, uint64_t tmo, int lines,
                      cli_error *err)
{
    size_t n = strlen(in);
    uint8_t *env = NULL;
    char *hex = NULL;
    json_t *res = NULL;
    ledger_tx tx;
    ledger_err le;
    int rc = CLI_EXIT_OK;
    memset(&tx, 0, sizeof tx);
    if (n == 0 || n % 2 != 0 || n / 2 > LEDGER_MAX_ENVELOPE)
        return cli_fail(err, CLI_EXIT_USAGE, "not a hex envelope (%zu hex digits; an envelope "
                        "is an even number, at most %d)", n, 2 * LEDGER_MAX_ENVELOPE);
    env = malloc(n / 2);
    hex = malloc(n + 1);
    if (env == NULL || hex == NULL) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        goto out;
    }
    size_t len;
    if (ledger_hex_decode(in, n, env, n / 2, &len) != 0) {
        rc = cli_fail(err, CLI_EXIT_USAGE, "not a hex envelope (bad hex digit)");
        goto out;
    }
    /* the form only: the chain id matters to the signature, which the node checks */
    if (ledger_tx_decode(&tx, env, len, "", &le) != 0) {
        rc = cli_fail(err, CLI_EXIT_REJECTED, "rejected (rule %s): %s (checked locally)",
                      le.rule ? le.rule : "envelope_malformed", le.msg);
        snprintf(err->rule, sizeof err->rule, "%s", le.rule ? le.rule : "envelope_malformed");
        goto out;
    }
    ledger_hex_encode(env, len, hex);
    rc = cli_submit(ctx, hex, no_wait, tmo, &res, err);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (ctx->json && lines) {
        char *s = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s)
            printf("%s\n", s);
        free(s);
    } else if (ctx->json) {
        cli_print_json(stdout, res);
    } else {
        char lic[80];
        cli_clean_text(lic, sizeof lic, tx.body->license_id);
        cli_print_submit(stdout, res, ledger_tx_kind_name(tx.kind), lic);
    }
out:
    ledger_tx_release(&tx);
    json_decref(res);
    free(env);
    free(hex);
    return rc;
}

/* Strip leading and trailing white space in place. */
static char *strip(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int submit_lines(cli_ctx *ctx, FILE *in, int no_wait, uint64_t tmo, cli_error *err)
{
    char *line = malloc(LINE_CAP);
    size_t lineno = 0, total = 0, failed = 0;
    int worst = CLI_EXIT_OK;
    if (line == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    while (fgets(line, LINE_CAP, in)) {
        lineno++;
        size_t n = strlen(line);
        int too_long = n == LINE_CAP - 1 && line[n - 1] != '\n' && !feof(in);
        if (too_long) { /* skip the rest of the line */
            int c;
            while ((c = getc(in)) != EOF && c != '\n')
                ;
        }
        char *s = strip(line);
        if (!too_long && (s[0] == '\0' || s[0] == '#'))
            continue;
        total++;
        cli_error e;
        memset(&e, 0, sizeof e);
        int rc = too_long ? cli_fail(&e, CLI_EXIT_USAGE, "line longer than any envelope")
                          : submit_one(ctx, s, no_wait, tmo, 1, &e);
        if (rc == CLI_EXIT_OK)
            continue;
        failed++;
        worst = cli_exit_worst(worst, rc);
        fprintf(stderr, "permit: line %zu: %s\n", lineno, e.msg);
        if (rc == CLI_EXIT_UNAVAILABLE && e.rpc_code == 0) {
            fprintf(stderr, "permit: stopped at line %zu: the lines after it were not "
                    "submitted\n", lineno);
            break;
        }
    }
    int read_failed = ferror(in);
    free(line);
    if (read_failed)
        return cli_fail(err, CLI_EXIT_USAGE, "reading standard input failed");
    if (total == 0)
        return cli_fail(err, CLI_EXIT_USAGE, "tx submit: no envelope on standard input");
    if (failed)
        return cli_fail(err, worst, "%zu of %zu envelopes failed", failed, total);
    return CLI_EXIT_OK;
}

static int cmd_tx_submit(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    int no_wait = cli_arg_count(a, "no-wait") > 0;
    uint64_t tmo = 0;
    const char *t = cli_arg(a, "timeout-ms");
    int rc;
    if (t && (rc = cli_parse_u64("--timeout-ms", t, 1, 60000, &tmo, err)) != 0)
        return rc;
    if (a->n_pos == 0 || strcmp(a->pos[0], "-") == 0)
        return submit_lines(ctx, stdin, no_wait, tmo, err);
    return submit_one(ctx, a->pos[0], no_wait, tmo, 0, err);
}

static const cli_option submit_opts[] = {
    {"no-wait", NULL, 0, "return once the node admitted each transaction (wait: none)"},
    {"timeout-ms", "MS", 0, "how long the node waits for each commit, 1..60000"},
    {NULL},
};

/* ---- backup ---- */

static void print_backup(FILE *f, json_t *r)
{
    fprintf(f, "backup of chain %s at height %lld in %s (%lld ms)\n",
            json_string_value(json_object_get(r, "chain_id")),
            (long long)json_integer_value(json_object_get(r, "height")),
            json_string_value(json_object_get(r, "dir")),
            (long long)json_integer_value(json_object_get(r, "ms")));
}

static int cmd_backup(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    /* the node writes the copy on its own machine: the folder is named
     * absolutely, as it is on this one (the node is on loopback, or the path
     * means the same there) */
    const char *out = cli_arg(a, "out");
    char abs[PATH_MAX];
    if (out[0] == '/') {
        if (strlen(out) >= sizeof abs)
            return cli_fail(err, CLI_EXIT_USAGE, "--out: path too long");
        snprintf(abs, sizeof abs, "%s", out);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) == NULL ||
            snprintf(abs, sizeof abs, "%s/%s", cwd, out) >= (int)sizeof abs)
            return cli_fail(err, CLI_EXIT_USAGE, "--out: path too long");
    }
    if (access(abs, F_OK) == 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--out %s exists already: a backup goes into a new "
                                             "folder",
                        abs);
    return cli_query(ctx, "node.backup", json_pack("{s:s}", "dir", abs), print_backup, err);
}

static const cli_option backup_opts[] = {
    {"out", "DIR", CLI_OPT_REQUIRED, "folder to create with the copy (on the node's machine)"},
    {NULL},
};

const cli_command cli_chain_commands[] = {
    {"block", "[HEIGHT]", 0, 1, NULL, 0, 0, "a block header, its transactions and commit",
     "Without HEIGHT, the latest block.", cmd_block},
    {"tx", "TXID", 1, 1, NULL, 0, 0, "a committed transaction, decoded",
     "TXID is 64 hex digits.  See also: permit tx submit --help.", cmd_tx},
    {"tx submit", "[HEX | -]", 0, 1, submit_opts, 0, 0,
     "submit signed envelopes (e.g. from --sign-only)",
     "With HEX, submits that envelope.  With - or nothing, reads one hex envelope per line\n"
     "from standard input (blank lines and lines starting with # are skipped), reports each\n"
     "(with --json: one JSON result per line) and exits with the worst code.  After a\n"
     "transport failure it stops: later lines are not submitted.",
     cmd_tx_submit},
    {"backup", "", 0, 0, backup_opts, 0, 0,
     "a consistent copy of a running node's database (node.backup)",
     "The node (on loopback, or with a submit token) copies its database, as it is between\n"
     "two blocks, into DIR on its own machine while it keeps serving.  Restore: make a new\n"
     "home with permitd init and put DIR in place of its data/db (docs/operations.md,\n"
     "\"Backup and restore\").",
     cmd_backup},
    {NULL},
};
