/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Translation macros: every user-facing string goes through _() or N_(). */
#pragma once

#include "config.h"
#include <glib/gi18n-lib.h>

void mhI18nInit(void);
