#include "hex.h"

#include <string.h>

static const char hexdig[] = "0123456789abcdef";

void ledger_hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ledger_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                      size_t *outlen)
{
    if (slen % 2 != 0 || slen / 2 > cap)
        return -1;
    for (size_t i = 0; i < slen / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *outlen = slen / 2;
    return 0;
}

int ledger_hex_decode_exact(const char *s, uint8_t *out, size_t n)
{
    size_t got;
    if (s == NULL || strlen(s) != 2 * n)
        return -1;
    if (ledger_hex_decode(s, 2 * n, out, n, &got) != 0)
        return -1;
    return got == n ? 0 : -1;
}

static const char b64dig[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ledger_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void ledger_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64dig[v >> 18];
        out[o++] = b64dig[(v >> 12) & 63];
        out[o++] = b64dig[(v >> 6) & 63];
        out[o++] = b64dig[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64dig[v >> 18];
        out[o++] = b64dig[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64dig[v >> 18];
        out[o++] = b64dig[(v >> 12) & 63];
        out[o++] = b64dig[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int ledger_b64_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                      size_t *outlen)
{
    if (slen % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < slen; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=') {
                /* padding only in the last quantum, only at its end */
                if (i + 4 != slen || k < 2)
                    return -1;
                pad++;
                v[k] = 0;
            } else {
                if (pad)
                    return -1;
                v[k] = b64val(s[i + k]);
                if (v[k] < 0)
                    return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t nbytes = 3 - (size_t)pad;
        if (o + nbytes > cap)
            return -1;
        /* the unused bits of a padded quantum must be zero (canonical) */
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return -1;
        out[o++] = (uint8_t)(w >> 16);
        if (nbytes > 1)
            out[o++] = (uint8_t)(w >> 8);
        if (nbytes > 2)
            out[o++] = (uint8_t)w;
    }
    *outlen = o;
    return 0;
}
