/*
 * blocking_pipe.c - reading from a pipe while holding a mutex.
 *
 * A writer thread feeds a message into a pipe.  The main thread takes
 * queue_lock and then read()s the message from the pipe while still holding
 * it: if the writer were slow (or needed queue_lock itself to make progress)
 * every user of queue_lock would wait for the pipe, or deadlock.
 *
 * Expected lockwatch result: exactly one `blocking-call-under-lock` report:
 * read (family pipe) called in receive_message while the thread holds
 * queue_lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_message[64]; /* guarded by queue_lock */
static int fds[2];
static int delivered; /* guarded by queue_lock */

static void *writer(void *arg)
{
    const char *msg = "hello through the pipe";
    (void)arg;
    if (write(fds[1], msg, strlen(msg) + 1) < 0)
        perror("write");
    pthread_mutex_lock(&queue_lock); /* waits until the reader let go */
    delivered++;
    pthread_mutex_unlock(&queue_lock);
    return NULL;
}

/* noinline: the call site keeps its own frame in optimised builds (the
 * default CFLAGS are -g -O2), so the report names it. */
__attribute__((noinline)) static ssize_t receive_message(void)
{
    ssize_t n;

    pthread_mutex_lock(&queue_lock);
    n = read(fds[0], last_message, sizeof(last_message) - 1); /* blocks with queue_lock held */
    if (n >= 0)
        last_message[n] = '\0';
    pthread_mutex_unlock(&queue_lock);
    return n;
}

int main(void)
{
    pthread_t t;
    ssize_t n;

    if (pipe(fds) != 0 || pthread_create(&t, NULL, writer, NULL) != 0)
        return 1;
    n = receive_message();
    pthread_join(t, NULL);
    close(fds[0]);
    close(fds[1]);
    if (n <= 0 || delivered != 1)
        return 1;
    printf("blocking_pipe: received \"%s\"\n", last_message);
    return 0;
}
