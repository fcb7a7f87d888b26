/*
 * free_ok.c - memory freed and unmapped around held locks, correctly
 * (terminates without lockwatch).
 *
 *  1. Unlocked mutexes freed: a malloc'd mutex locked and unlocked, then
 *     freed without pthread_mutex_destroy (glibc needs none), and another
 *     destroyed first, each while the thread holds the global `big` lock.
 *  2. Neighbours of a held lock: blocks allocated side by side, each with
 *     a mutex (or a spinlock) in its last bytes; the thread locks the one
 *     in the first block and frees the second, reallocs it, frees the block
 *     before it.  A struct's held mutex while a buffer it points to is
 *     freed.  free(NULL) and realloc(NULL, n) under a lock.
 *  3. A mapping of three pages with a mutex in the last bytes of the first
 *     page and a spinlock in the last bytes of the second: both held, the
 *     third page unmapped; then, the mutex alone held, the mapping shrunk by
 *     mremap to its first page and grown again in place.
 *  4. Unrelated memory: while the thread holds locks, malloc/free churn,
 *     realloc and reallocarray of buffers without locks in them.
 *  5. Another thread holds a mutex in a malloc'd block while the main
 *     thread frees blocks around it.
 *
 * Expected lockwatch result: no report; exit status 0.
 */
#define _GNU_SOURCE
#include <lockwatch.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;
static int flag; /* atomic */

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    return memset(p, 0, n);
}

static int unlocked_freed(void)
{
    int n = 0;
    pthread_mutex_lock(&big);
    for (int destroy = 0; destroy < 2; destroy++) {
        pthread_mutex_t *m = xmalloc(sizeof(*m));
        pthread_mutex_init(m, NULL);
        pthread_mutex_lock(m);
        pthread_mutex_unlock(m);
        if (destroy)
            pthread_mutex_destroy(m);
        free(m);
        n++;
    }
    pthread_mutex_unlock(&big);
    return n;
}

/* A block whose lock ends where the block's usable memory ends. */
struct tail_mutex {
    char pad[32];
    pthread_mutex_t m;
};

struct tail_spin {
    char pad[68];
    pthread_spinlock_t s;
};

/* Do the locks end where their blocks' usable memory ends (glibc: 72 of
 * 72 bytes)?  Then the neighbours' checks are exact, to the byte. */
static int at_end;

static int neighbours(void)
{
    int n = 0;
    struct tail_mutex *before = xmalloc(sizeof(struct tail_mutex));
    struct tail_mutex *a = xmalloc(sizeof(struct tail_mutex));
    struct tail_mutex *b = xmalloc(sizeof(struct tail_mutex));
    at_end = malloc_usable_size(a) == sizeof(*a);
    pthread_mutex_init(&a->m, NULL);
    pthread_mutex_lock(&a->m);
    free(b);                        /* the block after the held mutex */
    b = realloc(xmalloc(24), 4096); /* another block realloc'd, then freed */
    free(b);
    free(before); /* the block before it */
    free(NULL);
    free(realloc(NULL, 64));
    pthread_mutex_unlock(&a->m);
    pthread_mutex_destroy(&a->m);
    free(a);
    n += 3;

    struct tail_spin *sa = xmalloc(sizeof(struct tail_spin));
    struct tail_spin *sb = xmalloc(sizeof(struct tail_spin));
    at_end += malloc_usable_size(sa) == sizeof(*sa);
    pthread_spin_init(&sa->s, PTHREAD_PROCESS_PRIVATE);
    pthread_spin_lock(&sa->s);
    free(sb);
    pthread_spin_unlock(&sa->s);
    pthread_spin_destroy(&sa->s);
    free(sa);
    n++;

    struct session {
        pthread_mutex_t m;
        char *buf;
    } *s = xmalloc(sizeof(*s));
    pthread_mutex_init(&s->m, NULL);
    s->buf = xmalloc(100);
    pthread_mutex_lock(&s->m);
    free(s->buf); /* a buffer the struct points to, not the struct */
    s->buf = NULL;
    pthread_mutex_unlock(&s->m);
    pthread_mutex_destroy(&s->m);
    free(s);
    return n + 1;
}

static int pages(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        abort();
    pthread_mutex_t *m = (pthread_mutex_t *)(map + page - sizeof(pthread_mutex_t));
    pthread_spinlock_t *s = (pthread_spinlock_t *)(map + 2 * page - sizeof(pthread_spinlock_t));
    pthread_mutex_init(m, NULL);
    pthread_spin_init(s, PTHREAD_PROCESS_PRIVATE);
    pthread_mutex_lock(m);
    pthread_spin_lock(s);
    int ok = munmap(map + 2 * page, page) == 0; /* the page after the spinlock */
    pthread_spin_unlock(s);
    pthread_spin_destroy(s);
    ok += mremap(map, 2 * page, page, 0) == map; /* the page after the mutex */
    ok += mremap(map, page, 2 * page, 0) == map; /* grown again in place */
    pthread_mutex_unlock(m);
    pthread_mutex_destroy(m);
    munmap(map, 2 * page);
    return ok;
}

/* Allocation churn under two held locks, nothing locked in the memory. */
static long churn(void)
{
    static pthread_mutex_t stats = PTHREAD_MUTEX_INITIALIZER;
    long sum = 0;
    pthread_mutex_lock(&big);
    pthread_mutex_lock(&stats);
    for (int i = 0; i < 1000; i++) {
        char *p = xmalloc(16 + (size_t)(i % 200));
        p = realloc(p, 32 + (size_t)(i % 300));
        int *v = reallocarray(NULL, 8, sizeof(int));
        if (!p || !v)
            abort();
        v = reallocarray(v, 16, sizeof(int));
        if (!v)
            abort();
        v[15] = i;
        sum += v[15];
        free(v);
        free(p);
    }
    pthread_mutex_unlock(&stats);
    pthread_mutex_unlock(&big);
    return sum;
}

/* Another thread's held mutex in a block next to blocks freed here. */
struct slot {
    pthread_mutex_t m;
    long v;
};

static void *holder(void *arg)
{
    struct slot *sl = arg;
    pthread_mutex_lock(&sl->m);
    __atomic_store_n(&flag, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&flag, __ATOMIC_SEQ_CST) != 2)
        sched_yield();
    sl->v++;
    pthread_mutex_unlock(&sl->m);
    return NULL;
}

static int other_thread(void)
{
    struct slot *x = xmalloc(sizeof(*x)), *y = xmalloc(sizeof(*y)), *z = xmalloc(sizeof(*z));
    pthread_t t;
    pthread_mutex_init(&y->m, NULL);
    if (pthread_create(&t, NULL, holder, y) != 0)
        abort();
    while (__atomic_load_n(&flag, __ATOMIC_SEQ_CST) != 1)
        sched_yield();
    pthread_mutex_lock(&big);
    free(x);
    free(z);
    pthread_mutex_unlock(&big);
    __atomic_store_n(&flag, 2, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    long v = y->v;
    pthread_mutex_destroy(&y->m);
    free(y);
    return (int)v;
}

int main(void)
{
    int a = unlocked_freed();
    int b = neighbours();
    int c = pages();
    long d = churn();
    int e = other_thread();
    printf("free_ok: %d unlocked freed, %d next to held locks (locks at the blocks' ends: %s), "
           "%d page calls, churn %ld, other thread %d\n",
           a, b, at_end == 2 ? "yes" : "no", c, d, e);
    return 0;
}
