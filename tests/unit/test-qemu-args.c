/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh's reading of libvirt's command line (the rewritten command lines
 * and the refusals are golden files: test-qemu-argv.c), QEMU option syntax,
 * the OVMF table and the guest RAM layout. */
#include "sim/qemu/mh-qemu-args.h"
#include "sim/qemu/mh-qemu-conf.h"
#include "sim/qemu/mh-qemu-fw.h"
#include "conf/mh-qemu-opts.h"
#include "sim/qemu/mh-qemu-ram.h"
#include "util/mh-error.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* What libvirt 9.0 passes for an SEV domain with the helper (abridged
 * from a lab host's domain log). */
static const char *const sevArgv[] = {
    "-name", "guest=sev1,debug-threads=on",
    "-S",
    "-object", "{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\",\"file\":\"/lab/host1/config/libvirt/qemu/lib/domain-1-sev1/master-key.aes\"}",
    "-blockdev", "{\"driver\":\"file\",\"filename\":\"/usr/share/OVMF/OVMF_CODE_4M.fd\",\"node-name\":\"libvirt-pflash0-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}",
    "-blockdev", "{\"node-name\":\"libvirt-pflash0-format\",\"read-only\":true,\"driver\":\"raw\",\"file\":\"libvirt-pflash0-storage\"}",
    "-blockdev", "{\"driver\":\"file\",\"filename\":\"/lab/nvram/sev1_VARS.fd\",\"node-name\":\"libvirt-pflash1-storage\",\"auto-read-only\":true,\"discard\":\"unmap\"}",
    "-blockdev", "{\"node-name\":\"libvirt-pflash1-format\",\"read-only\":false,\"driver\":\"raw\",\"file\":\"libvirt-pflash1-storage\"}",
    "-machine", "pc-q35-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram,confidential-guest-support=lsec0,pflash0=libvirt-pflash0-format,pflash1=libvirt-pflash1-format",
    "-accel", "tcg",
    "-m", "128",
    "-object", "{\"qom-type\":\"memory-backend-ram\",\"id\":\"pc.ram\",\"size\":134217728}",
    "-chardev", "socket,id=charmonitor,fd=20,server=on,wait=off",
    "-mon", "chardev=charmonitor,id=monitor,mode=control",
    "-add-fd", "set=0,fd=21,opaque=serial0-source",
    "-object", "{\"qom-type\":\"sev-guest\",\"id\":\"lsec0\",\"cbitpos\":47,\"reduced-phys-bits\":1,\"policy\":51,\"dh-cert-file\":\"/lab/dh_cert.base64\",\"session-file\":\"/lab/session.base64\"}",
    "-object", "mirror-helper,id=mh0,mode=auto,vcpus=2,lifetime=on-demand,cipher=aes-256-gcm,secret=0x80c000",
    "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    "-msg", "timestamp=on",
};

static MhQemuArgs *
parseOk(const char *const *argv, int argc)
{
    g_autoptr(GError) err = NULL;
    MhQemuArgs *args = mhQemuArgsParse(argc, (char *const *)argv, &err);

    g_assert_no_error(err);
    g_assert_nonnull(args);
    return args;
}

static int
findArg(GStrv argv, const char *value)
{
    for (int i = 0; argv[i]; i++) {
        if (strcmp(argv[i], value) == 0)
            return i;
    }
    return -1;
}

static void
testSevDomain(void)
{
    g_autoptr(MhQemuArgs) args = parseOk(sevArgv, G_N_ELEMENTS(sevArgv));
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) out = NULL;
    MhQemuMonitor *mon;
    g_autofree char *joined = NULL;
    int i;

    g_assert_nonnull(args->sev);
    g_assert_cmpstr(args->sev->id, ==, "lsec0");
    g_assert_cmpuint(args->sev->policy, ==, 51);
    g_assert_cmpuint(args->sev->cbitpos, ==, 47);
    g_assert_cmpuint(args->sev->reduced_phys_bits, ==, 1);
    g_assert_cmpstr(args->sev->dh_cert_file, ==, "/lab/dh_cert.base64");
    g_assert_cmpstr(args->sev->session_file, ==, "/lab/session.base64");
    g_assert_false(args->sev->kernel_hashes);
    g_assert_nonnull(args->helper);
    g_assert_cmpuint(args->helper->vcpus, ==, 2);
    g_assert_true(args->helper->has_secret);
    g_assert_cmphex(args->helper->secret, ==, 0x80c000);
    g_assert_cmpstr(args->firmware, ==, "/usr/share/OVMF/OVMF_CODE_4M.fd");
    g_assert_cmpstr(args->machine_type, ==, "pc-q35-7.2");
    g_assert_cmpstr(args->name, ==, "sev1");
    g_assert_true(args->ram_shared);
    g_assert_cmpstr(args->ram_backend_id, ==, "pc.ram");
    g_assert_cmpuint(args->ram_size, ==, 134217728);
    g_assert_false(args->daemonize);
    g_assert_false(args->probing);
    g_assert_cmpuint(args->monitors->len, ==, 1);
    mon = g_ptr_array_index(args->monitors, 0);
    g_assert_cmpstr(mon->id, ==, "charmonitor");
    g_assert_cmpint(mon->listen_fd, ==, 20);
    g_assert_null(mon->path);

    /* Building needs the fds the launcher creates. */
    g_assert_null(mhQemuArgsBuild(args, "/usr/bin/qemu-system-x86_64", &err));
    g_clear_error(&err);
    mon->qemu_fd = 33;
    args->ram_fd = 34;
    out = mhQemuArgsBuild(args, "/usr/bin/qemu-system-x86_64", &err);
    g_assert_no_error(err);
    joined = g_strjoinv(" ", out);

    g_assert_cmpstr(out[0], ==, "/usr/bin/qemu-system-x86_64");
    g_assert_null(strstr(joined, "sev-guest"));
    g_assert_null(strstr(joined, "confidential-guest-support"));
    g_assert_null(strstr(joined, "mirror-helper"));
    g_assert_null(strstr(joined, "fd=20"));
    i = findArg(out, "pc-q35-7.2,usb=off,dump-guest-core=off,memory-backend=pc.ram,"
                "pflash0=libvirt-pflash0-format,pflash1=libvirt-pflash1-format");
    g_assert_cmpint(i, >, 0);
    g_assert_cmpstr(out[i - 1], ==, "-machine");
    i = findArg(out, "socket,id=charmonitor,fd=33");
    g_assert_cmpint(i, >, 0);
    g_assert_cmpstr(out[i - 1], ==, "-chardev");
    g_assert_cmpstr(out[i + 1], ==, "-mon");
    g_assert_cmpstr(out[i + 2], ==, "chardev=charmonitor,id=monitor,mode=control");
    i = findArg(out, "{\"qom-type\":\"memory-backend-file\",\"id\":\"pc.ram\",\"size\":134217728,"
                "\"mem-path\":\"/proc/self/fd/34\",\"share\":true}");
    g_assert_cmpint(i, >, 0);
    /* Everything else unchanged and in order. */
    g_assert_cmpint(findArg(out, "set=0,fd=21,opaque=serial0-source"), ==,
                    findArg(out, "-add-fd") + 1);
    g_assert_cmpint(findArg(out, "-S"), ==, 3);
    g_assert_cmpstr(out[g_strv_length(out) - 1], ==, "timestamp=on");
}

static void
testProbe(void)
{
    static const char *const argv[] = {
        "-S", "-no-user-config", "-nodefaults", "-nographic",
        "-machine", "none,accel=kvm:tcg",
        "-qmp", "unix:/lab/host1/config/libvirt/qemu/lib/qmp-X/qmp.monitor,server=on,wait=off",
        "-pidfile", "/lab/host1/config/libvirt/qemu/lib/qmp-X/qmp.pid",
        "-daemonize",
    };
    g_autoptr(MhQemuArgs) args = parseOk(argv, G_N_ELEMENTS(argv));
    MhQemuMonitor *mon;

    g_assert_true(args->daemonize);
    g_assert_true(args->probing);
    g_assert_false(args->ram_shared);
    g_assert_null(args->sev);
    g_assert_cmpstr(args->pidfile, ==, "/lab/host1/config/libvirt/qemu/lib/qmp-X/qmp.pid");
    g_assert_cmpuint(args->monitors->len, ==, 1);
    mon = g_ptr_array_index(args->monitors, 0);
    g_assert_cmpint(mon->listen_fd, ==, -1);
    g_assert_cmpstr(mon->path, ==, "/lab/host1/config/libvirt/qemu/lib/qmp-X/qmp.monitor");
    /* The rewritten command line: tests/data/qemu-argv/probe.argv */
}

static void
testKeyValueSev(void)
{
    static const char *const argv[] = {
        "-machine", "q35,confidential-guest-support=sev0",
        "-m", "size=262144k",
        "-object", "sev-guest,id=sev0,policy=0x5,cbitpos=47,reduced-phys-bits=1,kernel-hashes=on",
        "-bios", "/fw/OVMF.fd",
        "-kernel", "/k/vmlinuz", "-initrd", "/k/initrd", "-append", "console=ttyS0 a,b",
        "--qmp", "unix:/tmp/q.sock,server,nowait",
    };
    g_autoptr(MhQemuArgs) args = parseOk(argv, G_N_ELEMENTS(argv));

    g_assert_cmpuint(args->sev->policy, ==, 5);
    g_assert_true(args->sev->kernel_hashes);
    g_assert_cmpstr(args->firmware, ==, "/fw/OVMF.fd");
    g_assert_cmpstr(args->kernel, ==, "/k/vmlinuz");
    g_assert_cmpstr(args->initrd, ==, "/k/initrd");
    g_assert_cmpstr(args->append, ==, "console=ttyS0 a,b");
    /* No backend on -machine: qemu-mh adds one of the -m size. */
    g_assert_cmpuint(args->ram_size, ==, 256ULL << 20);
    g_assert_cmpstr(args->ram_backend_id, ==, "mh.ram");
    g_assert_cmpuint(args->monitors->len, ==, 1);
    /* The rewritten command line: tests/data/qemu-argv/key-value-sev.argv */
}

static void
testOpts(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(MhQemuOpts) opts = mhQemuOptsParse("socket,id=x,path=/a,,b,server,wait=off", "backend", &err);
    g_autofree char *text = NULL;
    uint64_t size;
    bool b;

    g_assert_no_error(err);
    g_assert_cmpstr(mhQemuOptsGet(opts, "backend"), ==, "socket");
    g_assert_cmpstr(mhQemuOptsGet(opts, "path"), ==, "/a,b");
    g_assert_true(mhQemuOptsHas(opts, "server"));
    g_assert_null(mhQemuOptsGet(opts, "server"));
    mhQemuOptsSet(opts, "wait", "on");
    g_assert_cmpuint(mhQemuOptsRemove(opts, "id"), ==, 1);
    text = mhQemuOptsFormat(opts, "backend");
    g_assert_cmpstr(text, ==, "socket,path=/a,,b,server,wait=on");
    g_assert_null(mhQemuOptsParse(",x=1", NULL, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
    g_clear_error(&err);

    g_assert_true(mhQemuParseSize("x", "128M", 1, &size, NULL));
    g_assert_cmpuint(size, ==, 128ULL << 20);
    g_assert_true(mhQemuParseSize("x", "2", 1ULL << 20, &size, NULL));
    g_assert_cmpuint(size, ==, 2ULL << 20);
    g_assert_false(mhQemuParseSize("x", "12Q", 1, &size, &err));
    g_clear_error(&err);
    g_assert_true(mhQemuParseBool("b", "on", &b, NULL) && b);
    g_assert_true(mhQemuParseBool("b", "off", &b, NULL) && !b);
    g_assert_false(mhQemuParseBool("b", "maybe", &b, &err));
}

/* An image with an OVMF-style GUIDed table at its end. */
static void
testFirmwareTable(void)
{
    g_autofree uint8_t *img = g_malloc0(8192);
    uint8_t footer[16], secret[16], other[16];
    uint8_t *end = img + 8192 - 0x20;   /* footer GUID ends here */
    uint8_t *p;
    uint32_t base = 0, size = 0;
    const uint8_t *data;
    size_t dlen;

    g_assert_true(mhQemuFwGuidParse(MH_QEMU_FW_TABLE_FOOTER_GUID, footer));
    g_assert_true(mhQemuFwGuidParse(MH_QEMU_FW_SEV_SECRET_GUID, secret));
    g_assert_true(mhQemuFwGuidParse("00f771de-1a7e-4fcb-890e-68c77e2fb44e", other));
    g_assert_cmphex(secret[0], ==, 0x61);     /* 4c2eb361: little-endian */
    g_assert_false(mhQemuFwGuidParse("4c2eb361-7d9b-4cc3-8081-127c90d3d29", secret));

    /* footer: GUID at end-16, total length (u16) before it */
    memcpy(end - 16, footer, 16);
    p = end - 16 - 2;
    /* entries, walked backwards from p: secret area {base,size} then
     * another one (4 bytes) */
    {
        uint8_t e1[8 + 2 + 16] = { 0x00, 0xc0, 0x80, 0x00, 0x00, 0x0c, 0x00, 0x00,
                                   8 + 18, 0 };
        uint8_t e2[4 + 2 + 16] = { 1, 2, 3, 4, 4 + 18, 0 };
        uint16_t total = sizeof(e1) + sizeof(e2) + 18;

        memcpy(e1 + 10, secret, 16);
        memcpy(e2 + 6, other, 16);
        memcpy(p - sizeof(e1), e1, sizeof(e1));
        memcpy(p - sizeof(e1) - sizeof(e2), e2, sizeof(e2));
        p[0] = total & 0xff;
        p[1] = total >> 8;
    }
    g_assert_true(mhQemuFwFindArea(img, 8192, MH_QEMU_FW_SEV_SECRET_GUID, &base, &size));
    g_assert_cmphex(base, ==, 0x80c000);
    g_assert_cmphex(size, ==, 0xc00);
    g_assert_true(mhQemuFwTableFind(img, 8192, "00f771de-1a7e-4fcb-890e-68c77e2fb44e", &data, &dlen));
    g_assert_cmpuint(dlen, ==, 4);
    g_assert_cmpuint(data[3], ==, 4);
    g_assert_false(mhQemuFwTableFind(img, 8192, MH_QEMU_FW_SEV_HASH_TABLE_GUID, &data, &dlen));
    /* A corrupt length is refused, not followed. */
    (end - 18)[1] = 0xff;
    g_assert_false(mhQemuFwFindArea(img, 8192, MH_QEMU_FW_SEV_SECRET_GUID, &base, &size));
    /* No footer at all. */
    g_assert_false(mhQemuFwFindArea(img, 4096, MH_QEMU_FW_SEV_SECRET_GUID, &base, &size));
}

static void
testRamLayout(void)
{
    g_autoptr(GArray) small = mhQemuRamLayout("pc-q35-7.2", 128ULL << 20);
    g_autoptr(GArray) big = mhQemuRamLayout("pc-q35-7.2", 4ULL << 30);
    g_autoptr(GArray) pc = mhQemuRamLayout("pc-i440fx-7.2", 4ULL << 30);
    g_autoptr(GArray) other = mhQemuRamLayout("microvm", 4ULL << 30);
    g_autoptr(MhQemuRam) ram = NULL;
    g_autoptr(GError) err = NULL;
    uint8_t buf[4] = { 1, 2, 3, 4 }, back[4];
    MhQemuRamRegion *r;

    g_assert_cmpuint(small->len, ==, 1);
    g_assert_cmpuint(big->len, ==, 2);
    r = &g_array_index(big, MhQemuRamRegion, 0);
    g_assert_cmphex(r->size, ==, 0x80000000ULL);
    r = &g_array_index(big, MhQemuRamRegion, 1);
    g_assert_cmphex(r->gpa, ==, 0x100000000ULL);
    g_assert_cmphex(r->offset, ==, 0x80000000ULL);
    g_assert_cmphex(r->size, ==, 0x80000000ULL);
    g_assert_cmphex(g_array_index(pc, MhQemuRamRegion, 0).size, ==, 0xc0000000ULL);
    g_assert_cmpuint(other->len, ==, 1);

    ram = mhQemuRamNew("test", 2 << 20, "q35", &err);
    g_assert_no_error(err);
    g_assert_true(mhQemuRamWrite(ram, 0x1ffffc, buf, 4, &err));
    g_assert_true(mhQemuRamRead(ram, 0x1ffffc, back, 4, &err));
    g_assert_cmpmem(buf, 4, back, 4);
    g_assert_true(mhQemuRamGetBase(ram)[0x1ffffc] == 1);
    g_assert_false(mhQemuRamWrite(ram, 0x1ffffd, buf, 4, &err));
    g_assert_error(err, MH_ERROR, MH_ERROR_INVALID);
    g_clear_error(&err);
    g_assert_null(mhQemuRamTranslate(ram, G_MAXUINT64 - 1, 4, &err));
    g_clear_error(&err);
    g_assert_null(mhQemuRamNew("bad", 1000, "q35", &err));
}

/* Guest RAM on huge pages: one 4 KiB write allocates a whole 2 MiB page
 * of the file, and QEMU's view (another open of /proc/self/fd/N, as its
 * memory-backend-file does) and ours are the same pages. */
static void
testRamHuge(void)
{
    g_autoptr(MhQemuRam) ram = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    uint8_t page[4096], back[4];
    struct stat st;
    int fd;

    ram = mhQemuRamNew("test", 8 << 20, "q35", &err);
    g_assert_no_error(err);
    g_test_message("backing: %s", mhQemuRamGetBacking(ram));
    g_assert_cmpint(fcntl(mhQemuRamGetFd(ram), F_GETFD), ==, 0);    /* QEMU inherits it */
    if (!g_str_has_prefix(mhQemuRamGetBacking(ram), "2 MiB")) {
        g_test_skip(mhQemuRamGetBacking(ram));
        return;
    }
    memset(page, 0xa5, sizeof(page));
    g_assert_cmpint(pwrite(mhQemuRamGetFd(ram), page, sizeof(page), 2 << 20), ==, sizeof(page));
    g_assert_cmpint(fstat(mhQemuRamGetFd(ram), &st), ==, 0);
    g_assert_cmpint((gint64)st.st_blocks * 512, ==, 2 << 20);
    g_assert_cmpint(mhQemuRamGetBase(ram)[(2 << 20) + 4095], ==, 0xa5);
    path = g_strdup_printf("/proc/self/fd/%d", mhQemuRamGetFd(ram));
    g_assert_cmpint((fd = open(path, O_RDWR)), >=, 0);
    g_assert_cmpint(pwrite(fd, "MHMH", 4, 16), ==, 4);
    close(fd);
    g_assert_true(mhQemuRamRead(ram, 16, back, 4, &err));
    g_assert_cmpmem(back, 4, "MHMH", 4);
}

static void
writeProcFile(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, text, strlen(text)), ==, (gssize)strlen(text));
    close(fd);
}

static bool
userNamespaceWorks(void)
{
    int status;
    pid_t pid = fork();

    if (pid == 0)
        _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0;
}

/* Where no user namespace can be made, guest RAM falls back to a memfd
 * and the log names the step that failed. Made real in a subprocess: in
 * a user namespace of its own, whose limit of further user namespaces is
 * set to 0. */
static void
testRamFallback(void)
{
    if (g_test_subprocess()) {
        g_autoptr(MhQemuRam) ram = NULL;
        g_autoptr(GError) err = NULL;
        g_autofree char *map = g_strdup_printf("0 %u 1", (unsigned)geteuid());

        g_assert_cmpint(unshare(CLONE_NEWUSER), ==, 0);
        writeProcFile("/proc/self/uid_map", map);
        writeProcFile("/proc/sys/user/max_user_namespaces", "0");
        ram = mhQemuRamNew("test", 4 << 20, "q35", &err);
        g_assert_no_error(err);
        printf("backing: %s\n", mhQemuRamGetBacking(ram));
        g_assert_true(g_str_has_prefix(mhQemuRamGetBacking(ram),
                                       "4 KiB pages (memfd; no huge-page tmpfs: "
                                       "unshare(CLONE_NEWUSER|CLONE_NEWNS): "));
        g_assert_true(mhQemuRamWrite(ram, 0x1000, "MH", 2, &err));
        return;
    }
    if (!userNamespaceWorks()) {
        g_test_skip("this process cannot make a user namespace");
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("*backing: 4 KiB pages (memfd; no huge-page tmpfs: unshare*");
}

/* qemu-mh.conf: defaults without a file, the three settings with
 * comments, and refusals that name the file, the line and the key. */
static void
testConf(void)
{
    g_autofree char *dir = g_dir_make_tmp("mh-qemu-conf-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "qemu-mh.conf", NULL);
    static const struct { const char *text; const char *needle; } bad[] = {
        { "real_qemu = /usr/bin/qemu\n", "line 1: real_qemu must be an absolute path" },
        { "# a comment\nplatform_dir = \"relative\"\n", "line 2: platform_dir" },
        { "migrate_key_wait = 0\n", "migrate_key_wait must be a number of seconds" },
        { "migrate_key_wait = 30s\n", "not 30s" },
        { "migrate_stall_timeout = 3601\n", "migrate_stall_timeout must be a number of seconds" },
        { "colour = \"blue\"\n", "unknown setting 'colour'" },
        { "real_qemu\n", "expected 'key = value'" },
        { "real_qemu = \"/a\" trailing\n", "unexpected text after the value" },
    };
    g_autoptr(MhQemuConf) defaults = NULL;
    g_autoptr(MhQemuConf) conf = NULL;
    g_autoptr(GError) err = NULL;

    g_assert_nonnull(dir);
    defaults = mhQemuConfLoad(path, &err);
    g_assert_no_error(err);
    g_assert_null(defaults->path);
    g_assert_cmpstr(defaults->real_qemu, ==, "/usr/bin/qemu-system-x86_64");
    g_assert_null(defaults->platform_dir);
    g_assert_cmpuint(defaults->migrate_key_wait_s, ==, 30);
    g_assert_cmpuint(defaults->migrate_stall_timeout_s, ==, 120);

    g_assert_true(g_file_set_contents(path,
        "# qemu-mh.conf\n\nreal_qemu = \"/opt/q/bin/qemu\"   # patched\n"
        "platform_dir = \"/srv/psp\"\nmigrate_key_wait = 5 # s\nmigrate_stall_timeout = 9\n",
        -1, NULL));
    conf = mhQemuConfLoad(path, &err);
    g_assert_no_error(err);
    g_assert_cmpstr(conf->path, ==, path);
    g_assert_cmpstr(conf->real_qemu, ==, "/opt/q/bin/qemu");
    g_assert_cmpstr(conf->platform_dir, ==, "/srv/psp");
    g_assert_cmpuint(conf->migrate_key_wait_s, ==, 5);
    g_assert_cmpuint(conf->migrate_stall_timeout_s, ==, 9);

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(MhQemuConf) none = NULL;
        g_autoptr(GError) e = NULL;

        g_assert_true(g_file_set_contents(path, bad[i].text, -1, NULL));
        none = mhQemuConfLoad(path, &e);
        g_assert_null(none);
        g_assert_nonnull(e);
        if (!g_str_has_prefix(e->message, path) || !strstr(e->message, bad[i].needle))
            g_error("case %zu: '%s' does not name the file and '%s'", i, e->message,
                    bad[i].needle);
    }
    unlink(path);
    rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemu/args/sev-domain", testSevDomain);
    g_test_add_func("/qemu/args/probe", testProbe);
    g_test_add_func("/qemu/args/key-value-sev", testKeyValueSev);
    g_test_add_func("/qemu/opts", testOpts);
    g_test_add_func("/qemu/conf", testConf);
    g_test_add_func("/qemu/firmware-table", testFirmwareTable);
    g_test_add_func("/qemu/ram-layout", testRamLayout);
    g_test_add_func("/qemu/ram-huge", testRamHuge);
    g_test_add_func("/qemu/ram-fallback", testRamFallback);
    return g_test_run();
}
