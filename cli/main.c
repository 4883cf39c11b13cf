/* cli/main.c: `permit`, the command-line tool of PermitChain (DESIGN §8).
 *
 *   permit [--rpc URL] [--json] [--timeout SECONDS] [--token-file FILE]
 *          [--cacert FILE] COMMAND [ARGS...]
 *
 * Global options come before the command (and are also accepted after it);
 * the command table (commands.c) drives dispatch and help.  Whatever the
 * outcome, standard output is flushed and checked before exiting: a result
 * that could not be written is a failure (exit 3). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "commands.h"
#include "rpc_client.h"

static void usage_line(FILE *f)
{
    fputs("usage: permit [--rpc URL] [--json] [--timeout SECONDS] COMMAND [ARGS...]\n"
          "       permit COMMAND --help\n",
          f);
}

static void top_help(FILE *f)
{
    usage_line(f);
    fputs("\nPermitChain command-line tool: files, decides and looks up integrated industry\n"
          "licenses (一业一证) on a PermitChain node over JSON-RPC, and signs transactions\n"
          "offline (--sign-only).\n",
          f);
    for (const cli_section *s = cli_sections; s->title; s++) {
        fprintf(f, "\n%s:\n", s->title);
        for (const cli_command *c = s->cmds; c->name; c++)
            fprintf(f, "  %-16s %s\n", c->name, c->summary);
    }
    fputs("\nGlobal options:\n"
          "  --rpc URL          node JSON-RPC endpoint (default: $PERMIT_RPC, else "
          CLI_DEFAULT_RPC ")\n"
          "  --json             print results as JSON (for scripts)\n"
          "  --timeout SECONDS  connect and read timeout, 1..3600 (default 15)\n"
          "  --token-file FILE  bearer token for a node that requires one (default:\n"
          "                     $PERMIT_TOKEN_FILE); the file's first line, mode 0600\n"
          "  --cacert FILE      CA certificates (PEM) an https:// node's certificate must\n"
          "                     chain to (default: $PERMIT_CACERT, else the system's)\n"
          "  --help, -h         this help; permit COMMAND --help for a command\n"
          "  --version          print the version\n",
          f);
    cli_exit_codes_help(f);
}

/* Apply --rpc / --json / --timeout / --token-file / --cacert given after
 * the command. */
static int apply_globals(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    if (cli_arg(a, "rpc"))
        ctx->rpc_url = cli_arg(a, "rpc");
    if (cli_arg(a, "token-file"))
        ctx->token_file = cli_arg(a, "token-file");
    if (cli_arg(a, "cacert"))
        ctx->cacert = cli_arg(a, "cacert");
    if (cli_arg_count(a, "json"))
        ctx->json = 1;
    if (cli_arg(a, "timeout")) {
        uint64_t s;
        int rc = cli_parse_u64("--timeout", cli_arg(a, "timeout"), 1, 3600, &s, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        ctx->timeout_ms = (int)s * 1000;
    }
    return CLI_EXIT_OK;
}

/* Flush and check standard output; the exit code accounts for a failure. */
static int finish(int rc, const cli_error *err)
{
    if (rc != CLI_EXIT_OK)
        cli_error_print(err);
    errno = 0;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        fprintf(stderr, "permit: writing the output failed%s%s\n", e ? ": " : "",
                e ? strerror(e) : "");
        rc = cli_exit_worst(rc, CLI_EXIT_UNAVAILABLE);
    }
    return rc;
}

int main(int argc, char **argv)
{
    cli_ctx ctx;
    cli_error err;
    cli_args a;
    int rc = CLI_EXIT_OK, i = 1, help = 0, version = 0;
    memset(&ctx, 0, sizeof ctx);
    memset(&err, 0, sizeof err);
    memset(&a, 0, sizeof a);
    const char *env = getenv("PERMIT_RPC");
    ctx.rpc_url = env && env[0] ? env : CLI_DEFAULT_RPC;
    const char *tf = getenv("PERMIT_TOKEN_FILE"), *ca = getenv("PERMIT_CACERT");
    ctx.token_file = tf && tf[0] ? tf : NULL;
    ctx.cacert = ca && ca[0] ? ca : NULL;
    ctx.timeout_ms = CLI_DEFAULT_TIMEOUT_MS;

    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *s = argv[i];
        const char *val = NULL;
        size_t n = strcspn(s, "=");
        if (strcmp(s, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            help = 1;
        } else if (strcmp(s, "--version") == 0) {
            version = 1;
        } else if (strcmp(s, "--json") == 0) {
            ctx.json = 1;
        } else if ((n == 5 && strncmp(s, "--rpc", 5) == 0) ||
                   (n == 9 && strncmp(s, "--timeout", 9) == 0) ||
                   (n == 12 && strncmp(s, "--token-file", 12) == 0) ||
                   (n == 8 && strncmp(s, "--cacert", 8) == 0)) {
            if (s[n] == '=')
                val = s + n + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                rc = cli_fail(&err, CLI_EXIT_USAGE, "option %.*s needs a value", (int)n, s);
                goto out;
            }
            if (n == 5) {
                ctx.rpc_url = val;
            } else if (n == 12) {
                ctx.token_file = val;
            } else if (n == 8) {
                ctx.cacert = val;
            } else {
                uint64_t sec;
                if ((rc = cli_parse_u64("--timeout", val, 1, 3600, &sec, &err)) != 0)
                    goto out;
                ctx.timeout_ms = (int)sec * 1000;
            }
        } else {
            rc = cli_fail(&err, CLI_EXIT_USAGE, "unknown option '%.64s' (see permit --help)", s);
            goto out;
        }
    }
    if (help) {
        top_help(stdout);
        goto out;
    }
    if (version) {
        printf("permit %s\n", PERMIT_VERSION);
        goto out;
    }
    if (i >= argc) {
        usage_line(stderr);
        fputs("Run 'permit --help' for the list of commands.\n", stderr);
        rc = cli_fail(&err, CLI_EXIT_USAGE, "no command given");
        goto out;
    }
    int used = 0;
    const cli_command *cmd = cli_find_command(argc - i, argv + i, &used);
    if (cmd == NULL) {
        if (cli_is_group(argv[i])) {
            int asked = i + 1 < argc &&
                        (strcmp(argv[i + 1], "--help") == 0 || strcmp(argv[i + 1], "-h") == 0);
            cli_group_help(asked ? stdout : stderr, argv[i]);
            if (!asked)
                rc = cli_fail(&err, CLI_EXIT_USAGE, "%s: %s%.40s%s", argv[i],
                              i + 1 < argc ? "unknown subcommand '" : "a subcommand is needed",
                              i + 1 < argc ? argv[i + 1] : "", i + 1 < argc ? "'" : "");
        } else {
            rc = cli_fail(&err, CLI_EXIT_USAGE, "unknown command '%.64s' (see permit --help)",
                          argv[i]);
        }
        goto out;
    }
    rc = cli_args_parse(&a, cmd, argc - i - used, argv + i + used, &err);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (a.help) {
        cli_command_help(stdout, cmd);
        goto out;
    }
    if ((rc = apply_globals(&ctx, &a, &err)) != CLI_EXIT_OK)
        goto out;
    rc = cmd->run(&ctx, &a, &err);
out:
    cli_args_free(&a);
    cli_rpc_free(ctx.rpc);
    return finish(rc, &err);
}
