/*
 * small_stack.c - threads on the smallest stacks POSIX allows, as embedded
 * code, thread pools with many workers and runtimes that size their own
 * stacks create them: PTHREAD_STACK_MIN (16 KiB on x86-64), 20 KiB,
 * 24 KiB, and 32 KiB used 8 KiB deep by the thread itself.
 *
 * Each thread nests two locks (a, then b) under a lock of its own, and the
 * last one nests them the other way round, 7 KiB down its stack: a
 * lock-order inversion a -> b -> a that lockwatch reports from that
 * thread, unwinding its small stack.  The threads run one after another,
 * so the program cannot hang.
 *
 * Expected lockwatch result: one `lock-order-inversion` report, the same
 * output and exit status as natively (66 with lockwatch, for the report),
 * no failed pthread_create and no crash.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
static long work;

static __attribute__((noinline)) void nest(pthread_mutex_t *x, pthread_mutex_t *y)
{
    pthread_mutex_t own = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&own);
    pthread_mutex_lock(x);
    pthread_mutex_lock(y);
    work++;
    pthread_mutex_unlock(y);
    pthread_mutex_unlock(x);
    pthread_mutex_unlock(&own);
    pthread_mutex_destroy(&own);
}

static void *ordered(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        nest(&a, &b);
    return NULL;
}

/* 7 KiB of the thread's own frames, then the inversion. */
static __attribute__((noinline)) void deep(int level)
{
    volatile char pad[1024];
    memset((char *)pad, level, sizeof(pad));
    if (level > 0)
        deep(level - 1);
    else
        nest(&b, &a);
    __asm__ volatile("" ::"r"(pad) : "memory");
}

static void *inverted(void *arg)
{
    (void)arg;
    deep(6);
    return NULL;
}

static int run(size_t size, void *(*fn)(void *))
{
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    int r = pthread_attr_setstacksize(&at, size);
    if (r == 0)
        r = pthread_create(&t, &at, fn, NULL);
    pthread_attr_destroy(&at);
    if (r != 0) {
        printf("small_stack: pthread_create with a %zu-byte stack: %s\n", size, strerror(r));
        return 1;
    }
    pthread_join(t, NULL);
    return 0;
}

int main(void)
{
    size_t sizes[] = { PTHREAD_STACK_MIN, 20 * 1024, 24 * 1024 };
    int bad = 0;
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        bad += run(sizes[i], ordered);
    bad += run(PTHREAD_STACK_MIN, inverted);
    printf("small_stack: work=%ld, %d thread(s) failed\n", work, bad);
    return bad != 0;
}
