/*
 * reuse_after_munmap.c - locks in a mapping that is unmapped and mapped
 * again at the same address, taken in the opposite order by the new
 * mapping's locks (terminates without lockwatch).
 *
 * For each variant below, a page is mapped; a pair of locks a and b is set
 * up in it; a thread takes a then b; the page is unmapped without
 * destroying the locks (the memory is simply gone, as when a shared-memory
 * segment or an arena is released).  The page is mapped again at the same
 * address (MAP_FIXED_NOREPLACE), new locks are set up at the same two
 * addresses, and a thread takes b then a.  Those are other locks: no
 * cycle.
 *
 *   variant         first mapping                 second mapping
 *   zeroed          mutexes, the page's zeroes    the same (what
 *                   (no init call)                PTHREAD_MUTEX_INITIALIZER is)
 *   init            mutexes, pthread_mutex_init   the same
 *   rwlock          rwlocks, zeroes               the same
 *   pshared         MAP_SHARED page, process-     PTHREAD_MUTEX_INITIALIZER
 *                   shared mutexes (init)         assigned (process-private)
 *   robust          robust mutexes (init)         PTHREAD_MUTEX_INITIALIZER
 *   pshared-rwlock  MAP_SHARED page, process-     PTHREAD_RWLOCK_INITIALIZER
 *                   shared rwlocks (init)         assigned
 *   spin-to-mutex   spin locks (pthread_spin_init) mutexes, zeroes
 *   mutex-to-rwlock mutexes, zeroes               rwlocks, zeroes
 *
 * rwlocks are taken for writing.  The program prints whether every second
 * mapping came back at the first one's address.  With a variant's name as
 * argument, it runs only that one.
 *
 * Expected lockwatch result: no report, exit status 0, the same output.
 *
 * For contrast, `reuse_after_munmap VARIANT kept` keeps the first mapping
 * and its locks: the second thread takes the same two locks b then a, a
 * real inversion (the threads run one after the other, so the program
 * still terminates).  Expected: one lock-order-inversion report, exit
 * status 66.
 *
 * Helgrind (valgrind 3.19) reports lock order violations for the variants
 * (it keys locks by address) and, where the kind changed, rwlock calls
 * "with a pthread_mutex_t* argument"; DRD: silent.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum kind { MUTEX, RWLOCK, SPIN };
enum setup { ZEROES, INIT, INIT_PSHARED, INIT_ROBUST, ASSIGNED };

struct life {
    enum kind kind;
    enum setup setup;
};

static const struct variant {
    const char *name;
    int shared; /* MAP_SHARED page */
    struct life first, second;
} variants[] = {
    {"zeroed", 0, {MUTEX, ZEROES}, {MUTEX, ZEROES}},
    {"init", 0, {MUTEX, INIT}, {MUTEX, INIT}},
    {"rwlock", 0, {RWLOCK, ZEROES}, {RWLOCK, ZEROES}},
    {"pshared", 1, {MUTEX, INIT_PSHARED}, {MUTEX, ASSIGNED}},
    {"robust", 0, {MUTEX, INIT_ROBUST}, {MUTEX, ASSIGNED}},
    {"pshared-rwlock", 1, {RWLOCK, INIT_PSHARED}, {RWLOCK, ASSIGNED}},
    {"spin-to-mutex", 0, {SPIN, INIT}, {MUTEX, ZEROES}},
    {"mutex-to-rwlock", 0, {MUTEX, ZEROES}, {RWLOCK, ZEROES}},
};
#define NVARIANTS (int)(sizeof(variants) / sizeof(variants[0]))

/* One lock's place in the page: whichever kind lives there now. */
union slot {
    pthread_mutex_t m;
    pthread_rwlock_t rw;
    pthread_spinlock_t s;
};

struct page {
    union slot a, b;
};

struct job {
    union slot *first, *second;
    enum kind kind;
};

static void lock(union slot *s, enum kind k)
{
    if (k == MUTEX)
        pthread_mutex_lock(&s->m);
    else if (k == RWLOCK)
        pthread_rwlock_wrlock(&s->rw);
    else
        pthread_spin_lock(&s->s);
}

static void unlock(union slot *s, enum kind k)
{
    if (k == MUTEX)
        pthread_mutex_unlock(&s->m);
    else if (k == RWLOCK)
        pthread_rwlock_unlock(&s->rw);
    else
        pthread_spin_unlock(&s->s);
}

static void *take_pair(void *arg)
{
    struct job *j = arg;

    lock(j->first, j->kind);
    lock(j->second, j->kind); /* a -> b the first time, b -> a the second */
    unlock(j->second, j->kind);
    unlock(j->first, j->kind);
    return NULL;
}

static int run_job(union slot *first, union slot *second, enum kind k)
{
    struct job j = {first, second, k};
    pthread_t t;

    if (pthread_create(&t, NULL, take_pair, &j) != 0)
        return -1;
    return pthread_join(t, NULL);
}

static void set_up(union slot *s, struct life l)
{
    pthread_mutexattr_t ma;
    pthread_rwlockattr_t ra;

    switch (l.setup) {
    case ZEROES:
        break; /* the fresh page's */
    case ASSIGNED:
        if (l.kind == MUTEX)
            s->m = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        else
            s->rw = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
        break;
    case INIT:
        if (l.kind == MUTEX)
            pthread_mutex_init(&s->m, NULL);
        else if (l.kind == RWLOCK)
            pthread_rwlock_init(&s->rw, NULL);
        else
            pthread_spin_init(&s->s, PTHREAD_PROCESS_PRIVATE);
        break;
    default: /* INIT_PSHARED, INIT_ROBUST */
        if (l.kind == MUTEX) {
            pthread_mutexattr_init(&ma);
            if (l.setup == INIT_PSHARED)
                pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
            else
                pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
            pthread_mutex_init(&s->m, &ma);
            pthread_mutexattr_destroy(&ma);
        } else {
            pthread_rwlockattr_init(&ra);
            pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
            pthread_rwlock_init(&s->rw, &ra);
            pthread_rwlockattr_destroy(&ra);
        }
    }
}

static struct page *map_page(void *where, int shared)
{
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

    for (int i = 0; i < NVARIANTS; i++) {
        const struct variant *v = &variants[i];
        struct page *p, *q;

        if (argc > 1 && strcmp(argv[1], v->name) != 0)
            continue;
        ran++;
        if (!(p = map_page(NULL, v->shared)))
            return 1;
        set_up(&p->a, v->first);
        set_up(&p->b, v->first);
        if (run_job(&p->a, &p->b, v->first.kind) != 0)
            return 1;
        if (kept) { /* the same locks, the other order */
            same++;
            if (run_job(&p->b, &p->a, v->first.kind) != 0)
                return 1;
            munmap(p, page);
            continue;
        }
        munmap(p, page);
        if (!(q = map_page(p, v->shared))) {
            printf("reuse_after_munmap: %s: cannot map the page again at %p\n", v->name, (void *)p);
            return 1;
        }
        same += q == p;
        set_up(&q->a, v->second);
        set_up(&q->b, v->second);
        if (run_job(&q->b, &q->a, v->second.kind) != 0)
            return 1;
        munmap(q, page);
    }
    printf("reuse_after_munmap: %d variants, mapped again at the same address: %d\n", ran, same);
    return ran > 0 && same == ran ? 0 : 1;
}
