/*
 * blocking_net.c - waiting for the network while holding a mutex.
 *
 * A server thread sends a reply on one end of a UNIX stream socketpair.  The
 * main thread takes session_lock and then recv()s the reply while still
 * holding it: a slow or dead peer now stalls every user of session_lock.
 *
 * Expected lockwatch result: exactly one `blocking-call-under-lock` report:
 * recv (family net) called in wait_for_reply while the thread holds
 * session_lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static char reply[64]; /* guarded by session_lock */
static int sv[2];
static int sent; /* guarded by session_lock */

static void *server(void *arg)
{
    const char *msg = "pong";
    (void)arg;
    if (send(sv[1], msg, strlen(msg) + 1, 0) < 0)
        perror("send");
    pthread_mutex_lock(&session_lock); /* waits until the client let go */
    sent++;
    pthread_mutex_unlock(&session_lock);
    return NULL;
}

/* noinline: the call site keeps its own frame in optimised builds (the
 * default CFLAGS are -g -O2), so the report names it. */
__attribute__((noinline)) static ssize_t wait_for_reply(void)
{
    ssize_t n;

    pthread_mutex_lock(&session_lock);
    n = recv(sv[0], reply, sizeof(reply) - 1, 0); /* blocks with session_lock held */
    if (n >= 0)
        reply[n] = '\0';
    pthread_mutex_unlock(&session_lock);
    return n;
}

int main(void)
{
    pthread_t t;
    ssize_t n;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    if (pthread_create(&t, NULL, server, NULL) != 0)
        return 1;
    n = wait_for_reply();
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    if (n <= 0 || sent != 1)
        return 1;
    printf("blocking_net: got reply \"%s\"\n", reply);
    return 0;
}
