/*
 * c11_inversion.c - the two-lock inversion written with C11 <threads.h>.
 *
 * Same scenario as inversion.c but with mtx_t / thrd_t: thread 1 locks
 * lock_a then lock_b, is joined, then thread 2 locks lock_b then lock_a.
 * The threads never overlap, so the program cannot hang, but the two orders
 * are inconsistent.
 *
 * Expected lockwatch result: exactly one `lock-order-inversion` report naming
 * both C11 mutexes (lock kind "c11-mutex"); the backtraces show
 * take_a_then_b and take_b_then_a.
 */
#include <stdio.h>
#include <threads.h>

static mtx_t lock_a;
static mtx_t lock_b;
static int shared_counter;

static int take_a_then_b(void *arg)
{
    (void)arg;
    mtx_lock(&lock_a);
    mtx_lock(&lock_b); /* edge a -> b */
    shared_counter += 1;
    mtx_unlock(&lock_b);
    mtx_unlock(&lock_a);
    return 0;
}

static int take_b_then_a(void *arg)
{
    (void)arg;
    mtx_lock(&lock_b);
    mtx_lock(&lock_a); /* edge b -> a: inversion */
    shared_counter += 10;
    mtx_unlock(&lock_a);
    mtx_unlock(&lock_b);
    return 0;
}

int main(void)
{
    thrd_t t1, t2;

    if (mtx_init(&lock_a, mtx_plain) != thrd_success || mtx_init(&lock_b, mtx_plain) != thrd_success)
        return 1;

    if (thrd_create(&t1, take_a_then_b, NULL) != thrd_success)
        return 1;
    thrd_join(t1, NULL);
    if (thrd_create(&t2, take_b_then_a, NULL) != thrd_success)
        return 1;
    thrd_join(t2, NULL);

    mtx_destroy(&lock_a);
    mtx_destroy(&lock_b);
    printf("c11_inversion: counter=%d\n", shared_counter);
    return 0;
}
