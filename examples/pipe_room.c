/*
 * pipe_room.c - writes to a pipe while holding a mutex: one that fits in
 * the pipe's free room (it cannot block) and one that does not.
 *
 * Another thread takes state_lock too (so the lock is shared).  Holding
 * state_lock, the main thread writes 8 bytes to an empty pipe, as a
 * server's signal thread wakes its loop, then most of the pipe's capacity
 * (still room for it), then 4 KiB more than the room left: that write
 * waits until a reader thread, which never takes state_lock, drains the
 * pipe 200 ms later.
 *
 * Expected lockwatch result: exactly one `blocking-call-under-lock` report:
 * write (family pipe) in fill_pipe at the last write, none for the writes
 * that fit.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static int fds[2];
static long drained;

static void *other(void *arg)
{
    pthread_mutex_lock(&state_lock);
    pthread_mutex_unlock(&state_lock);
    return arg;
}

static void *reader(void *arg)
{
    char buf[65536];
    struct timespec ts = { 0, 200 * 1000000L };
    nanosleep(&ts, NULL);
    long n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0)
        drained += n;
    return arg;
}

static __attribute__((noinline)) int fill_pipe(void)
{
    static char big[1 << 20];
    uint64_t one = 1;
    int size = fcntl(fds[1], F_GETPIPE_SZ);
    if (size <= 8192)
        return -1;
    pthread_mutex_lock(&state_lock);
    int ok = write(fds[1], &one, sizeof one) == sizeof one;                   /* fits */
    ok &= write(fds[1], big, (size_t)size - 4096) == size - 4096;             /* fits */
    ok &= write(fds[1], big, 8192) == 8192;   /* 4 KiB more than the room: waits */
    pthread_mutex_unlock(&state_lock);
    return ok ? size : -1;
}

int main(void)
{
    pthread_t t, r;
    if (pipe(fds) != 0 || pthread_create(&t, NULL, other, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    pthread_create(&r, NULL, reader, NULL);
    int size = fill_pipe();
    close(fds[1]);
    pthread_join(r, NULL);
    printf("pipe_room: pipe of %d bytes, %ld bytes through\n", size, drained);
    return size > 0 && drained == (long)size - 4096 + 8 + 8192 ? 0 : 1;
}
