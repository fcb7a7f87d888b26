/*
 * report.h: writing reports.  A report is built in a private buffer, with
 * no lockwatch lock held (symbolisation may take the loader's locks), then
 * written in one piece under the report lock, to the report file
 * descriptor (a private duplicate of stderr, or LOCKWATCH_LOG).
 */
#ifndef LW_REPORT_H
#define LW_REPORT_H

#include "lw_base.h"
#include "graph.h"

typedef struct {
    uint64_t id;
    uintptr_t addr;
    uint16_t kind, mtype;
    uint32_t first_how;
    uintptr_t first_pc;
    const char *name;
} lw_lock_snap;

typedef struct {
    lw_lock_snap from, to;
    uint32_t modes;
    lw_edge_origin origin;
} lw_edge_snap;

typedef struct {
    unsigned n;
    lw_edge_snap e[LW_MAX_CYCLE];
} lw_cycle_snap;

/* ---- problem reports other than inversions (one builder for all) ---- */

#define LW_REP_MAX_THREADS 16
#define LW_REP_MAX_HOLDS   16
#define LW_REP_MAX_LOCKS   8

typedef struct {
    lw_lock_snap lock;
    uint32_t mode;            /* LW_MODE_* */
    uint32_t stack;           /* depot id: where it was acquired */
} lw_hold_snap;

typedef struct {
    uint32_t num, parent;
    int tid;
    char name[16];
    bool created_seen;
    uint32_t create_stack;
    uint32_t stack;           /* depot id: the offending call or the wait */
    char what[160];           /* "called read() on a pipe", "is blocked locking M3" */
    int waits_lock;           /* index into the report's locks, or -1 */
    int waits_thread;         /* thread number waited for in a join, or -1 */
    unsigned nholds;
    lw_hold_snap holds[LW_REP_MAX_HOLDS];
} lw_thread_snap;

typedef struct {
    const char *kind;         /* JSON kind (fixed names, see lockwatch(7)) */
    const char *title;        /* banner: "WARNING: lockwatch: <title>" */
    char message[512];        /* one line: what happened */
    unsigned nthreads;
    lw_thread_snap threads[LW_REP_MAX_THREADS];
    unsigned nlocks;          /* locks the report names besides held ones */
    struct {
        lw_lock_snap lock;
        char role[96];        /* "destroyed here", "first paired with the condvar here" */
        uint32_t stack;
    } locks[LW_REP_MAX_LOCKS];
    char extra_json[512];     /* extra "key":value members, each starting with ',' */
} lw_issue;

/* A zeroed lw_issue from a pool (reports must not live on small stacks). */
lw_issue *lw_issue_new(const char *kind, const char *title);
void lw_issue_free(lw_issue *r);
/* Fills a thread section from the calling thread's state. */
struct lw_thread;
lw_thread_snap *lw_issue_self(lw_issue *r, struct lw_thread *t, uint32_t stack,
                              const uintptr_t *pcs, const uintptr_t *sps, unsigned n);
int lw_issue_add_lock(lw_issue *r, const lw_lock_snap *l, const char *role, uint32_t stack);
/* Writes the report (text or JSON) and frees it. */
void lw_report_issue(lw_issue *r);

void lw_report_init(void);
void lw_snap_lock(const lw_lock *l, lw_lock_snap *s);
void lw_report_inversion(const lw_cycle_snap *c);
/* Writes one complete message (report or warning) to the report stream. */
void lw_report_write(const char *p, size_t len, bool counts);
uint64_t lw_report_count(void);
/* The status a process exiting with `status` should exit with. */
int lw_exit_status(int status);
void lw_report_atfork_prepare(void);
void lw_report_atfork_parent(void);
void lw_report_atfork_child(void);
/* One "lockwatch: warning: ..." line, to stderr, at most once per `once`. */
void lw_warn_once(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
