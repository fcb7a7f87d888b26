/*
 * log.h: lockwatch's own warnings ("lockwatch: warning: ...", one line
 * each) and the channels reports are written to (stderr as it was at
 * start-up, the LOCKWATCH_LOG file).  Base layer: no core structure,
 * no stdio, no malloc; usable from any file and any hook path.
 */
#ifndef LW_LOG_H
#define LW_LOG_H

#include "lw_base.h"

/* Takes stderr as it is at start-up as lockwatch's own channel: a
 * descriptor of its own at LW_PRIVATE_FD_MIN or above, close-on-exec
 * (PITFALLS 15; a pipe is opened again through /proc, non-blocking), so a
 * program that closes or redirects fd 2 still gets our warnings and
 * reports where its stderr first was.  Once; none if fd 2 was closed. */
void lw_log_init(void);
/* Takes fd 2 as it is now as stderr (unit tests that redirect fd 2). */
void lw_log_reinit(void);
/* LOCKWATCH_LOG's path (with %p for the pid), or NULL/"" for stderr; set
 * once at start-up. */
void lw_out_set_log(const char *path_template);
/* Writes a report (a text block or a JSON line) to the LOCKWATCH_LOG file,
 * else, or when that fails, to stderr.  Never into a descriptor the
 * program has since reused, never raising SIGPIPE, waiting for a slow
 * reader at most half a second; says once on the other channel when a
 * report could not be written.  Callers serialise (report_lock).  True
 * when it was written somewhere. */
bool lw_out_report(const char *p, size_t n);
/* A line of lockwatch's own on stderr (as lw_warn, without formatting). */
void lw_out_warn(const char *p, size_t n);
/* In a fork child: a log path naming the pid is opened anew. */
void lw_out_atfork_child(void);
/* One message (the caller ends it with '\n'); errno is preserved. */
void lw_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, at most once per `once` flag. */
void lw_warn_once(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Descriptors lockwatch opens for itself live at or above this number. */
#define LW_PRIVATE_FD_MIN 500

#endif
