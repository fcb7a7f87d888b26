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
