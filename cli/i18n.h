/* cli/i18n.h: Chinese for the CLI's own words when the locale is Chinese
 * (LC_ALL, LC_MESSAGES or LANG, the first set, starting with "zh", e.g.
 * LANG=zh_CN.UTF-8); English otherwise.  Labels, column heads, statuses,
 * decisions, the submit lines and what a refused rule means are
 * translated; --json output, help texts and the node's own messages stay as
 * they are (rule names are the contract, docs/rules.md). */
#ifndef PERMIT_CLI_I18N_H
#define PERMIT_CLI_I18N_H

/* 1 when the CLI speaks Chinese. */
int cli_zh(void);
/* en in Chinese when the CLI speaks it and knows the word; else en. */
const char *cli_tr(const char *en);
/* What refusal by `rule` means, in Chinese; NULL in English or when the
 * rule is not one of those a desk meets. */
const char *cli_rule_words(const char *rule);

#endif
