/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Golden tests of the <mh:helper> domain feature (tests/data) and of the
 * QEMU object string.
 *
 * tests/data/NAME.xml            a whole domain that must be valid; its
 *                                canonical element is NAME.out.xml (empty
 *                                when the domain has no helper)
 * tests/data/NAME-invalid.xml    a domain that must be rejected with exactly
 *                                the messages in NAME-invalid.err, one per
 *                                line; "# schema: valid|invalid|none" there
 *                                says what mirror-helper.rng alone makes of
 *                                its <mh:helper> ("none": nothing to check),
 *                                "# libvirt: invalid" that libvirt's own
 *                                grammar rejects the document too.
 * Every <mh:helper> in every input, and every .out.xml, is also run through
 * schemas/mirror-helper.rng. MH_TEST_REGENERATE=1 rewrites the outputs from
 * the current results (review the diff!). */
#include "conf/mh-conf.h"
#include "conf/mh-conf-xml.h"
#include "util/mh-error.h"
#include "util/mh-util.h"

#include <string.h>
#include <libxml/parser.h>

#include "config.h"

static char *dataDir;
static bool regenerate;

static char *
testReadFile(const char *path)
{
    g_autoptr(GError) error = NULL;
    char *contents = NULL;

    if (!mhUtilReadFile(path, &contents, NULL, &error))
        g_error("%s", error->message);
    return contents;
}

static void
testWriteFile(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;

    if (!mhUtilWriteFile(path, text, strlen(text), 0644, &error))
        g_error("%s", error->message);
}

/* Run mirror-helper.rng over every <mh:helper> of the document; returns the
 * verdict "valid", "invalid" or "none". */
static const char *
testSchemaVerdict(const char *xml)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    xmlDocPtr doc = mhConfXmlParse(xml, "test", NULL);
    xmlNodePtr root;
    xmlNodePtr metadata;
    unsigned int checked = 0;
    bool ok = true;

    if (!doc)
        return "none";
    root = xmlDocGetRootElement(doc);
    metadata = mhConfXmlChild(root, "metadata");
    for (xmlNodePtr cur = metadata ? metadata->children : NULL; cur; cur = cur->next) {
        if (!mhConfXmlIsHelper(cur))
            continue;
        checked++;
        if (!mhConfSchemaValidateNode(cur, "<mh:helper>", problems))
            ok = false;
    }
    xmlFreeDoc(doc);
    for (guint i = 0; i < problems->len; i++)
        g_test_message("schema: %s", (const char *) g_ptr_array_index(problems, i));
    if (checked == 0)
        return "none";
    return ok ? "valid" : "invalid";
}

static bool
testLibvirtValid(const char *xml, const char *name, bool *checked)
{
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;

    *checked = mhConfLibvirtSchemaCheck(xml, name, problems, &error);
    if (!*checked) {
        if (!g_error_matches(error, MH_ERROR, MH_ERROR_UNSUPPORTED) &&
            !g_error_matches(error, MH_ERROR, MH_ERROR_INVALID))
            g_error("%s", error->message);
        /* malformed documents are "not valid" for libvirt either */
        return error->code == MH_ERROR_UNSUPPORTED;
    }
    for (guint i = 0; i < problems->len; i++)
        g_test_message("libvirt: %s", (const char *) g_ptr_array_index(problems, i));
    return problems->len == 0;
}

static char *
testDirective(const char *err, const char *key)
{
    g_auto(GStrv) lines = g_strsplit(err, "\n", -1);
    g_autofree char *prefix = g_strdup_printf("# %s: ", key);

    for (size_t i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], prefix))
            return g_strdup(lines[i] + strlen(prefix));
    }
    return NULL;
}

static char *
testMessages(const char *err)
{
    g_auto(GStrv) lines = g_strsplit(err, "\n", -1);
    GString *out = g_string_new(NULL);

    for (size_t i = 0; lines[i]; i++) {
        if (lines[i][0] == '#' || lines[i][0] == '\0')
            continue;
        g_string_append_printf(out, "%s\n", lines[i]);
    }
    return g_string_free(out, FALSE);
}

/* A valid helper must survive every representation unchanged. */
static void
testRoundTrips(const char *input, const MhConfHelper *helper)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *with_ns = mhConfHelperFormat(helper, true);
    g_autofree char *bare = mhConfHelperFormat(helper, false);
    g_autofree char *object = mhConfHelperToQemuObject(helper);
    g_autofree char *updated = NULL;
    g_autofree char *again = NULL;
    g_autoptr(MhConfHelper) h1 = NULL;
    g_autoptr(MhConfHelper) h2 = NULL;
    g_autoptr(MhConfHelper) h3 = NULL;
    g_autoptr(MhConfDomain) dom = NULL;

    h1 = mhConfHelperParseString(with_ns, &error);
    g_assert_no_error(error);
    g_assert_true(mhConfHelperEqual(h1, helper));
    h2 = mhConfHelperParseString(bare, &error);
    g_assert_no_error(error);
    g_assert_true(mhConfHelperEqual(h2, helper));
    h3 = mhConfHelperFromQemuObject(object, &error);
    g_assert_no_error(error);
    g_assert_true(mhConfHelperEqual(h3, helper));

    /* Rewriting the domain with its own helper keeps it valid and equal,
     * and doing it twice changes nothing more (no duplicate arguments). */
    updated = mhConfDomainXMLUpdate(input, helper, &error);
    g_assert_no_error(error);
    dom = mhConfDomainParseString(updated, "updated", &error);
    g_assert_no_error(error);
    g_assert_nonnull(dom->helper);
    g_assert_true(mhConfHelperEqual(dom->helper, helper));
    g_assert_cmpuint(dom->qemu_objects->len, ==, 1);
    again = mhConfDomainXMLUpdate(updated, helper, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again, ==, updated);
}

static void
testGolden(const void *opaque)
{
    const char *file = opaque;
    g_autofree char *path = g_build_filename(dataDir, file, NULL);
    g_autofree char *xml = testReadFile(path);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) dom = mhConfDomainCheck(xml, file, problems);
    bool invalid = g_str_has_suffix(file, "-invalid.xml");
    g_autofree char *stem = g_strndup(path, strlen(path) - strlen(".xml"));
    const char *schema = testSchemaVerdict(xml);
    bool libvirt_checked = false;
    bool libvirt_ok = testLibvirtValid(xml, file, &libvirt_checked);

    if (invalid) {
        g_autofree char *errpath = g_strdup_printf("%s.err", stem);
        g_autofree char *expected = NULL;
        g_autofree char *messages = NULL;
        g_autofree char *want_schema = NULL;
        g_autofree char *want_libvirt = NULL;
        GString *actual = g_string_new(NULL);

        for (guint i = 0; i < problems->len; i++)
            g_string_append_printf(actual, "%s\n", (const char *) g_ptr_array_index(problems, i));
        if (regenerate) {
            g_autofree char *text = g_strdup_printf("# schema: %s\n%s%s", schema,
                                                    libvirt_ok ? "" : "# libvirt: invalid\n",
                                                    actual->str);
            testWriteFile(errpath, text);
        }
        expected = testReadFile(errpath);
        messages = testMessages(expected);
        g_assert_cmpuint(problems->len, >, 0);
        g_assert_cmpstr(actual->str, ==, messages);
        g_string_free(actual, TRUE);
        want_schema = testDirective(expected, "schema");
        g_assert_nonnull(want_schema);
        g_assert_cmpstr(schema, ==, want_schema);
        want_libvirt = testDirective(expected, "libvirt");
        if (libvirt_checked || want_libvirt)
            g_assert_cmpint(libvirt_ok, ==, !want_libvirt);
        return;
    }

    for (guint i = 0; i < problems->len; i++)
        g_test_message("unexpected: %s", (const char *) g_ptr_array_index(problems, i));
    g_assert_cmpuint(problems->len, ==, 0);
    g_assert_nonnull(dom);
    g_assert_cmpstr(schema, ==, dom->helper ? "valid" : "none");
    g_assert_true(libvirt_ok);
    {
        g_autofree char *outpath = g_strdup_printf("%s.out.xml", stem);
        g_autofree char *canon = NULL;
        g_autofree char *expected = NULL;

        if (dom->helper) {
            g_autofree char *formatted = mhConfHelperFormat(dom->helper, true);
            canon = g_strdup_printf("%s\n", formatted);
        } else {
            canon = g_strdup("");
        }
        if (regenerate)
            testWriteFile(outpath, canon);
        expected = testReadFile(outpath);
        g_assert_cmpstr(canon, ==, expected);
        if (dom->helper) {
            g_autoptr(GPtrArray) out_problems = g_ptr_array_new_with_free_func(g_free);
            xmlDocPtr doc = mhConfXmlParse(expected, outpath, NULL);

            g_assert_nonnull(doc);
            g_assert_true(mhConfSchemaValidateNode(xmlDocGetRootElement(doc), outpath,
                                                   out_problems));
            xmlFreeDoc(doc);
            testRoundTrips(xml, dom->helper);
        }
    }
}

/* docs/examples: complete domains for people to copy; the valid ones must
 * pass every check including libvirt's grammar, the -invalid ones must not. */
static void
testExample(const void *opaque)
{
    const char *path = opaque;
    g_autofree char *xml = testReadFile(path);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(MhConfDomain) dom = mhConfDomainCheck(xml, path, problems);
    bool checked = false;

    for (guint i = 0; i < problems->len; i++)
        g_test_message("%s", (const char *) g_ptr_array_index(problems, i));
    g_assert_nonnull(dom);
    g_assert_true(testLibvirtValid(xml, path, &checked));
    if (g_str_has_suffix(path, "-invalid.xml")) {
        g_assert_cmpuint(problems->len, >, 0);
    } else {
        g_assert_cmpuint(problems->len, ==, 0);
        g_assert_nonnull(dom->helper);
    }
}

/* ---- the QEMU object string ------------------------------------------ */

static void
testQemuRoundTrip(void)
{
    for (int mode = 0; mode < MH_CONF_MODE_LAST; mode++) {
        for (int lifetime = 0; lifetime < MH_CONF_LIFETIME_LAST; lifetime++) {
            for (int cipher = 0; cipher < MH_CONF_CIPHER_LAST; cipher++) {
                for (unsigned int vcpus = MH_CONF_VCPUS_MIN; vcpus <= MH_CONF_VCPUS_MAX; vcpus++) {
                    g_autoptr(MhConfHelper) h = mhConfHelperNew();
                    g_autoptr(MhConfHelper) back = NULL;
                    g_autoptr(GError) error = NULL;
                    g_autofree char *s = NULL;

                    h->mode = mode;
                    h->lifetime = lifetime;
                    h->cipher = cipher;
                    h->vcpus = vcpus;
                    if (vcpus % 2) {
                        h->has_mailbox = true;
                        h->mailbox = 0x100000ULL * vcpus;
                        h->has_secret = true;
                        h->secret = 0xfffffffff000ULL;
                        h->key_broker = g_strdup("https://kb.example:8720/a,b,,c?x=1");
                    }
                    s = mhConfHelperToQemuObject(h);
                    g_assert_true(g_str_has_prefix(s, "mirror-helper,id=mh0,mode="));
                    g_assert_true(mhConfIsQemuObject(s));
                    back = mhConfHelperFromQemuObject(s, &error);
                    g_assert_no_error(error);
                    g_assert_true(mhConfHelperEqual(h, back));
                }
            }
        }
    }
}

static void
testQemuFixedFormat(void)
{
    g_autoptr(MhConfHelper) h = mhConfHelperNew();
    g_autofree char *plain = mhConfHelperToQemuObject(h);
    g_autofree char *full = NULL;

    g_assert_cmpstr(plain, ==,
                    "mirror-helper,id=mh0,mode=auto,vcpus=1,lifetime=on-demand,cipher=aes-256-gcm");
    h->mode = MH_CONF_MODE_ON_REQUEST;
    h->vcpus = 3;
    h->lifetime = MH_CONF_LIFETIME_PERSISTENT;
    h->cipher = MH_CONF_CIPHER_CHACHA20_POLY1305;
    h->has_mailbox = h->has_entry = h->has_secret = true;
    h->mailbox = 0x820000;
    h->entry = 0x823000;
    h->secret = 0x80c000;
    h->key_broker = g_strdup("http://127.0.0.1:8720/k,1");
    full = mhConfHelperToQemuObject(h);
    g_assert_cmpstr(full, ==,
                    "mirror-helper,id=mh0,mode=on-request,vcpus=3,lifetime=persistent,"
                    "cipher=chacha20-poly1305,mailbox=0x820000,entry=0x823000,"
                    "secret=0x80c000,key-broker=http://127.0.0.1:8720/k,,1");
}

typedef struct {
    const char *object;
    const char *message;    /* substring expected in the error */
} TestQemuBad;

static const TestQemuBad testQemuBadCases[] = {
    { "memory-backend-ram,id=mem0", "is not a mirror-helper object" },
    { "mirror-helperx,id=mh0", "is not a mirror-helper object" },
    { "", "is not a mirror-helper object" },
    { "mirror-helper,mode=auto", "property 'id' is missing" },
    { "mirror-helper,id=", "property 'id' is empty" },
    { "mirror-helper,id=mh0,colour=blue", "unknown property 'colour'" },
    { "mirror-helper,id=mh0,vcpus=2,vcpus=3", "property 'vcpus' given more than once" },
    { "mirror-helper,id=mh0,vcpus", "'vcpus' is not a key=value property" },
    { "mirror-helper,id=mh0,vcpus=two", "property 'vcpus': 'two' is not a number" },
    { "mirror-helper,id=mh0,vcpus=9", "<vcpus> value '9' is out of range 1..8" },
    { "mirror-helper,id=mh0,vcpus=0", "<vcpus> value '0' is out of range 1..8" },
    { "mirror-helper,id=mh0,mode=always", "property 'mode' has invalid value 'always'" },
    { "mirror-helper,id=mh0,lifetime=never", "property 'lifetime' has invalid value 'never'" },
    { "mirror-helper,id=mh0,cipher=rot13", "property 'cipher' has invalid value 'rot13'" },
    { "mirror-helper,id=mh0,mailbox=820000", "'820000' is not a 0x-prefixed hex address" },
    { "mirror-helper,id=mh0,entry=0xzz", "property 'entry': '0xzz' is not a number" },
    { "mirror-helper,id=mh0,secret=0x80c010", "<firmware secret='0x80c010'> is not 4 KiB aligned" },
    { "mirror-helper,id=mh0,entry=0x820000", "entry area 0x820000-0x820fff" },
    { "mirror-helper,id=mh0,key-broker=file:///etc/passwd", "is not an http:// or https:// URL" },
    /* a single comma ends the value: the rest is a stray property */
    { "mirror-helper,id=mh0,key-broker=http://a/b,c", "'c' is not a key=value property" },
};

static void
testQemuBad(const void *opaque)
{
    const TestQemuBad *c = opaque;
    g_autoptr(GError) error = NULL;
    g_autoptr(MhConfHelper) h = mhConfHelperFromQemuObject(c->object, &error);

    g_assert_null(h);
    g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
    if (!strstr(error->message, c->message))
        g_error("'%s': got '%s', want '%s'", c->object, error->message, c->message);
}

static void
testQemuQomType(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhConfHelper) h =
        mhConfHelperFromQemuObject("qom-type=mirror-helper,id=mh1,vcpus=2", &error);

    g_assert_no_error(error);
    g_assert_cmpuint(h->vcpus, ==, 2);
    g_assert_cmpint(h->mode, ==, MH_CONF_MODE_AUTO);
    g_assert_false(mhConfIsQemuObject("memory-backend-memfd,id=m,size=1G"));
}

/* ---- model and editing ----------------------------------------------- */

static void
testEnums(void)
{
    g_assert_cmpstr(mhConfModeTypeToString(MH_CONF_MODE_ON_REQUEST), ==, "on-request");
    g_assert_cmpint(mhConfModeTypeFromString("auto"), ==, MH_CONF_MODE_AUTO);
    g_assert_cmpint(mhConfModeTypeFromString("Auto"), ==, -1);
    g_assert_null(mhConfModeTypeToString(MH_CONF_MODE_LAST));
    g_assert_null(mhConfModeTypeToString(-1));
    g_assert_cmpstr(mhConfLifetimeTypeToString(MH_CONF_LIFETIME_PERSISTENT), ==, "persistent");
    g_assert_cmpint(mhConfLifetimeTypeFromString("on-demand"), ==, MH_CONF_LIFETIME_ON_DEMAND);
    g_assert_cmpint(mhConfLifetimeTypeFromString(NULL), ==, -1);
    g_assert_cmpstr(mhConfCipherTypeToString(MH_CONF_CIPHER_CHACHA20_POLY1305), ==,
                    "chacha20-poly1305");
    g_assert_cmpint(mhConfCipherTypeFromString("aes-256-gcm"), ==, MH_CONF_CIPHER_AES_256_GCM);
    g_assert_cmpint(mhConfCipherTypeFromString("aes-256-ocb"), ==, MH_CONF_CIPHER_AES_256_OCB);
}

static void
testBareMetadata(void)
{
    /* what virDomainGetMetadata() returns: no namespace anywhere */
    const char *xml = "<helper mode=\"on-request\">\n  <vcpus>3</vcpus>\n"
        "  <transport cipher=\"chacha20-poly1305\"/>\n</helper>";
    g_autoptr(GError) error = NULL;
    g_autoptr(MhConfHelper) h = mhConfHelperParseString(xml, &error);
    g_autoptr(MhConfHelper) bad = NULL;

    g_assert_no_error(error);
    g_assert_cmpint(h->mode, ==, MH_CONF_MODE_ON_REQUEST);
    g_assert_cmpuint(h->vcpus, ==, 3);
    g_assert_cmpint(h->cipher, ==, MH_CONF_CIPHER_CHACHA20_POLY1305);
    g_assert_cmpint(h->lifetime, ==, MH_CONF_LIFETIME_ON_DEMAND);

    bad = mhConfHelperParseString("<helper><vcpus>9</vcpus><vcpus>1</vcpus></helper>", &error);
    g_assert_null(bad);
    g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "duplicate element <vcpus>"));
    g_assert_nonnull(strstr(error->message, "'9' is out of range"));
}

static const char testPlainDomain[] =
    "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
    "  <name>edit</name>\n"
    "  <metadata>\n"
    "    <app:x xmlns:app='http://example.org/app'/>\n"
    "  </metadata>\n"
    "  <memory unit='MiB'>256</memory>\n"
    "  <os><type arch='x86_64'>hvm</type></os>\n"
    "  <launchSecurity type='sev'><policy>0x0033</policy></launchSecurity>\n"
    "  <qemu:commandline>\n"
    "    <qemu:arg value='-object'/>\n"
    "    <qemu:arg value='mirror-helper,id=old,vcpus=7'/>\n"
    "    <qemu:arg value='-nodefaults'/>\n"
    "    <qemu:arg value='-object'/>\n"
    "    <qemu:arg value='memory-backend-ram,id=ram1,size=1M'/>\n"
    "    <qemu:arg value='-object'/>\n"
    "    <qemu:arg value='mirror-helper,id=older'/>\n"
    "  </qemu:commandline>\n"
    "</domain>\n";

static void
testUpdate(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhConfHelper) h = mhConfHelperNew();
    g_autofree char *enabled = NULL;
    g_autofree char *disabled = NULL;
    g_autofree char *bare = NULL;
    g_autoptr(MhConfDomain) dom = NULL;
    g_autoptr(MhConfDomain) dom2 = NULL;

    h->vcpus = 2;
    enabled = mhConfDomainXMLUpdate(testPlainDomain, h, &error);
    g_assert_no_error(error);
    dom = mhConfDomainParseString(enabled, "enabled", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(dom->qemu_objects->len, ==, 1);
    g_assert_cmpstr(g_ptr_array_index(dom->qemu_objects, 0), ==,
                    "mirror-helper,id=mh0,mode=auto,vcpus=2,lifetime=on-demand,cipher=aes-256-gcm");
    /* the user's own arguments and metadata stay, in order */
    g_assert_nonnull(strstr(enabled, "<qemu:arg value=\"-nodefaults\"/>"));
    g_assert_nonnull(strstr(enabled, "memory-backend-ram,id=ram1,size=1M"));
    g_assert_true(strstr(enabled, "-nodefaults") < strstr(enabled, "memory-backend-ram"));
    g_assert_nonnull(strstr(enabled, "<app:x"));
    g_assert_null(strstr(enabled, "id=old"));

    disabled = mhConfDomainXMLUpdate(enabled, NULL, &error);
    g_assert_no_error(error);
    dom2 = mhConfDomainParseString(disabled, "disabled", &error);
    g_assert_no_error(error);
    g_assert_null(dom2->helper);
    g_assert_cmpuint(dom2->helper_count, ==, 0);
    g_assert_cmpuint(dom2->qemu_objects->len, ==, 0);
    g_assert_nonnull(strstr(disabled, "-nodefaults"));
    g_assert_nonnull(strstr(disabled, "<app:x"));

    /* a domain with nothing but the helper loses <metadata> and
     * <qemu:commandline> entirely on disable */
    bare = mhConfDomainXMLUpdate("<domain type='kvm'><name>b</name></domain>", h, &error);
    g_assert_no_error(error);
    g_assert_nonnull(strstr(bare, "<metadata><mh:helper"));
    {
        g_autofree char *back = mhConfDomainXMLUpdate(bare, NULL, &error);

        g_assert_no_error(error);
        g_assert_cmpstr(back, ==, "<domain "
                        "xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\" "
                        "type=\"kvm\"><name>b</name></domain>\n");
    }
}

static void
testParseErrors(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhConfDomain) dom = NULL;
    g_autoptr(MhConfHelper) h = NULL;

    dom = mhConfDomainParseString("<domain><name>x</name></domain>", NULL, &error);
    g_assert_no_error(error);
    g_assert_null(dom->helper);

    h = mhConfHelperParseDomainXML("<domain>\n<name>x</name>\n<metadata>\n", &error);
    g_assert_null(h);
    g_assert_error(error, MH_ERROR, MH_ERROR_INVALID);
    g_assert_true(g_str_has_prefix(error->message, "(domain XML):4: malformed XML: "));
}

/* What the libvirt hook reads of a starting domain: its id and the SEV
 * session libvirt hands QEMU. */
static void
testParseLaunch(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(MhConfDomain) running = NULL;
    g_autoptr(MhConfDomain) defined = NULL;

    running = mhConfDomainParseString("<domain id='7'><name>x</name>"
                                      "<launchSecurity type='sev'><policy>0x33</policy>"
                                      "<dhCert>\n  AAAA\n</dhCert><session>BBBB</session>"
                                      "</launchSecurity></domain>", NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(running->id, ==, 7);
    g_assert_cmpstr(running->sev_dh_cert, ==, "AAAA");
    g_assert_cmpstr(running->sev_session, ==, "BBBB");
    defined = mhConfDomainParseString("<domain><name>x</name><launchSecurity type='sev'>"
                                      "<policy>0x33</policy></launchSecurity></domain>", NULL,
                                      &error);
    g_assert_no_error(error);
    g_assert_cmpint(defined->id, ==, -1);
    g_assert_null(defined->sev_dh_cert);
    g_assert_null(defined->sev_session);
}

static int
testCompareNames(const void *a, const void *b)
{
    /* g_ptr_array_sort passes pointers to the elements */
    return strcmp(*(char *const *) a, *(char *const *) b);
}

int
main(int argc, char **argv)
{
    const char *src = g_getenv("MH_SOURCE_DIR");
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    g_test_init(&argc, &argv, NULL);
    if (src && *src)
        dataDir = g_build_filename(src, "tests", "data", NULL);
    else
        dataDir = g_build_filename(MH_SOURCE_SCHEMADIR, "..", "tests", "data", NULL);
    regenerate = g_strcmp0(g_getenv("MH_TEST_REGENERATE"), "1") == 0;

    dir = g_dir_open(dataDir, 0, NULL);
    if (!dir)
        g_error("cannot open the golden data directory %s", dataDir);
    while ((name = g_dir_read_name(dir))) {
        if (g_str_has_suffix(name, ".xml") && !g_str_has_suffix(name, ".out.xml"))
            g_ptr_array_add(files, g_strdup(name));
    }
    g_ptr_array_sort(files, testCompareNames);
    if (files->len == 0)
        g_error("no golden data in %s", dataDir);
    for (guint i = 0; i < files->len; i++) {
        g_autofree char *path = g_strdup_printf("/conf/golden/%s", (char *) files->pdata[i]);
        g_test_add_data_func(path, files->pdata[i], testGolden);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(testQemuBadCases); i++) {
        g_autofree char *path = g_strdup_printf("/conf/qemu/bad/%zu", i);
        g_test_add_data_func(path, &testQemuBadCases[i], testQemuBad);
    }
    {
        g_autofree char *examples = g_build_filename(dataDir, "..", "..", "docs", "examples", NULL);
        g_autoptr(GDir) edir = g_dir_open(examples, 0, NULL);

        while (edir && (name = g_dir_read_name(edir))) {
            g_autofree char *tpath = NULL;

            if (!g_str_has_suffix(name, ".xml"))
                continue;
            tpath = g_strdup_printf("/conf/example/%s", name);
            g_ptr_array_add(files, g_build_filename(examples, name, NULL));
            g_test_add_data_func(tpath, files->pdata[files->len - 1], testExample);
        }
    }
    g_test_add_func("/conf/qemu/round-trip", testQemuRoundTrip);
    g_test_add_func("/conf/qemu/fixed-format", testQemuFixedFormat);
    g_test_add_func("/conf/qemu/qom-type", testQemuQomType);
    g_test_add_func("/conf/enums", testEnums);
    g_test_add_func("/conf/bare-metadata", testBareMetadata);
    g_test_add_func("/conf/update", testUpdate);
    g_test_add_func("/conf/parse-errors", testParseErrors);
    g_test_add_func("/conf/parse-launch", testParseLaunch);
    return g_test_run();
}
