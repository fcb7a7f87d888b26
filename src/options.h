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
enum { LW_ON_DEADLOCK_EXIT = 0, LW_ON_DEADLOCK_ABORT = 1, LW_ON_DEADLOCK_WAIT = 2 };
/* LOCKWATCH_HELD_STACKS */
enum { LW_HELD_STACKS_AUTO = 0, LW_HELD_STACKS_FULL = 1, LW_HELD_STACKS_CALL = 2 };

/* Blocking-call families (LOCKWATCH_BLOCKING). */
#define LW_FAM_SLEEP 0x01u   /* sleep, usleep, nanosleep, clock_nanosleep */
#define LW_FAM_NET   0x02u   /* sockets: send/recv/accept/connect, I/O on sockets */
#define LW_FAM_PIPE  0x04u   /* pipes, FIFOs, terminals; poll/select/epoll */
#define LW_FAM_FILE  0x08u   /* regular files, block devices, fsync, sync: bounded by
                                the device, never "blocking" to poll(); not by default */
#define LW_FAM_WAIT  0x10u   /* wait*, joins, semaphores, message queues, other condvars,
                                file locks (flock, F_SETLKW, lockf) */
#define LW_FAM_ALL   0x1fu
#define LW_FAM_DEFAULT (LW_FAM_ALL & ~LW_FAM_FILE)
/* Parsed LOCKWATCH_BLOCKING (set by lw_options_parse). */
extern unsigned lw_blocking_families;

extern lw_options lw_opt;
/* envp: NULL for the process environment.  Warnings go to fd 2. */
void lw_options_parse(char **envp);
/* Value of NAME in envp (or environ), NULL if unset. */
const char *lw_env(char **envp, const char *name);

#endif
