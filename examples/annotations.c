/*
 * annotations.c - the annotations of <lockwatch.h> used right and wrong.
 *
 *   annotations ok       every annotation used correctly: asserts that hold
 *                        for a mutex, an rwlock (read and write), a
 *                        spinlock and a C11 mtx_t; a declared order that is
 *                        kept; guarded ranges looked up, forgotten when their
 *                        memory is freed, moved by realloc or unmapped, or
 *                        their lock destroyed; each
 *                        macro's arguments evaluated exactly once.
 *   annotations bad      each assertion false once at its own line, twice
 *                        (reported once per call site); a declared order
 *                        broken directly, through a path of declarations, and
 *                        before it was declared.
 *   annotations badargs  NULL locks, size 0, an overlapping range: at most
 *                        a warning each, no crash, no report.
 *
 * Expected lockwatch result: `ok` and `badargs` report nothing (badargs
 * prints `lockwatch: warning:` lines); `bad` reports, in this order,
 * assert-held on a_lock (line marked A1), assert-held on never_lock (A2),
 * assert-not-held on rw_lock held for reading (N1), on spin_lock (N2) and
 * on c11_lock (N3), then order-violation a_lock taken holding b_lock (O1)
 * and x_lock taken holding z_lock (O2, declared x before y before z), and
 * late_a taken holding late_b (O3) when that order is declared later (O3d).
 * Without lockwatch every mode runs and exits 0 (the macros do nothing).
 */
#include <lockwatch.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <threads.h>
#include <unistd.h>

static pthread_mutex_t a_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t never_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t x_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t y_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t z_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t late_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t late_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_spinlock_t spin_lock;
static mtx_t c11_lock;

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        printf("annotations: FAILED: %s\n", what);
        failures++;
    }
}

/* Counts the evaluations of a macro argument. */
static int evals;
static void *once(void *p)
{
    evals++;
    return p;
}

static void asserts_ok(void)
{
    pthread_mutex_lock(&a_lock);
    LOCKWATCH_ASSERT_HELD(&a_lock);
    LOCKWATCH_ASSERT_NOT_HELD(&b_lock);
    pthread_mutex_unlock(&a_lock);
    LOCKWATCH_ASSERT_NOT_HELD(&a_lock);

    pthread_rwlock_rdlock(&rw_lock);
    LOCKWATCH_ASSERT_HELD(&rw_lock);
    pthread_rwlock_unlock(&rw_lock);
    pthread_rwlock_wrlock(&rw_lock);
    LOCKWATCH_ASSERT_HELD(&rw_lock);
    pthread_rwlock_unlock(&rw_lock);
    LOCKWATCH_ASSERT_NOT_HELD(&rw_lock);

    pthread_spin_lock(&spin_lock);
    LOCKWATCH_ASSERT_HELD(&spin_lock);
    pthread_spin_unlock(&spin_lock);
    LOCKWATCH_ASSERT_NOT_HELD(&spin_lock);

    mtx_lock(&c11_lock);
    LOCKWATCH_ASSERT_HELD(&c11_lock);
    mtx_unlock(&c11_lock);
    LOCKWATCH_ASSERT_NOT_HELD(&c11_lock);

    LOCKWATCH_ASSERT_NOT_HELD(&never_lock);   /* never seen: not held */

    /* Each argument once, lockwatch or not. */
    evals = 0;
    pthread_mutex_lock(&a_lock);
    LOCKWATCH_ASSERT_HELD(once(&a_lock));
    pthread_mutex_unlock(&a_lock);
    LOCKWATCH_ASSERT_NOT_HELD(once(&a_lock));
    check(evals == 2, "assert arguments evaluated once");
}

static void order_ok(void)
{
    evals = 0;
    LOCKWATCH_ORDER(once(&a_lock), once(&b_lock));
    check(evals == 2, "order arguments evaluated once");
    pthread_mutex_lock(&a_lock);
    pthread_mutex_lock(&b_lock);
    pthread_mutex_unlock(&b_lock);
    pthread_mutex_unlock(&a_lock);
}

struct account {
    pthread_mutex_t lock;
    long balance;
    char note[24];
};

static void guarded_ok(void)
{
    struct account *acc = malloc(sizeof(*acc));
    pthread_mutex_init(&acc->lock, NULL);
    evals = 0;
    LOCKWATCH_GUARDED_BY(once(&acc->balance), (evals++, sizeof(acc->balance)), once(&acc->lock));
    check(evals == 3, "guarded_by arguments evaluated once");
    LOCKWATCH_GUARDED_BY(acc->note, sizeof(acc->note), &a_lock);
    if (lockwatch_guarded_by) {
        check(lockwatch_guarded_by(&acc->balance) == &acc->lock, "balance guarded by acc->lock");
        check(lockwatch_guarded_by((char *)&acc->balance + sizeof(acc->balance) - 1) ==
                  &acc->lock, "last byte of balance guarded");
        check(lockwatch_guarded_by(&acc->note[5]) == &a_lock, "note guarded by a_lock");
        check(lockwatch_guarded_by(&acc->lock) == NULL, "the lock itself is not guarded");
    }
    pthread_mutex_lock(&acc->lock);
    acc->balance = 100;
    pthread_mutex_unlock(&acc->lock);
    uintptr_t balance_addr = (uintptr_t)&acc->balance, note_addr = (uintptr_t)&acc->note;
    pthread_mutex_destroy(&acc->lock);   /* forgets what acc->lock guards */
    if (lockwatch_guarded_by) {
        check(lockwatch_guarded_by((void *)balance_addr) == NULL,
              "balance forgotten when its lock is destroyed");
        check(lockwatch_guarded_by((void *)note_addr) == &a_lock, "note still guarded");
    }
    free(acc);                           /* forgets the note's range */
    if (lockwatch_guarded_by)
        check(lockwatch_guarded_by((void *)note_addr) == NULL, "note forgotten when freed");

    /* realloc moving the block gives the old one back. */
    char *buf = malloc(32);
    LOCKWATCH_GUARDED_BY(buf, 32, &b_lock);
    uintptr_t old = (uintptr_t)buf;
    char *big = realloc(buf, 1 << 20);   /* too big to grow in place */
    if (lockwatch_guarded_by && big && (uintptr_t)big != old)
        check(lockwatch_guarded_by((void *)old) == NULL, "range forgotten when realloc moves");
    free(big);

    /* munmap gives the mapping back. */
    long page = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map != MAP_FAILED) {
        LOCKWATCH_GUARDED_BY(map + 100, 50, &b_lock);
        if (lockwatch_guarded_by)
            check(lockwatch_guarded_by(map + 149) == &b_lock, "mapping guarded");
        munmap(map, (size_t)page);
        if (lockwatch_guarded_by)
            check(lockwatch_guarded_by(map + 120) == NULL, "range forgotten when unmapped");
    }
}

static void asserts_bad(void)
{
    for (int i = 0; i < 2; i++) {
        LOCKWATCH_ASSERT_HELD(&a_lock);           /* A1 */
        LOCKWATCH_ASSERT_HELD(&never_lock);       /* A2 */

        pthread_rwlock_rdlock(&rw_lock);
        LOCKWATCH_ASSERT_NOT_HELD(&rw_lock);      /* N1 */
        pthread_rwlock_unlock(&rw_lock);

        pthread_spin_lock(&spin_lock);
        LOCKWATCH_ASSERT_NOT_HELD(&spin_lock);    /* N2 */
        pthread_spin_unlock(&spin_lock);

        mtx_lock(&c11_lock);
        LOCKWATCH_ASSERT_NOT_HELD(&c11_lock);     /* N3 */
        mtx_unlock(&c11_lock);
    }
}

static void order_bad(void)
{
    LOCKWATCH_ORDER(&a_lock, &b_lock);
    LOCKWATCH_ORDER(&x_lock, &y_lock);
    LOCKWATCH_ORDER(&y_lock, &z_lock);
    for (int i = 0; i < 2; i++) {
        pthread_mutex_lock(&b_lock);
        pthread_mutex_lock(&a_lock);              /* O1 */
        pthread_mutex_unlock(&a_lock);
        pthread_mutex_unlock(&b_lock);

        pthread_mutex_lock(&z_lock);
        pthread_mutex_lock(&x_lock);              /* O2 */
        pthread_mutex_unlock(&x_lock);
        pthread_mutex_unlock(&z_lock);
    }
    /* Taken against the order before it is declared: reported when it is. */
    pthread_mutex_lock(&late_b);
    pthread_mutex_lock(&late_a);                  /* O3 */
    pthread_mutex_unlock(&late_a);
    pthread_mutex_unlock(&late_b);
    LOCKWATCH_ORDER(&late_a, &late_b);            /* O3d */
}

static void badargs(void)
{
    static long cell[8];
    LOCKWATCH_ASSERT_HELD((pthread_mutex_t *)NULL);
    LOCKWATCH_ASSERT_NOT_HELD((pthread_mutex_t *)NULL);
    LOCKWATCH_ORDER(&a_lock, NULL);
    LOCKWATCH_ORDER(&a_lock, &a_lock);
    LOCKWATCH_GUARDED_BY(cell, 0, &a_lock);
    LOCKWATCH_GUARDED_BY(cell, sizeof(cell), NULL);
    LOCKWATCH_GUARDED_BY(NULL, 8, &a_lock);
    LOCKWATCH_GUARDED_BY(&cell[0], 4 * sizeof(long), &a_lock);
    LOCKWATCH_GUARDED_BY(&cell[2], 4 * sizeof(long), &b_lock);   /* overlaps: replaces */
    if (lockwatch_guarded_by) {
        check(lockwatch_guarded_by(&cell[0]) == NULL, "overlapped range replaced");
        check(lockwatch_guarded_by(&cell[3]) == &b_lock, "newest range kept");
    }
    /* A declared order against an earlier one is refused. */
    LOCKWATCH_ORDER(&x_lock, &y_lock);
    LOCKWATCH_ORDER(&y_lock, &x_lock);
    pthread_mutex_lock(&x_lock);
    pthread_mutex_lock(&y_lock);
    pthread_mutex_unlock(&y_lock);
    pthread_mutex_unlock(&x_lock);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "ok";
    pthread_spin_init(&spin_lock, PTHREAD_PROCESS_PRIVATE);
    mtx_init(&c11_lock, mtx_plain);
    printf("annotations %s: starting\n", mode);
    if (strcmp(mode, "ok") == 0) {
        asserts_ok();
        order_ok();
        guarded_ok();
    } else if (strcmp(mode, "bad") == 0) {
        asserts_bad();
        order_bad();
    } else if (strcmp(mode, "badargs") == 0) {
        badargs();
    } else {
        fprintf(stderr, "usage: annotations ok|bad|badargs\n");
        return 2;
    }
    printf("annotations %s: done\n", mode);
    return failures ? 1 : 0;
}
