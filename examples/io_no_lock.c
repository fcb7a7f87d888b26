/*
 * io_no_lock.c - every kind of blocking call, none of them under a lock.
 *
 * The program sleeps, reads from a pipe fed by a thread, receives from a
 * socketpair, writes and fsyncs a temporary file, waits for a child process
 * and waits on a semaphore, exactly as the blocking_* examples do, but it
 * copies the data it needs into locals and takes the mutex only around the
 * update of the shared state, never around the call that may block.  (It
 * does lock and unlock the mutex, so lockwatch sees locks in use.)
 *
 * Expected lockwatch result: no report, exit status 0.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static int done_steps; /* guarded by state_lock */
static int pipe_fds[2], sock_fds[2];
static sem_t tokens;

static void step_done(void)
{
    pthread_mutex_lock(&state_lock);
    done_steps++;
    pthread_mutex_unlock(&state_lock);
}

static void *feeder(void *arg)
{
    (void)arg;
    if (write(pipe_fds[1], "p", 1) != 1 || send(sock_fds[1], "s", 1, 0) != 1)
        perror("feeder");
    sem_post(&tokens);
    return NULL;
}

int main(void)
{
    char path[] = "/tmp/lockwatch-nolock-XXXXXX";
    char c;
    pthread_t t;
    pid_t child;
    int fd, status;

    if (pipe(pipe_fds) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sock_fds) != 0 ||
        sem_init(&tokens, 0, 0) != 0)
        return 1;
    if (pthread_create(&t, NULL, feeder, NULL) != 0)
        return 1;

    usleep(1000);
    step_done();
    if (read(pipe_fds[0], &c, 1) != 1)
        return 1;
    step_done();
    if (recv(sock_fds[0], &c, 1, 0) != 1)
        return 1;
    step_done();
    fd = mkstemp(path);
    if (fd < 0)
        return 1;
    unlink(path);
    if (write(fd, "x\n", 2) != 2 || fsync(fd) != 0)
        return 1;
    close(fd);
    step_done();
    child = fork();
    if (child < 0)
        return 1;
    if (child == 0)
        _exit(0);
    if (waitpid(child, &status, 0) != child)
        return 1;
    step_done();
    if (sem_wait(&tokens) != 0)
        return 1;
    step_done();
    pthread_join(t, NULL);

    printf("io_no_lock: %d blocking steps, none under a lock\n", done_steps);
    return done_steps == 6 ? 0 : 1;
}
