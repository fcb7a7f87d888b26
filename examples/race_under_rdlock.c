/* race_under_rdlock: a lookup table guarded by an rwlock whose readers
 * also bump a hit counter, under the read lock only.  Two readers can hold
 * the read lock at once, so the counter's increments race although every
 * access is "under the lock": LOCKWATCH_RACES=sample reports a data-race on
 * `lookups` with both threads holding table_lock for reading. */
#include <pthread.h>
#include <stdio.h>

#define ROUNDS 2000000L
#define BATCH 100

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static int table[64];
volatile long lookups;

static void *reader(void *arg)
{
    long sum = 0;
    (void)arg;
    for (long i = 0; i < ROUNDS; i++) {
        pthread_rwlock_rdlock(&table_lock);
        for (int j = 0; j < BATCH; j++) {
            sum += table[j & 63];
            lookups++;   /* the bug: a write under a read lock */
        }
        pthread_rwlock_unlock(&table_lock);
    }
    return (void *)sum;
}

int main(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, reader, NULL);
    pthread_create(&b, NULL, reader, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("race_under_rdlock: done\n");
    return 0;
}
