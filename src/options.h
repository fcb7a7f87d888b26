/*
 * options.h: LOCKWATCH_* settings, parsed once at start-up from the
 * environment (read directly from environ: no getenv, no malloc).  A bad value
 * prints one "lockwatch: warning:" line and the default stays.
 */
#ifndef LW_OPTIONS_H
#define LW_OPTIONS_H

#include "lw_base.h"

#define LW_OPT_INT(f, N, d, lo, hi, h) long f;
#define LW_OPT_ENUM(f, N, d, choices, h) int f;
#define LW_OPT_STR(f, N, d, h) char f[512];
typedef struct {
#include "options.def"
} lw_options;
#undef LW_OPT_INT
#undef LW_OPT_ENUM
#undef LW_OPT_STR

enum { LW_FORMAT_TEXT = 0, LW_FORMAT_JSON = 1 };

extern lw_options lw_opt;
/* envp: NULL for the process environment.  Warnings go to fd 2. */
void lw_options_parse(char **envp);
/* Value of NAME in envp (or environ), NULL if unset. */
const char *lw_env(char **envp, const char *name);

#endif
