/* ledger/bundle.c: building, bounding, decoding and encoding proof bundles
 * (bundle.h). */
#include "bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gov.h"
#include "hash.h"
#include "license.h"
#include "pbcheck.h"
#include "permit.pb-c.h"

/* ---- a bounded scan of the protobuf wire format ---------------------------
 *
 * protobuf-c allocates what the input announces and accepts any nesting of
 * unknown fields, so its input is first walked against a schema of the
 * bundle's messages: only known field numbers with their wire types, every
 * length-delimited field within its maximum, every repeated field within
 * its count, every singular field at most once. */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct scan_msg scan_msg;

typedef struct {
    uint32_t num;
    uint8_t wire;
    size_t max_count;   /* 1 for a singular field */
    size_t max_len;     /* bytes of a WT_LEN field */
    const scan_msg *sub;/* WT_LEN field holding a message */
    const char *name;
} scan_field;

struct scan_msg {
    const char *name;
    const scan_field *fields;
    size_t n;
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const scan_field commit_sig_fields[] = {
    {1, WT_VARINT, 1, 0, NULL, "validator"},
    {2, WT_LEN, 1, 64, NULL, "sig"},
};
static const scan_msg commit_sig_msg = {"CommitSig", commit_sig_fields, N_OF(commit_sig_fields)};

static const scan_field commit_fields[] = {
    {1, WT_VARINT, 1, 0, NULL, "height"},
    {2, WT_VARINT, 1, 0, NULL, "round"},
    {3, WT_LEN, 1, 32, NULL, "block_hash"},
    {4, WT_LEN, LEDGER_MAX_DEPARTMENTS, 2 + 6 + 2 + 64, &commit_sig_msg, "sigs"},
};
static const scan_msg commit_msg = {"Commit", commit_fields, N_OF(commit_fields)};

static const scan_field state_fields[] = {
    {1, WT_LEN, SMT_MAX_PROOF, 32, NULL, "siblings"},
    {2, WT_LEN, 1, 32, NULL, "leaf_key"},
    {3, WT_LEN, 1, 32, NULL, "leaf_value"},
};
static const scan_msg state_msg = {"ProofState", state_fields, N_OF(state_fields)};

static const scan_field event_fields[] = {
    {1, WT_LEN, 1, LEDGER_EVENT_MAX_BYTES, NULL, "event"},
    {2, WT_VARINT, 1, 0, NULL, "log_index"},
    {3, WT_LEN, MERKLE_MAX_PROOF, 32, NULL, "log_path"},
    {4, WT_LEN, 1, LEDGER_MAX_ENVELOPE, NULL, "tx"},
};
static const scan_msg event_msg = {"ProofEvent", event_fields, N_OF(event_fields)};

static const scan_field bundle_fields[] = {
    {1, WT_VARINT, 1, 0, NULL, "version"},
    {2, WT_LEN, 1, LEDGER_MAX_LICENSE_ID, NULL, "license_id"},
    {3, WT_LEN, 1, LEDGER_MAX_HEADER_BYTES, NULL, "header"},
    {4, WT_LEN, 1, LEDGER_MAX_COMMIT_BYTES * 2, &commit_msg, "commit"},
    {5, WT_LEN, 1, LEDGER_MAX_RECORD, NULL, "record"},
    {6, WT_LEN, 1, (SMT_MAX_PROOF + 2) * 36, &state_msg, "state"},
    {7, WT_VARINT, 1, 0, NULL, "since_log_size"},
    {8, WT_LEN, MERKLE_MAX_PROOF, 32, NULL, "consistency"},
    {9, WT_LEN, LEDGER_MAX_BUNDLE_EVENTS,
     16 + LEDGER_EVENT_MAX_BYTES + 12 + MERKLE_MAX_PROOF * 34 + LEDGER_MAX_ENVELOPE, &event_msg,
     "events"},
    {10, WT_LEN, 1, LEDGER_MAX_GOV_RECORD, NULL, "gov_record"},
    {11, WT_LEN, 1, (SMT_MAX_PROOF + 2) * 36, &state_msg, "gov_state"},
    {12, WT_LEN, LEDGER_MAX_BUNDLE_EVENTS,
     16 + LEDGER_EVENT_MAX_BYTES + 12 + MERKLE_MAX_PROOF * 34 + LEDGER_MAX_ENVELOPE, &event_msg,
     "gov_events"},
    {13, WT_LEN, 1, LEDGER_MAX_USCC_RECORD, NULL, "uscc_record"},
    {14, WT_LEN, 1, (SMT_MAX_PROOF + 2) * 36, &state_msg, "uscc_state"},
};
static const scan_msg bundle_msg = {"ProofBundle", bundle_fields, N_OF(bundle_fields)};

/* Read a varint of at most 10 bytes: 0, -1 (cut off or beyond 64 bits) or
 * -2 (not minimal: a last byte of 0 after the first pads the number, and
 * protobuf-c would read the padded and the plain form alike). */
static int rd_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*off >= len)
            return -1;
        uint8_t b = p[(*off)++];
        if (i == 9 && b > 1)
            return -1; /* beyond 64 bits */
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0)
                return -2;
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int bad_varint(ledger_err *err, int r, const scan_msg *m, const char *field,
                      const char *what)
{
    if (r == -2)
        return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                           "bundle: %s%s%s: %s is not in its shortest form (one bundle, one "
                           "encoding)", m->name, field ? "." : "", field ? field : "", what);
    return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                       "bundle: %s%s%s: %s is cut off or too long", m->name, field ? "." : "",
                       field ? field : "", what);
}

static int scan(const uint8_t *p, size_t len, const scan_msg *m, ledger_err *err)
{
    size_t counts[16] = {0};
    size_t off = 0;
    uint64_t last = 0;
    while (off < len) {
        uint64_t tag;
        int r = rd_varint(p, len, &off, &tag);
        if (r != 0)
            return bad_varint(err, r, m, NULL, "a field tag");
        uint64_t num = tag >> 3;
        unsigned wire = (unsigned)(tag & 7);
        const scan_field *f = NULL;
        size_t fi = 0;
        for (; fi < m->n; fi++)
            if (m->fields[fi].num == num) {
                f = &m->fields[fi];
                break;
            }
        if (f == NULL)
            return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                               "bundle: %s: unknown field %llu", m->name,
                               (unsigned long long)num);
        if (wire != f->wire)
            return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                               "bundle: %s.%s: wrong wire type %u", m->name, f->name, wire);
        if (++counts[fi] > f->max_count)
            return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                               f->max_count == 1 ? "bundle: %s.%s: given more than once"
                                                 : "bundle: %s.%s: more than the allowed number",
                               m->name, f->name);
        /* one order: fields by number, a repeated field's items together */
        if (num < last)
            return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                               "bundle: %s.%s: fields out of order (one bundle, one encoding: "
                               "fields by number, each repeated field's items together)",
                               m->name, f->name);
        last = num;
        uint64_t v;
        if (wire == WT_VARINT) {
            if ((r = rd_varint(p, len, &off, &v)) != 0)
                return bad_varint(err, r, m, f->name, "a number");
            continue;
        }
        /* WT_LEN: every field of the schema */
        if ((r = rd_varint(p, len, &off, &v)) == -2)
            return bad_varint(err, r, m, f->name, "a length");
        if (r != 0 || v > len - off)
            return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                               "bundle: %s.%s: truncated", m->name, f->name);
        if (v > f->max_len)
            return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                               "bundle: %s.%s: %llu bytes, more than %zu", m->name, f->name,
                               (unsigned long long)v, f->max_len);
        if (f->sub && scan(p + off, (size_t)v, f->sub, err) != 0)
            return -1;
        off += (size_t)v;
    }
    return 0;
}

/* ---- decode ------------------------------------------------------------------ */

static int malformed(ledger_err *err, const char *what)
{
    return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed", "bundle: %s", what);
}

static int copy_bytes(uint8_t **dst, size_t *dlen, const ProtobufCBinaryData *src)
{
    *dst = malloc(src->len ? src->len : 1);
    if (*dst == NULL)
        return -1;
    if (src->len)
        memcpy(*dst, src->data, src->len);
    *dlen = src->len;
    return 0;
}

static int license_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > LEDGER_MAX_LICENSE_ID)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              c == '-'))
            return 0;
    }
    return 1;
}

void ledger_bundle_free(ledger_bundle *b)
{
    if (b == NULL)
        return;
    free(b->header);
    free(b->record);
    for (size_t i = 0; i < b->n_events; i++) {
        free(b->events[i].event);
        free(b->events[i].path);
        free(b->events[i].tx);
    }
    free(b->events);
    free(b->gov_record);
    for (size_t i = 0; i < b->n_gov_events; i++) {
        free(b->gov_events[i].event);
        free(b->gov_events[i].path);
        free(b->gov_events[i].tx);
    }
    free(b->gov_events);
    free(b->uscc_record);
    memset(b, 0, sizeof *b);
}

static int decode_commit(ledger_commit *c, const Permit__Commit *pc, ledger_err *err)
{
    ledger_err e;
    if (ledger_commit_from_pb(c, pc, &e) != 0)
        return malformed(err, e.msg);
    return 0;
}

static int decode_state(smt_proof *s, const Permit__ProofState *ps, ledger_err *err)
{
    memset(s, 0, sizeof *s);
    if (ps == NULL)
        return malformed(err, "no state proof");
    if (ps->n_siblings > SMT_MAX_PROOF)
        return malformed(err, "state proof has more than 256 siblings");
    for (size_t i = 0; i < ps->n_siblings; i++) {
        if (ps->siblings[i].len == 32 &&
            memcmp(ps->siblings[i].data, LEDGER_SMT_EMPTY, 32) == 0)
            return malformed(err, "a state proof sibling spells out the empty subtree, which "
                                  "travels as an empty string (one bundle, one encoding)");
        if (ps->siblings[i].len == 32)
            memcpy(s->siblings[i], ps->siblings[i].data, 32);
        else if (ps->siblings[i].len == 0)
            memcpy(s->siblings[i], LEDGER_SMT_EMPTY, 32);
        else
            return malformed(err, "a state proof sibling is neither 32 bytes nor empty");
    }
    s->n_siblings = ps->n_siblings;
    if (ps->leaf_key.len == 0 && ps->leaf_value.len == 0) {
        s->end = SMT_END_EMPTY;
        return 0;
    }
    if (ps->leaf_key.len != 32 || ps->leaf_value.len != 32)
        return malformed(err, "state proof leaf key and value must be 32 bytes each");
    s->end = SMT_END_LEAF;
    memcpy(s->leaf_key, ps->leaf_key.data, 32);
    memcpy(s->leaf_value, ps->leaf_value.data, 32);
    return 0;
}

static int decode_event(ledger_bundle_event *e, const Permit__ProofEvent *pe, ledger_err *err)
{
    if (pe->event.len == 0 || pe->event.len > LEDGER_EVENT_MAX_BYTES)
        return malformed(err, "an event is empty or too long");
    if (pe->tx.len < LEDGER_ENVELOPE_HEADER || pe->tx.len > LEDGER_MAX_ENVELOPE)
        return malformed(err, "an event's transaction envelope is missing or too long");
    if (pe->n_log_path > MERKLE_MAX_PROOF)
        return malformed(err, "an inclusion proof is longer than 64 hashes");
    e->log_index = pe->log_index;
    if (copy_bytes(&e->event, &e->event_len, &pe->event) != 0 ||
        copy_bytes(&e->tx, &e->tx_len, &pe->tx) != 0)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    e->path = malloc((pe->n_log_path ? pe->n_log_path : 1) * 32);
    if (e->path == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < pe->n_log_path; i++) {
        if (pe->log_path[i].len != 32)
            return malformed(err, "an inclusion proof hash is not 32 bytes");
        memcpy(e->path[i], pe->log_path[i].data, 32);
    }
    e->n_path = pe->n_log_path;
    return 0;
}

int ledger_bundle_decode(ledger_bundle *b, const uint8_t *p, size_t len, ledger_err *err)
{
    memset(b, 0, sizeof *b);
    if (len == 0)
        return malformed(err, "empty");
    if (len > LEDGER_MAX_BUNDLE_BYTES)
        return ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                           "bundle: %zu bytes, more than %u", len, LEDGER_MAX_BUNDLE_BYTES);
    if (scan(p, len, &bundle_msg, err) != 0)
        return -1;
    Permit__ProofBundle *pb = permit__proof_bundle__unpack(NULL, len, p);
    if (pb == NULL)
        return malformed(err, "not a ProofBundle message");
    int rc = -1;
    /* the scan has ruled out unknown fields, repeats, disorder and padded
     * numbers; what is left to tell apart is what protobuf-c drops while
     * decoding: bytes after a NUL inside a string, a default value written
     * out (the shared check of pbcheck.h, as for transaction bodies) */
    switch (ledger_pb_check(&pb->base, p, len)) {
    case LEDGER_PB_CANONICAL:
        break;
    case LEDGER_PB_NOMEM:
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    default:
        malformed(err, "not in its one encoding: a string holds a NUL byte and more after "
                       "it, or a field holds its default value written out");
        goto out;
    }
    if (pb->version != LEDGER_BUNDLE_VERSION) {
        ledger_fail(err, LEDGER_ERR_INVALID, "bundle_malformed",
                    "bundle: version %u; this verifier knows version %d", pb->version,
                    LEDGER_BUNDLE_VERSION);
        goto out;
    }
    b->version = pb->version;
    if (pb->license_id == NULL || !license_id_ok(pb->license_id)) {
        malformed(err, "license_id is not a license id");
        goto out;
    }
    snprintf(b->license_id, sizeof b->license_id, "%s", pb->license_id);
    if (pb->header.len == 0 || pb->record.len == 0) {
        malformed(err, "no header or no record");
        goto out;
    }
    if (pb->n_events == 0 || pb->n_events > LEDGER_MAX_BUNDLE_EVENTS) {
        malformed(err, "no events, or more than allowed");
        goto out;
    }
    if (pb->n_consistency > MERKLE_MAX_PROOF) {
        malformed(err, "consistency proof longer than 64 hashes");
        goto out;
    }
    if (copy_bytes(&b->header, &b->header_len, &pb->header) != 0 ||
        copy_bytes(&b->record, &b->record_len, &pb->record) != 0) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    if (decode_commit(&b->commit, pb->commit, err) != 0 ||
        decode_state(&b->state, pb->state, err) != 0)
        goto out;
    b->events = calloc(pb->n_events, sizeof *b->events);
    if (b->events == NULL) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < pb->n_events; i++) {
        b->n_events = i + 1;
        if (decode_event(&b->events[i], pb->events[i], err) != 0)
            goto out;
    }
    if (pb->gov_record.len > 0) {
        if (pb->gov_state == NULL || pb->n_gov_events == 0 ||
            pb->n_gov_events > LEDGER_MAX_BUNDLE_EVENTS) {
            malformed(err, "a governance record without its state proof or its events");
            goto out;
        }
        if (copy_bytes(&b->gov_record, &b->gov_record_len, &pb->gov_record) != 0) {
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        if (decode_state(&b->gov_state, pb->gov_state, err) != 0)
            goto out;
        b->gov_events = calloc(pb->n_gov_events, sizeof *b->gov_events);
        if (b->gov_events == NULL) {
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < pb->n_gov_events; i++) {
            b->n_gov_events = i + 1;
            if (decode_event(&b->gov_events[i], pb->gov_events[i], err) != 0)
                goto out;
        }
    } else if (pb->gov_state != NULL || pb->n_gov_events != 0) {
        malformed(err, "governance events or a state proof without the governance record");
        goto out;
    }
    if (pb->uscc_state != NULL) {
        b->has_uscc = 1;
        if (decode_state(&b->uscc_state, pb->uscc_state, err) != 0)
            goto out;
        if (pb->uscc_record.len > 0 &&
            copy_bytes(&b->uscc_record, &b->uscc_record_len, &pb->uscc_record) != 0) {
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
    } else if (pb->uscc_record.len > 0) {
        malformed(err, "a USCC record without its state proof");
        goto out;
    }
    b->since_log_size = pb->since_log_size;
    for (size_t i = 0; i < pb->n_consistency; i++) {
        if (pb->consistency[i].len != 32) {
            malformed(err, "a consistency proof hash is not 32 bytes");
            goto out;
        }
        memcpy(b->consistency[i], pb->consistency[i].data, 32);
    }
    b->n_consistency = pb->n_consistency;
    if (b->since_log_size == 0 && b->n_consistency != 0) {
        malformed(err, "a consistency proof without since_log_size");
        goto out;
    }
    rc = 0;
out:
    permit__proof_bundle__free_unpacked(pb, NULL);
    return rc;
}

/* ---- encode ------------------------------------------------------------------ */

static ProtobufCBinaryData bin(const void *p, size_t n)
{
    ProtobufCBinaryData d;
    d.data = (uint8_t *)p;
    d.len = n;
    return d;
}

/* A state proof in its wire form (siblings: SMT_MAX_PROOF slots). */
static void wire_state(const smt_proof *s, Permit__ProofState *ps, ProtobufCBinaryData *siblings)
{
    for (size_t i = 0; i < s->n_siblings; i++) {
        /* an empty subtree travels as an empty string */
        int empty = memcmp(s->siblings[i], LEDGER_SMT_EMPTY, 32) == 0;
        siblings[i] = bin(s->siblings[i], empty ? 0 : 32);
    }
    ps->n_siblings = s->n_siblings;
    ps->siblings = siblings;
    if (s->end == SMT_END_LEAF) {
        ps->leaf_key = bin(s->leaf_key, 32);
        ps->leaf_value = bin(s->leaf_value, 32);
    }
}

/* Events in their wire form; the three arrays are the caller's to free. */
static int wire_events(const ledger_bundle_event *ev, size_t n, Permit__ProofEvent **evs_out,
                       Permit__ProofEvent ***evp_out, ProtobufCBinaryData **paths_out,
                       ledger_err *err)
{
    size_t total_path = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].n_path > MERKLE_MAX_PROOF)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "bundle too large to encode");
        total_path += ev[i].n_path;
    }
    Permit__ProofEvent *evs = *evs_out = calloc(n ? n : 1, sizeof *evs);
    Permit__ProofEvent **evp = *evp_out = calloc(n ? n : 1, sizeof *evp);
    ProtobufCBinaryData *paths = *paths_out = calloc(total_path ? total_path : 1, sizeof *paths);
    if (evs == NULL || evp == NULL || paths == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const ledger_bundle_event *e = &ev[i];
        permit__proof_event__init(&evs[i]);
        evs[i].event = bin(e->event, e->event_len);
        evs[i].log_index = e->log_index;
        evs[i].tx = bin(e->tx, e->tx_len);
        evs[i].log_path = paths + k;
        evs[i].n_log_path = e->n_path;
        for (size_t j = 0; j < e->n_path; j++)
            paths[k++] = bin(e->path[j], 32);
        evp[i] = &evs[i];
    }
    return 0;
}

int ledger_bundle_encode(const ledger_bundle *b, uint8_t **out, size_t *len, ledger_err *err)
{
    int rc = -1;
    Permit__ProofBundle pb = PERMIT__PROOF_BUNDLE__INIT;
    ledger_commit_pb pc;
    Permit__ProofState ps = PERMIT__PROOF_STATE__INIT;
    ProtobufCBinaryData siblings[SMT_MAX_PROOF];
    ProtobufCBinaryData cons[MERKLE_MAX_PROOF];
    Permit__ProofEvent *evs = NULL, **evp = NULL, *gevs = NULL, **gevp = NULL;
    ProtobufCBinaryData *paths = NULL, *gpaths = NULL;
    Permit__ProofState gps = PERMIT__PROOF_STATE__INIT;
    ProtobufCBinaryData gsiblings[SMT_MAX_PROOF];
    Permit__ProofState ups = PERMIT__PROOF_STATE__INIT;
    ProtobufCBinaryData usiblings[SMT_MAX_PROOF];
    if (b->uscc_state.n_siblings > SMT_MAX_PROOF)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "bundle too large to encode");
    if (b->n_gov_events > LEDGER_MAX_BUNDLE_EVENTS || b->gov_state.n_siblings > SMT_MAX_PROOF)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "bundle too large to encode");
    if (b->n_events > LEDGER_MAX_BUNDLE_EVENTS || b->commit.n_sigs > LEDGER_MAX_DEPARTMENTS ||
        b->state.n_siblings > SMT_MAX_PROOF || b->n_consistency > MERKLE_MAX_PROOF)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "bundle too large to encode");
    pb.version = b->version;
    pb.license_id = (char *)b->license_id;
    pb.header = bin(b->header, b->header_len);
    ledger_commit_to_pb(&b->commit, &pc);
    pb.commit = &pc.pc;
    pb.record = bin(b->record, b->record_len);
    wire_state(&b->state, &ps, siblings);
    pb.state = &ps;
    if (wire_events(b->events, b->n_events, &evs, &evp, &paths, err) != 0)
        goto out;
    pb.n_events = b->n_events;
    pb.events = evp;
    if (b->gov_record != NULL) {
        pb.gov_record = bin(b->gov_record, b->gov_record_len);
        wire_state(&b->gov_state, &gps, gsiblings);
        pb.gov_state = &gps;
        if (wire_events(b->gov_events, b->n_gov_events, &gevs, &gevp, &gpaths, err) != 0)
            goto out;
        pb.n_gov_events = b->n_gov_events;
        pb.gov_events = gevp;
    }
    if (b->has_uscc) {
        if (b->uscc_record != NULL)
            pb.uscc_record = bin(b->uscc_record, b->uscc_record_len);
        wire_state(&b->uscc_state, &ups, usiblings);
        pb.uscc_state = &ups;
    }
    pb.since_log_size = b->since_log_size;
    for (size_t i = 0; i < b->n_consistency; i++)
        cons[i] = bin(b->consistency[i], 32);
    pb.n_consistency = b->n_consistency;
    pb.consistency = cons;
    size_t n = permit__proof_bundle__get_packed_size(&pb);
    if (n > LEDGER_MAX_BUNDLE_BYTES) {
        ledger_fail(err, LEDGER_ERR_RULE, "bundle_too_large",
                    "the proof bundle of license %s would be %zu bytes, more than the %u "
                    "a bundle may hold; its history cannot be audited in one bundle",
                    b->license_id, n, LEDGER_MAX_BUNDLE_BYTES);
        goto out;
    }
    *out = malloc(n ? n : 1);
    if (*out == NULL) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    permit__proof_bundle__pack(&pb, *out);
    *len = n;
    rc = 0;
out:
    free(evs);
    free(evp);
    free(paths);
    free(gevs);
    free(gevp);
    free(gpaths);
    return rc;
}

/* ---- build ------------------------------------------------------------------- */

/* How far below the tip to look for a block with a stored certificate (a
 * BFT node stores a block's certificate once it has it). */
#define CERT_LOOKBACK 64
/* Attempts when the record keeps changing under the build. */
#define BUILD_ATTEMPTS 8

static int certified_block(ledger *L, ledger_bundle *b, ledger_header *h, ledger_err *err)
{
    uint64_t top = ledger_height(L);
    for (uint64_t ht = top; ht >= 1 && ht + CERT_LOOKBACK > top; ht--) {
        int r = ledger_get_commit(L, ht, &b->commit, err);
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        r = ledger_get_block(L, ht, h, &b->header, &b->header_len, NULL, NULL, err);
        if (r < 0)
            return -1;
        if (r == 0)
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "block %llu is missing",
                               (unsigned long long)ht);
        return 0;
    }
    return ledger_fail(err, LEDGER_ERR_NOTFOUND, NULL, "no certified block yet");
}

/* The events seq 0 .. seq of record id, each with its inclusion proof at
 * the header's log size and its envelope: 0, or -1 (what was built is in
 * *out / *n_out for the caller to free with the bundle). */
static int build_events(ledger *L, const char *id, uint32_t seq, const ledger_header *hp,
                        ledger_bundle_event **out, size_t *n_out, ledger_err *err)
{
    const ledger_header h = *hp;
    int r;
    ledger_event_rec *evs = NULL;
    size_t n = 0;
    if (ledger_get_events(L, id, &evs, &n, err) < 0)
        return -1;
    if (n < (size_t)seq + 1) {
        free(evs);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "license %s: %zu events stored, the record needs %u", id, n,
                           seq + 1);
    }
    n = (size_t)seq + 1; /* events of later blocks are not under this header */
    int rc = -1;
    (*out) = calloc(n, sizeof *(*out));
    if ((*out) == NULL) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        ledger_bundle_event *e = &(*out)[i];
        *n_out = i + 1;
        uint8_t buf[LEDGER_EVENT_MAX_BYTES];
        size_t elen;
        if (ledger_event_encode(&evs[i].ev, buf, sizeof buf, &elen) != 0) {
            ledger_fail(err, LEDGER_ERR_INVALID, NULL, "event %zu of %s cannot be encoded", i, id);
            goto out;
        }
        e->event = malloc(elen);
        e->path = malloc(MERKLE_MAX_PROOF * 32);
        if (e->event == NULL || e->path == NULL) {
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        memcpy(e->event, buf, elen);
        e->event_len = elen;
        e->log_index = evs[i].log_index;
        if (ledger_merkle_inclusion_proof(e->log_index, h.log_size, ledger_mlog_get, L, e->path,
                                   &e->n_path, err) != 0)
            goto out;
        uint64_t th;
        r = ledger_get_tx(L, evs[i].ev.tx_id, &e->tx, &e->tx_len, &th, NULL, err);
        if (r < 0)
            goto out;
        if (r == 0) {
            ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                        "the transaction of event %zu of %s is missing", i, id);
            goto out;
        }
    }
    rc = 0;
out:
    free(evs);
    return rc;
}

/* The governance record under the header's state root, its proof and its
 * events, when the chain has one: 1 (built, or none to build), 0 the record
 * changed under it (try again), -1. */
static int build_gov(ledger *L, const ledger_header *h, ledger_bundle *b, ledger_err *err)
{
    const ledger_genesis *g = ledger_genesis_of(L);
    char id[LEDGER_MAX_LICENSE_ID + 1];
    ledger_gov_record_id(g, id, sizeof id);
    smt_proof sp;
    if (ledger_state_proof(L, h->state_root, id, &sp, err) != 0)
        return -1;
    uint8_t key[32];
    ledger_sha256(id, strlen(id), key);
    if (sp.end != SMT_END_LEAF || memcmp(sp.leaf_key, key, 32) != 0)
        return 1; /* no governance yet at that block */
    int r = ledger_gov_record_bytes(L, &b->gov_record, &b->gov_record_len, err);
    if (r <= 0)
        return r < 0 ? -1 : 0;
    uint8_t v[32];
    ledger_sha256(b->gov_record, b->gov_record_len, v);
    if (memcmp(v, sp.leaf_value, 32) != 0)
        return 0; /* a newer block changed it */
    b->gov_state = sp;
    ledger_gov *gv = NULL;
    if (ledger_gov_decode(g, b->gov_record, b->gov_record_len, &gv, err) != 0)
        return -1;
    uint32_t seq = gv->seq;
    ledger_gov_release(gv);
    if ((size_t)seq + 1 > LEDGER_MAX_BUNDLE_EVENTS)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "the governance record has more events than a bundle carries");
    return build_events(L, id, seq, h, &b->gov_events, &b->n_gov_events, err) == 0 ? 1 : -1;
}

/* The USCC record of a commitment license's USCC under the header's state
 * root, or the proof that there is none: 1, 0 it changed under the build
 * (try again), -1. */
static int build_uscc(ledger *L, const ledger_header *h, const char *uscc, ledger_bundle *b,
                      ledger_err *err)
{
    char id[32];
    ledger_uscc_record_id(uscc, id, sizeof id);
    if (ledger_state_proof(L, h->state_root, id, &b->uscc_state, err) != 0)
        return -1;
    b->has_uscc = 1;
    uint8_t key[32];
    ledger_sha256(id, strlen(id), key);
    if (b->uscc_state.end != SMT_END_LEAF || memcmp(b->uscc_state.leaf_key, key, 32) != 0)
        return 1; /* no revocation at that block */
    int r = ledger_get_record_bytes(L, id, &b->uscc_record, &b->uscc_record_len, err);
    if (r <= 0)
        return r < 0 ? -1 : 0;
    uint8_t v[32];
    ledger_sha256(b->uscc_record, b->uscc_record_len, v);
    return memcmp(v, b->uscc_state.leaf_value, 32) == 0 ? 1 : 0;
}

/* One attempt: 1 built, 0 the record changed under it (try again). */
static int build_once(ledger *L, const char *id, uint64_t since, ledger_bundle *b,
                      uint64_t *height, ledger_err *err)
{
    ledger_header h;
    if (certified_block(L, b, &h, err) != 0)
        return -1;
    *height = h.height;
    if (ledger_state_proof(L, h.state_root, id, &b->state, err) != 0)
        return -1;
    uint8_t key[32];
    ledger_sha256(id, strlen(id), key);
    if (b->state.end != SMT_END_LEAF || memcmp(b->state.leaf_key, key, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, "license_not_found",
                           "license %s is not in the state of certified block %llu", id,
                           (unsigned long long)h.height);
    int r = ledger_get_license_bytes(L, id, &b->record, &b->record_len, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, "license_not_found",
                           "license %s does not exist", id);
    uint8_t v[32];
    ledger_sha256(b->record, b->record_len, v);
    if (memcmp(v, b->state.leaf_value, 32) != 0)
        return 0; /* a newer block changed the record */
    ledger_license lic;
    if (ledger_license_decode(&lic, b->record, b->record_len, err) != 0)
        return -1;
    uint32_t seq = lic.seq;
    r = lic.commitment ? build_uscc(L, &h, lic.uscc, b, err) : 1;
    ledger_license_clear(&lic);
    if (r <= 0)
        return r;
    if ((size_t)seq + 1 > LEDGER_MAX_BUNDLE_EVENTS)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "license %s has %llu events, more than a bundle carries", id,
                           (unsigned long long)seq + 1);
    if (build_events(L, id, seq, &h, &b->events, &b->n_events, err) != 0)
        return -1;
    r = build_gov(L, &h, b, err);
    if (r <= 0)
        return r;
    int rc = -1;
    if (since > 0) {
        if (since > h.log_size) {
            ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                        "since_log_size %llu is beyond the certified log size %llu",
                        (unsigned long long)since, (unsigned long long)h.log_size);
            goto out;
        }
        b->since_log_size = since;
        if (ledger_merkle_consistency_proof(since, h.log_size, ledger_mlog_get, L, b->consistency,
                                     &b->n_consistency, err) != 0)
            goto out;
    }
    rc = 1;
out:
    return rc;
}

int ledger_bundle_build(ledger *L, const char *id, uint64_t since_log_size, uint8_t **out,
                        size_t *len, uint64_t *height, ledger_err *err)
{
    if (!license_id_ok(id))
        return ledger_fail(err, LEDGER_ERR_NOTFOUND, "license_not_found",
                           "license %.64s does not exist", id);
    for (int attempt = 0; attempt < BUILD_ATTEMPTS; attempt++) {
        ledger_bundle b;
        memset(&b, 0, sizeof b);
        b.version = LEDGER_BUNDLE_VERSION;
        snprintf(b.license_id, sizeof b.license_id, "%s", id);
        uint64_t ht = 0;
        int r = build_once(L, id, since_log_size, &b, &ht, err);
        if (r == 1) {
            r = ledger_bundle_encode(&b, out, len, err) == 0 ? 1 : -1;
            if (r == 1 && height)
                *height = ht;
        }
        ledger_bundle_free(&b);
        if (r != 0)
            return r == 1 ? 0 : -1;
    }
    return ledger_fail(err, LEDGER_ERR_IO, NULL,
                       "license %s kept changing while its bundle was built; try again", id);
}
