/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-mh: the QEMU front-end libvirt runs as <emulator>; see
 * sim/qemu/mh-qemu.h and docs/qemu-interface.md. */
#include "sim/qemu/mh-qemu.h"

#include "util/mh-i18n.h"

int
main(int argc, char **argv)
{
    mhI18nInit();
    return mhQemuMain(argc, argv);
}
