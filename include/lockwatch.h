/*
 * lockwatch.h: optional API for programs run under lockwatch.
 *
 * Every function is declared weak: a program can call them when
 * liblockwatch.so is preloaded and test for their presence otherwise,
 * without linking against lockwatch:
 *
 *     if (lockwatch_name_lock)
 *         lockwatch_name_lock(&cache_lock, "cache_lock");
 */
#ifndef LOCKWATCH_H
#define LOCKWATCH_H

#ifdef __cplusplus
extern "C" {
#endif

#define LOCKWATCH_VERSION_MAJOR 0
#define LOCKWATCH_VERSION_MINOR 1

/* 1 when lockwatch is loaded and observing this process, else 0. */
int lockwatch_active(void) __attribute__((weak));
/* Number of reports this process has written so far. */
unsigned long lockwatch_report_count(void) __attribute__((weak));
/* Bytes of memory lockwatch has taken for itself (its arena: lock nodes,
 * order graph, stacks).  It never shrinks: records are reused. */
unsigned long lockwatch_memory_bytes(void) __attribute__((weak));
/* Version string of the loaded liblockwatch. */
const char *lockwatch_version(void) __attribute__((weak));
/* Give the lock at `lock` (mutex, rwlock, spinlock) a name shown in
 * reports.  The name is copied (at most 63 bytes). */
void lockwatch_name_lock(const void *lock, const char *name) __attribute__((weak));

#ifdef __cplusplus
}
#endif

#endif
