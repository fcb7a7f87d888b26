/*
 * acqrel_publish.c - racy_publish.c with `current` a C11 atomic, stored
 * with memory_order_release and loaded with memory_order_acquire:
 * race-free.
 *
 * A producer thread publishes PUBLICATIONS snapshots, one after another: it
 * fills a fresh snapshot (never reused), then stores its address in
 * `current` (release); READERS threads load `current` (acquire) again and
 * again and sum the fields of the snapshot it points to, until the last
 * snapshot says stop.  The release store orders a snapshot's writes before
 * the reads of any reader whose acquire load sees its address, and no
 * snapshot is written again: no data race.  On x86 these loads and stores
 * are plain `mov`s, which a binary-level sampler cannot tell from
 * racy_publish.c's.
 *
 * Expected lockwatch result: no data race exists; with
 * LOCKWATCH_RACES=sample the sampler, which skips only LOCK-prefixed
 * instructions and xchg, can report a (false) data-race on `current` (see
 * README, "Races").  ThreadSanitizer: no report.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#define PUBLICATIONS 100000L   /* the last one, seq -1, says stop */
#define READERS 2
#define WORK 2000              /* iterations to compute a snapshot */

struct snapshot {
    long seq, payload[3];
};

static struct snapshot pool[PUBLICATIONS];   /* each filled once, by the producer */
static struct snapshot *_Atomic current;

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
        atomic_store_explicit(&current, s, memory_order_release);   /* publish */
    }
    return NULL;
}

static void *reader(void *arg)
{
    long sum = 0;
    (void)arg;
    for (;;) {
        struct snapshot *s = atomic_load_explicit(&current, memory_order_acquire);
        if (!s)
            continue;
        if (s->seq < 0)
            break;
        sum += s->seq + s->payload[0] + s->payload[1] + s->payload[2];
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
    printf("acqrel_publish: done\n");
    return 0;
}
