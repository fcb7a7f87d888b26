/*
 * racy_publish.c - publication without a lock (a data race).
 *
 * A producer thread publishes PUBLICATIONS snapshots, one after another: it
 * fills a fresh snapshot (never reused), then stores its address in
 * `current`, a plain (volatile) pointer; READERS threads read `current`
 * again and again and sum the fields of the snapshot it points to, until
 * the last snapshot says stop.  `current` is written and read with no lock
 * and no atomic: a data race by C11's rules (volatile orders nothing
 * between threads), and so are the snapshot's fields, whose writes nothing
 * orders before the readers' reads (the compiler or a weaker CPU may let a
 * reader see the pointer before the contents).  It recurs at every
 * publication.
 *
 * Expected lockwatch result: with LOCKWATCH_RACES=sample, a data-race on
 * `current` between producer() and reader() in most runs; exit status 66
 * when reported.  ThreadSanitizer reports it.  locked_publish.c publishes and
 * reads under a mutex (race-free); acqrel_publish.c through C11
 * release/acquire atomics (race-free).
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
static struct snapshot *volatile current;    /* the bug: no lock, no atomic */

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
        current = s;   /* publish */
    }
    return NULL;
}

static void *reader(void *arg)
{
    long sum = 0;
    (void)arg;
    for (;;) {
        struct snapshot *s = current;
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
    printf("racy_publish: done\n");
    return 0;
}
