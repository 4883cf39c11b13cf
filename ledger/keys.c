#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"

_Static_assert(sizeof(secp256k1_xonly_pubkey) == 64, "xonly pubkey size");

static secp256k1_context *g_ctx;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void ctx_create(void)
{
    g_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    uint8_t seed[32];
    if (ledger_random(seed, sizeof seed) == 0) {
        /* blinding only protects signing against side channels; a failure
         * leaves the context valid */
        if (!secp256k1_context_randomize(g_ctx, seed))
            fprintf(stderr, "permit: secp256k1 context randomisation failed\n");
    }
    explicit_bzero(seed, sizeof seed);
}

const void *ledger_secp_ctx(void)
{
    pthread_once(&g_once, ctx_create);
    return g_ctx;
}

int ledger_random(void *buf, size_t n)
{
    uint8_t *p = buf;
#ifdef __EMSCRIPTEN__
    /* the browser verifier: emscripten's libc has getentropy (the
     * browser's crypto.getRandomValues), at most 256 bytes a call */
    while (n > 0) {
        size_t k = n < 256 ? n : 256;
        if (getentropy(p, k) != 0)
            return -1;
        p += k;
        n -= k;
    }
    return 0;
#endif
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int ledger_keypair_from_secret(ledger_keypair *kp, const uint8_t sec[32],
                               ledger_err *err)
{
    const secp256k1_context *ctx = ledger_secp_ctx();
    secp256k1_keypair k;
    secp256k1_xonly_pubkey xo;
    if (!secp256k1_keypair_create(ctx, &k, sec))
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "secret key is not a valid secp256k1 scalar");
    if (!secp256k1_keypair_xonly_pub(ctx, &xo, NULL, &k) ||
        !secp256k1_xonly_pubkey_serialize(ctx, kp->pub, &xo)) {
        explicit_bzero(&k, sizeof k);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "cannot derive public key");
    }
    memcpy(kp->sec, sec, 32);
    explicit_bzero(&k, sizeof k);
    return 0;
}

int ledger_keygen(ledger_keypair *kp, ledger_err *err)
{
    uint8_t sec[32];
    for (int tries = 0; tries < 16; tries++) {
        if (ledger_random(sec, sizeof sec) != 0)
            return ledger_fail(err, LEDGER_ERR_IO, NULL, "getrandom: %s", strerror(errno));
        if (ledger_keypair_from_secret(kp, sec, NULL) == 0) {
            explicit_bzero(sec, sizeof sec);
            return 0;
        }
    }
    explicit_bzero(sec, sizeof sec);
    return ledger_fail(err, LEDGER_ERR_IO, NULL, "random generator produced no valid key");
}

void ledger_keypair_wipe(ledger_keypair *kp)
{
    explicit_bzero(kp->sec, sizeof kp->sec);
}

int ledger_pubkey_parse(ledger_pubkey *pk, const uint8_t raw[32])
{
    secp256k1_xonly_pubkey xo;
    if (!secp256k1_xonly_pubkey_parse(ledger_secp_ctx(), &xo, raw))
        return -1;
    memcpy(pk->raw, raw, 32);
    memcpy(pk->parsed, &xo, sizeof xo);
    return 0;
}

int ledger_sign(const ledger_keypair *kp, const uint8_t msg[32],
                const uint8_t *aux32, uint8_t sig[64])
{
    const secp256k1_context *ctx = ledger_secp_ctx();
    secp256k1_keypair k;
    uint8_t aux[32];
    int ok = 0;
    if (aux32)
        memcpy(aux, aux32, 32);
    else if (ledger_random(aux, 32) != 0)
        return -1;
    if (secp256k1_keypair_create(ctx, &k, kp->sec) &&
        secp256k1_schnorrsig_sign32(ctx, sig, msg, &k, aux))
        ok = 1;
    explicit_bzero(&k, sizeof k);
    return ok ? 0 : -1;
}

int ledger_verify(const ledger_pubkey *pk, const uint8_t *msg, size_t msglen,
                  const uint8_t sig[64])
{
    secp256k1_xonly_pubkey xo;
    memcpy(&xo, pk->parsed, sizeof xo);
    return secp256k1_schnorrsig_verify(ledger_secp_ctx(), sig, msg, msglen, &xo);
}

int ledger_keyfile_write(const char *path, const ledger_keypair *kp,
                         ledger_err *err)
{
    char line[66];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    ledger_hex_encode(kp->sec, 32, line);
    line[64] = '\n';
    ssize_t w = write(fd, line, 65);
    explicit_bzero(line, sizeof line);
    int rc = 0;
    if (w != 65 || fsync(fd) != 0)
        rc = ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: write failed: %s", path,
                         strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    if (rc != 0)
        unlink(path);
    return rc;
}

int ledger_keyfile_read(const char *path, ledger_keypair *kp, ledger_err *err)
{
    char buf[80];
    uint8_t sec[32];
    struct stat st;
    int rc = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                    "%s: key file is accessible by group or others (mode %03o); "
                    "run chmod 600 %s", path, (unsigned)(st.st_mode & 0777), path);
        goto out;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
        ledger_fail(err, LEDGER_ERR_IO, NULL, "%s: %s", path, strerror(errno));
        goto out;
    }
    size_t len = (size_t)n;
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len != 64) {
        ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                    "%s: expected 64 hex digits of a secret key", path);
        goto out;
    }
    buf[64] = '\0';
    if (ledger_hex_decode_exact(buf, sec, 32) != 0) {
        ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: not hexadecimal", path);
        goto out;
    }
    if (ledger_keypair_from_secret(kp, sec, err) != 0) {
        ledger_err_prefix(err, path);
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(buf, sizeof buf);
    explicit_bzero(sec, sizeof sec);
    close(fd);
    return rc;
}
