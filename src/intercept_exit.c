/*
 * intercept_exit.c: the process exit status.  When anything was reported,
 * the status becomes LOCKWATCH_EXITCODE however the program ends: returning
 * from main (we wrap main through __libc_start_main), exit, _exit, _Exit.
 * Reports written later, by exit handlers or destructors, are caught by a
 * last exit handler registered before any of the program's.
 */
#include "intercept.h"
#include "race.h"
#include "options.h"
#include "finding.h"
#include "stacks.h"
#include "suppress.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int (*real_main)(int, char **, char **);
static uint64_t decided_reports; /* report count when the status was decided */
static int decided_status;

/* A vfork child shares its parent's memory: it works out its status but
 * writes nothing of the parent's, and leaves the final words to it. */
static bool vfork_child(void)
{
    return lw_load_relaxed(&lw_core_ready) && lw_in_vfork_child();
}

static int decide(int status)
{
    if (!lw_load_relaxed(&lw_core_ready))
        return status;
    if (vfork_child())
        return lw_exit_status(status);
    lw_race_flush_exit();   /* races found by samples (and the monitor's), before the status */
    decided_reports = lw_findings_count();
    decided_status = lw_exit_status(status);
    return decided_status;
}

/* The end of the process as lockwatch sees it: say what suppressions hid. */
static void final_words(void)
{
    if (lw_load_relaxed(&lw_core_ready) && !vfork_child()) {
        lw_supp_summary();
        lw_race_final_words();
    }
}

static void last_exit_handler(void)
{
    /* The run's graph for the JSON log, after the program's own exit
     * handlers (their locks are in it).  Not on _exit and _Exit, which run
     * no handlers: a fork or vfork child ending that way leaves the graph
     * to its parent. */
    if (lw_load_relaxed(&lw_core_ready)) {
        lw_guard_up();
        lw_core_write_graph();
        lw_guard_down();
    }
    final_words();
    /* Reports made by exit handlers that ran after the status was decided:
     * the status must still say so.  stdio is flushed as exit would. */
    if (lw_findings_count() > decided_reports && lw_opt.exitcode != 0 &&
        decided_status != (int)lw_opt.exitcode) {
        fflush(NULL);
        LW_REAL(_exit)((int)lw_opt.exitcode);
    }
}

static int main_wrapper(int argc, char **argv, char **envp)
{
    return decide(real_main(argc, argv, envp));
}

LW_EXPORT int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
                                void (*init)(void), void (*fini)(void), void (*rtld_fini)(void),
                                void *stack_end)
{
    lw_intercept_init();
    lw_guard_up();
    lw_stacks_init(); /* libc is up now: dlopen works */
    lw_race_init();   /* LOCKWATCH_RACES: handlers, the main thread's timer */
    lw_guard_down();
    real_main = main;
    atexit(last_exit_handler);
    return lw_real___libc_start_main(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

LW_EXPORT void exit(int status)
{
    if (!lw_real_exit)
        lw_resolve_all();
    lw_real_exit(decide(status));
    __builtin_unreachable();
}

LW_EXPORT void _exit(int status)
{
    if (!lw_real__exit)
        lw_resolve_all();
    int st = decide(status);
    final_words();   /* no exit handlers run after _exit */
    lw_real__exit(st);
    __builtin_unreachable();
}

LW_EXPORT void _Exit(int status)
{
    if (!lw_real__Exit)
        lw_resolve_all();
    int st = decide(status);
    final_words();
    lw_real__Exit(st);
    __builtin_unreachable();
}
