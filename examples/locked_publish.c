/*
 * locked_publish.c - racy_publish.c with `current` under a mutex:
 * race-free.
 *
 * A producer thread publishes PUBLICATIONS snapshots, one after another: it
 * fills a fresh snapshot (never reused), then stores its address in
 * `current` holding current_lock; READERS threads read `current` again and
 * again holding current_lock, and copy the snapshot it points to under the
 * same hold, until the last snapshot says stop.  `current` is touched only
 * under the lock, and the lock orders a snapshot's writes before the reads
 * of any reader that sees its address.
 *
 * Expected lockwatch result: with LOCKWATCH_RACES=sample, no report; exit
 * status 0.  ThreadSanitizer: no report.
 */
#include <pthread.h>
#include <stdio.h>

#define PUBLICATIONS 100000L   /* the last one, seq -1, says stop */
#define READERS 2
#define WORK 2000              /* iterations to compute a snapshot */

struct snapshot {
    long seq, payload[3];
};

static struct snapshot pool[PUBLICATIONS];   /* each filled once, by the producer */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *current;   /* under current_lock */

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < PUBLICATIONS; i++) {
        struct snapshot *s = &pool[i];
        long v = i;
        for (int j = 0; j < WORK; j++)
            v = v * 31 + j;
        s->seq = i < PUBLICATIONS - 1 ? i : -1;
        for (int k = 0; k < 3; k++)
            s->payload[k] = v + k;
        pthread_mutex_lock(&current_lock);
        current = s;   /* publish */
        pthread_mutex_unlock(&current_lock);
    }
    return NULL;
}

static void *reader(void *arg)
{
    long sum = 0;
    (void)arg;
    for (;;) {
        struct snapshot copy = { 0, { 0, 0, 0 } };
        pthread_mutex_lock(&current_lock);
        if (current)
            copy = *current;
        pthread_mutex_unlock(&current_lock);
        if (copy.seq < 0)
            break;
        sum += copy.seq + copy.payload[0] + copy.payload[1] + copy.payload[2];
    }
    return (void *)sum;
}

int main(void)
{
    pthread_t p, r[READERS];
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, NULL);
    pthread_create(&p, NULL, producer, NULL);
    pthread_join(p, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);
    printf("locked_publish: done\n");
    return 0;
}
