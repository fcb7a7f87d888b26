/*
 * memmap.h: what kind of memory an address is in, for naming a lock that
 * no symbol names: a thread's stack, the heap, an anonymous or a file
 * mapping.  Read from /proc/self/maps at report time with raw system calls
 * into a stack buffer (no stdio, no malloc), and from a table of one stack
 * address per thread, noted when the thread is set up (a store, no system
 * call).  Report paths only, except lw_mem_note_stack.
 */
#ifndef LW_MEMMAP_H
#define LW_MEMMAP_H

#include "lw_base.h"

enum lw_mem_kind {
    LW_MEM_UNKNOWN = 0,
    LW_MEM_FILE,          /* a file mapping (a module's data, shared memory) */
    LW_MEM_HEAP,          /* [heap]: the brk heap */
    LW_MEM_ARENA,         /* a glibc malloc arena of another thread (an
                           * anonymous mapping aligned to its 64 MiB heaps) */
    LW_MEM_STACK,         /* a thread's stack (the main thread's [stack], or
                           * a mapping holding a thread's noted stack address) */
    LW_MEM_ANON,          /* any other anonymous mapping */
};

typedef struct {
    enum lw_mem_kind kind;
    uintptr_t lo, hi;     /* the mapping */
    char path[256];       /* LW_MEM_FILE: its path */
    bool has_thread;      /* LW_MEM_STACK: whose stack is known */
    uint32_t thread;      /* T<thread> */
    int tid;
} lw_mem_region;

/* One line of /proc/self/maps ("lo-hi perms offset dev inode   path"):
 * its bounds and its path (pointer into line, *pathlen bytes; 0 for an
 * anonymous mapping).  Pure; false when the line does not parse. */
bool lw_maps_parse_line(const char *line, size_t len, uintptr_t *lo, uintptr_t *hi,
                        const char **path, size_t *pathlen);
/* The kind of a mapping from its path alone (pure): [heap], [stack],
 * anonymous (path empty), a file; [vdso] and the like are LW_MEM_UNKNOWN. */
enum lw_mem_kind lw_maps_kind(const char *path, size_t pathlen);
/* The mapping containing addr and its kind (a thread's stack when it holds
 * a noted stack address of a live thread).  False when /proc/self/maps
 * cannot be read or no mapping contains addr. */
bool lw_mem_find(uintptr_t addr, lw_mem_region *r);
/* Notes that thread T<num> (tid) runs on the stack holding sp.  Called by
 * the thread itself when it is set up; overwrites an older thread's entry
 * in the same slot (LW_MEM_STACK_SLOTS, by number). */
void lw_mem_note_stack(uint32_t num, int tid, uintptr_t sp);
/* The start of the glibc malloc chunk's user memory holding addr, when
 * addr is in the brk heap or a chunk of its own mapping and the program's
 * malloc is glibc's; 0 when that cannot be told safely (the heap is read
 * with process_vm_readv, which fails instead of faulting, and a walk that
 * meets a malformed chunk gives up). */
uintptr_t lw_mem_heap_object(uintptr_t addr, const lw_mem_region *r);

#define LW_MEM_STACK_SLOTS 1024

#endif
