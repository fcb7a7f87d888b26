/*
 * resources.c - what a program can still get from the system under
 * lockwatch: its first open() returns 3, and it can create as many
 * thread-specific keys as natively but one.
 *
 * It opens /dev/null at the start of main, after creating, nesting locks
 * in and joining a thread (which makes lockwatch unwind), and then creates
 * thread-specific keys until pthread_key_create fails.  It prints the
 * descriptors and the count.
 *
 * Expected lockwatch result: no report; the same descriptors as natively
 * (3 both times); at most one key fewer than natively (lockwatch's own, to
 * see each thread's end).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    return arg;
}

int main(void)
{
    int first = open("/dev/null", O_RDONLY);
    close(first);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    int second = open("/dev/null", O_RDONLY);
    close(second);
    int keys = 0;
    pthread_key_t k;
    while (keys < 100000 && pthread_key_create(&k, NULL) == 0)
        keys++;
    printf("resources: first fd %d, fd after a thread %d, keys %d\n", first, second, keys);
    return 0;
}
