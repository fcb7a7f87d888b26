/*
 * unit.h: what the Check suites over the core share.
 */
#ifndef LW_UNIT_H
#define LW_UNIT_H

#include <check.h>
#include <stdlib.h>

/* Every ck_assert records a checkpoint in Check's log (a write per call);
 * hot loops use these, which reach Check only when they fail. */
#define REQUIRE(e)                                                                                 \
    do {                                                                                           \
        if (!(e))                                                                                  \
            ck_assert(e);                                                                          \
    } while (0)
#define REQUIRE_MSG(e, ...)                                                                        \
    do {                                                                                           \
        if (!(e))                                                                                  \
            ck_assert_msg(e, __VA_ARGS__);                                                         \
    } while (0)

#ifdef LW_THREAD_H
/* The test's real thread as lockwatch's current thread (rules and waits
 * that look at the calling thread, lw_tls): a state of its own, attached
 * once per thread.  (Only where thread.h is included.) */
static inline lw_thread *unit_self(void)
{
    static __thread lw_thread *me;
    if (!me) {
        me = calloc(1, sizeof(*me));
        ck_assert(me != NULL);
        lw_thread_init(me);
        lw_tls.t = me;
    }
    return me;
}
#endif

/* main() of a suite: runs it in Check's normal (forking) mode. */
#define LW_UNIT_MAIN(suite_fn)                                                                     \
    int main(void)                                                                                 \
    {                                                                                              \
        SRunner *sr = srunner_create(suite_fn());                                                  \
        srunner_run_all(sr, CK_ENV);                                                               \
        int failed = srunner_ntests_failed(sr);                                                    \
        srunner_free(sr);                                                                          \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                               \
    }

#endif
