/*
 * recursive_ok.c - a recursive mutex locked again by its owner
 * (terminates without lockwatch).
 *
 * tree_sum() locks the recursive mutex `tree_lock` and recurses, locking it
 * again at each level (DEPTH levels), from two threads in turn, ROUNDS
 * times.  That is what a recursive mutex is for.
 *
 * Expected lockwatch result: no report, exit status 0, the same output.
 */
#include <pthread.h>
#include <stdio.h>

#define DEPTH 5
#define ROUNDS 100

static pthread_mutex_t tree_lock;
static long visits;

static long tree_sum(int depth)
{
    long s;

    pthread_mutex_lock(&tree_lock); /* already held by this thread above depth 0 */
    visits++;
    s = depth == 0 ? 1 : 1 + tree_sum(depth - 1);
    pthread_mutex_unlock(&tree_lock);
    return s;
}

static void *worker(void *arg)
{
    long s = 0;
    int i;

    (void)arg;
    for (i = 0; i < ROUNDS; i++)
        s += tree_sum(DEPTH);
    return (void *)s;
}

int main(void)
{
    pthread_mutexattr_t attr;
    pthread_t t1, t2;
    void *s1, *s2;

    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    if (pthread_mutex_init(&tree_lock, &attr) != 0)
        return 1;
    pthread_mutexattr_destroy(&attr);
    if (pthread_create(&t1, NULL, worker, NULL) != 0 ||
        pthread_create(&t2, NULL, worker, NULL) != 0)
        return 1;
    pthread_join(t1, &s1);
    pthread_join(t2, &s2);
    pthread_mutex_destroy(&tree_lock);
    printf("recursive_ok: sums %ld %ld, visits %ld\n", (long)s1, (long)s2, visits);
    return 0;
}
