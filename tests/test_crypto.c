/* BIP340 vectors, tagged hashes and key files. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/keys.h"
#include "ledger/sha256.h"

#include <openssl/evp.h>

/* Split one CSV line into fields in place (no quoting in this file). */
static int csv_split(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (c == NULL)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static void test_bip340_vectors(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bip340-test-vectors.csv", tu_vectors_dir());
    char *csv = tu_read_file(path, NULL);
    assert_non_null(csv);
    int rows = 0, signed_rows = 0, invalid_rows = 0;
    char *save = NULL;
    char *line = strtok_r(csv, "\r\n", &save); /* header */
    assert_non_null(line);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        char *f[8] = {0};
        int nf = csv_split(line, f, 8);
        assert_true(nf >= 7);
        size_t publen, msglen, siglen;
        uint8_t *pub = tu_unhex(f[2], &publen);
        uint8_t *msg = tu_unhex(f[4], &msglen);
        uint8_t *sig = tu_unhex(f[5], &siglen);
        int want = strcmp(f[6], "TRUE") == 0;
        assert_int_equal(publen, 32);
        assert_int_equal(siglen, 64);

        if (f[1][0] != '\0') {
            /* signing vector: our signature must equal the published one */
            size_t seclen, auxlen;
            uint8_t *sec = tu_unhex(f[1], &seclen);
            uint8_t *aux = tu_unhex(f[3], &auxlen);
            ledger_keypair kp;
            assert_int_equal(ledger_keypair_from_secret(&kp, sec, NULL), 0);
            assert_memory_equal(kp.pub, pub, 32);
            assert_int_equal(msglen, 32);
            uint8_t out[64];
            assert_int_equal(ledger_sign(&kp, msg, aux, out), 0);
            assert_memory_equal(out, sig, 64);
            ledger_keypair_wipe(&kp);
            free(sec);
            free(aux);
            signed_rows++;
        }
        ledger_pubkey pk;
        int got = 0;
        if (ledger_pubkey_parse(&pk, pub) == 0)
            got = ledger_verify(&pk, msg, msglen, sig);
        if (got != want)
            fail_msg("BIP340 vector %s: verification %d, expected %d", f[0], got, want);
        if (!want)
            invalid_rows++;
        free(pub);
        free(msg);
        free(sig);
        rows++;
    }
    free(csv);
    assert_true(rows >= 15);
    assert_true(signed_rows >= 4);
    assert_true(invalid_rows >= 9);
}

static void test_sign_verify_roundtrip_and_tamper(void **state)
{
    (void)state;
    ledger_keypair kp;
    assert_int_equal(ledger_keygen(&kp, NULL), 0);
    ledger_pubkey pk;
    assert_int_equal(ledger_pubkey_parse(&pk, kp.pub), 0);
    uint8_t msg[32], sig[64];
    memset(msg, 7, sizeof msg);
    assert_int_equal(ledger_sign(&kp, msg, NULL, sig), 0);
    assert_true(ledger_verify(&pk, msg, 32, sig));
    sig[10] ^= 1;
    assert_false(ledger_verify(&pk, msg, 32, sig));
    sig[10] ^= 1;
    msg[0] ^= 0x80;
    assert_false(ledger_verify(&pk, msg, 32, sig));
}

static void test_tagged_hash_matches_definition(void **state)
{
    (void)state;
    /* TaggedHash(t, m) = SHA256(SHA256(t) || SHA256(t) || m) */
    const char *tag = "permit/tx/v1";
    const char *m = "hello";
    uint8_t th[32], buf[64 + 5], want[32], got[32];
    ledger_sha256(tag, strlen(tag), th);
    memcpy(buf, th, 32);
    memcpy(buf + 32, th, 32);
    memcpy(buf + 64, m, 5);
    ledger_sha256(buf, sizeof buf, want);
    ledger_tag t;
    ledger_tag_init(&t, tag);
    ledger_tagged_hash(&t, m, 5, got);
    assert_memory_equal(got, want, 32);
}

static void test_sha256_known_answer(void **state)
{
    (void)state;
    uint8_t out[32];
    char hex[65];
    ledger_sha256("", 0, out);
    ledger_hex_encode(out, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ledger_sha256("abc", 3, out);
    ledger_hex_encode(out, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The browser verifier's own SHA-256 (ledger/sha256.c) agrees with
 * OpenSSL's on every length across the padding boundaries (55, 56, 63, 64,
 * 119, 120 ...) and on every way of splitting the input into updates. */
static void test_own_sha256_matches_openssl(void **state)
{
    (void)state;
    uint8_t msg[1100];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 131u + (i >> 3) * 7u + 1u);
    for (size_t len = 0; len <= sizeof msg; len += len < 260 ? 1 : 37) {
        uint8_t want[32], got[32];
        unsigned int wl = 0;
        assert_int_equal(EVP_Digest(msg, len, want, &wl, EVP_sha256(), NULL), 1);
        ledger_sha256_own c;
        ledger_sha256_own_init(&c);
        ledger_sha256_own_update(&c, msg, len);
        ledger_sha256_own_final(&c, got);
        assert_memory_equal(got, want, 32);
        /* the same bytes in uneven pieces, an empty update among them */
        ledger_sha256_own_init(&c);
        size_t off = 0, step = 1;
        while (off < len) {
            size_t n = step < len - off ? step : len - off;
            ledger_sha256_own_update(&c, msg + off, n);
            ledger_sha256_own_update(&c, NULL, 0);
            off += n;
            step = step * 3 % 71 + 1;
        }
        ledger_sha256_own_final(&c, got);
        assert_memory_equal(got, want, 32);
    }
}

static void test_keyfile_roundtrip_and_mode(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("keys");
    char path[512];
    snprintf(path, sizeof path, "%s/a.key", dir);
    ledger_keypair kp, back;
    ledger_err err;
    assert_int_equal(ledger_keygen(&kp, NULL), 0);
    assert_int_equal(ledger_keyfile_write(path, &kp, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(ledger_keyfile_read(path, &back, &err), 0);
    assert_memory_equal(back.pub, kp.pub, 32);
    assert_memory_equal(back.sec, kp.sec, 32);

    /* never overwrite an existing key */
    assert_int_equal(ledger_keyfile_write(path, &kp, &err), -1);

    /* group or world readable files are refused */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ledger_keyfile_read(path, &back, &err), -1);
    assert_non_null(strstr(err.msg, "group or others"));
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(ledger_keyfile_read(path, &back, &err), -1);

    /* malformed contents are refused */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.key", dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("zz\n", f);
    fclose(f);
    assert_int_equal(chmod(bad, 0600), 0);
    assert_int_equal(ledger_keyfile_read(bad, &back, &err), -1);
    assert_non_null(strstr(err.msg, "64 hex"));

    /* an all-zero secret is not a valid scalar */
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("0000000000000000000000000000000000000000000000000000000000000000\n", f);
    fclose(f);
    assert_int_equal(ledger_keyfile_read(bad, &back, &err), -1);
    assert_non_null(strstr(err.msg, "scalar"));
    tu_rmrf(dir);
    free(dir);
}

static void test_hex_and_base64(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n;
    assert_int_equal(ledger_hex_decode("0aFf", 4, out, sizeof out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0x0a);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(ledger_hex_decode("0g", 2, out, sizeof out, &n), -1);
    assert_int_equal(ledger_hex_decode("abc", 3, out, sizeof out, &n), -1);
    assert_int_equal(ledger_hex_decode("001122334455667788", 18, out, 8, &n), -1);

    char b64[16];
    ledger_b64_encode((const uint8_t *)"ab", 2, b64);
    assert_string_equal(b64, "YWI=");
    assert_int_equal(ledger_b64_decode("YWI=", 4, out, sizeof out, &n), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "ab", 2);
    assert_int_equal(ledger_b64_decode("YWJ=", 4, out, sizeof out, &n), -1); /* non-zero pad bits */
    assert_int_equal(ledger_b64_decode("Y=I=", 4, out, sizeof out, &n), -1);
    assert_int_equal(ledger_b64_decode("YWI", 3, out, sizeof out, &n), -1);
    assert_int_equal(ledger_b64_decode("YW*=", 4, out, sizeof out, &n), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bip340_vectors),
        cmocka_unit_test(test_sign_verify_roundtrip_and_tamper),
        cmocka_unit_test(test_tagged_hash_matches_definition),
        cmocka_unit_test(test_sha256_known_answer),
        cmocka_unit_test(test_own_sha256_matches_openssl),
        cmocka_unit_test(test_keyfile_roundtrip_and_mode),
        cmocka_unit_test(test_hex_and_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
