/* cli/sign.h: what every write command shares once it has built its
 * transaction body: the chain id, the key, signing, the local checks,
 * --sign-only, and tx.submit.
 *
 * The chain id comes from --chain-id or --genesis when signing offline
 * (--sign-only); online it is always asked from the node (`status`), never
 * cached, and when --chain-id or --genesis is also given the two must agree
 * (else CLI_EXIT_VERIFY: the node serves another chain). */
#ifndef PERMIT_CLI_SIGN_H
#define PERMIT_CLI_SIGN_H

#include <jansson.h>
#include <stdint.h>

#include "args.h"
#include "cli.h"
#include "ledger/limits.h"
#include "permit.pb-c.h"

/* Start a body of `kind` with a fresh random nonce (kept in nonce, which
 * must outlive body); cli_write sets the timestamp just before signing.
 * Returns CLI_EXIT_OK, or CLI_EXIT_UNAVAILABLE when the OS RNG fails. */
int cli_body_init(Permit__TxBody *body, int kind, uint8_t nonce[LEDGER_NONCE_LEN],
                  cli_error *err) __attribute__((warn_unused_result));

/* Sign body with the key of --key for the chain (see above), check the
 * envelope locally (its form always; signer role and field rules when
 * --genesis is given: CLI_EXIT_REJECTED naming the rule), then either print
 * it (--sign-only: hex, or a JSON object with --json) or submit it with
 * tx.submit (wait "commit", or "none" with --no-wait) and print the outcome.
 * The secret key is wiped before returning. */
int cli_write(cli_ctx *ctx, const cli_args *a, Permit__TxBody *body, cli_error *err)
    __attribute__((warn_unused_result));

/* The chain id as a write command finds it (above): from --chain-id or
 * --genesis when `offline`, else from the node, checked against them.
 * CLI_EXIT_OK with chain filled, or an exit code. */
int cli_chain_id(cli_ctx *ctx, const cli_args *a, int offline, char chain[65], cli_error *err)
    __attribute__((warn_unused_result));

#define CLI_PLEDGE_TEXT_MAX (1u << 20) /* bytes of a pledge text file */

/* SHA-256 of the pledge text in file `path` (option `opt` in messages),
 * at most CLI_PLEDGE_TEXT_MAX bytes (cmd_holder.c). */
int cli_pledge_text_hash(const char *opt, const char *path, uint8_t out[32], cli_error *err)
    __attribute__((warn_unused_result));

/* Submit a hex envelope.  timeout_ms 0 leaves the node's default.  Returns
 * CLI_EXIT_OK with *result (new reference) or an exit code. */
int cli_submit(cli_ctx *ctx, const char *hex, int no_wait, uint64_t timeout_ms,
               json_t **result, cli_error *err) __attribute__((warn_unused_result));

/* One line for a human about a tx.submit result: "<KIND> <license>
 * committed in block H (tx ID)" or "... submitted (tx ID), not yet
 * committed".  kind and license may be NULL. */
void cli_print_submit(FILE *f, json_t *result, const char *kind, const char *license);

/* 1 when s is a chain id: [A-Za-z0-9._-]{1,64}. */
int cli_chain_id_valid(const char *s);

#endif
