#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-guest-libvirt.sh with the lab's qemu-mh as the emulator (plain,
# non-SEV domain): the test guest must boot, report and survive live
# migration unchanged.  SKIPs when qemu-mh is not built.
exec bash "$(dirname "$0")/test-guest-libvirt.sh" qemu-mh
