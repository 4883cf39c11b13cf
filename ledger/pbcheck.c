/* ledger/pbcheck.c: the canonical-encoding check shared by every decoder of
 * untrusted protobuf (pbcheck.h). */
#include "pbcheck.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define PB_MAX_DEPTH 8

/* protobuf-c keeps fields it does not know; re-packing writes them back, so
 * the comparison below would not see them: they are looked for at every
 * level of nesting. */
static int has_unknown_fields(const ProtobufCMessage *m, int depth)
{
    if (m == NULL)
        return 0;
    if (m->n_unknown_fields > 0 || depth > PB_MAX_DEPTH)
        return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (has_unknown_fields(arr[k], depth + 1))
                    return 1;
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
                if (which != f->id)
                    continue;
            }
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
            if (has_unknown_fields(sub, depth + 1))
                return 1;
        }
    }
    return 0;
}

ledger_pb_result ledger_pb_check(const ProtobufCMessage *m, const uint8_t *in, size_t len)
{
    assert(m != NULL && (in != NULL || len == 0));
    if (has_unknown_fields(m, 0))
        return LEDGER_PB_UNKNOWN;
    /* the one encoding protobuf-c produces: fields in number order, each
     * once, minimal varints, no default written out, strings whole */
    if (protobuf_c_message_get_packed_size(m) != len)
        return LEDGER_PB_NONCANONICAL;
    if (len == 0)
        return LEDGER_PB_CANONICAL;
    uint8_t stackbuf[1024];
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (buf == NULL)
        return LEDGER_PB_NOMEM;
    size_t n = protobuf_c_message_pack(m, buf);
    int same = n == len && memcmp(buf, in, len) == 0;
    if (buf != stackbuf)
        free(buf);
    return same ? LEDGER_PB_CANONICAL : LEDGER_PB_NONCANONICAL;
}
