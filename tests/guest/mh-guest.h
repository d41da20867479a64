/*
 * mh-guest.h: layout shared by the test guest and its documentation
 *
 * The test guest is a UEFI application (see docs/test-guest.md).  Hosts read
 * its status block through QEMU ("xp /16wx 0x2000000"), so the layout below
 * is an interface: append fields, never move them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

/*
 * Guest physical address of the status block (32 MiB mark).  The 16 MiB
 * mark is not free: OVMF decompresses its DXE volume to 0x900000-0x1500000.
 * 32 MiB is free conventional memory for guests of 64 MiB and more.
 */
#define MH_GUEST_STATUS_GPA        0x02000000ULL

/* Bytes 'M' 'H' 'G' 'S' in memory, read as a little-endian 32-bit word. */
#define MH_GUEST_STATUS_MAGIC      0x5347484dU
#define MH_GUEST_STATUS_VERSION    1U

typedef enum {
    MH_GUEST_STATE_BOOT = 0,        /* block claimed, options being parsed */
    MH_GUEST_STATE_FILLING = 1,     /* data pages being written */
    MH_GUEST_STATE_RUNNING = 2,     /* dirtying and verifying */
    MH_GUEST_STATE_SETUP_ERROR = 0xe, /* bad options or out of memory */
} MhGuestState;

/*
 * Every field is little-endian.  64-bit counters read as two words with
 * "xp /16wx": low word first.
 */
typedef struct {
    UINT32 magic;            /* 0x00 MH_GUEST_STATUS_MAGIC */
    UINT32 version;          /* 0x04 MH_GUEST_STATUS_VERSION */
    UINT32 state;            /* 0x08 MhGuestState */
    UINT32 pages;            /* 0x0c number of data pages */
    UINT32 passes;           /* 0x10 completed verify passes */
    UINT32 errors;           /* 0x14 integrity failures seen so far */
    UINT64 verified;         /* 0x18 pages verified, all passes together */
    UINT64 dirtied;          /* 0x20 page rewrites (generation bumps) */
    UINT32 rate;             /* 0x28 requested dirty rate, pages/s */
    UINT32 uptimeMs;         /* 0x2c ms since the workload started */
    UINT32 failPage;         /* 0x30 index of the last failing page */
    UINT32 failExpectedGen;  /* 0x34 its expected generation */
    UINT64 failGpa;          /* 0x38 its guest physical address */
} MhGuestStatus;
