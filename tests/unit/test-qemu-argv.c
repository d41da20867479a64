/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh's command-line rewriting against golden files, like libvirt's
 * qemuxml2argv data: tests/data/qemu-argv/NAME.args holds what libvirt
 * passes (one argument per line), NAME.argv what qemu-mh runs; for
 * NAME-invalid.args, NAME-invalid.err holds the refusal. The launcher's
 * fds are fixed: monitor i gets fd 100+i, guest RAM fd 99.
 *
 * MH_TEST_REGENERATE=1 rewrites the expected files from what the code does
 * now (then read the diff). */
#include "sim/qemu/mh-qemu-args.h"

#include <string.h>

#define MH_TEST_REAL_QEMU "qemu-system-x86_64"

static const char *dataDir;

static bool
regenerate(void)
{
    const char *env = g_getenv("MH_TEST_REGENERATE");

    return env && g_str_equal(env, "1");
}

/* The actual output for one .args file: the rewritten argv, or the error. */
static char *
rewrite(const char *args_file, bool *failed)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(MhQemuArgs) args = NULL;
    g_auto(GStrv) out = NULL;
    guint n;

    g_assert_true(g_file_get_contents(args_file, &text, NULL, NULL));
    lines = g_strsplit(text, "\n", -1);
    n = g_strv_length(lines);
    if (n > 0 && !*lines[n - 1])
        g_clear_pointer(&lines[--n], g_free);
    if (!(args = mhQemuArgsParse(n, lines, &err))) {
        *failed = true;
        return g_strdup_printf("%s\n", err->message);
    }
    for (guint i = 0; i < args->monitors->len; i++)
        ((MhQemuMonitor *)g_ptr_array_index(args->monitors, i))->qemu_fd = 100 + i;
    args->ram_fd = 99;
    if (!(out = mhQemuArgsBuild(args, MH_TEST_REAL_QEMU, &err))) {
        *failed = true;
        return g_strdup_printf("%s\n", err->message);
    }
    *failed = false;
    {
        g_autofree char *joined = g_strjoinv("\n", out);
        return g_strdup_printf("%s\n", joined);
    }
}

static void
testGolden(gconstpointer data)
{
    const char *name = data;
    bool invalid = g_str_has_suffix(name, "-invalid");
    g_autofree char *args_file = g_strdup_printf("%s/%s.args", dataDir, name);
    g_autofree char *want_file = g_strdup_printf("%s/%s.%s", dataDir, name,
                                                 invalid ? "err" : "argv");
    g_autofree char *want = NULL;
    g_autofree char *got = NULL;
    bool failed = false;

    got = rewrite(args_file, &failed);
    if (failed != invalid)
        g_error("%s: expected %s, got: %s", name, invalid ? "a refusal" : "an argv", got);
    if (regenerate()) {
        g_assert_true(g_file_set_contents(want_file, got, -1, NULL));
        return;
    }
    if (!g_file_get_contents(want_file, &want, NULL, NULL))
        g_error("%s: no expected output %s (MH_TEST_REGENERATE=1 writes it)", name, want_file);
    if (!g_str_equal(want, got))
        g_error("%s: output differs from %s\n--- expected\n%s--- got\n%s", name, want_file,
                want, got);
}

static int
compareNames(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    g_autoptr(GDir) d = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *src = g_getenv("MH_SOURCE_DIR");
    const char *entry;

    g_test_init(&argc, &argv, NULL);
    dir = g_build_filename(src ? src : ".", "tests", "data", "qemu-argv", NULL);
    dataDir = dir;
    g_assert_nonnull((d = g_dir_open(dataDir, 0, NULL)));
    while ((entry = g_dir_read_name(d))) {
        if (g_str_has_suffix(entry, ".args"))
            g_ptr_array_add(names, g_strndup(entry, strlen(entry) - strlen(".args")));
    }
    g_assert_cmpuint(names->len, >, 0);
    g_ptr_array_sort(names, compareNames);
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autofree char *path = g_strdup_printf("/qemu/argv/%s", name);

        g_test_add_data_func(path, name, testGolden);
    }
    return g_test_run();
}
