/*
 * realloc_locked.c - mutexes whose memory realloc() and mremap() give back
 * while the mutexes are locked (terminates without lockwatch).
 *
 *  1. grow_buffer() locks the mutex `buf_lock` at the start of a malloc'd
 *     buffer and reallocs the buffer to a larger size while it holds it.
 *     Another block allocated just after it (kept to the end) keeps
 *     realloc from growing it in place, so realloc moves it: the old
 *     block, with the locked mutex, is freed (the new block holds a byte
 *     copy of a locked mutex, which POSIX does not allow either).  The
 *     program unlocks the copy, as a program that did not notice would.
 *  2. shrink_map() locks the mutex `tail_lock` in the second page of a
 *     two-page anonymous mapping and shrinks the mapping to one page with
 *     mremap while it holds it: the page with the locked mutex is unmapped.
 * Each ROUNDS times, one call site each.
 *
 * Expected lockwatch result: exactly two `destroy-locked` reports, one
 * naming realloc() and "buf_lock", one naming mremap() and "tail_lock",
 * both held by the main thread; exit status 66.
 */
#define _GNU_SOURCE
#include <lockwatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define ROUNDS 3

struct buffer {
    pthread_mutex_t lock;
    size_t len;
    char data[];
};

__attribute__((noinline)) static struct buffer *grow_buffer(struct buffer *b, size_t len)
{
    pthread_mutex_lock(&b->lock);
    b = realloc(b, sizeof(*b) + len); /* moves it: the locked mutex's memory is freed */
    if (!b)
        abort();
    b->len = len;
    pthread_mutex_unlock(&b->lock); /* the copy */
    return b;
}

__attribute__((noinline)) static int shrink_map(char *map, size_t page)
{
    pthread_mutex_t *tail = (pthread_mutex_t *)(map + page);
    pthread_mutex_lock(tail);
    /* the second page, with the locked mutex, goes */
    return mremap(map, 2 * page, page, 0) == map;
}

int main(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int moved = 0, shrunk = 0;

    /* Kept until the end, so that every buffer has a live block after it. */
    struct buffer *grown[ROUNDS];
    void *after[ROUNDS];

    for (int i = 0; i < ROUNDS; i++) {
        struct buffer *b = malloc(sizeof(*b) + 16);
        after[i] = malloc(sizeof(*b) + 16); /* in the way of growing in place */
        if (!b || !after[i])
            abort();
        pthread_mutex_init(&b->lock, NULL);
        if (lockwatch_name_lock)
            lockwatch_name_lock(&b->lock, "buf_lock");
        grown[i] = grow_buffer(b, 4096);
        moved += grown[i] != b;

        char *map =
            mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED)
            abort();
        pthread_mutex_init((pthread_mutex_t *)(map + page), NULL);
        if (lockwatch_name_lock)
            lockwatch_name_lock(map + page, "tail_lock");
        shrunk += shrink_map(map, page);
        munmap(map, page);
    }
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_destroy(&grown[i]->lock);
        free(grown[i]);
        free(after[i]);
    }
    printf("realloc_locked: %d rounds, moved by realloc %d, shrunk by mremap %d\n", ROUNDS, moved,
           shrunk);
    return 0;
}
