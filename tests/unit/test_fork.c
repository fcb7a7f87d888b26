/*
 * test_fork.c: the fork handlers against lockwatch's internal locks.
 *
 * The prepare handler must take every internal lock (arena.h lists them),
 * so that no other thread is inside one when the process is copied: a
 * child would wait for ever on a lock held by a thread it does not have.
 * That is checked deterministically here: while this thread is "prepared"
 * (lw_core_atfork_prepare and lw_arena_atfork_prepare, as intercept.c calls
 * them), another thread runs an operation that takes one of the locks; it
 * must not get through until the parent handlers run (for libunwind, whose
 * locks are not ours: must not enter it).  Each operation is
 * run once before, on the same thread, so that it takes no other lock on
 * the way (no allocation, a known backtrace), and each is named after the
 * lock it needs.  Then a real fork: in the child, after the child handlers,
 * every operation must complete (the locks the forking thread took are
 * free again), under an alarm.
 */
#include "arena.h"
#include "deadlock.h"
#include "finding.h"
#include "graph.h"
#include "lw_core.h"
#include "report.h"
#include "rules.h"
#include "stacks.h"

#include "unit.h"
#include <check.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLOCKED_MS 150 /* how long an operation must stay blocked */

static lw_lock *node;      /* what op_wait_end's record waits for */
static lw_lock *pend_node; /* a lock whose second user flushes pending reports */
static uintptr_t libc_pc;  /* an address inside libc, for the symboliser */

typedef struct job {
    const char *lock; /* the internal lock the operation needs */
    void (*op)(struct job *);
    lw_waitrec *w;
    int phase; /* atomic: 1 warmed up, 2 go, 3 done */
} job;

static void op_unwind(job *j)
{
    uintptr_t pcs[8];
    (void)j;
    (void)lw_unwind(pcs, NULL, 8);
}

static void op_graph(job *j)
{
    (void)j;
    lw_graph_lock();
    lw_graph_unlock();
}

/* The warm-up publishes a wait record (which takes the depot lock, the
 * record pool, ...); the operation proper only ends it. */
static void op_wait_end(job *j)
{
    if (!j->w) {
        j->w = lw_wait_begin(unit_self(), node, LW_MODE_WRITE, NULL, false);
        ck_assert(j->w != NULL);
    } else {
        lw_wait_end(j->w);
        j->w = NULL;
    }
}

static void op_pending(job *j)
{
    (void)j;
    /* A new second user of a lock named by a pending report: pending_flush. */
    __atomic_store_n(&pend_node->users, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&pend_node->pending, true, __ATOMIC_SEQ_CST);
    lw_lock_user_slow(pend_node, 2, 1);
}

static void op_seen(job *j)
{
    (void)j;
    (void)lw_first_time(0x5eed);
}
/* The writer: its workspace pool, then the report stream's lock (the
 * report goes to LOCKWATCH_LOG=/dev/null, set up below). */
static void op_report(job *j)
{
    static lw_finding f;
    (void)j;
    f.kind = LW_F_DEADLOCK;
    f.waiters = -1;
    f.call.elapsed_us = -1;
    lw_report_finding(&f);
}
static void op_finding_pool(job *j)
{
    (void)j;
    lw_finding_free(lw_finding_new(LW_F_DEADLOCK));
}

static void op_depot(job *j)
{
    uintptr_t pc = 0x1234;
    (void)j;
    (void)lw_depot_put(&pc, 1);
}

static void op_sym(job *j)
{
    lw_frame_info fi;
    (void)j;
    lw_symbolize(libc_pc, &fi);
}

static void op_names(job *j)
{
    (void)j;
    lw_lock_set_name(0x1000, "named");
    (void)lw_lock_name(0x1000);
}

static void op_arena(job *j)
{
    (void)j;
    (void)lw_arena_alloc(16);
}

static job jobs[] = {
    {"the unwind gate", op_unwind, NULL, 0}, {"graph_lock", op_graph, NULL, 0},
    {"wait_lock", op_wait_end, NULL, 0},     {"pending_lock", op_pending, NULL, 0},
    {"seen_lock", op_seen, NULL, 0},         {"report_lock", op_report, NULL, 0},
    {"finding_pool", op_finding_pool, NULL, 0},       {"depot_lock", op_depot, NULL, 0},
    {"sym_lock", op_sym, NULL, 0},           {"names_lock", op_names, NULL, 0},
    {"arena_lock", op_arena, NULL, 0},
};

static void setup(void)
{
    setenv("LOCKWATCH_LOG", "/dev/null", 1);
    ck_assert(lw_core_init(NULL, NULL));
    lw_thread_setup(unit_self());
    node = lw_lock_create(0x2000, LW_KIND_MUTEX, 0, 0);
    pend_node = lw_lock_create(0x3000, LW_KIND_MUTEX, 0, 0);
    ck_assert(node && pend_node);
    libc_pc = (uintptr_t)dlsym(RTLD_DEFAULT, "getpid") + 1;
    ck_assert(libc_pc > 1);
}

static void prepare_all(void)
{
    lw_core_atfork_prepare();
    lw_arena_atfork_prepare();
}

static void parent_all(void)
{
    lw_arena_atfork_parent();
    lw_core_atfork_parent();
}

static void child_all(void)
{
    lw_arena_atfork_child();
    lw_core_atfork_child();
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *runner(void *arg)
{
    job *j = arg;
    lw_thread_setup(unit_self());
    j->op(j); /* warm-up: allocations, libunwind, the backtrace in the depot */
    __atomic_store_n(&j->phase, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&j->phase, __ATOMIC_SEQ_CST) != 2)
        sched_yield();
    j->op(j);
    __atomic_store_n(&j->phase, 3, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Runs j on another thread while this one holds the prepared locks: true
 * if it stayed blocked. */
static bool blocked_while_prepared(job *j)
{
    pthread_t th;
    j->phase = 0;
    ck_assert_int_eq(pthread_create(&th, NULL, runner, j), 0);
    while (__atomic_load_n(&j->phase, __ATOMIC_SEQ_CST) != 1)
        sched_yield();
    prepare_all();
    __atomic_store_n(&j->phase, 2, __ATOMIC_SEQ_CST);
    sleep_ms(BLOCKED_MS);
    bool blocked = __atomic_load_n(&j->phase, __ATOMIC_SEQ_CST) != 3;
    parent_all();
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(j->phase, 3);
    return blocked;
}

START_TEST(prepare_takes_every_lock)
{
    setup();
    job *j = &jobs[_i];
    ck_assert_msg(blocked_while_prepared(j),
                  "an operation that needs %s completed while the fork prepare handler "
                  "held lockwatch's locks: a fork at that moment copies %s held by a "
                  "thread the child does not have",
                  j->lock, j->lock);
}
END_TEST

/* A real fork from the prepared state: in the child, after the child
 * handlers, every operation completes (and the wait record this thread
 * published before the fork is still its own to end). */
START_TEST(child_can_take_every_lock)
{
    setup();
    for (unsigned i = 0; i < LW_ARRAY_SIZE(jobs); i++)
        jobs[i].op(&jobs[i]); /* warm-up on this thread */
    prepare_all();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        child_all();
        alarm(10);
        for (unsigned i = 0; i < LW_ARRAY_SIZE(jobs); i++)
            jobs[i].op(&jobs[i]);
        _exit(0);
    }
    parent_all();
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the fork child did not complete every operation (status 0x%x%s)", status,
                  WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? ": it hung" : "");
}
END_TEST

static Suite *fork_suite(void)
{
    Suite *s = suite_create("fork");
    TCase *tc = tcase_create("handlers");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, prepare_takes_every_lock, 0, (int)LW_ARRAY_SIZE(jobs));
    tcase_add_test(tc, child_can_take_every_lock);
    suite_add_tcase(s, tc);
    return s;
}

LW_UNIT_MAIN(fork_suite)
