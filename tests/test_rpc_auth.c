/* Remote RPC (DESIGN §7): a node whose rpc_listen is not a loopback address
 * starts only with HTTPS and bearer tokens, and then serves only callers
 * with a known token, tx.submit only to a token of role submit.  Runs real
 * permitd and permit processes: the CLI speaks https:// with --cacert and
 * --token-file. */
#include "testutil.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ledger/hex.h"
#include "nodetest.h"

#define SUBMIT_TOKEN "submit-token-0123456789abcdef"
#define READ_TOKEN "read-token-0123456789abcdef"

static nt_node g_nd;
static char g_rpc[64], g_cacert[700], g_submit[700], g_read[700], g_wrong[700];

/* A self-signed certificate for IP 127.0.0.1 and its key, PEM, in the
 * node's config folder. */
static void make_cert(const char *crt, const char *key)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(k);
    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"permitd test",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, k);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
    assert_non_null(san);
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
    FILE *f = fopen(crt, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key, "w");
    assert_non_null(f);
    assert_int_equal(chmod(key, 0600), 0);
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* permit with the given credentials (NULL: none) and --rpc g_rpc. */
static int permit(char **out, const char *token, const char *cacert, ...)
{
    const char *args[24];
    int k = 0;
    if (token) {
        args[k++] = "--token-file";
        args[k++] = token;
    }
    if (cacert) {
        args[k++] = "--cacert";
        args[k++] = cacert;
    }
    va_list ap;
    va_start(ap, cacert);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && k < 22)
        args[k++] = a;
    va_end(ap);
    args[k] = NULL;
    return nt_permitv(g_rpc, out, args);
}

static void expect(int want, const char *needle, const char *token, const char *cacert,
                   const char *cmd, const char *arg)
{
    char *out = NULL;
    int rc = permit(&out, token, cacert, cmd, arg, NULL);
    if (getenv("PERMIT_TEST_VERBOSE"))
        printf("permit %s -> %d: %s", cmd, rc, out ? out : "");
    if (rc != want || (needle && (out == NULL || strstr(out, needle) == NULL))) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", out ? out : "");
        free(out);
        fail_msg("permit %s exited %d (expected %d%s%s):\n%s", cmd, rc, want,
                 needle ? ", saying " : "", needle ? needle : "", msg);
    }
    free(out);
}

/* Start the node and wait until `permit status` gets through. */
static void start_https(void)
{
    nt_spawn(&g_nd, NULL);
    uint64_t until = nt_now_ms() + 15000;
    while (nt_now_ms() < until) {
        char *out = NULL;
        int rc = permit(&out, g_submit, g_cacert, "status", NULL);
        free(out);
        if (rc == 0)
            return;
        int st;
        if (waitpid(g_nd.pid, &st, WNOHANG) == g_nd.pid) {
            g_nd.pid = 0;
            fail_msg("permitd exited during start");
        }
        nt_sleep_ms(50);
    }
    fail_msg("permitd did not answer over https within 15 s");
}

static void setup_files(const char *listen_host, int with_tls, int with_tokens,
                        mode_t tokens_mode)
{
    nt_init(&g_nd, NULL);
    char crt[700], key[700], tok[700];
    nt_path(&g_nd, "config/rpc.crt", crt, sizeof crt);
    nt_path(&g_nd, "config/rpc.key", key, sizeof key);
    nt_path(&g_nd, "config/tokens", tok, sizeof tok);
    make_cert(crt, key);
    write_text(tok, "# name role token\nops submit " SUBMIT_TOKEN "\nviewer read " READ_TOKEN
                    "\n",
               tokens_mode);
    snprintf(g_cacert, sizeof g_cacert, "%s", crt);
    nt_path(&g_nd, "submit.token", g_submit, sizeof g_submit);
    nt_path(&g_nd, "read.token", g_read, sizeof g_read);
    nt_path(&g_nd, "wrong.token", g_wrong, sizeof g_wrong);
    write_text(g_submit, SUBMIT_TOKEN "\n", 0600);
    write_text(g_read, READ_TOKEN "\n", 0600);
    write_text(g_wrong, "wrong-token-0123456789abcdef\n", 0600);
    snprintf(g_nd.extra_conf, sizeof g_nd.extra_conf, "rpc_listen = %s:%d\n%s%s", listen_host,
             g_nd.port, with_tls ? "rpc_tls_cert = rpc.crt\nrpc_tls_key = rpc.key\n" : "",
             with_tokens ? "rpc_tokens = tokens\n" : "");
    snprintf(g_rpc, sizeof g_rpc, "https://127.0.0.1:%d", g_nd.port);
}

/* The node must exit at start, and its log say `why`. */
static void refuses_to_start(const char *why)
{
    nt_spawn(&g_nd, NULL);
    int st = 0;
    uint64_t until = nt_now_ms() + 15000;
    pid_t w = 0;
    while (nt_now_ms() < until && (w = waitpid(g_nd.pid, &st, WNOHANG)) == 0)
        nt_sleep_ms(20);
    if (w != g_nd.pid) {
        fail_msg("permitd started without what a remote RPC needs");
    }
    g_nd.pid = 0;
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    char log[700];
    nt_path(&g_nd, "permitd.log", log, sizeof log);
    char *text = tu_read_file(log, NULL);
    if (text == NULL || strstr(text, why) == NULL)
        fail_msg("the log does not say \"%s\":\n%s", why, text ? text : "");
    free(text);
    nt_cleanup(&g_nd);
}

static void test_a_remote_rpc_without_tls_and_tokens_does_not_start(void **state)
{
    (void)state;
    setup_files("0.0.0.0", 0, 0, 0600);
    refuses_to_start("rpc_tls_cert and rpc_tls_key and rpc_tokens");
    setup_files("0.0.0.0", 1, 0, 0600);
    refuses_to_start("needs rpc_tokens");
    setup_files("0.0.0.0", 0, 1, 0600);
    refuses_to_start("needs rpc_tls_cert and rpc_tls_key");
    setup_files("127.0.0.1", 1, 1, 0644);
    refuses_to_start("chmod 600");
}

static void test_tokens_and_roles_over_https(void **state)
{
    (void)state;
    setup_files("0.0.0.0", 1, 1, 0600);
    start_https();
    expect(0, "Height", g_submit, g_cacert, "status", NULL);
    expect(0, "Height", g_read, g_cacert, "status", NULL);
    expect(3, "401", NULL, g_cacert, "status", NULL);
    expect(3, "does not know this token", g_wrong, g_cacert, "status", NULL);
    /* the node's certificate is checked */
    expect(3, "TLS", g_submit, NULL, "status", NULL);
    /* a transaction: refused to a read token, taken from a submit token */
    lt_env *env = &g_nd.env;
    char u[19];
    lt_uscc(1, u);
    size_t len;
    uint8_t *tx = lt_apply(env, u, "convenience-store", 0, &len);
    char *hex = malloc(2 * len + 1);
    assert_non_null(hex);
    ledger_hex_encode(tx, len, hex);
    char *out = NULL;
    int rc = permit(&out, g_read, g_cacert, "tx", "submit", hex, NULL);
    if (rc != 3 || strstr(out, "role submit") == NULL)
        fail_msg("a read token submitted a transaction (exit %d):\n%s", rc, out);
    free(out);
    out = NULL;
    rc = permit(&out, g_submit, g_cacert, "tx", "submit", hex, NULL);
    if (rc != 0)
        fail_msg("a submit token could not submit (exit %d):\n%s", rc, out);
    free(out);
    /* plain HTTP to the HTTPS port gets nothing */
    char *body = NULL;
    int st = nt_http(g_nd.port, "GET", "/health", NULL, 0, &body, NULL);
    free(body);
    assert_true(st != 200);
    free(hex);
    free(tx);
    assert_int_equal(nt_signal_wait(&g_nd, SIGTERM), 0);
    g_nd.pid = 0;
    nt_cleanup(&g_nd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_remote_rpc_without_tls_and_tokens_does_not_start),
        cmocka_unit_test(test_tokens_and_roles_over_https),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
