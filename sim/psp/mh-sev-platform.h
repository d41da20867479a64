/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The platform (PSP) side of SEV launch, for qemu-mh's SEV platform model:
 * a simulated platform identity stored in a state directory, and per-guest
 * launch contexts that follow the PSP's state machine (AMD SEV API
 * LAUNCH_START / UPDATE_DATA / MEASURE / SECRET / FINISH). */
#pragma once

#include "util/mh-enum.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "owner/mh-sev-cert.h"
#include "owner/mh-sev-crypto.h"

typedef struct _MhSevPlatform MhSevPlatform;
typedef struct _MhSevLaunch MhSevLaunch;

/* Guest states, with the names QEMU's query-sev reports. */
typedef enum {
    MH_SEV_STATE_UNINIT,
    MH_SEV_STATE_LAUNCH_UPDATE,
    MH_SEV_STATE_LAUNCH_SECRET,
    MH_SEV_STATE_RUNNING,
    MH_SEV_STATE_SEND_UPDATE,
    MH_SEV_STATE_RECEIVE_UPDATE,
    MH_SEV_STATE_LAST
} MhSevState;

MH_ENUM_DECL(mhSevState);

/* Load the platform identity from statedir, creating it on first use:
 * OCA (self-signed), PEK (signed by OCA and CEK), CEK (self-signed, since
 * the AMD ASK that signs a real CEK is not ours), PDH (signed by PEK).
 * Private keys are PEM files of mode 0600, certificates raw SEV format;
 * statedir is created 0700 if missing. API version 0.24, build 15 unless
 * the state directory says otherwise ("version" file: "MAJOR MINOR BUILD"). */
MhSevPlatform *mhSevPlatformLoadOrCreate(const char *statedir, GError **error);
void mhSevPlatformFree(MhSevPlatform *platform);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhSevPlatform, mhSevPlatformFree)

MhSevBuild mhSevPlatformGetBuild(const MhSevPlatform *platform);
/* The PDH certificate (MH_SEV_CERT_SIZE bytes). */
GBytes *mhSevPlatformGetPdh(const MhSevPlatform *platform);
/* PEK || OCA || CEK certificates, as query-sev-capabilities' cert-chain. */
GBytes *mhSevPlatformGetCertChain(const MhSevPlatform *platform);
/* Base64 forms of the above, ready for QMP / nodesevinfo. */
char *mhSevPlatformGetPdhBase64(const MhSevPlatform *platform);
char *mhSevPlatformGetCertChainBase64(const MhSevPlatform *platform);
/* 64-byte chip id, base64 (stable per state directory). */
char *mhSevPlatformGetCpu0IdBase64(const MhSevPlatform *platform);

/* LAUNCH_START. Without godh/session (both NULL) the platform picks a
 * random TEK/TIK, as the PSP does when the guest owner gives no session.
 * With both: ECDH(PDH private, GODH), KDF, check wrap MAC, unwrap, check
 * policy MAC; MH_ERROR_AUTH (and no context) on any mismatch. godh and
 * session are the raw bytes (0x824 and 128), i.e. base64-decoded
 * dh-cert-file / session-file contents. */
MhSevLaunch *mhSevLaunchStart(MhSevPlatform *platform, uint32_t policy,
                              GBytes *godh, GBytes *session, GError **error);
void mhSevLaunchFree(MhSevLaunch *launch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhSevLaunch, mhSevLaunchFree)

MhSevState mhSevLaunchGetState(const MhSevLaunch *launch);
uint32_t mhSevLaunchGetPolicy(const MhSevLaunch *launch);
/* Arbitrary non-zero guest handle, as query-sev's "handle". */
uint32_t mhSevLaunchGetHandle(const MhSevLaunch *launch);
MhSevBuild mhSevLaunchGetBuild(const MhSevLaunch *launch);

/* LAUNCH_UPDATE_DATA: extend the launch digest (firmware image, then the
 * kernel-hashes table when enabled). Only in state launch-update. */
bool mhSevLaunchUpdateData(MhSevLaunch *launch, const void *data, size_t len,
                           GError **error);
/* LAUNCH_MEASURE: MAC || MNONCE with a fresh MNONCE. Allowed once, in
 * launch-update; moves to launch-secret. */
bool mhSevLaunchMeasure(MhSevLaunch *launch, uint8_t out[MH_SEV_MEASUREMENT_SIZE],
                        GError **error);
/* The measurement already taken (for query-sev-launch-measure repeats);
 * false if none yet. */
bool mhSevLaunchGetMeasurement(const MhSevLaunch *launch,
                               uint8_t out[MH_SEV_MEASUREMENT_SIZE]);
/* LAUNCH_SECRET: header (52 bytes) and ciphertext; checks the header MAC
 * against this launch's measurement, decrypts with TEK. Only in state
 * launch-secret. May be called more than once, as on the PSP. */
bool mhSevLaunchSecret(MhSevLaunch *launch, GBytes *header, GBytes *ciphertext,
                       GBytes **plaintext, GError **error);
/* LAUNCH_FINISH: launch-update or launch-secret -> running. */
bool mhSevLaunchFinish(MhSevLaunch *launch, GError **error);
/* The launch digest so far (SHA-256 of everything measured). */
bool mhSevLaunchGetDigest(const MhSevLaunch *launch, uint8_t out[MH_SEV_DIGEST_SIZE],
                          GError **error);
