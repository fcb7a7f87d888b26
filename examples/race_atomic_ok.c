/* race_atomic_ok: a C11 atomic written by one thread and read by another,
 * with the default (sequentially consistent) order: no data race.
 *
 * GCC makes the store an xchg (older compilers: a move and mfence) and the
 * load a plain move, which a binary-level sampler cannot tell from a plain
 * read.  Under LOCKWATCH_RACES=sample, samples of the load arm a watchpoint
 * that the store hits; a hit by a locked instruction, xchg or a store
 * followed by mfence is not judged.  Expected: no report (and, with
 * LOCKWATCH_RACE_STATS=1, "atomic hits" above 0). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define ROUNDS 100000000L

static atomic_long seq;

static void *writer(void *arg)
{
    for (long i = 1; i <= ROUNDS; i++)
        atomic_store(&seq, i);
    return arg;
}

int main(void)
{
    pthread_t th;
    pthread_create(&th, NULL, writer, NULL);
    long seen = 0, last = 0;
    for (long i = 0; i < ROUNDS; i++) {
        long v = atomic_load(&seq);
        if (v != last) {
            seen++;
            last = v;
        }
    }
    pthread_join(th, NULL);
    printf("race_atomic_ok: %s\n", seen > 0 && atomic_load(&seq) == ROUNDS ? "ok" : "wrong");
    return 0;
}
