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
#include "owner/mh-sev-chain.h"

#include <json-glib/json-glib.h>
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

typedef struct _MhDemoBroker MhDemoBroker;

typedef struct {
    guint index;                /* 1-based, as the lab numbers hosts */
    const MhLabHost *lab;
    virConnectPtr conn;
    MhSevChain *chain;          /* PDH and its verified chain */
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
    bool relay_only;            /* --capture relay: no tcpdump even as root */
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
    MhDemoBroker *broker;       /* the guest owner's key broker */
} MhDemo;

/* Set by SIGINT/SIGTERM: the demo's waits give up with an error, so that
 * the lab is still torn down. */
bool mhDemoInterrupted(GError **error);

/* Print "==> MESSAGE" (a step) or "    MESSAGE" (a detail). */
void mhDemoStep(const char *format, ...) G_GNUC_PRINTF(1, 2);
void mhDemoSay(const char *format, ...) G_GNUC_PRINTF(1, 2);

/* ---- mh-demo-owner.c: the guest owner ---- */

/* The host's SEV platform through virNodeGetSEVInfo (else the emulator's
 * query-sev-capabilities): PDH and chain verified, cbitpos and
 * reduced-phys-bits. */
bool mhDemoOwnerReadPlatform(MhDemo *demo, MhDemoHost *host, GError **error);
/* The domain XML the demo defines: SEV, no session (the broker makes
 * one for each launch). */
char *mhDemoOwnerDomainXML(MhDemo *demo, const MhDemoHost *host);
/* Tell the broker to trust the host's platform. */
bool mhDemoOwnerTrust(MhDemo *demo, MhDemoHost *host, GError **error);
/* Enrol the guest: policy, the launch digest of its firmware, the key. */
bool mhDemoOwnerEnroll(MhDemo *demo, GError **error);

/* ---- mh-demo-broker.c: the owner's key broker, and a relay to it ---- */

/* Start "virt-mh broker serve" over TLS (a certificate made with openssl)
 * with its state in DIR, and a relay the hosts reach it through. */
MhDemoBroker *mhDemoBrokerStart(const char *lab_dir, const char *dir, GError **error);
/* Leave the broker and its relay running (demo --keep). */
void mhDemoBrokerDetach(MhDemoBroker *broker);
const char *mhDemoBrokerUrl(const MhDemoBroker *broker);
void mhDemoBrokerFree(MhDemoBroker *broker);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhDemoBroker, mhDemoBrokerFree)
/* The URL the hosts use (through the relay) and the CA to verify it. */
const char *mhDemoBrokerHostUrl(const MhDemoBroker *broker);
const char *mhDemoBrokerCa(const MhDemoBroker *broker);
/* An admin call with the broker's token. */
JsonObject *mhDemoBrokerAdmin(MhDemoBroker *broker, const char *method, const char *path,
                              JsonObject *body, GError **error);
/* Print the audit entries since the previous call. */
bool mhDemoBrokerPrintLog(MhDemoBroker *broker, GError **error);
/* Occurrences of 'needle' in what the relay carried; *bytes: its size. */
guint64 mhDemoBrokerWireCount(MhDemoBroker *broker, const void *needle, size_t len,
                              guint64 *bytes);

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

#define MH_DEMO_MAX_NEEDLE 64
#define MH_DEMO_STREAM_MAGIC "MHMS"

/* One direction of a connection, searched as its bytes arrive. */
typedef struct {
    uint8_t tail[MH_DEMO_MAX_NEEDLE];
    size_t tail_len;
} MhDemoDirection;

typedef struct {
    const uint8_t *data;
    size_t len;
    uint64_t *hits;
} MhDemoNeedle;

/* Search 'payload' appended to the direction's tail; a hit counts when it
 * ends inside the new bytes, so none is counted twice. */
void mhDemoSearch(MhDemoDirection *dir, const uint8_t *payload, size_t len,
                  MhDemoNeedle *needles, size_t nneedles);

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

/* ---- mh-demo-relay.c: the same check without root ---- */

typedef struct _MhDemoRelay MhDemoRelay;

/* The migration connection through a relay of the demo's: it listens on
 * 127.0.0.1:port (the migration URI), the target's QEMU on
 * 127.0.0.2:port (libvirt's listen address), and it searches what it
 * carries for the marker, the key and the MH stream header. */
MhDemoRelay *mhDemoRelayStart(guint port, const char *marker, const MhSecret *key,
                              GError **error);
/* The positive control through the relay, as mhDemoCaptureProbe. */
bool mhDemoRelayProbe(MhDemoRelay *relay, const char *marker, GError **error);
/* Stop the relay; its counts (packets: reads, dropped: 0). */
void mhDemoRelayFinish(MhDemoRelay *relay, MhDemoCaptureResult *res);
void mhDemoRelayFree(MhDemoRelay *relay);

/* Stop tcpdump and search the capture for the marker and the key. */
bool mhDemoCaptureFinish(MhDemoCapture *cap, const char *marker, const MhSecret *key,
                         MhDemoCaptureResult *res, GError **error);
void mhDemoCaptureFree(MhDemoCapture *cap);
