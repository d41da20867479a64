/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virt-mh demo: two lab hosts, an SEV domain with the mirror helper and
 * the test guest, the guest owner's attestation and key injection, and a
 * live migration there and back with integrity and confidentiality
 * verdicts. The flow is in mh-cmd-demo.c; the guest owner's part in
 * mh-demo-owner.c, the test guest's reports in mh-demo-guest.c, the packet
 * capture in mh-demo-capture.c. docs/demo.md. */
#pragma once

#include "mh-cmd.h"

#include "conf/mh-conf.h"
#include "lab/mh-lab.h"
#include "owner/mh-sev-cert.h"
#include "owner/mh-sev-owner.h"
#include "util/mh-util.h"

#include <libvirt/libvirt.h>
#include <stdbool.h>
#include <stdint.h>

#define MH_DEMO_DOMAIN "mh-demo"
/* Nova's SEV policy: NODBG | NOKS | DOMAIN | SEV, sending allowed. */
#define MH_DEMO_POLICY 0x0033
/* The test guest's status block (docs/test-guest.md). */
#define MH_DEMO_GUEST_STATUS_GPA 0x2000000
#define MH_DEMO_GUEST_MAGIC 0x5347484d
#define MH_DEMO_GUEST_STATE_RUNNING 2
#define MH_DEMO_GUEST_STATE_SETUP_ERROR 0xe

typedef struct {
    guint index;                /* 1-based, as the lab numbers hosts */
    const MhLabHost *lab;
    virConnectPtr conn;
    MhSevCert *pdh;             /* checked against its chain */
    unsigned int cbitpos;
    unsigned int reduced_phys_bits;
} MhDemoHost;

typedef struct {
    MhLab *lab;
    char *dir;
    bool created_dir;
    bool keep;
    unsigned int memory_mib;
    unsigned int guest_mib;
    unsigned int rate;
    MhConfMode helper_mode;
    char *firmware;             /* the <loader> (measured) */
    char *guest;                /* DIR/files/mh-guest.efi */
    char *cmdline;
    char *marker;
    char *serial_log;           /* DIR/files/guest-serial.log */
    char *owner_dir;            /* DIR/owner: the guest owner's files, 0700 */
    char *key_path;             /* owner_dir/migration-key.bin */
    MhSecret *key;
    uint32_t key_id;
    MhDemoHost hosts[2];
    char uuid[VIR_UUID_STRING_BUFLEN];
    guint seq;                  /* numbers owner files and sockets */
} MhDemo;

/* Set by SIGINT/SIGTERM: the demo's waits give up with an error, so that
 * the lab is still torn down. */
bool mhDemoInterrupted(GError **error);

/* Print "==> MESSAGE" (a step) or "    MESSAGE" (a detail). */
void mhDemoStep(const char *format, ...) G_GNUC_PRINTF(1, 2);
void mhDemoSay(const char *format, ...) G_GNUC_PRINTF(1, 2);

/* ---- mh-demo-owner.c: the guest owner ---- */

/* The host's SEV platform through virNodeGetSEVInfo (else the emulator's
 * query-sev-capabilities): PDH checked against PEK, OCA and CEK; cbitpos
 * and reduced-phys-bits. */
bool mhDemoOwnerReadPlatform(MhDemo *demo, MhDemoHost *host, GError **error);
/* A launch session for the host's PDH; TEK||TIK saved as
 * owner_dir/tk-hostN-SEQ.bin (0600), its path in *tk_path. */
MhSevOwnerSession *mhDemoOwnerSession(MhDemo *demo, MhDemoHost *host, char **tk_path,
                                      GError **error);
/* Put the session into a domain XML's <launchSecurity> (<dhCert>,
 * <session>) and point the owner's QMP monitor at 'socket'. */
char *mhDemoOwnerRewriteXML(const char *xml, const MhSevOwnerSession *session,
                            const char *socket, GError **error);
/* The domain XML the demo starts with. */
char *mhDemoOwnerDomainXML(MhDemo *demo, const MhDemoHost *host,
                           const MhSevOwnerSession *session, const char *socket);
/* A paused domain: check its launch measurement against the firmware and
 * the session's TIK, then inject the migration key (LAUNCH_SECRET through
 * virDomainSetLaunchSecurityState). */
bool mhDemoOwnerInject(MhDemo *demo, virDomainPtr dom, const MhSevOwnerSession *session,
                       GError **error);
/* A fresh path for an owner monitor socket on host N. */
char *mhDemoOwnerSocketPath(MhDemo *demo, guint host);

typedef struct _MhDemoAttest MhDemoAttest;
/* Attest the incoming target and inject the key through its owner
 * monitor ('socket'), in a thread: libvirt's migration job keeps the
 * target's domain locked until Finish. */
MhDemoAttest *mhDemoAttestStart(MhDemo *demo, const char *socket, const char *tk_path);
/* For the migration's tick: false (error set) once the attestation
 * failed. */
bool mhDemoAttestCheck(MhDemoAttest *attest, GError **error);
/* Wait for the thread; true when the key was injected. */
bool mhDemoAttestFinish(MhDemoAttest *attest, GError **error);
void mhDemoAttestFree(MhDemoAttest *attest);

/* ---- mh-demo-guest.c: the test guest's own reports ---- */

typedef struct {
    uint32_t magic;
    uint32_t state;
    uint32_t pages;
    uint32_t passes;
    uint32_t errors;
    uint64_t verified;
    uint64_t dirtied;
    uint32_t uptime_ms;
} MhDemoGuestStatus;

/* The status block read with HMP "xp" through libvirt. */
bool mhDemoGuestStatus(virDomainPtr dom, MhDemoGuestStatus *st, GError **error);
/* Wait until the guest runs its workload and finished a verify pass. */
bool mhDemoGuestWaitReady(virDomainPtr dom, guint timeout_s, MhDemoGuestStatus *st,
                          GError **error);
/* Size of the serial log now (where the next host's lines begin). */
uint64_t mhDemoSerialOffset(const char *path);

typedef struct {
    uint32_t passes_before;     /* status block right after the switch-over */
    uint32_t passes_after;
    uint32_t errors;
    guint serial_passes;        /* "pass K" lines printed on the new host */
    guint serial_failures;      /* "INTEGRITY FAILURE" lines there */
    uint32_t serial_last_pass;
} MhDemoIntegrity;

/* After a switch-over: wait until the guest completed 2 more verify
 * passes on the new host; errors=0 in the status block and no failure on
 * the serial console since 'offset' is the verdict. */
bool mhDemoGuestIntegrity(virDomainPtr dom, const char *serial_log, uint64_t offset,
                          guint timeout_s, MhDemoIntegrity *res, GError **error);

/* ---- mh-demo-capture.c: the migration connection's bytes ---- */

typedef struct _MhDemoCapture MhDemoCapture;

/* tcpdump on lo for TCP port 'port'; NULL with *why_not set when the
 * capture cannot run here (not root, no tcpdump). */
MhDemoCapture *mhDemoCaptureStart(const char *dir, guint port, char **why_not);

/* Send the marker once, in two segments, over a short connection on the
 * captured port (before the migration uses it): the positive control. */
bool mhDemoCaptureProbe(MhDemoCapture *cap, const char *marker, GError **error);

typedef struct {
    uint64_t packets;
    uint64_t payload_bytes;
    uint64_t dropped;           /* as tcpdump reported */
    uint64_t marker_hits;       /* the control included: 1 when the migration had none */
    uint64_t key_hits;
    uint64_t stream_magic_hits; /* MH stream headers seen: it is the right connection */
} MhDemoCaptureResult;

/* Stop tcpdump and search the capture for the marker and the key. */
bool mhDemoCaptureFinish(MhDemoCapture *cap, const char *marker, const MhSecret *key,
                         MhDemoCaptureResult *res, GError **error);
void mhDemoCaptureFree(MhDemoCapture *cap);
