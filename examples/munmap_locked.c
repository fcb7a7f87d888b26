/*
 * munmap_locked.c - a mutex in a mapping that is unmapped while the mutex
 * is locked, and the address range mapped again for a new mutex
 * (terminates without lockwatch).
 *
 * drop_table() locks the mutex `table_lock` at the start of an anonymous
 * mapping and unmaps the mapping while it still holds it: unmapping the
 * memory of a locked mutex destroys it locked, the bug.  The next mapping
 * asks for the same address (as a hint, which the kernel takes since the
 * range is free); fill_table() takes the global `loader` lock, then the new
 * mutex there.  That is another lock than the unmapped one: no cycle (a
 * lockwatch that kept the unmapped mutex on the held stack would see
 * table_lock -> loader -> table_lock through the reused address).  ROUNDS
 * times, one call site each; the program prints whether the address was
 * reused.
 *
 * Expected lockwatch result: exactly one `destroy-locked` report, naming
 * munmap() and the mutex "table_lock" (held by the main thread, acquired in
 * drop_table), and no lock-order-inversion; exit status 66.
 */
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define ROUNDS 3
#define TABLE_BYTES 8192

struct table {
    pthread_mutex_t lock;
    long rows;
};

static pthread_mutex_t loader = PTHREAD_MUTEX_INITIALIZER;

/* at: where the last table was (the kernel takes the hint if the range is
 * free, as it is unless something else was mapped there meanwhile). */
static struct table *map_table(void *at)
{
    struct table *t =
        mmap(at, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        abort();
    pthread_mutex_init(&t->lock, NULL);
    if (lockwatch_name_lock)
        lockwatch_name_lock(&t->lock, "table_lock");
    return t;
}

__attribute__((noinline)) static void drop_table(struct table *t)
{
    pthread_mutex_lock(&t->lock);
    t->rows = 0;
    munmap(t, TABLE_BYTES); /* t->lock is still locked: destroyed locked */
}

__attribute__((noinline)) static void fill_table(struct table *t)
{
    pthread_mutex_lock(&loader);
    pthread_mutex_lock(&t->lock);
    t->rows = 42;
    pthread_mutex_unlock(&t->lock);
    pthread_mutex_unlock(&loader);
}

int main(void)
{
    int reused = 0;
    long rows = 0;

    if (lockwatch_name_lock)
        lockwatch_name_lock(&loader, "loader");
    for (int i = 0; i < ROUNDS; i++) {
        struct table *old = map_table(NULL);
        drop_table(old);
        struct table *t = map_table(old);
        reused += t == old;
        fill_table(t);
        rows += t->rows;
        pthread_mutex_destroy(&t->lock);
        munmap(t, TABLE_BYTES);
    }
    printf("munmap_locked: %d rounds, address reused in %d, %ld rows\n", ROUNDS, reused, rows);
    return 0;
}
