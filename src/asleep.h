/*
 * asleep.h: "all threads are asleep", Go's "all goroutines are asleep" for
 * C.  A wait-for cycle of locks and joins is found by the blocked threads
 * themselves (deadlock.h).  A lost wake-up is not a cycle: the thread in
 * pthread_cond_wait waits for a signal nobody will send, and every other
 * thread waits for it.  What shows it is that no thread of the process is
 * left to run: each one is blocked in something only another thread of
 * this process can end.
 *
 * Each thread that starts such a wait says so in its sleep slot (arena
 * memory, one per thread, recycled when the thread ends): what it waits in
 * and on, and a sequence number of the wait.  The waits that count: an
 * untimed pthread_cond_wait or cnd_wait, sem_wait, pthread_barrier_wait, a
 * join or a lock wait that lasted a wait slice (the ones deadlock.h
 * publishes), and a fast-path mutex wait (thread.h fast_wait) on a mutex
 * that stays locked.  Never: a timed wait, any wait on a process-shared
 * object, an interposed blocking system call, or anything lockwatch does
 * not interpose: those threads count as awake.
 *
 * One monitor thread (started, with every signal blocked, the first time a
 * thread sleeps in a condvar, semaphore, barrier or join wait) watches the
 * slots: while some thread sleeps, once per wait slice.  When every thread
 * of the process (/proc/self/task, so threads lockwatch never saw count)
 * sleeps, the same waits, for LOCKWATCH_DEADLOCK_MS, it asks each sleeper
 * for its stack (a condvar waiter is woken by a broadcast it then swallows
 * and waits again; sliced waits answer at their next slice), writes one
 * `deadlock` finding naming every thread and what it waits on, and applies
 * LOCKWATCH_ON_DEADLOCK.  The monitor costs nothing while no thread sleeps
 * (it waits on a futex); a sleeper pays two atomic updates of one shared
 * counter, no system call, no backtrace.
 *
 * With LOCKWATCH_RACES=sample the monitor also writes the data races the
 * sampler queues (race.h): it is started when the program's second thread
 * starts, and the sampler's signal handler wakes it (a futex) when it
 * queued one; so a race is reported within about a slice, also in a
 * server that creates and joins no thread for hours.
 */
#ifndef LW_ASLEEP_H
#define LW_ASLEEP_H

#include "lw_base.h"
#include "thread.h"

enum lw_sleep_kind {
    LW_SLEEP_NONE = 0,
    LW_SLEEP_COND,       /* obj: the condvar, node: its lock node, mutex: its mutex's */
    LW_SLEEP_SEM,        /* obj: the semaphore */
    LW_SLEEP_BARRIER,    /* obj: the barrier */
    LW_SLEEP_JOIN,       /* obj: the pthread_t joined */
    LW_SLEEP_LOCK,       /* node: the lock, mode: how */
};

/* Flags of a sleep. */
#define LW_SLEEP_COND_OLD 1u   /* a GLIBC_2.2.5 condvar (pthread_cond_*@GLIBC_2.2.5) */

typedef struct lw_sleeper lw_sleeper;

struct lw_lost;

/* This thread starts a wait of `kind`; NULL when the feature is off or
 * memory is short (the wait is then simply not watched).  Under the guard.
 * pc: the program's call.  lost: a condvar wait that a lost signal matches
 * (lost.h), copied: when the monitor finds every thread asleep, it reports
 * the lost wake-up too (lost-wakeup, before the deadlock); NULL: none. */
lw_sleeper *lw_sleep_begin(lw_thread *t, enum lw_sleep_kind kind, uintptr_t obj, lw_lock *node,
                           lw_lock *mutex, unsigned mode, unsigned flags, uintptr_t pc,
                           const struct lw_lost *lost);
/* The wait is over (NULL: nothing).  Any context. */
void lw_sleep_end(lw_sleeper *s);
/* Inside a sleep, after a slice or a wake-up: if the monitor asked for this
 * thread's stack, record it (unwinds) and return true.  The guard is taken
 * here. */
bool lw_sleep_poll(lw_thread *t, lw_sleeper *s);
/* A thread that may block on the fast path gets its slot now, so that the
 * monitor can see its fast_wait.  Under the guard. */
void lw_sleep_claim(lw_thread *t);
/* The calling thread is ending: its slot is free again. */
void lw_sleep_thread_gone(lw_thread *t);
/* fork child: the other threads' slots are free, no monitor runs. */
void lw_sleep_atfork_child(void);
/* Starts the monitor thread if it is not running (once; not in a signal
 * handler).  Also called when race sampling sees the program's second
 * thread start: the monitor then writes each race the sampler queues
 * within a wait slice of its finding (the sampler wakes it with a futex),
 * instead of at the program's next thread event or exit. */
void lw_monitor_start(void);

#endif
