/* Dirty-page tracking for MH pre-copy without help from the kernel or
 * QEMU: soft-dirty bits are not available and KVM's dirty log belongs to
 * QEMU, so qemu-mh keeps a shadow copy of every page as it was captured
 * for sealing, and a page is dirty when its live content differs from its
 * shadow (or it was never captured).
 *
 * Why a shadow and not a hash of the live page: the migration handler
 * seals the *shadow* page (its MhGuestRam is the shadow map), so the bytes
 * that crossed the wire are exactly the bytes the next comparison uses. A
 * write that lands while a page is being captured or sealed, even one that
 * restores the old value (A -> B -> A), is never lost: the comparison is
 * against what was sent, not against what the live page looked like at
 * some other instant. In the final pass the guest is stopped, so after it
 * every page's live content equals what the target holds. Under real SEV
 * the same comparison works on the host-visible ciphertext, which is
 * deterministic per physical address. Cost: one extra copy of guest RAM
 * in qemu-mh. docs/migration-stream.md has the argument in full. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mh/mh-guest-ram.h"

#define MH_QEMU_DIRTY_PAGE_SIZE 4096

typedef struct _MhQemuDirty MhQemuDirty;

/* Track the guest RAM 'live' (its mappings must outlive the tracker);
 * the shadow starts empty (no page captured). */
MhQemuDirty *mhQemuDirtyNew(const MhGuestRam *live, GError **error);
/* The same for guest RAM that lives in 'fd' (qemu-mh's memfd), region i
 * at file offset offsets[i]: the shadow is a copy-on-write mapping of it,
 * so capturing a page for the first time costs the kernel's copy only. */
MhQemuDirty *mhQemuDirtyNewFd(const MhGuestRam *live, int fd, const uint64_t *offsets,
                              GError **error);
void mhQemuDirtyFree(MhQemuDirty *dirty);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MhQemuDirty, mhQemuDirtyFree)

/* The shadow map: same GPAs as 'live', the captured bytes. This is what
 * the migration handler of the source reads. */
const MhGuestRam *mhQemuDirtyGetShadow(const MhQemuDirty *dirty);
uint64_t mhQemuDirtyTotalPages(const MhQemuDirty *dirty);

/* Append (as guint64 GPAs) every page that was never captured or whose
 * live bytes differ from its shadow; returns how many were appended.
 * 'nthreads' workers compare in parallel (1 = the caller alone). */
size_t mhQemuDirtyScan(MhQemuDirty *dirty, GArray *gpas, unsigned int nthreads);

/* Copy the live pages into the shadow (page-aligned GPAs inside RAM) and
 * mark them captured. */
void mhQemuDirtyCapture(MhQemuDirty *dirty, const uint64_t *gpas, size_t n);

/* Copy a range into the shadow WITHOUT marking it captured (for the MH's
 * INIT, which reads the secret area through the shadow map). */
bool mhQemuDirtyCopyRange(MhQemuDirty *dirty, uint64_t gpa, uint64_t len, GError **error);

/* Pages captured at least once. */
uint64_t mhQemuDirtyCapturedPages(const MhQemuDirty *dirty);
