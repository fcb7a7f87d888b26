/*
 * destroy_reinit.c - locks destroyed and initialised again at the same
 * address, then taken in the opposite order (terminates without
 * lockwatch).
 *
 * For each kind of lock (pthread mutex, pthread mutex initialised again as
 * recursive, rwlock, spin lock, C11 mutex), a pair a, b in static memory is
 * initialised, taken a then b by a thread, and destroyed once that thread
 * has been joined.  The same memory is then initialised again: new locks,
 * which a second thread takes b then a.  ROUNDS times, alternating the
 * order, so the same addresses see both orders several times over, each
 * time in a new lock's life.
 *
 * A destroyed lock is gone: nothing that happened to it says anything
 * about the lock initialised in its place.
 *
 * Expected lockwatch result: no report, exit status 0, the same output.
 *
 * Helgrind and DRD (valgrind 3.19): silent.
 */
#include <pthread.h>
#include <stdio.h>
#include <threads.h>

#define ROUNDS 4

enum kind { MUTEX, MUTEX_RECURSIVE, RWLOCK, SPIN, C11, NKINDS };
static const char *const names[NKINDS] = {"mutex", "mutex-recursive", "rwlock", "spinlock",
                                          "c11-mutex"};

static pthread_mutex_t ma, mb;
static pthread_rwlock_t ra, rb;
static pthread_spinlock_t sa, sb;
static mtx_t ca, cb;
static long work; /* under both locks of the pair */

struct job {
    enum kind kind;
    int backward;
};

static void init_pair(enum kind k, int round)
{
    pthread_mutexattr_t attr;

    switch (k) {
    case MUTEX:
        pthread_mutex_init(&ma, NULL);
        pthread_mutex_init(&mb, NULL);
        break;
    case MUTEX_RECURSIVE: /* every other life recursive, then normal */
        pthread_mutexattr_init(&attr);
        pthread_mutexattr_settype(&attr,
                                  round % 2 ? PTHREAD_MUTEX_NORMAL : PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init(&ma, &attr);
        pthread_mutex_init(&mb, &attr);
        pthread_mutexattr_destroy(&attr);
        break;
    case RWLOCK:
        pthread_rwlock_init(&ra, NULL);
        pthread_rwlock_init(&rb, NULL);
        break;
    case SPIN:
        pthread_spin_init(&sa, PTHREAD_PROCESS_PRIVATE);
        pthread_spin_init(&sb, PTHREAD_PROCESS_PRIVATE);
        break;
    default:
        mtx_init(&ca, mtx_plain);
        mtx_init(&cb, mtx_plain);
    }
}

static void destroy_pair(enum kind k)
{
    switch (k) {
    case MUTEX:
    case MUTEX_RECURSIVE:
        pthread_mutex_destroy(&ma);
        pthread_mutex_destroy(&mb);
        break;
    case RWLOCK:
        pthread_rwlock_destroy(&ra);
        pthread_rwlock_destroy(&rb);
        break;
    case SPIN:
        pthread_spin_destroy(&sa);
        pthread_spin_destroy(&sb);
        break;
    default:
        mtx_destroy(&ca);
        mtx_destroy(&cb);
    }
}

static void *take_pair(void *arg)
{
    const struct job *j = arg;
    int bw = j->backward;

    switch (j->kind) {
    case MUTEX:
    case MUTEX_RECURSIVE:
        pthread_mutex_lock(bw ? &mb : &ma);
        pthread_mutex_lock(bw ? &ma : &mb); /* a -> b, or b -> a */
        work++;
        pthread_mutex_unlock(bw ? &ma : &mb);
        pthread_mutex_unlock(bw ? &mb : &ma);
        break;
    case RWLOCK:
        pthread_rwlock_wrlock(bw ? &rb : &ra);
        pthread_rwlock_wrlock(bw ? &ra : &rb);
        work++;
        pthread_rwlock_unlock(bw ? &ra : &rb);
        pthread_rwlock_unlock(bw ? &rb : &ra);
        break;
    case SPIN:
        pthread_spin_lock(bw ? &sb : &sa);
        pthread_spin_lock(bw ? &sa : &sb);
        work++;
        pthread_spin_unlock(bw ? &sa : &sb);
        pthread_spin_unlock(bw ? &sb : &sa);
        break;
    default:
        mtx_lock(bw ? &cb : &ca);
        mtx_lock(bw ? &ca : &cb);
        work++;
        mtx_unlock(bw ? &ca : &cb);
        mtx_unlock(bw ? &cb : &ca);
    }
    return NULL;
}

int main(void)
{
    for (int k = 0; k < NKINDS; k++) {
        for (int r = 0; r < ROUNDS; r++) {
            struct job j = {(enum kind)k, r % 2};
            pthread_t t;

            init_pair(j.kind, r);
            if (pthread_create(&t, NULL, take_pair, &j) != 0)
                return 1;
            pthread_join(t, NULL);
            destroy_pair(j.kind);
        }
        printf("destroy_reinit: %s: %d lives, both orders\n", names[k], ROUNDS);
    }
    printf("destroy_reinit: %ld critical sections\n", work);
    return work == NKINDS * ROUNDS ? 0 : 1;
}
