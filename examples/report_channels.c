/*
 * report_channels.c - a program that does to its descriptors what real
 * programs do, then makes lockwatch report (a lock-order inversion of two
 * locks, taken in both orders one after the other: it cannot hang).
 *
 * Usage: report_channels MODE DIR
 *   closed2   started with fd 2 closed: it opens DIR/data (which gets fd 2)
 *             and writes its data there;
 *   socket2   dup2s one end of a socket pair over fd 2 and reads the other
 *             end after the report;
 *   closerange  close_range(3, ~0U), then opens 600 files DIR/f.N (fd 500
 *             among them) and writes to each;
 *   plain     nothing: the report goes where stderr was.
 * It prints what it found: the bytes of anything lockwatch wrote into its
 * files or its socket ("stray N"), and exits 0.
 *
 * Expected lockwatch result: one `lock-order-inversion` report, written to
 * the stderr lockwatch found at start (or nowhere when that was closed),
 * never into the program's files or socket: "stray 0", exit status 66.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;

static void *other_order(void *arg)
{
    pthread_mutex_lock(&b);
    pthread_mutex_lock(&a);
    pthread_mutex_unlock(&a);
    pthread_mutex_unlock(&b);
    return arg;
}

static void inversion(void)
{
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    pthread_t t;
    pthread_create(&t, NULL, other_order, NULL);
    pthread_join(t, NULL);
}

/* Bytes in path that are not the program's own data line. */
static long stray_in(const char *path, const char *own)
{
    char buf[65536];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    long n = read(fd, buf, sizeof(buf));
    close(fd);
    return n < 0 ? -1 : n - (long)strlen(own);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    const char *mode = argv[1], *dir = argv[2];
    char path[4096];
    long stray = 0;
    if (!strcmp(mode, "closed2")) {
        snprintf(path, sizeof(path), "%s/data", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const char *own = "data\n";
        if (write(fd, own, strlen(own)) < 0)
            return 3;
        inversion();
        close(fd);
        stray = stray_in(path, own);
        printf("closed2: data file on fd %d, stray %ld\n", fd, stray);
    } else if (!strcmp(mode, "socket2")) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || dup2(sv[0], 2) != 2)
            return 3;
        inversion();
        close(2);
        close(sv[0]);
        char buf[65536];
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        long n = read(sv[1], buf, sizeof(buf));
        stray = n > 0 ? n : 0;
        printf("socket2: stray %ld\n", stray);
    } else if (!strcmp(mode, "closerange")) {
        syscall(SYS_close_range, 3U, ~0U, 0);
        int fds[600];
        for (int i = 0; i < 600; i++) {
            snprintf(path, sizeof(path), "%s/f.%d", dir, i);
            fds[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        }
        inversion();
        for (int i = 0; i < 600; i++)
            close(fds[i]);
        for (int i = 0; i < 600; i++) {
            snprintf(path, sizeof(path), "%s/f.%d", dir, i);
            long s = stray_in(path, "");
            if (s > 0)
                stray += s;
        }
        printf("closerange: 600 files, stray %ld\n", stray);
    } else {
        inversion();
        printf("plain: stray 0\n");
    }
    return 0;
}
