#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-lab-plain-migration.sh with the lab's qemu-mh as the emulator: qemu-mh
# must be transparent for a plain (non-SEV) domain, migration included.
# SKIPs when qemu-mh is not built.
exec bash "$(dirname "$0")/test-lab-plain-migration.sh" qemu-mh
