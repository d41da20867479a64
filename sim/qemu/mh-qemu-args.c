/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Command-line rewriting for qemu-mh, see mh-qemu-args.h. */
#include "sim/qemu/mh-qemu-args.h"
#include "conf/mh-qemu-opts.h"

#include "util/mh-error.h"
#include "util/mh-i18n.h"
#include "util/mh-util.h"

#include <string.h>

/* The id qemu-mh gives a RAM backend it adds itself. */
#define MH_QEMU_RAM_ID "mh.ram"

typedef enum {
    MH_QEMU_ARG_KEEP,               /* as given */
    MH_QEMU_ARG_DROP,               /* consumed by qemu-mh */
    MH_QEMU_ARG_MACHINE,            /* rebuilt from opts */
    MH_QEMU_ARG_MONITOR_CHARDEV,    /* replaced by QEMU's socketpair end */
    MH_QEMU_ARG_QMP,                /* -qmp: replaced by -chardev + -mon */
    MH_QEMU_ARG_RAM,                /* the guest RAM backend object */
} MhQemuArgKind;

struct _MhQemuArgItem {
    char *opt;                      /* "-object", or NULL for a bare token */
    char *value;                    /* NULL for flags */
    MhQemuArgKind kind;
    MhQemuOpts *opts;               /* -machine, -chardev, -mon */
    JsonObject *json;               /* -object, -blockdev */
    int monitor;                    /* index into monitors */
};

typedef bool (*MhQemuArgHandler)(MhQemuArgs *args, MhQemuArgItem *item, GError **error);

typedef struct {
    const char *name;
    bool has_arg;
    MhQemuArgHandler handler;
} MhQemuArgOption;

static void
mhQemuArgItemFree(gpointer p)
{
    MhQemuArgItem *item = p;

    g_free(item->opt);
    g_free(item->value);
    mhQemuOptsFree(item->opts);
    if (item->json)
        json_object_unref(item->json);
    g_free(item);
}

static void
mhQemuMonitorFree(gpointer p)
{
    MhQemuMonitor *mon = p;

    g_free(mon->id);
    g_free(mon->path);
    g_free(mon);
}

static void
mhQemuSevArgsFree(MhQemuSevArgs *sev)
{
    if (!sev)
        return;
    g_free(sev->id);
    g_free(sev->dh_cert_file);
    g_free(sev->session_file);
    g_free(sev);
}

void
mhQemuArgsFree(MhQemuArgs *args)
{
    if (!args)
        return;
    g_ptr_array_unref(args->items);
    g_ptr_array_unref(args->monitors);
    g_free(args->pidfile);
    mhQemuSevArgsFree(args->sev);
    mhConfHelperFree(args->helper);
    g_free(args->name);
    g_free(args->machine_type);
    g_free(args->ram_backend_id);
    g_free(args->firmware);
    g_free(args->kernel);
    g_free(args->initrd);
    g_free(args->append);
    g_free(args);
}

static MhQemuMonitor *
mhQemuArgsAddMonitor(MhQemuArgs *args, const char *id, int listen_fd, const char *path,
                     int *index)
{
    MhQemuMonitor *mon = g_new0(MhQemuMonitor, 1);

    mon->id = g_strdup(id);
    mon->listen_fd = listen_fd;
    mon->path = g_strdup(path);
    mon->qemu_fd = -1;
    *index = args->monitors->len;
    g_ptr_array_add(args->monitors, mon);
    return mon;
}

/* ---- option handlers ---- */

static bool
mhQemuArgSevGuest(MhQemuArgs *args, JsonObject *obj, GError **error)
{
    g_autoptr(GError) err = NULL;
    MhQemuSevArgs *sev;
    bool present;
    uint64_t v;

    if (args->sev) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("more than one sev-guest object on the command line"));
        return false;
    }
    sev = g_new0(MhQemuSevArgs, 1);
    args->sev = sev;
    sev->id = g_strdup(mhQemuJsonGetString(obj, "id"));
    /* QEMU's defaults: policy 0x1 (no debug); cbitpos and
     * reduced-phys-bits 0, which the checks at launch then refuse. */
    sev->policy = 0x1;
    if (!mhQemuJsonGetUInt(obj, "policy", G_MAXUINT32, &present, &v, error))
        return false;
    if (present)
        sev->policy = v;
    if (!mhQemuJsonGetUInt(obj, "cbitpos", G_MAXUINT32, &present, &v, error))
        return false;
    if (present)
        sev->cbitpos = v;
    if (!mhQemuJsonGetUInt(obj, "reduced-phys-bits", G_MAXUINT32, &present, &v, error))
        return false;
    if (present)
        sev->reduced_phys_bits = v;
    if (!mhQemuJsonGetBool(obj, "kernel-hashes", &present, &sev->kernel_hashes, error))
        return false;
    sev->dh_cert_file = g_strdup(mhQemuJsonGetString(obj, "dh-cert-file"));
    sev->session_file = g_strdup(mhQemuJsonGetString(obj, "session-file"));
    if (!sev->id) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("sev-guest object without an id"));
        return false;
    }
    return true;
}

static bool
mhQemuArgObject(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    const char *type;

    /* The mirror-helper object is src/conf's syntax, checked there. */
    if (mhConfIsQemuObject(item->value)) {
        if (args->helper) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("more than one mirror-helper object on the command line"));
            return false;
        }
        if (!(args->helper = mhConfHelperFromQemuObject(item->value, error)))
            return false;
        item->kind = MH_QEMU_ARG_DROP;
        return true;
    }
    if (!(item->json = mhQemuOptionToJson(item->value, "qom-type", error)))
        return false;
    type = mhQemuJsonGetString(item->json, "qom-type");
    if (g_strcmp0(type, "sev-guest") == 0) {
        item->kind = MH_QEMU_ARG_DROP;
        if (!mhQemuArgSevGuest(args, item->json, error)) {
            mhErrorPrefix(error, _("-object %s: "), item->value);
            return false;
        }
    }
    return true;
}

static bool
mhQemuArgMachine(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    if (!(item->opts = mhQemuOptsParse(item->value, "type", error)))
        return false;
    item->kind = MH_QEMU_ARG_MACHINE;
    if (mhQemuOptsGet(item->opts, "type")) {
        g_free(args->machine_type);
        args->machine_type = g_strdup(mhQemuOptsGet(item->opts, "type"));
        args->probing = g_str_equal(args->machine_type, "none");
    }
    if (mhQemuOptsGet(item->opts, "memory-backend")) {
        g_free(args->ram_backend_id);
        args->ram_backend_id = g_strdup(mhQemuOptsGet(item->opts, "memory-backend"));
    }
    return true;
}

static bool
mhQemuArgParseOnly(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    /* -chardev and -mon are resolved once all are known. */
    return (item->opts = mhQemuOptsParse(item->value, g_str_equal(item->opt, "-mon") ?
                                         "chardev" : "backend", error)) != NULL;
}

static bool
mhQemuArgQmp(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    g_autoptr(MhQemuOpts) opts = mhQemuOptsParse(item->value, "addr", error);
    const char *addr;
    const char *server;
    bool listen = false;
    g_autofree char *id = NULL;

    if (!opts)
        return false;
    addr = mhQemuOptsGet(opts, "addr");
    server = mhQemuOptsGet(opts, "server");
    if (mhQemuOptsHas(opts, "server") && !server)
        listen = true;
    else if (server && !mhQemuParseBool("server", server, &listen, error))
        return false;
    /* Only the listening Unix socket form is proxied; anything else is
     * left to QEMU (qemu-mh's commands are then not available there). */
    if (!addr || !g_str_has_prefix(addr, "unix:") || !listen)
        return true;
    id = g_strdup_printf("mh-qmp%u", args->monitors->len);
    mhQemuArgsAddMonitor(args, id, -1, addr + strlen("unix:"), &item->monitor);
    item->kind = MH_QEMU_ARG_QMP;
    return true;
}

static bool
mhQemuArgPidfile(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    g_free(args->pidfile);
    args->pidfile = g_strdup(item->value);
    item->kind = MH_QEMU_ARG_DROP;
    return true;
}

static bool
mhQemuArgDaemonize(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    args->daemonize = true;
    item->kind = MH_QEMU_ARG_DROP;
    return true;
}

static bool
mhQemuArgBlockdev(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    return (item->json = mhQemuOptionToJson(item->value, NULL, error)) != NULL;
}

static bool
mhQemuArgBios(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    g_free(args->firmware);
    args->firmware = g_strdup(item->value);
    return true;
}

static bool
mhQemuArgDrive(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    g_autoptr(MhQemuOpts) opts = mhQemuOptsParse(item->value, NULL, error);
    const char *unit;

    if (!opts)
        return false;
    if (g_strcmp0(mhQemuOptsGet(opts, "if"), "pflash") != 0 || !mhQemuOptsGet(opts, "file"))
        return true;
    unit = mhQemuOptsGet(opts, "unit");
    if (unit && strcmp(unit, "0") != 0)
        return true;
    if (!args->firmware)
        args->firmware = g_strdup(mhQemuOptsGet(opts, "file"));
    return true;
}

static bool
mhQemuArgString(char **field, MhQemuArgItem *item)
{
    g_free(*field);
    *field = g_strdup(item->value);
    return true;
}

static bool
mhQemuArgKernel(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    return mhQemuArgString(&args->kernel, item);
}

static bool
mhQemuArgInitrd(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    return mhQemuArgString(&args->initrd, item);
}

static bool
mhQemuArgAppend(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    return mhQemuArgString(&args->append, item);
}

static bool
mhQemuArgName(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    g_autoptr(MhQemuOpts) opts = mhQemuOptsParse(item->value, "guest", error);

    if (!opts)
        return false;
    g_free(args->name);
    args->name = g_strdup(mhQemuOptsGet(opts, "guest"));
    return true;
}

/* The domain UUID binds the MH's session keys to this guest. */
static bool
mhQemuArgUuid(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    g_autofree char *hex = NULL;
    g_autoptr(GBytes) bytes = NULL;

    if (!g_uuid_string_is_valid(item->value)) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("-uuid: '%s' is not a UUID"), item->value);
        return false;
    }
    hex = g_strdup(item->value);
    g_strdelimit(hex, "-", ' ');
    for (char *r = hex, *w = hex;; r++) {
        if (*r != ' ')
            *w++ = *r;
        if (!*r)
            break;
    }
    if (!mhUtilParseHex("-uuid", hex, sizeof(args->uuid), &bytes, error))
        return false;
    memcpy(args->uuid, g_bytes_get_data(bytes, NULL), sizeof(args->uuid));
    args->has_uuid = true;
    return true;
}

static bool
mhQemuArgMem(MhQemuArgs *args, MhQemuArgItem *item, GError **error)
{
    g_autoptr(MhQemuOpts) opts = mhQemuOptsParse(item->value, "size", error);
    const char *size;

    if (!opts)
        return false;
    if ((size = mhQemuOptsGet(opts, "size")) &&
        !mhQemuParseSize("-m", size, 1ULL << 20, &args->ram_size, error))
        return false;
    return true;
}

/* Options qemu-mh reads or rewrites; all others pass through. */
static const MhQemuArgOption mhQemuArgOptions[] = {
    { "object", true, mhQemuArgObject },
    { "machine", true, mhQemuArgMachine },
    { "M", true, mhQemuArgMachine },
    { "chardev", true, mhQemuArgParseOnly },
    { "mon", true, mhQemuArgParseOnly },
    { "qmp", true, mhQemuArgQmp },
    { "pidfile", true, mhQemuArgPidfile },
    { "daemonize", false, mhQemuArgDaemonize },
    { "blockdev", true, mhQemuArgBlockdev },
    { "bios", true, mhQemuArgBios },
    { "drive", true, mhQemuArgDrive },
    { "kernel", true, mhQemuArgKernel },
    { "initrd", true, mhQemuArgInitrd },
    { "append", true, mhQemuArgAppend },
    { "name", true, mhQemuArgName },
    { "m", true, mhQemuArgMem },
    { "uuid", true, mhQemuArgUuid },
    { NULL, false, NULL },
};

static const MhQemuArgOption *
mhQemuArgOptionFind(const char *token)
{
    if (token[0] != '-')
        return NULL;
    token += (token[1] == '-') ? 2 : 1;
    for (const MhQemuArgOption *o = mhQemuArgOptions; o->name; o++) {
        if (strcmp(o->name, token) == 0)
            return o;
    }
    return NULL;
}

/* ---- resolving what depends on several options ---- */

static MhQemuArgItem *
mhQemuArgsFindItem(MhQemuArgs *args, const char *opt, const char *key, const char *value)
{
    for (guint i = 0; i < args->items->len; i++) {
        MhQemuArgItem *item = g_ptr_array_index(args->items, i);

        if (g_strcmp0(item->opt, opt) != 0)
            continue;
        if (item->opts && g_strcmp0(mhQemuOptsGet(item->opts, key), value) == 0)
            return item;
        if (item->json && g_strcmp0(mhQemuJsonGetString(item->json, key), value) == 0)
            return item;
    }
    return NULL;
}

static void
mhQemuArgsResolveMonitors(MhQemuArgs *args)
{
    for (guint i = 0; i < args->items->len; i++) {
        MhQemuArgItem *mon = g_ptr_array_index(args->items, i);
        MhQemuArgItem *chr;
        const char *id, *fd, *path, *server;
        bool listen = false;
        gint64 fdnum = -1;

        if (g_strcmp0(mon->opt, "-mon") != 0 ||
            g_strcmp0(mhQemuOptsGet(mon->opts, "mode"), "control") != 0)
            continue;
        id = mhQemuOptsGet(mon->opts, "chardev");
        if (!id || !(chr = mhQemuArgsFindItem(args, "-chardev", "id", id)) ||
            chr->kind != MH_QEMU_ARG_KEEP ||
            g_strcmp0(mhQemuOptsGet(chr->opts, "backend"), "socket") != 0)
            continue;
        fd = mhQemuOptsGet(chr->opts, "fd");
        path = mhQemuOptsGet(chr->opts, "path");
        server = mhQemuOptsGet(chr->opts, "server");
        if (mhQemuOptsHas(chr->opts, "server") && !server)
            listen = true;
        else if (server && !mhQemuParseBool("server", server, &listen, NULL))
            continue;
        if (!listen)
            continue;   /* QEMU as a client: left alone */
        if (fd && !(g_ascii_string_to_signed(fd, 10, 0, G_MAXINT, &fdnum, NULL)))
            continue;
        if (!fd && !path)
            continue;
        mhQemuArgsAddMonitor(args, id, (int)fdnum, fd ? NULL : path, &chr->monitor);
        chr->kind = MH_QEMU_ARG_MONITOR_CHARDEV;
    }
}

static void
mhQemuArgsResolveFirmware(MhQemuArgs *args)
{
    MhQemuArgItem *machine = NULL;
    const char *node;
    JsonObject *obj = NULL;

    for (guint i = 0; i < args->items->len; i++) {
        MhQemuArgItem *item = g_ptr_array_index(args->items, i);
        if (item->kind == MH_QEMU_ARG_MACHINE)
            machine = item;
    }
    if (!machine || !(node = mhQemuOptsGet(machine->opts, "pflash0")))
        return;
    /* pflash0 names a format node whose "file" is the protocol node
     * (by name or inline) that carries the filename. */
    for (int depth = 0; depth < 8 && node; depth++) {
        MhQemuArgItem *item = mhQemuArgsFindItem(args, "-blockdev", "node-name", node);
        JsonNode *file;

        node = NULL;
        if (!item)
            return;
        obj = item->json;
        while (obj) {
            if (mhQemuJsonGetString(obj, "filename")) {
                g_free(args->firmware);
                args->firmware = g_strdup(mhQemuJsonGetString(obj, "filename"));
                return;
            }
            if (mhQemuJsonGetString(obj, "file.filename")) {
                g_free(args->firmware);
                args->firmware = g_strdup(mhQemuJsonGetString(obj, "file.filename"));
                return;
            }
            file = json_object_get_member(obj, "file");
            if (file && JSON_NODE_HOLDS_OBJECT(file)) {
                obj = json_node_get_object(file);
                continue;
            }
            if (file && JSON_NODE_HOLDS_VALUE(file) &&
                json_node_get_value_type(file) == G_TYPE_STRING)
                node = json_node_get_string(file);
            break;
        }
    }
}

static MhQemuArgItem *
mhQemuArgsMachine(MhQemuArgs *args)
{
    for (guint i = 0; i < args->items->len; i++) {
        MhQemuArgItem *item = g_ptr_array_index(args->items, i);
        if (item->kind == MH_QEMU_ARG_MACHINE)
            return item;
    }
    return NULL;
}

static bool
mhQemuArgsResolveRam(MhQemuArgs *args, GError **error)
{
    MhQemuArgItem *machine = mhQemuArgsMachine(args);
    MhQemuArgItem *obj = NULL;
    const char *type;
    bool present;
    uint64_t size;

    if ((!args->sev && !args->helper) || args->probing)
        return true;
    if (!machine) {
        g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                    _("an SEV or mirror-helper guest needs a -machine option"));
        return false;
    }
    for (guint i = 0; i < args->items->len; i++) {
        MhQemuArgItem *item = g_ptr_array_index(args->items, i);
        /* -numa is not an option qemu-mh handles: a bare token here */
        if (!item->opt && item->value &&
            (strcmp(item->value, "-numa") == 0 || strcmp(item->value, "--numa") == 0)) {
            g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                        _("qemu-mh does not support NUMA guests with SEV or the mirror helper"));
            return false;
        }
    }

    if (args->ram_backend_id) {
        obj = mhQemuArgsFindItem(args, "-object", "id", args->ram_backend_id);
        if (!obj || !obj->json) {
            g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                        _("memory backend '%s' of -machine is not defined"),
                        args->ram_backend_id);
            return false;
        }
        type = mhQemuJsonGetString(obj->json, "qom-type");
        if (g_strcmp0(type, "memory-backend-ram") != 0 &&
            g_strcmp0(type, "memory-backend-memfd") != 0) {
            g_set_error(error, MH_ERROR, MH_ERROR_UNSUPPORTED,
                        _("memory backend '%s' has type '%s'; qemu-mh can share only "
                          "memory-backend-ram or memory-backend-memfd"),
                        args->ram_backend_id, type ? type : "?");
            return false;
        }
        /* JSON gives a number, key=value a size string ("64M") */
        if (mhQemuJsonGetString(obj->json, "size")) {
            if (!mhQemuParseSize("size", mhQemuJsonGetString(obj->json, "size"), 1,
                                 &args->ram_size, error))
                return false;
        } else {
            if (!mhQemuJsonGetUInt(obj->json, "size", G_MAXUINT64, &present, &size, error))
                return false;
            if (present)
                args->ram_size = size;
        }
        obj->kind = MH_QEMU_ARG_RAM;
    } else {
        /* No backend: add one with the size of -m (QEMU's default is
         * 128 MiB) and point the machine at it. */
        obj = g_new0(MhQemuArgItem, 1);
        obj->opt = g_strdup("-object");
        obj->kind = MH_QEMU_ARG_RAM;
        obj->json = json_object_new();
        obj->monitor = -1;
        if (!args->ram_size)
            args->ram_size = 128ULL << 20;
        json_object_set_string_member(obj->json, "qom-type", "memory-backend-ram");
        json_object_set_string_member(obj->json, "id", MH_QEMU_RAM_ID);
        json_object_set_int_member(obj->json, "size", args->ram_size);
        g_ptr_array_add(args->items, obj);
        args->ram_backend_id = g_strdup(MH_QEMU_RAM_ID);
        mhQemuOptsSet(machine->opts, "memory-backend", MH_QEMU_RAM_ID);
    }
    if (!args->ram_size) {
        g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                    _("memory backend '%s' has no size"), args->ram_backend_id);
        return false;
    }
    args->ram_shared = true;
    return true;
}

static void
mhQemuArgsResolveSev(MhQemuArgs *args)
{
    MhQemuArgItem *machine = mhQemuArgsMachine(args);
    static const char *const keys[] = { "confidential-guest-support", "memory-encryption" };

    if (!args->sev || !machine)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        if (g_strcmp0(mhQemuOptsGet(machine->opts, keys[i]), args->sev->id) == 0)
            mhQemuOptsRemove(machine->opts, keys[i]);
    }
}

MhQemuArgs *
mhQemuArgsParse(int argc, char *const *argv, GError **error)
{
    g_autoptr(MhQemuArgs) args = g_new0(MhQemuArgs, 1);

    args->items = g_ptr_array_new_with_free_func(mhQemuArgItemFree);
    args->monitors = g_ptr_array_new_with_free_func(mhQemuMonitorFree);
    args->ram_fd = -1;

    for (int i = 0; i < argc; i++) {
        const MhQemuArgOption *o = mhQemuArgOptionFind(argv[i]);
        MhQemuArgItem *item = g_new0(MhQemuArgItem, 1);

        item->kind = MH_QEMU_ARG_KEEP;
        item->monitor = -1;
        g_ptr_array_add(args->items, item);
        if (!o) {
            item->value = g_strdup(argv[i]);
            continue;
        }
        /* Normalize "--opt" to "-opt", as QEMU accepts both. */
        item->opt = g_strconcat("-", o->name, NULL);
        if (o->has_arg) {
            if (i + 1 >= argc) {
                g_set_error(error, MH_ERROR, MH_ERROR_INVALID,
                            _("option '%s' requires an argument"), argv[i]);
                return NULL;
            }
            item->value = g_strdup(argv[++i]);
        }
        if (!o->handler(args, item, error))
            return NULL;
    }
    mhQemuArgsResolveMonitors(args);
    mhQemuArgsResolveSev(args);
    mhQemuArgsResolveFirmware(args);
    if (!mhQemuArgsResolveRam(args, error))
        return NULL;
    return g_steal_pointer(&args);
}

/* A file backend on qemu-mh's memfd: QEMU maps the same pages, shared,
 * and x-ignore-shared applies to it. Written in the syntax it came in. */
static char *
mhQemuArgsFormatRam(const MhQemuArgs *args, MhQemuArgItem *item)
{
    static const char *const skip[] = {
        "qom-type", "id", "size", "share", "mem-path", "hugetlb", "hugetlbsize", "seal", NULL
    };
    g_autofree char *mem_path = g_strdup_printf("/proc/self/fd/%d", args->ram_fd);
    g_autoptr(JsonObject) obj = json_object_new();
    g_autoptr(GString) kv = g_string_new("memory-backend-file");
    GList *members = json_object_get_members(item->json);
    bool json = !item->value || item->value[0] == '{';

    json_object_set_string_member(obj, "qom-type", "memory-backend-file");
    json_object_set_string_member(obj, "id", args->ram_backend_id);
    json_object_set_int_member(obj, "size", args->ram_size);
    g_string_append_printf(kv, ",id=%s,size=%" G_GUINT64_FORMAT, args->ram_backend_id,
                           args->ram_size);
    for (GList *l = members; l; l = l->next) {
        const char *key = l->data;

        if (g_strv_contains(skip, key))
            continue;
        json_object_set_member(obj, key, json_node_copy(json_object_get_member(item->json, key)));
        if (mhQemuJsonGetString(item->json, key))
            g_string_append_printf(kv, ",%s=%s", key, mhQemuJsonGetString(item->json, key));
    }
    g_list_free(members);
    json_object_set_string_member(obj, "mem-path", mem_path);
    json_object_set_boolean_member(obj, "share", TRUE);
    g_string_append_printf(kv, ",mem-path=%s,share=on", mem_path);
    return json ? mhQemuJsonFormat(obj) : g_string_free(g_steal_pointer(&kv), FALSE);
}

GStrv
mhQemuArgsBuild(const MhQemuArgs *args, const char *real_qemu, GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);

    g_ptr_array_add(out, g_strdup(real_qemu));
    for (guint i = 0; i < args->items->len; i++) {
        MhQemuArgItem *item = g_ptr_array_index(args->items, i);
        MhQemuMonitor *mon = item->monitor >= 0 ?
            g_ptr_array_index(args->monitors, item->monitor) : NULL;

        switch (item->kind) {
        case MH_QEMU_ARG_KEEP:
            if (item->opt)
                g_ptr_array_add(out, g_strdup(item->opt));
            if (item->value)
                g_ptr_array_add(out, g_strdup(item->value));
            break;
        case MH_QEMU_ARG_DROP:
            break;
        case MH_QEMU_ARG_MACHINE:
            g_ptr_array_add(out, g_strdup(item->opt));
            g_ptr_array_add(out, mhQemuOptsFormat(item->opts, "type"));
            break;
        case MH_QEMU_ARG_MONITOR_CHARDEV:
        case MH_QEMU_ARG_QMP:
            if (!mon || mon->qemu_fd < 0) {
                g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                            _("monitor '%s' has no connection to QEMU"), mon ? mon->id : "?");
                return NULL;
            }
            g_ptr_array_add(out, g_strdup("-chardev"));
            g_ptr_array_add(out, g_strdup_printf("socket,id=%s,fd=%d", mon->id, mon->qemu_fd));
            if (item->kind == MH_QEMU_ARG_QMP) {
                g_ptr_array_add(out, g_strdup("-mon"));
                g_ptr_array_add(out, g_strdup_printf("chardev=%s,mode=control", mon->id));
            }
            break;
        case MH_QEMU_ARG_RAM:
            if (args->ram_fd < 0) {
                g_set_error(error, MH_ERROR, MH_ERROR_FAILED,
                            _("guest RAM '%s' has no memfd"), args->ram_backend_id);
                return NULL;
            }
            g_ptr_array_add(out, g_strdup("-object"));
            g_ptr_array_add(out, mhQemuArgsFormatRam(args, item));
            break;
        }
    }
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}
