/*
 * order.h: the committed lock order (LOCKWATCH_ORDER_FILE) and the names
 * locks have across runs (their keys).
 *
 * A team writes down its lock hierarchy with `lockwatch-report --order`
 * (lockwatch-report(1)): `lock KEY` lines in a topological order, `cycle`
 * lines for locks taken in both orders, `edge` lines that justify the
 * order.  The library reads it once, at start-up, into a table that is
 * never written again (lookups take no lock), and the core checks every new
 * order edge against it (lw_core.c, slow_edge): holding a lock the file
 * lists after the one being taken is an order-violation, reported before
 * any cycle exists.
 *
 * Keys.  The viewer groups locks by key and writes keys into the order
 * file; the library writes each lock's key into its JSON records ("key")
 * so that both use the very same string.  A key is, first that applies:
 *  - the lock's lockwatch_name_lock() name;
 *  - the symbol of the global or static object the lock lies in, as the
 *    object file spells it (C++ names mangled), "+0x.." when inside it;
 *  - where it was first seen: "<kind> first <how> in <function> (<module>)"
 *    (ELF symbol of the function, module file name), or "<kind> first <how>
 *    at <module>+0x<offset>" when no function symbol covers the site.
 * All three are the same in every run of the same binary.  Locks first
 * seen at the same site share a key: a class of locks (lockdep's lock
 * classes), and an edge between two locks of one class orders nothing.
 * Thread ends, condition variables, semaphores and barriers have no key.
 *
 * Must never: allocate with malloc (the table lives in the arena), or be
 * changed after lw_order_load returned.
 */
#ifndef LW_ORDER_H
#define LW_ORDER_H

#include "lw_base.h"
#include "finding.h"

#define LW_ORDER_FILE_MAX  (8u << 20)   /* bytes of an order file read */
#define LW_ORDER_MAX_LOCKS 65000u       /* keys an order file may list */
/* lw_lock_key (finding.h) makes the key above. */

/* Reads the order file at path (not empty) into the table.  A file that
 * cannot be read or has a line that is not an order file line: one
 * warning naming the file and the line, and no order checks.  Start-up
 * only, before other threads use the table. */
bool lw_order_load(const char *path);
/* The same from text in memory (tests); text is kept and changed (names
 * are unescaped in place).  what names it in a warning. */
bool lw_order_parse(char *text, size_t len, const char *what);
/* Forgets the table (tests). */
void lw_order_reset(void);

/* Is an order file loaded? */
bool lw_order_active(void);

/* A key's place in the file. */
typedef struct {
    const char *key;          /* as the file spells it (unescaped); lives on */
    uint32_t rank;            /* locks of one `cycle` line share a rank */
    uint32_t line;            /* its `lock` (or first `cycle`) line */
    uint32_t index;           /* 0, 1, ...: one per key */
} lw_order_ent;

/* The entry of key, or NULL when the file does not list it. */
const lw_order_ent *lw_order_find(const char *key);
/* The entry of index i (lw_order_ent.index), or NULL. */
const lw_order_ent *lw_order_entry(uint32_t i);
/* The path (or test name) of the loaded file. */
const char *lw_order_path(void);

#endif
