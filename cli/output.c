/* cli/output.c: human formatting of RPC results, JSON output, safe text. */
#include "output.h"

#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "ledger/license.h"
#include "ledger/text.h"

/* labels are padded to this many columns: 14 in English, 18 in Chinese
 * (统一社会信用代码 takes 16) */
#define LABEL_W (cli_zh() ? 18 : 14)

/* ---- text --------------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (1..4), 0 when malformed;
 * *cp receives the code point. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

static int is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

void cli_clean_text(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    if (cap == 0)
        return;
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    while (*s) {
        uint32_t cp;
        size_t n = utf8_seq(s, &cp);
        if (n == 0 || is_control(cp)) {
            if (o + 1 >= cap)
                break;
            dst[o++] = '?';
            s += n ? n : 1;
            continue;
        }
        if (o + n >= cap)
            break;
        memcpy(dst + o, s, n);
        o += n;
        s += n;
    }
    dst[o] = '\0';
}

/* Print s sanitised; in multi-line text a LF continues on a new line
 * indented by `indent` columns (indent < 0: LF is replaced like any other
 * control character). */
static void put_text(FILE *f, const char *s, int indent)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        size_t n = utf8_seq(p, &cp);
        if (n == 1 && cp == '\n' && indent >= 0) {
            fprintf(f, "\n%*s", indent, "");
        } else if (n == 1 && cp == '\t') {
            fputc(' ', f);
        } else if (n == 0 || is_control(cp)) {
            fputc('?', f);
        } else {
            fwrite(p, 1, n, f);
        }
        p += n ? n : 1;
    }
}

static int wide(uint32_t cp)
{
    return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
           (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
           (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
           (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
           (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
           (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
           (cp >= 0x20000 && cp <= 0x3fffd);
}

size_t cli_display_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t cp;
        size_t n = utf8_seq(p, &cp);
        w += (n && wide(cp)) ? 2 : 1;
        p += n ? n : 1;
    }
    return w;
}

void cli_put_padded(FILE *f, const char *s, size_t width)
{
    put_text(f, s, -1);
    size_t w = cli_display_width(s);
    for (; w < width; w++)
        fputc(' ', f);
}

void cli_print_json(FILE *f, const json_t *v)
{
    json_dumpf(v, f, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputc('\n', f);
}

/* ---- time --------------------------------------------------------------- */

void cli_fmt_time(uint64_t ms, char out[CLI_TIME_LEN])
{
    if (ms == 0) {
        snprintf(out, CLI_TIME_LEN, "-");
        return;
    }
    ledger_date d;
    ledger_cst_date(ms, &d);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d %02d:%02d:%02d", d.year, d.month, d.day, d.hour,
             d.minute, d.second);
    snprintf(out, CLI_TIME_LEN, "%.*s", CLI_TIME_LEN - 1, tmp);
}

/* ---- JSON accessors ----------------------------------------------------- */

static json_t *get(json_t *o, const char *k)
{
    return json_is_object(o) ? json_object_get(o, k) : NULL;
}

static const char *str(json_t *o, const char *k)
{
    json_t *v = get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int time_key(const char *k)
{
    size_t n = strlen(k);
    return strcmp(k, "time") == 0 || strcmp(k, "block_time") == 0 ||
           strcmp(k, "timestamp_ms") == 0 || strstr(k, "deadline") != NULL ||
           (n > 3 && strcmp(k + n - 3, "_at") == 0);
}

/* Print any JSON value readably. */
static void put_value(FILE *f, json_t *v, int indent)
{
    if (v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
        fputs("-", f);
    } else if (json_is_string(v)) {
        put_text(f, json_string_value(v), indent);
    } else if (json_is_integer(v)) {
        fprintf(f, "%lld", (long long)json_integer_value(v));
    } else if (json_is_true(v)) {
        fputs("yes", f);
    } else if (json_is_false(v)) {
        fputs("no", f);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        put_text(f, s, -1);
        free(s);
    }
}

static void put_time_value(FILE *f, json_t *v)
{
    char buf[CLI_TIME_LEN];
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        cli_fmt_time((uint64_t)json_integer_value(v), buf);
        fputs(buf, f);
    } else {
        put_value(f, v, -1);
    }
}

static void label(FILE *f, const char *l, int indent)
{
    fprintf(f, "%*s", indent, "");
    cli_put_padded(f, cli_tr(l), LABEL_W + 1);
}

/* "Label  value" with the value of o[k]; multi-line text stays aligned. */
static void kv(FILE *f, const char *l, json_t *o, const char *k)
{
    label(f, l, 0);
    put_value(f, get(o, k), LABEL_W + 1);
    fputc('\n', f);
}

/* " (department market 市场监督管理局)" after a signer's key: who the node
 * says holds it (signed_by of tx.get and license.history), nothing when it
 * does not know. */
static void put_signer_name(FILE *f, json_t *by)
{
    const char *role = str(by, "role"), *name = str(by, "name");
    if (role == NULL || name == NULL)
        return;
    fputs(" (", f);
    put_text(f, role, -1);
    const char *id = str(by, "id") ? str(by, "id") : str(by, "department");
    if (id && strcmp(role, "holder") != 0) {
        fputs(strcmp(role, "registrar") == 0 ? " of " : " ", f);
        put_text(f, id, -1);
    }
    if (strcmp(role, "holder") != 0) {
        fputc(' ', f);
        put_text(f, name, -1);
    }
    const char *as_of = str(by, "as_of");
    if (as_of && strcmp(as_of, "genesis") == 0)
        fputs(", as genesis names it", f);
    fputc(')', f);
}

static void kv_time(FILE *f, const char *l, json_t *o, const char *k)
{
    label(f, l, 0);
    put_time_value(f, get(o, k));
    fputc('\n', f);
}

/* Widest dotted key flatten() will print for o. */
static size_t flat_width(json_t *o, size_t prefix)
{
    const char *k;
    json_t *v;
    size_t w = 0;
    json_object_foreach(o, k, v) {
        size_t kw = prefix + (prefix ? 1 : 0) + strlen(k);
        if (json_is_object(v) && json_object_size(v) > 0)
            kw = flat_width(v, kw);
        w = kw > w ? kw : w;
    }
    return w;
}

/* An array of scalars as "a, b, c"; "-" when empty. */
static void put_array(FILE *f, json_t *arr)
{
    size_t i;
    json_t *x;
    if (json_array_size(arr) == 0) {
        fputs("-", f);
        return;
    }
    json_array_foreach(arr, i, x) {
        if (i > 0)
            fputs(", ", f);
        put_value(f, x, -1);
    }
}

/* Every member of an object as "key  value" lines (nested objects with
 * dotted keys), for the free-form parts: tx bodies, event details. */
static void flatten_w(FILE *f, json_t *o, const char *prefix, int indent, int width)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        char key[128];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", k);
        if (json_is_object(v) && json_object_size(v) > 0) {
            flatten_w(f, v, key, indent, width);
            continue;
        }
        char clean[128];
        cli_clean_text(clean, sizeof clean, key);
        fprintf(f, "%*s%-*s ", indent, "", width, clean);
        if (time_key(k))
            put_time_value(f, v);
        else if (json_is_array(v))
            put_array(f, v);
        else
            put_value(f, v, indent + width + 1);
        fputc('\n', f);
    }
}

/* Label width for a block of fixed labels followed by o's members. */
static int block_width(json_t *o)
{
    size_t w = json_is_object(o) ? flat_width(o, 0) : 0;
    return w < LABEL_W ? LABEL_W : w > 60 ? 60 : (int)w;
}

const char *cli_status_name(json_t *v)
{
    if (json_is_string(v))
        return cli_tr(json_string_value(v));
    if (json_is_integer(v))
        return cli_tr(ledger_status_name((int)json_integer_value(v)));
    return "-";
}

static const char *decision_name(json_t *v)
{
    if (json_is_string(v))
        return cli_tr(json_string_value(v));
    if (json_is_integer(v))
        return cli_tr(ledger_decision_name((int)json_integer_value(v)));
    return "-";
}

/* ---- views -------------------------------------------------------------- */

void cli_print_status(FILE *f, json_t *r)
{
    kv(f, "Chain", r, "chain_id");
    label(f, "Node", 0);
    put_value(f, get(r, "node_id"), -1);
    if (str(r, "department")) {
        fputs("  (department ", f);
        put_text(f, str(r, "department"), -1);
        fputc(')', f);
    }
    fputc('\n', f);
    kv(f, "Height", r, "height");
    kv(f, "Block hash", r, "block_hash");
    kv_time(f, "Block time", r, "block_time");
    json_t *vals = get(r, "validators");
    label(f, "Validators", 0);
    if (json_is_array(vals)) {
        size_t i;
        json_t *v;
        fprintf(f, "%zu", json_array_size(vals));
        json_array_foreach(vals, i, v) {
            fputs(i == 0 ? ": " : ", ", f);
            put_value(f, json_is_object(v) ? get(v, "department") : v, -1);
        }
    } else {
        put_value(f, vals, -1);
    }
    fputc('\n', f);
    kv(f, "Peers", r, "peers");
    if (json_is_string(get(r, "role")) && strcmp(json_string_value(get(r, "role")), "observer") == 0)
        kv(f, "Role", r, "role"); /* validators' output stays as it was */
    json_t *mp = get(r, "mempool");
    label(f, "Mempool", 0);
    if (json_is_object(mp)) {
        put_value(f, get(mp, "size"), -1);
        fputs(" txs, ", f);
        put_value(f, get(mp, "bytes"), -1);
        fputs(" bytes (max ", f);
        put_value(f, get(mp, "max_size"), -1);
        fputs(" txs)", f);
    } else {
        put_value(f, mp, -1);
    }
    fputc('\n', f);
    kv(f, "Syncing", r, "syncing");
    kv(f, "Version", r, "version");
}

static void print_address_rows(FILE *f, json_t *addrs)
{
    size_t i, dw = 8;
    json_t *a;
    json_array_foreach(addrs, i, a) {
        size_t w = cli_display_width(str(a, "division"));
        if (w > dw)
            dw = w;
    }
    json_array_foreach(addrs, i, a) {
        char id[32];
        json_t *jid = get(a, "id");
        snprintf(id, sizeof id, "#%lld", json_is_integer(jid) ? (long long)json_integer_value(jid)
                                                              : 0LL);
        fprintf(f, "  %-5s ", id);
        cli_put_padded(f, str(a, "division") ? str(a, "division") : "-", dw + 1);
        put_text(f, str(a, "text"), -1);
        if (json_is_true(get(a, "primary")))
            fputs(cli_zh() ? "  （主要经营场所）" : "  (primary)", f);
        fputc('\n', f);
    }
}

void cli_print_addresses(FILE *f, json_t *r)
{
    json_t *addrs = get(r, "addresses");
    if (!json_is_array(addrs) || json_array_size(addrs) == 0) {
        fputs("no addresses\n", f);
        return;
    }
    print_address_rows(f, addrs);
}

void cli_print_license(FILE *f, json_t *r)
{
    char t[CLI_TIME_LEN];
    kv(f, "License", r, "id");
    label(f, "Status", 0);
    fputs(cli_status_name(get(r, "status")), f);
    json_t *stored = get(r, "stored_status");
    if (stored && strcmp(cli_status_name(stored), cli_status_name(get(r, "status"))) != 0) {
        fputs(" (stored as ", f);
        put_text(f, cli_status_name(stored), -1);
        fputc(')', f);
    }
    if (str(r, "suspended_by") && str(r, "suspended_by")[0]) {
        fputs(" by ", f);
        put_text(f, str(r, "suspended_by"), -1);
    }
    fputc('\n', f);
    kv(f, "Name", r, "name");
    kv(f, "USCC", r, "uscc");
    kv(f, "Legal rep", r, "legal_rep");
    kv(f, "Industry", r, "industry");
    kv(f, "Scope", r, "scope");
    json_t *commit = get(r, "commitment");
    label(f, "Commitment", 0);
    int all_instant = json_array_size(get(r, "items")) > 0;
    size_t k;
    json_t *x;
    json_array_foreach(get(r, "items"), k, x) {
        all_instant &= str(x, "rule") != NULL;
    }
    if (json_is_true(commit) && all_instant) {
        fputs(cli_zh() ? "是，各事项均由规则秒批，无需核查"
                       : "yes (告知承诺), every item approved by rule instant (秒批): nothing to verify",
              f);
    } else if (json_is_true(commit)) {
        fputs(cli_zh() ? "是，核查期限 " : "yes (告知承诺), verify by ", f);
        put_time_value(f, get(r, "verify_deadline"));
    } else {
        fputs(cli_zh() ? "否" : "no", f);
    }
    fputc('\n', f);
    if (json_is_string(get(r, "holder_key")))
        kv(f, "Holder key", r, "holder_key");
    if (json_is_string(get(r, "pledge_sha256")))
        kv(f, "Pledge", r, "pledge_sha256");
    kv_time(f, "Applied", r, "applied_at");
    kv_time(f, "Issued", r, "issued_at");
    kv_time(f, "Expires", r, "expires_at");
    json_t *docs = get(r, "documents");
    if (json_is_array(docs) && json_array_size(docs) > 0) {
        size_t i;
        json_t *d;
        json_array_foreach(docs, i, d) {
            label(f, i == 0 ? "Documents" : "", 0);
            put_value(f, d, -1);
            fputc('\n', f);
        }
    }
    kv(f, "Seq", r, "seq");
    kv(f, "Head", r, "head");

    json_t *addrs = get(r, "addresses");
    if (json_is_array(addrs) && json_array_size(addrs) > 0) {
        fprintf(f, "\n%s\n", cli_tr("Addresses"));
        print_address_rows(f, addrs);
    }
    json_t *items = get(r, "items");
    if (json_is_array(items) && json_array_size(items) > 0) {
        size_t i, dw = 10;
        json_t *it;
        json_array_foreach(items, i, it) {
            size_t w = cli_display_width(str(it, "department"));
            if (w > dw)
                dw = w;
        }
        fprintf(f, "\n%s\n", cli_tr("Permit items"));
        json_array_foreach(items, i, it) {
            char idx[32];
            json_t *ji = get(it, "index");
            snprintf(idx, sizeof idx, "#%lld",
                     json_is_integer(ji) ? (long long)json_integer_value(ji) : (long long)i);
            fprintf(f, "  %-5s ", idx);
            cli_put_padded(f, str(it, "department") ? str(it, "department") : "-", dw + 1);
            cli_put_padded(f, decision_name(get(it, "decision")), 10);
            json_t *da = get(it, "decided_at");
            cli_fmt_time(json_is_integer(da) && json_integer_value(da) > 0
                             ? (uint64_t)json_integer_value(da)
                             : 0,
                         t);
            cli_put_padded(f, t, 21);
            put_text(f, str(it, "permit"), -1);
            if (str(it, "rule") != NULL)
                fprintf(f, cli_zh() ? "  （规则 %s 秒批准予）" : "  (approved by rule %s, 秒批)",
                        str(it, "rule"));
            else if (json_is_true(commit))
                fputs(json_is_true(get(it, "verified")) ? "  (verified)" : "  (not verified)", f);
            fputc('\n', f);
        }
    }
}

void cli_print_history(FILE *f, json_t *r)
{
    json_t *evs = get(r, "events");
    if (!json_is_array(evs) || json_array_size(evs) == 0) {
        fputs("no events\n", f);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e) {
        char t[CLI_TIME_LEN];
        json_t *tm = get(e, "time");
        cli_fmt_time(json_is_integer(tm) && json_integer_value(tm) > 0
                         ? (uint64_t)json_integer_value(tm)
                         : 0,
                     t);
        if (i > 0)
            fputc('\n', f);
        fputs("#", f);
        put_value(f, get(e, "seq"), -1);
        fputs("  ", f);
        cli_put_padded(f, str(e, "kind") ? str(e, "kind") : "-", 15);
        fprintf(f, "%s  block ", t);
        put_value(f, get(e, "height"), -1);
        fputc('\n', f);
        const char *keys[] = {"tx_id", "signer", "hash", "prev"};
        const char *labels[] = {"tx", "signer", "hash", "prev"};
        json_t *d = get(e, "details");
        int w = block_width(d);
        for (size_t k = 0; k < 4; k++) {
            if (get(e, keys[k]) == NULL)
                continue;
            fprintf(f, "    %-*s ", w, labels[k]);
            put_value(f, get(e, keys[k]), -1);
            if (k == 1)
                put_signer_name(f, get(e, "signed_by"));
            fputc('\n', f);
        }
        if (str(e, "rule") != NULL)
            fprintf(f, cli_zh() ? "    %-*s %s（秒批：许可事项由账本规则准予，无部门签名）\n"
                                : "    %-*s %s (秒批: items approved by the ledger's rule, no "
                                  "department signature)\n",
                    w, "rule", str(e, "rule"));
        if (json_is_object(d))
            flatten_w(f, d, "", 4, w);
    }
}

/* "3d 04h", "2h 05m", "7m 03s", "45s": how long something has waited. */
static void fmt_wait(json_t *v, char *out, size_t cap)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(out, cap, "-");
        return;
    }
    unsigned long long s = (unsigned long long)json_integer_value(v) / 1000;
    if (s >= 86400)
        snprintf(out, cap, "%llud %02lluh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, cap, "%lluh %02llum", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, cap, "%llum %02llus", s / 60, s % 60);
    else
        snprintf(out, cap, "%llus", s);
}

void cli_print_list(FILE *f, json_t *r)
{
    json_t *ls = get(r, "licenses");
    size_t n = json_is_array(ls) ? json_array_size(ls) : 0;
    if (n == 0) {
        fputs(cli_zh() ? "没有许可证\n" : "no licenses\n", f);
    } else {
        size_t i, wid = 2, wst = 6, wind = 8;
        json_t *l;
        json_array_foreach(ls, i, l) {
            size_t a = cli_display_width(str(l, "id"));
            size_t b = cli_display_width(cli_status_name(get(l, "status")));
            size_t c = cli_display_width(str(l, "industry"));
            wid = a > wid ? a : wid;
            wst = b > wst ? b : wst;
            wind = c > wind ? c : wind;
        }
        cli_put_padded(f, cli_tr("ID"), wid + 2);
        cli_put_padded(f, cli_tr("STATUS"), wst + 2);
        cli_put_padded(f, cli_tr("INDUSTRY"), wind + 2);
        /* a department's pending list: how long each has waited, since when */
        int waiting = get(json_array_get(ls, 0), "waiting_ms") != NULL;
        if (waiting)
            cli_put_padded(f, cli_tr("WAITING"), 10);
        cli_put_padded(f, cli_tr(waiting ? "APPLIED" : "EXPIRES"), 21);
        fputs(cli_tr("NAME"), f);
        fputc('\n', f);
        json_array_foreach(ls, i, l) {
            char t[CLI_TIME_LEN], w[32];
            json_t *ex = get(l, waiting ? "applied_at" : "expires_at");
            cli_fmt_time(json_is_integer(ex) && json_integer_value(ex) > 0
                             ? (uint64_t)json_integer_value(ex)
                             : 0,
                         t);
            cli_put_padded(f, str(l, "id") ? str(l, "id") : "-", wid + 2);
            cli_put_padded(f, cli_status_name(get(l, "status")), wst + 2);
            cli_put_padded(f, str(l, "industry") ? str(l, "industry") : "-", wind + 2);
            if (waiting) {
                fmt_wait(get(l, "waiting_ms"), w, sizeof w);
                cli_put_padded(f, w, 10);
            }
            cli_put_padded(f, t, 21);
            put_text(f, str(l, "name"), -1);
            fputc('\n', f);
        }
    }
    const char *next = str(r, "next_cursor");
    if (next && next[0]) {
        fputs("(more: --cursor ", f);
        put_text(f, next, -1);
        fputs(")\n", f);
    }
}

void cli_print_block(FILE *f, json_t *r)
{
    kv(f, "Height", r, "height");
    kv(f, "Hash", r, "hash");
    kv(f, "Chain", r, "chain_id");
    kv_time(f, "Time", r, "time");
    kv(f, "Previous", r, "prev_hash");
    kv(f, "Tx root", r, "tx_root");
    kv(f, "State root", r, "state_root");
    kv(f, "Log size", r, "log_size");
    kv(f, "Log root", r, "log_root");
    kv(f, "Validators", r, "validators_hash");
    kv(f, "Proposer", r, "proposer");
    kv(f, "Last commit", r, "last_commit_hash");
    json_t *txs = get(r, "tx_ids");
    label(f, "Transactions", 0);
    if (json_is_array(txs)) {
        size_t i;
        json_t *t;
        fprintf(f, "%zu\n", json_array_size(txs));
        json_array_foreach(txs, i, t) {
            fprintf(f, "  %-4zu ", i);
            put_value(f, t, -1);
            fputc('\n', f);
        }
    } else {
        fputs("-\n", f);
    }
    json_t *c = get(r, "commit");
    label(f, "Commit", 0);
    if (json_is_object(c)) {
        json_t *sigs = get(c, "signatures");
        fputs("round ", f);
        put_value(f, get(c, "round"), -1);
        fprintf(f, ", %zu signatures\n", json_is_array(sigs) ? json_array_size(sigs) : 0);
    } else {
        fputs("- (not yet certified)\n", f);
    }
}

void cli_print_tx(FILE *f, json_t *r)
{
    kv(f, "Tx", r, "tx_id");
    kv(f, "Kind", r, "kind");
    label(f, "Block", 0);
    put_value(f, get(r, "height"), -1);
    fputs(" (index ", f);
    put_value(f, get(r, "index"), -1);
    fputs(")\n", f);
    if (get(r, "block_time"))
        kv_time(f, "Block time", r, "block_time");
    if (get(r, "license_id") && !json_is_null(get(r, "license_id")))
        kv(f, "License", r, "license_id");
    label(f, "Signer", 0);
    put_value(f, get(r, "signer"), -1);
    put_signer_name(f, get(r, "signed_by"));
    fputc('\n', f);
    json_t *b = get(r, "body");
    if (json_is_object(b)) {
        fputs("\nBody\n", f);
        flatten_w(f, b, "", 2, block_width(b));
    }
}
