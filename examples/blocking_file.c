/*
 * blocking_file.c - file I/O and fsync while holding a mutex.
 *
 * save_journal() takes journal_lock, write()s a record to a temporary file
 * and fsync()s it before releasing the lock.  fsync waits for the storage
 * device, which can take many milliseconds (seconds on a busy disk), and
 * every thread that wants journal_lock waits with it.  lock_journal_file()
 * then, also under journal_lock, takes a whole-file lock with flock() and a
 * record lock with fcntl(F_SETLKW): both wait for as long as another
 * process holds the file lock.
 *
 * An auditor thread reads the record count under journal_lock afterwards,
 * so the lock is shared.
 *
 * Expected lockwatch result, by default: two `blocking-call-under-lock`
 * reports of family wait (a file lock waits for another process) with
 * journal_lock held: flock and fcntl in lock_journal_file.  Regular-file
 * I/O and fsync are family file, checked only when LOCKWATCH_BLOCKING
 * names it (or is all): then write and fsync in save_journal come first.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static pthread_mutex_t journal_lock = PTHREAD_MUTEX_INITIALIZER;
static long records; /* guarded by journal_lock */

/* noinline: the call site keeps its own frame in optimised builds (the
 * default CFLAGS are -g -O2), so the report names it. */
__attribute__((noinline)) static int save_journal(int fd, const char *record)
{
    int ok;

    pthread_mutex_lock(&journal_lock);
    ok = write(fd, record, strlen(record)) == (ssize_t)strlen(record); /* journal_lock held */
    ok = ok && fsync(fd) == 0;                                          /* journal_lock held */
    records += ok;
    pthread_mutex_unlock(&journal_lock);
    return ok;
}

__attribute__((noinline)) static int lock_journal_file(int fd)
{
    struct flock fl;
    int ok;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    pthread_mutex_lock(&journal_lock);
    ok = flock(fd, LOCK_EX) == 0;             /* waits for other holders of the file */
    ok = ok && fcntl(fd, F_SETLKW, &fl) == 0; /* waits for other holders of the record */
    ok = ok && flock(fd, LOCK_UN) == 0;       /* unlocking never waits: not reported */
    pthread_mutex_unlock(&journal_lock);
    return ok;
}

static void *auditor(void *arg)
{
    long *seen = arg;

    pthread_mutex_lock(&journal_lock);
    *seen = records;
    pthread_mutex_unlock(&journal_lock);
    return NULL;
}

int main(void)
{
    char path[] = "/tmp/lockwatch-journal-XXXXXX";
    int fd = mkstemp(path);
    int ok;
    pthread_t t;
    long seen = -1;

    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    unlink(path);
    ok = save_journal(fd, "record 1\n") && lock_journal_file(fd);
    close(fd);
    if (!ok || pthread_create(&t, NULL, auditor, &seen) != 0 || pthread_join(t, NULL) != 0)
        return 1;
    printf("blocking_file: %ld record(s) written, synced and locked\n", seen);
    return 0;
}
