/*
 * nonblocking_under_lock.c - calls that look like blocking calls but cannot
 * block, made while holding a mutex.
 *
 * With cache_lock held the program: reads from /dev/null; reads from an
 * empty pipe made non-blocking with fcntl(F_SETFL, O_NONBLOCK) (EAGAIN);
 * receives with MSG_DONTWAIT from an empty socketpair (EAGAIN); polls,
 * selects and epoll_waits with a zero timeout; calls waitpid with WNOHANG
 * (no children: ECHILD); takes and drops a file lock with
 * flock(LOCK_EX | LOCK_NB) and fcntl(F_SETLK); reads from a closed
 * descriptor (EBADF).  None of these can wait, so none is a blocking call
 * under a lock.  The program also checks that every call left errno
 * exactly as the C library sets it.
 *
 * Expected lockwatch result: no report, exit status 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "nonblocking_under_lock: unexpected result of %s (errno %d)\n", what,
                errno);
        failures++;
    }
}

int main(void)
{
    char path[] = "/tmp/lockwatch-nonblock-XXXXXX";
    char buf[16];
    int pfd[2], sv[2], devnull, fd, ep, flags;
    struct pollfd p;
    struct timeval tv = { 0, 0 };
    struct epoll_event ev;
    struct flock fl;
    fd_set rd;

    devnull = open("/dev/null", O_RDONLY);
    fd = mkstemp(path);
    ep = epoll_create1(0);
    if (devnull < 0 || fd < 0 || ep < 0 || pipe(pfd) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return 1;
    unlink(path);
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev) != 0)
        return 1;

    pthread_mutex_lock(&cache_lock);

    check(read(devnull, buf, sizeof(buf)) == 0, "read(/dev/null)");

    flags = fcntl(pfd[0], F_GETFL);
    check(flags >= 0 && !(flags & O_NONBLOCK), "fcntl(F_GETFL)");
    check(fcntl(pfd[0], F_SETFL, flags | O_NONBLOCK) == 0, "fcntl(F_SETFL)");
    check(fcntl(pfd[0], F_GETFL) == (flags | O_NONBLOCK), "fcntl(F_GETFL) after F_SETFL");
    errno = 0;
    check(read(pfd[0], buf, sizeof(buf)) == -1 && errno == EAGAIN, "read(empty O_NONBLOCK pipe)");

    errno = 0;
    check(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN,
          "recv(MSG_DONTWAIT)");

    p.fd = pfd[0];
    p.events = POLLIN;
    check(poll(&p, 1, 0) == 0, "poll(timeout 0)");
    FD_ZERO(&rd);
    FD_SET(pfd[0], &rd);
    check(select(pfd[0] + 1, &rd, NULL, NULL, &tv) == 0, "select(timeout 0)");
    check(epoll_wait(ep, &ev, 1, 0) == 0, "epoll_wait(timeout 0)");

    errno = 0;
    check(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD, "waitpid(WNOHANG)");

    check(flock(fd, LOCK_EX | LOCK_NB) == 0, "flock(LOCK_EX | LOCK_NB)");
    check(flock(fd, LOCK_UN) == 0, "flock(LOCK_UN)");
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    check(fcntl(fd, F_SETLK, &fl) == 0, "fcntl(F_SETLK)");
    fl.l_type = F_UNLCK;
    check(fcntl(fd, F_SETLK, &fl) == 0, "fcntl(F_SETLK, F_UNLCK)");

    close(devnull);
    errno = 0;
    check(read(devnull, buf, sizeof(buf)) == -1 && errno == EBADF, "read(closed fd)");

    pthread_mutex_unlock(&cache_lock);

    close(fd);
    close(ep);
    printf("nonblocking_under_lock: 15 calls that cannot block, %d unexpected result(s)\n",
           failures);
    return failures ? 1 : 0;
}
