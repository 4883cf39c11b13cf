/* cli/args.c: the table-driven option parser and the per-command help. */
#include "args.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/hex.h"

const cli_option cli_global_options[] = {
    {"rpc", "URL", 0, "node JSON-RPC endpoint (default: $PERMIT_RPC, else " CLI_DEFAULT_RPC ")"},
    {"json", NULL, 0, "print the result as JSON (for scripts)"},
    {"timeout", "SECONDS", 0, "connect and read timeout, 1..3600 (default 15)"},
    {"token-file", "FILE", 0, "bearer token for the node (default: $PERMIT_TOKEN_FILE)"},
    {"cacert", "FILE", 0, "CA certificates for an https node (default: $PERMIT_CACERT)"},
    {"help", NULL, 0, "show this help"},
    {NULL},
};

const cli_option cli_write_options[] = {
    {"key", "FILE", CLI_OPT_REQUIRED, "key file that signs (registrar key or department seal key)"},
    {"sign-only", NULL, 0, "print the signed envelope in hex and send nothing"},
    {"chain-id", "ID", 0, "chain to sign for (needed with --sign-only unless --genesis)"},
    {"genesis", "FILE", 0, "genesis file: the chain id, and a local check of signer and fields"},
    {"no-wait", NULL, 0, "return once the node admitted the transaction (wait: none)"},
    {"timeout-ms", "MS", 0, "how long the node waits for the commit, 1..60000 (node default 10000)"},
    {NULL},
};

/* The option called `name` (namelen bytes) among those cmd accepts. */
static const cli_option *find_in(const cli_option *t, const char *name, size_t namelen)
{
    for (; t && t->name; t++)
        if (strlen(t->name) == namelen && memcmp(t->name, name, namelen) == 0)
            return t;
    return NULL;
}

static const cli_option *find_opt(const cli_command *cmd, const char *name, size_t namelen)
{
    const cli_option *o = find_in(cmd->opts, name, namelen);
    if (o == NULL && (cmd->flags & CLI_CMD_WRITE))
        o = find_in(cli_write_options, name, namelen);
    if (o == NULL)
        o = find_in(cli_global_options, name, namelen);
    return o;
}

static int seen(const cli_args *a, const cli_option *o)
{
    for (size_t i = 0; i < a->n_occ; i++)
        if (a->occ[i].opt == o)
            return 1;
    return 0;
}

/* "missing required option --x VALUE" for the first required one absent. */
static int check_required(const cli_args *a, const cli_option *t, cli_error *err)
{
    for (; t && t->name; t++)
        if ((t->flags & CLI_OPT_REQUIRED) && !seen(a, t))
            return cli_fail(err, CLI_EXIT_USAGE, "%s: missing required option --%s%s%s",
                            a->cmd->name, t->name, t->metavar ? " " : "",
                            t->metavar ? t->metavar : "");
    return CLI_EXIT_OK;
}

int cli_args_parse(cli_args *a, const cli_command *cmd, int argc, char **argv,
                   cli_error *err)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            a->help = 1;
            return CLI_EXIT_OK;
        }
    }
    a->occ = calloc((size_t)argc + 1, sizeof *a->occ);
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    if (a->occ == NULL || a->pos == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (only_pos || s[0] != '-' || strcmp(s, "-") == 0) {
            a->pos[a->n_pos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (s[1] != '-')
            return cli_fail(err, CLI_EXIT_USAGE,
                            "%s: unknown option '%s' (options are long: --name; see "
                            "permit %s --help)", cmd->name, s, cmd->name);
        const char *name = s + 2;
        const char *eq = strchr(name, '=');
        size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
        const cli_option *o = find_opt(cmd, name, namelen);
        if (o == NULL)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: unknown option '--%.*s' (see permit %s --help)",
                            cmd->name, (int)(namelen > 64 ? 64 : namelen), name, cmd->name);
        const char *val = NULL;
        if (o->metavar) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return cli_fail(err, CLI_EXIT_USAGE, "%s: option --%s needs a value (%s)",
                                cmd->name, o->name, o->metavar);
        } else if (eq) {
            return cli_fail(err, CLI_EXIT_USAGE, "%s: option --%s takes no value", cmd->name,
                            o->name);
        }
        if (!(o->flags & CLI_OPT_MULTI) && seen(a, o))
            return cli_fail(err, CLI_EXIT_USAGE, "%s: option --%s given more than once",
                            cmd->name, o->name);
        a->occ[a->n_occ].opt = o;
        a->occ[a->n_occ].val = val;
        a->n_occ++;
    }
    if ((int)a->n_pos < cmd->min_pos)
        return cli_fail(err, CLI_EXIT_USAGE, "%s: missing argument %s (usage: permit %s %s)",
                        cmd->name, cmd->args ? cmd->args : "", cmd->name,
                        cmd->args ? cmd->args : "");
    if ((int)a->n_pos > cmd->max_pos)
        return cli_fail(err, CLI_EXIT_USAGE, "%s: unexpected argument '%.64s'", cmd->name,
                        a->pos[cmd->max_pos]);
    int rc = check_required(a, cmd->opts, err);
    if (rc == CLI_EXIT_OK && (cmd->flags & CLI_CMD_WRITE))
        rc = check_required(a, cli_write_options, err);
    return rc;
}

void cli_args_free(cli_args *a)
{
    if (a == NULL)
        return;
    free(a->occ);
    free(a->pos);
    a->occ = NULL;
    a->pos = NULL;
    a->n_occ = a->n_pos = 0;
}

const char *cli_arg(const cli_args *a, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < a->n_occ; i++)
        if (strcmp(a->occ[i].opt->name, name) == 0)
            v = a->occ[i].val;
    return v;
}

size_t cli_arg_count(const cli_args *a, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n_occ; i++)
        if (strcmp(a->occ[i].opt->name, name) == 0)
            n++;
    return n;
}

const char *cli_arg_nth(const cli_args *a, const char *name, size_t k)
{
    for (size_t i = 0; i < a->n_occ; i++)
        if (strcmp(a->occ[i].opt->name, name) == 0 && k-- == 0)
            return a->occ[i].val;
    return NULL;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out,
                  cli_error *err)
{
    uint64_t v = 0;
    size_t i = 0;
    if (s == NULL || s[0] == '\0')
        return cli_fail(err, CLI_EXIT_USAGE, "%s: a number is needed", opt);
    for (; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9')
            return cli_fail(err, CLI_EXIT_USAGE, "%s: '%.40s' is not a number", opt, s);
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return cli_fail(err, CLI_EXIT_USAGE, "%s: %.40s is too large", opt, s);
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return cli_fail(err, CLI_EXIT_USAGE, "%s: %.40s is out of range %llu..%llu", opt, s,
                        (unsigned long long)min, (unsigned long long)max);
    *out = v;
    return CLI_EXIT_OK;
}

int cli_parse_hex(const char *opt, const char *s, uint8_t *out, size_t n, cli_error *err)
{
    if (s == NULL || ledger_hex_decode_exact(s, out, n) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "%s: expected %zu hex digits", opt, 2 * n);
    return CLI_EXIT_OK;
}

/* "--key FILE" (or "--json"). */
static int opt_label(char *buf, size_t cap, const cli_option *o)
{
    return snprintf(buf, cap, "--%s%s%s", o->name, o->metavar ? " " : "",
                    o->metavar ? o->metavar : "");
}

static void print_options(FILE *f, const char *title, const cli_option *t)
{
    if (t == NULL || t->name == NULL)
        return;
    fprintf(f, "\n%s:\n", title);
    for (; t->name; t++) {
        char label[64];
        opt_label(label, sizeof label, t);
        fprintf(f, "  %-22s %s%s%s\n", label, t->help,
                (t->flags & CLI_OPT_REQUIRED) ? " (required)" : "",
                (t->flags & CLI_OPT_MULTI) ? " (repeatable)" : "");
    }
}

static void print_synopsis_opts(FILE *f, const cli_option *t, int required_only)
{
    for (; t && t->name; t++) {
        if (required_only && !(t->flags & CLI_OPT_REQUIRED))
            continue;
        char label[64];
        opt_label(label, sizeof label, t);
        if (t->flags & CLI_OPT_REQUIRED)
            fprintf(f, " %s", label);
        else
            fprintf(f, " [%s]%s", label, (t->flags & CLI_OPT_MULTI) ? "..." : "");
    }
}

void cli_exit_codes_help(FILE *f)
{
    fputs("\nExit codes:\n"
          "  0  success\n"
          "  1  usage error (unknown or missing option, malformed value, unusable input file)\n"
          "  2  rejected by a ledger rule (the rule is named), duplicate, or signer not authorised\n"
          "  3  node unreachable, transport or output error; mempool full, commit timeout,\n"
          "     node internal error\n"
          "  4  verification failed (e.g. the node serves another chain than --chain-id)\n"
          "  5  not found\n",
          f);
}

void cli_command_help(FILE *f, const cli_command *cmd)
{
    fprintf(f, "usage: permit %s", cmd->name);
    if (cmd->args && cmd->args[0])
        fprintf(f, " %s", cmd->args);
    if (cmd->flags & CLI_CMD_WRITE)
        print_synopsis_opts(f, cli_write_options, 1);
    print_synopsis_opts(f, cmd->opts, 0);
    if (cmd->flags & CLI_CMD_WRITE)
        fputs(" [signing options]", f);
    fprintf(f, "\n\n%s\n", cmd->summary);
    if (cmd->details)
        fprintf(f, "\n%s\n", cmd->details);
    print_options(f, "Options", cmd->opts);
    if (cmd->flags & CLI_CMD_WRITE)
        print_options(f, "Signing options", cli_write_options);
    print_options(f, "Global options", cli_global_options);
    cli_exit_codes_help(f);
}
