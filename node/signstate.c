#include "signstate.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "ledger/block.h"
#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/keys.h"

/* File: "PSS2" || u64 height || u32 round || u8 step || h32 hash ||
 * u32 lock_round (two's complement) || h32 lock_hash || SHA-256 of everything
 * before it. */
#define MAGIC "PSS2"
#define BODY (4 + 8 + 4 + 1 + 32 + 4 + 32)
#define FILE_LEN (BODY + 32)

static const uint8_t NIL[32];

/* 1 when ev holds 2f+1 distinct validators' valid prevotes for hash in
 * ev->round at height. */
static int proof_of_lock(const ledger_genesis *g, uint64_t height, const uint8_t hash[32],
                         const node_sign_evidence *ev, node_sign_verify_fn verify, void *ctx)
{
    if (ev == NULL || ev->round < 0 || ev->n > g->n_validators)
        return 0;
    uint8_t seen[LEDGER_MAX_DEPARTMENTS] = {0}, msg[32];
    size_t good = 0;
    ledger_vote_sighash(g->chain_id, LEDGER_VOTE_PREVOTE, height, (uint32_t)ev->round, hash,
                        msg);
    for (size_t i = 0; i < ev->n; i++) {
        uint32_t v = ev->validators[i];
        if (v >= g->n_validators || seen[v])
            continue;
        int ok = verify ? verify(ctx, g, v, msg, ev->sigs[i])
                        : ledger_verify(&g->departments[g->validators[v]].node, msg, 32,
                                        ev->sigs[i]);
        if (ok) {
            seen[v] = 1;
            good++;
        }
    }
    return good >= ledger_quorum(g->n_validators);
}

const char *node_sign_refusal(const node_sign_state *last, const ledger_genesis *g,
                              uint64_t height, uint32_t round, int step, const uint8_t hash[32],
                              const node_sign_evidence *ev, node_sign_verify_fn verify,
                              void *verify_ctx)
{
    if (last->present) {
        if (height != last->height) {
            if (height < last->height)
                return "it is for an earlier height than one already signed";
        } else if (round != last->round) {
            if (round < last->round)
                return "it is for an earlier round than one already signed";
        } else if (step != last->step) {
            if (step < last->step)
                return "it is for an earlier step than one already signed";
        } else if (memcmp(hash, last->hash, 32) == 0) {
            return NULL; /* the very same message again (a re-broadcast) is harmless */
        } else {
            return "another block was signed for this height, round and step";
        }
    }
    if (memcmp(hash, NIL, 32) == 0 || step == SIGN_STEP_PROPOSAL)
        return NULL; /* nil votes and proposals commit the signer to nothing */
    if (step == SIGN_STEP_PRECOMMIT) {
        if (ev == NULL || ev->round != (int32_t)round ||
            !proof_of_lock(g, height, hash, ev, verify, verify_ctx))
            return "a precommit for a block needs 2f+1 prevotes for it in its round";
        return NULL;
    }
    int locked = last->present && last->height == height && last->lock_round >= 0;
    if (!locked || memcmp(hash, last->lock_hash, 32) == 0)
        return NULL;
    if (ev == NULL || ev->round < last->lock_round || ev->round >= (int32_t)round ||
        !proof_of_lock(g, height, hash, ev, verify, verify_ctx))
        return "a prevote against the lock needs 2f+1 prevotes for the block in a round "
               "at or after the lock";
    return NULL;
}

void node_sign_state_next(const node_sign_state *last, uint64_t height, uint32_t round,
                          int step, const uint8_t hash[32], node_sign_state *next)
{
    static const uint8_t nil[32];
    node_sign_state n; /* built apart: next may be last */
    memset(&n, 0, sizeof n);
    n.present = 1;
    n.height = height;
    n.round = round;
    n.step = (uint8_t)step;
    memcpy(n.hash, hash, 32);
    n.lock_round = -1;
    if (last->present && last->height == height) {
        n.lock_round = last->lock_round;
        memcpy(n.lock_hash, last->lock_hash, 32);
    }
    *next = n;
    if (step == SIGN_STEP_PRECOMMIT && memcmp(hash, nil, 32) != 0) {
        next->lock_round = (int32_t)round;
        memcpy(next->lock_hash, hash, 32);
    }
}

int node_sign_state_load(const char *path, node_sign_state *out, ledger_err *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    }
    uint8_t buf[FILE_LEN + 1];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    uint8_t sum[32];
    if (n == FILE_LEN)
        ledger_sha256(buf, BODY, sum);
    if (n != FILE_LEN || memcmp(buf, MAGIC, 4) != 0 || memcmp(sum, buf + BODY, 32) != 0 ||
        buf[16] > SIGN_STEP_PRECOMMIT)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "%s is corrupt (%zd bytes, checksum or version wrong): refusing to "
                           "start rather than risk signing twice; if this validator certainly "
                           "signed nothing since, restore the file from a backup",
                           path, n);
    out->present = 1;
    out->height = ledger_rd_be64(buf + 4);
    out->round = ledger_rd_be32(buf + 12);
    out->step = buf[16];
    memcpy(out->hash, buf + 17, 32);
    out->lock_round = (int32_t)ledger_rd_be32(buf + 49);
    memcpy(out->lock_hash, buf + 53, 32);
    return 0;
}

int node_file_save(const char *path, const uint8_t *buf, size_t len, ledger_err *err)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", tmp, strerror(errno));
    int bad = 0;
    for (size_t off = 0; off < len && !bad;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            bad = 1;
        else
            off += (size_t)w;
    }
    if (!bad && fsync(fd) != 0)
        bad = 1;
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        if (!bad)
            e = errno;
        unlink(tmp);
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(e));
    }
    /* the rename is durable only once the folder is: a failure to open or
     * sync it is a failure to record, and nothing may be signed */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    const char *d = dirname(dir);
    int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "cannot open %s to sync it: %s", d,
                           strerror(errno));
    if (fsync(dfd) != 0) {
        e = errno;
        close(dfd);
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "fsync of %s: %s", d, strerror(e));
    }
    close(dfd);
    return 0;
}

int node_file_load(const char *path, size_t max, uint8_t **buf, size_t *len, ledger_err *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > max) {
        close(fd);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: larger than %zu bytes", path, max);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n ? n : 1);
    size_t got = 0;
    while (b && got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (b == NULL || got != n) {
        free(b);
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: cannot read it whole", path);
    }
    *buf = b;
    *len = n;
    return 1;
}

int node_sign_state_save(const char *path, const node_sign_state *s, ledger_err *err)
{
    uint8_t buf[FILE_LEN];
    memcpy(buf, MAGIC, 4);
    ledger_be64(buf + 4, s->height);
    ledger_be32(buf + 12, s->round);
    buf[16] = s->step;
    memcpy(buf + 17, s->hash, 32);
    ledger_be32(buf + 49, (uint32_t)s->lock_round);
    memcpy(buf + 53, s->lock_hash, 32);
    ledger_sha256(buf, BODY, buf + BODY);
    return node_file_save(path, buf, sizeof buf, err);
}
