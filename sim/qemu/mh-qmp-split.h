/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Splitting QMP input into top-level JSON values, as QEMU's JSON streamer
 * does, rather than into lines: "{...} {...}" on one line is two
 * commands, each handled (and intercepted) on its own, and one command may
 * span lines. QEMU's limits hold: a value larger than 64 MiB or nested
 * deeper than 1024 is refused with an error and dropped (QEMU resets its
 * parser there; this splitter skips to the end of the value, so one error
 * is reported rather than one per stray character). A bare word that
 * cannot become true, false, null or a number is refused at once.
 *
 * The scan is incremental: each byte is looked at once, however the
 * input arrives. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#define MH_QMP_SPLIT_MAX_VALUE (64u << 20)
#define MH_QMP_SPLIT_MAX_DEPTH 1024

typedef struct {
    size_t scanned;             /* bytes of the buffer looked at */
    size_t start;               /* where the current value began */
    guint depth;
    bool in_value;
    bool in_string;
    bool escape;
    bool skipping;              /* dropping an oversized value */
    bool skip_word;             /* dropping the rest of a refused bare word */
    char word[8];               /* the bare word being read */
    guint word_len;
} MhQmpSplitter;

typedef enum {
    MH_QMP_SPLIT_MORE,          /* need more input */
    MH_QMP_SPLIT_VALUE,         /* buf[*start, *end) is one value */
    MH_QMP_SPLIT_ERROR,         /* *error says why (for "JSON parse error, ..."); buf[0, *end) is dropped */
} MhQmpSplitResult;

/* Scan 'buf' (the whole unconsumed input, 'len' bytes) from where the
 * last call stopped. After VALUE or ERROR the caller drops buf[0, *end)
 * and calls mhQmpSplitConsumed(*end); after MORE it may drop
 * buf[0, *end) (whitespace between values) the same way. */
MhQmpSplitResult mhQmpSplitNext(MhQmpSplitter *s, const char *buf, size_t len,
                                size_t *start, size_t *end, const char **error);
void mhQmpSplitConsumed(MhQmpSplitter *s, size_t n);
