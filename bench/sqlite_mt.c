/*
 * sqlite_mt.c: a multi-threaded SQLite workload for bench/run.py (built by
 * the driver when sqlite3.h and libsqlite3 are installed).
 *
 *     sqlite_mt DBFILE [SCALE]
 *
 * A writer thread inserts rows into table u in transactions of 100 while
 * two reader threads run indexed range queries on table t, filled before
 * the threads start, each thread on its own connection to one WAL-mode
 * database (one writer: no busy-handler sleeps, which would make the timing
 * bimodal).  The readers query a table of fixed size, so their work does
 * not depend on how far the writer has got (when they queried the table
 * the writer was filling, a run's work varied 4x with the interleaving,
 * natively too: a shared machine's scheduling, or a tool's, changed what
 * was measured).  SQLite serialises each connection and its shared
 * structures with pthread mutexes and coordinates the connections with
 * fcntl locks and a shared-memory index.  The totals are checked at the end.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WRITERS 1
#define READERS 2
#define BATCH   100

static const char *db_path;
static long rows_per_writer, queries_per_reader;

static void die(sqlite3 *db, const char *what)
{
    printf("CHECK FAILED: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    fflush(stdout);
    exit(1);
}

static sqlite3 *open_db(void)
{
    sqlite3 *db;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        die(db, "open");
    sqlite3_busy_timeout(db, 60000);
    if (sqlite3_exec(db, "PRAGMA synchronous=OFF", NULL, NULL, NULL) != SQLITE_OK)
        die(db, "pragma");
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(db, sql);
}

static void *writer(void *arg)
{
    long w = (long)arg;
    sqlite3 *db = open_db();
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(db, "INSERT INTO u(w, k, v) VALUES (?, ?, ?)", -1, &ins, NULL) !=
        SQLITE_OK)
        die(db, "prepare insert");
    for (long i = 0; i < rows_per_writer; i += BATCH) {
        exec(db, "BEGIN IMMEDIATE");
        for (long j = i; j < i + BATCH && j < rows_per_writer; j++) {
            sqlite3_bind_int64(ins, 1, w);
            sqlite3_bind_int64(ins, 2, ((w * rows_per_writer + j) * 7919) % 100003);
            sqlite3_bind_int64(ins, 3, j);
            if (sqlite3_step(ins) != SQLITE_DONE)
                die(db, "insert");
            sqlite3_reset(ins);
        }
        exec(db, "COMMIT");
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return NULL;
}

static void *reader(void *arg)
{
    long r = (long)arg;
    sqlite3 *db = open_db();
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(v), 0) FROM t WHERE k BETWEEN ? AND ?",
                           -1, &q, NULL) != SQLITE_OK)
        die(db, "prepare select");
    for (long i = 0; i < queries_per_reader; i++) {
        long lo = ((r + 1) * 104729 * (i + 1)) % 100003;
        sqlite3_bind_int64(q, 1, lo);
        sqlite3_bind_int64(q, 2, lo + 500);
        if (sqlite3_step(q) != SQLITE_ROW)
            die(db, "select");
        if (sqlite3_column_int64(q, 0) < 0)
            die(db, "negative count");
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DBFILE [SCALE]\n", argv[0]);
        return 2;
    }
    double scale = argc > 2 ? strtod(argv[2], NULL) : 1.0;
    if (!(scale > 0))
        scale = 1;
    db_path = argv[1];
    rows_per_writer = (long)(100000 * scale);
    queries_per_reader = (long)(20000 * scale);
    if (rows_per_writer < BATCH)
        rows_per_writer = BATCH;
    if (queries_per_reader < 1)
        queries_per_reader = 1;
    char extra[4096];
    unlink(db_path);
    snprintf(extra, sizeof(extra), "%s-wal", db_path);
    unlink(extra);
    snprintf(extra, sizeof(extra), "%s-shm", db_path);
    unlink(extra);

    sqlite3 *db = open_db();
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, w INTEGER, k INTEGER, v INTEGER)");
    exec(db, "CREATE INDEX t_k ON t(k)");
    exec(db, "CREATE TABLE u(id INTEGER PRIMARY KEY, w INTEGER, k INTEGER, v INTEGER)");
    exec(db, "CREATE INDEX u_k ON u(k)");
    /* The readers' table: as many rows as the writer will insert, keyed the
     * same way, filled before the clock starts. */
    sqlite3_stmt *fill;
    if (sqlite3_prepare_v2(db, "INSERT INTO t(w, k, v) VALUES (0, ?, ?)", -1, &fill, NULL) !=
        SQLITE_OK)
        die(db, "prepare fill");
    exec(db, "BEGIN");
    for (long j = 0; j < rows_per_writer; j++) {
        sqlite3_bind_int64(fill, 1, (j * 7919) % 100003);
        sqlite3_bind_int64(fill, 2, j);
        if (sqlite3_step(fill) != SQLITE_DONE)
            die(db, "fill");
        sqlite3_reset(fill);
    }
    exec(db, "COMMIT");
    sqlite3_finalize(fill);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t th[WRITERS + READERS];
    for (long i = 0; i < WRITERS; i++)
        if (pthread_create(&th[i], NULL, writer, (void *)i) != 0)
            die(NULL, "pthread_create");
    for (long i = 0; i < READERS; i++)
        if (pthread_create(&th[WRITERS + i], NULL, reader, (void *)i) != 0)
            die(NULL, "pthread_create");
    for (int i = 0; i < WRITERS + READERS; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "SELECT count(*), sum(v) FROM u", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW)
        die(db, "final select");
    long long n = sqlite3_column_int64(q, 0), sum = sqlite3_column_int64(q, 1);
    sqlite3_finalize(q);
    sqlite3_close(db);
    long long expect_n = (long long)WRITERS * rows_per_writer;
    long long expect_sum = (long long)WRITERS * rows_per_writer * (rows_per_writer - 1) / 2;
    if (n != expect_n || sum != expect_sum) {
        printf("CHECK FAILED: %lld rows, sum %lld; expected %lld, %lld\n", n, sum, expect_n,
               expect_sum);
        return 1;
    }
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("RESULT mode=sqlite ns_per_op=%.1f ops=%lld writers=%d readers=%d\n",
           ns / (double)(expect_n + READERS * queries_per_reader), expect_n + READERS * queries_per_reader,
           WRITERS, READERS);
    return 0;
}
