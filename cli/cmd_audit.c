/* cli/cmd_audit.c: audit (DESIGN §9) and verify-chain.
 *
 * `audit` fetches a license's proof bundle with license.proof (or reads one
 * from a file) and verifies it offline against the genesis file alone
 * (ledger/audit.h); with --checkpoint it also proves that the event log
 * extends the one the auditor saw last, refuses a bundle older than it, and
 * remembers the newer one.  Every verdict states its age against this
 * machine's clock (--max-age refuses old ones: check 8, freshness).
 * `verify-chain` re-executes a node's whole chain from genesis into a fresh
 * ledger and checks every root and every certificate. */
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/audit.h"
#include "ledger/audit_json.h"
#include "ledger/bundle.h"
#include "ledger/gov.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/ledger.h"
#include "ledger/text.h"
#include "ledger/tx.h"
#include "output.h"
#include "rpc_client.h"
#include "rpc_conn.h"

#define CHECKPOINT_MAX_BYTES 4096

/* ---- files ---- */

/* Write a file whole or not at all: a temporary file beside it, synced,
 * then renamed over it. */
static int write_file_atomic(const char *opt, const char *path, const void *data, size_t len,
                             cli_error *err)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (tmp == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    snprintf(tmp, pl + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s %s: %s", opt, path, strerror(e));
    }
    const uint8_t *p = data;
    size_t done = 0;
    int ok = fchmod(fd, 0644) == 0;
    while (ok && done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            ok = 0;
        else
            done += (size_t)w;
    }
    ok = ok && fsync(fd) == 0;
    int e = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        e = errno;
        ok = 0;
    }
    if (!ok)
        unlink(tmp);
    free(tmp);
    if (!ok)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s %s: cannot write: %s", opt, path,
                        strerror(e));
    return CLI_EXIT_OK;
}

/* ---- checkpoints: {chain_id, height, log_size, log_root, block_hash, time} ----
 *
 * docs/formats.md "Audit checkpoint".  block_hash and time were added later:
 * a file without them is still read (and written back with them). */

/* 1 loaded, 0 no such file, or an exit code (negated) */
static int checkpoint_load(const char *path, ledger_audit_checkpoint *cp, cli_error *err)
{
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    uint8_t *buf;
    size_t len;
    int rc = cli_read_file("--checkpoint", path, CHECKPOINT_MAX_BYTES, &buf, &len, err);
    if (rc != CLI_EXIT_OK)
        return -rc;
    json_error_t je;
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    const char *chain = NULL, *root = NULL, *hash = NULL, *ghead = NULL;
    json_int_t height = -1, size = -1, tm = -1, gseq = -1;
    memset(cp, 0, sizeof *cp);
    if (j == NULL ||
        json_unpack(j, "{s:s, s:I, s:I, s:s, s?s, s?I, s?I, s?s !}", "chain_id", &chain,
                    "height", &height, "log_size", &size, "log_root", &root, "block_hash",
                    &hash, "time", &tm, "gov_seq", &gseq, "gov_head", &ghead) != 0 ||
        strlen(chain) > LEDGER_MAX_CHAIN_ID || height < 0 || size < 0 ||
        ledger_hex_decode_exact(root, cp->log_root, 32) != 0 || (hash == NULL) != (tm < 0) ||
        (hash && ledger_hex_decode_exact(hash, cp->block_hash, 32) != 0) ||
        (ghead == NULL) != (gseq < 0) || gseq > UINT32_MAX ||
        (ghead && ledger_hex_decode_exact(ghead, cp->gov_head, 32) != 0)) {
        json_decref(j);
        return -cli_fail(err, CLI_EXIT_USAGE,
                         "--checkpoint %s: not a checkpoint (a JSON object with chain_id, "
                         "height, log_size, log_root, block_hash with time, and gov_seq with "
                         "gov_head)", path);
    }
    cp->has_gov = ghead != NULL;
    cp->gov_seq = ghead ? (uint32_t)gseq : 0;
    snprintf(cp->chain_id, sizeof cp->chain_id, "%s", chain);
    cp->height = (uint64_t)height;
    cp->log_size = (uint64_t)size;
    cp->has_block = hash != NULL;
    cp->time = hash ? (uint64_t)tm : 0;
    json_decref(j);
    return 1;
}

static int checkpoint_save(const char *path, const ledger_audit_report *r, cli_error *err)
{
    char root[65], hash[65];
    ledger_hex_encode(r->header.log_root, 32, root);
    ledger_hex_encode(r->block_hash, 32, hash);
    char ghead[65];
    ledger_hex_encode(r->gov_head, 32, ghead);
    json_t *j = json_pack("{s:s, s:I, s:I, s:s, s:s, s:I, s:I, s:s}", "chain_id",
                          r->header.chain_id, "height", (json_int_t)r->header.height,
                          "log_size", (json_int_t)r->header.log_size, "log_root", root,
                          "block_hash", hash, "time", (json_int_t)r->header.time, "gov_seq",
                          (json_int_t)r->n_gov_events, "gov_head", ghead);
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (s == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t == NULL) {
        free(s);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    int rc = write_file_atomic("--checkpoint", path, t, n + 1, err);
    free(t);
    return rc;
}

/* ---- fetching ---- */

static int fetch_bundle(cli_ctx *ctx, const char *id, const ledger_audit_checkpoint *cp,
                        uint8_t **out, size_t *len, cli_error *err)
{
    cli_rpc *rpc;
    int rc = cli_ctx_rpc(ctx, &rpc, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *params = json_pack("{s:s}", "id", id);
    if (params == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    if (cp && cp->log_size > 0)
        json_object_set_new(params, "since_log_size", json_integer((json_int_t)cp->log_size));
    json_t *res = NULL;
    rc = cli_rpc_call(rpc, "license.proof", params, 0, &res, err);
    json_decref(params);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *b = json_object_get(res, "bundle");
    size_t max_b64 = ledger_b64_len(LEDGER_MAX_BUNDLE_BYTES);
    if (!json_is_string(b) || json_string_length(b) > max_b64) {
        json_decref(res);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE,
                        "the node's license.proof answer holds no bundle of at most %u bytes",
                        LEDGER_MAX_BUNDLE_BYTES);
    }
    size_t cap = json_string_length(b) / 4 * 3 + 3;
    uint8_t *buf = malloc(cap);
    if (buf == NULL) {
        json_decref(res);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    }
    if (ledger_b64_decode(json_string_value(b), json_string_length(b), buf, cap, len) != 0) {
        free(buf);
        json_decref(res);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "the node's bundle is not valid base64");
    }
    json_decref(res);
    *out = buf;
    return CLI_EXIT_OK;
}

/* ---- output ---- */

static void line(FILE *f, const char *label, const char *value)
{
    fprintf(f, "%-14s %s\n", label, value);
}

/* What the verdict says about the checkpoint. */
static void checkpoint_line(char *buf, size_t cap, const ledger_audit_report *r, int have_cp,
                            const ledger_audit_checkpoint *cp, const char *cp_path)
{
    if (!have_cp)
        snprintf(buf, cap, "%s created at block %llu", cp_path,
                 (unsigned long long)r->header.height);
    else if (r->header.height == cp->height)
        snprintf(buf, cap, "block %llu is the checkpoint's own block; %s %s",
                 (unsigned long long)r->header.height, cp_path,
                 cp->has_block ? "unchanged" : "now also holds its hash and time");
    else if (r->header.log_size == cp->log_size)
        snprintf(buf, cap, "block %llu is newer than checkpoint block %llu, with the same log "
                 "(%llu events); %s now holds block %llu", (unsigned long long)r->header.height,
                 (unsigned long long)cp->height, (unsigned long long)cp->log_size, cp_path,
                 (unsigned long long)r->header.height);
    else
        snprintf(buf, cap, "block %llu is newer than checkpoint block %llu and its log (%llu "
                 "events) extends the checkpoint's (%llu events); %s now holds block %llu",
                 (unsigned long long)r->header.height, (unsigned long long)cp->height,
                 (unsigned long long)r->header.log_size, (unsigned long long)cp->log_size,
                 cp_path, (unsigned long long)r->header.height);
}

/* The warning a stale verdict carries (empty when it is fresh). */
static void stale_warning(char *buf, size_t cap, const ledger_audit_age *age)
{
    char a[32], lim[32];
    buf[0] = '\0';
    if (!age->stale)
        return;
    ledger_audit_age_format(age->age_ms, a, sizeof a);
    ledger_audit_age_format(age->stale_after_ms, lim, sizeof lim);
    snprintf(buf, cap, "the certified block is %s old, more than three heartbeats (%s): the "
             "status is as of that block, and a revocation or expiry since would not show; "
             "audit a fresh bundle, or refuse old ones with --max-age", a, lim);
}

/* The evidence of the license's VERIFY events (DESIGN §4), read from the
 * transactions of a bundle that has passed every check: [{seq, method,
 * sha256, note}], NULL if none (or out of memory: the report omits it). */
static json_t *bundle_evidence(const uint8_t *bundle, size_t len, const char *chain_id)
{
    ledger_bundle b;
    ledger_err e;
    json_t *out = NULL;
    if (ledger_bundle_decode(&b, bundle, len, &e) != 0)
        goto done;
    for (size_t i = 0; i < b.n_events; i++) {
        ledger_event ev;
        ledger_tx tx;
        if (ledger_event_decode(&ev, b.events[i].event, b.events[i].event_len) != 0 ||
            ev.kind != PERMIT__TX_KIND__VERIFY)
            continue;
        if (ledger_tx_decode(&tx, b.events[i].tx, b.events[i].tx_len, chain_id, &e) != 0) {
            ledger_tx_release(&tx);
            continue;
        }
        const Permit__Evidence *x = tx.body->decision ? tx.body->decision->evidence : NULL;
        if (x != NULL) {
            char hx[65];
            ledger_hex_encode(x->sha256.data, x->sha256.len == 32 ? 32 : 0, hx);
            if (out == NULL)
                out = json_array();
            if (out)
                json_array_append_new(out, json_pack("{s:I, s:s, s:s, s:s}", "seq",
                                                     (json_int_t)ev.seq, "method", x->method,
                                                     "sha256", hx, "note", x->note));
        }
        ledger_tx_release(&tx);
    }
done:
    ledger_bundle_free(&b);
    return out;
}

static void print_evidence(FILE *f, json_t *evs)
{
    size_t i;
    json_t *v;
    json_array_foreach(evs, i, v) {
        char buf[1400], note[1100];
        cli_clean_text(note, sizeof note, json_string_value(json_object_get(v, "note")));
        snprintf(buf, sizeof buf, "event %lld, %s, sha256 %s%s%s",
                 (long long)json_integer_value(json_object_get(v, "seq")),
                 json_string_value(json_object_get(v, "method")),
                 json_string_value(json_object_get(v, "sha256")), note[0] ? ": " : "", note);
        line(f, "Verified", buf);
    }
}

static void print_report(FILE *f, const ledger_audit_report *r,
                         const ledger_audit_age *age, const char *clock,
                         const char *bundle_file, int have_cp,
                         const ledger_audit_checkpoint *cp, const char *cp_path)
{
    char buf[600], t[CLI_TIME_LEN], hx[65], a[32];
    line(f, "License", r->license_id);
    line(f, "Status", ledger_status_name(r->status));
    cli_clean_text(buf, sizeof buf, r->record.name);
    line(f, "Name", buf);
    if (r->record.has_holder) {
        static const uint8_t zero[32];
        ledger_hex_encode(r->record.holder_key, 32, hx);
        line(f, "Holder key", hx);
        if (memcmp(r->record.pledge_sha256, zero, 32) != 0) {
            ledger_hex_encode(r->record.pledge_sha256, 32, hx);
            snprintf(buf, sizeof buf, "%s (SHA-256 of the pledge text; the holder's signature "
                     "over it checked in the replay)", hx);
            line(f, "Pledge", buf);
        }
    }
    snprintf(buf, sizeof buf, "%zu, one unbroken chain from APPLY to the record's head, "
             "replayed under the ledger rules", r->n_events);
    line(f, "Events", buf);
    for (size_t i = 0; i < r->record.n_items; i++) {
        if (r->record.items[i].decision != DEC_INSTANT)
            continue;
        char item[300];
        cli_clean_text(item, sizeof item, r->record.items[i].permit);
        snprintf(buf, sizeof buf, "%s (%s): approved by rule instant (秒批) in the block of the "
                 "APPLY, no license of the USCC revoked within instant_ban (replayed from the "
                 "USCC record's proof)", item, r->record.items[i].department);
        line(f, "Instant", buf);
    }
    if (r->n_gov_events > 0) {
        snprintf(buf, sizeof buf, "%zu events of the governance record replayed from genesis: "
                 "each signer checked against the membership in force at its block",
                 r->n_gov_events);
        line(f, "Governance", buf);
    }
    cli_fmt_time(r->header.time, t);
    ledger_hex_encode(r->block_hash, 32, hx);
    snprintf(buf, sizeof buf, "block %llu, %s (hash %.16s…)", (unsigned long long)r->header.height,
             t, hx);
    line(f, "Certified at", buf);
    cli_fmt_time(age->now, t);
    if (age->ahead_ms > 0) {
        ledger_audit_age_format(age->ahead_ms, a, sizeof a);
        snprintf(buf, sizeof buf, "none: the block's time is %s ahead of %s (%s)", a,
                 clock, t);
    } else {
        ledger_audit_age_format(age->age_ms, a, sizeof a);
        snprintf(buf, sizeof buf, "%s, by %s (%s)", a, clock, t);
    }
    line(f, "Age", buf);
    stale_warning(buf, sizeof buf, age);
    if (buf[0])
        line(f, "Warning", buf);
    if (age->status_now == LIC_EXPIRED && r->status != LIC_EXPIRED) {
        cli_fmt_time(r->record.expires_at, t);
        snprintf(buf, sizeof buf, "the license expired at %s, after the certified block: by "
                 "%s it is EXPIRED unless it was renewed since", t, clock);
        line(f, "Expired", buf);
    }
    snprintf(buf, sizeof buf, "the license as it stood at block %llu; not that nothing changed "
             "since", (unsigned long long)r->header.height);
    line(f, "Proves", buf);
    const ledger_genesis *vs = r->vset->m; /* the validators in force at the header */
    int n = snprintf(buf, sizeof buf, "%zu of %zu validators:", r->n_signers, vs->n_validators);
    for (size_t i = 0; i < r->n_signers && n > 0 && (size_t)n < sizeof buf; i++) {
        const ledger_department *d = &vs->departments[r->signers[i]];
        char name[200];
        cli_clean_text(name, sizeof name, d->name);
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s %s %s", i ? "," : "", d->id, name);
    }
    line(f, "Certified by", buf);
    ledger_hex_encode(r->header.log_root, 32, hx);
    snprintf(buf, sizeof buf, "%llu events, root %.16s…", (unsigned long long)r->header.log_size,
             hx);
    line(f, "Event log", buf);
    ledger_hex_encode(r->header.state_root, 32, hx);
    snprintf(buf, sizeof buf, "%.16s…", hx);
    line(f, "State root", buf);
    if (cp_path) {
        checkpoint_line(buf, sizeof buf, r, have_cp, cp, cp_path);
        line(f, "Checkpoint", buf);
    }
    if (bundle_file)
        line(f, "Bundle", bundle_file);
    const char *checks = "1 certificate, 2 log, 3 chain, 4 state, 5 replay";
    snprintf(buf, sizeof buf, "%s%s%s: passed", checks,
             r->consistency_checked ? ", 6 consistency, 7 rollback" : "",
             age->max_age_ms ? ", 8 freshness" : "");
    line(f, "Checks", buf);
}

/* ---- audit ---- */

/* The clock the verdict's age is measured against: this machine's, or
 * --now (for tests and for re-reading a verdict as of a given moment). */
static int audit_clock(const cli_args *a, uint64_t *now, cli_error *err)
{
    const char *s = cli_arg(a, "now");
    if (s == NULL) {
        *now = cli_now_ms();
        return CLI_EXIT_OK;
    }
    return cli_parse_u64("--now", s, 1, UINT64_MAX / 2, now, err);
}

static int audit_max_age(const cli_args *a, uint64_t *max_age, cli_error *err)
{
    const char *s = cli_arg(a, "max-age");
    *max_age = 0;
    if (s == NULL)
        return CLI_EXIT_OK;
    if (ledger_duration_parse(s, max_age) != 0 || *max_age == 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--max-age %.40s: not a duration above zero "
                        "(digits and a unit: ms, s, m, h, d or y, e.g. 10m)", s);
    return CLI_EXIT_OK;
}

static int audit_failed(const ledger_audit_failure *f, const char *what, cli_error *err)
{
    char msg[600], clean[600];
    ledger_audit_failure_format(f, msg, sizeof msg);
    cli_clean_text(clean, sizeof clean, msg);
    return cli_fail(err, CLI_EXIT_VERIFY, "audit of %s failed: %s", what, clean);
}

static int cmd_audit(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *bundle_path = cli_arg(a, "bundle");
    const char *out_path = cli_arg(a, "out");
    const char *cp_path = cli_arg(a, "checkpoint");
    const char *id = a->n_pos ? a->pos[0] : NULL;
    if (bundle_path && id)
        return cli_fail(err, CLI_EXIT_USAGE,
                        "audit: give either LICENSE (fetch from a node) or --bundle FILE");
    if (!bundle_path && !id)
        return cli_fail(err, CLI_EXIT_USAGE,
                        "audit: missing argument LICENSE (or --bundle FILE to verify offline)");
    if (bundle_path && out_path)
        return cli_fail(err, CLI_EXIT_USAGE, "audit: --out goes with LICENSE, not --bundle");
    uint64_t now, max_age;
    int rc;
    if ((rc = audit_clock(a, &now, err)) != CLI_EXIT_OK ||
        (rc = audit_max_age(a, &max_age, err)) != CLI_EXIT_OK)
        return rc;
    ledger_genesis *g = NULL;
    ledger_err le;
    if (ledger_genesis_load(cli_arg(a, "genesis"), &g, &le) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--genesis: %s", le.msg);
    ledger_audit_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    int have_cp = 0;
    uint8_t *bundle = NULL;
    size_t len = 0;
    ledger_audit_report rep;
    memset(&rep, 0, sizeof rep);
    if (cp_path) {
        have_cp = checkpoint_load(cp_path, &cp, err);
        if (have_cp < 0) {
            rc = -have_cp;
            goto out;
        }
    }
    if (bundle_path) {
        rc = cli_read_file("--bundle", bundle_path, LEDGER_MAX_BUNDLE_BYTES, &bundle, &len, err);
    } else {
        rc = fetch_bundle(ctx, id, have_cp ? &cp : NULL, &bundle, &len, err);
        /* a node whose log is shorter than the checkpoint's refuses to
         * prove consistency from it: fetch what it has, so the verdict
         * names the lag (check 7) instead of blaming the command line */
        if (rc == CLI_EXIT_USAGE && have_cp && cp.log_size > 0)
            rc = fetch_bundle(ctx, id, NULL, &bundle, &len, err);
    }
    if (rc != CLI_EXIT_OK)
        goto out;
    /* kept whatever the verdict: a bundle that fails is evidence */
    if (out_path && (rc = write_file_atomic("--out", out_path, bundle, len, err)) != CLI_EXIT_OK)
        goto out;
    ledger_audit_failure f;
    if (ledger_audit_verify(g, bundle, len, have_cp ? &cp : NULL, &rep, &f) != 0) {
        rc = audit_failed(&f, id ? id : bundle_path, err);
        goto out;
    }
    if (id && strcmp(rep.license_id, id) != 0) {
        rc = cli_fail(err, CLI_EXIT_VERIFY, "audit: the node answered with the bundle of %s, "
                      "not %s", rep.license_id, id);
        goto out;
    }
    ledger_audit_age age;
    if (ledger_audit_freshness(g, &rep, now, max_age, &age, &f) != 0) {
        rc = audit_failed(&f, id ? id : bundle_path, err);
        goto out;
    }
    /* only forward: ledger_audit_verify refused anything older, and the
     * checkpoint's own block is written again only to add what an older
     * file lacks */
    if (cp_path &&
        (!have_cp || rep.header.height > cp.height || !cp.has_block || !cp.has_gov) &&
        (rc = checkpoint_save(cp_path, &rep, err)) != CLI_EXIT_OK)
        goto out;
    char warn[600];
    stale_warning(warn, sizeof warn, &age);
    if (warn[0])
        fprintf(stderr, "permit: warning: %s\n", warn);
    json_t *evidence = bundle_evidence(bundle, len, g->chain_id);
    if (ctx->json) {
        json_t *j = ledger_audit_report_json(g, &rep, &age);
        if (j && evidence)
            json_object_set(j, "evidence", evidence);
        if (j && cp_path) {
            char buf[600];
            checkpoint_line(buf, sizeof buf, &rep, have_cp, &cp, cp_path);
            json_object_set_new(j, "checkpoint", json_string(cp_path));
            json_object_set_new(j, "checkpoint_note", json_string(buf));
        }
        if (j == NULL) {
            json_decref(evidence);
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
            goto out;
        }
        cli_print_json(stdout, j);
        json_decref(j);
    } else {
        print_report(stdout, &rep, &age,
                     cli_arg(a, "now") ? "the clock of --now" : "this machine's clock", out_path,
                     have_cp, &cp, cp_path);
        if (evidence)
            print_evidence(stdout, evidence);
    }
    json_decref(evidence);
    rc = CLI_EXIT_OK;
out:
    ledger_audit_report_clear(&rep);
    free(bundle);
    ledger_genesis_free(g);
    return rc;
}

/* ---- verify-chain ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct {
    uint64_t blocks, txs, certified;
    uint8_t tip[32];
} chain_stats;

/* Re-execute block h of src into dst. */
static int verify_block(ledger *src, ledger *dst, uint64_t h,
                        uint64_t top, chain_stats *s, cli_error *err)
{
    ledger_header hdr;
    uint8_t *hb = NULL;
    size_t hlen = 0, n = 0;
    uint8_t(*ids)[32] = NULL;
    uint8_t **envs = NULL;
    size_t *lens = NULL;
    ledger_err le;
    int rc = CLI_EXIT_VERIFY;
    int r = ledger_get_block(src, h, &hdr, &hb, &hlen, &ids, &n, &le);
    if (r != 1) {
        cli_fail(err, CLI_EXIT_VERIFY, "block %llu: %s", (unsigned long long)h,
                 r < 0 ? le.msg : "missing");
        goto out;
    }
    envs = calloc(n ? n : 1, sizeof *envs);
    lens = calloc(n ? n : 1, sizeof *lens);
    if (envs == NULL || lens == NULL) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t th;
        uint32_t ti;
        r = ledger_get_tx(src, ids[i], &envs[i], &lens[i], &th, &ti, &le);
        if (r != 1 || th != h || ti != i) {
            cli_fail(err, CLI_EXIT_VERIFY, "block %llu: transaction %zu is %s",
                     (unsigned long long)h, i,
                     r < 0 ? le.msg : r == 0 ? "missing" : "recorded at another place");
            goto out;
        }
    }
    uint8_t hash[32];
    ledger_sha256(hb, hlen, hash);
    ledger_commit c;
    r = ledger_get_commit(src, h, &c, &le);
    if (r < 0) {
        cli_fail(err, CLI_EXIT_VERIFY, "block %llu: certificate: %s", (unsigned long long)h,
                 le.msg);
        goto out;
    }
    if (r == 0 && h < top) {
        cli_fail(err, CLI_EXIT_VERIFY, "block %llu has no commit certificate",
                 (unsigned long long)h);
        goto out;
    }
    if (r == 1 && ledger_commit_verify_at(dst, &c, hash, h, &le) != 0) {
        cli_fail(err, CLI_EXIT_VERIFY, "block %llu: certificate: %s", (unsigned long long)h,
                 le.msg);
        goto out;
    }
    if (ledger_apply_block(dst, hb, hlen, (const uint8_t *const *)envs, lens, n, NULL,
                           r == 1 ? &c : NULL, 0, &le) != 0) {
        char clean[400];
        cli_clean_text(clean, sizeof clean, le.msg);
        cli_fail(err, CLI_EXIT_VERIFY, "block %llu diverges from its re-execution: %s",
                 (unsigned long long)h, clean);
        goto out;
    }
    s->blocks++;
    s->txs += n;
    s->certified += r == 1;
    memcpy(s->tip, hash, 32);
    rc = CLI_EXIT_OK;
out:
    for (size_t i = 0; envs && i < n; i++)
        free(envs[i]);
    free(envs);
    free(lens);
    free(ids);
    free(hb);
    return rc;
}

static int cmd_verify_chain(cli_ctx *ctx, const cli_args *a, cli_error *err)
{
    const char *home = cli_arg(a, "home");
    char gpath[4096], db[4096];
    if (snprintf(gpath, sizeof gpath, "%s/config/genesis.json", home) >= (int)sizeof gpath ||
        snprintf(db, sizeof db, "%s/data/db", home) >= (int)sizeof db)
        return cli_fail(err, CLI_EXIT_USAGE, "--home: path too long");
    ledger_genesis *g = NULL;
    ledger_err le;
    if (ledger_genesis_load(gpath, &g, &le) != 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--home: %s", le.msg);
    struct stat st;
    if (stat(db, &st) != 0 || !S_ISDIR(st.st_mode)) {
        ledger_genesis_free(g);
        return cli_fail(err, CLI_EXIT_USAGE, "--home: %s holds no database", db);
    }
    const char *tmpdir = getenv("TMPDIR");
    char tmp[4096], sec[4200], fresh[4200];
    snprintf(tmp, sizeof tmp, "%s/permit-verify-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        ledger_genesis_free(g);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "cannot make a temporary folder: %s",
                        strerror(errno));
    }
    snprintf(sec, sizeof sec, "%s/secondary", tmp);
    snprintf(fresh, sizeof fresh, "%s/fresh", tmp);
    ledger *src = NULL, *dst = NULL;
    int rc = CLI_EXIT_OK;
    chain_stats s;
    memset(&s, 0, sizeof s);
    if (ledger_open_readonly(&src, db, sec, g, &le) != 0) {
        rc = cli_fail(err, le.code == LEDGER_ERR_INVALID ? CLI_EXIT_VERIFY : CLI_EXIT_UNAVAILABLE,
                      "%s: %s", db, le.msg);
        goto out;
    }
    if (ledger_open(&dst, fresh, g, &le) != 0) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "the fresh ledger: %s", le.msg);
        goto out;
    }
    ledger_tip tip;
    ledger_get_tip(src, &tip);
    uint64_t every = 2000;
    const char *pv = cli_arg(a, "progress");
    if (pv && (rc = cli_parse_u64("--progress", pv, 0, 3600000, &every, err)) != CLI_EXIT_OK)
        goto out;
    /* the first line after the first block, then every `every` ms */
    int64_t t0 = cli_conn_mono_ms(), next = t0;
    for (uint64_t h = 1; h <= tip.height; h++) {
        if ((rc = verify_block(src, dst, h, tip.height, &s, err)) != CLI_EXIT_OK)
            goto out;
        int64_t now = cli_conn_mono_ms();
        if (every > 0 && now >= next && h < tip.height) {
            /* progress on stderr, so stdout keeps only the verdict */
            double rate = (double)h * 1000.0 / (double)(now - t0 > 0 ? now - t0 : 1);
            fprintf(stderr, "verify-chain: block %llu of %llu (%.0f%%), %.0f blocks/s, about "
                            "%.0f s left\n",
                    (unsigned long long)h, (unsigned long long)tip.height,
                    100.0 * (double)h / (double)tip.height, rate,
                    (double)(tip.height - h) / rate);
            next = now + (int64_t)every;
        }
    }
    if (tip.height > 0 && memcmp(s.tip, tip.hash, 32) != 0) {
        rc = cli_fail(err, CLI_EXIT_VERIFY, "the re-executed tip differs from the node's");
        goto out;
    }
    /* what re-execution does not compare: the node's own indexes, records
     * and state tree against each other */
    if (ledger_check_integrity(src, &le) != 0) {
        rc = cli_fail(err, CLI_EXIT_VERIFY, "the node's database: %s", le.msg);
        goto out;
    }
    char hx[65];
    ledger_hex_encode(tip.hash, 32, hx);
    if (ctx->json) {
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:s, s:b}", "chain_id", g->chain_id,
                              "height", (json_int_t)tip.height, "transactions",
                              (json_int_t)s.txs, "certified_blocks", (json_int_t)s.certified,
                              "tip_hash", hx, "verified", 1);
        if (j == NULL) {
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
            goto out;
        }
        cli_print_json(stdout, j);
        json_decref(j);
    } else {
        char buf[200];
        line(stdout, "Chain", g->chain_id);
        snprintf(buf, sizeof buf, "%llu blocks, %llu transactions re-executed from genesis",
                 (unsigned long long)s.blocks, (unsigned long long)s.txs);
        line(stdout, "Verified", buf);
        snprintf(buf, sizeof buf, "%llu of %llu blocks certified by a quorum of genesis "
                 "validators", (unsigned long long)s.certified, (unsigned long long)s.blocks);
        line(stdout, "Certificates", buf);
        snprintf(buf, sizeof buf, "block %llu, hash %s", (unsigned long long)tip.height, hx);
        line(stdout, "Tip", buf);
        line(stdout, "Result", "every root and certificate checks out; the database is "
                               "consistent");
    }
out:
    ledger_close(dst);
    ledger_close(src);
    ledger_genesis_free(g);
    rm_tree(tmp);
    return rc;
}

static const cli_option audit_opts[] = {
    {"genesis", "FILE", CLI_OPT_REQUIRED, "the chain's genesis file: the only thing trusted"},
    {"bundle", "FILE", 0, "verify this bundle file; no node is contacted"},
    {"out", "FILE", 0, "also write the fetched bundle to FILE (kept even if it fails)"},
    {"checkpoint", "FILE", 0,
     "refuse a bundle older than the block saved in FILE, prove the event log extends the "
     "saved one, then save the newer block"},
    {"max-age", "DURATION", 0,
     "refuse (check 8, freshness) a certified block older than this, e.g. 10m or 1d"},
    {"now", "MS", 0,
     "measure the age against this time (ms since the epoch) instead of this machine's "
     "clock: for tests"},
    {NULL},
};

static const cli_option verify_chain_opts[] = {
    {"home", "DIR", CLI_OPT_REQUIRED, "the node's home folder (config/genesis.json, data/db)"},
    {"progress", "MS", 0,
     "a progress line on stderr after the first block, then every MS milliseconds (default "
     "2000; 0: none)"},
    {NULL},
};

const cli_command cli_audit_commands[] = {
    {"audit", "[LICENSE]", 0, 1, audit_opts, 0, 0,
     "verify a license's history and state from the genesis file alone",
     "With LICENSE, fetches the license's proof bundle from the node (license.proof) and\n"
     "verifies it offline; with --bundle FILE, verifies a bundle file with no node at all.\n"
     "The checks (DESIGN §9): 1 certificate (more than 2/3 of the genesis validators signed\n"
     "the header), 2 log (every event is in the event log), 3 chain (an unbroken chain from\n"
     "APPLY to the record's head), 4 state (the record is current under state_root), 5 replay\n"
     "(the status follows from the transactions under the ledger rules); with --checkpoint\n"
     "also 7 rollback (the block is not older than the checkpoint's) and 6 consistency\n"
     "(the event log extends the checkpoint's: history was not rewritten); with --max-age\n"
     "also 8 freshness.  A failure names the check, the event or block and the reason, and\n"
     "exits 4.  The checkpoint file is written only after a successful audit, and only\n"
     "forward.\n"
     "Exit 0 proves the license as it stood at the certified block, not that nothing\n"
     "changed since: the verdict states the block's time and its age by this machine's\n"
     "clock, and warns when it is older than three heartbeats of the chain.",
     cmd_audit},
    {"verify-chain", NULL, 0, 0, verify_chain_opts, 0, 0,
     "re-execute a node's chain from genesis and check every root and certificate",
     "Reads the node's database (as a read-only secondary instance, so the node may keep\n"
     "running) and re-executes every block into a fresh ledger in a temporary folder,\n"
     "verifying every signature, every commit certificate against the genesis validators\n"
     "and every header root; then checks the node's database for internal consistency.\n"
     "Reports the first divergence and exits 4; exits 0 when everything checks out.",
     cmd_verify_chain},
    {NULL},
};
