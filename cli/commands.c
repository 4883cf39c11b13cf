/* cli/commands.c: the list of command groups and command lookup. */
#include "commands.h"

#include <string.h>

const cli_section cli_sections[] = {
    {"Keys and test networks", cli_key_commands},
    {"Genesis ceremony (public keys only)", cli_genesis_commands},
    {"Filing (registrar key)", cli_filing_commands},
    {"Decisions (department seal key)", cli_decision_commands},
    {"The holder (e-seal key)", cli_holder_commands},
    {"Queries", cli_query_commands},
    {"Blocks and transactions", cli_chain_commands},
    {"Audit", cli_audit_commands},
    {"Following the chain", cli_watch_commands},
    {"Governance and membership", cli_gov_commands},
    {NULL, NULL},
};

/* 1 when cmd's name is exactly the words given. */
static int name_is(const char *name, const char *w1, const char *w2)
{
    size_t n1 = strlen(w1);
    if (strncmp(name, w1, n1) != 0)
        return 0;
    if (w2 == NULL)
        return name[n1] == '\0';
    return name[n1] == ' ' && strcmp(name + n1 + 1, w2) == 0;
}

const cli_command *cli_find_command(int argc, char **argv, int *used)
{
    if (argc < 1)
        return NULL;
    for (int words = 2; words >= 1; words--) {
        if (argc < words)
            continue;
        for (const cli_section *s = cli_sections; s->title; s++)
            for (const cli_command *c = s->cmds; c->name; c++)
                if (name_is(c->name, argv[0], words == 2 ? argv[1] : NULL)) {
                    *used = words;
                    return c;
                }
    }
    return NULL;
}

int cli_is_group(const char *word)
{
    size_t n = strlen(word);
    for (const cli_section *s = cli_sections; s->title; s++)
        for (const cli_command *c = s->cmds; c->name; c++)
            if (strncmp(c->name, word, n) == 0 && c->name[n] == ' ')
                return 1;
    return 0;
}

void cli_group_help(FILE *f, const char *group)
{
    size_t n = strlen(group);
    fprintf(f, "usage: permit %s SUBCOMMAND ...\n\n", group);
    for (const cli_section *s = cli_sections; s->title; s++)
        for (const cli_command *c = s->cmds; c->name; c++)
            if (strncmp(c->name, group, n) == 0 && (c->name[n] == ' ' || c->name[n] == '\0'))
                fprintf(f, "  %-16s %s\n", c->name, c->summary);
    fprintf(f, "\nSee permit %s SUBCOMMAND --help.\n", group);
}
