/*
 * arena.c: mmap-backed bump allocator, record pools and the futex lock that
 * protects them.  Owns: every byte of memory lockwatch uses after start-up.
 * Must never: call malloc, stdio or any pthread function (they may be the
 * program's, interposed, or not yet usable).
 */
#include "arena.h"
#include "lw_atomic.h"
#include "lw_sys.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>

#define LW_CHUNK_SIZE (4u << 20)
/* Once lockwatch holds this much, new chunks are 2 MB-aligned and offered
 * to transparent huge pages: a program with hundreds of thousands of locks
 * then takes one page fault per 2 MB of records instead of one per 4 kB
 * (on a virtual machine a fault costs microseconds).  Below it, small
 * programs keep small pages and a small footprint. */
#define LW_HUGE_AFTER (16u << 20)
#define LW_HUGE_PAGE  (2u << 20)

static long lw_futex(int *uaddr, int op, int val)
{
    return lw_syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

void lw_mutex_lock(lw_mutex *m)
{
    int c = 0;
    if (lw_cas_acquire(&m->state, &c, 1))
        return;
    for (int spin = 0; spin < 100; spin++) {
        c = 0;
        if (lw_load_relaxed(&m->state) == 0 && lw_cas_acquire(&m->state, &c, 1))
            return;
        lw_cpu_relax();
    }
    /* Contended: mark 2 so the unlocker knows to wake us.  The futex call
     * may set errno (EAGAIN), which is the program's. */
    int e = errno;
    while (lw_xchg_acquire(&m->state, 2) != 0)
        lw_futex(&m->state, FUTEX_WAIT_PRIVATE, 2);
    errno = e;
}

void lw_mutex_unlock(lw_mutex *m)
{
    if (lw_xchg_release(&m->state, 0) == 2) {
        int e = errno;
        lw_futex(&m->state, FUTEX_WAKE_PRIVATE, 1);
        errno = e;
    }
}

void lw_mutex_reset(lw_mutex *m)
{
    m->state = 0;
}

/* protects: chunk_cur, chunk_end, total */
static lw_mutex arena_lock = LW_MUTEX_INIT;
static char *chunk_cur, *chunk_end;
static size_t total;

void *lw_arena_map(size_t size)
{
    int e = errno;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    errno = e;
    return p == MAP_FAILED ? NULL : p;
}

/* A chunk aligned to LW_HUGE_PAGE, with MADV_HUGEPAGE asked for (a kernel
 * without it, or with THP off, just keeps small pages). */
static void *map_chunk_huge(size_t size)
{
    char *p = lw_arena_map(size + LW_HUGE_PAGE);
    if (!p)
        return NULL;
    uintptr_t a = ((uintptr_t)p + LW_HUGE_PAGE - 1) & ~(uintptr_t)(LW_HUGE_PAGE - 1);
    size_t head = a - (uintptr_t)p, tail = LW_HUGE_PAGE - head;
    int e = errno;
    if (head)
        lw_sys_munmap(p, head);
    if (tail)
        lw_sys_munmap((char *)a + size, tail);
#ifdef MADV_HUGEPAGE
    madvise((void *)a, size, MADV_HUGEPAGE);
#endif
    errno = e;
    return (void *)a;
}

void *lw_arena_alloc(size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size > LW_CHUNK_SIZE / 4) {
        void *p = lw_arena_map(size);
        if (p) {
            lw_mutex_lock(&arena_lock);
            total += size;
            lw_mutex_unlock(&arena_lock);
        }
        return p;
    }
    lw_mutex_lock(&arena_lock);
    if (!chunk_cur || (size_t)(chunk_end - chunk_cur) < size) {
        char *c = total >= LW_HUGE_AFTER ? map_chunk_huge(LW_CHUNK_SIZE)
                                         : lw_arena_map(LW_CHUNK_SIZE);
        if (!c) {
            lw_mutex_unlock(&arena_lock);
            return NULL;
        }
        chunk_cur = c;
        chunk_end = c + LW_CHUNK_SIZE;
    }
    void *p = chunk_cur;
    chunk_cur += size;
    total += size;
    lw_mutex_unlock(&arena_lock);
    return p;
}

size_t lw_arena_bytes(void)
{
    return lw_load_relaxed(&total);
}

void *lw_pool_get(lw_pool *p)
{
    lw_mutex_lock(&p->lock);
    void *r = p->head;
    if (r) {
        p->head = *(void **)r;
        p->live++;
        lw_mutex_unlock(&p->lock);
        /* Records are type-stable: a lock-free reader may still be looking
         * at this one, so the caller re-initialises fields in an order that
         * reader tolerates rather than wiping it with memset. */
        *(void **)r = NULL;
        return r;
    }
    p->live++;
    lw_mutex_unlock(&p->lock);
    r = lw_arena_alloc(p->size);
    if (!r) {
        lw_mutex_lock(&p->lock);
        p->live--;
        lw_mutex_unlock(&p->lock);
    }
    return r;
}

void lw_pool_put(lw_pool *p, void *rec)
{
    lw_mutex_lock(&p->lock);
    *(void **)rec = p->head;
    p->head = rec;
    p->live--;
    lw_mutex_unlock(&p->lock);
}

void lw_arena_atfork_prepare(void)
{
    lw_mutex_lock(&arena_lock);
}

void lw_arena_atfork_parent(void)
{
    lw_mutex_unlock(&arena_lock);
}

unsigned lw_fork_gen;

void lw_arena_atfork_child(void)
{
    lw_mutex_reset(&arena_lock);
    lw_fork_gen++;   /* every lw_gen_spin lock held now belongs to a thread gone */
}
