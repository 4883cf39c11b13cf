/* cli/commands.h: the command tables, one per group, and the list of groups
 * in the order `permit --help` shows them. */
#ifndef PERMIT_CLI_COMMANDS_H
#define PERMIT_CLI_COMMANDS_H

#include "args.h"
#include "cli.h"

/* Each table ends with an entry whose name is NULL. */
extern const cli_command cli_key_commands[];      /* keygen, pubkey, testnet (cmd_keys.c) */
extern const cli_command cli_genesis_commands[];  /* genesis init, add-*, hash (cmd_genesis.c) */
extern const cli_command cli_filing_commands[];   /* apply, address add/remove, amend, renew,
                                                     cancel (cmd_license.c) */
extern const cli_command cli_decision_commands[]; /* approve ... revoke (cmd_license.c) */
extern const cli_command cli_holder_commands[];   /* pledge sign, holder set (cmd_holder.c) */
extern const cli_command cli_query_commands[];    /* status, show, history, ... (cmd_query.c) */
extern const cli_command cli_chain_commands[];    /* block, tx, tx submit (cmd_chain.c) */
extern const cli_command cli_audit_commands[];    /* audit, verify-chain (cmd_audit.c) */
extern const cli_command cli_gov_commands[];      /* gov propose/approve/list/show, key retire,
                                                     industries, departments, registrars,
                                                     observers (cmd_gov.c) */

extern const cli_command cli_watch_commands[];    /* watch (cmd_watch.c) */

typedef struct {
    const char *title;
    const cli_command *cmds;
} cli_section;

/* The groups, ended by an entry whose title is NULL. */
extern const cli_section cli_sections[];

/* The command argv names: a two-word command ("address add", "tx submit")
 * when argv[0] and argv[1] name one, else a one-word command.  *used is set
 * to the number of words taken.  NULL when nothing matches. */
const cli_command *cli_find_command(int argc, char **argv, int *used);

/* 1 when word is the first word of a two-word command ("address"). */
int cli_is_group(const char *word);

/* Print the commands whose first word is `group` with their summaries. */
void cli_group_help(FILE *f, const char *group);

#endif
