/*
 * asleep_ok.c - correct programs whose threads all sleep for a while, but
 * in waits the outside world (or time) ends.  lockwatch must not report
 * them as deadlocked.
 *
 * argv[1] selects the case (each lasts about `ms`, argv[2], default 1500):
 *   timed    workers in pthread_cond_wait; the main thread in
 *            pthread_cond_timedwait, which times out, then stops them;
 *   alarm    the main thread in sem_wait, posted by a SIGALRM handler
 *            (alarm armed: a timer may end the wait);
 *   signal   the main thread in sem_wait, posted by a SIGUSR1 handler; a
 *            child process sends the signal;
 *   pshared  the main thread in pthread_cond_wait on a process-shared
 *            condvar in shared memory, signalled by a child process;
 *   sigwait  workers in pthread_cond_wait, the main thread in sigwait for
 *            SIGUSR2 from a child process.
 * Exits 0 printing "<case> ok".
 *
 * Expected lockwatch result: nothing.
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;
static int stop;
static sem_t posted;
static int ms = 1500;

static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stop)
        pthread_cond_wait(&work, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void stop_workers(pthread_t *t, int n)
{
    pthread_mutex_lock(&lock);
    stop = 1;
    pthread_cond_broadcast(&work);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static void post(int sig)
{
    (void)sig;
    sem_post(&posted);
}

static pid_t signal_later(int sig)
{
    pid_t parent = getpid(), c = fork();
    if (c == 0) {
        usleep((useconds_t)ms * 1000);
        kill(parent, sig);
        _exit(0);
    }
    return c;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "timed";
    if (argc > 2)
        ms = atoi(argv[2]);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    sem_init(&posted, 0, 0);

    if (strcmp(mode, "timed") == 0) {
        pthread_cond_t never = PTHREAD_COND_INITIALIZER;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&lock);
        while (pthread_cond_timedwait(&never, &lock, &ts) == 0)
            ;
        pthread_mutex_unlock(&lock);
    } else if (strcmp(mode, "alarm") == 0) {
        signal(SIGALRM, post);
        alarm((unsigned)(ms + 999) / 1000);
        while (sem_wait(&posted) != 0)
            ;
    } else if (strcmp(mode, "signal") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = post;
        sigaction(SIGUSR1, &sa, NULL);
        pid_t c = signal_later(SIGUSR1);
        while (sem_wait(&posted) != 0)
            ;
        waitpid(c, NULL, 0);
    } else if (strcmp(mode, "pshared") == 0) {
        struct shm {
            pthread_mutex_t m;
            pthread_cond_t c;
            int flag;
        } *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        pthread_mutexattr_t ma;
        pthread_condattr_t ca;
        pthread_mutexattr_init(&ma);
        pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
        pthread_condattr_init(&ca);
        pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
        pthread_mutex_init(&s->m, &ma);
        pthread_cond_init(&s->c, &ca);
        pid_t c = fork();
        if (c == 0) {
            usleep((useconds_t)ms * 1000);
            pthread_mutex_lock(&s->m);
            s->flag = 1;
            pthread_cond_signal(&s->c);
            pthread_mutex_unlock(&s->m);
            _exit(0);
        }
        pthread_mutex_lock(&s->m);
        while (!s->flag)
            pthread_cond_wait(&s->c, &s->m);
        pthread_mutex_unlock(&s->m);
        waitpid(c, NULL, 0);
    } else if (strcmp(mode, "sigwait") == 0) {
        sigset_t set;
        int sig;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR2);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        pid_t c = signal_later(SIGUSR2);
        sigwait(&set, &sig);
        waitpid(c, NULL, 0);
    } else {
        fprintf(stderr, "unknown case %s\n", mode);
        return 2;
    }
    stop_workers(t, 2);
    printf("%s ok\n", mode);
    return 0;
}
