/* ledger/text.c: UTF-8, USCC, division codes and durations. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/text.h"

#define U8(lit) (lit), (sizeof(lit) - 1)

/* ---- UTF-8 --------------------------------------------------------------- */

static void test_utf8_accepts_well_formed_text(void **state)
{
    (void)state;
    assert_true(ledger_utf8_valid("", 0));
    assert_true(ledger_utf8_valid(NULL, 0));
    assert_true(ledger_utf8_valid(U8("convenience store 24h ~")));
    assert_true(ledger_utf8_valid(U8("行业综合许可证")));
    assert_true(ledger_utf8_valid(U8("便利店😀")));          /* U+1F600 */
    assert_true(ledger_utf8_valid(U8("\xC2\xA0")));          /* U+00A0, first after C1 */
    assert_true(ledger_utf8_valid(U8("\xDF\xBF")));          /* U+07FF */
    assert_true(ledger_utf8_valid(U8("\xE0\xA0\x80")));      /* U+0800 */
    assert_true(ledger_utf8_valid(U8("\xED\x9F\xBF")));      /* U+D7FF */
    assert_true(ledger_utf8_valid(U8("\xEE\x80\x80")));      /* U+E000 */
    assert_true(ledger_utf8_valid(U8("\xEF\xBF\xBD")));      /* U+FFFD */
    assert_true(ledger_utf8_valid(U8("\xF0\x90\x80\x80")));  /* U+10000 */
    assert_true(ledger_utf8_valid(U8("\xF4\x8F\xBF\xBF")));  /* U+10FFFF */
}

static void test_utf8_refuses_overlong_forms(void **state)
{
    (void)state;
    assert_false(ledger_utf8_valid(U8("\xC0\x80")));         /* NUL, 2 bytes */
    assert_false(ledger_utf8_valid(U8("\xC1\xBF")));
    assert_false(ledger_utf8_valid(U8("\xE0\x80\x80")));     /* NUL, 3 bytes */
    assert_false(ledger_utf8_valid(U8("\xE0\x9F\xBF")));     /* U+07FF, 3 bytes */
    assert_false(ledger_utf8_valid(U8("\xF0\x80\x80\x80")));
    assert_false(ledger_utf8_valid(U8("\xF0\x8F\xBF\xBF"))); /* U+FFFF, 4 bytes */
}

static void test_utf8_refuses_surrogates_and_out_of_range(void **state)
{
    (void)state;
    assert_false(ledger_utf8_valid(U8("\xED\xA0\x80")));     /* U+D800 */
    assert_false(ledger_utf8_valid(U8("\xED\xBF\xBF")));     /* U+DFFF */
    assert_false(ledger_utf8_valid(U8("\xED\xA0\xBD\xED\xB8\x80"))); /* CESU-8 pair */
    assert_false(ledger_utf8_valid(U8("\xF4\x90\x80\x80"))); /* U+110000 */
    assert_false(ledger_utf8_valid(U8("\xF5\x80\x80\x80")));
    assert_false(ledger_utf8_valid(U8("\xF8\x88\x80\x80\x80")));
    assert_false(ledger_utf8_valid(U8("\xFE")));
    assert_false(ledger_utf8_valid(U8("\xFF")));
}

static void test_utf8_refuses_truncated_and_stray_bytes(void **state)
{
    (void)state;
    assert_false(ledger_utf8_valid(U8("\x80")));             /* lone continuation */
    assert_false(ledger_utf8_valid(U8("a\xBF" "b")));
    assert_false(ledger_utf8_valid(U8("\xE8\xA1")));         /* 行 cut short */
    assert_false(ledger_utf8_valid(U8("行\xE4")));
    assert_false(ledger_utf8_valid(U8("\xF0\x9F\x98")));     /* emoji cut short */
    assert_false(ledger_utf8_valid(U8("\xE8\x41\xA1")));     /* ASCII inside a sequence */
    assert_false(ledger_utf8_valid(U8("\xC3")));
    /* the length is honoured: the sequence is cut by len, not by NUL */
    const char *s = "\xE8\xA1\x8C";
    assert_true(ledger_utf8_valid(s, 3));
    assert_false(ledger_utf8_valid(s, 2));
    assert_true(ledger_utf8_valid("ab\x80", 2));
}

static void test_utf8_refuses_control_characters(void **state)
{
    (void)state;
    assert_false(ledger_utf8_valid(U8("a\0b")));             /* NUL inside len */
    assert_false(ledger_utf8_valid(U8("\x01")));
    assert_false(ledger_utf8_valid(U8("a\tb")));
    assert_false(ledger_utf8_valid(U8("a\nb")));
    assert_false(ledger_utf8_valid(U8("a\rb")));
    assert_false(ledger_utf8_valid(U8("\x1B[31m")));         /* terminal escape */
    assert_false(ledger_utf8_valid(U8("\x1F")));
    assert_false(ledger_utf8_valid(U8("\x7F")));             /* DEL */
    assert_false(ledger_utf8_valid(U8("\xC2\x80")));         /* U+0080 */
    assert_false(ledger_utf8_valid(U8("\xC2\x85")));         /* U+0085 NEL */
    assert_false(ledger_utf8_valid(U8("\xC2\x9F")));         /* U+009F */
    assert_true(ledger_utf8_valid(U8(" ")));
}

static void test_utf8_multiline_allows_tab_and_lf_only(void **state)
{
    (void)state;
    assert_true(ledger_utf8_valid_multiline(U8("经营范围：\n\t食品销售\n")));
    assert_false(ledger_utf8_valid_multiline(U8("a\r\nb")));
    assert_false(ledger_utf8_valid_multiline(U8("a\0b")));
    assert_false(ledger_utf8_valid_multiline(U8("\x0B")));
    assert_false(ledger_utf8_valid_multiline(U8("\x7F")));
    assert_false(ledger_utf8_valid_multiline(U8("\xC2\x85")));
    assert_false(ledger_utf8_valid_multiline(U8("\xED\xA0\x80")));
    assert_false(ledger_utf8_valid_multiline(U8("\xC0\x8A")));       /* overlong LF */
}

/* Reference: decode by the bit pattern of the lead byte, then refuse forms
 * longer than needed, surrogates, values above U+10FFFF and controls. */
static int ref_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t v;
        if (c < 0x80) {
            n = 1;
            v = c;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2;
            v = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3;
            v = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4;
            v = c & 0x07;
        } else {
            return 0;
        }
        if (i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            v = v << 6 | (s[i + k] & 0x3F);
        }
        size_t need = v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4;
        if (need != n || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
            return 0;
        if (v < 0x20 || (v >= 0x7F && v <= 0x9F))
            return 0;
        i += n;
    }
    return 1;
}

static void test_utf8_agrees_with_reference_on_all_short_sequences(void **state)
{
    (void)state;
    unsigned char b[4];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (unsigned char)x;
        assert_int_equal(ledger_utf8_valid((char *)b, 1), ref_valid(b, 1));
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (unsigned char)y;
            assert_int_equal(ledger_utf8_valid((char *)b, 2), ref_valid(b, 2));
            if (x < 0xE0)
                continue; /* 3-byte leads only: the rest are covered above */
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (unsigned char)z;
                if (ledger_utf8_valid((char *)b, 3) != ref_valid(b, 3))
                    fail_msg("disagree on %02X %02X %02X", x, y, z);
            }
        }
    }
    /* 4-byte leads with every second byte */
    for (unsigned x = 0xF0; x < 0x100; x++) {
        for (unsigned y = 0; y < 256; y++) {
            b[0] = (unsigned char)x;
            b[1] = (unsigned char)y;
            b[2] = 0x80;
            b[3] = 0xBF;
            if (ledger_utf8_valid((char *)b, 4) != ref_valid(b, 4))
                fail_msg("disagree on %02X %02X 80 BF", x, y);
        }
    }
}

/* ---- USCC ---------------------------------------------------------------- */

static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const char *const example = "91350100M000100Y43";

static void test_uscc_accepts_the_standard_example(void **state)
{
    (void)state;
    ledger_err err;
    assert_int_equal(ledger_uscc_check(example, &err), 0);
    assert_int_equal(ledger_uscc_check(example, NULL), 0);
}

/* Independent check-character computation (3^i mod 31 by repeated
 * multiplication, no table). */
static char ref_check(const char *body17)
{
    unsigned sum = 0;
    for (int i = 0; i < 17; i++) {
        unsigned w = 1;
        for (int k = 0; k < i; k++)
            w = w * 3 % 31;
        sum += (unsigned)(strchr(alphabet, body17[i]) - alphabet) * w;
    }
    return alphabet[(31 - sum % 31) % 31];
}

static void test_uscc_accepts_codes_with_correct_check_character(void **state)
{
    (void)state;
    assert_int_equal(ref_check(example), '3');
    srand(12345);
    for (int t = 0; t < 2000; t++) {
        char c[19];
        for (int i = 0; i < 17; i++)
            c[i] = alphabet[rand() % 31];
        c[17] = ref_check(c);
        c[18] = '\0';
        ledger_err err;
        if (ledger_uscc_check(c, &err) != 0)
            fail_msg("%s refused: %s", c, err.msg);
    }
}

static void test_uscc_detects_every_single_character_change(void **state)
{
    (void)state;
    for (size_t pos = 0; pos < 18; pos++) {
        for (size_t a = 0; a < 31; a++) {
            if (alphabet[a] == example[pos])
                continue;
            char c[19];
            memcpy(c, example, 19);
            c[pos] = alphabet[a];
            ledger_err err;
            ledger_err_clear(&err);
            if (ledger_uscc_check(c, &err) != -1)
                fail_msg("%s accepted (position %zu changed)", c, pos + 1);
            assert_int_equal(err.code, LEDGER_ERR_RULE);
            assert_string_equal(err.rule, "uscc_invalid");
            assert_non_null(strstr(err.msg, "check character is"));
            if (pos == 17) {
                char want[64];
                snprintf(want, sizeof want, "check character is %c, expected 3", c[17]);
                assert_non_null(strstr(err.msg, want));
            }
        }
    }
}

static void test_uscc_refuses_lowercase(void **state)
{
    (void)state;
    ledger_err err;
    assert_int_equal(ledger_uscc_check("91350100m000100Y43", &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_RULE);
    assert_string_equal(err.rule, "uscc_invalid");
    assert_non_null(strstr(err.msg, "'m' at position 9"));
    assert_non_null(strstr(err.msg, "upper case"));
    assert_int_equal(ledger_uscc_check("91350100M000100y43", &err), -1);
    assert_non_null(strstr(err.msg, "'y' at position 16"));
}

static void test_uscc_refuses_wrong_length(void **state)
{
    (void)state;
    ledger_err err;
    assert_int_equal(ledger_uscc_check("91350100M000100Y4", &err), -1);
    assert_string_equal(err.rule, "uscc_invalid");
    assert_non_null(strstr(err.msg, "18 characters, got 17"));
    assert_int_equal(ledger_uscc_check("91350100M000100Y430", &err), -1);
    assert_non_null(strstr(err.msg, "18 characters, got 19"));
    assert_int_equal(ledger_uscc_check("", &err), -1);
    assert_non_null(strstr(err.msg, "got 0"));
    assert_int_equal(ledger_uscc_check(NULL, &err), -1);
    assert_string_equal(err.rule, "uscc_invalid");
    /* 18 bytes but not 18 characters */
    assert_int_equal(ledger_uscc_check("913501行0M000100Y", &err), -1);
    assert_non_null(strstr(err.msg, "byte 0xE8 at position 7"));
}

static void test_uscc_refuses_letters_outside_the_alphabet(void **state)
{
    (void)state;
    const char bad[] = "IOSVZ";
    for (size_t k = 0; k < 5; k++) {
        char c[19];
        memcpy(c, example, 19);
        c[8] = bad[k]; /* where the M is */
        ledger_err err;
        assert_int_equal(ledger_uscc_check(c, &err), -1);
        assert_int_equal(err.code, LEDGER_ERR_RULE);
        assert_string_equal(err.rule, "uscc_invalid");
        char want[32];
        snprintf(want, sizeof want, "'%c' at position 9", bad[k]);
        if (strstr(err.msg, want) == NULL || strstr(err.msg, "alphabet") == NULL)
            fail_msg("message for %s: %s", c, err.msg);
    }
    ledger_err err;
    assert_int_equal(ledger_uscc_check("91350100M000100Y4-", &err), -1);
    assert_non_null(strstr(err.msg, "'-' at position 18"));
    assert_int_equal(ledger_uscc_check("91350100 000100Y43", &err), -1);
    assert_non_null(strstr(err.msg, "byte 0x20 at position 9"));
}

/* ---- division codes ------------------------------------------------------ */

static void test_region_codes(void **state)
{
    (void)state;
    assert_true(ledger_region_valid("320411"));
    assert_true(ledger_region_valid("320000"));
    assert_false(ledger_region_valid("000000"));
    assert_false(ledger_region_valid("32041"));
    assert_false(ledger_region_valid("3204110"));
    assert_false(ledger_region_valid("32041a"));
    assert_false(ledger_region_valid(" 320411"));
    assert_false(ledger_region_valid(""));
    assert_false(ledger_region_valid(NULL));
}

static void test_division_codes(void **state)
{
    (void)state;
    assert_true(ledger_division_valid("320411"));
    assert_true(ledger_division_valid("320411001"));
    assert_true(ledger_division_valid("320411001002"));
    const char *bad[] = {"32041", "3204110", "32041100", "3204110010", "32041100100",
                         "3204110010020", "32041100100a", "", "32041１", "320411 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ledger_division_valid(bad[i]))
            fail_msg("\"%s\" accepted", bad[i]);
    assert_false(ledger_division_valid(NULL));
}

static void test_division_in_region(void **state)
{
    (void)state;
    assert_true(ledger_division_in_region("320411", "320411"));
    assert_true(ledger_division_in_region("320411", "320411001"));
    assert_true(ledger_division_in_region("320411", "320411001002"));
    assert_true(ledger_division_in_region("320400", "320411"));
    assert_true(ledger_division_in_region("320400", "320499123"));
    assert_true(ledger_division_in_region("320400", "320400"));
    assert_true(ledger_division_in_region("320000", "321100"));
    assert_true(ledger_division_in_region("320000", "320411001"));
    assert_false(ledger_division_in_region("320411", "320412"));
    assert_false(ledger_division_in_region("320411", "320412001"));
    assert_false(ledger_division_in_region("320400", "320500"));
    assert_false(ledger_division_in_region("320000", "330100"));
    assert_false(ledger_division_in_region("320411", "32041"));     /* invalid division */
    assert_false(ledger_division_in_region("320411", "3204110"));
    assert_false(ledger_division_in_region("32041", "320411"));     /* invalid region */
    assert_false(ledger_division_in_region("000000", "000000"));
    assert_false(ledger_division_in_region(NULL, "320411"));
    assert_false(ledger_division_in_region("320411", NULL));
    /* only whole "00" pairs are wildcards */
    assert_false(ledger_division_in_region("320410", "320411"));
    assert_true(ledger_division_in_region("320410", "320410001"));
    assert_true(ledger_division_in_region("300000", "301234"));
    assert_false(ledger_division_in_region("300000", "311234"));
}

/* ---- durations ----------------------------------------------------------- */

#define DAY UINT64_C(86400000)

static void test_duration_parses_each_unit(void **state)
{
    (void)state;
    uint64_t ms = 0;
    assert_int_equal(ledger_duration_parse("90d", &ms), 0);
    assert_int_equal(ms, 90 * DAY);
    assert_int_equal(ledger_duration_parse("3y", &ms), 0);
    assert_int_equal(ms, 3 * 365 * DAY);
    assert_int_equal(ledger_duration_parse("20s", &ms), 0);
    assert_int_equal(ms, 20000);
    assert_int_equal(ledger_duration_parse("15m", &ms), 0);
    assert_int_equal(ms, 15 * 60000);
    assert_int_equal(ledger_duration_parse("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(ledger_duration_parse("1s", &ms), 0);
    assert_int_equal(ms, 1000);
    /* the largest value that fits: 18446744073709551 s = ...551000 ms */
    assert_int_equal(ledger_duration_parse("18446744073709551s", &ms), 0);
    assert_int_equal(ms, UINT64_C(18446744073709551000));
}

static void test_duration_refuses_malformed_strings(void **state)
{
    (void)state;
    const char *bad[] = {"0d", "0s", "00d", "07d", "d", "", "10x", "10", "-1s", "+1s", " 1s",
                         "1s ", "1 s", "0ms", "1mss", "1.5h", "1d1h", "1S", "1D", "1e3s", "ms",
                         "18446744073709551615s", "18446744073709552s", "18446744073709551616s",
                         "99999999999999999999999999d", "584942418y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms = 42;
        if (ledger_duration_parse(bad[i], &ms) != -1)
            fail_msg("\"%s\" accepted as %llu ms", bad[i], (unsigned long long)ms);
        assert_int_equal(ms, 42); /* untouched */
    }
    uint64_t ms;
    assert_int_equal(ledger_duration_parse(NULL, &ms), -1);
    assert_int_equal(ledger_duration_parse("584942417y", &ms), 0); /* just fits */
    /* milliseconds, for the block interval of test networks */
    assert_int_equal(ledger_duration_parse("200ms", &ms), 0);
    assert_int_equal(ms, 200);
    assert_int_equal(ledger_duration_parse("18446744073709551615ms", &ms), 0);
}

static void test_duration_format_picks_largest_exact_unit(void **state)
{
    (void)state;
    struct {
        uint64_t ms;
        const char *s;
    } cases[] = {
        {0, "0s"},           {1, "1ms"},         {1500, "1500ms"},   {1000, "1s"},
        {90000, "90s"},      {60000, "1m"},      {3600000, "1h"},    {5400000, "90m"},
        {DAY, "1d"},         {90 * DAY, "90d"},  {365 * DAY, "1y"},  {366 * DAY, "366d"},
        {730 * DAY, "2y"},   {UINT64_MAX, "18446744073709551615ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[24];
        memset(out, 'x', sizeof out);
        ledger_duration_format(cases[i].ms, out, sizeof out);
        assert_string_equal(out, cases[i].s);
    }
    /* truncates safely */
    char small[4];
    ledger_duration_format(90 * DAY, small, sizeof small);
    assert_string_equal(small, "90d");
    ledger_duration_format(1500, small, sizeof small);
    assert_string_equal(small, "150");
}

static void test_duration_format_and_parse_round_trip(void **state)
{
    (void)state;
    const char *s[] = {"1s", "59s", "1m", "61m", "1h", "25h", "1d", "364d", "1y", "100y",
                       "18446744073709551s", "200ms", "1500ms"};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        uint64_t ms;
        char out[24];
        assert_int_equal(ledger_duration_parse(s[i], &ms), 0);
        ledger_duration_format(ms, out, sizeof out);
        assert_string_equal(out, s[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_accepts_well_formed_text),
        cmocka_unit_test(test_utf8_refuses_overlong_forms),
        cmocka_unit_test(test_utf8_refuses_surrogates_and_out_of_range),
        cmocka_unit_test(test_utf8_refuses_truncated_and_stray_bytes),
        cmocka_unit_test(test_utf8_refuses_control_characters),
        cmocka_unit_test(test_utf8_multiline_allows_tab_and_lf_only),
        cmocka_unit_test(test_utf8_agrees_with_reference_on_all_short_sequences),
        cmocka_unit_test(test_uscc_accepts_the_standard_example),
        cmocka_unit_test(test_uscc_accepts_codes_with_correct_check_character),
        cmocka_unit_test(test_uscc_detects_every_single_character_change),
        cmocka_unit_test(test_uscc_refuses_lowercase),
        cmocka_unit_test(test_uscc_refuses_wrong_length),
        cmocka_unit_test(test_uscc_refuses_letters_outside_the_alphabet),
        cmocka_unit_test(test_region_codes),
        cmocka_unit_test(test_division_codes),
        cmocka_unit_test(test_division_in_region),
        cmocka_unit_test(test_duration_parses_each_unit),
        cmocka_unit_test(test_duration_refuses_malformed_strings),
        cmocka_unit_test(test_duration_format_picks_largest_exact_unit),
        cmocka_unit_test(test_duration_format_and_parse_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
