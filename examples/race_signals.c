/* race_signals: a program with its own SIGTRAP handler (installed with
 * signal(), read back with sigaction()) and, given "rt", its own handler
 * for SIGRTMAX-6, the signal LOCKWATCH_RACES=sample uses.  Under race
 * sampling it must behave as natively: its SIGTRAP reaches its handler,
 * sigaction reports its own handler back, and with "rt" lockwatch steps
 * aside (one line) and the program's handler gets its signal. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t traps, rts;
static volatile long work;

static void on_trap(int sig)
{
    (void)sig;
    traps++;
}

static void on_rt(int sig)
{
    (void)sig;
    rts++;
}

static void *spin(void *arg)
{
    (void)arg;
    for (long i = 0; i < 20000000L; i++)
        work = i;
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t th;
    pthread_create(&th, NULL, spin, NULL);
    signal(SIGTRAP, on_trap);
    struct sigaction old;
    sigaction(SIGTRAP, NULL, &old);
    printf("SIGTRAP handler read back: %s\n", old.sa_handler == on_trap ? "ours" : "another");
    raise(SIGTRAP);
    if (argc > 1 && strcmp(argv[1], "rt") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_rt;
        sigaction(SIGRTMAX - 6, &sa, NULL);
        raise(SIGRTMAX - 6);
        printf("SIGRTMAX-6 handled: %d\n", (int)rts);
    }
    pthread_join(th, NULL);
    printf("SIGTRAP handled: %d\n", (int)traps);
    return 0;
}
