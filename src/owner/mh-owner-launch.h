/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The guest owner's one flow for a paused SEV launch: read what the
 * platform reports (API version, build, policy, measurement), verify the
 * measurement against the launch digest the owner expects, seal the
 * secret table for exactly that launch, inject it. Nothing reaches the
 * guest unless the measurement verified.
 *
 * The launch is reached through a back end: QMP on the owner's monitor
 * (mh-owner-qmp.h, for an incoming migration target, whose libvirt job
 * refuses API calls until Finish) or libvirt (virt/mh-virt-launch.h).
 * "virt-mh owner inject", the demo, and later the hook and the broker use
 * this one flow. */
#pragma once

#include "owner/mh-sev-crypto.h"
#include "util/mh-util.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    MhSevBuild build;
    uint32_t policy;
    uint8_t measurement[MH_SEV_MEASUREMENT_SIZE];   /* MAC || MNONCE */
} MhOwnerLaunchReport;

typedef struct {
    /* Read the report of a launch waiting for its secret. */
    bool (*report)(gpointer data, MhOwnerLaunchReport *report, GError **error);
    /* Inject a sealed packet (base64 header and secret); 'gpa' NULL: where
     * the platform puts it by default. */
    bool (*inject)(gpointer data, const char *header_b64, const char *secret_b64,
                   const uint64_t *gpa, GError **error);
} MhOwnerLaunchOps;

typedef struct {
    const MhOwnerLaunchOps *ops;
    gpointer data;
} MhOwnerLaunch;

/* libvirt's and QEMU's measurement: base64 of exactly 48 bytes. */
bool mhOwnerParseMeasurement(const char *text, uint8_t out[MH_SEV_MEASUREMENT_SIZE],
                             GError **error);

/* Attest and inject: report, check the policy when 'want_policy' is not
 * NULL, verify the measurement against 'digest' under the launch's TIK,
 * seal 'table' under its TEK, inject (at 'gpa' when not NULL). On success
 * *report (may be NULL) holds what was verified and *packet_len (may be
 * NULL) the sealed secret's size. */
bool mhOwnerAttestInject(const MhOwnerLaunch *launch, const MhSecret *tk,
                         const uint8_t digest[MH_SEV_DIGEST_SIZE], const uint32_t *want_policy,
                         const MhSecret *table, const uint64_t *gpa,
                         MhOwnerLaunchReport *report, size_t *packet_len, GError **error);
