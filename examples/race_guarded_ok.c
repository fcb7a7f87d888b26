/* race_guarded_ok: examples/race_guarded with the balance read under its
 * lock, as LOCKWATCH_GUARDED_BY declares: no report. */
#define GUARDED_OK 1
#include "race_guarded.c"
