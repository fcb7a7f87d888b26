/*
 * race.h: the sampled data-race detector (LOCKWATCH_RACES=sample), after
 * DataCollider (Erickson et al., OSDI 2010).  A per-thread CPU-time timer
 * interrupts a thread now and then; the handler decodes the instruction it
 * interrupted (decode.h), arms a hardware watchpoint on that address in
 * every other live thread (perf_event_open, PERF_TYPE_BREAKPOINT, sigtrap:
 * the hitting thread gets a synchronous SIGTRAP), waits
 * LOCKWATCH_RACE_DELAY_US, disarms, and compares the two threads' held-lock
 * sets when another thread hit the address.  A race found in a handler is
 * queued; it becomes a `data-race` finding within about a second, written
 * by lockwatch's monitor thread (asleep.c, started when the program's
 * second thread starts, woken by the handler with a futex), or at the next
 * safe point if that comes first (a thread's start or end, a join, a
 * create, exit: lw_race_flush).
 *
 * Signals: SIGRTMAX-6 (LW_RACE_SIGNAL_FROM_MAX) is the sampling signal; if
 * the program installs a handler for it lockwatch stops sampling and
 * steps aside.  SIGTRAP: lockwatch's handler takes its own traps
 * (TRAP_PERF with its tag) and gives every other SIGTRAP to the program's
 * handler (sigaction/signal on SIGTRAP are recorded, not installed, while
 * sampling is on) or to the default action.
 */
#ifndef LW_RACE_H
#define LW_RACE_H

#include "lw_base.h"

#define LW_RACE_SIGNAL_FROM_MAX 6   /* the sampling signal is SIGRTMAX - 6 */
#define LW_RACE_MAX_THREADS 1024    /* live threads lockwatch can watch */
#define LW_RACE_SLOTS 4             /* armed addresses, process-wide (x86: 4 debug registers) */
#define LW_RACE_MAX_TARGETS 64      /* other threads armed per sample */
#define LW_RACE_HOLDS 16            /* held locks copied per side */
#define LW_RACE_FRAMES 24           /* frames unwound per side */
#define LW_RACE_PENDING 8           /* races found, waiting for a safe point */

/* One side's held lock, as the comparison needs it. */
typedef struct {
    uint64_t id;                    /* the lock's id (lw_held.id) */
    uint16_t mode;                  /* LW_MODE_WRITE or LW_MODE_READ */
} lw_race_hold;

/* Does a lock held by both sides order their accesses?  True when some id
 * is in both sets and at least one side holds it for writing (two readers
 * of an rwlock exclude nothing).  Pure; unit-tested. */
bool lw_race_locks_exclude(const lw_race_hold *a, unsigned na, const lw_race_hold *b,
                           unsigned nb);
/* Is a hit a data race: at least one side wrote and no common lock
 * excludes the other (lw_race_locks_exclude). */
bool lw_race_is_race(const lw_race_hold *a, unsigned na, bool a_wrote, const lw_race_hold *b,
                     unsigned nb, bool b_wrote);

/* Start-up (after libc is up, lw_stacks_init done): parses nothing (the
 * options are parsed), probes perf_event_open, installs the handlers and
 * starts the calling (main) thread's timer.  Prints one line when
 * sampling was asked for and cannot run. */
void lw_race_init(void);
/* Is sampling on? */
bool lw_race_on(void);
/* The sampling signal when sampling is on, else 0 (asleep.c ignores it). */
int lw_race_signal(void);
/* A thread lockwatch saw start / is ending: its timer and table entry. */
void lw_race_thread_start(void);
void lw_race_thread_end(void);
/* The calling thread's signal mask changed: a thread that blocks the
 * sampling signal loses its timer (and any sample pending for it), one
 * that unblocks it gets it back.  Async-signal-safe; keeps errno. */
void lw_race_mask_changed(void);
/* Reports races found since the last call (a safe point: not in a signal
 * handler, the guard down).  Cheap when there is nothing. */
void lw_race_flush(void);
/* The same from a thread lockwatch owns, whose guard is always up (the
 * monitor, asleep.c), woken by the waker below. */
void lw_race_flush_owned(void);
/* At exit: lw_race_flush, then waits (at most about a second) for reports
 * another thread (the monitor) is writing, so that none is cut off. */
void lw_race_flush_exit(void);
/* A thread that reports queued races promptly (the monitor) registers a
 * waker: called from the sampler's signal handler right after it queues a
 * race, so it must be async-signal-safe (a futex wake).  NULL: none; races
 * then wait for a safe point. */
void lw_race_set_waker(void (*wake)(void));
/* fork child: sampling stops in the child (its timers are gone). */
void lw_race_atfork_child(void);
/* sigaction/signal wrappers (intercept_signal.c): true when lockwatch
 * handled the call for sig itself (SIGTRAP recorded as the program's), in
 * which case *old receives the program's previous action. */
struct sigaction;
bool lw_race_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* The program's syscall(SYS_perf_event_open, attr, pid, ...): a hardware
 * breakpoint or watchpoint of its own on its own threads makes sampling
 * step aside first (one line), so its debug registers are free. */
void lw_race_program_breakpoint(const void *attr, long pid);
/* Statistics, for tests and the exit line: samples taken, armed, hits,
 * races queued, values changed with no trap seen. */
typedef struct {
    uint64_t samples, armed, hits, races, unseen_writes;
    /* Samples that armed nothing: no memory operand understood, the
     * thread's stack, an atomic, four slots busy, no other thread armed. */
    uint64_t no_access, on_stack, atomic, slots_full, no_target;
    /* Hits by a locked instruction or xchg (not judged: the sampled side
     * may be a C11 atomic load or store, a plain move on x86); guarded
     * ranges watched by the guard slot; guarded accesses without their
     * lock (queued). */
    uint64_t atomic_hits, guard_armed, guarded;
    /* Samples whose access was reached by single-stepping. */
    uint64_t stepped;
    /* Races queued but not reported: the memory is an atomic object (DWARF
     * type C11 _Atomic or C++ std::atomic), or an access was made inside
     * the C++ library's std::atomic functions. */
    uint64_t atomic_objects;
} lw_race_stats;
void lw_race_get_stats(lw_race_stats *s);
/* At the end of the process: LOCKWATCH_RACE_STATS's line. */
void lw_race_final_words(void);

#endif
