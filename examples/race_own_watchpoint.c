/* race_own_watchpoint: a program that sets hardware watchpoints of its
 * own (a home-made debugger aid, as some test harnesses have).
 *
 * A second thread bumps a counter all along, and the main thread does too
 * for 300 ms (so that race sampling, when on, arms watchpoints of its own
 * in both threads).  Then the main thread, ROUNDS times, opens
 * perf_event_open breakpoints on four words of its own, which takes all
 * four debug registers of x86, writes each word WRITES times, reads the
 * counts back and closes them.  Natively every open succeeds and every
 * count is WRITES.  Under LOCKWATCH_RACES=sample lockwatch must step aside
 * at the first open (one `lockwatch:` line) and free the debug registers,
 * so that the program's opens and counts are the same as natively (with
 * lockwatch still arming, an open fails with ENOSPC).  Expected output:
 * "race_own_watchpoint: 800 of 800 opened, 800 counts of 5". */
#include <errno.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 200
#define WRITES 5

static volatile long counter;
static volatile long words[4];
static volatile int stop;

static void *bump(void *arg)
{
    (void)arg;
    while (!stop)
        counter++;
    return NULL;
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(void)
{
    pthread_t th;
    pthread_create(&th, NULL, bump, NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 65536; i++)
            counter++;
    } while (ms_since(&t0) < 300);
    int opened = 0, good = 0, enospc = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int fds[4];
        for (int i = 0; i < 4; i++) {
            struct perf_event_attr a;
            memset(&a, 0, sizeof(a));
            a.type = PERF_TYPE_BREAKPOINT;
            a.size = sizeof(a);
            a.bp_type = HW_BREAKPOINT_W;
            a.bp_addr = (uintptr_t)&words[i];
            a.bp_len = 8;
            a.exclude_kernel = 1;
            a.exclude_hv = 1;
            fds[i] = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
            if (fds[i] >= 0)
                opened++;
            else if (errno == ENOSPC)
                enospc++;
        }
        for (int n = 0; n < WRITES; n++)
            for (int i = 0; i < 4; i++)
                words[i] = n;
        for (int i = 0; i < 4; i++) {
            long long c = -1;
            if (fds[i] >= 0 && read(fds[i], &c, sizeof(c)) == sizeof(c) && c == WRITES)
                good++;
            if (fds[i] >= 0)
                close(fds[i]);
        }
        for (int i = 0; i < 65536; i++)
            counter++;
    }
    stop = 1;
    pthread_join(th, NULL);
    printf("race_own_watchpoint: %d of %d opened, %d counts of %d", opened, 4 * ROUNDS, good,
           WRITES);
    if (enospc)
        printf(" (%d refused: debug registers busy)", enospc);
    printf("\n");
    return 0;
}
