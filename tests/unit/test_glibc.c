/*
 * test_glibc.c: the glibc lock words lockwatch reads (src/lw_glibc.h), on
 * real mutexes, rwlocks and spinlocks, without lockwatch loaded.  The
 * layout is checked at compile time; this checks what the words mean at
 * run time, state by state, so that a glibc whose locks changed fails here
 * with a message naming the word, instead of lockwatch reporting locks
 * destroyed or relocked that are free (or staying silent about held ones).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gettid */
#endif
#include "lw_glibc.h"

#include <check.h>

#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#define POLL_LIMIT_NS (5ull * 1000000000ull) /* waiting for another thread's state */

#define ABI_MSG "glibc's %s does not mean what lockwatch reads it as (src/lw_glibc.h): "

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* ---- mutexes ---- */

static void check_mutex_type(int type, const char *what)
{
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    int me = gettid();

    ck_assert_int_eq(pthread_mutexattr_init(&a), 0);
    ck_assert_int_eq(pthread_mutexattr_settype(&a, type), 0);
    ck_assert_int_eq(pthread_mutex_init(&m, &a), 0);
    ck_assert_msg(!lw_glibc_mutex_locked(&m) && lw_glibc_mutex_owner(&m) == 0,
                  ABI_MSG "a new %s mutex reads locked: __lock=%d __owner=%d", "pthread_mutex_t",
                  what, m.__data.__lock, m.__data.__owner);
    ck_assert_int_eq(pthread_mutex_lock(&m), 0);
    ck_assert_msg(lw_glibc_mutex_locked(&m) && lw_glibc_mutex_owner(&m) == me,
                  ABI_MSG "a locked %s mutex reads __lock=%d __owner=%d, expected __lock != 0 "
                          "and __owner = the holder's tid %d",
                  "pthread_mutex_t", what, m.__data.__lock, m.__data.__owner, me);
    ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
    ck_assert_msg(!lw_glibc_mutex_locked(&m) && lw_glibc_mutex_owner(&m) == 0,
                  ABI_MSG "an unlocked %s mutex reads __lock=%d __owner=%d, expected 0 and 0",
                  "pthread_mutex_t", what, m.__data.__lock, m.__data.__owner);
    ck_assert_int_eq(pthread_mutex_destroy(&m), 0);
    pthread_mutexattr_destroy(&a);
}

START_TEST(test_mutex_words)
{
    pthread_mutex_t st = PTHREAD_MUTEX_INITIALIZER;
    ck_assert_msg(!lw_glibc_mutex_locked(&st), ABI_MSG "PTHREAD_MUTEX_INITIALIZER reads locked",
                  "pthread_mutex_t");
    check_mutex_type(PTHREAD_MUTEX_NORMAL, "normal");
    check_mutex_type(PTHREAD_MUTEX_ERRORCHECK, "errorcheck");
    check_mutex_type(PTHREAD_MUTEX_RECURSIVE, "recursive");
}
END_TEST

/* A priority-protect mutex keeps its ceiling in __lock (locking one needs a
 * real-time priority: only its free state is checked). */
START_TEST(test_mutex_pp_free)
{
    pthread_mutexattr_t a;
    pthread_mutex_t m;

    ck_assert_int_eq(pthread_mutexattr_init(&a), 0);
    ck_assert_int_eq(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT), 0);
    ck_assert_int_eq(pthread_mutex_init(&m, &a), 0);
    ck_assert_msg(m.__data.__kind & LW_GLIBC_MUTEX_PP,
                  ABI_MSG "a priority-protect mutex's __kind=%#x lacks LW_GLIBC_MUTEX_PP",
                  "pthread_mutex_t", (unsigned)m.__data.__kind);
    ck_assert_msg(!lw_glibc_mutex_locked(&m) && lw_glibc_mutex_owner(&m) == 0,
                  ABI_MSG "a free priority-protect mutex reads locked: __lock=%#x __owner=%d "
                          "(its ceiling should lie within LW_GLIBC_MUTEX_CEILING_MASK)",
                  "pthread_mutex_t", (unsigned)m.__data.__lock, m.__data.__owner);
    ck_assert_int_eq(pthread_mutex_destroy(&m), 0);
    pthread_mutexattr_destroy(&a);
}
END_TEST

/* ---- rwlocks ---- */

static pthread_rwlock_t rw;
static int step; /* atomic: the helper threads' progress */

static void set_step(int v)
{
    __atomic_store_n(&step, v, __ATOMIC_SEQ_CST);
}

static void wait_step(int v)
{
    unsigned long long end = now_ns() + POLL_LIMIT_NS;
    while (__atomic_load_n(&step, __ATOMIC_SEQ_CST) != v) {
        ck_assert_msg(now_ns() < end, "helper thread did not reach step %d", v);
        sched_yield();
    }
}

/* Waits until the rwlock word has all of `bits` set (another thread
 * registered as writer or reader). */
static void wait_word(unsigned mask, unsigned value, const char *what)
{
    unsigned long long end = now_ns() + POLL_LIMIT_NS;
    while ((lw_glibc_rwlock_word(&rw) & mask) != value) {
        ck_assert_msg(now_ns() < end, ABI_MSG "%s never showed in __readers (%#x)",
                      "pthread_rwlock_t", what, lw_glibc_rwlock_word(&rw));
        sched_yield();
    }
}

static void *second_reader(void *arg)
{
    (void)arg;
    ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
    set_step(1);
    wait_step(2);
    ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
    return NULL;
}

static void *blocked_writer(void *arg)
{
    (void)arg;
    ck_assert_int_eq(pthread_rwlock_wrlock(&rw), 0);
    ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
    return NULL;
}

static void *blocked_reader(void *arg)
{
    (void)arg;
    ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
    ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
    return NULL;
}

#define RW_EXPECT(cond, state)                                                                     \
    ck_assert_msg(cond,                                                                            \
                  ABI_MSG "%s: __readers=%#x __cur_writer=%d (wrlocked %d, readers %u, "           \
                          "owner %d)",                                                             \
                  "pthread_rwlock_t", state, lw_glibc_rwlock_word(&rw), rw.__data.__cur_writer,    \
                  lw_glibc_rwlock_wrlocked(&rw), lw_glibc_rwlock_readers(&rw),                     \
                  lw_glibc_rwlock_owner(&rw))

static void expect_free(const char *state)
{
    RW_EXPECT(!lw_glibc_rwlock_locked(&rw) && !lw_glibc_rwlock_wrlocked(&rw) &&
                  lw_glibc_rwlock_readers(&rw) == 0 && lw_glibc_rwlock_writer(&rw) == 0 &&
                  lw_glibc_rwlock_owner(&rw) == 0,
              state);
}

START_TEST(test_rwlock_words)
{
    pthread_t th;
    int me = gettid();
    unsigned wr = LW_GLIBC_RWLOCK_WRPHASE | LW_GLIBC_RWLOCK_WRLOCKED;

    ck_assert_int_eq(pthread_rwlock_init(&rw, NULL), 0);
    expect_free("a new rwlock should read free");

    /* Write-locked: write phase and a primary writer, __cur_writer us. */
    ck_assert_int_eq(pthread_rwlock_wrlock(&rw), 0);
    RW_EXPECT((lw_glibc_rwlock_word(&rw) & wr) == wr && lw_glibc_rwlock_wrlocked(&rw) &&
                  lw_glibc_rwlock_readers(&rw) == 0 && lw_glibc_rwlock_writer(&rw) == me &&
                  lw_glibc_rwlock_owner(&rw) == me,
              "write-locked should read WRPHASE|WRLOCKED with __cur_writer the writer's tid");
    ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
    /* The writer left: the write phase bit may stay (glibc 2.36: 0x1). */
    expect_free("after the writer unlocked, the rwlock should read free");

    /* Two readers at once, this thread and another. */
    ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
    set_step(0);
    ck_assert_int_eq(pthread_create(&th, NULL, second_reader, NULL), 0);
    wait_step(1);
    RW_EXPECT(!(lw_glibc_rwlock_word(&rw) & LW_GLIBC_RWLOCK_WRPHASE) &&
                  lw_glibc_rwlock_readers(&rw) == 2 && !lw_glibc_rwlock_wrlocked(&rw) &&
                  lw_glibc_rwlock_locked(&rw) && lw_glibc_rwlock_writer(&rw) == 0 &&
                  lw_glibc_rwlock_owner(&rw) == -1,
              "read-locked by 2 readers should read a read phase with 2 readers, no writer");
    set_step(2);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    RW_EXPECT(lw_glibc_rwlock_readers(&rw) == 1 && lw_glibc_rwlock_owner(&rw) == -1,
              "read-locked by 1 reader");

    /* A writer waits for this reader (read phase, WRLOCKED): still read-locked. */
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_writer, NULL), 0);
    wait_word(LW_GLIBC_RWLOCK_WRLOCKED, LW_GLIBC_RWLOCK_WRLOCKED, "a waiting writer");
    RW_EXPECT(lw_glibc_rwlock_readers(&rw) == 1 && !lw_glibc_rwlock_wrlocked(&rw) &&
                  lw_glibc_rwlock_owner(&rw) == -1,
              "read-locked with a writer waiting should read 1 reader and not write-locked");
    ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    expect_free("after the readers and the writer left, the rwlock should read free");

    /* A reader waits for this writer (write phase, readers counted): write-locked,
     * and the waiting reader does not hold it. */
    ck_assert_int_eq(pthread_rwlock_wrlock(&rw), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_reader, NULL), 0);
    wait_word(~0u << LW_GLIBC_RWLOCK_READER_SHIFT, 1u << LW_GLIBC_RWLOCK_READER_SHIFT,
              "a waiting reader");
    RW_EXPECT(lw_glibc_rwlock_wrlocked(&rw) && lw_glibc_rwlock_readers(&rw) == 0 &&
                  lw_glibc_rwlock_owner(&rw) == me,
              "write-locked with a reader waiting should read write-locked by us, 0 readers");
    ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    expect_free("after a reader that waited for a writer left, the rwlock should read free");

    ck_assert_int_eq(pthread_rwlock_destroy(&rw), 0);
}
END_TEST

/* The rwlock's kind in __flags, and what lockwatch takes it to mean: a
 * read lock is refused while a writer waits for the readers only when the
 * rwlock prefers writers "non-recursively" (the read-cycle rule, graph.c). */
static void check_rwlock_kind(int kind, bool writers_first, const char *what)
{
    pthread_rwlockattr_t a;
    pthread_t th;

    ck_assert_int_eq(pthread_rwlockattr_init(&a), 0);
    ck_assert_int_eq(pthread_rwlockattr_setkind_np(&a, kind), 0);
    ck_assert_int_eq(pthread_rwlock_init(&rw, &a), 0);
    pthread_rwlockattr_destroy(&a);
    ck_assert_msg(lw_glibc_rwlock_writers_first(&rw) == writers_first,
                  ABI_MSG "a %s rwlock reads __flags=%u", "pthread_rwlock_t", what,
                  rw.__data.__flags);
    ck_assert_int_eq(pthread_rwlock_rdlock(&rw), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, blocked_writer, NULL), 0);
    wait_word(LW_GLIBC_RWLOCK_WRLOCKED, LW_GLIBC_RWLOCK_WRLOCKED, "a waiting writer");
    int r = pthread_rwlock_tryrdlock(&rw);
    ck_assert_msg(r == (writers_first ? EBUSY : 0),
                  "a %s rwlock held by a reader, a writer waiting: another read lock returned "
                  "%d, expected %s",
                  what, r, writers_first ? "EBUSY (writers first)" : "0 (readers first)");
    if (r == 0)
        ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
    ck_assert_int_eq(pthread_rwlock_unlock(&rw), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(pthread_rwlock_destroy(&rw), 0);
}

START_TEST(test_rwlock_kind)
{
    pthread_rwlock_t wf = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
    pthread_rwlock_t dflt = PTHREAD_RWLOCK_INITIALIZER;

    check_rwlock_kind(PTHREAD_RWLOCK_PREFER_READER_NP, false, "prefer-reader (default)");
    check_rwlock_kind(PTHREAD_RWLOCK_PREFER_WRITER_NP, false, "prefer-writer");
    check_rwlock_kind(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP, true,
                      "prefer-writer-nonrecursive");
    ck_assert(lw_glibc_rwlock_writers_first(&wf));
    ck_assert(!lw_glibc_rwlock_writers_first(&dflt));
}
END_TEST

/* ---- spinlocks ---- */

/* The process-shared flags asleep.c reads: set by the pshared attribute
 * (or sem_init's pshared argument), clear otherwise. */
START_TEST(test_pshared_words)
{
    for (int shared = 0; shared <= 1; shared++) {
        int ps = shared ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE;
        pthread_mutexattr_t ma;
        pthread_condattr_t ca;
        pthread_rwlockattr_t ra;
        pthread_barrierattr_t ba;
        pthread_mutex_t m;
        pthread_cond_t c;
        pthread_rwlock_t rw;
        pthread_barrier_t b;
        sem_t sem;
        ck_assert_int_eq(pthread_mutexattr_init(&ma), 0);
        ck_assert_int_eq(pthread_mutexattr_setpshared(&ma, ps), 0);
        ck_assert_int_eq(pthread_mutex_init(&m, &ma), 0);
        ck_assert_msg(lw_glibc_mutex_pshared(&m) == shared, "mutex __kind pshared bit");
        ck_assert_int_eq(pthread_condattr_init(&ca), 0);
        ck_assert_int_eq(pthread_condattr_setpshared(&ca, ps), 0);
        ck_assert_int_eq(pthread_cond_init(&c, &ca), 0);
        ck_assert_msg(lw_glibc_cond_pshared(&c) == shared, "condvar __wrefs shared bit");
        ck_assert_int_eq(pthread_rwlockattr_init(&ra), 0);
        ck_assert_int_eq(pthread_rwlockattr_setpshared(&ra, ps), 0);
        ck_assert_int_eq(pthread_rwlock_init(&rw, &ra), 0);
        ck_assert_msg(lw_glibc_rwlock_pshared(&rw) == shared, "rwlock __shared");
        ck_assert_int_eq(pthread_barrierattr_init(&ba), 0);
        ck_assert_int_eq(pthread_barrierattr_setpshared(&ba, ps), 0);
        ck_assert_int_eq(pthread_barrier_init(&b, &ba, 2), 0);
        ck_assert_msg(lw_glibc_barrier_pshared(&b) == shared, "barrier `shared` word");
        ck_assert_int_eq(sem_init(&sem, shared, 0), 0);
        ck_assert_msg(lw_glibc_sem_pshared(&sem) == shared, "semaphore `private` word");
        /* Waiting on them does not change the flag (a condvar's __wrefs
         * also counts waiters). */
        ck_assert_int_eq(pthread_mutex_lock(&m), 0);
        struct timespec ts = { 0, 0 };
        ck_assert_int_eq(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
        ck_assert_msg(lw_glibc_cond_pshared(&c) == shared, "condvar flag after a wait");
        ck_assert_int_eq(pthread_mutex_unlock(&m), 0);
        sem_destroy(&sem);
        pthread_barrier_destroy(&b);
        pthread_rwlock_destroy(&rw);
        pthread_cond_destroy(&c);
        pthread_mutex_destroy(&m);
    }
}
END_TEST

START_TEST(test_spin_words)
{
    pthread_spinlock_t s;

    ck_assert_int_eq(pthread_spin_init(&s, PTHREAD_PROCESS_PRIVATE), 0);
    ck_assert_msg(!lw_glibc_spin_locked(&s) && s == LW_GLIBC_SPIN_FREE,
                  ABI_MSG "a new spinlock reads %d, expected LW_GLIBC_SPIN_FREE (%d)",
                  "pthread_spinlock_t", (int)s, LW_GLIBC_SPIN_FREE);
    ck_assert_int_eq(pthread_spin_lock(&s), 0);
    ck_assert_msg(lw_glibc_spin_locked(&s), ABI_MSG "a locked spinlock reads %d, the free value",
                  "pthread_spinlock_t", (int)s);
    ck_assert_int_eq(pthread_spin_unlock(&s), 0);
    ck_assert_msg(!lw_glibc_spin_locked(&s), ABI_MSG "an unlocked spinlock reads %d, expected %d",
                  "pthread_spinlock_t", (int)s, LW_GLIBC_SPIN_FREE);
    ck_assert_int_eq(pthread_spin_trylock(&s), 0);
    ck_assert_msg(lw_glibc_spin_locked(&s), ABI_MSG "a spinlock taken by trylock reads %d",
                  "pthread_spinlock_t", (int)s);
    ck_assert_int_eq(pthread_spin_unlock(&s), 0);
    ck_assert_int_eq(pthread_spin_destroy(&s), 0);
}
END_TEST

static Suite *glibc_suite(void)
{
    Suite *su = suite_create("glibc");
    TCase *tc = tcase_create("lock words");
    tcase_add_test(tc, test_mutex_words);
    tcase_add_test(tc, test_mutex_pp_free);
    tcase_add_test(tc, test_rwlock_words);
    tcase_add_test(tc, test_rwlock_kind);
    tcase_add_test(tc, test_spin_words);
    tcase_add_test(tc, test_pshared_words);
    suite_add_tcase(su, tc);
    return su;
}

LW_UNIT_MAIN(glibc_suite)
