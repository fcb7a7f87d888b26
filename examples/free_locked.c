/*
 * free_locked.c - a mutex freed while it is locked, and the memory reused
 * for a new mutex (terminates without lockwatch).
 *
 * close_conn() locks a connection's mutex `conn_lock` (in a malloc'd
 * struct) and frees the connection while it still holds it: freeing the
 * memory of a locked mutex destroys it locked, the bug (the program never
 * unlocks it: its memory is gone).  The next connection is malloc'd at the
 * same address (glibc's allocator hands the block back) and initialised;
 * open_conn() takes the global `registry`, then the new connection's
 * mutex.  The new mutex is another lock than the freed one, and nobody
 * takes a connection's mutex before `registry`: no cycle.  A lockwatch that
 * kept the freed mutex on the thread's held stack would record
 * conn_lock -> registry (taken while "holding" it) through the reused
 * memory, and then registry -> conn_lock: a phantom inversion (lockwatch
 * before free() was watched reported exactly that).  ROUNDS times, one
 * call site each; the program prints whether the memory was reused.
 *
 * Expected lockwatch result: exactly one `destroy-locked` report, naming
 * free() and the mutex "conn_lock" (held by the main thread, acquired in
 * close_conn), and no lock-order-inversion; exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 3

struct conn {
    pthread_mutex_t lock;
    int fd;
};

static pthread_mutex_t registry = PTHREAD_MUTEX_INITIALIZER;
static int nconns; /* under registry */

static struct conn *new_conn(int fd)
{
    struct conn *c = malloc(sizeof(*c));
    if (!c)
        abort();
    pthread_mutex_init(&c->lock, NULL);
    c->fd = fd;
    if (lockwatch_name_lock)
        lockwatch_name_lock(&c->lock, "conn_lock");
    return c;
}

__attribute__((noinline)) static void close_conn(struct conn *c)
{
    pthread_mutex_lock(&c->lock);
    c->fd = -1;
    free(c); /* c->lock is still locked: destroyed locked */
}

__attribute__((noinline)) static void open_conn(struct conn *c)
{
    pthread_mutex_lock(&registry);
    pthread_mutex_lock(&c->lock);
    nconns++;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&registry);
}

int main(void)
{
    int reused = 0;

    if (lockwatch_name_lock)
        lockwatch_name_lock(&registry, "registry");
    for (int i = 0; i < ROUNDS; i++) {
        struct conn *old = new_conn(i);
        close_conn(old);
        struct conn *c = new_conn(i + 100);
        reused += c == old;
        open_conn(c);
        pthread_mutex_lock(&registry);
        nconns--;
        pthread_mutex_unlock(&registry);
        pthread_mutex_destroy(&c->lock);
        free(c);
    }
    printf("free_locked: %d rounds, memory reused in %d, %d connections open\n", ROUNDS, reused,
           nconns);
    return 0;
}
