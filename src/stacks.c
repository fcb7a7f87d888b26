/*
 * stacks.c: libunwind capture, the stack depot, symbolisation.
 * Owns: the depot (uthash under depot_lock, memory from the arena).
 * Must never: run on a fast path; hold depot_lock while unwinding or
 * symbolising (libunwind and dladdr take their own locks).
 */
#include "stacks.h"
#include "thread.h"
#include "arena.h"
#include "lw_atomic.h"
#include "lw_sys.h"
#include "options.h"
#include "log.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <elf.h>
#include <time.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "fmt.h"

static void lw_depot_fatal(void);
#define LW_UTHASH_OOM(elt) lw_depot_fatal()
#include "lw_uthash.h"

/* ---- libunwind, resolved by name from an RTLD_LOCAL handle ---- */
#define LW_STR_(x) #x
#define LW_STR(x) LW_STR_(x)

static struct {
    int (*getcontext)(unw_context_t *);
    int (*init_local)(unw_cursor_t *, unw_context_t *);
    int (*step)(unw_cursor_t *);
    int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
    /* Return addresses only, with libunwind's cached frame descriptions:
     * several times faster than stepping a cursor (thread creation). */
    int (*backtrace)(void **, int);
    bool ok;
} uw;

static uintptr_t hide_lo, hide_hi;

/* dladdr's module fields for addr (dli_fname, dli_fbase; no symbol).
 * glibc's _dl_find_object answers from a sorted table without locks;
 * dladdr scans the module's dynamic symbols for the nearest one, which
 * costs a program with 75,000 of them (node) milliseconds per frame. */
static int find_module(const void *addr, Dl_info *di)
{
#ifdef HAVE__DL_FIND_OBJECT
    struct dl_find_object fo;
    if (_dl_find_object((void *)addr, &fo) == 0 && fo.dlfo_link_map) {
        di->dli_fname = fo.dlfo_link_map->l_name;
        di->dli_fbase = fo.dlfo_map_start;
        di->dli_sname = NULL;
        di->dli_saddr = NULL;
        return 1;
    }
    return 0;
#else
    return dladdr(addr, di);
#endif
}


static bool load_unwind(void);
static char exe_path[512];
static uintptr_t exe_base;   /* its load address (dli_fbase); 0 unknown */

static int init_state;   /* 0 not tried, 1 in progress, 2 done */

bool lw_stacks_init(void)
{
    int s = 0;
    if (!lw_cas_acq_rel(&init_state, &s, 1)) {
        while (lw_load_acquire(&init_state) == 1)
            lw_cpu_relax();
        return uw.ok;
    }
    int e = errno;
    bool ok = load_unwind();
    errno = e;
    lw_store_release(&init_state, 2);
    if (!ok) {
        static int once;
        lw_warn_once(&once, "lockwatch: warning: cannot load %s; reports will have no backtraces\n",
                     LW_UNWIND_SONAME);
    }
    return ok;
}

/* The executable's path, for frames of the main program (dladdr names it
 * "" or argv[0]).  Once, by whoever needs it first: the loading of
 * libunwind, or a symbolisation before any backtrace (a unit test). */
static void find_exe_path(void)
{
    static int state;   /* 0 not yet, 1 being read, 2 done */
    int s = 0;
    if (lw_load_acquire(&state) == 2)
        return;
    if (!lw_cas_acq_rel(&state, &s, 1)) {
        while (lw_load_acquire(&state) == 1)
            lw_cpu_relax();
        return;
    }
    int e = errno;
    ssize_t r = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
    exe_path[r > 0 ? r : 0] = 0;
    /* The executable's load address, as dladdr gives it for its frames:
     * its program headers lie in its first mapping. */
    Dl_info di;
    uintptr_t phdr = (uintptr_t)getauxval(AT_PHDR);
    if (phdr && dladdr((void *)phdr, &di))
        exe_base = (uintptr_t)di.dli_fbase;
    errno = e;
    lw_store_release(&state, 2);
}

/* Libraries loaded by a relative path (dlopen("./libb.so")): dladdr gives
 * that path, relative to a directory that may have changed since; the
 * kernel's mapping gives the file.  A few remembered, by load address. */
#define LW_REL_MODULES 16
static struct {
    uintptr_t base;
    char path[256];
} rel_mods[LW_REL_MODULES];
static unsigned n_rel_mods;
/* protects: rel_mods, n_rel_mods.  A leaf lock. */
static lw_mutex rel_lock = LW_MUTEX_INIT;

/* The path of the file mapped at base in /proc/self/maps, into out. */
static bool mapped_file_at(uintptr_t base, char *out, size_t cap)
{
    int fd = lw_sys_open_read("/proc/self/maps");
    if (fd < 0)
        return false;
    char buf[4096], line[600];
    size_t ll = 0;
    bool found = false;
    long r;
    while (!found && (r = lw_sys_read(fd, buf, sizeof(buf))) > 0) {
        for (long i = 0; i < r && !found; i++) {
            if (buf[i] != '\n') {
                if (ll + 1 < sizeof(line))
                    line[ll++] = buf[i];
                continue;
            }
            line[ll] = 0;
            ll = 0;
            /* "start-end perms offset dev inode   path" */
            uintptr_t start = 0;
            const char *p = line;
            for (; *p && *p != '-'; p++) {
                unsigned d = *p >= 'a' ? (unsigned)(*p - 'a' + 10) : (unsigned)(*p - '0');
                start = start << 4 | (d & 15);
            }
            if (start != base)
                continue;
            const char *path = strchr(line, '/');
            if (path && strlen(path) < cap) {
                strcpy(out, path);
                found = true;
            }
        }
    }
    lw_sys_close(fd);
    return found;
}

/* The file of a frame's module: the executable's path for the program
 * (dladdr says "" or argv[0]), the file a relative path was loaded from,
 * else dladdr's absolute name. */
static const char *module_path(const Dl_info *di)
{
    find_exe_path();
    const char *p = di->dli_fname;
    if ((exe_base && (uintptr_t)di->dli_fbase == exe_base) || !p || !p[0])
        return exe_path[0] ? exe_path : (p ? p : "");
    if (p[0] == '/')
        return p;
    uintptr_t base = (uintptr_t)di->dli_fbase;
    const char *r = p;
    lw_mutex_lock(&rel_lock);
    unsigned i;
    for (i = 0; i < n_rel_mods && rel_mods[i].base != base; i++)
        ;
    if (i < n_rel_mods) {
        r = rel_mods[i].path;
    } else if (n_rel_mods < LW_REL_MODULES &&
               mapped_file_at(base, rel_mods[n_rel_mods].path, sizeof(rel_mods[0].path))) {
        rel_mods[n_rel_mods].base = base;
        r = rel_mods[n_rel_mods++].path;
    }
    lw_mutex_unlock(&rel_lock);
    return r;
}

/* libunwind opens a pipe when it first unwinds (to check addresses by
 * writing from them): at the lowest free descriptors, 3 and 4 in most
 * programs, which then find their first open() returning 5.  So it first
 * unwinds here, at start-up, with every free descriptor below
 * LW_PRIVATE_FD_MIN held by a placeholder: its pipe lands up there with
 * lockwatch's own. */
static void init_unwind_high(void)
{
    unsigned char held[(LW_PRIVATE_FD_MIN + 7) / 8] = { 0 };
    int null = lw_sys_open_read("/dev/null");
    if (null >= 0 && null < LW_PRIVATE_FD_MIN) {
        for (int fd = null + 1; fd < LW_PRIVATE_FD_MIN; fd++) {
            if (lw_sys_fcntl(fd, F_GETFD, 0) >= 0)
                continue;   /* the program's */
            if (lw_syscall(SYS_dup2, null, fd) != fd)
                break;      /* out of descriptors (RLIMIT_NOFILE): as far as it goes */
            held[fd / 8] |= (unsigned char)(1u << (fd % 8));
        }
    }
    unw_context_t ctx;
    unw_cursor_t cur;
    if (uw.getcontext(&ctx) == 0)
        uw.init_local(&cur, &ctx);
    for (int fd = 0; fd < LW_PRIVATE_FD_MIN; fd++)
        if (held[fd / 8] & (1u << (fd % 8)))
            lw_sys_close(fd);
    if (null >= 0)
        lw_sys_close(null);
}

static bool load_unwind(void)
{
    find_exe_path();
    void *h = dlopen(LW_UNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        h = dlopen("libunwind.so", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return false;
    uw.getcontext = (int (*)(unw_context_t *))dlsym(h, LW_STR(unw_tdep_getcontext));
    uw.init_local = (int (*)(unw_cursor_t *, unw_context_t *))dlsym(h, LW_STR(unw_init_local));
    uw.step = (int (*)(unw_cursor_t *))dlsym(h, LW_STR(unw_step));
    uw.get_reg = (int (*)(unw_cursor_t *, unw_regnum_t, unw_word_t *))dlsym(h, LW_STR(unw_get_reg));
    uw.backtrace = (int (*)(void **, int))dlsym(h, "unw_backtrace");
    uw.ok = uw.getcontext && uw.init_local && uw.step && uw.get_reg;
    if (uw.ok)
        init_unwind_high();
    return uw.ok;
}

static int find_range(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uintptr_t want = *(uintptr_t *)arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
        if (s < lo)
            lo = s;
        if (e > hi)
            hi = e;
    }
    if (want >= lo && want < hi) {
        hide_lo = lo;
        hide_hi = hi;
        return 1;
    }
    return 0;
}

void lw_stacks_hide_module_of(const void *addr_in_self)
{
    uintptr_t a = (uintptr_t)addr_in_self;
    dl_iterate_phdr(find_range, &a);
}

unsigned lw_stack_depth(void)
{
    unsigned d = (unsigned)lw_opt.stack_depth;
    return d > LW_MAX_FRAMES ? LW_MAX_FRAMES : d;
}

/* ---- the unwind gate ----
 * libunwind keeps locks of its own (its caches) and calls dl_iterate_phdr,
 * whose loader lock glibc does not reset in a fork child; neither has fork
 * handlers.  A child forked while another thread is inside libunwind can
 * wait for ever the first time it unwinds.  So every call into libunwind
 * passes this gate, which the fork prepare handler closes first of all
 * (arena.h lock order), waiting until nobody is inside.  An unwinder holds
 * no lock of ours and takes none inside, so the wait ends; it is bounded all
 * the same (a program whose dl_iterate_phdr callback takes a mutex for the
 * first time could make it wait for a thread that waits for the gate).
 * unwind_gate: held by the forking thread from prepare to parent or child;
 * a thread that finds the gate closed waits on it. */
#define LW_GATE_WAIT_NS 1000000000ull
static lw_mutex unwind_gate = LW_MUTEX_INIT;
static int gate_closed;   /* seq_cst: see gate_enter */
static int unwinders;     /* seq_cst: threads inside libunwind */

static void gate_enter(void)
{
    for (;;) {
        /* Count, then look: the closer stores, then counts (Dekker); one
         * of the two sees the other. */
        lw_fetch_add_seq_cst(&unwinders, 1);
        if (LW_LIKELY(!lw_load_seq_cst(&gate_closed)))
            return;
        lw_fetch_add_seq_cst(&unwinders, -1);
        lw_mutex_lock(&unwind_gate);   /* until the fork is done */
        lw_mutex_unlock(&unwind_gate);
    }
}

static void gate_leave(void)
{
    lw_fetch_add_seq_cst(&unwinders, -1);
}

static uint64_t gate_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lw_unwind_gate_close(void)
{
    lw_mutex_lock(&unwind_gate);
    lw_store_seq_cst(&gate_closed, 1);
    uint64_t start = 0;
    while (lw_load_seq_cst(&unwinders) != 0) {
        uint64_t now = gate_now_ns();
        if (start == 0) {
            start = now;
        } else if (now - start > LW_GATE_WAIT_NS) {
            static int once;
            lw_warn_once(&once, "lockwatch: warning: fork() while a thread was inside %s "
                         "for more than a second; the child may hang if it unwinds\n",
                         LW_UNWIND_SONAME);
            break;
        }
        sched_yield();
    }
}

void lw_unwind_gate_open(void)
{
    lw_store_seq_cst(&gate_closed, 0);
    lw_mutex_unlock(&unwind_gate);
}

void lw_unwind_gate_reset(void)
{
    /* The child's one thread closed it; nobody else is inside. */
    gate_closed = 0;
    unwinders = 0;
    lw_mutex_reset(&unwind_gate);
}

static unsigned unwind_here(uintptr_t *pcs, uintptr_t *sps, unsigned max, bool hide)
{
    unw_context_t ctx;
    unw_cursor_t cur;
    unsigned n = 0;
    if (LW_UNLIKELY(lw_load_acquire(&init_state) != 2))
        lw_stacks_init();
    if (!uw.ok || max == 0)
        return 0;
    int e = errno;   /* libunwind may probe memory with system calls */
    /* ... and those may be cancellation points (libunwind validates
     * addresses with read and write on a pipe): a cancellation pending for
     * this thread must not end it in here, with lockwatch's guard set and
     * the unwind gate entered.  It acts at the program's next cancellation
     * point instead. */
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    gate_enter();
    if (uw.getcontext(&ctx) != 0 || uw.init_local(&cur, &ctx) != 0) {
        gate_leave();
        pthread_setcancelstate(cs, NULL);
        errno = e;
        return 0;
    }
    /* Bounded: a corrupt stack must not loop us forever. */
    for (unsigned guard = 0; guard < 4 * LW_MAX_FRAMES && n < max; guard++) {
        unw_word_t ip = 0, sp = 0;
        if (uw.get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0)
            break;
        uw.get_reg(&cur, UNW_REG_SP, &sp);
        if (!hide || !(ip >= hide_lo && ip < hide_hi)) {
            pcs[n] = ip;
            if (sps)
                sps[n] = sp;
            n++;
        }
        if (uw.step(&cur) <= 0)
            break;
    }
    gate_leave();
    pthread_setcancelstate(cs, NULL);
    errno = e;
    return n;
}

struct unwind_args {
    uintptr_t *pcs, *sps;
    unsigned max, n;
    bool hide;
};

static void unwind_side(void *p)
{
    struct unwind_args *a = p;
    a->n = unwind_here(a->pcs, a->sps, a->max, a->hide);
}

unsigned lw_unwind(uintptr_t *pcs, uintptr_t *sps, unsigned max)
{
    /* libunwind's cursor, context and steps take 2-4 KB of stack. */
    struct unwind_args a = { pcs, sps, max, 0, true };
    lw_side_call(unwind_side, &a);
    return a.n;
}

unsigned lw_unwind_raw(uintptr_t *pcs, uintptr_t *sps, unsigned max)
{
    struct unwind_args a = { pcs, sps, max, 0, false };
    lw_side_call(unwind_side, &a);
    return a.n;
}

bool lw_stack_hidden(uintptr_t pc)
{
    return pc >= hide_lo && pc < hide_hi;
}

/* ---- depot ---- */

typedef struct depot_ent {
    UT_hash_handle hh;
    uint32_t id;
    lw_stack st;      /* flexible: must be last */
} depot_ent;

/* protects: depot, by_id, nids */
static lw_mutex depot_lock = LW_MUTEX_INIT;
static depot_ent *depot;
static depot_ent **by_id;
static uint32_t nids, cap_ids;
static int depot_oom;

static void lw_depot_fatal(void)
{
    depot_oom = 1;
}

uint32_t lw_depot_put(const uintptr_t *pcs, unsigned n)
{
    depot_ent *e = NULL;
    if (n == 0)
        return 0;
    lw_mutex_lock(&depot_lock);
    HASH_FIND(hh, depot, pcs, n * sizeof(uintptr_t), e);
    if (e) {
        lw_mutex_unlock(&depot_lock);
        return e->id;
    }
    if (nids + 1 >= cap_ids) {
        uint32_t cap = cap_ids ? cap_ids * 2 : 4096;
        depot_ent **nv = lw_arena_alloc(cap * sizeof(*nv));
        if (!nv) {
            lw_mutex_unlock(&depot_lock);
            return 0;
        }
        if (nids)
            memcpy(nv, by_id, (nids + 1) * sizeof(*nv));
        /* release: lw_depot_get reads by_id without the lock */
        lw_store_release(&by_id, nv);
        cap_ids = cap;
    }
    e = lw_arena_alloc(sizeof(*e) + n * sizeof(uintptr_t));
    if (!e) {
        lw_mutex_unlock(&depot_lock);
        return 0;
    }
    e->st.n = n;
    memcpy(e->st.pc, pcs, n * sizeof(uintptr_t));
    e->id = nids + 1;
    depot_oom = 0;
    HASH_ADD_KEYPTR(hh, depot, e->st.pc, n * sizeof(uintptr_t), e);
    if (depot_oom) {
        lw_mutex_unlock(&depot_lock);
        return 0;
    }
    by_id[e->id] = e;
    lw_store_release(&nids, e->id);
    lw_mutex_unlock(&depot_lock);
    return e->id;
}

const lw_stack *lw_depot_get(uint32_t id)
{
    if (id == 0 || id > lw_load_acquire(&nids))
        return NULL;
    depot_ent **v = lw_load_acquire(&by_id);
    return &v[id]->st;
}

/* The caller's return addresses by unw_backtrace: its first frames are
 * libunwind's and lockwatch's own, dropped up to the first of ours and then
 * every one of ours (as lw_unwind does).  0 when it cannot tell. */
static unsigned unwind_fast(uintptr_t *pcs, unsigned max)
{
    void *raw[LW_MAX_FRAMES + 16];
    if (LW_UNLIKELY(lw_load_acquire(&init_state) != 2))
        lw_stacks_init();
    if (!uw.ok || !uw.backtrace)
        return 0;
    int e = errno;
    gate_enter();
    int got = uw.backtrace(raw, (int)LW_ARRAY_SIZE(raw));
    gate_leave();
    errno = e;
    unsigned i = 0, n = 0;
    while (i < (unsigned)(got > 0 ? got : 0) && i < 4 &&
           !((uintptr_t)raw[i] >= hide_lo && (uintptr_t)raw[i] < hide_hi))
        i++;
    if (i == 4 || i >= (unsigned)(got > 0 ? got : 0))
        return 0;
    for (; i < (unsigned)got && n < max; i++) {
        uintptr_t ip = (uintptr_t)raw[i];
        if (ip == 0)
            break;
        if (!(ip >= hide_lo && ip < hide_hi))
            pcs[n++] = ip;
    }
    return n;
}

unsigned lw_unwind_pcs(uintptr_t *pcs, unsigned max)
{
    int cs;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    unsigned n = unwind_fast(pcs, max);
    pthread_setcancelstate(cs, NULL);
    return n;
}

uint32_t lw_stack_capture(void)
{
    /* Not unw_backtrace: its per-thread cache costs the program a
     * thread-specific key (libunwind creates one for it), and every thread
     * pays the cache's first fill.  The step loop's caches are global. */
    uintptr_t pcs[LW_MAX_FRAMES];
    unsigned n = lw_unwind(pcs, NULL, lw_stack_depth());
    return lw_depot_put(pcs, n);
}

int lw_held_caller_frame(uintptr_t pc, uintptr_t cfa, const uintptr_t *pcs,
                         const uintptr_t *sps, unsigned n)
{
    /* The frame that called the lock function had stack pointer `cfa` at
     * the call.  If the current stack still passes through a frame with
     * that stack pointer, in the same function (close pc), it is the same
     * activation and its callers are the acquisition's callers too. */
    for (unsigned i = 0; i < n; i++) {
        if (sps[i] != cfa)
            continue;
        /* Same stack pointer and a pc in the same function: the same frame,
         * unless it is calling from the very same call site again.  That is
         * either a loop in the same activation or a new activation of a
         * wrapper (std::mutex::lock, a lock helper) that returned and was
         * called again from a different line of its caller: the callers'
         * pcs would then be wrong, so in that case it is not the frame. */
        uintptr_t d = pcs[i] > pc ? pcs[i] - pc : pc - pcs[i];
        return d < 0x10000 && pcs[i] != pc ? (int)i : -1;
    }
    return -1;
}

uint32_t lw_stack_of_held(uintptr_t pc, uintptr_t cfa, const uintptr_t *pcs,
                          const uintptr_t *sps, unsigned n)
{
    uintptr_t out[LW_MAX_FRAMES];
    unsigned depth = lw_stack_depth(), k = 0;
    if (!pc)
        return 0;
    out[k++] = pc;
    int i = sps ? lw_held_caller_frame(pc, cfa, pcs, sps, n) : -1;
    if (i >= 0)
        for (unsigned j = (unsigned)i + 1; j < n && k < depth; j++)
            out[k++] = pcs[j];
    return lw_depot_put(out, k);
}

/* A return address in the same function as pc (as lw_held_caller_frame
 * judges it: near, not equal). */
static bool near_pc(uintptr_t a, uintptr_t pc)
{
    uintptr_t d = a > pc ? a - pc : pc - a;
    return a != pc && d < 0x10000;
}

unsigned lw_held_window(uintptr_t cfa, uintptr_t *out, unsigned max)
{
    if (!cfa || max == 0)
        return 0;
    uintptr_t want = (uintptr_t)max * sizeof(uintptr_t), n = want;
    uintptr_t page_end = (cfa | (LW_PAGE - 1)) + 1;
    if (cfa + want > page_end) {
        /* The frames above may end in this page (a coroutine's stack at
         * the top of its mapping): read on only if the next page exists. */
        unsigned char v;
        int e = errno;
        if (lw_syscall(SYS_mincore, (void *)page_end, (size_t)1, &v) != 0)
            n = page_end - cfa;
        errno = e;
    }
    n /= sizeof(uintptr_t);
    for (unsigned i = 0; i < n; i++)
        out[i] = ((const volatile uintptr_t *)cfa)[i];
    return (unsigned)n;
}

uint32_t lw_stack_of_held_window(uintptr_t pc, uintptr_t cfa, const uintptr_t *win,
                                 unsigned nwin, const uintptr_t *pcs, const uintptr_t *sps,
                                 unsigned n)
{
    uintptr_t out[LW_MAX_FRAMES];
    unsigned depth = lw_stack_depth(), k = 0;
    if (!pc)
        return 0;
    if (!pcs || !sps || lw_held_caller_frame(pc, cfa, pcs, sps, n) >= 0)
        return lw_stack_of_held(pc, cfa, pcs, sps, n);
    /* Frame j's return address (pcs[j]) sits just below its stack pointer
     * sps[j]; at the acquisition, the same slot held what the window
     * saved.  The frames whose slots the window covers, innermost first:
     * lo..hi. */
    int lo = -1, hi = -1;
    for (unsigned j = 0; j < n; j++) {
        if (sps[j] <= cfa || sps[j] - sizeof(uintptr_t) < cfa)
            continue;
        uintptr_t w = (sps[j] - sizeof(uintptr_t) - cfa) / sizeof(uintptr_t);
        if (w >= nwin)
            break;
        if (lo < 0)
            lo = (int)j;
        hi = (int)j;
    }
    if (lo < 0)
        return lw_stack_of_held(pc, cfa, pcs, sps, n);
#define SAVED(j) win[(sps[(j)] - sizeof(uintptr_t) - cfa) / sizeof(uintptr_t)]
    /* From the outermost covered frame inwards, the frames the two stacks
     * share have the same return address; the first that differs, in the
     * same function, is the frame that called the helper then, at the
     * line of that call (F).  A slot that differs otherwise was not a
     * return address then: the stacks do not share that frame. */
    int f = -1;
    for (int j = hi; j >= lo; j--) {
        uintptr_t v = SAVED(j);
        if (v == pcs[j])
            continue;
        if (near_pc(v, pcs[j]))
            f = j;
        break;
    }
    if (f < 0)   /* nothing told apart within the window */
        return lw_stack_of_held(pc, cfa, pcs, sps, n);
    out[k++] = pc;
    /* The helper frames between the lock call and F, when they were the
     * same then (the same helper chain, at the same depth). */
    bool same = true;
    for (int j = lo; j < f && same; j++)
        same = SAVED(j) == pcs[j];
    if (same)
        for (int j = lo; j < f && k < depth; j++)
            out[k++] = pcs[j];
    if (k < depth)
        out[k++] = SAVED(f);
#undef SAVED
    for (unsigned j = (unsigned)f + 1; j < n && k < depth; j++)
        out[k++] = pcs[j];
    return lw_depot_put(out, k);
}

/* ---- symbolisation ----
 * Names come from the module's own symbol tables (.symtab when the file has
 * one, else .dynsym), read from the file with mmap and kept mapped.  A name
 * is shown only when the pc lies inside the symbol (value <= pc < value +
 * size): the nearest preceding export of a stripped library would name the
 * wrong function, so such frames show module+offset only. */

typedef struct {
    char path[256];
    bool tried;
    bool dyn;                   /* ET_DYN: symbol values are relative */
    const ElfW(Sym) *syms[2];   /* .symtab, .dynsym */
    size_t nsyms[2];
    const char *strs[2];
    size_t strsz[2];
} modsyms;

#define LW_MAX_MODULES 64
/* protects: mods, nmods.  A leaf lock. */
static lw_mutex sym_lock = LW_MUTEX_INIT;
static modsyms mods[LW_MAX_MODULES];
static unsigned nmods;

static void load_symbols_from_file(modsyms *m);

static void load_symbols(modsyms *m)
{
    int e = errno;
    load_symbols_from_file(m);
    errno = e;
}

static void load_symbols_from_file(modsyms *m)
{
    struct stat st;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(ElfW(Ehdr))) {
        close(fd);
        return;
    }
    size_t size = (size_t)st.st_size;
    const char *img = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED)
        return;
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)img;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > size) {
        lw_sys_munmap((void *)img, size);
        return;
    }
    m->dyn = eh->e_type == ET_DYN;
    const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(img + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        int which = sh[i].sh_type == SHT_SYMTAB ? 0 : sh[i].sh_type == SHT_DYNSYM ? 1 : -1;
        if (which < 0 || sh[i].sh_link >= eh->e_shnum)
            continue;
        const ElfW(Shdr) *str = &sh[sh[i].sh_link];
        if (sh[i].sh_offset + sh[i].sh_size > size || str->sh_offset + str->sh_size > size)
            continue;
        m->syms[which] = (const ElfW(Sym) *)(img + sh[i].sh_offset);
        m->nsyms[which] = sh[i].sh_size / sizeof(ElfW(Sym));
        m->strs[which] = img + str->sh_offset;
        m->strsz[which] = str->sh_size;
    }
}

/* Under sym_lock. */
static modsyms *module_symbols(const char *path)
{
    for (unsigned i = 0; i < nmods; i++)
        if (strcmp(mods[i].path, path) == 0)
            return &mods[i];
    if (nmods == LW_MAX_MODULES || strlen(path) >= sizeof(mods[0].path))
        return NULL;
    modsyms *m = &mods[nmods++];
    strcpy(m->path, path);
    m->tried = true;
    load_symbols(m);
    return m;
}

/* Under sym_lock.  The ELF symbol of type `type` (STT_FUNC, STT_OBJECT)
 * containing module-relative key, or NULL; *start receives its value. */
static const char *elf_symbol_of(modsyms *m, uintptr_t key, unsigned type, uintptr_t *start)
{
    for (int w = 0; w < 2; w++) {
        for (size_t i = 0; i < m->nsyms[w]; i++) {
            const ElfW(Sym) *sy = &m->syms[w][i];
            if (ELF64_ST_TYPE(sy->st_info) != type || sy->st_shndx == SHN_UNDEF ||
                sy->st_name >= m->strsz[w])
                continue;
            if (key >= sy->st_value && key - sy->st_value < sy->st_size) {
                const char *nm = m->strs[w] + sy->st_name;
                /* Only a terminated name: never read past the table. */
                if (strnlen(nm, m->strsz[w] - sy->st_name) == m->strsz[w] - sy->st_name)
                    return NULL;
                *start = sy->st_value;
                return nm;
            }
        }
    }
    return NULL;
}

static const char *elf_symbol(modsyms *m, uintptr_t key)
{
    uintptr_t start;
    return elf_symbol_of(m, key, STT_FUNC, &start);
}

/* ---- the symbolizer process ----
 * lockwatch-symbolizer (src/symbolizer.c) reads DWARF with libdw and
 * demangles with libiberty, both of which allocate: it runs as a separate
 * process so that the program's malloc is never called from a lock wrapper.
 * Started at the first symbolisation (a report), through an intermediate
 * child (clone(CLONE_VM | CLONE_VFORK), as posix_spawn does) that forks it
 * and exits, so that it is not the program's child: the program's wait()
 * and waitpid(-1) never see it; raw system calls only, since lockwatch
 * exports wrappers of dup2, read, write, poll.  Talks over one socket
 * (fd >= LW_PRIVATE_FD_MIN, close-on-exec), each read bounded by
 * SYM_TIMEOUT_MS: a helper that is missing, dies or stalls is killed and
 * symbolisation falls back to the ELF tables for the rest of the process.
 * A fork child closes its copy and starts its own helper if it reports.
 * All of it under sym_lock. */
#define SYM_TIMEOUT_MS  5000
#define SYM_REPLY_MAX   (64u << 10)
#define SYM_CACHE_SLOTS 4096      /* pcs remembered; more are asked again */
#define SYM_NAME        "lockwatch-symbolizer"

static int sym_fd = -1;
static pid_t sym_pid;
static bool sym_failed;          /* no helper for the rest of this process */
static char sym_reply[SYM_REPLY_MAX];
static char sym_child_stack[16384] __attribute__((aligned(16)));

typedef struct {
    const char *path;
    int fd;
    int devnull;
    long pid;           /* the helper's, set by the intermediate child */
} spawn_arg;

/* The intermediate child: shares the program's memory (CLONE_VM), so
 * system calls only.  It forks the helper and exits at once: the helper is
 * then nobody's child (reparented to init or a subreaper), so a program's
 * waitpid(-1, ...) or wait() neither reaps it nor blocks waiting for it. */
static int sym_child(void *p)
{
    spawn_arg *a = p;
    long pid = lw_syscall(SYS_clone, 0 /* no exit signal, a copy of the memory */, NULL, NULL,
                       NULL, NULL);
    if (pid == 0) {
        /* A session of its own: a signal to the program's process group
         * (a service manager's stop, ^C at a terminal) must not end the
         * helper before the program is done reporting; it ends at the end
         * of its input, when the program is gone. */
        lw_syscall(SYS_setsid);
        lw_syscall(SYS_dup2, a->fd, 0);
        lw_syscall(SYS_dup2, a->fd, 1);
        if (a->devnull >= 0)
            lw_syscall(SYS_dup2, a->devnull, 2);
        /* None of the program's descriptors: a pipe's write end kept open
         * here would keep its reader from ever seeing end-of-file. */
        if (lw_syscall(SYS_close_range, 3, ~0u, 0) != 0)
            for (int fd = 3; fd < 65536; fd++)
                lw_syscall(SYS_close, fd);
        char *argv[] = { (char *)SYM_NAME, NULL };
        char *envp[] = { NULL };   /* no LD_PRELOAD, no debuginfod downloads */
        lw_syscall(SYS_execve, a->path, argv, envp);
        lw_syscall(SYS_exit, 127);
    }
    a->pid = pid;
    lw_syscall(SYS_exit, 0);
    return 0;
}

static bool executable(const char *path)
{
    return lw_syscall(SYS_faccessat, -100 /* AT_FDCWD */, path, X_OK, 0) == 0;
}

/* The helper: LOCKWATCH_SYMBOLIZER, else beside this library (the
 * installed pair share a directory, the build tree has it one level up from
 * src/.libs), else LW_SYMBOLIZER_PATH. */
static bool find_symbolizer(char *out, size_t cap)
{
    if (lw_opt.symbolizer[0]) {
        if (strcmp(lw_opt.symbolizer, "none") == 0)
            return false;
        if (strlen(lw_opt.symbolizer) >= cap)
            return false;
        strcpy(out, lw_opt.symbolizer);
        return executable(out);
    }
    Dl_info di;
    if (dladdr((void *)find_symbolizer, &di) && di.dli_fname && di.dli_fname[0] == '/') {
        const char *slash = strrchr(di.dli_fname, '/');
        size_t dl = (size_t)(slash - di.dli_fname) + 1;
        static const char *const rel[] = { SYM_NAME, "../" SYM_NAME };
        for (unsigned i = 0; i < 2; i++) {
            if (dl + strlen(rel[i]) + 1 > cap)
                continue;
            memcpy(out, di.dli_fname, dl);
            strcpy(out + dl, rel[i]);
            if (executable(out))
                return true;
        }
    }
#ifdef LW_SYMBOLIZER_PATH
    if (strlen(LW_SYMBOLIZER_PATH) < cap) {
        strcpy(out, LW_SYMBOLIZER_PATH);
        return executable(out);
    }
#endif
    return false;
}

static void sym_stop(bool failed)
{
    if (sym_fd >= 0) {
        lw_sys_close(sym_fd);
        sym_fd = -1;
    }
    if (sym_pid > 0) {
        /* Not our child (sym_child): init reaps it. */
        lw_syscall(SYS_kill, sym_pid, SIGKILL);
        sym_pid = 0;
    }
    if (failed) {
        static int once;
        sym_failed = true;
        lw_warn_once(&once, "lockwatch: warning: %s stopped answering; reports show "
                     "module+offset and ELF symbol names from now on\n", SYM_NAME);
    }
}

/* Set while the exit graph is written (lw_symbolizer_may_start): a run
 * that reported nothing never starts the helper. */
static bool sym_no_start;

void lw_symbolizer_may_start(bool yes)
{
    lw_mutex_lock(&sym_lock);
    sym_no_start = !yes;
    lw_mutex_unlock(&sym_lock);
}

static bool sym_start(void)
{
    if (sym_failed)
        return false;
    if (sym_fd >= 0)
        return true;
    if (sym_no_start)
        return false;   /* not a failure: the next report may start it */
    char path[1024];
    if (!find_symbolizer(path, sizeof(path))) {
        static int once;
        sym_failed = true;
        char shown[640];
        if (strcmp(lw_opt.symbolizer, "none") != 0)
            lw_warn_once(&once, "lockwatch: warning: %s not found (LOCKWATCH_SYMBOLIZER=%s); "
                         "reports show no source lines or demangled names\n", SYM_NAME,
                         lw_opt.symbolizer[0]
                             ? lw_value_str(lw_opt.symbolizer, shown, sizeof(shown), 128)
                             : "unset");
        return false;
    }
    int sv[2];
    if (lw_syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        sym_failed = true;
        return false;
    }
    int hi = lw_sys_fcntl(sv[0], F_DUPFD_CLOEXEC, LW_PRIVATE_FD_MIN);
    lw_sys_close(sv[0]);
    if (hi < 0) {
        lw_sys_close(sv[1]);
        sym_failed = true;
        return false;
    }
    spawn_arg a = { path, sv[1], (int)lw_syscall(SYS_openat, -100, "/dev/null",
                                              O_WRONLY | O_CLOEXEC), -1 };
    /* Every signal blocked across the clone: no handler of the program may
     * run in the child, which shares the program's memory.  The helper
     * unblocks them. */
    sigset_t all, old;
    sigfillset(&all);
    lw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, _NSIG / 8);
    long mid = clone(sym_child, sym_child_stack + sizeof(sym_child_stack),
                     CLONE_VM | CLONE_VFORK, &a);
    if (mid > 0)   /* exited already (CLONE_VFORK): reap it, it is ours */
        lw_syscall(SYS_wait4, mid, NULL, __WALL, NULL);
    lw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, _NSIG / 8);
    long pid = mid > 0 ? a.pid : -1;
    lw_sys_close(sv[1]);
    if (a.devnull >= 0)
        lw_sys_close(a.devnull);
    if (pid <= 0) {
        lw_sys_close(hi);
        sym_failed = true;
        return false;
    }
    sym_fd = hi;
    sym_pid = (pid_t)pid;
    return true;
}

static bool sym_send(const char *p, size_t n)
{
    while (n) {
        long w = lw_syscall(SYS_sendto, sym_fd, p, n, MSG_NOSIGNAL, NULL, 0);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one answer (through "END\n") into sym_reply; its length, or -1. */
static long sym_receive(void)
{
    size_t len = 0;
    uint64_t deadline = gate_now_ns() + (uint64_t)SYM_TIMEOUT_MS * 1000000u;
    for (;;) {
        if (len >= 4 && memcmp(sym_reply + len - 4, "END\n", 4) == 0 &&
            (len == 4 || sym_reply[len - 5] == '\n'))
            return (long)len;
        if (len == sizeof(sym_reply))
            return -1;
        uint64_t now = gate_now_ns();
        if (now >= deadline)
            return -1;
        struct pollfd pfd = { sym_fd, POLLIN, 0 };
        struct timespec ts = { (time_t)((deadline - now) / 1000000000u),
                               (long)((deadline - now) % 1000000000u) };
        long r = lw_syscall(SYS_ppoll, &pfd, 1, &ts, NULL, _NSIG / 8);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        long got = lw_sys_read(sym_fd, sym_reply + len, sizeof(sym_reply) - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        len += (size_t)got;
    }
}

static const char *intern(const char *p, size_t n)
{
    if (n == 0)
        return NULL;
    char *s = lw_arena_alloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Splits "F\tfn\tmangled\tfile\tline\tinlined" into sf; false if malformed. */
static bool parse_frame(char *line, lw_src_frame *sf, bool *inlined)
{
    char *f[6];
    unsigned n = 0;
    for (char *p = line; n < 6; n++) {
        f[n] = p;
        char *t = strchr(p, '\t');
        if (!t) {
            n++;
            break;
        }
        *t = 0;
        p = t + 1;
    }
    if (n != 6 || strcmp(f[0], "F") != 0)
        return false;
    const char *fn = intern(f[1], strlen(f[1]));
    sf->function = fn ? fn : "";
    sf->mangled = intern(f[2], strlen(f[2]));
    sf->file = intern(f[3], strlen(f[3]));
    sf->line = 0;
    for (const char *d = f[4]; *d >= '0' && *d <= '9'; d++)
        sf->line = sf->line * 10 + (unsigned)(*d - '0');
    *inlined = f[5][0] == '1';
    return true;
}

/* Asks the helper about module-relative key in path; fills fi's source
 * fields.  False when the helper knows nothing or is unavailable. */
static bool sym_ask(const char *path, uintptr_t key, lw_frame_info *fi)
{
    if (!sym_start())
        return false;
    char req[1200];
    lw_buf b;
    lw_buf_init(&b, req, sizeof(req));
    lw_buf_printf(&b, "%lx %s\n", (unsigned long)key, path);
    if (b.truncated || strchr(path, '\n'))
        return false;
    if (!sym_send(req, b.len)) {
        sym_stop(true);
        return false;
    }
    long len = sym_receive();
    if (len < 0) {
        sym_stop(true);
        return false;
    }
    sym_reply[len - 4] = 0;   /* drop "END\n" */
    lw_src_frame frames[LW_MAX_INLINED + 1];
    unsigned n = 0;
    bool real = false;
    for (char *p = sym_reply; *p && !real;) {
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = 0;
        bool inl = false;
        if (parse_frame(p, &frames[n < LW_MAX_INLINED ? n : LW_MAX_INLINED], &inl)) {
            if (!inl)
                real = true;
            if (n < LW_MAX_INLINED || !inl)
                n = n < LW_MAX_INLINED ? n + 1 : LW_MAX_INLINED + 1;
        }
        p = nl + 1;
    }
    if (!n)
        return false;
    /* The last frame is the function the pc is in; those before it were
     * inlined into it (a deeper inline chain keeps its innermost ones). */
    const lw_src_frame *last = &frames[n - 1];
    fi->function = last->function;
    fi->mangled = last->mangled;
    fi->file = last->file;
    fi->line = last->line;
    fi->ninlined = n - 1;
    for (unsigned i = 0; i + 1 < n; i++)
        fi->inlined[i] = frames[i];
    return true;
}

/* Answers, by pc, for the life of the process (open addressing). */
typedef struct {
    uintptr_t pc;
    lw_frame_info *fi;
} sym_slot;
static sym_slot *sym_cache;

static void lookup_symbol(const char *path, uintptr_t base, uintptr_t q, lw_frame_info *fi)
{
    lw_mutex_lock(&sym_lock);
    if (!sym_cache)
        sym_cache = lw_arena_alloc(SYM_CACHE_SLOTS * sizeof(sym_slot));
    sym_slot *slot = NULL;
    if (sym_cache) {
        for (unsigned i = 0, h = (unsigned)lw_mix64(fi->pc); i < 16; i++) {
            sym_slot *s = &sym_cache[(h + i) % SYM_CACHE_SLOTS];
            if (s->pc == fi->pc && s->fi) {
                *fi = *s->fi;
                lw_mutex_unlock(&sym_lock);
                return;
            }
            if (!s->pc) {
                slot = s;
                break;
            }
        }
    }
    modsyms *m = module_symbols(path);
    uintptr_t key = m && m->dyn ? q - base : q;
    int e = errno;
    bool known = m && sym_ask(path, key, fi);
    errno = e;
    if (!known && m) {
        const char *nm = elf_symbol(m, key);
        if (nm)
            fi->function = nm;
    }
    lw_frame_info *keep = slot ? lw_arena_alloc(sizeof(*keep)) : NULL;
    if (keep) {
        *keep = *fi;
        slot->fi = keep;
        slot->pc = fi->pc;
    }
    lw_mutex_unlock(&sym_lock);
}

void lw_symbolize(uintptr_t pc, lw_frame_info *fi)
{
    Dl_info di;
    memset(fi, 0, sizeof(*fi));
    fi->pc = pc;
    fi->module = "?";
    fi->function = "";
    /* pc is a return address: look up pc - 1 so a call at the end of a
     * function is attributed to it, and the line is the call's. */
    uintptr_t q = pc ? pc - 1 : 0;
    int e = errno;
    int found = find_module((void *)q, &di);
    errno = e;
    if (!found || !di.dli_fname)
        return;
    fi->offset = pc - (uintptr_t)di.dli_fbase;
    fi->module = module_path(&di);
    if (fi->module[0] == '/')
        lookup_symbol(fi->module, (uintptr_t)di.dli_fbase, q, fi);
}

/* The symbol of the object at addr, demangled by the helper when `demangle`
 * (else as the object file spells it). */
static bool symbolize_data(uintptr_t addr, char *out, size_t cap, bool demangle)
{
    Dl_info di;
    out[0] = 0;
    int e = errno;
    int found = addr && find_module((void *)addr, &di);
    errno = e;
    if (!found || !di.dli_fname)
        return false;
    const char *path = module_path(&di);
    if (path[0] != '/')
        return false;
    uintptr_t base = (uintptr_t)di.dli_fbase;
    lw_buf b;
    lw_buf_init(&b, out, cap);
    lw_mutex_lock(&sym_lock);
    modsyms *m = module_symbols(path);
    uintptr_t key = m && m->dyn ? addr - base : addr, start = 0;
    const char *nm = m ? elf_symbol_of(m, key, STT_OBJECT, &start) : NULL;
    if (nm) {
        /* A C++ name is demangled by the helper (its answer for the
         * object's own address names the object). */
        lw_frame_info fi;
        memset(&fi, 0, sizeof(fi));
        fi.function = "";
        e = errno;
        if (demangle && nm[0] == '_' && nm[1] == 'Z' && sym_ask(path, start, &fi) && fi.function[0] &&
            fi.mangled && strcmp(fi.mangled, nm) == 0)
            nm = fi.function;
        errno = e;
        lw_buf_puts(&b, nm);
        if (key != start)
            lw_buf_printf(&b, "+0x%lx", (unsigned long)(key - start));
    }
    lw_mutex_unlock(&sym_lock);
    return nm != NULL && !b.truncated;
}

bool lw_symbolize_data(uintptr_t addr, char *out, size_t cap)
{
    return symbolize_data(addr, out, cap, true);
}

/* Sends req and reads the answer, "END\n" cut off; NULL when the helper is
 * unavailable or failed.  Under sym_lock. */
static char *sym_query(const char *req, size_t n)
{
    if (!sym_start())
        return NULL;
    if (!sym_send(req, n)) {
        sym_stop(true);
        return NULL;
    }
    long len = sym_receive();
    if (len < 0) {
        sym_stop(true);
        return NULL;
    }
    sym_reply[len - 4] = 0;
    return sym_reply;
}

static unsigned parse_uint(const char *d)
{
    unsigned v = 0;
    for (; *d >= '0' && *d <= '9'; d++)
        v = v * 10 + (unsigned)(*d - '0');
    return v;
}

static const char *intern_or_empty(const char *s)
{
    const char *r = intern(s, strlen(s));
    return r ? r : "";
}

/* The module file and module-relative key of addr (in the program's
 * memory), as lookup_symbol does for pcs.  Under sym_lock. */
static modsyms *module_key(uintptr_t addr, const char **path, uintptr_t *key)
{
    Dl_info di;
    int e = errno;
    int found = addr && find_module((void *)addr, &di);
    errno = e;
    if (!found || !di.dli_fname)
        return NULL;
    *path = module_path(&di);
    if ((*path)[0] != '/')
        return NULL;
    modsyms *m = module_symbols(*path);
    *key = m && m->dyn ? addr - (uintptr_t)di.dli_fbase : addr;
    return m;
}

bool lw_symbolize_var(uintptr_t addr, lw_var_info *vi)
{
    memset(vi, 0, sizeof(*vi));
    const char *path;
    uintptr_t key;
    bool ok = false;
    lw_mutex_lock(&sym_lock);
    modsyms *m = module_key(addr, &path, &key);
    if (m) {
        char req[1200];
        lw_buf b;
        lw_buf_init(&b, req, sizeof(req));
        lw_buf_printf(&b, "data %lx %s\n", (unsigned long)key, path);
        int e = errno;
        char *ans = !b.truncated && !strchr(path, '\n') ? sym_query(req, b.len) : NULL;
        errno = e;
        char *f[8];
        unsigned nf = ans ? lw_split_tabs(ans, f, 8) : 0;
        if (ans && ans[0] == 'V' && nf >= 7 && f[1][0]) {
            vi->name = intern_or_empty(f[1]);
            vi->mangled = intern(f[2], strlen(f[2]));
            vi->path = intern_or_empty(f[3]);
            vi->decl_file = intern(f[4], strlen(f[4]));
            vi->decl_line = parse_uint(f[5]);
            vi->is_static = f[6][0] == '1';
            vi->atomic = nf == 8 && f[7][0] == '1';
            ok = true;
        }
    }
    lw_mutex_unlock(&sym_lock);
    if (!ok && m) {
        /* No helper: the ELF symbol, +0x.. inside it. */
        char sym[512];
        if (lw_symbolize_data(addr, sym, sizeof(sym))) {
            char *plus = strrchr(sym, '+');
            lw_mutex_lock(&sym_lock);
            vi->path = plus ? intern_or_empty(plus) : "";
            if (plus)
                *plus = 0;
            vi->name = intern_or_empty(sym);
            lw_mutex_unlock(&sym_lock);
            ok = vi->name[0] != 0;
        }
    }
    return ok;
}

bool lw_symbolize_local(uintptr_t pc, intptr_t cfa_off, lw_local_info *li)
{
    memset(li, 0, sizeof(*li));
    const char *path;
    uintptr_t key;
    bool ok = false;
    if (!pc)
        return false;
    lw_mutex_lock(&sym_lock);
    modsyms *m = module_key(pc - 1, &path, &key);
    if (m) {
        char req[1200];
        lw_buf b;
        lw_buf_init(&b, req, sizeof(req));
        lw_buf_printf(&b, "local %lx %lld %s\n", (unsigned long)key, (long long)cfa_off, path);
        int e = errno;
        char *ans = !b.truncated && !strchr(path, '\n') ? sym_query(req, b.len) : NULL;
        errno = e;
        char *f[7];
        unsigned nf = ans ? lw_split_tabs(ans, f, 7) : 0;
        if (ans && ans[0] == 'L' && nf >= 6 && f[2][0]) {
            li->function = intern_or_empty(f[1]);
            li->name = intern_or_empty(f[2]);
            li->path = intern_or_empty(f[3]);
            li->decl_file = intern(f[4], strlen(f[4]));
            li->decl_line = parse_uint(f[5]);
            li->atomic = nf == 7 && f[6][0] == '1';
            ok = true;
        }
    }
    lw_mutex_unlock(&sym_lock);
    return ok;
}

bool lw_symbolize_data_raw(uintptr_t addr, char *out, size_t cap)
{
    return symbolize_data(addr, out, cap, false);
}

bool lw_addr_in_module(uintptr_t addr)
{
    Dl_info di;
    int e = errno;
    int found = addr && find_module((void *)addr, &di);
    errno = e;
    return found && di.dli_fname;
}

bool lw_code_site(uintptr_t pc, char *out, size_t cap, bool *in_function)
{
    Dl_info di;
    out[0] = 0;
    *in_function = false;
    uintptr_t q = pc ? pc - 1 : 0;
    int e = errno;
    int found = q && find_module((void *)q, &di);
    errno = e;
    if (!found || !di.dli_fname)
        return false;
    const char *path = module_path(&di);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!base[0])
        return false;
    uintptr_t fbase = (uintptr_t)di.dli_fbase;
    const char *nm = NULL;
    lw_buf b;
    lw_buf_init(&b, out, cap);
    if (path[0] == '/') {
        lw_mutex_lock(&sym_lock);
        modsyms *m = module_symbols(path);
        uintptr_t key = m && m->dyn ? q - fbase : q;
        nm = m ? elf_symbol(m, key) : NULL;
        if (nm)
            lw_buf_printf(&b, "%s (%s)", nm, base);
        lw_mutex_unlock(&sym_lock);
    }
    if (!nm)
        lw_buf_printf(&b, "%s+0x%lx", base, (unsigned long)(pc - fbase));
    *in_function = nm != NULL;
    return !b.truncated;
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

bool lw_frame_is_program(const lw_frame_info *fi, const lw_src_frame *sf)
{
    static const char *const lib_modules[] = {
        "libc.so", "libstdc++.so", "libpthread.so", "ld-linux", "libgcc_s.so",
    };
    static const char *const lib_functions[] = {
        "__gthread_", "__gthrw_", "std::", "_ZNSt", "_ZSt", "_ZL20__gthread", "pthread_",
        "__pthread", "mtx_", "cnd_", "thrd_", "__GI_", "__libc_", "start_thread", "clone",
    };
    const char *base = strrchr(fi->module, '/');
    base = base ? base + 1 : fi->module;
    for (unsigned i = 0; i < sizeof(lib_modules) / sizeof(lib_modules[0]); i++)
        if (has_prefix(base, lib_modules[i]))
            return false;
    if (sf->file && has_prefix(sf->file, "/usr/include/"))
        return false;
    for (unsigned i = 0; i < sizeof(lib_functions) / sizeof(lib_functions[0]); i++)
        if (has_prefix(sf->function, lib_functions[i]))
            return false;
    return true;
}

uint64_t lw_stack_fingerprint(uint32_t id, unsigned frames)
{
    const lw_stack *st = lw_depot_get(id);
    uint64_t h = 0x5eed;
    if (!st)
        return h;
    for (unsigned i = 0; i < st->n && i < frames; i++) {
        Dl_info di;
        uintptr_t pc = st->pc[i];
        uint64_t where = pc;   /* outside any module: the address itself */
        find_exe_path();
        int e = errno;
        if (pc && find_module((void *)(pc - 1), &di) && di.dli_fname) {
            /* The module's file name (not its directory: the same binary
             * built or installed elsewhere) and the offset in it. */
            const char *name = module_path(&di);
            const char *base = strrchr(name, '/');
            where = lw_str_hash(base ? base + 1 : name) ^ lw_mix64(pc - (uintptr_t)di.dli_fbase);
        }
        errno = e;
        h = lw_mix64(h + where);
    }
    return h;
}

void lw_stacks_atfork_prepare(void)
{
    lw_mutex_lock(&depot_lock);
    lw_mutex_lock(&sym_lock);
    lw_mutex_lock(&rel_lock);
}

void lw_stacks_atfork_parent(void)
{
    lw_mutex_unlock(&rel_lock);
    lw_mutex_unlock(&sym_lock);
    lw_mutex_unlock(&depot_lock);
}

void lw_stacks_atfork_child(void)
{
    lw_mutex_reset(&rel_lock);
    lw_mutex_reset(&sym_lock);
    /* The helper is the parent's: this process starts its own if it
     * reports (its answers, cached by pc, stay valid: same mappings). */
    if (sym_fd >= 0)
        lw_sys_close(sym_fd);
    sym_fd = -1;
    sym_pid = 0;
    lw_mutex_reset(&depot_lock);
    /* libunwind was being loaded by a thread that is not in the child (in
     * practice never: lockwatch loads it before main).  Waiting would be
     * forever, and the half-loaded library is not to be trusted: this
     * process goes without backtraces. */
    if (lw_load_relaxed(&init_state) == 1) {
        static int once;
        uw.ok = false;
        lw_store_release(&init_state, 2);
        lw_warn_once(&once, "lockwatch: warning: fork() while %s was being loaded; "
                     "reports of the child process have no backtraces\n", LW_UNWIND_SONAME);
    }
}
