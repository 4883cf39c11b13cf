/* The public site (DESIGN §12, issue 12): a permitd with public_listen
 * serves the search form, the e-license page with every field and its QR
 * code, the proof bundle and the genesis file, read-only, under a strict
 * Content-Security-Policy, with every field escaped and every request
 * bounded. */
#include "testutil.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/hex.h"
#include "nodetest.h"
#include "node/public.h"

#define HOSTILE "<script>alert(1)</script>"
#define BASE "https://zz.example.gov.cn"

/* the only scripts a page may have: the site's verifier and page script */
#define SITE_SCRIPTS "<script src=\"/verifier.js\"></script><script src=\"/page.js\"></script>"

static nt_node g_nd;
static int g_verifier; /* the node has the browser verifier beside it */
static int g_pub;
static char g_id[80];
static const char *g_uscc = "91350100M000100Y43";

typedef struct {
    int status;
    char *head; /* the status line and headers */
    char *body;
    size_t body_len;
} resp;

static void resp_free(resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* One raw request on a fresh connection (the target as given, unencoded). */
static void fetch(const char *method, const char *target, resp *out)
{
    memset(out, 0, sizeof *out);
    out->status = -1;
    int fd = nt_connect(g_pub);
    assert_true(fd >= 0);
    size_t cap = strlen(target) + 256;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     method, target);
    assert_int_equal(write(fd, req, (size_t)n), n);
    free(req);
    size_t bcap = 1 << 16, len = 0;
    char *buf = malloc(bcap);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20000) <= 0)
            break;
        if (len + 4096 > bcap)
            buf = realloc(buf, bcap *= 2);
        ssize_t r = read(fd, buf + len, bcap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    assert_non_null(sep);
    assert_int_equal(sscanf(buf, "HTTP/1.%*d %d", &out->status), 1);
    size_t hl = (size_t)(sep - buf);
    out->head = strndup(buf, hl);
    out->body_len = len - hl - 4;
    out->body = malloc(out->body_len + 1);
    memcpy(out->body, sep + 4, out->body_len);
    out->body[out->body_len] = '\0';
    free(buf);
}

/* The value of header `name` (case-insensitive) in r, copied to out. */
static int header(const resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = r->head; l && *l;) {
        const char *e = strstr(l, "\r\n");
        size_t ll = e ? (size_t)(e - l) : strlen(l);
        if (ll > nl + 1 && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(ll - (size_t)(v - l)), v);
            return 1;
        }
        l = e ? e + 2 : NULL;
    }
    return 0;
}

/* No <script but, at most once, the site's own two. */
static int only_site_scripts(const char *body)
{
    const char *at = strstr(body, SITE_SCRIPTS);
    const char *first = strstr(body, "<script");
    if (at == NULL)
        return first == NULL;
    return first == at && strstr(at + strlen(SITE_SCRIPTS), "<script") == NULL;
}

static void submit_ok(uint8_t *tx, size_t len, char *license_out)
{
    static int step;
    step++;
    json_t *r = nt_submit(g_nd.port, tx, len, "commit");
    free(tx);
    assert_non_null(r);
    if (nt_error_code(r))
        fail_msg("step %d: %s", step, json_dumps(r, 0));
    const char *id = json_string_value(json_object_get(json_object_get(r, "result"),
                                                       "license_id"));
    if (license_out && id)
        snprintf(license_out, 80, "%s", id);
    json_decref(r);
}

static int setup(void **state)
{
    (void)state;
    g_verifier = access(PERMIT_BIN_DIR "/../share/permitchain/web/verifier.wasm", R_OK) == 0;
    nt_init(&g_nd, NULL);
    do
        g_pub = nt_free_port();
    while (g_pub == g_nd.port);
    snprintf(g_nd.extra_conf, sizeof g_nd.extra_conf,
             "public_listen = 127.0.0.1:%d\npublic_url = " BASE "/\n", g_pub);
    nt_start(&g_nd, NULL);
    size_t len;
    uint8_t *tx = lt_apply_full(&g_nd.env, &g_nd.env.registrar, g_uscc, HOSTILE, "张三 & \"李四\"",
                                "convenience-store", "320411", "常州市新北区<b>太湖东路</b>101号",
                                0, &len);
    submit_ok(tx, len, g_id);
    tx = lt_decision(&g_nd.env, lt_dept(&g_nd.env, LT_MARKET), 2, g_id, NULL, 0, NULL, &len);
    submit_ok(tx, len, NULL);
    tx = lt_decision(&g_nd.env, lt_dept(&g_nd.env, LT_TOBACCO), 2, g_id, NULL, 0, NULL, &len);
    submit_ok(tx, len, NULL);
    tx = lt_add_address(&g_nd.env, &g_nd.env.registrar, g_id, "320411002",
                        "常州市新北区衡山路8号", &len);
    submit_ok(tx, len, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* a clean exit: under ASan, no error and no leak in the node either */
    int st = nt_signal_wait(&g_nd, SIGTERM);
    g_nd.pid = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char p[700];
        nt_path(&g_nd, "permitd.log", p, sizeof p);
        char *l = tu_read_file(p, NULL);
        fprintf(stderr, "permitd: status %d; its log:\n%s\n", st, l ? l : "");
        free(l);
        nt_cleanup(&g_nd);
        return -1;
    }
    nt_cleanup(&g_nd);
    return 0;
}

static void test_license_page_shows_every_field_escaped(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/l/%s", g_id);
    resp r;
    fetch("GET", path, &r);
    assert_int_equal(r.status, 200);
    char v[512];
    assert_true(header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/html; charset=utf-8");
    assert_true(header(&r, "X-Content-Type-Options", v, sizeof v));
    assert_string_equal(v, "nosniff");
    assert_true(header(&r, "Content-Security-Policy", v, sizeof v));
    assert_non_null(strstr(v, "default-src 'none'"));
    assert_null(strstr(v, "unsafe-inline"));
    /* scripts: the site's own verifier and page script, when it has them */
    if (g_verifier)
        assert_non_null(strstr(v, "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self';"));
    else
        assert_null(strstr(v, "script-src"));
    /* the one inline style carries the nonce the policy names */
    const char *nk = strstr(v, "'nonce-");
    assert_non_null(nk);
    char nonce[64];
    assert_int_equal(sscanf(nk + 7, "%32[0-9a-f]", nonce), 1);
    char tag[128];
    snprintf(tag, sizeof tag, "<style nonce=\"%s\">", nonce);
    assert_non_null(strstr(r.body, tag));
    /* the hostile name is text; no script but the site's, no markup from the ledger */
    assert_non_null(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_true(only_site_scripts(r.body));
    assert_int_equal(strstr(r.body, SITE_SCRIPTS) != NULL, g_verifier);
    assert_null(strstr(r.body, "<b>"));
    assert_non_null(strstr(r.body, "&lt;b&gt;太湖东路&lt;/b&gt;"));
    assert_non_null(strstr(r.body, "张三 &amp; &quot;李四&quot;"));
    /* every field */
    const char *want[] = {g_id, g_uscc, "便利店", "有效", "食品经营许可", "烟草专卖零售许可",
                          "准予许可", "320411002", "衡山路8号", "主要经营场所", "其他经营地址",
                          "有效期", "@page{size:A4", "@media print", "<svg class=\"qr\""};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (strstr(r.body, want[i]) == NULL)
            fail_msg("the license page lacks \"%s\"", want[i]);
    /* nothing is loaded from elsewhere */
    assert_null(strstr(r.body, "src=\"http"));
    assert_null(strstr(r.body, "href=\"http"));

    /* HEAD: the headers, no body */
    size_t get_len = r.body_len;
    resp_free(&r);
    fetch("HEAD", path, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    /* one Content-Length, the GET's (the page is made again: same size) */
    const char *cl = strcasestr(r.head, "Content-Length:");
    assert_non_null(cl);
    assert_null(strcasestr(cl + 1, "Content-Length:"));
    assert_true(header(&r, "Content-Length", v, sizeof v));
    assert_int_equal(strtoull(v, NULL, 10), get_len);
    assert_true(header(&r, "Content-Security-Policy", v, sizeof v));
    resp_free(&r);
}

/* The modules of the SVG, read back, are those libqrencode makes for the
 * page URL with the chain id. */
static void test_qr_code_encodes_the_page_url_and_chain(void **state)
{
    (void)state;
    char path[128], url[256];
    snprintf(path, sizeof path, "/l/%s", g_id);
    char gh[65];
    ledger_hex_encode(g_nd.env.g->hash, 32, gh);
    snprintf(url, sizeof url, BASE "/l/%s#permit-test:%s", g_id, gh);
    resp r;
    fetch("GET", path, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, url)); /* also printed as text */
    QRcode *q = QRcode_encodeString(url, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(q);
    int w = q->width, side = 0;
    const char *svg = strstr(r.body, "<svg class=\"qr\"");
    assert_non_null(svg);
    assert_int_equal(sscanf(strstr(svg, "viewBox=\"0 0 ") + 13, "%d", &side), 1);
    assert_int_equal(side, w + 8);
    unsigned char *m = calloc((size_t)(w * w), 1);
    const char *d = strstr(svg, "<path fill=\"#000\" d=\"");
    assert_non_null(d);
    d += strlen("<path fill=\"#000\" d=\"");
    int x, y, run, run2, k;
    while (sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &run2, &k) == 4) {
        assert_int_equal(run, run2);
        assert_true(x >= 4 && y >= 4 && x - 4 + run <= w && y - 4 < w);
        for (int i = 0; i < run; i++)
            m[(y - 4) * w + x - 4 + i] = 1;
        d += k;
    }
    assert_int_equal(*d, '"');
    for (int i = 0; i < w * w; i++)
        if (m[i] != (q->data[i] & 1))
            fail_msg("module %d,%d differs from libqrencode's code of %s", i % w, i / w, url);
    free(m);
    QRcode_free(q);
    resp_free(&r);
}

static void test_search_by_uscc_and_by_id(void **state)
{
    (void)state;
    resp r;
    fetch("GET", "/", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<form method=\"get\" action=\"/\""));
    resp_free(&r);
    char target[128];
    snprintf(target, sizeof target, "/?q=%s", g_uscc);
    fetch("GET", target, &r);
    assert_int_equal(r.status, 200);
    char link[128];
    snprintf(link, sizeof link, "<a href=\"/l/%s\">", g_id);
    assert_non_null(strstr(r.body, link));
    assert_non_null(strstr(r.body, "&lt;script&gt;"));
    assert_null(strstr(r.body, "<script"));
    resp_free(&r);
    snprintf(target, sizeof target, "/?q=+%s+", g_id);
    fetch("GET", target, &r);
    assert_int_equal(r.status, 303);
    char v[128], want[128];
    snprintf(want, sizeof want, "/l/%s", g_id);
    assert_true(header(&r, "Location", v, sizeof v));
    assert_string_equal(v, want);
    resp_free(&r);
    /* a hostile search term is echoed as text */
    fetch("GET", "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &r);
    assert_int_equal(r.status, 400);
    assert_null(strstr(r.body, "<script"));
    assert_non_null(strstr(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    resp_free(&r);
}

static void test_unknown_and_malformed_are_404(void **state)
{
    (void)state;
    const char *paths[] = {"/l/PL-320411-2026-999999", "/l/PL-%3Cscript%3E", "/l/x",
                           "/l/PL-320411-2026-000001/other", "/nope", "/l/",
                           "/l/PL-320411-2026-999999/bundle", "/rpc"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        resp r;
        fetch("GET", paths[i], &r);
        if (r.status != 404)
            fail_msg("GET %s: %d, expected 404", paths[i], r.status);
        char v[256];
        assert_true(header(&r, "Content-Security-Policy", v, sizeof v));
        assert_null(strstr(r.body, "<script"));
        resp_free(&r);
    }
}

static void test_requests_are_bounded_and_read_only(void **state)
{
    (void)state;
    resp r;
    char *long_path = malloc(4000);
    memcpy(long_path, "/l/", 3);
    memset(long_path + 3, 'A', 3000);
    long_path[3003] = '\0';
    fetch("GET", long_path, &r);
    assert_int_equal(r.status, 414);
    resp_free(&r);
    memcpy(long_path, "/?q=", 4);
    memset(long_path + 4, '9', 200);
    long_path[204] = '\0';
    fetch("GET", long_path, &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    free(long_path);
    const char *methods[] = {"POST", "PUT", "DELETE"};
    for (size_t i = 0; i < 3; i++) {
        fetch(methods[i], "/", &r);
        assert_int_equal(r.status, 405);
        char v[64];
        assert_true(header(&r, "Allow", v, sizeof v));
        assert_string_equal(v, "GET, HEAD");
        resp_free(&r);
    }
    /* the node still serves */
    fetch("GET", "/", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static void test_bundle_and_genesis(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "/l/%s/bundle", g_id);
    resp r;
    fetch("GET", path, &r);
    assert_int_equal(r.status, 200);
    char v[256];
    assert_true(header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/octet-stream");
    /* the bytes license.proof gives (no block came in between: nothing waits) */
    json_t *p = json_pack("{s:s}", "id", g_id);
    json_t *pr = nt_rpc(g_nd.port, "license.proof", p);
    json_decref(p);
    const char *b64 = json_string_value(json_object_get(json_object_get(pr, "result"), "bundle"));
    assert_non_null(b64);
    size_t cap = strlen(b64), n = 0;
    uint8_t *raw = malloc(cap);
    assert_int_equal(ledger_b64_decode(b64, strlen(b64), raw, cap, &n), 0);
    assert_int_equal(n, r.body_len);
    assert_memory_equal(raw, r.body, n);
    free(raw);
    json_decref(pr);
    resp_free(&r);

    fetch("GET", "/genesis.json", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, strlen(g_nd.env.genesis_json));
    assert_memory_equal(r.body, g_nd.env.genesis_json, r.body_len);
    assert_true(header(&r, "X-Content-Type-Options", v, sizeof v));
    resp_free(&r);
}

/* The verifier's files, byte for byte from the folder beside the binary,
 * with their types; pages other than a license's run no script. */
static void test_verifier_files(void **state)
{
    (void)state;
    const char *files[][2] = {{"verifier.js", "text/javascript; charset=utf-8"},
                              {"verifier.wasm", "application/wasm"},
                              {"page.js", "text/javascript; charset=utf-8"}};
    for (size_t i = 0; i < 3; i++) {
        char target[64], file[700], v[256];
        snprintf(target, sizeof target, "/%s", files[i][0]);
        snprintf(file, sizeof file, PERMIT_BIN_DIR "/../share/permitchain/web/%s", files[i][0]);
        resp r;
        fetch("GET", target, &r);
        size_t len = 0;
        char *want = tu_read_file(file, &len);
        if (!g_verifier) {
            assert_int_equal(r.status, 404);
        } else {
            assert_non_null(want);
            assert_int_equal(r.status, 200);
            assert_true(header(&r, "Content-Type", v, sizeof v));
            assert_string_equal(v, files[i][1]);
            assert_int_equal(r.body_len, len);
            assert_memory_equal(r.body, want, len);
        }
        free(want);
        resp_free(&r);
    }
    resp r;
    fetch("GET", "/?q=" "91350100M000100Y43", &r);
    assert_int_equal(r.status, 200);
    char v[512];
    assert_true(header(&r, "Content-Security-Policy", v, sizeof v));
    assert_null(strstr(v, "script-src"));
    assert_null(strstr(r.body, "<script"));
    resp_free(&r);
}

/* Odd and hostile request targets: every one gets an answer with the
 * security headers, none echoes markup, and the node serves on. */
static void test_odd_targets_never_break_the_site(void **state)
{
    (void)state;
    char longid[128];
    snprintf(longid, sizeof longid, "/l/PL-%s/bundle",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    const char *targets[] = {"//", "/l//bundle", "/l/PL-/bundle", "/%00", "/l/PL-1%00",
                             "/?q=", "/?q=%FF%FE", "/?q&q=1", "/?q=%", "/?a=1&b=2&q=x",
                             "/l/PL-320411-2026-000001/bundle/x", "/l/PL-320411-2026-000001/",
                             "/genesis.json/x", "/?q=%3Cimg%20src%3Dx%3E", longid,
                             "/l/PL-320411-2026-000001?q=%3Cscript%3E", "/..%2f..%2fetc/passwd",
                             "/l/../genesis.json"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        resp r;
        fetch("GET", targets[i], &r);
        if (r.status < 200 || r.status >= 500)
            fail_msg("GET %s: %d", targets[i], r.status);
        char v[256];
        if (!header(&r, "X-Content-Type-Options", v, sizeof v))
            fail_msg("GET %s: no nosniff", targets[i]);
        if (!only_site_scripts(r.body) || strstr(r.body, "<img"))
            fail_msg("GET %s: markup echoed", targets[i]);
        resp_free(&r);
    }
    resp r;
    fetch("GET", "/", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

/* The escaping itself, every character that matters. */
static void test_escape(void **state)
{
    (void)state;
    public_buf b = {0};
    node_public_buf_escaped(&b, "a<b>&\"c\"'d' 中文");
    assert_string_equal(b.p, "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39; 中文");
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_license_page_shows_every_field_escaped),
        cmocka_unit_test(test_qr_code_encodes_the_page_url_and_chain),
        cmocka_unit_test(test_search_by_uscc_and_by_id),
        cmocka_unit_test(test_unknown_and_malformed_are_404),
        cmocka_unit_test(test_requests_are_bounded_and_read_only),
        cmocka_unit_test(test_bundle_and_genesis),
        cmocka_unit_test(test_verifier_files),
        cmocka_unit_test(test_odd_targets_never_break_the_site),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
