/*
 * rwlock_inversion.c - an order inversion between a rwlock and a mutex.
 *
 * Thread 1 write-locks the rwlock `table_lock` and then locks the mutex
 * `stats_lock`.  After it has been joined, thread 2 locks `stats_lock` and
 * then read-locks `table_lock`.  A reader cannot get in while a writer holds
 * the rwlock, so run concurrently these two threads could deadlock: the
 * read mode of the second acquisition does not make the cycle harmless.
 *
 * Expected lockwatch result: exactly one `lock-order-inversion` report with
 * two locks, one rwlock and one mutex (rwlock --write--> mutex, mutex -->
 * rwlock in read mode).
 */
#include <pthread.h>
#include <stdio.h>

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static int table_entries;
static int stats_reads;

/* Thread 1: writer updates the table, then the statistics. */
static void *write_table_then_stats(void *arg)
{
    (void)arg;
    pthread_rwlock_wrlock(&table_lock);
    table_entries++;
    pthread_mutex_lock(&stats_lock); /* edge rwlock(write) -> mutex */
    stats_reads = 0;
    pthread_mutex_unlock(&stats_lock);
    pthread_rwlock_unlock(&table_lock);
    return NULL;
}

/* Thread 2: holds the statistics mutex while reading the table. */
static void *stats_then_read_table(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&stats_lock);
    pthread_rwlock_rdlock(&table_lock); /* edge mutex -> rwlock(read) */
    stats_reads += table_entries;
    pthread_rwlock_unlock(&table_lock);
    pthread_mutex_unlock(&stats_lock);
    return NULL;
}

int main(void)
{
    pthread_t t1, t2;

    if (pthread_create(&t1, NULL, write_table_then_stats, NULL) != 0)
        return 1;
    pthread_join(t1, NULL);
    if (pthread_create(&t2, NULL, stats_then_read_table, NULL) != 0)
        return 1;
    pthread_join(t2, NULL);

    printf("rwlock_inversion: entries=%d reads=%d\n", table_entries, stats_reads);
    return 0;
}
