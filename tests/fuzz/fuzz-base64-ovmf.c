/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The small decoders every host-supplied value goes through (base64 of
 * certificates, sessions and packets; hex; numbers; GUIDs) and the OVMF
 * GUIDed table, where qemu-mh finds the SEV secret area it tells the PSP
 * to write the owner's secret into. Any input decodes or fails with an
 * error, never reads outside it. Oracles: what decodes encodes back to
 * the same bytes; the two GUID parsers agree; a table entry found lies
 * inside the image; and a table built from the input's entries yields,
 * for each GUID, exactly the entry nearest the footer (QEMU's answer). */
#include "sim/qemu/mh-qemu-fw.h"
#include "util/mh-util.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const guids[] = {
    MH_QEMU_FW_SEV_SECRET_GUID,
    MH_QEMU_FW_SEV_HASH_TABLE_GUID,
    "00f771de-1a7e-4fcb-890e-68c77e2fb44e",     /* OVMF's SEV-ES reset block */
    MH_QEMU_FW_TABLE_FOOTER_GUID,
};

static void
fail(const char *what, const char *text)
{
    /* abort(), not g_error()'s trap: libFuzzer saves the input then. */
    fprintf(stderr, "%s: '%s'\n", what, text);
    abort();
}

static void
needError(bool ok, GError *err, const char *text)
{
    if (!ok && (!err || !err->message))
        fail("refused without an error", text);
}

static void
checkBase64(const char *text)
{
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GBytes) again = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *b64 = NULL;
    bool ok = mhUtilDecodeBase64("value", text, &out, &err);

    needError(ok, err, text);
    if (!ok)
        return;
    b64 = g_base64_encode(g_bytes_get_data(out, NULL), g_bytes_get_size(out));
    if (!mhUtilDecodeBase64("value", b64, &again, NULL) || !g_bytes_equal(out, again))
        fail("decoded base64 does not encode back to the same bytes", text);
}

static void
checkHex(const char *text)
{
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GBytes) out16 = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *hex = NULL;
    g_autofree char *lower = NULL;
    bool ok = mhUtilParseHex("value", text, 0, &out, &err);

    needError(ok, err, text);
    g_clear_error(&err);
    if (mhUtilParseHex("value", text, 16, &out16, &err)) {
        if (g_bytes_get_size(out16) != 16)
            fail("hex of 16 bytes gave another length", text);
    } else {
        needError(false, err, text);
    }
    if (!ok)
        return;
    hex = mhUtilFormatHex(g_bytes_get_data(out, NULL), g_bytes_get_size(out));
    lower = g_ascii_strdown(text + (g_ascii_strncasecmp(text, "0x", 2) == 0 ? 2 : 0), -1);
    if (strcmp(hex, lower) != 0)
        fail("hex does not format back to itself", text);
}

static void
checkU64(const char *text)
{
    static const uint64_t max[] = { 0, 255, G_MAXUINT32, G_MAXUINT64 };

    for (size_t i = 0; i < G_N_ELEMENTS(max); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *back = NULL;
        uint64_t v = 0, w = 0;
        bool ok = mhUtilParseU64("value", text, max[i], &v, &err);

        needError(ok, err, text);
        if (!ok)
            continue;
        back = g_strdup_printf("%" PRIu64, v);
        if (v > max[i] || !mhUtilParseU64("value", back, max[i], &w, NULL) || w != v)
            fail("a number out of bounds or not parsed back", text);
    }
}

/* The product's GUID parser and qemu-mh's must agree on every string. */
static void
checkGuid(const char *text)
{
    uint8_t a[MH_UTIL_GUID_SIZE] = { 0 }, b[MH_UTIL_GUID_SIZE] = { 0 };
    g_autoptr(GError) err = NULL;
    bool ok = mhUtilGuidParse(text, a, &err);

    needError(ok, err, text);
    if (ok != mhQemuFwGuidParse(text, b) || (ok && memcmp(a, b, sizeof(a)) != 0))
        fail("the two GUID parsers disagree", text);
    if (ok) {
        g_autofree char *back = mhUtilGuidFormat(a);
        g_autofree char *lower = g_ascii_strdown(text, -1);

        if (strcmp(back, lower) != 0)
            fail("a GUID does not format back to itself", text);
    }
}

/* Any image: an entry found lies inside it, an area inside the entry. */
static void
checkImage(const uint8_t *image, size_t len)
{
    for (size_t i = 0; i < G_N_ELEMENTS(guids); i++) {
        const uint8_t *d = NULL;
        size_t dlen = 0;
        uint32_t base, asize;

        if (mhQemuFwTableFind(image, len, guids[i], &d, &dlen) &&
            (d < image || dlen > len || d - image > (ptrdiff_t)(len - dlen)))
            fail("a table entry outside the image", guids[i]);
        if (mhQemuFwFindArea(image, len, guids[i], &base, &asize) && dlen < 8)
            fail("an area from an entry of fewer than 8 bytes", guids[i]);
    }
}

/* An image with a well-formed table of the input's entries: per entry a
 * GUID selector (its top bit: a GUID one bit away) and a data length,
 * then the data. Each GUID must yield its entry nearest the footer (the
 * last one in the image). */
static void
checkBuiltTable(const uint8_t *data, size_t size)
{
    g_autoptr(GByteArray) img = g_byte_array_new();
    uint8_t guid[MH_UTIL_GUID_SIZE], rv[0x20] = { 0 };
    size_t want_off[G_N_ELEMENTS(guids)] = { 0 }, want_len[G_N_ELEMENTS(guids)] = { 0 };
    bool have[G_N_ELEMENTS(guids)] = { false };
    size_t pos = 0, start;
    uint16_t tot;

    g_byte_array_append(img, data, MIN(size, 3));       /* code before the table */
    pos = MIN(size, 3);
    start = img->len;
    while (pos + 2 <= size && img->len - start < 4000) {
        size_t g = data[pos] % (G_N_ELEMENTS(guids) - 1), n = data[pos + 1] % 40;
        uint16_t elen;

        n = MIN(n, size - pos - 2);
        elen = n + 18;
        g_assert(mhUtilGuidParse(guids[g], guid, NULL));
        if (data[pos] & 0x80) {         /* a GUID one bit away: not a match */
            guid[data[pos] >> 2 & 15] ^= 1 << (data[pos + 1] >> 5);
        } else {
            want_off[g] = img->len;
            want_len[g] = n;
            have[g] = true;
        }
        g_byte_array_append(img, data + pos + 2, n);
        pos += 2 + n;
        g_byte_array_append(img, (const uint8_t *)&elen, 2);    /* little-endian host */
        g_byte_array_append(img, guid, sizeof(guid));
    }
    tot = img->len - start + 18;
    g_byte_array_append(img, (const uint8_t *)&tot, 2);
    g_assert(mhUtilGuidParse(MH_QEMU_FW_TABLE_FOOTER_GUID, guid, NULL));
    g_byte_array_append(img, guid, sizeof(guid));
    g_byte_array_append(img, rv, sizeof(rv));
    for (size_t g = 0; g + 1 < G_N_ELEMENTS(guids); g++) {
        const uint8_t *d = NULL;
        size_t dlen = 0;
        bool found = mhQemuFwTableFind(img->data, img->len, guids[g], &d, &dlen);

        if (found != have[g] ||
            (found && (d != img->data + want_off[g] || dlen != want_len[g])))
            fail("the table does not yield the entry nearest the footer", guids[g]);
    }
    checkImage(img->data, img->len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = NULL;

    if (size < 1)
        return 0;
    text = g_strndup((const char *)data + 1, size - 1);
    switch (data[0] % 6) {
    case 0: checkBase64(text); break;
    case 1: checkHex(text); break;
    case 2: checkU64(text); break;
    case 3: checkGuid(text); break;
    case 4: checkImage(data + 1, size - 1); break;
    default: checkBuiltTable(data + 1, size - 1);
    }
    return 0;
}
