/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A platform's SEV identity as libvirt and QEMU hand it out: the PDH and
 * the chain PEK || OCA || CEK (virNodeGetSEVInfo, query-sev-capabilities,
 * "sevctl export"). Parsed and verified in one place, so that the owner
 * tool, the key broker and the hook accept exactly the same chains:
 * PDH <- PEK, PEK <- OCA (the platform owner) and PEK <- CEK (the chip;
 * on hardware CEK <- ASK <- ARK, AMD's roots, which the simulated
 * platform cannot have). */
#pragma once

#include "owner/mh-sev-cert.h"

typedef struct {
    MhSevCert *pdh;
    MhSevCert *pek;
    MhSevCert *oca;
    MhSevCert *cek;
} MhSevChain;

/* Raw certificates: 'pdh' one certificate, 'chain' three. */
MhSevChain *mhSevChainFromBytes(GBytes *pdh, GBytes *chain, GError **error);
/* Base64 as virsh nodesevinfo prints them. */
MhSevChain *mhSevChainParse(const char *pdh_b64, const char *chain_b64, GError **error);
/* "sevctl export --full DIR" files: pdh.cert pek.cert oca.cert cek.cert. */
MhSevChain *mhSevChainLoadDir(const char *dir, GError **error);
void mhSevChainFree(MhSevChain *chain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhSevChain, mhSevChainFree)

/* PEK || OCA || CEK, base64, as the chain is exchanged. */
char *mhSevChainFormatBase64(const MhSevChain *chain);
/* SHA-256 of a certificate, lowercase hex: how a broker names a chip (the
 * CEK) or a platform owner (the OCA). */
char *mhSevCertFingerprint(const MhSevCert *cert);
