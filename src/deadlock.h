/*
 * deadlock.h: deadlocks that happen.  A thread that has been blocked in an
 * acquisition (or a join) for one slice publishes a wait record: what it
 * waits for and what it holds.  Each time one of its slices expires it looks
 * for a wait-for cycle through itself among the published records; a cycle
 * that is still there LOCKWATCH_DEADLOCK_MS later, with every member still in
 * the same wait, is reported once, then LOCKWATCH_ON_DEADLOCK is applied.
 * Only threads that are blocked can be on a deadlock cycle, so nothing is
 * published or checked while locks are uncontended, and no watchdog thread
 * is needed.  Timed waits never publish: they can recover by themselves.
 */
#ifndef LW_DEADLOCK_H
#define LW_DEADLOCK_H

#include "lw_base.h"
#include "thread.h"

#include <pthread.h>
#include <time.h>

typedef struct lw_waitrec lw_waitrec;

/* Length of one wait slice, derived from LOCKWATCH_DEADLOCK_MS. */
uint64_t lw_wait_slice_ns(void);
/* Absolute CLOCK_MONOTONIC deadline one slice from now. */
void lw_wait_deadline(struct timespec *ts);

/* Publish: this thread is blocked acquiring l in `mode` (or, with l NULL,
 * joining `target`).  relocked: a double-lock / upgrade report was already
 * written for this wait (a self-cycle then only triggers the action).
 * Returns NULL when memory is short (the wait then goes unwatched). */
lw_waitrec *lw_wait_begin(lw_thread *t, lw_lock *l, unsigned mode, const pthread_t *target,
                          bool relocked);
/* A slice expired: look for a cycle, report and act when it persists. */
void lw_wait_check(lw_waitrec *w);
/* The wait is over (acquired, failed, or cancelled). */
void lw_wait_end(lw_waitrec *w);

/* Is a published wait part of a wait-for cycle reported already?
 * (asleep.c leaves such a deadlock to this detector.) */
bool lw_wait_cycle_reported(void);
/* After a deadlock report: LOCKWATCH_ON_DEADLOCK (exit, abort, or return
 * and keep waiting). */
void lw_deadlock_act(void);

/* fork: prepare takes wait_lock and the record pool (arena.h lock order),
 * parent releases them; the child resets them and drops the records of the
 * threads that are not in it. */
void lw_deadlock_atfork_prepare(void);
void lw_deadlock_atfork_parent(void);
void lw_deadlock_atfork_child(void);

#endif
