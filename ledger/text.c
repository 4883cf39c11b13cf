#include "text.h"

#include <stdio.h>
#include <string.h>

/* Decode one scalar value from s[i..len).  Returns the number of bytes it
 * takes (1..4) and stores the code point, or 0 when the sequence is
 * ill-formed: a stray continuation byte, C0/C1 lead bytes (always
 * overlong), F5..FF, a truncated sequence, an overlong form, a surrogate or
 * a value above U+10FFFF.  The second-byte ranges are those of Unicode
 * Table 3-7, which exclude exactly the overlong and out-of-range forms. */
static size_t utf8_next(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned char c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len - i < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        unsigned char b = s[i + k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return 0;
        v = v << 6 | (b & 0x3F);
    }
    *cp = v;
    return n;
}

static int utf8_check(const char *s, size_t len, int multiline)
{
    if (len == 0)
        return 1;
    if (s == NULL)
        return 0;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_next(u, len, i, &cp);
        if (n == 0)
            return 0;
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            if (!(multiline && (cp == '\t' || cp == '\n')))
                return 0;
        }
        i += n;
    }
    return 1;
}

int ledger_utf8_valid(const char *s, size_t len)
{
    return utf8_check(s, len, 0);
}

int ledger_utf8_valid_multiline(const char *s, size_t len)
{
    return utf8_check(s, len, 1);
}

/* ---- USCC ---------------------------------------------------------------- */

static const char uscc_alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

static int uscc_value(char c)
{
    if (c == '\0')
        return -1;
    const char *p = strchr(uscc_alphabet, c);
    return p ? (int)(p - uscc_alphabet) : -1;
}

/* Describe byte c for a message: 'A' for printable ASCII, else byte 0xNN. */
static void describe_byte(unsigned char c, char out[16])
{
    static const char hex[] = "0123456789ABCDEF";
    if (c >= 0x21 && c <= 0x7E && c != '\'' && c != '\\') {
        out[0] = '\'';
        out[1] = (char)c;
        out[2] = '\'';
        out[3] = '\0';
    } else {
        memcpy(out, "byte 0x", 7);
        out[7] = hex[c >> 4];
        out[8] = hex[c & 15];
        out[9] = '\0';
    }
}

int ledger_uscc_check(const char *s, ledger_err *err)
{
    if (s == NULL)
        return ledger_fail(err, LEDGER_ERR_RULE, "uscc_invalid", "USCC is missing");
    size_t len = strnlen(s, 64);
    if (len != 18)
        return ledger_fail(err, LEDGER_ERR_RULE, "uscc_invalid",
                           "USCC must be exactly 18 characters, got %s%zu",
                           len == 64 ? "at least " : "", len);
    unsigned sum = 0, weight = 1; /* 3^i mod 31 */
    for (size_t i = 0; i < 18; i++) {
        int v = uscc_value(s[i]);
        if (v < 0) {
            char what[16];
            describe_byte((unsigned char)s[i], what);
            int lower = s[i] >= 'a' && s[i] <= 'z';
            return ledger_fail(err, LEDGER_ERR_RULE, "uscc_invalid",
                               "USCC character %s at position %zu is not in the "
                               "alphabet 0-9 A-Z without I O S V Z%s",
                               what, i + 1,
                               lower ? " (letters must be upper case)" : "");
        }
        if (i < 17) {
            sum += (unsigned)v * weight;
            weight = weight * 3 % 31;
        }
    }
    unsigned check = (31 - sum % 31) % 31;
    if ((unsigned)uscc_value(s[17]) != check)
        return ledger_fail(err, LEDGER_ERR_RULE, "uscc_invalid",
                           "USCC check character is %c, expected %c", s[17],
                           uscc_alphabet[check]);
    return 0;
}

/* ---- division codes ------------------------------------------------------ */

static size_t digits_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n] >= '0' && s[n] <= '9')
        n++;
    return s[n] == '\0' ? n : 0;
}

int ledger_region_valid(const char *s)
{
    if (s == NULL || digits_len(s, 6) != 6)
        return 0;
    return strcmp(s, "000000") != 0;
}

int ledger_division_valid(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = digits_len(s, 12);
    return n == 6 || n == 9 || n == 12;
}

int ledger_division_in_region(const char *region, const char *div)
{
    if (!ledger_region_valid(region) || !ledger_division_valid(div))
        return 0;
    size_t keep = 6;
    /* a valid region is not all zero, so at least one pair remains */
    while (keep > 2 && region[keep - 2] == '0' && region[keep - 1] == '0')
        keep -= 2;
    return memcmp(region, div, keep) == 0;
}

/* ---- durations ----------------------------------------------------------- */

#define MS_SECOND UINT64_C(1000)
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR (60 * MS_MINUTE)
#define MS_DAY (24 * MS_HOUR)
#define MS_YEAR (365 * MS_DAY)

static uint64_t unit_ms(char u)
{
    switch (u) {
    case 's': return MS_SECOND;
    case 'm': return MS_MINUTE;
    case 'h': return MS_HOUR;
    case 'd': return MS_DAY;
    case 'y': return MS_YEAR;
    }
    return 0;
}

int ledger_duration_parse(const char *s, uint64_t *ms)
{
    if (s == NULL || s[0] < '1' || s[0] > '9') /* no sign, space or leading zero */
        return -1;
    uint64_t n = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (n > (UINT64_MAX - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    uint64_t unit;
    if (s[i] == 'm' && s[i + 1] == 's' && s[i + 2] == '\0')
        unit = 1; /* milliseconds: block intervals of test networks */
    else if ((unit = unit_ms(s[i])) == 0 || s[i + 1] != '\0')
        return -1;
    if (n > UINT64_MAX / unit)
        return -1;
    *ms = n * unit;
    return 0;
}

void ledger_duration_format(uint64_t ms, char *out, size_t outlen)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{MS_YEAR, "y"}, {MS_DAY, "d"}, {MS_HOUR, "h"},
                 {MS_MINUTE, "m"}, {MS_SECOND, "s"}};
    if (outlen == 0)
        return;
    const char *suffix = ms == 0 ? "s" : "ms";
    uint64_t n = ms;
    for (size_t i = 0; ms != 0 && i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].ms == 0) {
            n = ms / units[i].ms;
            suffix = units[i].unit;
            break;
        }
    }
    /* build right to left: at most 20 digits, 2 suffix bytes and a NUL */
    char buf[24];
    size_t p = sizeof buf;
    buf[--p] = '\0';
    for (size_t k = strlen(suffix); k > 0; k--)
        buf[--p] = suffix[k - 1];
    do {
        buf[--p] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    size_t len = sizeof buf - 1 - p;
    if (len >= outlen)
        len = outlen - 1;
    memcpy(out, buf + p, len);
    out[len] = '\0';
}

void ledger_cst_date(uint64_t time_ms, ledger_date *out)
{
    int64_t s = (int64_t)(time_ms / 1000) + 8 * 3600;
    int64_t days = s / 86400, rem = s % 86400;
    /* civil date from a day count: 400-year eras of 146097 days, counted
     * from 0000-03-01 so that leap days fall at the end of a year */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    out->year = (int)(yoe + era * 400 + (m <= 2));
    out->month = (int)m;
    out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->hour = (int)(rem / 3600);
    out->minute = (int)(rem / 60 % 60);
    out->second = (int)(rem % 60);
}

void ledger_cst_text(uint64_t time_ms, char out[LEDGER_CST_TEXT])
{
    ledger_date d;
    ledger_cst_date(time_ms, &d);
    snprintf(out, LEDGER_CST_TEXT, "%04d-%02d-%02d %02d:%02d:%02d (UTC+8)", d.year % 10000,
             d.month, d.day, d.hour, d.minute, d.second);
}
