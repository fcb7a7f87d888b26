/*
 * spawn.c: runs one benchmark command for bench/run.py and reports its
 * resource usage.
 *
 *     spawn RESULTFILE PRELOAD COMMAND [ARG...]
 *
 * Forks, sets LD_PRELOAD=PRELOAD in the child only (an empty PRELOAD
 * unsets it), execs COMMAND, waits for it with wait4 and writes
 *
 *     status=N wall_ns=N maxrss_kb=N utime_s=F stime_s=F
 *
 * to RESULTFILE (status: exit status, or 128+signal).  Why not straight
 * from Python: a process forked from the Python driver keeps the driver's
 * peak RSS in its own (Linux carries the pre-exec high-water mark over
 * exec), so ru_maxrss would read 35 MB for every command.  This launcher is
 * small, and the command is forked from it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s RESULTFILE PRELOAD COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        if (argv[2][0])
            setenv("LD_PRELOAD", argv[2], 1);
        else
            unsetenv("LD_PRELOAD");
        execvp(argv[3], argv + 3);
        fprintf(stderr, "spawn: %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) {
            perror("wait4");
            return 2;
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fprintf(f, "status=%d wall_ns=%lld maxrss_kb=%ld utime_s=%.6f stime_s=%.6f\n", code,
            (long long)(t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec),
            ru.ru_maxrss, (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    fclose(f);
    return 0;
}
