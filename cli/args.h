/* cli/args.h: the command table and the table-driven option parser.
 *
 * Every command is one cli_command: its name as typed, its positional
 * arguments, a table of options, a one-line summary and the function that
 * runs it.  The same tables drive parsing, the per-command --help and the
 * command list of `permit --help`, so they cannot drift apart.
 *
 * Options are long options only ("--key FILE" or "--key=FILE"), given
 * anywhere after the command; "--" ends them; "-h" is --help.  Besides its
 * own table, every command accepts the global options (cli_global_options)
 * and a write command (CLI_CMD_WRITE) the signing options
 * (cli_write_options). */
#ifndef PERMIT_CLI_ARGS_H
#define PERMIT_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

#define CLI_OPT_REQUIRED 0x1u /* must be given */
#define CLI_OPT_MULTI 0x2u    /* may be given more than once */

typedef struct {
    const char *name;    /* without the dashes: "key" for --key */
    const char *metavar; /* "FILE"; NULL for a flag that takes no value */
    unsigned flags;      /* CLI_OPT_* */
    const char *help;    /* one line */
} cli_option;

#define CLI_CMD_WRITE 0x1u /* signs a transaction: takes cli_write_options */

struct cli_args;

typedef struct cli_command {
    const char *name;        /* as typed: "approve", "address add", "tx submit" */
    const char *args;        /* positional arguments for the synopsis: "LICENSE" */
    int min_pos, max_pos;    /* how many positional arguments */
    const cli_option *opts;  /* own options, ended by an entry with name NULL;
                                may be NULL */
    unsigned flags;          /* CLI_CMD_* */
    int kind;                /* permit TxKind of a write command, else 0 */
    const char *summary;     /* one line for the command list */
    const char *details;     /* more text for --help (may be NULL) */
    int (*run)(cli_ctx *ctx, const struct cli_args *a, cli_error *err);
} cli_command;

/* One parsed command line.  Values point into argv. */
typedef struct cli_args {
    const cli_command *cmd;
    int help;                /* --help or -h was given: nothing else was checked */
    size_t n_occ;
    struct cli_occ {
        const cli_option *opt;
        const char *val;     /* NULL for a flag */
    } *occ;
    size_t n_pos;
    const char **pos;
} cli_args;

/* The options every command accepts (--rpc, --json, --timeout, --help). */
extern const cli_option cli_global_options[];
/* The options of every write command (--key, --sign-only, --chain-id,
 * --genesis, --no-wait, --timeout-ms). */
extern const cli_option cli_write_options[];

/* Parse argv[0..argc) (the words after the command's name) for cmd.
 * When --help or -h appears before "--", only sets a->help and returns
 * CLI_EXIT_OK.  Otherwise checks every option against the command's tables
 * (unknown options, missing values, values given to flags, repeated single
 * options), the number of positional arguments and the required options.
 * Returns CLI_EXIT_OK or CLI_EXIT_USAGE with a message naming the option;
 * free a with cli_args_free in both cases. */
int cli_args_parse(cli_args *a, const cli_command *cmd, int argc, char **argv,
                   cli_error *err) __attribute__((warn_unused_result));

/* Free what cli_args_parse allocated (not argv); NULL-safe, idempotent. */
void cli_args_free(cli_args *a);

/* The last value of option `name`, or NULL when it was not given. */
const char *cli_arg(const cli_args *a, const char *name);
/* How many times option `name` was given (a flag's count). */
size_t cli_arg_count(const cli_args *a, const char *name);
/* The i-th value (0-based, in command-line order) of a repeatable option. */
const char *cli_arg_nth(const cli_args *a, const char *name, size_t i);

/* Value parsers that name the option in their usage errors ("--item: ...").
 * Decimal digits only (no sign, space or fraction), within [min, max].
 * Return CLI_EXIT_OK or CLI_EXIT_USAGE. */
int cli_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
                  uint64_t *out, cli_error *err) __attribute__((warn_unused_result));
/* Exactly n bytes of hex (2n digits, either case). */
int cli_parse_hex(const char *opt, const char *s, uint8_t *out, size_t n,
                  cli_error *err) __attribute__((warn_unused_result));

/* Print the help of one command: synopsis, description, its options, the
 * signing and global options, and the exit codes. */
void cli_command_help(FILE *f, const cli_command *cmd);

/* Print the exit code table. */
void cli_exit_codes_help(FILE *f);

#endif
