/*
 * blocking_stuck.c - a read under a lock that the writer needs: a hang that
 * no wait-for cycle of locks shows.
 *
 * The consumer takes inbox_lock and reads the pipe.  The producer must
 * take inbox_lock to count the message before it writes it, so it waits
 * for the consumer, who waits for the pipe: the two threads are stuck.  The
 * deadlock goes through the pipe, not through a second lock, so it is the
 * blocking-call report that explains it.  So that the program ends, main
 * rescues the consumer after two seconds by writing to the pipe itself
 * (it says so on stderr first).
 *
 * The consumer is the only thread that has taken inbox_lock when it
 * starts to read; the report is written as soon as the producer starts to
 * wait for the lock, while the threads are stuck, before the rescue.
 *
 * Expected lockwatch result: exactly one `blocking-call-under-lock` report,
 * read (family pipe) in consume while the thread holds inbox_lock, written
 * before the line "blocking_stuck: rescuing the consumer".
 */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t inbox_lock = PTHREAD_MUTEX_INITIALIZER;
static int sent, received; /* guarded by inbox_lock */
static int fds[2];

__attribute__((noinline)) static void *consume(void *arg)
{
    char c;

    (void)arg;
    pthread_mutex_lock(&inbox_lock);
    if (read(fds[0], &c, 1) == 1) /* waits for the producer with inbox_lock held */
        received++;
    pthread_mutex_unlock(&inbox_lock);
    return NULL;
}

static void *produce(void *arg)
{
    (void)arg;
    usleep(100 * 1000); /* let the consumer start reading */
    pthread_mutex_lock(&inbox_lock); /* waits for the consumer */
    sent++;
    pthread_mutex_unlock(&inbox_lock);
    if (write(fds[1], "m", 1) != 1)
        perror("write");
    return NULL;
}

int main(void)
{
    pthread_t c, p;
    char rest[2];

    if (pipe(fds) != 0 || pthread_create(&c, NULL, consume, NULL) != 0 ||
        pthread_create(&p, NULL, produce, NULL) != 0)
        return 1;
    sleep(2);
    fprintf(stderr, "blocking_stuck: rescuing the consumer\n");
    if (write(fds[1], "r", 1) != 1)
        return 1;
    pthread_join(c, NULL);
    pthread_join(p, NULL);
    if (read(fds[0], rest, 1) != 1) /* the producer's message, not consumed */
        return 1;
    printf("blocking_stuck: %d sent, %d received, %c left\n", sent, received, rest[0]);
    return sent == 1 && received == 1 ? 0 : 1;
}
