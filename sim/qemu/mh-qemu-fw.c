/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* OVMF GUIDed table, see mh-qemu-fw.h. */
#include "sim/qemu/mh-qemu-fw.h"

#include <string.h>

bool
mhQemuFwGuidParse(const char *text, uint8_t out[16])
{
    /* Field widths of the text form; the first three fields are stored
     * little-endian, the last two as bytes. */
    static const int widths[] = { 8, 4, 4, 4, 12 };
    const char *p = text;
    int pos = 0;

    for (int f = 0; f < 5; f++) {
        uint8_t bytes[6];
        int n = widths[f] / 2;

        for (int i = 0; i < n; i++) {
            int hi = g_ascii_xdigit_value(p[0]);
            int lo = hi >= 0 ? g_ascii_xdigit_value(p[1]) : -1;

            if (hi < 0 || lo < 0)
                return false;
            bytes[i] = hi << 4 | lo;
            p += 2;
        }
        if (f < 4 && *p++ != '-')
            return false;
        for (int i = 0; i < n; i++)
            out[pos++] = (f < 3) ? bytes[n - 1 - i] : bytes[i];
    }
    return *p == '\0';
}

static uint16_t
mhQemuFwLe16(const uint8_t *p)
{
    return p[0] | p[1] << 8;
}

bool
mhQemuFwTableFind(const uint8_t *image, size_t len, const char *guid,
                  const uint8_t **data, size_t *data_len)
{
    uint8_t footer[16], want[16];
    const uint8_t *ptr, *table;
    size_t tot;

    if (!mhQemuFwGuidParse(MH_QEMU_FW_TABLE_FOOTER_GUID, footer) ||
        !mhQemuFwGuidParse(guid, want) || len < 0x20 + 16 + 2)
        return false;
    /* The footer GUID ends 0x20 bytes before the end of the image. */
    ptr = image + len - 0x20 - 16;
    if (memcmp(ptr, footer, 16) != 0)
        return false;
    tot = mhQemuFwLe16(ptr - 2);
    /* The length covers the footer entry itself (GUID + u16). */
    if (tot < 18 || tot - 18 > (size_t)(ptr - 2 - image))
        return false;
    tot -= 18;
    table = ptr - 2 - tot;
    ptr = table + tot;
    while (ptr >= table + 18) {
        const uint8_t *eguid = ptr - 16;
        uint16_t elen = mhQemuFwLe16(ptr - 18);

        if (elen < 18 || elen > (size_t)(ptr - table))
            return false;
        if (memcmp(eguid, want, 16) == 0) {
            *data = ptr - elen;
            *data_len = elen - 18;
            return true;
        }
        ptr -= elen;
    }
    return false;
}

bool
mhQemuFwFindArea(const uint8_t *image, size_t len, const char *guid,
                 uint32_t *base, uint32_t *size)
{
    const uint8_t *data;
    size_t dlen;

    if (!mhQemuFwTableFind(image, len, guid, &data, &dlen) || dlen < 8)
        return false;
    *base = data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24;
    *size = data[4] | data[5] << 8 | data[6] << 16 | (uint32_t)data[7] << 24;
    return true;
}
