/* cli/output.h: everything `permit` prints for humans, and the JSON output.
 *
 * Human output is aligned "Label  value" blocks and tables; text from the
 * node (names, addresses, reasons, error messages) is printed as it is
 * (Chinese included) except that control characters and invalid UTF-8 are
 * replaced by '?', so a hostile value cannot drive the terminal.  Times are
 * China Standard Time (UTC+8) computed arithmetically, never through TZ.
 * Printers tolerate absent or mistyped fields (shown as "-"). */
#ifndef PERMIT_CLI_OUTPUT_H
#define PERMIT_CLI_OUTPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

#define CLI_TIME_LEN 32

/* Copy src into dst (cap >= 1 bytes, always NUL-terminated), replacing
 * control characters (C0, DEL, C1) and bytes that are not well-formed UTF-8
 * with '?', and cutting at a character boundary when it does not fit.
 * src may be NULL (gives ""). */
void cli_clean_text(char *dst, size_t cap, const char *src);

/* Format a time in milliseconds since the Unix epoch as
 * "YYYY-MM-DD HH:MM:SS" in China Standard Time (UTC+8); 0 gives "-". */
void cli_fmt_time(uint64_t ms, char out[CLI_TIME_LEN]);

/* Columns s takes on a terminal: 2 for East Asian wide and full-width
 * characters, 1 for others. */
size_t cli_display_width(const char *s);

/* Print s (sanitised as cli_clean_text) padded with spaces to `width`
 * terminal columns. */
void cli_put_padded(FILE *f, const char *s, size_t width);

/* Print v as indented JSON (UTF-8 as it is) and a newline. */
void cli_print_json(FILE *f, const json_t *v);

/* Human views of RPC results (docs/rpc.md). */
void cli_print_status(FILE *f, json_t *r);   /* status */
void cli_print_license(FILE *f, json_t *r);  /* license.get */
void cli_print_addresses(FILE *f, json_t *r);/* the addresses of license.get */
void cli_print_history(FILE *f, json_t *r);  /* license.history */
void cli_print_list(FILE *f, json_t *r);     /* license.search, .pending, .expiring, .overdue */
void cli_print_block(FILE *f, json_t *r);    /* block.get */
void cli_print_tx(FILE *f, json_t *r);       /* tx.get */

/* A status given as its name or its number, as a name. */
const char *cli_status_name(json_t *v);

#endif
