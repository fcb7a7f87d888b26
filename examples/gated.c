/*
 * gated.c - an inversion that is protected by a common "gate" lock.
 *
 * Thread 1 takes gate, then a, then b.  Thread 2 takes gate, then b, then a.
 * The orders of a and b disagree, but both orders only ever happen while the
 * thread holds `gate`: whoever holds the gate is the only thread that can be
 * touching a and b, so the two orders can never interleave and this cycle
 * cannot deadlock.  (Such a lock is also called a guard lock.)
 *
 * The two threads really run concurrently here, many times over, to show
 * that it is safe.
 *
 * Expected lockwatch result: no report, exit status 0.
 */
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 1000

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static long a_then_b, b_then_a;

static void *gate_a_then_b(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&gate);
        pthread_mutex_lock(&lock_a);
        pthread_mutex_lock(&lock_b); /* a -> b, under gate */
        a_then_b++;
        pthread_mutex_unlock(&lock_b);
        pthread_mutex_unlock(&lock_a);
        pthread_mutex_unlock(&gate);
    }
    return NULL;
}

static void *gate_b_then_a(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&gate);
        pthread_mutex_lock(&lock_b);
        pthread_mutex_lock(&lock_a); /* b -> a, but also under gate */
        b_then_a++;
        pthread_mutex_unlock(&lock_a);
        pthread_mutex_unlock(&lock_b);
        pthread_mutex_unlock(&gate);
    }
    return NULL;
}

int main(void)
{
    pthread_t t1, t2;

    if (pthread_create(&t1, NULL, gate_a_then_b, NULL) != 0)
        return 1;
    if (pthread_create(&t2, NULL, gate_b_then_a, NULL) != 0)
        return 1;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);

    printf("gated: a->b %ld times, b->a %ld times, no deadlock possible\n", a_then_b, b_then_a);
    return 0;
}
