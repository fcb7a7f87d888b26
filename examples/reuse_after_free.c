/*
 * reuse_after_free.c - locks in memory that is freed and reused, taken in
 * the opposite order by the next owner of the memory.
 *
 * A `struct pair` with two mutexes (and an array of two rwlocks) is
 * allocated, set up with zeroes (as calloc'd memory or an assigned
 * PTHREAD_MUTEX_INITIALIZER is: no pthread_mutex_init call), locked a then
 * b, and freed without pthread_mutex_destroy (glibc needs none).  The next
 * allocation of the same size gets the same memory; its two new mutexes are
 * locked b then a.  Those are other locks: no cycle.  The program prints
 * whether the memory really was reused (it is with glibc's allocator).
 *
 * Expected lockwatch result: no report (a lock in reused memory is a new
 * lock: its hint word, zero again, tells lockwatch).  Helgrind reports a
 * lock order violation for each (it keys locks by address).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair {
    pthread_mutex_t a, b;
};

static void *forward(void *arg)
{
    struct pair *p = arg;
    pthread_mutex_lock(&p->a);
    pthread_mutex_lock(&p->b);
    pthread_mutex_unlock(&p->b);
    pthread_mutex_unlock(&p->a);
    return NULL;
}

static void *backward(void *arg)
{
    struct pair *p = arg;
    pthread_mutex_lock(&p->b);
    pthread_mutex_lock(&p->a);
    pthread_mutex_unlock(&p->a);
    pthread_mutex_unlock(&p->b);
    return NULL;
}

static void *zeroed(size_t size)
{
    void *p = malloc(size);
    if (!p)
        abort();
    return memset(p, 0, size);
}

int main(void)
{
    pthread_t t;
    struct pair *p = zeroed(sizeof(*p));
    pthread_create(&t, NULL, forward, p);
    pthread_join(t, NULL);
    free(p);
    struct pair *q = zeroed(sizeof(*q));
    int same_mutex = p == q;
    pthread_create(&t, NULL, backward, q);
    pthread_join(t, NULL);
    free(q);

    pthread_rwlock_t *r1 = zeroed(2 * sizeof(*r1));
    pthread_rwlock_wrlock(&r1[0]);
    pthread_rwlock_wrlock(&r1[1]);
    pthread_rwlock_unlock(&r1[1]);
    pthread_rwlock_unlock(&r1[0]);
    free(r1);
    pthread_rwlock_t *r2 = zeroed(2 * sizeof(*r2));
    int same_rwlock = r1 == r2;
    pthread_rwlock_wrlock(&r2[1]);
    pthread_rwlock_wrlock(&r2[0]);
    pthread_rwlock_unlock(&r2[0]);
    pthread_rwlock_unlock(&r2[1]);
    free(r2);

    printf("reuse_after_free: memory reused: mutexes %s, rwlocks %s\n", same_mutex ? "yes" : "no",
           same_rwlock ? "yes" : "no");
    return 0;
}
