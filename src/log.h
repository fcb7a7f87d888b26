/*
 * log.h: lockwatch's own warnings ("lockwatch: warning: ..."), one line
 * each, to a private duplicate of stderr.  Base layer: no core structure,
 * no stdio, no malloc; usable from any file and any hook path.
 */
#ifndef LW_LOG_H
#define LW_LOG_H

#include "lw_base.h"

/* Duplicates fd 2 to a high, close-on-exec descriptor (PITFALLS 15), so a
 * program that closes or redirects stderr still gets our warnings where its
 * stderr first was.  Idempotent. */
void lw_log_init(void);
/* That descriptor, or 2 before lw_log_init. */
int lw_log_fd(void);
/* One message (the caller ends it with '\n'); errno is preserved. */
void lw_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, at most once per `once` flag. */
void lw_warn_once(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Descriptors lockwatch opens for itself live at or above this number. */
#define LW_PRIVATE_FD_MIN 500

#endif
