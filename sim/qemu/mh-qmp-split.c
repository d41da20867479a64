/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Top-level JSON values out of a byte stream; see mh-qmp-split.h. */
#include "sim/qemu/mh-qmp-split.h"

#include <string.h>

/* Whether 'word' can still become a JSON keyword or number. */
static bool
mhQmpSplitWordOk(const char *word, guint len)
{
    static const char *const keywords[] = { "true", "false", "null" };

    if (g_ascii_isdigit(word[0]) || word[0] == '-') {
        for (guint i = 0; i < len; i++) {
            if (!g_ascii_isdigit(word[i]) && !strchr("-+.eE", word[i]))
                return false;
        }
        return true;
    }
    for (size_t k = 0; k < G_N_ELEMENTS(keywords); k++) {
        if (len <= strlen(keywords[k]) && strncmp(word, keywords[k], len) == 0)
            return true;
    }
    return false;
}

static void
mhQmpSplitReset(MhQmpSplitter *s)
{
    s->depth = 0;
    s->in_value = s->in_string = s->escape = s->skipping = false;
    s->word_len = 0;
}

void
mhQmpSplitConsumed(MhQmpSplitter *s, size_t n)
{
    s->scanned -= MIN(n, s->scanned);
    s->start -= MIN(n, s->start);
}

/* One byte outside a string, while skipping a dropped value: only the
 * nesting matters. */
static void
mhQmpSplitSkip(MhQmpSplitter *s, char c)
{
    if (c == '"')
        s->in_string = true;
    else if (c == '{' || c == '[')
        s->depth++;
    else if ((c == '}' || c == ']') && s->depth > 0 && --s->depth == 0)
        mhQmpSplitReset(s);
    else if (s->depth == 0 && g_ascii_isspace(c))
        mhQmpSplitReset(s);     /* the end of an oversized bare word */
}

MhQmpSplitResult
mhQmpSplitNext(MhQmpSplitter *s, const char *buf, size_t len, size_t *start, size_t *end,
               const char **error)
{
    bool word_error = false;

    for (; s->scanned < len; s->scanned++) {
        char c = buf[s->scanned];
        bool word_char = g_ascii_isalnum(c) || c == '-' || c == '+' || c == '.';

        if (s->skip_word) {
            /* The rest of a refused bare word, which was one error. */
            if (word_char)
                continue;
            s->skip_word = false;
        }
        /* A bare top-level word (a number, true...) ends before the first
         * character that is not part of it, whichever read brings it. */
        if (s->in_value && s->depth == 0 && !s->in_string && !s->skipping &&
            s->word_len > 0 && !word_char) {
            *start = s->start;
            *end = s->scanned;
            mhQmpSplitReset(s);
            return MH_QMP_SPLIT_VALUE;
        }
        if (!s->in_value) {
            if (g_ascii_isspace(c))
                continue;
            s->in_value = true;
            s->start = s->scanned;
        }
        if (s->in_string) {
            if (s->escape)
                s->escape = false;
            else if (c == '\\')
                s->escape = true;
            else if (c == '"') {
                s->in_string = false;
                if (s->depth == 0 && !s->skipping)
                    goto value_done;
            }
            continue;
        }
        if (s->skipping) {
            mhQmpSplitSkip(s, c);
            continue;
        }
        if (word_char) {
            if (s->word_len < sizeof(s->word))
                s->word[s->word_len] = c;
            s->word_len++;
            if (!mhQmpSplitWordOk(s->word, MIN(s->word_len, sizeof(s->word))) ||
                (s->word_len > sizeof(s->word) && !g_ascii_isdigit(s->word[0]) &&
                 s->word[0] != '-')) {
                *error = "invalid keyword";
                word_error = true;
                goto bad;
            }
        } else {
            s->word_len = 0;
            if (c == '"') {
                s->in_string = true;
            } else if (c == '{' || c == '[') {
                if (++s->depth > MH_QMP_SPLIT_MAX_DEPTH) {
                    *error = "nesting depth limit exceeded";
                    goto drop;
                }
            } else if (c == '}' || c == ']') {
                /* At the top level a stray one is a value of its own. */
                if (s->depth == 0 || --s->depth == 0)
                    goto value_done;
            } else if (s->depth == 0 && !g_ascii_isspace(c)) {
                goto value_done;        /* ':' or ',' at the top level */
            } else if (!g_ascii_isspace(c) && c != ':' && c != ',') {
                *error = "stray character";
                goto bad;
            }
        }
        if (s->scanned + 1 - s->start > MH_QMP_SPLIT_MAX_VALUE) {
            *error = "value size limit exceeded";
            goto drop;
        }
        continue;

 value_done:
        *start = s->start;
        *end = ++s->scanned;
        mhQmpSplitReset(s);
        return MH_QMP_SPLIT_VALUE;
    }
    /* What can go now: whitespace between values, or a dropped value's
     * bytes so far. */
    *end = s->in_value && !s->skipping ? s->start : len;
    return MH_QMP_SPLIT_MORE;

 drop:
    /* The rest of this value is skipped as it arrives, nothing kept. */
    s->skipping = true;
    *end = ++s->scanned;
    return MH_QMP_SPLIT_ERROR;

 bad:
    /* The value so far is dropped; what follows is read afresh, as QEMU's
     * parser starts over after an error. */
    *end = ++s->scanned;
    mhQmpSplitReset(s);
    s->skip_word = word_error;
    return MH_QMP_SPLIT_ERROR;
}
