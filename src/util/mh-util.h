/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small helpers shared by every area: files, hex, secure buffers. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read a whole file; the error names the file. */
bool mhUtilReadFile(const char *path, char **contents, size_t *len, GError **error);

/* Write a file atomically (temporary file + rename) with the given mode.
 * Files that hold keys use mode 0600 and are never world-readable, not even
 * for the instant between creation and chmod. */
bool mhUtilWriteFile(const char *path, const void *data, size_t len, int mode, GError **error);
/* The same, but never replacing an existing 'path' (nor a symlink there):
 * created whole or not at all, atomically. */
bool mhUtilCreateFile(const char *path, const void *data, size_t len, int mode, GError **error);

/* Parse hex ("0x" prefix allowed) into exactly want_len bytes, or any
 * length when want_len is 0. 'what' names the value in the error. */
bool mhUtilParseHex(const char *what, const char *text, size_t want_len,
                    GBytes **out, GError **error);
char *mhUtilFormatHex(const void *data, size_t len);

/* Parse an unsigned integer (decimal or 0x-hex) bounded by max. */
bool mhUtilParseU64(const char *what, const char *text, uint64_t max,
                    uint64_t *out, GError **error);

/* The guest page: the unit of SEV's encryption, the MH's records, dirty
 * tracking and the domain feature's GPA alignment. */
#define MH_PAGE_SIZE 4096

/* GUIDs: text "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" <-> EFI byte order
 * (the first three groups little-endian), as in SEV secret tables and the
 * OVMF GUIDed table. */
#define MH_UTIL_GUID_SIZE 16
bool mhUtilGuidParse(const char *text, uint8_t out[MH_UTIL_GUID_SIZE], GError **error);
char *mhUtilGuidFormat(const uint8_t guid[MH_UTIL_GUID_SIZE]);

/* Cryptographically strong random bytes (OpenSSL's DRBG). */
bool mhUtilRandom(void *buf, size_t len, GError **error);

/* Decode base64 strictly (no garbage tolerated, as g_base64_decode does). */
bool mhUtilDecodeBase64(const char *what, const char *text, GBytes **out, GError **error);

/* A buffer whose contents are wiped with OPENSSL_cleanse on free. */
typedef struct {
    size_t len;
    unsigned char *data;
} MhSecret;

MhSecret *mhSecretNew(size_t len);
MhSecret *mhSecretNewFrom(const void *data, size_t len);
void mhSecretFree(MhSecret *secret);
/* A whole file (key material) into a secret; the read buffer is wiped. */
MhSecret *mhSecretLoad(const char *path, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhSecret, mhSecretFree)

/* Wipe memory that held key material. */
void mhUtilWipe(void *data, size_t len);

/* Little-endian fields of the wire formats (SEV packets, MH records and
 * mailboxes): byte by byte, so alignment and host order never matter. */
static inline void
mhUtilPutLE16(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static inline void
mhUtilPutLE32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = v >> (8 * i);
}

static inline void
mhUtilPutLE64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = v >> (8 * i);
}

static inline uint16_t
mhUtilGetLE16(const uint8_t *p)
{
    return p[0] | (uint16_t)p[1] << 8;
}

static inline uint32_t
mhUtilGetLE32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
mhUtilGetLE64(const uint8_t *p)
{
    return mhUtilGetLE32(p) | (uint64_t)mhUtilGetLE32(p + 4) << 32;
}
