#include "license.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "limits.h"
#include "merkle.h"

#define RECORD_VERSION 1
#define RECORD_VERSION_HOLDER 2 /* with the holder key and pledge hash */
#define EVENT_VERSION 1

void ledger_license_clear(ledger_license *l)
{
    if (l == NULL)
        return;
    free(l->id);
    free(l->uscc);
    free(l->name);
    free(l->legal_rep);
    free(l->industry);
    free(l->scope);
    free(l->suspended_by);
    for (size_t i = 0; i < l->n_addresses; i++) {
        free(l->addresses[i].division);
        free(l->addresses[i].text);
    }
    free(l->addresses);
    for (size_t i = 0; i < l->n_items; i++) {
        free(l->items[i].permit);
        free(l->items[i].department);
    }
    memset(l, 0, sizeof *l);
}

int ledger_license_encode(const ledger_license *l, uint8_t **out, size_t *len,
                          ledger_err *err)
{
    lbuf b;
    ledger_lbuf_init(&b, LEDGER_MAX_RECORD);
    static const uint8_t zero[32];
    if (l->has_holder && memcmp(l->holder_key, zero, 32) == 0)
        b.err = 1; /* version 2 names a key */
    ledger_lbuf_u8(&b, l->has_holder ? RECORD_VERSION_HOLDER : RECORD_VERSION);
    ledger_lbuf_str(&b, l->id);
    ledger_lbuf_str(&b, l->uscc);
    ledger_lbuf_str(&b, l->name);
    ledger_lbuf_str(&b, l->legal_rep);
    ledger_lbuf_str(&b, l->industry);
    ledger_lbuf_str(&b, l->scope);
    ledger_lbuf_u8(&b, l->status);
    ledger_lbuf_u8(&b, l->commitment);
    ledger_lbuf_u64(&b, l->applied_at);
    ledger_lbuf_u64(&b, l->issued_at);
    ledger_lbuf_u64(&b, l->expires_at);
    ledger_lbuf_u64(&b, l->verify_deadline);
    ledger_lbuf_str(&b, l->suspended_by);
    ledger_lbuf_u32(&b, l->next_address_id);
    if (l->n_addresses > LEDGER_MAX_ADDRESSES_HARD || l->n_items > LEDGER_MAX_ITEMS ||
        l->n_documents > LEDGER_MAX_DOCUMENTS)
        b.err = 1;
    ledger_lbuf_u16(&b, (uint16_t)l->n_addresses);
    for (size_t i = 0; i < l->n_addresses; i++) {
        ledger_lbuf_u32(&b, l->addresses[i].id);
        ledger_lbuf_str(&b, l->addresses[i].division);
        ledger_lbuf_str(&b, l->addresses[i].text);
        ledger_lbuf_u8(&b, l->addresses[i].primary);
    }
    ledger_lbuf_u8(&b, (uint8_t)l->n_items);
    for (size_t i = 0; i < l->n_items; i++) {
        ledger_lbuf_str(&b, l->items[i].permit);
        ledger_lbuf_str(&b, l->items[i].department);
        ledger_lbuf_u8(&b, l->items[i].decision);
        ledger_lbuf_u8(&b, l->items[i].verified);
        ledger_lbuf_u64(&b, l->items[i].decided_at);
    }
    ledger_lbuf_u8(&b, (uint8_t)l->n_documents);
    for (size_t i = 0; i < l->n_documents; i++)
        ledger_lbuf_put(&b, l->documents[i], 32);
    ledger_lbuf_u32(&b, l->seq);
    ledger_lbuf_put(&b, l->head, 32);
    if (l->has_holder) {
        ledger_lbuf_put(&b, l->holder_key, 32);
        ledger_lbuf_put(&b, l->pledge_sha256, 32);
    }
    if (b.err) {
        ledger_lbuf_free(&b);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL,
                           "license record %s cannot be encoded (too large or out of memory)",
                           l->id ? l->id : "?");
    }
    *out = ledger_lbuf_take(&b, len);
    return 0;
}

int ledger_license_decode(ledger_license *l, const uint8_t *p, size_t len,
                          ledger_err *err)
{
    lrd r;
    memset(l, 0, sizeof *l);
    ledger_lrd_init(&r, p, len);
    uint8_t version = ledger_lrd_u8(&r);
    if (version != RECORD_VERSION && version != RECORD_VERSION_HOLDER)
        goto bad;
    l->id = ledger_lrd_str(&r, LEDGER_MAX_LICENSE_ID);
    l->uscc = ledger_lrd_str(&r, 18);
    l->name = ledger_lrd_str(&r, LEDGER_MAX_NAME);
    l->legal_rep = ledger_lrd_str(&r, LEDGER_MAX_LEGAL_REP);
    l->industry = ledger_lrd_str(&r, 64);
    l->scope = ledger_lrd_str(&r, LEDGER_MAX_SCOPE);
    l->status = ledger_lrd_u8(&r);
    l->commitment = ledger_lrd_u8(&r);
    l->applied_at = ledger_lrd_u64(&r);
    l->issued_at = ledger_lrd_u64(&r);
    l->expires_at = ledger_lrd_u64(&r);
    l->verify_deadline = ledger_lrd_u64(&r);
    l->suspended_by = ledger_lrd_str(&r, 64);
    l->next_address_id = ledger_lrd_u32(&r);
    size_t na = ledger_lrd_u16(&r);
    if (r.err || na > LEDGER_MAX_ADDRESSES_HARD)
        goto bad;
    if (na > 0) {
        l->addresses = calloc(na, sizeof *l->addresses);
        if (l->addresses == NULL)
            goto bad;
    }
    for (size_t i = 0; i < na && !r.err; i++) {
        l->n_addresses = i + 1;
        l->addresses[i].id = ledger_lrd_u32(&r);
        l->addresses[i].division = ledger_lrd_str(&r, 12);
        l->addresses[i].text = ledger_lrd_str(&r, LEDGER_MAX_ADDRESS_TEXT);
        l->addresses[i].primary = ledger_lrd_u8(&r);
    }
    size_t ni = ledger_lrd_u8(&r);
    if (r.err || ni > LEDGER_MAX_ITEMS)
        goto bad;
    for (size_t i = 0; i < ni && !r.err; i++) {
        l->n_items = i + 1;
        l->items[i].permit = ledger_lrd_str(&r, 256);
        l->items[i].department = ledger_lrd_str(&r, 64);
        l->items[i].decision = ledger_lrd_u8(&r);
        l->items[i].verified = ledger_lrd_u8(&r);
        l->items[i].decided_at = ledger_lrd_u64(&r);
        if (l->items[i].decision > DEC_INSTANT)
            r.err = 1;
    }
    size_t nd = ledger_lrd_u8(&r);
    if (r.err || nd > LEDGER_MAX_DOCUMENTS)
        goto bad;
    l->n_documents = nd;
    for (size_t i = 0; i < nd; i++)
        ledger_lrd_copy(&r, l->documents[i], 32);
    l->seq = ledger_lrd_u32(&r);
    ledger_lrd_copy(&r, l->head, 32);
    if (version == RECORD_VERSION_HOLDER) {
        static const uint8_t zero[32];
        l->has_holder = 1;
        ledger_lrd_copy(&r, l->holder_key, 32);
        ledger_lrd_copy(&r, l->pledge_sha256, 32);
        if (memcmp(l->holder_key, zero, 32) == 0)
            goto bad; /* one encoding per record: no holder is version 1 */
    }
    if (!ledger_lrd_done(&r) || l->status < LIC_PENDING || l->status > LIC_CANCELLED)
        goto bad;
    return 0;
bad:
    ledger_license_clear(l);
    return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "corrupt license record");
}

ledger_status ledger_license_status_at(const ledger_license *l, uint64_t now)
{
    switch (l->status) {
    case LIC_ISSUED:
    case LIC_ISSUED_UNVERIFIED:
    case LIC_SUSPENDED:
        if (l->expires_at != 0 && now >= l->expires_at)
            return LIC_EXPIRED;
        if (ledger_license_overdue_at(l, now))
            return LIC_OVERDUE;
        return (ledger_status)l->status;
    default:
        return (ledger_status)l->status;
    }
}

int ledger_license_overdue_at(const ledger_license *l, uint64_t now)
{
    return l->status == LIC_ISSUED_UNVERIFIED && l->verify_deadline != 0 &&
           now >= l->verify_deadline;
}

int ledger_license_active_at(const ledger_license *l, uint64_t now)
{
    ledger_status s = ledger_license_status_at(l, now);
    return s == LIC_ISSUED || s == LIC_ISSUED_UNVERIFIED;
}

static const char *const status_names[] = {
    [LIC_PENDING] = "PENDING",
    [LIC_ISSUED_UNVERIFIED] = "ISSUED_UNVERIFIED",
    [LIC_ISSUED] = "ISSUED",
    [LIC_REJECTED] = "REJECTED",
    [LIC_SUSPENDED] = "SUSPENDED",
    [LIC_REVOKED] = "REVOKED",
    [LIC_CANCELLED] = "CANCELLED",
    [LIC_EXPIRED] = "EXPIRED",
    [LIC_OVERDUE] = "OVERDUE",
};

const char *ledger_status_name(int status)
{
    if (status < LIC_PENDING || status > LIC_OVERDUE)
        return "UNKNOWN";
    return status_names[status];
}

int ledger_status_parse(const char *s)
{
    for (int i = LIC_PENDING; i <= LIC_OVERDUE; i++)
        if (strcmp(s, status_names[i]) == 0)
            return i;
    return -1;
}

const char *ledger_decision_name(int decision)
{
    switch (decision) {
    case DEC_PENDING: return "PENDING";
    case DEC_APPROVED: return "APPROVED";
    case DEC_REJECTED: return "REJECTED";
    case DEC_COMMITTED: return "COMMITTED";
    case DEC_INSTANT: return "INSTANT";
    }
    return "UNKNOWN";
}

int ledger_event_encode(const ledger_event *e, uint8_t *out, size_t cap, size_t *len)
{
    size_t idlen = strnlen(e->license_id, sizeof e->license_id);
    size_t n = 1 + 2 + idlen + 4 + 1 + 32 + 8 + 8 + 32;
    if (idlen > LEDGER_MAX_LICENSE_ID || n > cap)
        return -1;
    uint8_t *p = out;
    *p++ = EVENT_VERSION;
    *p++ = (uint8_t)(idlen >> 8);
    *p++ = (uint8_t)idlen;
    memcpy(p, e->license_id, idlen);
    p += idlen;
    ledger_be32(p, e->seq);
    p += 4;
    *p++ = e->kind;
    memcpy(p, e->tx_id, 32);
    p += 32;
    ledger_be64(p, e->height);
    p += 8;
    ledger_be64(p, e->time);
    p += 8;
    memcpy(p, e->prev, 32);
    p += 32;
    *len = (size_t)(p - out);
    return 0;
}

int ledger_event_decode(ledger_event *e, const uint8_t *p, size_t len)
{
    lrd r;
    memset(e, 0, sizeof *e);
    ledger_lrd_init(&r, p, len);
    if (ledger_lrd_u8(&r) != EVENT_VERSION)
        return -1;
    size_t idlen = ledger_lrd_u16(&r);
    if (r.err || idlen > LEDGER_MAX_LICENSE_ID)
        return -1;
    ledger_lrd_copy(&r, e->license_id, idlen);
    e->license_id[idlen] = '\0';
    e->seq = ledger_lrd_u32(&r);
    e->kind = ledger_lrd_u8(&r);
    ledger_lrd_copy(&r, e->tx_id, 32);
    e->height = ledger_lrd_u64(&r);
    e->time = ledger_lrd_u64(&r);
    ledger_lrd_copy(&r, e->prev, 32);
    if (!ledger_lrd_done(&r) || memchr(e->license_id, 0, idlen) != NULL)
        return -1;
    return 0;
}

void ledger_event_hash(const ledger_event *e, uint8_t out[32])
{
    uint8_t buf[LEDGER_EVENT_MAX_BYTES];
    size_t n = 0;
    /* cannot fail: the buffer fits the longest id the struct holds */
    if (ledger_event_encode(e, buf, sizeof buf, &n) != 0)
        abort();
    ledger_merkle_leaf_hash(buf, n, out);
}
