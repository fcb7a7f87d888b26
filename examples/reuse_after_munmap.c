/*
 * reuse_after_munmap.c - locks in a mapping that is unmapped and mapped
 * again at the same address, taken in the opposite order by the new
 * mapping's locks (terminates without lockwatch).
 *
 * For each variant below, a page is mapped; a pair of locks a and b is set
 * up in it; a thread takes a then b; the page is unmapped without
 * destroying the locks (the memory is simply gone, as when a shared-memory
 * segment or an arena is released).  The page is mapped again at the same
 * address (MAP_FIXED_NOREPLACE), new locks are set up there, and a thread
 * takes b then a.  Those are other locks: no cycle.
 *
 *   zeroed          two mutexes, the fresh page's zeroes both times (what
 *                   PTHREAD_MUTEX_INITIALIZER is), no init call
 *   init            two mutexes, pthread_mutex_init both times
 *   rwlock          two rwlocks, zeroed both times, taken for writing
 *   pshared         MAP_SHARED page: process-shared mutexes
 *                   (pthread_mutex_init) the first time, then
 *                   PTHREAD_MUTEX_INITIALIZER assigned to the new page's
 *                   mutexes (process-private), no init call
 *   robust          robust mutexes (pthread_mutex_init) the first time,
 *                   then PTHREAD_MUTEX_INITIALIZER assigned
 *   pshared-rwlock  MAP_SHARED page: process-shared rwlocks
 *                   (pthread_rwlock_init) the first time, then
 *                   PTHREAD_RWLOCK_INITIALIZER assigned
 *
 * The program prints whether every second mapping came back at the first
 * one's address.  With a variant's name as argument, it runs only that one.
 *
 * Expected lockwatch result: no report, exit status 0, the same output.
 *
 * For contrast, `reuse_after_munmap VARIANT kept` keeps the first mapping
 * and its locks: the second thread takes the same two locks b then a, a
 * real inversion (the threads run one after the other, so the program
 * still terminates).  Expected: one lock-order-inversion report, exit
 * status 66.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum variant { ZEROED, INIT, RWLOCK, PSHARED, ROBUST, PSHARED_RWLOCK, NVARIANTS };
static const char *const names[NVARIANTS] = {"zeroed",  "init",   "rwlock",
                                             "pshared", "robust", "pshared-rwlock"};

struct page {
    pthread_mutex_t a, b;
    pthread_rwlock_t ra, rb;
};

struct job {
    struct page *p;
    int rw, backward;
};

static void *take_pair(void *arg)
{
    struct job *j = arg;

    if (j->rw) {
        pthread_rwlock_t *x = j->backward ? &j->p->rb : &j->p->ra;
        pthread_rwlock_t *y = j->backward ? &j->p->ra : &j->p->rb;
        pthread_rwlock_wrlock(x);
        pthread_rwlock_wrlock(y); /* forward a -> b, backward b -> a */
        pthread_rwlock_unlock(y);
        pthread_rwlock_unlock(x);
    } else {
        pthread_mutex_t *x = j->backward ? &j->p->b : &j->p->a;
        pthread_mutex_t *y = j->backward ? &j->p->a : &j->p->b;
        pthread_mutex_lock(x);
        pthread_mutex_lock(y); /* forward a -> b, backward b -> a */
        pthread_mutex_unlock(y);
        pthread_mutex_unlock(x);
    }
    return NULL;
}

static int run_job(struct page *p, int rw, int backward)
{
    struct job j = {p, rw, backward};
    pthread_t t;

    if (pthread_create(&t, NULL, take_pair, &j) != 0)
        return -1;
    return pthread_join(t, NULL);
}

/* The locks of the first mapping. */
static void set_up_first(struct page *p, enum variant v)
{
    pthread_mutexattr_t ma;
    pthread_rwlockattr_t ra;

    switch (v) {
    case ZEROED:
    case RWLOCK:
        break; /* the zeroes of the fresh page */
    case INIT:
        pthread_mutex_init(&p->a, NULL);
        pthread_mutex_init(&p->b, NULL);
        break;
    case PSHARED:
    case ROBUST:
        pthread_mutexattr_init(&ma);
        if (v == PSHARED)
            pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
        else
            pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
        pthread_mutex_init(&p->a, &ma);
        pthread_mutex_init(&p->b, &ma);
        pthread_mutexattr_destroy(&ma);
        break;
    case PSHARED_RWLOCK:
        pthread_rwlockattr_init(&ra);
        pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
        pthread_rwlock_init(&p->ra, &ra);
        pthread_rwlock_init(&p->rb, &ra);
        pthread_rwlockattr_destroy(&ra);
        break;
    default:
        break;
    }
}

/* The locks of the second mapping, at the same addresses. */
static void set_up_second(struct page *p, enum variant v)
{
    switch (v) {
    case INIT:
        pthread_mutex_init(&p->a, NULL);
        pthread_mutex_init(&p->b, NULL);
        break;
    case PSHARED:
    case ROBUST:
        p->a = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        p->b = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        break;
    case PSHARED_RWLOCK:
        p->ra = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
        p->rb = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
        break;
    default:
        break; /* zeroes again */
    }
}

static struct page *map_page(void *where, enum variant v)
{
    int shared = v == PSHARED || v == PSHARED_RWLOCK;
    int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
    void *p;

    if (where)
        flags |= MAP_FIXED_NOREPLACE;
    p = mmap(where, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int same = 0, ran = 0, kept = argc > 2 && strcmp(argv[2], "kept") == 0;

    for (int v = 0; v < NVARIANTS; v++) {
        if (argc > 1 && strcmp(argv[1], names[v]) != 0)
            continue;
        ran++;
        int rw = v == RWLOCK || v == PSHARED_RWLOCK;
        struct page *p = map_page(NULL, v), *q;

        if (!p)
            return 1;
        set_up_first(p, v);
        if (run_job(p, rw, 0) != 0)
            return 1;
        if (kept) { /* the same locks, the other order */
            same++;
            if (run_job(p, rw, 1) != 0)
                return 1;
            munmap(p, page);
            continue;
        }
        munmap(p, page);
        q = map_page(p, v);
        if (!q) {
            printf("reuse_after_munmap: %s: cannot map the page again at %p\n", names[v],
                   (void *)p);
            return 1;
        }
        same += q == p;
        set_up_second(q, v);
        if (run_job(q, rw, 1) != 0)
            return 1;
        munmap(q, page);
    }
    printf("reuse_after_munmap: %d variants, mapped again at the same address: %d\n", ran, same);
    return ran > 0 && same == ran ? 0 : 1;
}
