/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Throughput of the migration handler: seal (source MH) and open + apply
 * (target MH) every page of a guest of random memory, for 1..N MH vCPUs.
 * Run through bench/run-mh-seal.sh, which puts the figures next to
 * `openssl speed` measured in the same run. */
#include "sim/mh/mh-handler.h"
#include "owner/mh-sev-secret.h"
#include "util/mh-error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#define PAGE 4096
#define SECRET_GPA 0x80C000ULL
#define SECRET_SIZE 0xC00

static int optMib = 256;
static int optMaxVcpus = 0;
static int optRepeat = 3;
static char *optCipher = NULL;
static gboolean optNoRestore = FALSE;

static GOptionEntry entries[] = {
    { "mib", 0, 0, G_OPTION_ARG_INT, &optMib, "guest RAM in MiB (default 256)", "N" },
    { "max-vcpus", 0, 0, G_OPTION_ARG_INT, &optMaxVcpus,
      "measure 1..N MH vCPUs (default: number of CPUs)", "N" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &optRepeat, "runs per point, best kept (default 3)", "N" },
    { "cipher", 0, 0, G_OPTION_ARG_STRING, &optCipher,
      "aes-256-gcm (default) or chacha20-poly1305", "NAME" },
    { "no-restore", 0, 0, G_OPTION_ARG_NONE, &optNoRestore, "measure sealing only", NULL },
    { NULL }
};

typedef struct {
    uint8_t *mem;
    size_t size;
    MhGuestRam ram;
} Guest;

static bool
guestNew(Guest *g, size_t size, bool random, const MhSecret *key, GError **error)
{
    g_autoptr(MhSevSecretTable) table = mhSevSecretTableNew();
    g_autoptr(MhSecret) blob = NULL;

    g->size = size;
    g->mem = g_malloc0(size);
    if (random && RAND_bytes(g->mem, size) != 1) {
        g_set_error(error, MH_ERROR, MH_ERROR_CRYPTO, "RAND_bytes failed");
        return false;
    }
    /* The owner's injected secret table, as LAUNCH_SECRET leaves it. */
    if (!mhSevSecretTableAddMigrationKey(table, key, error) ||
        !(blob = mhSevSecretTableBuild(table, error)))
        return false;
    memset(g->mem + SECRET_GPA, 0, SECRET_SIZE);
    memcpy(g->mem + SECRET_GPA, blob->data, blob->len);
    mhGuestRamInit(&g->ram);
    return mhGuestRamAddRegion(&g->ram, 0, size, g->mem, error);
}

static bool
handshake(MhMh *src, MhMh *dst, GError **error)
{
    g_autoptr(GBytes) hs = NULL, hd = NULL, cs = NULL, cd = NULL;

    return mhMhSessionBegin(src, MH_TRANSPORT_ROLE_SOURCE, &hs, error) &&
        mhMhSessionBegin(dst, MH_TRANSPORT_ROLE_TARGET, &hd, error) &&
        mhMhSessionPeerHello(src, hd, &cs, error) &&
        mhMhSessionPeerHello(dst, hs, &cd, error) &&
        mhMhSessionPeerConfirm(src, cd, error) &&
        mhMhSessionPeerConfirm(dst, cs, error);
}

static double
mibPerSec(size_t bytes, gint64 usec)
{
    return (double)bytes / (1024.0 * 1024.0) / ((double)usec / 1e6);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GOptionContext) ctx = g_option_context_new("- MH page sealing throughput");
    g_autoptr(MhSecret) key = mhSecretNew(32);
    g_autofree uint64_t *gpas = NULL;
    g_autoptr(GByteArray) stream = NULL;
    Guest src = { 0 }, dst = { 0 };
    MhConfCipher cipher = MH_CONF_CIPHER_AES_256_GCM;
    size_t npages, size;
    int ret = 1;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "error: %s\n", err->message);
        return 1;
    }
    if (optMaxVcpus <= 0)
        optMaxVcpus = g_get_num_processors();
    if (optCipher && (int)(cipher = mhConfCipherTypeFromString(optCipher)) < 0) {
        fprintf(stderr, "error: unknown cipher '%s'\n", optCipher);
        return 1;
    }
    if (optMib < 16 || optMaxVcpus > MH_MH_MAX_VCPUS || optRepeat < 1) {
        fprintf(stderr, "error: --mib must be >= 16, --max-vcpus <= %d, --repeat >= 1\n",
                MH_MH_MAX_VCPUS);
        return 1;
    }
    size = (size_t)optMib << 20;
    npages = size / PAGE;

    if (RAND_bytes(key->data, key->len) != 1 ||
        !guestNew(&src, size, true, key, &err) ||
        !guestNew(&dst, optNoRestore ? (16 << 20) : size, false, key, &err)) {
        fprintf(stderr, "error: %s\n", err ? err->message : "RAND_bytes failed");
        goto cleanup;
    }
    gpas = g_new(uint64_t, npages);
    for (size_t i = 0; i < npages; i++)
        gpas[i] = (uint64_t)i * PAGE;
    stream = g_byte_array_sized_new(size + size / 64);
    /* Touch the output and the target RAM once: the figures are the MH's,
     * not the kernel's first-touch page faults (a real host writes records
     * into socket buffers that are warm). */
    g_byte_array_set_size(stream, size + size / 64);
    memset(stream->data, 0, stream->len);
    g_byte_array_set_size(stream, 0);
    memset(dst.mem + SECRET_GPA + SECRET_SIZE, 0xa5, dst.size - SECRET_GPA - SECRET_SIZE);

    printf("# mh-seal-bench: %d MiB of random pages (%zu pages), cipher %s, best of %d\n",
           optMib, npages, mhConfCipherTypeToString(cipher), optRepeat);
    printf("# %-5s %12s %10s %12s %10s %10s\n", "vcpus", "seal pg/s", "seal MiB/s",
           "open pg/s", "open MiB/s", "wire/RAM");
    for (int v = 1; v <= optMaxVcpus; v++) {
        gint64 best_seal = G_MAXINT64, best_open = G_MAXINT64;

        for (int r = 0; r < optRepeat; r++) {
            g_autoptr(MhMh) smh = mhMhNew(&src.ram, v, cipher, (const uint8_t *)"benchmark-domain", &err);
            g_autoptr(MhMh) dmh = smh ? mhMhNew(&dst.ram, v, cipher,
                                                (const uint8_t *)"benchmark-domain", &err) : NULL;
            g_autoptr(MhMhLaunchKey) lk = NULL;
            gint64 t0, t1;

            /* Both ends' key as LAUNCH_SECRET would hand it over. */
            if (!dmh ||
                !(lk = mhMhLaunchKeyFromSecret(src.mem + SECRET_GPA, SECRET_SIZE, &err)) ||
                !mhMhStartWithKey(smh, lk, &err) ||
                !mhMhStartWithKey(dmh, lk, &err) ||
                !handshake(smh, dmh, &err)) {
                fprintf(stderr, "error: %s\n", err->message);
                goto cleanup;
            }
            g_byte_array_set_size(stream, 0);
            t0 = g_get_monotonic_time();
            if (!mhMhSavePages(smh, gpas, npages, 0, stream, &err) ||
                !mhMhSaveFinish(smh, stream, &err)) {
                fprintf(stderr, "error: %s\n", err->message);
                goto cleanup;
            }
            t1 = g_get_monotonic_time();
            best_seal = MIN(best_seal, t1 - t0);
            if (!optNoRestore) {
                t0 = g_get_monotonic_time();
                if (!mhMhRestoreRecords(dmh, stream->data, stream->len, NULL, &err) ||
                    !mhMhRestoreFinish(dmh, &err)) {
                    fprintf(stderr, "error: %s\n", err->message);
                    goto cleanup;
                }
                t1 = g_get_monotonic_time();
                best_open = MIN(best_open, t1 - t0);
                if (memcmp(src.mem, dst.mem, size) != 0) {
                    fprintf(stderr, "error: target RAM differs from source RAM\n");
                    goto cleanup;
                }
            }
        }
        if (optNoRestore) {
            printf("  %-5d %12.0f %10.1f %12s %10s %10.4f\n", v,
                   npages / (best_seal / 1e6), mibPerSec(size, best_seal), "-", "-",
                   (double)stream->len / size);
        } else {
            printf("  %-5d %12.0f %10.1f %12.0f %10.1f %10.4f\n", v,
                   npages / (best_seal / 1e6), mibPerSec(size, best_seal),
                   npages / (best_open / 1e6), mibPerSec(size, best_open),
                   (double)stream->len / size);
        }
        /* Machine-readable line for run-mh-seal.sh. */
        printf("RESULT vcpus=%d seal_pages_per_s=%.0f seal_mib_per_s=%.1f open_mib_per_s=%.1f\n",
               v, npages / (best_seal / 1e6), mibPerSec(size, best_seal),
               optNoRestore ? 0.0 : mibPerSec(size, best_open));
        fflush(stdout);
    }
    ret = 0;

 cleanup:
    g_free(src.mem);
    g_free(dst.mem);
    return ret;
}
