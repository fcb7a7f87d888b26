/*
 * cxx_annotations.cpp - the annotations of <lockwatch.h> from C++: the
 * macros over std::mutex and std::shared_mutex (whose native handles are
 * the pthread objects lockwatch sees: the address of the C++ object is
 * the lock's address), each argument evaluated once.
 *
 *   cxx_annotations ok    asserts that hold, a kept order, a guarded member
 *   cxx_annotations bad   ASSERT_HELD of an unlocked std::mutex (line CA1),
 *                         ASSERT_NOT_HELD of a shared-locked shared_mutex
 *                         (CN1), an order broken (CO1)
 *
 * Expected lockwatch result: `ok` reports nothing; `bad` reports
 * assert-held, assert-not-held and order-violation, once each.  Without
 * lockwatch both modes exit 0.
 */
#include <lockwatch.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <shared_mutex>

static std::mutex first_mutex, second_mutex;
static std::shared_mutex table_mutex;

struct Counter {
    std::mutex m;
    long value = 0;
};

static int evals;
template <typename T> static T *once(T *p)
{
    evals++;
    return p;
}

static int ok()
{
    int failures = 0;
    {
        std::lock_guard<std::mutex> g(first_mutex);
        LOCKWATCH_ASSERT_HELD(once(&first_mutex));
        LOCKWATCH_ASSERT_NOT_HELD(&second_mutex);
    }
    {
        std::shared_lock<std::shared_mutex> g(table_mutex);
        LOCKWATCH_ASSERT_HELD(&table_mutex);
    }
    LOCKWATCH_ASSERT_NOT_HELD(&table_mutex);
    LOCKWATCH_ORDER(once(&first_mutex), once(&second_mutex));
    {
        std::scoped_lock g(first_mutex);
        std::lock_guard<std::mutex> g2(second_mutex);
    }
    Counter *c = new Counter;
    LOCKWATCH_GUARDED_BY(once(&c->value), sizeof c->value, once(&c->m));
    if (lockwatch_guarded_by && lockwatch_guarded_by(&c->value) != &c->m) {
        std::printf("cxx_annotations: FAILED: value not guarded by m\n");
        failures++;
    }
    delete c;
    if (evals != 5) {
        std::printf("cxx_annotations: FAILED: %d evaluations, expected 5\n", evals);
        failures++;
    }
    return failures;
}

static void bad()
{
    for (int i = 0; i < 2; i++) {
        LOCKWATCH_ASSERT_HELD(&first_mutex);                      /* CA1 */
        {
            std::shared_lock<std::shared_mutex> g(table_mutex);
            LOCKWATCH_ASSERT_NOT_HELD(&table_mutex);              /* CN1 */
        }
    }
    LOCKWATCH_ORDER(&first_mutex, &second_mutex);
    std::lock_guard<std::mutex> g(second_mutex);
    std::lock_guard<std::mutex> g2(first_mutex);                  /* CO1 */
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ok";
    std::printf("cxx_annotations %s: starting\n", mode);
    int failures = 0;
    if (std::strcmp(mode, "ok") == 0)
        failures = ok();
    else if (std::strcmp(mode, "bad") == 0)
        bad();
    else
        return 2;
    std::printf("cxx_annotations %s: done\n", mode);
    return failures ? 1 : 0;
}
