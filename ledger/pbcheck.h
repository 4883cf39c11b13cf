/* ledger/pbcheck.h: one encoding per message.
 *
 * protobuf-c accepts many byte strings for one message: fields in any
 * order, a field given twice (the last wins), varints padded with 0x80
 * bytes, default values written out, strings cut short by an embedded NUL
 * (the bytes after it are kept in the buffer but never seen again), and
 * fields it does not know (kept aside).  Whatever we hash, sign or keep as
 * evidence must have one meaning and one encoding, so every decoder of
 * untrusted protobuf (transaction bodies, proof bundles) unpacks, then asks
 * ledger_pb_check whether the input is exactly the bytes protobuf-c itself
 * writes for what it decoded, and carries no unknown field at any depth. */
#ifndef PERMIT_LEDGER_PBCHECK_H
#define PERMIT_LEDGER_PBCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

typedef enum {
    LEDGER_PB_CANONICAL = 0,  /* the input is the one encoding of m */
    LEDGER_PB_UNKNOWN = 1,    /* m, or a message inside it, carries unknown fields */
    LEDGER_PB_NONCANONICAL = 2, /* another encoding of m (or of a message that
                                   differs from it only in what protobuf-c drops) */
    LEDGER_PB_NOMEM = 3,
} ledger_pb_result;

/* Compare `in` (len bytes: what m was unpacked from) with the encoding
 * protobuf-c gives m.  m must not be NULL (a programming error).  Nesting
 * deeper than 8 messages counts as unknown fields: none of our messages
 * nests that deep.  Any thread; allocates len bytes when len > 1 KiB. */
ledger_pb_result ledger_pb_check(const ProtobufCMessage *m, const uint8_t *in, size_t len);

#endif
