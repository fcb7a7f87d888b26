/*
 * inversion.c - the classic two-lock order inversion.
 *
 * Thread 1 takes lock_a then lock_b; after it has finished (it is joined),
 * thread 2 takes lock_b then lock_a.  Because the threads never overlap the
 * program cannot actually deadlock, but the two acquisition orders are
 * inconsistent: run concurrently, each thread could hold one lock and wait
 * forever for the other.
 *
 * Both mutexes use PTHREAD_MUTEX_INITIALIZER, so lockwatch sees them for the
 * first time when they are locked (there is no pthread_mutex_init call).
 *
 * Expected lockwatch result: exactly one `lock-order-inversion` report whose
 * cycle names both locks (lock_a => lock_b => lock_a); the backtraces show
 * take_a_then_b and take_b_then_a.
 */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static int shared_counter;

/* Thread 1: the "good" order a -> b. */
static void *take_a_then_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    pthread_mutex_lock(&lock_b); /* edge a -> b */
    shared_counter += 1;
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

/* Thread 2: the reverse order b -> a, which closes the cycle. */
static void *take_b_then_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    pthread_mutex_lock(&lock_a); /* edge b -> a: inversion */
    shared_counter += 10;
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

int main(void)
{
    pthread_t t1, t2;

    /* Run the threads one after the other so the program never hangs. */
    if (pthread_create(&t1, NULL, take_a_then_b, NULL) != 0)
        return 1;
    pthread_join(t1, NULL);
    if (pthread_create(&t2, NULL, take_b_then_a, NULL) != 0)
        return 1;
    pthread_join(t2, NULL);

    printf("inversion: counter=%d\n", shared_counter);
    return 0;
}
