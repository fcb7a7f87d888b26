/*
 * report.h: the report stream.  Findings are formatted by
 * lw_report_finding() (declared in finding.h, called by the sink only), in
 * a private buffer with no lockwatch lock held (symbolisation may take the
 * loader's locks), then written in one piece under the report lock, to the
 * report file descriptor (a private duplicate of stderr, or LOCKWATCH_LOG).
 */
#ifndef LW_REPORT_H
#define LW_REPORT_H

#include "lw_base.h"

void lw_report_init(void);
void lw_report_atfork_prepare(void);
void lw_report_atfork_parent(void);
void lw_report_atfork_child(void);

#endif
