/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QEMU's option syntaxes as they appear on a command line: QemuOpts
 * key=value lists ("socket,id=x,path=/a,,b", commas in values doubled,
 * an optional implied first key) and JSON objects ("{"qom-type":...}"). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *key;
    char *value;        /* NULL for a bare flag ("server") */
} MhQemuOpt;

typedef struct _MhQemuOpts MhQemuOpts;

/* The items of "a,b=c,,d" split at single commas, ",," read as a literal
 * comma ("a", "b=c,d"); empty items are kept. The syntax's one splitter,
 * for mhQemuOptsParse and for conf/mh-conf-qemu.c. */
GPtrArray *mhQemuOptsSplit(const char *str);
/* Append text with its commas doubled: the inverse of mhQemuOptsSplit. */
void mhQemuOptsAppendEscaped(GString *out, const char *text);

/* Parse "a,b=c,d=e,,f". The first item without '=' becomes the value of
 * 'implied_key' (when not NULL), like QEMU's "-object TYPE,..." or
 * "-machine TYPE,...". */
MhQemuOpts *mhQemuOptsParse(const char *str, const char *implied_key, GError **error);
void mhQemuOptsFree(MhQemuOpts *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhQemuOpts, mhQemuOptsFree)

/* Last value of key (NULL if absent or a bare flag). */
const char *mhQemuOptsGet(const MhQemuOpts *opts, const char *key);
bool mhQemuOptsHas(const MhQemuOpts *opts, const char *key);
/* Replace every occurrence (or append). */
void mhQemuOptsSet(MhQemuOpts *opts, const char *key, const char *value);
/* Remove every occurrence; returns how many were removed. */
unsigned int mhQemuOptsRemove(MhQemuOpts *opts, const char *key);
size_t mhQemuOptsCount(const MhQemuOpts *opts);
const MhQemuOpt *mhQemuOptsAt(const MhQemuOpts *opts, size_t i);
/* Back to text, keys in their original order, the implied key written
 * bare first when 'implied_key' is given. */
char *mhQemuOptsFormat(const MhQemuOpts *opts, const char *implied_key);

/* QEMU's boolean spellings: on/off, yes/no, true/false. */
bool mhQemuParseBool(const char *what, const char *text, bool *out, GError **error);
/* Sizes as QEMU reads them: a number with an optional suffix (B, K, M,
 * G, T; binary multiples); 'default_unit' applies without suffix (1 for
 * object sizes, 1 MiB for -m). */
bool mhQemuParseSize(const char *what, const char *text, uint64_t default_unit,
                     uint64_t *out, GError **error);

/* An "-object"/"-blockdev" value in either syntax, as a JSON object
 * (QemuOpts values become strings; dotted keys stay flat). */
JsonObject *mhQemuOptionToJson(const char *value, const char *implied_key, GError **error);
/* Helpers that accept a JSON member written as a number or as a string
 * (the key=value syntax only has strings). */
bool mhQemuJsonGetUInt(JsonObject *obj, const char *key, uint64_t max, bool *present,
                       uint64_t *out, GError **error);
bool mhQemuJsonGetBool(JsonObject *obj, const char *key, bool *present, bool *out,
                       GError **error);
/* String member or NULL. */
const char *mhQemuJsonGetString(JsonObject *obj, const char *key);
char *mhQemuJsonFormat(JsonObject *obj);
