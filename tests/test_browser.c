/* The e-license page in a real browser (issue 12, DESIGN §12): a permitd
 * with the public site and the browser verifier serves an issued, a revoked
 * and a hostile-named license; tests/browser.js drives Debian's headless
 * chromium over them (verified, revoked, a flipped bundle byte, a foreign
 * genesis hash, no script from a name, the QR code read back by zbarimg, one
 * A4 page by pdfinfo) and prints the time to verified.
 *
 * Skipped (77) only when the machine lacks the verifier's build (emscripten)
 * or node, chromium, zbarimg or pdfinfo; scripts/deps.sh installs them all. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ledger/hex.h"
#include "nodetest.h"

#define HOSTILE "<script>alert(1)</script>"

static int have(const char *prog)
{
    const char *path = getenv("PATH");
    if (path == NULL)
        return 0;
    char *copy = strdup(path), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", d, prog);
        found = access(p, X_OK) == 0;
    }
    free(copy);
    return found;
}

static void submit(nt_node *nd, uint8_t *tx, size_t len, char *license_out)
{
    json_t *r = nt_submit(nd->port, tx, len, "commit");
    free(tx);
    assert_non_null(r);
    if (nt_error_code(r))
        fail_msg("%s", json_dumps(r, 0));
    const char *id = json_string_value(json_object_get(json_object_get(r, "result"),
                                                       "license_id"));
    if (license_out && id)
        snprintf(license_out, 80, "%s", id);
    json_decref(r);
}

/* An application by the registrar, approved by both owning departments. */
static void issue(nt_node *nd, const char *uscc, const char *name, char *id)
{
    lt_env *e = &nd->env;
    size_t len;
    uint8_t *tx = lt_apply_full(e, &e->registrar, uscc, name, "张三", "convenience-store",
                                "320411", "常州市新北区太湖东路101号", 0, &len);
    submit(nd, tx, len, id);
    for (int d = LT_MARKET; d <= LT_TOBACCO; d++) {
        tx = lt_decision(e, lt_dept(e, d), 2, id, NULL, 0, NULL, &len);
        submit(nd, tx, len, NULL);
    }
}

static void test_the_license_page_verifies_in_chromium(void **state)
{
    (void)state;
    char web[512];
    snprintf(web, sizeof web, PERMIT_BIN_DIR "/../share/permitchain/web/verifier.wasm");
    const char *need[] = {"node", "chromium", "zbarimg", "pdfinfo"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!have(need[i])) {
            printf("SKIP: %s is not installed (scripts/deps.sh installs it)\n", need[i]);
            exit(77);
        }
    if (access(web, R_OK) != 0) {
        printf("SKIP: no browser verifier at %s (emscripten: wasm/README.md)\n", web);
        exit(77);
    }

    nt_node nd;
    nt_init(&nd, NULL);
    int pub;
    do
        pub = nt_free_port();
    while (pub == nd.port);
    snprintf(nd.extra_conf, sizeof nd.extra_conf, "public_listen = 127.0.0.1:%d\n", pub);
    nt_start(&nd, NULL);

    char issued[80] = "", revoked[80] = "", hostile[80] = "";
    issue(&nd, "91350100M000100Y43", "常州新北便利超市有限公司", issued);
    issue(&nd, "91320411MA1MXL8Q2F", "常州新北副食品商店", revoked);
    size_t len;
    uint8_t *tx = lt_reason_tx(&nd.env, lt_dept(&nd.env, LT_MARKET), PERMIT__TX_KIND__REVOKE,
                               revoked, "承诺不实", &len);
    submit(&nd, tx, len, NULL);
    issue(&nd, "91320411MA1MXL9R39", HOSTILE, hostile);

    char gh[65], site[64];
    ledger_hex_encode(nd.env.g->hash, 32, gh);
    snprintf(site, sizeof site, "http://127.0.0.1:%d", pub);
    json_t *spec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "site", site, "chain",
                             nd.env.g->chain_id, "genesis_hash", gh, "issued", issued, "revoked",
                             revoked, "hostile", hostile, "hostile_name", HOSTILE);
    assert_non_null(spec);
    char specpath[700];
    nt_path(&nd, "browser-spec.json", specpath, sizeof specpath);
    assert_int_equal(json_dump_file(spec, specpath, JSON_INDENT(1)), 0);
    json_decref(spec);

    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execlp("node", "node", PERMIT_SOURCE_DIR "/tests/browser.js", specpath, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);

    int nst = nt_signal_wait(&nd, SIGTERM);
    nd.pid = 0;
    nt_cleanup(&nd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("tests/browser.js: status %d (its lines above)", st);
    assert_true(WIFEXITED(nst) && WEXITSTATUS(nst) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_license_page_verifies_in_chromium),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
