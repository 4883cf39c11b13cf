/* node/public_page.c: the pages of the public site (public.h): routing, the
 * search form and its results, the electronic license with its QR code and
 * print layout, the proof bundle and the genesis file.  No I/O but reads of
 * committed ledger data; runs on the site's worker threads.
 *
 * Every value that comes from the ledger or the request is written through
 * node_public_buf_escaped; the only markup is this file's own. */
#include "public.h"

#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger/bundle.h"
#include "ledger/hex.h"
#include "ledger/license.h"
#include "ledger/limits.h"
#include "ledger/query.h"
#include "ledger/text.h"

#define PAGE_MAX (4u << 20) /* no page grows beyond this */

/* ---- the buffer ---- */

static void put_n(public_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 8192;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = cap <= PAGE_MAX ? realloc(b->p, cap) : NULL;
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put(public_buf *b, const char *s)
{
    put_n(b, s, strlen(s));
}

static void putf(public_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(public_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    put_n(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void node_public_buf_escaped(public_buf *b, const char *s)
{
    if (s == NULL)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: continue;
        }
        put_n(b, run, (size_t)(s - run));
        put(b, rep);
        run = s + 1;
    }
    put_n(b, run, (size_t)(s - run));
}

#define ESC(b, s) node_public_buf_escaped((b), (s))

/* ---- the QR code ---- */

int node_public_qr_svg(public_buf *b, const char *text, int *width)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (q == NULL)
        return -1;
    int w = q->width, side = w + 8;
    *width = w;
    putf(b,
         "<svg class=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
         "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\" role=\"img\" "
         "aria-label=\"二维码\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
         "<path fill=\"#000\" d=\"",
         side, side, side * 4, side * 4, side, side);
    /* one rectangle per horizontal run of dark modules (bit 0 of each byte) */
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w;) {
            if (!(q->data[y * w + x] & 1)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (q->data[y * w + x + run] & 1))
                run++;
            putf(b, "M%d %dh%dv1h-%dz", x + 4, y + 4, run, run);
            x += run;
        }
    put(b, "\"/></svg>");
    QRcode_free(q);
    return 0;
}

/* ---- words ---- */

static const char *status_words(int st)
{
    switch (st) {
    case LIC_PENDING: return "审批中";
    case LIC_ISSUED_UNVERIFIED: return "有效（告知承诺，待核查）";
    case LIC_ISSUED: return "有效";
    case LIC_REJECTED: return "不予许可";
    case LIC_SUSPENDED: return "暂停";
    case LIC_REVOKED: return "已撤销";
    case LIC_CANCELLED: return "已注销";
    case LIC_EXPIRED: return "已过期";
    case LIC_OVERDUE: return "逾期未核查（告知承诺事项尚未全部核查）";
    }
    return "未知";
}

static const char *decision_words(int d)
{
    switch (d) {
    case DEC_PENDING: return "待审批";
    case DEC_APPROVED: return "准予许可";
    case DEC_REJECTED: return "不予许可";
    case DEC_COMMITTED: return "告知承诺准予许可";
    case DEC_INSTANT: return "秒批（规则自动准予）";
    }
    return "未知";
}

/* A time as a date in China Standard Time (UTC+8, no daylight saving). */
static void put_date(public_buf *b, uint64_t ms, int with_time)
{
    if (ms == 0) {
        put(b, "—");
        return;
    }
    time_t t = (time_t)(ms / 1000) + 8 * 3600;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        put(b, "—");
        return;
    }
    putf(b, "%04d年%02d月%02d日", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (with_time)
        putf(b, " %02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static const char *dept_name(const ledger_genesis *g, const char *id)
{
    int d = ledger_genesis_dept_index(g, id);
    return d >= 0 ? g->departments[d].name : id;
}

/* ---- page frame ---- */

static const char STYLE[] =
    "body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"Microsoft YaHei\","
    "sans-serif;margin:0;background:#f3f3f0;color:#222}"
    "main{max-width:210mm;margin:1em auto;background:#fff;padding:12mm 14mm;"
    "box-shadow:0 0 4px #aaa}"
    "h1{text-align:center;color:#b00;letter-spacing:.3em;font-size:1.6em;margin:.2em 0}"
    "h2{font-size:1.1em;border-bottom:1px solid #b00;color:#b00;margin-top:1.2em}"
    ".sub{text-align:center;color:#555;margin:0 0 1em}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #999;padding:.35em .5em;text-align:left;vertical-align:top}"
    "th{background:#f6eeee;white-space:nowrap;width:9em}"
    ".head{display:flex;justify-content:space-between;align-items:flex-start;gap:1em}"
    ".qrbox{text-align:center;font-size:.8em;color:#555}"
    ".qr{width:36mm;height:36mm}"
    ".st{font-weight:bold}.ok{color:#060}.bad{color:#b00}"
    ".mono{font-family:monospace;word-break:break-all;font-size:.85em}"
    ".foot{margin-top:1.2em;font-size:.8em;color:#555}"
    "form{text-align:center;margin:2em 0}input[type=text]{width:60%;font-size:1.1em;"
    "padding:.3em}button{font-size:1.1em;padding:.3em 1em}"
    "@page{size:A4;margin:12mm}"
    "@media print{body{background:#fff}main{box-shadow:none;margin:0;padding:0;"
    "max-width:none}.noprint{display:none}h2{break-after:avoid}table{break-inside:avoid}"
    "body{font-size:10pt}.qr{width:32mm;height:32mm}}";

static void page_start(public_buf *b, const char *title, const char *nonce)
{
    put(b, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    ESC(b, title);
    put(b, "</title><style nonce=\"");
    ESC(b, nonce);
    put(b, "\">");
    put(b, STYLE);
    put(b, "</style></head><body><main>");
}

/* The footer; with `scripts`, the site's verifier and page script load last
 * (the only scripts a page has, named by its policy). */
static void page_end_scripts(public_buf *b, const public_site *s, int scripts)
{
    put(b, "<p class=\"foot noprint\"><a href=\"/\">查询其他证照</a> · "
           "<a href=\"/genesis.json\">创世文件</a> · 区块链：");
    ESC(b, s->g->chain_id);
    put(b, "</p></main>");
    if (scripts)
        put(b, "<script src=\"/verifier.js\"></script><script src=\"/page.js\"></script>");
    put(b, "</body></html>\n");
}

static void page_end(public_buf *b, const public_site *s)
{
    page_end_scripts(b, s, 0);
}

static int finish(public_buf *b, public_reply *out, int status)
{
    if (b->oom) {
        free(b->p);
        return -1;
    }
    out->status = status;
    out->type = "text/html; charset=utf-8";
    out->body = b->p;
    out->len = b->len;
    return 0;
}

static int message_page(const public_site *s, const char *nonce, int status, const char *title,
                        const char *text, public_reply *out)
{
    public_buf b = {0};
    page_start(&b, title, nonce);
    put(&b, "<h1>");
    ESC(&b, title);
    put(&b, "</h1><p class=\"sub\">");
    ESC(&b, text);
    put(&b, "</p>");
    page_end(&b, s);
    return finish(&b, out, status);
}

/* ---- GET / ---- */

static void search_form(public_buf *b, const char *q)
{
    put(b, "<form method=\"get\" action=\"/\" class=\"noprint\"><label for=\"q\">许可证编号或统一"
           "社会信用代码</label><br><input type=\"text\" id=\"q\" name=\"q\" maxlength=\"64\" "
           "autocomplete=\"off\" value=\"");
    ESC(b, q ? q : "");
    put(b, "\"> <button type=\"submit\">查询</button></form>");
}

static int license_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n < 4 || n > LEDGER_MAX_LICENSE_ID || strncmp(id, "PL-", 3) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-'))
            return 0;
    return 1;
}

static int render_search(const public_site *s, const char *q, const char *nonce,
                         public_reply *out)
{
    public_buf b = {0};
    if (q && license_id_ok(q)) {
        /* a license id: its page */
        out->status = 303;
        out->type = "text/plain; charset=utf-8";
        snprintf(out->location, sizeof out->location, "/l/%s", q);
        return 0;
    }
    ledger_err e;
    int uscc = q && *q && ledger_uscc_check(q, &e) == 0;
    if (q && !ledger_utf8_valid(q, strlen(q)))
        q = "?"; /* not text: nothing of it is echoed */
    page_start(&b, "电子证照查询", nonce);
    put(&b, "<h1>电子证照查询</h1><p class=\"sub\">");
    ESC(&b, s->g->region_name);
    put(&b, " · 行业综合许可证</p>");
    search_form(&b, q);
    int status = 200;
    if (q && *q && !uscc) {
        status = 400;
        put(&b, "<p class=\"sub bad\">“");
        ESC(&b, q);
        put(&b, "”既不是许可证编号（如 PL-320411-2026-000001），也不是有效的统一社会信用代码。</p>");
    } else if (uscc) {
        ledger_tip tip;
        ledger_get_tip(s->L, &tip);
        ledger_query qu;
        memset(&qu, 0, sizeof qu);
        qu.kind = LEDGER_Q_SEARCH;
        qu.uscc = q;
        qu.now = tip.time;
        qu.limit = PUBLIC_MAX_LIST;
        ledger_query_result res;
        memset(&res, 0, sizeof res);
        if (ledger_query_run(s->L, &qu, &res, &e) != 0) {
            free(b.p);
            return message_page(s, nonce, 500, "查询失败", "节点暂时无法读取账本，请稍后再试。",
                                out);
        }
        put(&b, "<h2>统一社会信用代码 ");
        ESC(&b, q);
        putf(&b, " 名下的证照（%zu）</h2>", res.n);
        if (res.n == 0)
            put(&b, "<p>没有找到证照。</p>");
        else
            put(&b, "<table><tr><th>许可证编号</th><th>名称</th><th>行业</th><th>状态</th></tr>");
        for (size_t i = 0; i < res.n; i++) {
            const ledger_license *l = &res.items[i];
            const ledger_industry *ind = ledger_genesis_industry(s->g, l->industry);
            put(&b, "<tr><td><a href=\"/l/");
            ESC(&b, l->id);
            put(&b, "\">");
            ESC(&b, l->id);
            put(&b, "</a></td><td>");
            ESC(&b, l->name);
            put(&b, "</td><td>");
            ESC(&b, ind ? ind->name : l->industry);
            put(&b, "</td><td>");
            put(&b, status_words(ledger_license_status_at(l, tip.time)));
            put(&b, "</td></tr>");
        }
        if (res.n > 0)
            put(&b, "</table>");
        ledger_query_result_free(&res);
    }
    page_end(&b, s);
    return finish(&b, out, status);
}

/* ---- GET /l/<id> ---- */

/* Where page.js writes its verdict, with what it needs to reach it: the
 * license, the chain, and the genesis hash the site states (the QR code's
 * fragment carries the one to trust). */
static void verify_box(public_buf *b, const public_site *s, const char *id, const char *gh)
{
    put(b, "<section id=\"pv\" class=\"noprint\" data-license=\"");
    ESC(b, id);
    put(b, "\" data-chain=\"");
    ESC(b, s->g->chain_id);
    put(b, "\" data-genesis=\"");
    put(b, gh);
    put(b, "\"><h2>在线核验</h2>");
    if (s->verifier)
        put(b, "<p>正在您的浏览器中核验本证照的链上记录……</p><noscript><p>核验需要启用 "
               "JavaScript；也可下载证明包，用 permit audit 离线核验。</p></noscript>");
    else
        put(b, "<p>本站未提供浏览器核验组件；可下载证明包，用 permit audit 离线核验。</p>");
    put(b, "</section>");
}

static void row(public_buf *b, const char *th, const char *td)
{
    put(b, "<tr><th>");
    put(b, th);
    put(b, "</th><td>");
    ESC(b, td);
    put(b, "</td></tr>");
}

static int render_license(const public_site *s, const char *id, const char *nonce,
                          public_reply *out)
{
    ledger_license l;
    ledger_err e;
    int r = ledger_get_license(s->L, id, &l, &e);
    if (r < 0)
        return message_page(s, nonce, 500, "查询失败", "节点暂时无法读取账本，请稍后再试。", out);
    if (r == 0)
        return message_page(s, nonce, 404, "未找到证照", "没有这个编号的许可证。", out);
    ledger_tip tip;
    ledger_get_tip(s->L, &tip);
    int st = ledger_license_status_at(&l, tip.time);
    int overdue = st == LIC_OVERDUE;
    const ledger_industry *ind = ledger_genesis_industry(s->g, l.industry);
    public_buf b = {0};
    char title[160];
    snprintf(title, sizeof title, "电子证照 %s", l.id);
    page_start(&b, title, nonce);

    put(&b, "<div class=\"head\"><div><h1>行业综合许可证</h1><p class=\"sub\">");
    ESC(&b, s->g->region_name);
    put(&b, " · 电子证照</p></div><div class=\"qrbox\">");
    /* the QR code: this page's URL, and the chain it belongs to */
    public_buf url = {0};
    put(&url, s->base_url);
    put(&url, "/l/");
    put(&url, l.id);
    char gh[65];
    ledger_hex_encode(s->g->hash, 32, gh);
    put(&url, "#");
    put(&url, s->g->chain_id);
    put(&url, ":");
    put(&url, gh);
    int w = 0;
    if (url.oom || node_public_qr_svg(&b, url.p, &w) != 0)
        put(&b, "（二维码无法生成）");
    put(&b, "<br>扫码核验</div></div>");

    put(&b, "<table>");
    row(&b, "许可证编号", l.id);
    put(&b, "<tr><th>状态</th><td class=\"st ");
    put(&b, st == LIC_ISSUED || (st == LIC_ISSUED_UNVERIFIED && !overdue) ? "ok" : "bad");
    put(&b, "\">");
    put(&b, overdue ? "逾期未核查（告知承诺事项尚未全部核查）" : status_words(st));
    put(&b, "</td></tr>");
    row(&b, "名称（持证主体）", l.name);
    row(&b, "统一社会信用代码", l.uscc);
    row(&b, "法定代表人", l.legal_rep);
    put(&b, "<tr><th>行业</th><td>");
    ESC(&b, ind ? ind->name : l.industry);
    put(&b, "（");
    ESC(&b, l.industry);
    put(&b, "）</td></tr>");
    row(&b, "经营范围", l.scope && *l.scope ? l.scope : "—");
    put(&b, "<tr><th>有效期</th><td>");
    if (l.issued_at) {
        put_date(&b, l.issued_at, 0);
        put(&b, " 至 ");
        put_date(&b, l.expires_at, 0);
    } else {
        put(&b, "尚未发证");
    }
    put(&b, "</td></tr><tr><th>审批方式</th><td>");
    if (l.commitment) {
        put(&b, "告知承诺制，核查期限 ");
        put_date(&b, l.verify_deadline, 0);
    } else {
        put(&b, "一般审批");
    }
    put(&b, "</td></tr><tr><th>申请日期</th><td>");
    put_date(&b, l.applied_at, 0);
    put(&b, "</td></tr></table>");
    verify_box(&b, s, l.id, gh);

    putf(&b, "<h2>经营地址（%zu）</h2><table><tr><th>类别</th><th>区划代码</th><th>地址</th></tr>",
         l.n_addresses);
    for (size_t i = 0; i < l.n_addresses; i++) {
        const ledger_address *a = &l.addresses[i];
        put(&b, "<tr><td>");
        put(&b, a->primary ? "主要经营场所" : "其他经营地址");
        put(&b, "</td><td>");
        ESC(&b, a->division);
        put(&b, "</td><td>");
        ESC(&b, a->text);
        put(&b, "</td></tr>");
    }
    put(&b, "</table>");

    putf(&b, "<h2>许可事项（%zu）</h2><table><tr><th>许可事项</th><th>审批部门</th><th>决定</th>"
             "<th>决定日期</th></tr>",
         l.n_items);
    for (size_t i = 0; i < l.n_items; i++) {
        const ledger_item *it = &l.items[i];
        put(&b, "<tr><td>");
        ESC(&b, it->permit);
        put(&b, "</td><td>");
        ESC(&b, dept_name(s->g, it->department));
        put(&b, "</td><td>");
        put(&b, decision_words(it->decision));
        if (it->decision == DEC_COMMITTED)
            put(&b, it->verified ? "（已核查）" : "（待核查）");
        put(&b, "</td><td>");
        put_date(&b, it->decided_at, 0);
        put(&b, "</td></tr>");
    }
    put(&b, "</table>");
    if (st == LIC_SUSPENDED && l.suspended_by && *l.suspended_by) {
        put(&b, "<p class=\"bad\">暂停部门：");
        ESC(&b, dept_name(s->g, l.suspended_by));
        put(&b, "</p>");
    }

    char head[65];
    ledger_hex_encode(l.head, 32, head);
    put(&b, "<h2>链上记录</h2><table>");
    putf(&b, "<tr><th>事件数</th><td>%u</td></tr>", l.seq + 1);
    put(&b, "<tr><th>最新事件哈希</th><td class=\"mono\">");
    put(&b, head);
    putf(&b, "</td></tr><tr><th>数据截至</th><td>区块高度 %llu，", (unsigned long long)tip.height);
    put_date(&b, tip.time, 1);
    put(&b, "（北京时间）");
    /* a node that stopped following shows old data: say so (DESIGN §12) */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    if (now_ms > tip.time && now_ms - tip.time > 3 * s->g->params.heartbeat_ms)
        put(&b, "<br><span class=\"bad\">注意：本节点最近的区块已超过三个心跳周期，"
                "数据可能不是最新的。</span>");
    put(&b, "</td></tr><tr><th>二维码内容</th><td class=\"mono\">");
    ESC(&b, url.p ? url.p : "");
    put(&b, "</td></tr></table>");
    put(&b, "<p class=\"foot\">本页由区块链节点依据已确认的区块生成。核验材料：<a href=\"/l/");
    ESC(&b, l.id);
    put(&b, "/bundle\">证明包</a>（可用 <span class=\"mono\">permit audit --bundle</span> "
            "离线核验）。</p>");
    free(url.p);
    out->scripts = s->verifier;
    page_end_scripts(&b, s, out->scripts);
    ledger_license_clear(&l);
    return finish(&b, out, 200);
}

/* ---- GET /l/<id>/bundle ---- */

static int render_bundle(const public_site *s, const char *id, const char *nonce,
                         public_reply *out)
{
    uint8_t *bundle = NULL;
    size_t len = 0;
    uint64_t height = 0;
    ledger_err e;
    if (ledger_bundle_build(s->L, id, 0, &bundle, &len, &height, &e) != 0) {
        if (e.code == LEDGER_ERR_NOTFOUND)
            return message_page(s, nonce, 404, "未找到证照", "没有这个编号的许可证。", out);
        return message_page(s, nonce, 500, "查询失败", "节点暂时无法生成证明包。", out);
    }
    out->status = 200;
    out->type = "application/octet-stream";
    out->body = (char *)bundle;
    out->len = len;
    snprintf(out->filename, sizeof out->filename, "%s.bundle", id);
    return 0;
}

/* ---- the verifier's files ---- */

static const struct {
    const char *file, *type;
} ASSETS[PUBLIC_N_ASSETS] = {
    [PUBLIC_VERIFIER_JS] = {"verifier.js", "text/javascript; charset=utf-8"},
    [PUBLIC_VERIFIER_WASM] = {"verifier.wasm", "application/wasm"},
    [PUBLIC_PAGE_JS] = {"page.js", "text/javascript; charset=utf-8"},
};

const char *node_public_asset_file(int i)
{
    return i >= 0 && i < PUBLIC_N_ASSETS ? ASSETS[i].file : "";
}

const char *node_public_asset_type(int i)
{
    return i >= 0 && i < PUBLIC_N_ASSETS ? ASSETS[i].type : "application/octet-stream";
}

static int asset_index(const char *path)
{
    for (int i = 0; i < PUBLIC_N_ASSETS; i++)
        if (path[0] == '/' && strcmp(path + 1, ASSETS[i].file) == 0)
            return i;
    return -1;
}

/* ---- routing ---- */

int node_public_render(const public_site *s, const char *path, const char *q, const char *nonce,
                       public_reply *out)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (strcmp(path, "/") == 0) {
        rc = render_search(s, q, nonce, out);
    } else if (strcmp(path, "/genesis.json") == 0) {
        out->body = malloc(s->genesis_len ? s->genesis_len : 1);
        if (out->body == NULL)
            return -1;
        memcpy(out->body, s->genesis, s->genesis_len);
        out->len = s->genesis_len;
        out->status = 200;
        out->type = "application/json";
        rc = 0;
    } else if (asset_index(path) >= 0 && s->assets[asset_index(path)].bytes != NULL) {
        const public_asset *a = &s->assets[asset_index(path)];
        out->body = malloc(a->len ? a->len : 1);
        if (out->body == NULL)
            return -1;
        memcpy(out->body, a->bytes, a->len);
        out->len = a->len;
        out->status = 200;
        out->type = node_public_asset_type(asset_index(path));
        rc = 0;
    } else if (strncmp(path, "/l/", 3) == 0) {
        char id[LEDGER_MAX_LICENSE_ID + 1];
        const char *p = path + 3, *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        int bundle = slash && strcmp(slash, "/bundle") == 0;
        if (n > LEDGER_MAX_LICENSE_ID || (slash && !bundle))
            return message_page(s, nonce, 404, "未找到", "没有这个页面。", out);
        memcpy(id, p, n);
        id[n] = '\0';
        if (!license_id_ok(id))
            return message_page(s, nonce, 404, "未找到证照", "没有这个编号的许可证。", out);
        rc = bundle ? render_bundle(s, id, nonce, out) : render_license(s, id, nonce, out);
    } else {
        rc = message_page(s, nonce, 404, "未找到", "没有这个页面。", out);
    }
    if (rc != 0)
        node_public_reply_clear(out);
    return rc;
}

void node_public_reply_clear(public_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}
