/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest RAM mapping, see mh-qemu-ram.h. */
#include "sim/qemu/mh-qemu-ram.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MH_GIB (1ULL << 30)
#define MH_4GIB (4ULL << 30)

struct _MhQemuRam {
    int fd;
    uint64_t size;
    uint8_t *base;
    GArray *regions;    /* MhQemuRamRegion */
    char *backing;      /* what the pages are, for the log (untranslated, like it) */
};

#define MH_HUGE_PAGE (2ULL << 20)

/* The steps of the helper child below, for the message when one fails. */
typedef enum {
    HUGE_STEP_UNSHARE,
    HUGE_STEP_SETGROUPS,
    HUGE_STEP_UID_MAP,
    HUGE_STEP_GID_MAP,
    HUGE_STEP_PRIVATE,
    HUGE_STEP_MOUNT,
    HUGE_STEP_OPEN,
    HUGE_STEP_SEND,
} HugeStep;

static const char *const hugeStepNames[] = {
    [HUGE_STEP_UNSHARE] = "unshare(CLONE_NEWUSER|CLONE_NEWNS)",
    [HUGE_STEP_SETGROUPS] = "/proc/self/setgroups",
    [HUGE_STEP_UID_MAP] = "/proc/self/uid_map",
    [HUGE_STEP_GID_MAP] = "/proc/self/gid_map",
    [HUGE_STEP_PRIVATE] = "mount --make-rprivate /",
    [HUGE_STEP_MOUNT] = "mount -t tmpfs -o huge=always",
    [HUGE_STEP_OPEN] = "open(O_TMPFILE)",
    [HUGE_STEP_SEND] = "sendmsg(SCM_RIGHTS)",
};

static bool
hugeWriteFile(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    ssize_t len = strlen(text);
    bool ok;

    if (fd < 0)
        return false;
    ok = write(fd, text, len) == len;
    close(fd);
    return ok;
}

/* Runs in the forked child of a possibly threaded process: system calls
 * only, every string prepared by the parent. Reports {step, errno} on
 * failure, the descriptor on success. */
G_GNUC_NORETURN static void
hugeChild(int sock, const char *uid_map, const char *gid_map, const char *mount_opts)
{
    int report[2] = { 0, 0 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = report, .iov_len = sizeof(report) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *c;
    int fd;

#define HUGE_TRY(cond, step) \
    do { if (!(cond)) { report[0] = (step); report[1] = errno; goto fail; } } while (0)
    HUGE_TRY(unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0, HUGE_STEP_UNSHARE);
    HUGE_TRY(hugeWriteFile("/proc/self/setgroups", "deny") || errno == ENOENT,
             HUGE_STEP_SETGROUPS);
    HUGE_TRY(hugeWriteFile("/proc/self/uid_map", uid_map), HUGE_STEP_UID_MAP);
    HUGE_TRY(hugeWriteFile("/proc/self/gid_map", gid_map), HUGE_STEP_GID_MAP);
    /* Nothing mounted here may reach the namespace we came from. */
    HUGE_TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, HUGE_STEP_PRIVATE);
    HUGE_TRY(mount("qemu-mh-ram", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                   mount_opts) == 0, HUGE_STEP_MOUNT);
    HUGE_TRY((fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0, HUGE_STEP_OPEN);
#undef HUGE_TRY
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) == sizeof(report))
        _exit(0);
    report[0] = HUGE_STEP_SEND;
    report[1] = errno;
    msg.msg_control = NULL;
    msg.msg_controllen = 0;
 fail:
    (void)!send(sock, report, sizeof(report), MSG_NOSIGNAL);
    _exit(1);
}

/* An unnamed file of 'size' bytes on a tmpfs mounted huge=always, or -1
 * and why not in '*why'. A memfd gets 4 KiB pages unless the machine-wide
 * shmem_enabled allows more (Debian: never), and on a VM that hands freed
 * memory back to its hypervisor every first touch of a 4 KiB page is a
 * fault there: filling 1 GiB by pwrite() took 0.62 s against 0.16 s on
 * huge pages on the benchmark machine. A tmpfs mount's huge= option
 * applies whatever shmem_enabled says (unless it is "deny"), and any user
 * may mount a tmpfs in a user and mount namespace of its own: a helper
 * child does that, opens an O_TMPFILE there and hands the descriptor
 * back. The open file keeps the mount alive once the child and its
 * namespace are gone; nothing is visible in any other namespace. Real
 * QEMU on SEV hardware maps guest RAM from anonymous THP or hugetlbfs
 * memory in its own process; qemu-mh needs RAM it can share with QEMU. */
static int
mhQemuRamOpenHuge(uint64_t size, char **why)
{
    g_autofree char *uid_map = g_strdup_printf("%u %u 1", (unsigned)geteuid(), (unsigned)geteuid());
    g_autofree char *gid_map = g_strdup_printf("%u %u 1", (unsigned)getegid(), (unsigned)getegid());
    guint64 kib = (size + MH_HUGE_PAGE - 1) / MH_HUGE_PAGE * (MH_HUGE_PAGE / 1024);
    g_autofree char *opts = g_strdup_printf("huge=always,size=%" G_GUINT64_FORMAT "k,mode=0700",
                                            kib);
    int report[2] = { -1, 0 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = report, .iov_len = sizeof(report) };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *c;
    int sp[2], fd = -1, status;
    ssize_t got;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        *why = g_strdup_printf("socketpair: %s", g_strerror(errno));
        return -1;
    }
    if ((pid = fork()) < 0) {
        *why = g_strdup_printf("fork: %s", g_strerror(errno));
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    if (pid == 0) {
        close(sp[0]);
        hugeChild(sp[1], uid_map, gid_map, opts);
    }
    close(sp[1]);
    do {
        got = recvmsg(sp[0], &msg, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    close(sp[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got == sizeof(report) && report[0] == 0 && (c = CMSG_FIRSTHDR(&msg)) &&
        c->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
    if (fd >= 0 && report[1] == 0)
        return fd;
    if (got == sizeof(report) && report[0] >= 0 && report[0] <= HUGE_STEP_SEND)
        *why = g_strdup_printf("%s: %s", hugeStepNames[report[0]], g_strerror(report[1]));
    else
        *why = g_strdup("the helper process reported nothing");
    return -1;
}

/* QEMU 7.2's split of RAM below 4 GiB (hw/i386/pc_q35.c, pc_piix.c,
 * without max-ram-below-4g): Q35 keeps 0xb0000000 below the hole unless
 * the guest has more, then 2 GiB; i440FX keeps 0xe0000000, or 3 GiB for
 * large guests. */
static uint64_t
mhQemuRamLowmem(const char *machine, uint64_t size)
{
    bool q35 = machine && (g_str_has_prefix(machine, "pc-q35") || g_str_equal(machine, "q35"));
    bool pc = machine && (g_str_has_prefix(machine, "pc-i440fx") || g_str_equal(machine, "pc") ||
                          g_str_has_prefix(machine, "pc-1."));

    if (q35)
        return size >= 0xb0000000ULL ? 0x80000000ULL : 0xb0000000ULL;
    if (pc)
        return size >= 0xe0000000ULL ? 0xc0000000ULL : 0xe0000000ULL;
    return G_MAXUINT64;
}

GArray *
mhQemuRamLayout(const char *machine, uint64_t size)
{
    GArray *regions = g_array_new(FALSE, TRUE, sizeof(MhQemuRamRegion));
    uint64_t lowmem = mhQemuRamLowmem(machine, size);
    MhQemuRamRegion r = { 0, MIN(size, lowmem), 0 };

    g_array_append_val(regions, r);
    if (size > lowmem) {
        MhQemuRamRegion high = { MH_4GIB, size - lowmem, lowmem };
        g_array_append_val(regions, high);
    }
    return regions;
}

MhQemuRam *
mhQemuRamNew(const char *name, uint64_t size, const char *machine, GError **error)
{
    g_autoptr(MhQemuRam) ram = g_new0(MhQemuRam, 1);
    g_autofree char *why = NULL;

    ram->fd = -1;
    ram->base = MAP_FAILED;
    if (size == 0 || size % 4096) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("guest RAM size %llu is not a multiple of 4 KiB"),
                    (unsigned long long)size);
        return NULL;
    }
    if ((ram->fd = mhQemuRamOpenHuge(size, &why)) >= 0) {
        /* QEMU inherits it, as it would the memfd. */
        fcntl(ram->fd, F_SETFD, 0);
        ram->backing = g_strdup("2 MiB pages (transparent huge pages of a private tmpfs)");
    } else if ((ram->fd = memfd_create(name, 0)) >= 0) {
        ram->backing = g_strdup_printf("4 KiB pages (memfd; no huge-page tmpfs: %s)", why);
    } else {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot create memfd '%s' for guest RAM: %s"), name, g_strerror(errno));
        return NULL;
    }
    if (ftruncate(ram->fd, size) < 0) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot size guest RAM memfd to %llu bytes: %s"),
                    (unsigned long long)size, g_strerror(errno));
        return NULL;
    }
    ram->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ram->fd, 0);
    if (ram->base == MAP_FAILED) {
        g_set_error(error, MH_ERROR, MH_ERROR_IO,
                    _("cannot map %llu bytes of guest RAM: %s"),
                    (unsigned long long)size, g_strerror(errno));
        return NULL;
    }
    ram->size = size;
    ram->regions = mhQemuRamLayout(machine, size);
    return g_steal_pointer(&ram);
}

void
mhQemuRamFree(MhQemuRam *ram)
{
    if (!ram)
        return;
    if (ram->base != MAP_FAILED)
        munmap(ram->base, ram->size);
    if (ram->fd >= 0)
        close(ram->fd);
    if (ram->regions)
        g_array_unref(ram->regions);
    g_free(ram->backing);
    g_free(ram);
}

int
mhQemuRamGetFd(const MhQemuRam *ram)
{
    return ram->fd;
}

const char *
mhQemuRamGetBacking(const MhQemuRam *ram)
{
    return ram->backing;
}

uint64_t
mhQemuRamGetSize(const MhQemuRam *ram)
{
    return ram->size;
}

uint8_t *
mhQemuRamGetBase(const MhQemuRam *ram)
{
    return ram->base;
}

size_t
mhQemuRamGetRegionCount(const MhQemuRam *ram)
{
    return ram->regions->len;
}

const MhQemuRamRegion *
mhQemuRamGetRegion(const MhQemuRam *ram, size_t i)
{
    return &g_array_index(ram->regions, MhQemuRamRegion, i);
}

uint8_t *
mhQemuRamTranslate(const MhQemuRam *ram, uint64_t gpa, uint64_t len, GError **error)
{
    for (guint i = 0; i < ram->regions->len; i++) {
        const MhQemuRamRegion *r = &g_array_index(ram->regions, MhQemuRamRegion, i);

        if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
            return ram->base + r->offset + (gpa - r->gpa);
    }
    g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                _("guest range 0x%llx+0x%llx is not inside guest RAM"),
                (unsigned long long)gpa, (unsigned long long)len);
    return NULL;
}

bool
mhQemuRamRead(const MhQemuRam *ram, uint64_t gpa, void *buf, size_t len, GError **error)
{
    uint8_t *p = mhQemuRamTranslate(ram, gpa, len, error);

    if (!p)
        return false;
    memcpy(buf, p, len);
    return true;
}

bool
mhQemuRamWrite(MhQemuRam *ram, uint64_t gpa, const void *buf, size_t len, GError **error)
{
    uint8_t *p = mhQemuRamTranslate(ram, gpa, len, error);

    if (!p)
        return false;
    memcpy(p, buf, len);
    return true;
}

bool
mhQemuRamGuestMap(const MhQemuRam *ram, MhGuestRam *map, GError **error)
{
    mhGuestRamInit(map);
    for (size_t i = 0; i < mhQemuRamGetRegionCount(ram); i++) {
        const MhQemuRamRegion *r = mhQemuRamGetRegion(ram, i);

        if (!mhGuestRamAddFileRegion(map, r->gpa, r->size, mhQemuRamGetBase(ram) + r->offset,
                                     mhQemuRamGetFd(ram), r->offset, error))
            return false;
    }
    return true;
}
