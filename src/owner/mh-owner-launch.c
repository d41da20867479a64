/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* attest -> seal -> inject; see mh-owner-launch.h. */
#include "owner/mh-owner-launch.h"
#include "owner/mh-sev-owner.h"
#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <string.h>

bool
mhOwnerParseMeasurement(const char *text, uint8_t out[MH_SEV_MEASUREMENT_SIZE], GError **error)
{
    g_autoptr(GBytes) raw = NULL;
    gsize len;
    const void *p;

    if (!mhUtilDecodeBase64(_("measurement"), text, &raw, error))
        return false;
    p = g_bytes_get_data(raw, &len);
    if (len != MH_SEV_MEASUREMENT_SIZE) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("measurement: expected %d bytes (MAC and MNONCE), got %zu"),
                    MH_SEV_MEASUREMENT_SIZE, (size_t)len);
        return false;
    }
    memcpy(out, p, MH_SEV_MEASUREMENT_SIZE);
    return true;
}

bool
mhOwnerAttestInject(const MhOwnerLaunch *launch, const MhSecret *tk,
                    const uint8_t digest[MH_SEV_DIGEST_SIZE], const uint32_t *want_policy,
                    const MhSecret *table, const uint64_t *gpa,
                    MhOwnerLaunchReport *report, size_t *packet_len, GError **error)
{
    MhOwnerLaunchReport r;
    uint8_t header[MH_SEV_PACKET_HEADER_SIZE];
    g_autoptr(GBytes) ciphertext = NULL;
    g_autofree char *header_b64 = NULL;
    g_autofree char *secret_b64 = NULL;
    const guchar *cp;
    gsize clen;

    if (!launch->ops->report(launch->data, &r, error))
        return false;
    if (want_policy && r.policy != *want_policy) {
        g_set_error(error, MH_ERROR, MH_ERROR_AUTH,
                    _("the platform launched the guest with policy 0x%04x, not 0x%04x"),
                    r.policy, *want_policy);
        return false;
    }
    if (!mhSevOwnerVerify(tk, &r.build, r.policy, digest, r.measurement,
                          sizeof(r.measurement), error) ||
        !mhSevOwnerSeal(tk, r.measurement, sizeof(r.measurement), table->data, table->len,
                        NULL, header, &ciphertext, error))
        return false;
    cp = g_bytes_get_data(ciphertext, &clen);
    header_b64 = g_base64_encode(header, sizeof(header));
    secret_b64 = g_base64_encode(cp, clen);
    if (!launch->ops->inject(launch->data, header_b64, secret_b64, gpa, error))
        return false;
    if (report)
        *report = r;
    if (packet_len)
        *packet_len = clen;
    return true;
}
