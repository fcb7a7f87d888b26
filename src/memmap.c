/*
 * memmap.c: address -> kind of memory (memmap.h).
 * Owns: the table of noted thread stacks.
 * Must never: allocate, use stdio, or read the program's memory except by
 * process_vm_readv (a bad address fails the call instead of faulting).
 */
#include "memmap.h"
#include "lw_atomic.h"
#include "lw_sys.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

/* One noted stack per slot, slot = num % LW_MEM_STACK_SLOTS.  Written by the
 * thread itself (sp, tid, then num with release); read at report time (num
 * with acquire, the rest, num again: a slot rewritten meanwhile is
 * skipped).  A thread that exited leaves its entry; its stack is unmapped
 * (then no mapping holds sp) or reused by a later thread, which notes its
 * own: the highest number wins. */
static struct {
    uint32_t num_plus1;   /* 0: empty */
    int tid;
    uintptr_t sp;
} stacks[LW_MEM_STACK_SLOTS];

void lw_mem_note_stack(uint32_t num, int tid, uintptr_t sp)
{
    unsigned s = num % LW_MEM_STACK_SLOTS;
    lw_store_relaxed(&stacks[s].num_plus1, 0);
    lw_store_relaxed(&stacks[s].tid, tid);
    lw_store_relaxed(&stacks[s].sp, sp);
    /* release: a reader that sees the number sees its sp and tid */
    lw_store_release(&stacks[s].num_plus1, num + 1);
}

static unsigned hex_digit(char c)
{
    return c >= '0' && c <= '9' ? (unsigned)(c - '0')
           : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
}

static const char *parse_hex(const char *p, const char *end, uintptr_t *v)
{
    uintptr_t x = 0;
    const char *s = p;
    while (p < end && hex_digit(*p) < 16)
        x = x << 4 | hex_digit(*p++);
    *v = x;
    return p == s ? NULL : p;
}

bool lw_maps_parse_line(const char *line, size_t len, uintptr_t *lo, uintptr_t *hi,
                        const char **path, size_t *pathlen)
{
    const char *p = line, *end = line + len;
    if (!(p = parse_hex(p, end, lo)) || p >= end || *p++ != '-' || !(p = parse_hex(p, end, hi)))
        return false;
    /* perms, offset, dev, inode: four blank-separated fields */
    for (int f = 0; f < 4; f++) {
        if (p >= end || *p != ' ')
            return false;
        while (p < end && *p == ' ')
            p++;
        while (p < end && *p != ' ')
            p++;
    }
    while (p < end && *p == ' ')
        p++;
    *path = p;
    *pathlen = (size_t)(end - p);
    return *lo < *hi;
}

static bool is(const char *path, size_t n, const char *word)
{
    return n == strlen(word) && memcmp(path, word, n) == 0;
}

enum lw_mem_kind lw_maps_kind(const char *path, size_t n)
{
    if (n == 0)
        return LW_MEM_ANON;
    if (is(path, n, "[heap]"))
        return LW_MEM_HEAP;
    if (is(path, n, "[stack]"))
        return LW_MEM_STACK;
    if (path[0] == '[')
        return LW_MEM_UNKNOWN;   /* [vdso], [vvar], [anon:name] (named anonymous) */
    return LW_MEM_FILE;
}

/* glibc's non-main arenas live in heaps of HEAP_MAX_SIZE (64 MiB on 64-bit
 * targets), each mapping aligned to that size. */
#define LW_GLIBC_HEAP_MAX ((uintptr_t)64 << 20)

static void find_thread(uintptr_t lo, uintptr_t hi, lw_mem_region *r)
{
    uint32_t best = 0;
    for (unsigned s = 0; s < LW_MEM_STACK_SLOTS; s++) {
        uint32_t n = lw_load_acquire(&stacks[s].num_plus1);
        if (!n)
            continue;
        uintptr_t sp = lw_load_relaxed(&stacks[s].sp);
        int tid = lw_load_relaxed(&stacks[s].tid);
        if (lw_load_acquire(&stacks[s].num_plus1) != n || sp < lo || sp >= hi)
            continue;
        if (!r->has_thread || n > best) {
            best = n;
            r->has_thread = true;
            r->thread = n - 1;
            r->tid = tid;
        }
    }
}

bool lw_mem_find(uintptr_t addr, lw_mem_region *r)
{
    char buf[4096];
    size_t have = 0;
    bool found = false, eof = false;
    memset(r, 0, sizeof(*r));
    int e = errno;
    int fd = lw_sys_open_read("/proc/self/maps");
    if (fd < 0) {
        errno = e;
        return false;
    }
    while (!found) {
        if (!eof && have < sizeof(buf)) {
            long got = lw_sys_read(fd, buf + have, sizeof(buf) - have);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                eof = true;
            else
                have += (size_t)got;
        }
        char *nl = memchr(buf, '\n', have);
        size_t len = nl ? (size_t)(nl - buf) : have;
        if (!nl && !eof && have < sizeof(buf))
            continue;   /* read the rest of the line */
        if (len == 0 && eof)
            break;
        uintptr_t lo, hi;
        const char *path;
        size_t plen;
        if (lw_maps_parse_line(buf, len, &lo, &hi, &path, &plen) && addr >= lo && addr < hi) {
            found = true;
            r->lo = lo;
            r->hi = hi;
            r->kind = lw_maps_kind(path, plen);
            if (r->kind == LW_MEM_FILE) {
                size_t n = plen < sizeof(r->path) - 1 ? plen : sizeof(r->path) - 1;
                memcpy(r->path, path, n);
                r->path[n] = 0;
            }
        }
        size_t used = nl ? len + 1 : have;   /* a longer line than buf: skipped */
        memmove(buf, buf + used, have - used);
        have -= used;
        if (!nl && eof)
            break;
    }
    lw_sys_close(fd);
    errno = e;
    if (!found)
        return false;
    if (r->kind == LW_MEM_STACK || r->kind == LW_MEM_ANON)
        find_thread(r->lo, r->hi, r);
    if (r->kind == LW_MEM_ANON && r->has_thread)
        r->kind = LW_MEM_STACK;
    else if (r->kind == LW_MEM_ANON && (r->lo & (LW_GLIBC_HEAP_MAX - 1)) == 0)
        r->kind = LW_MEM_ARENA;
    return true;
}

/* ---- glibc's chunks ---- */

#define LW_CHUNK_HDR     (2 * sizeof(size_t))   /* prev_size, size */
#define LW_CHUNK_MIN     (4 * sizeof(size_t))
#define LW_CHUNK_ALIGN   (2 * sizeof(size_t))
#define LW_CHUNK_FLAGS   ((size_t)7)             /* PREV_INUSE, IS_MMAPPED, NON_MAIN_ARENA */
#define LW_CHUNK_MMAPPED ((size_t)2)
#define LW_HEAP_WALK_MAX ((uintptr_t)64 << 20)  /* bytes of heap walked at most */

static bool peek(uintptr_t at, void *out, size_t n)
{
    struct iovec local = { out, n }, remote = { (void *)at, n };
    int e = errno;
    long r = lw_syscall(SYS_process_vm_readv, (long)getpid(), &local, 1UL, &remote, 1UL, 0UL);
    errno = e;
    return r == (long)n;
}

/* Whether the program's malloc is glibc's (a replacement's heap is not
 * made of glibc's chunks).  lockwatch does not define malloc, so its own
 * reference to it is the process's (no dlsym: it may allocate). */
static bool glibc_malloc(void)
{
    Dl_info di;
    void *m = (void *)&malloc;
    int e = errno;
    int found = dladdr(m, &di);
    errno = e;
    if (!found || !di.dli_fname)
        return false;
    const char *base = strrchr(di.dli_fname, '/');
    base = base ? base + 1 : di.dli_fname;
    return strncmp(base, "libc.so", 7) == 0;
}

uintptr_t lw_mem_heap_object(uintptr_t addr, const lw_mem_region *r)
{
    size_t sz;
    if (r->kind == LW_MEM_ANON) {
        /* A chunk of its own mapping (a large malloc): its header opens the
         * mapping, with IS_MMAPPED and the mapping's size. */
        if (!glibc_malloc() || !peek(r->lo + sizeof(size_t), &sz, sizeof(sz)) ||
            !(sz & LW_CHUNK_MMAPPED) || (sz & ~LW_CHUNK_FLAGS) != r->hi - r->lo ||
            addr < r->lo + LW_CHUNK_HDR)
            return 0;
        return r->lo + LW_CHUNK_HDR;
    }
    if (r->kind != LW_MEM_HEAP || !glibc_malloc())
        return 0;
    /* The main arena's chunks tile the brk heap from its start: walk the
     * sizes to the chunk that holds addr, reading the heap a block at a
     * time.  Another thread may be changing them: every size is checked,
     * and a malformed one ends the walk. */
    char block[4096];
    uintptr_t blo = 0, bhi = 0;   /* the heap bytes in block */
    uintptr_t p = r->lo;
    while (p + LW_CHUNK_HDR <= addr) {
        uintptr_t at = p + sizeof(size_t);
        if (p - r->lo > LW_HEAP_WALK_MAX)
            return 0;
        if (at < blo || at + sizeof(sz) > bhi) {
            size_t n = r->hi - at < sizeof(block) ? r->hi - at : sizeof(block);
            if (n < sizeof(sz) || !peek(at, block, n))
                return 0;
            blo = at;
            bhi = at + n;
        }
        memcpy(&sz, block + (at - blo), sizeof(sz));
        sz &= ~LW_CHUNK_FLAGS;
        if (sz < LW_CHUNK_MIN || sz % LW_CHUNK_ALIGN || sz > r->hi - p)
            return 0;
        if (addr < p + sz)
            return addr >= p + LW_CHUNK_HDR ? p + LW_CHUNK_HDR : 0;
        p += sz;
    }
    return 0;
}
