/* ledger/text.h: validation of the small textual values the ledger accepts:
 * UTF-8 strings, USCC codes, administrative division codes, durations. */
#ifndef PERMIT_LEDGER_TEXT_H
#define PERMIT_LEDGER_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* 1 when s[0..len) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence) and contains no control
 * character at all: not U+0000..U+001F (so no NUL, TAB, CR or LF), U+007F or
 * U+0080..U+009F.  Text fields are single-line.  The empty string is valid;
 * s may be NULL only when len is 0. */
int ledger_utf8_valid(const char *s, size_t len);

/* Same, but TAB and LF are allowed (multi-line free text: scope, reasons);
 * CR is still refused, so line ends are LF only. */
int ledger_utf8_valid_multiline(const char *s, size_t len);

/* Unified social credit code (GB 32100-2015): exactly 18 characters of
 * 0123456789ABCDEFGHJKLMNPQRTUWXY, the last one the check character
 * (31 - sum(value_i * 3^i mod 31) mod 31) mod 31 over i = 0..16.
 * Lower-case letters are refused, not folded.  s may be NULL (refused).
 * Returns 0 when valid; otherwise -1 with err (code LEDGER_ERR_RULE, rule
 * "uscc_invalid") saying whether the length, a character (with its 1-based
 * position) or the check character ("check character is X, expected Y") is
 * wrong. */
int ledger_uscc_check(const char *s, ledger_err *err) LEDGER_WUR;

/* A 6-digit region code (the chain's jurisdiction): 6 ASCII digits, not all
 * zero.  1 valid, 0 not (also for NULL). */
int ledger_region_valid(const char *s);

/* An address division code: 6, 9 or 12 ASCII digits (county, township and
 * village levels of the national code).  1 valid, 0 not (also for NULL). */
int ledger_division_valid(const char *s);

/* 1 when division code `div` lies inside region `region`: trailing "00"
 * pairs of the region stand for "any" (320400 covers 3204xx, 320000 covers
 * 32xxxx; the province pair is never dropped), and div must begin with what
 * remains.  0 when either code is invalid (ledger_region_valid,
 * ledger_division_valid). */
int ledger_division_in_region(const char *region, const char *div);

/* Parse a duration "<digits><unit>" with unit ms, s, m, h, d or y (365 days)
 * into milliseconds, e.g. "90d", "3y", "20s", "200ms".  Refuses zero, leading
 * zeros ("07d"), missing or unknown units, signs, spaces and values whose
 * milliseconds overflow uint64.  Returns 0 (and sets *ms) or -1 (*ms
 * untouched). */
int ledger_duration_parse(const char *s, uint64_t *ms) LEDGER_WUR;

/* Format milliseconds as the shortest exact duration string: the largest of
 * y, d, h, m, s that divides ms exactly ("90d", "20s"), else "<n>ms"
 * ("1500ms", which ledger_duration_parse does not accept); 0 is "0s".
 * Writes a NUL-terminated string into out, truncated to outlen - 1 bytes;
 * outlen >= 24 always suffices. */
void ledger_duration_format(uint64_t ms, char *out, size_t outlen);

/* A calendar date and time of day. */
typedef struct {
    int year, month, day, hour, minute, second;
} ledger_date;

/* The date and time in China Standard Time (UTC+8, no daylight saving since
 * 1991) of a time in milliseconds since the epoch; proleptic Gregorian. */
void ledger_cst_date(uint64_t time_ms, ledger_date *out);

/* The same as text a person reads in an error: "2026-12-06 10:23:50 (UTC+8)"
 * (LEDGER_CST_TEXT bytes with the NUL). */
#define LEDGER_CST_TEXT 48
void ledger_cst_text(uint64_t time_ms, char out[LEDGER_CST_TEXT]);

#endif
