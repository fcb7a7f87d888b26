/*
 * cond_reacquire.c - pthread_cond_wait releases and re-acquires its mutex.
 *
 * A producer hands 10 items, one at a time, to a consumer through a one-slot
 * buffer guarded by mutex M, with condition variables `item_ready` and
 * `slot_free`.  The consumer always really blocks in pthread_cond_wait(M):
 * it announces `consumer_waiting` under M just before waiting, and the
 * producer only fills the slot once it sees that flag (which it can only see
 * after the consumer's wait has released M).
 *
 * After taking an item the consumer unlocks M and then records the item
 * under Y and M: lock Y, lock M.  So the only lock order in this program is
 * Y -> M; nobody ever holds M while locking Y.
 *
 * A detector that does not model pthread_cond_wait correctly (M is released
 * while waiting and re-acquired before returning) might think the consumer
 * still holds M after its own unlock, invent an M -> Y edge and report a
 * bogus Y/M inversion.
 *
 * Expected lockwatch result: no report, exit status 0.
 */
#include <pthread.h>
#include <stdio.h>

#define N_ITEMS 10

static pthread_mutex_t M = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t item_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t slot_free = PTHREAD_COND_INITIALIZER;
static int slot_full, slot_value, consumer_waiting; /* guarded by M */
static long total;                                  /* guarded by M */

static pthread_mutex_t Y = PTHREAD_MUTEX_INITIALIZER;
static int records; /* guarded by Y */

static void *producer(void *arg)
{
    int i;

    (void)arg;
    for (i = 1; i <= N_ITEMS; i++) {
        pthread_mutex_lock(&M);
        /* wait until the slot is empty and the consumer is blocked in its wait */
        while (slot_full || !consumer_waiting)
            pthread_cond_wait(&slot_free, &M);
        slot_value = i * i;
        slot_full = 1;
        consumer_waiting = 0;
        pthread_cond_signal(&item_ready);
        pthread_mutex_unlock(&M);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < N_ITEMS; i++) {
        int item;

        pthread_mutex_lock(&M);
        do {
            consumer_waiting = 1;
            pthread_cond_signal(&slot_free);
            pthread_cond_wait(&item_ready, &M); /* releases M, re-acquires it */
        } while (!slot_full);
        item = slot_value;
        slot_full = 0;
        pthread_mutex_unlock(&M);

        /* Record the item: the program's only nested order, Y -> M. */
        pthread_mutex_lock(&Y);
        pthread_mutex_lock(&M);
        total += item;
        records++;
        pthread_mutex_unlock(&M);
        pthread_mutex_unlock(&Y);
    }
    return NULL;
}

int main(void)
{
    pthread_t p, c;

    if (pthread_create(&c, NULL, consumer, NULL) != 0)
        return 1;
    if (pthread_create(&p, NULL, producer, NULL) != 0)
        return 1;
    pthread_join(p, NULL);
    pthread_join(c, NULL);

    printf("cond_reacquire: %d items consumed, sum of squares %ld\n", records, total);
    return 0;
}
