/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util/mh-util.h"
#include "util/mh-enum.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <locale.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

void
mhI18nInit(void)
{
    const char *dir = g_getenv("MH_LOCALEDIR");

    setlocale(LC_ALL, "");
    /* $MH_LOCALEDIR: the build tree's catalogs, for tests. */
    bindtextdomain(GETTEXT_PACKAGE, dir && *dir ? dir : MH_LOCALEDIR);
    bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
}

bool
mhUtilReadFile(const char *path, char **contents, size_t *len, GError **error)
{
    g_autoptr(GError) local = NULL;
    gsize n = 0;

    if (!g_file_get_contents(path, contents, &n, &local)) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot read file '%s': %s"), path, local->message);
        return false;
    }
    if (len)
        *len = n;
    return true;
}

/* Write to a temporary file next to 'path', then rename it over 'path', or
 * (exclusive) link it there, which fails atomically when 'path' exists. */
static bool
mhUtilWriteFileFull(const char *path, const void *data, size_t len, int mode, bool exclusive,
                    GError **error)
{
    g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
    const unsigned char *p = data;
    int fd;

    fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, mode);
    if (fd < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot create file '%s': %s"), path, g_strerror(errno));
        return false;
    }
    /* mkstemp applies the umask; make the mode exact. */
    if (fchmod(fd, mode) < 0)
        goto fail;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        p += w;
        len -= w;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (exclusive) {
        if (link(tmp, path) < 0) {
            int saved = errno;

            unlink(tmp);
            g_set_error(error, MH_ERROR, MH_ERROR_IO, saved == EEXIST ?
                        _("'%s' already exists; not overwriting it") :
                        _("cannot create file '%s': %s"), path, g_strerror(saved));
            return false;
        }
        unlink(tmp);
        return true;
    }
    if (rename(tmp, path) < 0)
        goto fail;
    return true;

 fail:
    g_set_error(error, MH_ERROR, MH_ERROR_IO,
                _("cannot write file '%s': %s"), path, g_strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return false;
}

bool
mhUtilWriteFile(const char *path, const void *data, size_t len, int mode, GError **error)
{
    return mhUtilWriteFileFull(path, data, len, mode, false, error);
}

bool
mhUtilCreateFile(const char *path, const void *data, size_t len, int mode, GError **error)
{
    return mhUtilWriteFileFull(path, data, len, mode, true, error);
}

bool
mhUtilParseHex(const char *what, const char *text, size_t want_len,
               GBytes **out, GError **error)
{
    const char *p = text;
    size_t n;
    g_autofree unsigned char *buf = NULL;

    if (g_str_has_prefix(p, "0x") || g_str_has_prefix(p, "0X"))
        p += 2;
    n = strlen(p);
    if (n == 0 || n % 2 != 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("%s: '%s' is not a hex string of whole bytes"), what, text);
        return false;
    }
    if (want_len && n / 2 != want_len) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("%s: expected %zu bytes of hex, got %zu"), what, want_len, n / 2);
        return false;
    }
    buf = g_malloc(n / 2);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = g_ascii_xdigit_value(p[2 * i]);
        int lo = g_ascii_xdigit_value(p[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("%s: '%s' is not a hex string"), what, text);
            return false;
        }
        buf[i] = (hi << 4) | lo;
    }
    *out = g_bytes_new_take(g_steal_pointer(&buf), n / 2);
    return true;
}

char *
mhUtilFormatHex(const void *data, size_t len)
{
    const unsigned char *p = data;
    char *s = g_malloc(len * 2 + 1);

    for (size_t i = 0; i < len; i++)
        g_snprintf(s + 2 * i, 3, "%02x", p[i]);
    s[len * 2] = '\0';
    return s;
}

bool
mhUtilParseU64(const char *what, const char *text, uint64_t max,
               uint64_t *out, GError **error)
{
    guint64 v = 0;
    g_autoptr(GError) local = NULL;
    const char *p = text;
    unsigned base = 10;

    if (g_str_has_prefix(p, "0x") || g_str_has_prefix(p, "0X")) {
        p += 2;
        base = 16;
    }
    if (!*p || !g_ascii_string_to_unsigned(p, base, 0, max, &v, &local)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("%s: '%s' is not a number between 0 and %" PRIu64),
                    what, text, max);
        return false;
    }
    *out = v;
    return true;
}

bool
mhUtilDecodeBase64(const char *what, const char *text, GBytes **out, GError **error)
{
    g_autofree char *clean = g_strdup(text);
    gsize n = 0;
    unsigned char *buf;
    size_t len;

    g_strstrip(clean);
    len = strlen(clean);
    if (len == 0 || len % 4 != 0)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        char c = clean[i];
        if (!(g_ascii_isalnum(c) || c == '+' || c == '/' ||
              (c == '=' && i >= len - 2)))
            goto bad;
        if (c == '=' && i == len - 2 && clean[len - 1] != '=')
            goto bad;
    }
    buf = g_base64_decode(clean, &n);
    *out = g_bytes_new_take(buf, n);
    return true;

 bad:
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("%s: not valid base64"), what);
    return false;
}

MhSecret *
mhSecretNew(size_t len)
{
    MhSecret *s = g_new0(MhSecret, 1);

    s->len = len;
    s->data = g_malloc0(len ? len : 1);
    return s;
}

MhSecret *
mhSecretNewFrom(const void *data, size_t len)
{
    MhSecret *s = mhSecretNew(len);

    memcpy(s->data, data, len);
    return s;
}

void
mhSecretFree(MhSecret *secret)
{
    if (!secret)
        return;
    OPENSSL_cleanse(secret->data, secret->len);
    g_free(secret->data);
    g_free(secret);
}

MhSecret *
mhSecretLoad(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    size_t len = 0;
    MhSecret *secret;

    if (!mhUtilReadFile(path, &data, &len, error))
        return NULL;
    secret = mhSecretNewFrom(data, len);
    mhUtilWipe(data, len);
    return secret;
}

void
mhUtilWipe(void *data, size_t len)
{
    if (data && len)
        OPENSSL_cleanse(data, len);
}

bool
mhUtilGuidParse(const char *text, uint8_t out[MH_UTIL_GUID_SIZE], GError **error)
{
    /* Positions of the 16 bytes in the text, in EFI order: the first
     * three groups are little-endian integers, the rest plain bytes. */
    static const int pos[MH_UTIL_GUID_SIZE] = {
        6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34
    };

    if (strlen(text) != 36 || text[8] != '-' || text[13] != '-' ||
        text[18] != '-' || text[23] != '-')
        goto bad;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            continue;
        if (!g_ascii_isxdigit(text[i]))
            goto bad;
    }
    for (size_t i = 0; i < MH_UTIL_GUID_SIZE; i++)
        out[i] = (g_ascii_xdigit_value(text[pos[i]]) << 4) |
                 g_ascii_xdigit_value(text[pos[i] + 1]);
    return true;

 bad:
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("'%s' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"), text);
    return false;
}

char *
mhUtilGuidFormat(const uint8_t g[MH_UTIL_GUID_SIZE])
{
    return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                           "%02x%02x%02x%02x%02x%02x",
                           g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6],
                           g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

bool
mhUtilRandom(void *buf, size_t len, GError **error)
{
    if (RAND_bytes(buf, len) != 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_CRYPTO, _("random number generation failed"));
        return false;
    }
    return true;
}

const char *
mhEnumToString(const char *const *names, unsigned int count, int value)
{
    if (value < 0 || (unsigned int)value >= count)
        return NULL;
    return names[value];
}

int
mhEnumFromString(const char *const *names, unsigned int count, const char *name)
{
    if (!name)
        return -1;
    for (unsigned int i = 0; i < count; i++) {
        if (names[i] && strcmp(names[i], name) == 0)
            return (int)i;
    }
    return -1;
}
