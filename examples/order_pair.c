/*
 * order_pair.c - two global mutexes taken in one order, chosen by argv[1].
 *
 *   order_pair ab    takes queue_lock, then stats_lock (the team's order)
 *   order_pair ba    takes stats_lock, then queue_lock (against it)
 *
 * Either run alone takes the pair in one order only, so it has no cycle and
 * lockwatch reports nothing on its own.  The order file of tests/
 * test_order_file.py, written by `lockwatch-report --order` from a log of
 * the "ab" run, lists queue_lock before stats_lock; with
 * LOCKWATCH_ORDER_FILE naming it, the "ba" run is reported as an
 * order-violation, before any thread ever takes the two the other way.
 *
 * The locks are never destroyed: they live as long as the program.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static long queued, counted;   /* guarded by queue_lock, stats_lock */

static void queue_then_stats(void)
{
    pthread_mutex_lock(&queue_lock);
    pthread_mutex_lock(&stats_lock);
    queued++;
    counted++;
    pthread_mutex_unlock(&stats_lock);
    pthread_mutex_unlock(&queue_lock);
}

static void stats_then_queue(void)
{
    pthread_mutex_lock(&stats_lock);
    pthread_mutex_lock(&queue_lock);
    queued++;
    counted++;
    pthread_mutex_unlock(&queue_lock);
    pthread_mutex_unlock(&stats_lock);
}

static void *worker(void *arg)
{
    int ba = arg != NULL;
    for (int i = 0; i < 1000; i++) {
        if (ba)
            stats_then_queue();
        else
            queue_then_stats();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int ba = argc > 1 && strcmp(argv[1], "ba") == 0;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, ba ? &t[i] : NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("order_pair %s: queued %ld, counted %ld\n", ba ? "ba" : "ab", queued, counted);
    return 0;
}
