/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OVMF firmware image as QEMU reads it for SEV: the GUIDed table at
 * the end of the reset vector ("footer" GUID 96b582de-... at 0x30 bytes
 * before the end of the image, preceded by the table length), whose
 * entries are data || u16 length || GUID, walked backwards. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MH_QEMU_FW_TABLE_FOOTER_GUID "96b582de-1fb2-45f7-baea-a366c55a082d"
#define MH_QEMU_FW_SEV_SECRET_GUID "4c2eb361-7d9b-4cc3-8081-127c90d3d294"
#define MH_QEMU_FW_SEV_HASH_TABLE_GUID "7255371f-3a3b-4b04-927b-1da6efa8d454"

/* GUID text -> EFI (little-endian) bytes. */
bool mhQemuFwGuidParse(const char *text, uint8_t out[16]);

/* Find an entry's data in the table; false when the image has no table
 * or no such entry. 'data' points into 'image'. */
bool mhQemuFwTableFind(const uint8_t *image, size_t len, const char *guid,
                       const uint8_t **data, size_t *data_len);

/* A {u32 base; u32 size} entry (secret area, hashes table area). */
bool mhQemuFwFindArea(const uint8_t *image, size_t len, const char *guid,
                      uint32_t *base, uint32_t *size);
