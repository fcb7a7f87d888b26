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
 *
 * The same A/B inversion without the gate, for contrast (each terminates
 * without lockwatch, since the two orders never overlap):
 *
 *   gated no-gate     thread 1 takes a then b once; after it was joined,
 *                     thread 2 takes b then a once.  Two threads, holding
 *                     nothing else: one lock-order-inversion report,
 *                     "confidence":"feasible" (with another timing this run
 *                     could have deadlocked).
 *   gated one-thread  one thread takes a then b, then b then a (as a program
 *                     whose two code paths happen to be called from one
 *                     thread).  This run cannot deadlock, but the program
 *                     does once two threads run those paths: one report,
 *                     "confidence":"latent" (Helgrind, ThreadSanitizer and
 *                     lockdep report it too).
 *
 * Either prints the same line natively and under lockwatch, which then
 * exits with status 66.
 *
 * Helgrind (valgrind 3.19) has no notion of a gate lock: it reports the
 * gated program too (and both modes).  DRD has no lock-order check.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

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

/* The two orders, without the gate. */
static void *ungated_a_then_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_a);
    pthread_mutex_lock(&lock_b); /* a -> b */
    a_then_b++;
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
    return NULL;
}

static void *ungated_b_then_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock_b);
    pthread_mutex_lock(&lock_a); /* b -> a: the inversion */
    b_then_a++;
    pthread_mutex_unlock(&lock_a);
    pthread_mutex_unlock(&lock_b);
    return NULL;
}

static void *one_thread_both(void *arg)
{
    ungated_a_then_b(arg);
    ungated_b_then_a(arg);
    return NULL;
}

static int ungated(const char *mode)
{
    pthread_t t1, t2;

    if (strcmp(mode, "no-gate") == 0) {
        /* One after the other, so that the program never hangs. */
        if (pthread_create(&t1, NULL, ungated_a_then_b, NULL) != 0)
            return 1;
        pthread_join(t1, NULL);
        if (pthread_create(&t2, NULL, ungated_b_then_a, NULL) != 0)
            return 1;
        pthread_join(t2, NULL);
    } else if (strcmp(mode, "one-thread") == 0) {
        if (pthread_create(&t1, NULL, one_thread_both, NULL) != 0)
            return 1;
        pthread_join(t1, NULL);
    } else {
        fprintf(stderr, "usage: gated [no-gate | one-thread]\n");
        return 2;
    }
    printf("gated %s: a->b %ld times, b->a %ld times, no gate\n", mode, a_then_b, b_then_a);
    return 0;
}

int main(int argc, char **argv)
{
    pthread_t t1, t2;

    if (argc > 1)
        return ungated(argv[1]);
    if (pthread_create(&t1, NULL, gate_a_then_b, NULL) != 0)
        return 1;
    if (pthread_create(&t2, NULL, gate_b_then_a, NULL) != 0)
        return 1;
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);

    printf("gated: a->b %ld times, b->a %ld times, no deadlock possible\n", a_then_b, b_then_a);
    return 0;
}
