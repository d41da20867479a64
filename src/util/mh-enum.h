/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enums with string names, one way for the whole project (after libvirt's
 * VIR_ENUM_DECL / VIR_ENUM_IMPL).
 *
 * In the header, next to the enum (whose last member is FOO_LAST):
 *     MH_ENUM_DECL(mhFoo);
 * declares  const char *mhFooTypeToString(int value);   NULL when out of range
 *           int mhFooTypeFromString(const char *name);  -1 when unknown
 * In one .c file:
 *     MH_ENUM_IMPL(mhFoo, FOO_LAST, "first", "second", ...);
 * with one name per value, in order; the build fails when the count differs
 * from FOO_LAST. A value that has no name (e.g. 0 of a wire format that
 * starts at 1) takes NULL: it converts to NULL and no name maps to it. */
#pragma once

#include <glib.h>

const char *mhEnumToString(const char *const *names, unsigned int count, int value);
int mhEnumFromString(const char *const *names, unsigned int count, const char *name);

#define MH_ENUM_DECL(name) \
    const char *name##TypeToString(int value); \
    int name##TypeFromString(const char *str)

#define MH_ENUM_IMPL(name, last, ...) \
    static const char *const name##TypeNames[] = { __VA_ARGS__ }; \
    G_STATIC_ASSERT(G_N_ELEMENTS(name##TypeNames) == (last)); \
    const char *name##TypeToString(int value) \
    { \
        return mhEnumToString(name##TypeNames, G_N_ELEMENTS(name##TypeNames), value); \
    } \
    int name##TypeFromString(const char *str) \
    { \
        return mhEnumFromString(name##TypeNames, G_N_ELEMENTS(name##TypeNames), str); \
    }
