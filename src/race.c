/*
 * race.c: the sampled data-race detector (see race.h for the method).
 * Owns: the sampling signal's and SIGTRAP's handlers, the table of live
 * threads' tids and timers, the four watch slots, the queue of races found
 * in handlers, and the lock-set comparison.
 * Must never: allocate, take a lock, use stdio or call an interposed libc
 * function in a handler (everything there is a raw system call or a plain
 * or atomic memory access); change errno as the program sees it; change the
 * program's output or signal dispositions as it sees them.
 *
 * Concurrency:
 *  - threads[]: slot i's tid is claimed by its thread with a CAS 0 -> tid
 *    and cleared by it at its end (store-release); samplers read tids
 *    relaxed.  A stale tid costs one perf_event_open that fails (ESRCH).
 *  - slots[]: busy (0 free, 1 a sampler owns the slot) is claimed by CAS.
 *    word = gen << 2 | state, state 0 armed, 1 a hitter is writing its side,
 *    2 hit recorded, 3 closed.  The sampler publishes addr/size/value, then
 *    word = gen << 2 (release); a hitter whose trap carries (slot, gen)
 *    CASes gen << 2 -> | 1, fills `hit`, stores | 2 (release).  The sampler,
 *    after closing its fds, CASes gen << 2 -> | 3; if a hitter is writing it
 *    waits (bounded) for | 2.  The generation stops a late trap of an old
 *    arming from writing into a new one.
 *  - pending[]: state 0 free, 1 being filled (by a sampler), 2 ready,
 *    3 being reported (by lw_race_flush); claimed by CAS.
 */
#include "race.h"
#include "lw_sys.h"
#include "annotate.h"
#include "cfi.h"
#include "decode.h"
#include "finding.h"
#include "fmt.h"
#include "log.h"
#include "atomicname.h"
#include "lw_atomic.h"
#include "lockname.h"
#include "lw_core.h"
#include "options.h"
#include "registry.h"
#include "stacks.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

/* glibc's own name of sigaction (sigaction itself is interposed). */
extern int __sigaction(int, const struct sigaction *, struct sigaction *);

#ifndef TRAP_PERF
#define TRAP_PERF 6
#endif

#define RACE_TAG 0x4c57ull                 /* "LW": sig_data's top 16 bits */
#define RACE_GEN_MASK ((1ull << 40) - 1)   /* sig_data: tag 16 | slot 8 | gen 40 */
#define HIT_ARMED 0u
#define HIT_WRITING 1u
#define HIT_DONE 2u
#define HIT_CLOSED 3u
#define HIT_WAIT_SPINS 200000              /* sched_yield()s a sampler waits for a hitter */
#define MAIN_STACK_GUESS (8ul << 20)       /* the main thread's stack below its start frame */
#define STACK_ABOVE (64ul << 10)           /* stack above a thread's start frame (frames, args) */
#define MAX_EXCLUDED 32                    /* code ranges never sampled */
#define SEEN_PAIRS 256                     /* pc pairs already queued */
#define GUARD_SLOT (LW_RACE_SLOTS - 1)     /* the slot that watches guarded ranges */
#define TRACE_CHECK_NS 200000000ll         /* how often a sampler asks whether it is traced */
#define STEP_MAX 16                        /* single steps a sample may take to reach an access */
#define EFLAGS_TF 0x100ull                 /* the trap flag: one instruction, then SIGTRAP */
#ifndef TRAP_TRACE
#define TRAP_TRACE 2
#endif

/* ---- the lock-set comparison (pure) ---- */

bool lw_race_locks_exclude(const lw_race_hold *a, unsigned na, const lw_race_hold *b,
                           unsigned nb)
{
    for (unsigned i = 0; i < na; i++)
        for (unsigned j = 0; j < nb; j++)
            if (a[i].id == b[j].id && (a[i].mode != LW_MODE_READ || b[j].mode != LW_MODE_READ))
                return true;
    return false;
}

bool lw_race_is_race(const lw_race_hold *a, unsigned na, bool a_wrote, const lw_race_hold *b,
                     unsigned nb, bool b_wrote)
{
    return (a_wrote || b_wrote) && !lw_race_locks_exclude(a, na, b, nb);
}

/* ---- state ---- */

/* One side of a race: the thread, what it held, where it was. */
typedef struct {
    uint32_t num, parent, create_stack;
    int tid;
    char name[16];
    bool created_seen;
    bool wrote, write_known;
    bool truncated;                 /* held more than LW_RACE_HOLDS */
    unsigned nholds, npcs;
    lw_race_hold holds[LW_RACE_HOLDS];
    uintptr_t hold_addr[LW_RACE_HOLDS];
    uintptr_t hold_pc[LW_RACE_HOLDS];
    uint16_t hold_kind[LW_RACE_HOLDS], hold_mtype[LW_RACE_HOLDS];
    uintptr_t pc;                   /* the interrupted pc (after the access, for a hitter) */
    bool pc_exact;                  /* pc is the accessing instruction's own */
    uintptr_t pcs[LW_RACE_FRAMES];
} race_side;

typedef struct {
    int busy;
    uint64_t word;                  /* gen << 2 | HIT_* */
    uintptr_t addr;                 /* the watched bytes */
    unsigned len;
    uint64_t value;                 /* their value when armed */
    bool rw;                        /* watched for reads too (the sampled access wrote) */
    int tid;                        /* the sampled thread */
    int nfd;
    int fd[LW_RACE_MAX_TARGETS], fd_tid[LW_RACE_MAX_TARGETS];
    /* Hitters reading fd[] to disable their own event.  The sampler sets
     * nfd to 0 and waits for this to be 0 before it closes the fds (both
     * sides seq_cst, Dekker-style): without it a hitter could ioctl a
     * number the program has just reopened. */
    int in_disarm;
    int closing;                    /* slot_disarm between nfd = 0 and the closes */
    int arming;                     /* arm_threads is opening events */
    int narmed;                     /* events open for a persistent arming */
    /* The guard slot (GUARD_SLOT) watching a LOCKWATCH_GUARDED_BY range:
     * the range's lock, else 0.  persist: armed across samples (until the
     * next rotation), so an ordinary sample must not take the slot. */
    uintptr_t guard_lock;
    int persist;
    race_side hit;
} watch_slot;

typedef struct {
    int state;
    int reporter;                   /* in state 3: the tid writing the report */
    uintptr_t addr;
    unsigned size;
    /* 0: two threads raced (a and b); else a alone accessed memory that
     * LOCKWATCH_GUARDED_BY says this lock guards, without holding it. */
    uintptr_t guard_lock;
    race_side a, b;                 /* a: the sampled thread, b: the hitter */
} race_rec;

static struct {
    int tid;
    int timer;                      /* kernel timer id, or -1 */
    int trap_blocked;               /* the thread blocks SIGTRAP: not armed */
} threads[LW_RACE_MAX_THREADS];

static watch_slot slots[LW_RACE_SLOTS];
static race_rec pending[LW_RACE_PENDING];
static int npending;
static uint64_t seen_pairs[SEEN_PAIRS];
static lw_race_stats stats;

static int on;                      /* sampling runs (relaxed reads in handlers) */
/* Wakes the thread that reports queued races (lw_race_set_waker): set
 * once by the monitor when it starts, read by samplers (acquire). */
static void (*waker)(void);
static pid_t sampled_pid;           /* the process that started sampling (not its fork children) */
static int race_sig;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
/* The program's SIGTRAP action while lockwatch's handler is installed.
 * Written by the program's sigaction/signal calls (lw_race_sigaction),
 * read by the trap handler. */
static struct sigaction prog_trap;
static int trap_installed;

static struct {
    uintptr_t lo, hi;
} excluded[MAX_EXCLUDED];
static unsigned nexcluded;

enum aside { ASIDE_SIGNAL, ASIDE_TRACED, ASIDE_WATCHPOINTS };
static void step_aside(enum aside why);
static void step(void *ucv);
static void set_step(void *ucv, bool on_);
static int tracer;                  /* the tracer's pid when one made sampling step aside */
static int64_t trace_next_ns;       /* when a sampler next reads TracerPid */

/* This thread's table slot (-1 none), timer and stack bounds. */
static LW_TLS struct {
    int slot;
    int timer;
    uintptr_t stack_lo, stack_hi;
    bool started;
    uint8_t steps;                  /* single steps left to find a memory access */
    bool stepped_ever;              /* this thread has set the trap flag */
} me;

static long sys_perf_event_open(struct perf_event_attr *a, int tid)
{
    return lw_syscall(SYS_perf_event_open, a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static int sys_gettid(void)
{
    return (int)lw_syscall(SYS_gettid);
}

/* Copies len bytes at addr without faulting; false when unmapped. */
static bool peek_bytes(uintptr_t addr, unsigned len, void *out)
{
    struct iovec local = { out, len }, remote = { (void *)addr, len };
    return lw_syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0) == (long)len;
}

/* Reads len (<= 8) bytes at addr without faulting; false when unmapped. */
static bool peek(uintptr_t addr, unsigned len, uint64_t *out)
{
    *out = 0;
    return peek_bytes(addr, len, out);
}

static void watch_attr(struct perf_event_attr *a, uintptr_t addr, unsigned len, bool rw,
                       uint64_t data)
{
    memset(a, 0, sizeof(*a));
    a->type = PERF_TYPE_BREAKPOINT;
    a->size = sizeof(*a);
    a->bp_type = rw ? HW_BREAKPOINT_RW : HW_BREAKPOINT_W;
    a->bp_addr = addr;
    a->bp_len = len;
    a->sample_period = 1;
    a->exclude_kernel = 1;
    a->exclude_hv = 1;
    a->sigtrap = 1;
    a->remove_on_exec = 1;
    a->sig_data = data;
}

/* ---- a debugger or tracer ---- */

/* The pid tracing this process (/proc/self/status: TracerPid), 0 none.
 * Async-signal-safe. */
static int tracer_pid(void)
{
    int fd = lw_sys_open_read("/proc/self/status");
    if (fd < 0)
        return 0;
    char buf[1024];
    long n = lw_sys_read(fd, buf, sizeof(buf) - 1);
    lw_sys_close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strstr(buf, "TracerPid:");
    if (!p)
        return 0;
    p += 10;
    while (*p == ' ' || *p == '\t')
        p++;
    int v = 0;
    while (*p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    if (v)
        lw_store_relaxed(&tracer, v);
    return v;
}

/* True for one sampler every TRACE_CHECK_NS: it asks whether a debugger
 * attached meanwhile. */
static bool trace_check_due(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
        return false;
    int64_t now = (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
    int64_t next = lw_load_relaxed(&trace_next_ns);
    return now >= next && lw_cas_acq_rel(&trace_next_ns, &next, now + TRACE_CHECK_NS);
}

/* ---- which code is never sampled ---- */

static bool is_excluded_name(const char *n)
{
    static const char *const names[] = { "/libc.so", "/ld-linux", "libunwind", "liblockwatch",
                                         "/libpthread.so", "/libdl.so", "libcapstone" };
    for (unsigned i = 0; i < LW_ARRAY_SIZE(names); i++)
        if (strstr(n, names[i]))
            return true;
    return false;
}

static int collect_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    if (!info->dlpi_name || !is_excluded_name(info->dlpi_name))
        return 0;
    for (unsigned i = 0; i < info->dlpi_phnum && nexcluded < MAX_EXCLUDED; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        excluded[nexcluded].lo = info->dlpi_addr + ph->p_vaddr;
        excluded[nexcluded].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        nexcluded++;
    }
    return 0;
}

static bool pc_excluded(uintptr_t pc)
{
    for (unsigned i = 0; i < nexcluded; i++)
        if (pc >= excluded[i].lo && pc < excluded[i].hi)
            return true;
    return lw_stack_hidden(pc);
}

/* ---- capturing a side (in a handler, on the side's own thread) ---- */

static void capture_side(race_side *s, lw_thread *t, uintptr_t pc)
{
    s->num = t->num;
    s->parent = t->parent;
    s->create_stack = t->create_stack;
    s->tid = t->tid;
    memcpy(s->name, t->name, sizeof(s->name));
    s->created_seen = t->created_seen;
    s->pc = pc;
    s->pc_exact = true;
    unsigned n = t->nheld;
    s->truncated = n > LW_RACE_HOLDS;
    s->nholds = s->truncated ? LW_RACE_HOLDS : n;
    for (unsigned i = 0; i < s->nholds; i++) {
        const lw_held *h = &t->held[i];
        s->holds[i].id = h->id;
        s->holds[i].mode = h->mode;
        s->hold_addr[i] = h->addr;
        s->hold_pc[i] = h->pc;
        s->hold_kind[i] = h->lock ? h->lock->kind : LW_KIND_MUTEX;
        s->hold_mtype[i] = h->lock ? h->lock->mtype : 0;
    }
    /* The handler's own frames are lockwatch's (hidden); the signal
     * trampoline is libc's: keep the frames from the interrupted pc on. */
    uintptr_t pcs[LW_RACE_FRAMES + 8];
    t->guard++;
    unsigned np = lw_unwind(pcs, NULL, LW_ARRAY_SIZE(pcs));
    t->guard--;
    unsigned from = np;
    for (unsigned i = 0; i < np; i++)
        if (pcs[i] == pc) {
            from = i;
            break;
        }
    s->npcs = 0;
    if (from == np)
        s->pcs[s->npcs++] = pc;
    for (unsigned i = from; i < np && s->npcs < LW_RACE_FRAMES; i++)
        s->pcs[s->npcs++] = pcs[i];
}

/* ---- queueing races (in handlers) ---- */

/* A free pending record, state 1 (being filled), or NULL when all are
 * taken. */
static race_rec *pending_claim(void)
{
    for (unsigned i = 0; i < LW_RACE_PENDING; i++) {
        int st = 0;
        if (lw_cas_acq_rel(&pending[i].state, &st, 1))
            return &pending[i];
    }
    return NULL;
}

/* True the first time sig is offered (a pair of code locations, or a code
 * location and a guard lock, already queued or reported otherwise). */
static bool pair_new(uint64_t sig)
{
    if (!sig)
        sig = 1;
    for (unsigned i = 0, j = sig % SEEN_PAIRS; i < SEEN_PAIRS; i++, j = (j + 1) % SEEN_PAIRS) {
        uint64_t cur = lw_load_relaxed(&seen_pairs[j]);
        if (cur == sig)
            return false;
        if (cur == 0) {
            if (lw_cas_acq_rel(&seen_pairs[j], &cur, sig))
                return true;
            if (cur == sig)
                return false;
        }
    }
    return true;   /* the table is full: queue it (the sink drops repeats) */
}

static void pending_ready(race_rec *r)
{
    lw_store_release(&r->state, 2);
    __atomic_fetch_add(&npending, 1, __ATOMIC_RELEASE);
    __atomic_fetch_add(&stats.races, 1, __ATOMIC_RELAXED);
    void (*wake)(void) = lw_load_acquire(&waker);
    if (wake)
        wake();   /* the monitor writes the report, within a slice */
}

/* Does t hold the lock at `lock`, for writing when write? */
static bool holds(const lw_thread *t, uintptr_t lock, bool write)
{
    for (unsigned i = 0; i < t->nheld; i++)
        if (t->held[i].addr == lock && (!write || t->held[i].mode != LW_MODE_READ))
            return true;
    return false;
}

/* t accessed guarded memory at pc without the lock that guards it. */
static void queue_guarded(lw_thread *t, bool trap, uintptr_t pc, uintptr_t at, uintptr_t addr,
                          unsigned size,
                          bool wrote, uintptr_t lock)
{
    race_rec *r = pending_claim();
    if (!r)
        return;
    if (!pair_new(lw_mix64(pc) ^ lw_mix64(lock + 0x6775))) {
        lw_store_release(&r->state, 0);
        return;
    }
    r->addr = addr;
    r->size = size;
    r->guard_lock = lock;
    capture_side(&r->a, t, pc);
    if (trap) {
        r->a.pc_exact = false;
        if (at && r->a.npcs && r->a.pcs[0] == pc) {
            r->a.pc = r->a.pcs[0] = at;   /* a trap's pc is after the access */
            r->a.pc_exact = true;
        }
    }
    r->a.wrote = r->a.write_known = wrote;
    __atomic_fetch_add(&stats.guarded, 1, __ATOMIC_RELAXED);
    pending_ready(r);
}

/* ---- the trap handler: a thread hit a watched address ---- */

static unsigned long perf_data_of(const siginfo_t *si)
{
    /* The kernel's _sigfault._perf._data follows si_addr (glibc's
     * siginfo_t does not name it). */
    const char *p = (const char *)&si->si_addr + sizeof(void *);
    unsigned long d;
    memcpy(&d, p, sizeof(d));
    return d;
}

static void disarm_for(watch_slot *s, int tid)
{
    __atomic_fetch_add(&s->in_disarm, 1, __ATOMIC_SEQ_CST);
    int n = __atomic_load_n(&s->nfd, __ATOMIC_SEQ_CST);
    for (int i = 0; i < n && i < LW_RACE_MAX_TARGETS; i++)
        if (lw_load_relaxed(&s->fd_tid[i]) == tid) {
            lw_syscall(SYS_ioctl, lw_load_relaxed(&s->fd[i]), PERF_EVENT_IOC_DISABLE, 0);
            break;
        }
    __atomic_fetch_sub(&s->in_disarm, 1, __ATOMIC_SEQ_CST);
}

/* Is the instruction at code atomic (a LOCK prefix, or xchg with memory,
 * locked implicitly)?  Synchronisation, not a data access to judge. */
static bool is_atomic(const uint8_t *code, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = code[i];
        if (b == 0xf0)
            return true;
        if (b == 0x66 || b == 0xf2 || b == 0xf3 || (b & 0xf0) == 0x40)
            continue;   /* other prefixes, REX */
        return b == 0x86 || b == 0x87;
    }
    return false;
}

/* What the instruction that hit did.  A data watchpoint traps after the
 * access, with the pc at the next instruction: the one that hit is the
 * instruction that ends there and accesses the watched bytes (found by
 * decoding each start 1 to 15 bytes back: a start is taken when its
 * instruction is exactly that long and its access, computed with the
 * registers after it, overlaps the watched bytes). */
typedef struct {
    bool found, write, atomic;
    uintptr_t at;   /* where it starts */
} hit_insn;

#define FORWARD_MAX 8192   /* bytes a hit decodes from its function's start */
#define ENDS_CACHE 1024    /* trap pcs whose instruction is known */

/* pc << 4 | length of the instruction that ends at pc (0: none found), for
 * trap pcs seen before: a hot access is decoded forward once. */
static uint64_t ends_cache[ENDS_CACHE];

/* The length of the instruction that ends at pc, from its function's
 * start; 0 when unknown. */
static unsigned ends_at(uintptr_t pc)
{
    unsigned h = (unsigned)(lw_mix64(pc) % ENDS_CACHE);
    uint64_t w = lw_load_relaxed(&ends_cache[h]);
    if (w >> 4 == pc)
        return (unsigned)(w & 15);
    unsigned len = 0;
    uintptr_t start, end;
    if (pc > 0 && lw_function_range(pc - 1, &start, &end) && pc - start <= FORWARD_MAX) {
        uintptr_t at = start;
        while (at < pc) {
            size_t avail = end - at < 15 ? end - at : 15;
            int k = lw_decode_length((const uint8_t *)at, avail, at);
            if (k <= 0)
                break;
            if (at + (unsigned)k == pc) {
                len = (unsigned)k;
                break;
            }
            at += (unsigned)k;
        }
    }
    lw_store_relaxed(&ends_cache[h], (uint64_t)pc << 4 | len);
    return len;
}

/* Is there an mfence at p?  GCC makes a sequentially consistent C11 atomic
 * store a plain move followed by mfence (clang: xchg). */
static bool fence_at(uintptr_t p)
{
    uint8_t b[3];
    return peek_bytes(p, 3, b) && b[0] == 0x0f && b[1] == 0xae && b[2] == 0xf0;
}

/* Does the instruction of k bytes at code (starting at pc - k), run, touch
 * the watched bytes?  Fills h when it does. */
static bool hit_by(const uint8_t *code, unsigned k, uintptr_t pc, const lw_regs *r,
                   uintptr_t addr, unsigned len, hit_insn *h)
{
    lw_mem_access acc[LW_DECODE_MAX_ACCESSES];
    int n = lw_decode_access(code, k, pc - k, r, acc, LW_DECODE_MAX_ACCESSES);
    for (int i = 0; i < n; i++)
        if (!acc[i].stale && acc[i].addr < addr + len && acc[i].addr + acc[i].size > addr) {
            h->found = true;
            h->write = acc[i].write;
            h->atomic = is_atomic(code, k) || (h->write && fence_at(pc));
            h->at = pc - k;
            return true;
        }
    return false;
}

static hit_insn what_hit(const lw_regs *r, uintptr_t addr, unsigned len)
{
    hit_insn h = { false, false, false, 0 };
    uintptr_t pc = (uintptr_t)r->rip;
    /* Exactly: decoding forward from the start of the function (its FDE),
     * to the instruction that ends at pc. */
    unsigned k = ends_at(pc);
    if (k) {
        hit_by((const uint8_t *)(pc - k), k, pc, r, addr, len, &h);
        return h;
    }
    /* Else by decoding back: the longest start whose instruction is exactly
     * that long and touches the watched bytes (a shorter one inside it may
     * decode too: without its REX or LOCK prefix, say). */
    uint8_t buf[15];
    unsigned in_page = (unsigned)(pc & 4095), have = in_page < 15 ? in_page : 15;
    if (have && !peek_bytes(pc - have, have, buf + 15 - have))
        return h;
    if (have < 15 && pc >= 15 && peek_bytes(pc - 15, 15 - have, buf))
        have = 15;
    for (unsigned k = have; k >= 1; k--) {
        const uint8_t *code = buf + 15 - k;
        lw_mem_access none[1];
        if (k > 1 && lw_decode_access(code, k - 1, pc - k, r, none, 0) >= 0)
            continue;   /* shorter than k: the instruction there ends before pc */
        if (hit_by(code, k, pc, r, addr, len, &h))
            return h;
    }
    return h;
}

/* A hit on the guard slot: the memory is guarded; is the lock held? */
static void on_guard_hit(watch_slot *s, uint64_t gen, lw_thread *t, const lw_regs *r)
{
    uint64_t w = lw_load_acquire(&s->word);
    if (w != (gen << 2 | HIT_ARMED))
        return;   /* a late trap of an arming that is over */
    uintptr_t addr = lw_load_relaxed(&s->addr), want = lw_load_relaxed(&s->guard_lock), lock;
    unsigned len = lw_load_relaxed(&s->len);
    if (!lw_guarded_lookup(addr, &lock) || lock != want)
        return;   /* the range was given back (and maybe reused) since */
    hit_insn h = what_hit(r, addr, len);
    bool wrote = h.found && h.write;
    if (!holds(t, lock, wrote))
        queue_guarded(t, true, (uintptr_t)r->rip, h.found ? h.at : 0, addr, len, wrote, lock);
}

static void on_hit(unsigned idx, uint64_t gen, void *ucv)
{
    watch_slot *s = &slots[idx];
    int tid = sys_gettid();
    disarm_for(s, tid);   /* one trap per thread and arming is enough */
    lw_thread *t = lw_tls.t;
    if (!lw_thread_own(t) || !t->ready || lw_guarded())
        return;   /* lockwatch's own access, or a thread it does not know */
    lw_regs regs;
    lw_regs_from_ucontext(&regs, ucv);
    if (lw_load_relaxed(&s->guard_lock)) {
        on_guard_hit(s, gen, t, &regs);
        return;
    }
    if (tid == lw_load_relaxed(&s->tid))
        return;
    uint64_t w = gen << 2 | HIT_ARMED;
    if (!lw_cas_acq_rel(&s->word, &w, gen << 2 | HIT_WRITING))
        return;
    race_side *h = &s->hit;
    hit_insn hi = what_hit(&regs, s->addr, s->len);
    if (hi.atomic) {
        /* A locked read-modify-write or xchg: the other side's plain
         * access may be a C11 atomic load or store (on x86 those are plain
         * moves): no report.  The slot is closed for this arming. */
        __atomic_fetch_add(&stats.atomic_hits, 1, __ATOMIC_RELAXED);
        lw_store_release(&s->word, gen << 2 | HIT_CLOSED);
        return;
    }
    capture_side(h, t, (uintptr_t)regs.rip);
    h->pc_exact = false;
    if (hi.found && h->npcs && h->pcs[0] == h->pc) {
        /* The trap's pc is the next instruction's: name the one that hit. */
        h->pc = h->pcs[0] = hi.at;
        h->pc_exact = true;
    }
    if (hi.found) {
        h->wrote = hi.write;
        h->write_known = true;
    } else if (!s->rw) {
        h->wrote = h->write_known = true;   /* a write watchpoint */
    } else {
        uint64_t v;
        h->wrote = peek(s->addr, s->len, &v) && v != s->value;
        h->write_known = h->wrote;          /* unchanged: a read, or a write of the same value */
    }
    __atomic_fetch_add(&stats.hits, 1, __ATOMIC_RELAXED);
    lw_store_release(&s->word, gen << 2 | HIT_DONE);
}

static void trap_handler(int sig, siginfo_t *si, void *ucv)
{
    int e = errno;
    if (si->si_code == TRAP_TRACE && (me.steps > 0 || me.stepped_ever)) {
        /* A step of a sample; with no step left, one whose sample a nested
         * signal's cut short: the trap flag was lockwatch's either way (a
         * program that single-steps itself under race sampling is not
         * supported: none was seen). */
        if (me.steps > 0)
            step(ucv);
        else
            set_step(ucv, false);
        errno = e;
        return;
    }
    if (si->si_code == TRAP_PERF) {
        unsigned long d = perf_data_of(si);
        if ((d >> 48) == RACE_TAG) {
            unsigned idx = (unsigned)(d >> 40) & 0xff;
            if (idx < LW_RACE_SLOTS)
                on_hit(idx, d & RACE_GEN_MASK, ucv);
            errno = e;
            return;
        }
    }
    /* Not ours: the program's action. */
    struct sigaction p = prog_trap;
    errno = e;
    if (p.sa_flags & SA_SIGINFO) {
        if (p.sa_sigaction)
            p.sa_sigaction(sig, si, ucv);
    } else if (p.sa_handler == SIG_IGN) {
        return;
    } else if (p.sa_handler == SIG_DFL) {
        /* The default action (core dump): put it back and let the signal,
         * sent again, act once the handler returns. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        real_sigaction(SIGTRAP, &dfl, NULL);
        lw_syscall(SYS_tgkill, getpid(), sys_gettid(), SIGTRAP);
        errno = e;
    } else {
        p.sa_handler(sig);
    }
}

/* ---- arming ---- */

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 }, rem;
    while (lw_syscall(SYS_nanosleep, &ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

/* Opens the watchpoint attr on the live threads (self too when with_self),
 * publishing each fd in s; returns how many. */
static int arm_threads(watch_slot *s, struct perf_event_attr *attr, int self, bool with_self)
{
    int nfd = 0;
    /* Dekker with trap_mask_noted: a thread that blocks SIGTRAP either is
     * seen blocked below, or waits for this arming to end and disables
     * its event then. */
    __atomic_store_n(&s->arming, 1, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < LW_RACE_MAX_THREADS && nfd < LW_RACE_MAX_TARGETS; i++) {
        int tid = lw_load_relaxed(&threads[i].tid);
        if (tid == 0 || (tid == self && !with_self) ||
            __atomic_load_n(&threads[i].trap_blocked, __ATOMIC_SEQ_CST))
            continue;
        long fd = sys_perf_event_open(attr, tid);
        if (fd < 0)
            continue;   /* the thread ended, or its debug registers are taken */
        s->fd[nfd] = (int)fd;
        s->fd_tid[nfd] = tid;
        nfd++;
        lw_store_release(&s->nfd, nfd);
    }
    __atomic_store_n(&s->arming, 0, __ATOMIC_SEQ_CST);
    return nfd;
}

/* Ends an arming of nfd events: after it no hitter touches the fds, which
 * are closed.  False when a hitter is stuck disarming (the fds leak and the
 * slot must stay taken). */
static bool slot_disarm(watch_slot *s, int nfd)
{
    /* Until the fds are closed their events stay armed, though nfd no
     * longer lists them: a thread that blocks SIGTRAP meanwhile waits for
     * this (trap_mask_noted). */
    __atomic_store_n(&s->closing, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&s->nfd, 0, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; __atomic_load_n(&s->in_disarm, __ATOMIC_SEQ_CST) && i < HIT_WAIT_SPINS;
         i++)
        lw_syscall(SYS_sched_yield);
    bool ok = !__atomic_load_n(&s->in_disarm, __ATOMIC_SEQ_CST);
    for (int i = 0; ok && i < nfd; i++)
        lw_syscall(SYS_close, s->fd[i]);
    __atomic_store_n(&s->closing, 0, __ATOMIC_SEQ_CST);
    return ok;
}

/* A hit by another thread on the slot's arming was a race: queue it. */
static void queue_race(const watch_slot *s, lw_thread *t, uintptr_t pc, bool wrote)
{
    race_rec *r = pending_claim();
    if (!r)
        return;
    uint64_t a = pc, b = s->hit.pc;
    if (!pair_new(lw_mix64(a < b ? a : b) ^ lw_mix64((a < b ? b : a) + 0x9e37))) {
        lw_store_release(&r->state, 0);
        return;   /* this pair of code locations is queued or reported */
    }
    r->addr = s->addr;
    r->size = s->len;
    r->guard_lock = 0;
    capture_side(&r->a, t, pc);
    r->a.wrote = r->a.write_known = wrote;
    r->b = s->hit;
    pending_ready(r);
}

/* Arms watchpoints on `len` bytes at addr in every other thread, waits,
 * disarms, and judges a hit.  In the sampled thread's handler. */
static void watch(lw_thread *t, uintptr_t pc, uintptr_t addr, unsigned len, bool wrote)
{
    watch_slot *s = NULL;
    unsigned idx;
    for (idx = 0; idx < LW_RACE_SLOTS; idx++) {
        int b = 0;
        if (lw_cas_acq_rel(&slots[idx].busy, &b, 1)) {
            if (lw_load_relaxed(&slots[idx].persist)) {
                lw_store_release(&slots[idx].busy, 0);   /* watching a guarded range */
                continue;
            }
            s = &slots[idx];
            break;
        }
    }
    if (!s) {
        __atomic_fetch_add(&stats.slots_full, 1, __ATOMIC_RELAXED);
        return;   /* four addresses armed already */
    }
    int self = sys_gettid();
    uint64_t v0;
    if (!peek(addr, len, &v0)) {
        lw_store_release(&s->busy, 0);
        return;
    }
    uint64_t gen = ((lw_load_relaxed(&s->word) >> 2) + 1) & RACE_GEN_MASK;
    s->addr = addr;
    s->len = len;
    s->value = v0;
    s->rw = wrote;
    s->tid = self;
    lw_store_relaxed(&s->guard_lock, 0);
    lw_store_release(&s->nfd, 0);
    lw_store_release(&s->word, gen << 2 | HIT_ARMED);
    struct perf_event_attr attr;
    watch_attr(&attr, addr, len, wrote, RACE_TAG << 48 | (uint64_t)idx << 40 | gen);
    int nfd = arm_threads(s, &attr, self, false);
    if (nfd) {
        __atomic_fetch_add(&stats.armed, 1, __ATOMIC_RELAXED);
        sleep_us(lw_opt.race_delay_us);
    } else {
        __atomic_fetch_add(&stats.no_target, 1, __ATOMIC_RELAXED);
    }
    if (!slot_disarm(s, nfd))
        return;   /* a hitter is stuck in disarm_for: leak the fds and the slot */
    uint64_t w = gen << 2 | HIT_ARMED;
    if (!lw_cas_acq_rel(&s->word, &w, gen << 2 | HIT_CLOSED)) {
        for (unsigned i = 0; (w & 3) == HIT_WRITING && i < HIT_WAIT_SPINS; i++) {
            lw_syscall(SYS_sched_yield);
            w = lw_load_acquire(&s->word);
        }
        if ((w & 3) == HIT_WRITING)
            return;   /* the hitter is stuck (stopped?): the slot stays taken */
    }
    if ((w & 3) == HIT_DONE) {
        const race_side *h = &s->hit;
        lw_race_hold mine[LW_RACE_HOLDS];
        unsigned n = t->nheld < LW_RACE_HOLDS ? t->nheld : LW_RACE_HOLDS;
        for (unsigned i = 0; i < n; i++) {
            mine[i].id = t->held[i].id;
            mine[i].mode = t->held[i].mode;
        }
        /* A side with more locks than were copied may share one: no report. */
        if (t->nheld <= LW_RACE_HOLDS && !h->truncated &&
            lw_race_is_race(mine, n, wrote, h->holds, h->nholds, h->wrote))
            queue_race(s, t, pc, wrote);
    } else if ((w & 3) != HIT_CLOSED) {
        uint64_t v1;
        if (peek(addr, len, &v1) && v1 != v0)
            __atomic_fetch_add(&stats.unseen_writes, 1, __ATOMIC_RELAXED);
    }
    lw_store_release(&s->busy, 0);
}

/* ---- guarded ranges: the guard slot ---- */

static unsigned guard_cursor, guard_turn;

/* Ends the guard slot's arming (the caller owns busy).  False when a
 * hitter is stuck: the slot stays taken for good. */
static bool guard_close(watch_slot *s)
{
    if (!s->persist)
        return true;
    if (!slot_disarm(s, s->narmed))
        return false;
    s->narmed = 0;
    lw_store_relaxed(&s->guard_lock, 0);
    lw_store_release(&s->word, (lw_load_relaxed(&s->word) & ~3ull) | HIT_CLOSED);
    lw_store_release(&s->persist, 0);
    return true;
}

/* Moves the guard slot to the next guarded range: a read/write watchpoint
 * on one aligned word of it, in every thread (the sampler's too), armed
 * until the next rotation.  Any thread's first access there is checked
 * against the range's lock (on_guard_hit).  In a sampler's handler. */
static void guard_rotate(int self)
{
    watch_slot *s = &slots[GUARD_SLOT];
    int b = 0;
    if (!lw_cas_acq_rel(&s->busy, &b, 1))
        return;   /* a sample uses the slot, or another thread rotates */
    if (!guard_close(s))
        return;
    uintptr_t lo, hi, lock;
    unsigned cur = lw_load_relaxed(&guard_cursor);
    if (!lw_guarded_next(&cur, &lo, &hi, &lock)) {
        lw_store_release(&s->busy, 0);
        return;
    }
    lw_store_relaxed(&guard_cursor, cur);
    /* A word of the range: each rotation another, at random. */
    uintptr_t base = lo & ~(uintptr_t)7, words = (hi - base + 7) / 8;
    unsigned turn = lw_load_relaxed(&guard_turn) + 1;
    lw_store_relaxed(&guard_turn, turn);
    uintptr_t addr = base + 8 * (uintptr_t)(lw_mix64(turn) % words);
    unsigned len = 8;
    if (addr < lo)
        addr = lo;
    while (len > 1 && ((addr % len) != 0 || addr + len > hi))
        len >>= 1;
    uint64_t v0;
    if (!peek(addr, len, &v0)) {
        lw_store_release(&s->busy, 0);
        return;
    }
    uint64_t gen = ((lw_load_relaxed(&s->word) >> 2) + 1) & RACE_GEN_MASK;
    s->addr = addr;
    s->len = len;
    s->value = v0;
    s->rw = true;
    s->tid = self;
    lw_store_relaxed(&s->guard_lock, lock);
    lw_store_release(&s->nfd, 0);
    lw_store_release(&s->word, gen << 2 | HIT_ARMED);
    struct perf_event_attr attr;
    watch_attr(&attr, addr, len, true, RACE_TAG << 48 | (uint64_t)GUARD_SLOT << 40 | gen);
    s->narmed = arm_threads(s, &attr, self, true);
    lw_store_release(&s->persist, 1);
    __atomic_fetch_add(&stats.guard_armed, 1, __ATOMIC_RELAXED);
    lw_store_release(&s->busy, 0);
}

/* ---- the sampling handler ---- */

/* May the thread single-step the instruction at code?  Not through what
 * would carry the trap flag where it must not go: a system call (a clone
 * child would start with it), an interrupt, pushf (it would store it where
 * the program can see it), popf and iret (they set the flags). */
static bool steppable(const uint8_t *code, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = code[i];
        if (b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x3e ||
            b == 0x26 || b == 0x36 || b == 0x64 || b == 0x65 || (b & 0xf0) == 0x40)
            continue;   /* prefixes, REX */
        if (b == 0xcc || b == 0xcd || b == 0xce || b == 0xcf || b == 0x9c || b == 0x9d ||
            b == 0xf1)
            return false;
        if (b == 0x0f)
            return i + 1 < len && code[i + 1] != 0x05 && code[i + 1] != 0x34 &&
                   code[i + 1] != 0x07 && code[i + 1] != 0x35;
        return true;
    }
    return false;
}

static void set_step(void *ucv, bool on_)
{
    ucontext_t *uc = ucv;
    if (on_) {
        me.stepped_ever = true;
        uc->uc_mcontext.gregs[REG_EFL] |= (greg_t)EFLAGS_TF;
    } else
        uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)EFLAGS_TF;
}

/* The sampled thread is about to run the instruction at the context's pc:
 * decode it and watch what it accesses.  Timer samples land mostly just
 * after a memory access (the interrupt waits for the slow load to retire),
 * on an instruction without one; then the thread single-steps (the trap
 * flag, SIGTRAP TRAP_TRACE back to here) up to STEP_MAX instructions to the
 * next one that accesses memory, which it has not run yet: the registers
 * say exactly where it will go. */
static void sample_at(lw_thread *t, void *ucv)
{
    lw_regs regs;
    lw_regs_from_ucontext(&regs, ucv);
    uintptr_t pc = (uintptr_t)regs.rip;
    if (pc_excluded(pc)) {
        me.steps = 0;
        return;
    }
    size_t len = 4096 - (pc & 4095);
    if (len > 15)
        len = 15;
    if (is_atomic((const uint8_t *)pc, len)) {
        me.steps = 0;
        __atomic_fetch_add(&stats.atomic, 1, __ATOMIC_RELAXED);
        return;
    }
    lw_mem_access acc[4];
    int n = lw_decode_access((const uint8_t *)pc, len, pc, &regs, acc, 4);
    if (n > 4)
        n = 4;
    if (n > 0 && lw_load_relaxed(&lw_annot_live)) {
        /* Guarded memory accessed without its lock: no second thread
         * needed. */
        for (int i = 0; i < n; i++) {
            uintptr_t lock;
            if (lw_guarded_lookup(acc[i].addr, &lock) && !holds(t, lock, acc[i].write)) {
                t->guard++;
                queue_guarded(t, false, pc, 0, acc[i].addr, acc[i].size, acc[i].write, lock);
                t->guard--;
            }
        }
    }
    /* The first access that is not to the thread's own stack. */
    uintptr_t sp = (uintptr_t)regs.gpr[4];
    uintptr_t lo = me.stack_lo ? me.stack_lo : sp - 65536;
    uintptr_t hi = me.stack_hi ? me.stack_hi : sp + MAIN_STACK_GUESS;
    int pick = -1;
    for (int i = 0; i < n && pick < 0; i++) {
        uintptr_t a = acc[i].addr;
        if (!((a >= lo && a < hi) || (a >= sp - 128 && a < sp + 65536)))
            pick = i;
    }
    if (n >= 0 && pick < 0 && me.steps > 0 && steppable((const uint8_t *)pc, len) &&
        !sigismember(&((const ucontext_t *)ucv)->uc_sigmask, SIGTRAP)) {
        /* No access, or only to its own stack: on to the next instruction.
         * (With SIGTRAP blocked where the step would trap, the kernel
         * would force the default action: the process would die.) */
        me.steps--;
        set_step(ucv, true);
        return;
    }
    bool stepped = me.steps < STEP_MAX;
    me.steps = 0;
    if (n <= 0) {
        __atomic_fetch_add(&stats.no_access, 1, __ATOMIC_RELAXED);
        return;
    }
    if (pick < 0) {
        __atomic_fetch_add(&stats.on_stack, 1, __ATOMIC_RELAXED);
        return;   /* the sampled thread's own stack */
    }
    lw_mem_access a0 = acc[pick];
    if (a0.write && !a0.read) {
        int k = lw_decode_length((const uint8_t *)pc, len, pc);
        if (k > 0 && fence_at(pc + (unsigned)k)) {
            __atomic_fetch_add(&stats.atomic, 1, __ATOMIC_RELAXED);
            return;   /* a C11 sequentially consistent store (GCC's mov; mfence) */
        }
    }
    if (stepped)
        __atomic_fetch_add(&stats.stepped, 1, __ATOMIC_RELAXED);
    uintptr_t addr = a0.addr;
    unsigned size = a0.size;
    if (size > 8 && (addr & 7) == 0)
        size = 8;   /* a vector access: its first word */
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return;
    /* Debug registers watch 1, 2, 4 or 8 aligned bytes. */
    if (addr % size) {
        if ((addr & 7) + size > 8)
            return;
        addr &= ~(uintptr_t)7;
        size = 8;
    }
    t->guard++;
    watch(t, pc, addr, size, a0.write);
    t->guard--;
}

static void sample(void *ucv)
{
    lw_thread *t = lw_tls.t;
    if (!lw_thread_own(t) || !t->ready || lw_guarded())
        return;
    if (trace_check_due() && tracer_pid() > 0) {
        step_aside(ASIDE_TRACED);
        return;
    }
    t->guard++;
    if (lw_load_relaxed(&lw_annot_live) || lw_load_relaxed(&slots[GUARD_SLOT].persist))
        guard_rotate(sys_gettid());
    t->guard--;
    __atomic_fetch_add(&stats.samples, 1, __ATOMIC_RELAXED);
    set_step(ucv, false);   /* a step of an earlier sample may be pending: this one replaces it */
    me.steps = STEP_MAX;
    sample_at(t, ucv);
}

/* A single step of a sample (sample_at set the trap flag). */
static void step(void *ucv)
{
    set_step(ucv, false);
    lw_thread *t = lw_tls.t;
    if (!lw_load_relaxed(&on) || !lw_thread_own(t) || !t->ready || lw_guarded()) {
        me.steps = 0;
        return;
    }
    sample_at(t, ucv);
}

static void sample_handler(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    int e = errno;
    if (lw_load_relaxed(&on) && si->si_code == SI_TIMER)
        sample(ucv);
    errno = e;
}

/* ---- threads and timers ---- */

static void timer_start(void)
{
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = race_sig;
    sev._sigev_un._tid = sys_gettid();
    int id = -1;
    if (lw_syscall(SYS_timer_create, CLOCK_THREAD_CPUTIME_ID, &sev, &id) != 0)
        return;
    long ns = 1000000000L / lw_opt.race_rate;
    struct itimerspec its = { { ns / 1000000000L, ns % 1000000000L },
                              { ns / 1000000000L, ns % 1000000000L } };
    if (lw_syscall(SYS_timer_settime, id, 0, &its, NULL) != 0) {
        lw_syscall(SYS_timer_delete, id);
        return;
    }
    me.timer = id;
    if (me.slot >= 0)
        lw_store_release(&threads[me.slot].timer, id);
}

static bool sig_blocked(void)
{
    sigset_t cur;
    sigemptyset(&cur);
    lw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, _NSIG / 8);
    return sigismember(&cur, race_sig) == 1;
}

/* This thread's SIGTRAP mask, for the armings: a thread that blocks
 * SIGTRAP (a thread that blocks every signal to sigwait, say) is not armed,
 * since a watchpoint's SIGTRAP would wait for it, pending, where its
 * sigwait could take it.  One already pending is taken back; a SIGTRAP of
 * anyone else's is queued again, with its information. */
static void trap_mask_noted(void)
{
    sigset_t cur;
    sigemptyset(&cur);
    lw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, _NSIG / 8);
    bool tb = sigismember(&cur, SIGTRAP) == 1;
    __atomic_store_n(&threads[me.slot].trap_blocked, tb, __ATOMIC_SEQ_CST);
    if (!tb)
        return;
    /* Events armed on this thread before it blocked SIGTRAP (the guard
     * slot's, an arming in progress, one being closed) would leave their
     * trap pending for the program's sigwait: wait for armings under way,
     * disable this thread's events, wait for closes under way, then take
     * back what came meanwhile. */
    int tid = sys_gettid();
    for (unsigned i = 0; i < LW_RACE_SLOTS; i++) {
        watch_slot *s = &slots[i];
        for (unsigned k = 0; __atomic_load_n(&s->arming, __ATOMIC_SEQ_CST) && k < HIT_WAIT_SPINS;
             k++)
            lw_syscall(SYS_sched_yield);
        disarm_for(s, tid);
        for (unsigned k = 0; __atomic_load_n(&s->closing, __ATOMIC_SEQ_CST) && k < HIT_WAIT_SPINS;
             k++)
            lw_syscall(SYS_sched_yield);
    }
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, SIGTRAP);
    struct timespec zero = { 0, 0 };
    siginfo_t si;
    while (lw_syscall(SYS_rt_sigtimedwait, &only, &si, &zero, _NSIG / 8) == SIGTRAP) {
        if (si.si_code == TRAP_PERF && (perf_data_of(&si) >> 48) == RACE_TAG)
            continue;
        lw_syscall(SYS_rt_tgsigqueueinfo, getpid(), sys_gettid(), SIGTRAP, &si);
        break;
    }
}

void lw_race_mask_changed(void)
{
    /* Not for lockwatch's own calls (the guard is up): libunwind blocks
     * every signal around its internal locks, with sigprocmask, which binds
     * to lockwatch's wrapper; inside the SIGTRAP handler its restore leaves
     * SIGTRAP blocked, which marked the thread as one never to arm. */
    if (!lw_load_relaxed(&on) || !me.started || me.slot < 0 || lw_guarded())
        return;
    int e = errno;
    trap_mask_noted();
    bool blocked = sig_blocked();
    if (blocked && me.timer >= 0) {
        int id = me.timer;
        if (lw_cas_acq_rel(&threads[me.slot].timer, &id, -1))
            lw_syscall(SYS_timer_delete, id);
        me.timer = -1;
        /* A sample that fired before the block waits, pending, for this
         * thread: take it back (a sigwait of the program must not see it). */
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, race_sig);
        struct timespec zero = { 0, 0 };
        while (lw_syscall(SYS_rt_sigtimedwait, &only, NULL, &zero, _NSIG / 8) == race_sig)
            ;
    } else if (!blocked && me.timer < 0 && !sig_blocked()) {
        timer_start();
    }
    errno = e;
}

static void thread_register(uintptr_t lo, uintptr_t hi)
{
    if (me.started)
        return;
    me.started = true;
    me.slot = -1;
    me.timer = -1;
    me.stack_lo = lo;
    me.stack_hi = hi;
    int tid = sys_gettid();
    for (int i = 0; i < LW_RACE_MAX_THREADS; i++) {
        int z = 0;
        if (lw_load_relaxed(&threads[i].tid) == 0 && lw_cas_acq_rel(&threads[i].tid, &z, tid)) {
            me.slot = i;
            lw_store_release(&threads[i].timer, -1);
            break;
        }
    }
    if (me.slot < 0) {
        static int once;
        lw_warn_once(&once, "lockwatch: warning: more than %d live threads; race sampling "
                     "watches only the first\n", LW_RACE_MAX_THREADS);
        return;
    }
    trap_mask_noted();
    if (!sig_blocked())   /* a thread born with it blocked is sampled once it unblocks it */
        timer_start();
}

void lw_race_thread_start(void)
{
    if (!lw_load_relaxed(&on))
        return;
    int e = errno;
    lw_thread *t = lw_tls.t;
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t lo = lw_thread_own(t) && t->stack_lo ? t->stack_lo : 0;
    thread_register(lo, here + STACK_ABOVE);
    errno = e;
}

void lw_race_thread_end(void)
{
    if (!me.started)
        return;
    int e = errno;
    if (me.slot >= 0) {
        /* The slot's timer, unless step_aside deleted it already (a
         * deleted id may be the program's next timer's). */
        int id = lw_load_acquire(&threads[me.slot].timer);
        if (id >= 0 && lw_cas_acq_rel(&threads[me.slot].timer, &id, -1))
            lw_syscall(SYS_timer_delete, id);
        lw_store_release(&threads[me.slot].tid, 0);
    }
    me.timer = -1;
    me.slot = -1;
    errno = e;
}

/* Stops sampling for the rest of the run, gives the sampling signal back
 * and frees the debug registers (the windows in flight end, the guard
 * slot's watchpoint is closed), then says why in one line.  From a
 * sampler's handler too (ASIDE_TRACED). */
static void step_aside(enum aside why)
{
    int was = 1;
    if (!lw_cas_acq_rel(&on, &was, 0))
        return;
    for (int i = 0; i < LW_RACE_MAX_THREADS; i++) {
        int id = lw_load_acquire(&threads[i].timer);
        if (id >= 0 && lw_load_relaxed(&threads[i].tid) != 0 &&
            lw_cas_acq_rel(&threads[i].timer, &id, -1))
            lw_syscall(SYS_timer_delete, id);
    }
    /* Each slot is taken for good: a window in flight ends within the
     * delay; the guard slot's arming is closed. */
    for (unsigned i = 0; i < LW_RACE_SLOTS; i++) {
        for (unsigned tries = 0; tries < 1000; tries++) {
            int b = 0;
            if (lw_cas_acq_rel(&slots[i].busy, &b, 1)) {
                guard_close(&slots[i]);
                break;
            }
            sleep_us(100 + lw_opt.race_delay_us / 10);
        }
    }
    switch (why) {
    case ASIDE_SIGNAL:
        lw_warn("lockwatch: race sampling is off: the program installs its own handler for "
                "signal %d (SIGRTMAX-%d), which lockwatch used\n", race_sig,
                LW_RACE_SIGNAL_FROM_MAX);
        break;
    case ASIDE_TRACED:
        lw_warn("lockwatch: race sampling is off: a debugger or tracer (pid %d) is attached; "
                "its breakpoints need the debug registers and SIGTRAP\n", lw_load_relaxed(&tracer));
        break;
    case ASIDE_WATCHPOINTS:
        lw_warn("lockwatch: race sampling is off: the program opens hardware breakpoints or "
                "watchpoints of its own (perf_event_open), which need the debug registers\n");
        break;
    }
}

void lw_race_program_breakpoint(const void *attr, long pid)
{
    if (!lw_load_relaxed(&on) || !attr)
        return;
    uint32_t type;
    memcpy(&type, attr, sizeof(type));   /* perf_event_attr.type, its first field */
    if (type != PERF_TYPE_BREAKPOINT)
        return;
    /* Its own threads' registers (0: the caller, -1 with a cpu: every task
     * there, this process's too); another process's are not ours. */
    if (pid > 0 && pid != getpid() && lw_syscall(SYS_tgkill, getpid(), pid, 0) != 0)
        return;
    int e = errno;
    step_aside(ASIDE_WATCHPOINTS);
    errno = e;
}

bool lw_race_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (race_sig && sig == race_sig && act && lw_load_relaxed(&on)) {
        int e = errno;
        step_aside(ASIDE_SIGNAL);
        errno = e;
        return false;   /* the program's call goes through */
    }
    if (sig != SIGTRAP || !lw_load_acquire(&trap_installed))
        return false;
    if (old)
        *old = prog_trap;
    if (act)
        prog_trap = *act;
    return true;
}

/* ---- start-up ---- */

static const char *refusal(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
        return "perf_event_open was refused (perf_event_paranoid, a seccomp filter or a "
               "container's policy)";
    case ENOSYS:
        return "perf_event_open does not exist here (seccomp or an old kernel)";
    case ENOENT:
    case EOPNOTSUPP:
        return "this machine has no hardware breakpoints for perf_event_open";
    case EINVAL:
    case E2BIG:
        return "this kernel cannot send SIGTRAP on a watchpoint (Linux 5.13 or later needed)";
    default:
        return "perf_event_open failed";
    }
}

static volatile uint64_t probe_word;

void lw_race_init(void)
{
    static int done;
    if (done++ || lw_opt.races == 0)
        return;
    int e = errno;
    race_sig = SIGRTMAX - LW_RACE_SIGNAL_FROM_MAX;
    real_sigaction = __sigaction;
    /* Can this process arm a watchpoint that traps? */
    int err = 0;
    if (lw_opt.race_test_refuse) {
        err = EACCES;
    } else {
        struct perf_event_attr attr;
        watch_attr(&attr, (uintptr_t)&probe_word, sizeof(probe_word), false, 0);
        long fd = sys_perf_event_open(&attr, 0);
        if (fd < 0)
            err = errno;
        else
            lw_syscall(SYS_close, (int)fd);
    }
    if (err) {
        lw_warn("lockwatch: race sampling is off: %s (%s); the program runs without it\n",
                refusal(err), strerror(err));
        errno = e;
        return;
    }
    int tp = tracer_pid();
    if (tp > 0) {
        lw_warn("lockwatch: race sampling is off: a debugger or tracer (pid %d) is attached; "
                "its breakpoints need the debug registers and SIGTRAP\n", tp);
        errno = e;
        return;
    }
    if (!lw_decode_init()) {
        lw_warn("lockwatch: race sampling is off: the instruction decoder cannot start: %s; "
                "the program runs without it\n", lw_decode_why());
        errno = e;
        return;
    }
    struct sigaction old;
    if (real_sigaction(race_sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL &&
        old.sa_handler != SIG_IGN) {
        lw_warn("lockwatch: race sampling is off: signal %d (SIGRTMAX-%d) already has a "
                "handler\n", race_sig, LW_RACE_SIGNAL_FROM_MAX);
        errno = e;
        return;
    }
    dl_iterate_phdr(collect_module, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = trap_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (real_sigaction(SIGTRAP, &sa, &prog_trap) != 0) {
        errno = e;
        return;
    }
    lw_store_release(&trap_installed, 1);
    sa.sa_sigaction = sample_handler;
    if (real_sigaction(race_sig, &sa, NULL) != 0) {
        errno = e;
        return;
    }
    sampled_pid = getpid();
    lw_store_release(&on, 1);
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    thread_register(here - MAIN_STACK_GUESS, here + (1ul << 20));
    errno = e;
}

bool lw_race_on(void)
{
    return lw_load_relaxed(&on) != 0;
}

int lw_race_signal(void)
{
    return lw_load_relaxed(&on) ? race_sig : 0;
}

void lw_race_atfork_child(void)
{
    /* Timers are not inherited and the other threads are gone: the child
     * is not sampled (its SIGTRAP handler stays, forwarding). */
    lw_store_release(&on, 0);
    me.timer = -1;
    /* The parent reports the races it queued; the child's copies are not
     * its own (and its monitor is gone). */
    for (unsigned i = 0; i < LW_RACE_PENDING; i++)
        pending[i].state = 0;
    npending = 0;
    waker = NULL;
}

void lw_race_get_stats(lw_race_stats *s)
{
    s->samples = lw_load_relaxed(&stats.samples);
    s->armed = lw_load_relaxed(&stats.armed);
    s->hits = lw_load_relaxed(&stats.hits);
    s->races = lw_load_relaxed(&stats.races);
    s->unseen_writes = lw_load_relaxed(&stats.unseen_writes);
    s->no_access = lw_load_relaxed(&stats.no_access);
    s->on_stack = lw_load_relaxed(&stats.on_stack);
    s->atomic = lw_load_relaxed(&stats.atomic);
    s->slots_full = lw_load_relaxed(&stats.slots_full);
    s->no_target = lw_load_relaxed(&stats.no_target);
    s->atomic_hits = lw_load_relaxed(&stats.atomic_hits);
    s->stepped = lw_load_relaxed(&stats.stepped);
    s->atomic_objects = lw_load_relaxed(&stats.atomic_objects);
    s->guard_armed = lw_load_relaxed(&stats.guard_armed);
    s->guarded = lw_load_relaxed(&stats.guarded);
}

void lw_race_final_words(void)
{
    static int said;
    if (!lw_opt.race_stats || !sampled_pid || getpid() != sampled_pid || said++)
        return;   /* a fork child was not sampled: no line of its own */
    lw_race_stats s;
    lw_race_get_stats(&s);
    lw_warn("lockwatch: race sampling: %llu samples, %llu armed, %llu hits, %llu races, "
            "%llu unseen writes, %llu atomic hits, %llu on atomic objects, "
            "%llu reached by single steps (not armed: "
            "%llu no memory operand, %llu stack, "
            "%llu atomic, %llu slots full, %llu no other thread); guarded ranges: %llu armed, "
            "%llu accesses without their lock\n",
            (unsigned long long)s.samples, (unsigned long long)s.armed,
            (unsigned long long)s.hits, (unsigned long long)s.races,
            (unsigned long long)s.unseen_writes, (unsigned long long)s.atomic_hits,
            (unsigned long long)s.atomic_objects, (unsigned long long)s.stepped,
            (unsigned long long)s.no_access, (unsigned long long)s.on_stack,
            (unsigned long long)s.atomic, (unsigned long long)s.slots_full,
            (unsigned long long)s.no_target, (unsigned long long)s.guard_armed,
            (unsigned long long)s.guarded);
}

/* ---- reporting (safe points) ---- */

static void snap_side(const race_side *s, lw_thread_snap *ts)
{
    memset(ts, 0, sizeof(*ts));
    ts->num = s->num;
    ts->parent = s->parent;
    ts->tid = s->tid;
    memcpy(ts->name, s->name, sizeof(ts->name));
    ts->created_seen = s->created_seen;
    ts->create_stack = s->create_stack;
    ts->stack = lw_depot_put(s->pcs, s->npcs);
    ts->nholds = s->nholds < LW_TSNAP_HOLDS ? s->nholds : LW_TSNAP_HOLDS;
    for (unsigned i = 0; i < ts->nholds; i++) {
        lw_hold_snap *h = &ts->holds[i];
        h->lock.id = s->holds[i].id;
        h->lock.addr = s->hold_addr[i];
        h->lock.kind = s->hold_kind[i];
        h->lock.mtype = s->hold_mtype[i];
        h->lock.name = lw_lock_name(s->hold_addr[i]);
        h->mode = s->holds[i].mode;
        h->stack = lw_depot_put(&s->hold_pc[i], 1);
    }
}

static const char *access_word(const race_side *s)
{
    return s->wrote ? "wrote" : "read";
}

/* An access to guarded memory without its lock: one thread. */
static void report_guarded(lw_finding *f, const race_rec *r)
{
    lw_lock_snap ls;
    memset(&ls, 0, sizeof(ls));
    const lw_lock *l = lw_registry_find(r->guard_lock);
    if (l)
        lw_snap_lock(l, &ls);
    ls.addr = r->guard_lock;
    if (!ls.name)
        ls.name = lw_lock_name(r->guard_lock);
    lw_finding_lock(f, &ls, true, "guards the memory (LOCKWATCH_GUARDED_BY)", 0);
    lw_thread_snap ts;
    snap_side(&r->a, &ts);
    lw_fthread *ft = lw_finding_thread(f, &ts);
    char lname[160];
    lw_buf b;
    lw_buf_init(&b, lname, sizeof(lname));
    char sym[128];
    if (ls.name)
        lw_buf_printf(&b, " `%s`", ls.name);
    else if (lw_symbolize_data(r->guard_lock, sym, sizeof(sym)) && sym[0])
        lw_buf_printf(&b, " `%s`", sym);
    else
        lw_buf_printf(&b, " at 0x%lx", (unsigned long)r->guard_lock);
    lname[b.len < sizeof(lname) ? b.len : sizeof(lname) - 1] = '\0';
    const char *how = r->a.wrote ? "wrote" : "read";
    if (ft)
        lw_finding_what(ft, "%s %u bytes at 0x%lx%s%s%s without holding %s%s", how, r->size,
                        (unsigned long)r->addr, f->race.variable[0] ? " (" : "",
                        f->race.variable, f->race.variable[0] ? ")" : "",
                        lw_lock_kind_word(ls.kind), lname);
    lw_finding_message(f, "data race on %u bytes at 0x%lx%s%s%s: T%u %s them without holding "
                       "%s%s, which LOCKWATCH_GUARDED_BY declares guards them%s",
                       r->size, (unsigned long)r->addr, f->race.variable[0] ? " (" : "",
                       f->race.variable, f->race.variable[0] ? ")" : "", r->a.num, how,
                       lw_lock_kind_word(ls.kind), lname,
                       r->a.wrote ? "" : " (a read needs it at least for reading)");
}

/* Was the side's access made by the C++ library's atomics (std::atomic<T>::
 * load or store, inlined or called)?  Its pc's innermost source frame says. */
static bool side_in_atomic_function(const race_side *s)
{
    if (!s->pc)
        return false;
    lw_frame_info fi;
    /* lw_symbolize looks up pc - 1, the call of a return address: an exact
     * pc is given one past, a hitter's trap pc (the next instruction's) as
     * is, and either way the byte looked up is in the accessing
     * instruction. */
    lw_symbolize(s->pc_exact ? s->pc + 1 : s->pc, &fi);
    const char *fn = fi.ninlined ? fi.inlined[0].function : fi.function;
    return lw_atomic_function_name(fn);
}

/* A race on memory that the program declares atomic is no race: on x86 an
 * atomic load, and a release or relaxed store, are plain moves, which the
 * sampler and the watchpoint cannot tell from racy ones.  What the debug
 * information says: the variable's type (d, the memory's description: a
 * global or static, down to the member at the address; every access to it
 * is atomic), or the functions that made the two accesses, both the C++
 * library's atomics (one plain access against a std::atomic_ref store is
 * still a race). */
static bool atomic_object(const race_rec *r, const lw_lock_desc *d)
{
    return d->atomic || (side_in_atomic_function(&r->a) && side_in_atomic_function(&r->b));
}

static void report(const race_rec *r)
{
    /* Named as locks are: a global or static down to its member
     * ("table[3].ready"), a heap object ("heap object 0x...+0x8"), a
     * thread's stack. */
    lw_lock_desc d;
    lw_lock_describe(r->addr, &d);
    if (!r->guard_lock && atomic_object(r, &d)) {
        __atomic_fetch_add(&stats.atomic_objects, 1, __ATOMIC_RELAXED);
        return;
    }
    lw_finding *f = lw_finding_new(LW_F_DATA_RACE);
    if (!f)
        return;
    f->race.addr = r->addr;
    f->race.size = r->size;
    lw_buf vb;
    lw_buf_init(&vb, f->race.variable, sizeof(f->race.variable));
    lw_buf_puts(&vb, d.label);
    if (r->guard_lock) {
        report_guarded(f, r);
        lw_finding_emit(f);
        return;
    }
    const race_side *sides[2] = { &r->a, &r->b };
    for (unsigned i = 0; i < 2; i++) {
        lw_thread_snap ts;
        snap_side(sides[i], &ts);
        lw_fthread *ft = lw_finding_thread(f, &ts);
        const char *how = i == 0 || sides[i]->write_known ? access_word(sides[i])
                          : r->a.wrote ? "read (or wrote the same value to)"
                                       : "wrote";
        lw_finding_what(ft, "%s %u bytes at 0x%lx%s%s%s (%s)", how, r->size,
                        (unsigned long)r->addr, f->race.variable[0] ? " (" : "",
                        f->race.variable, f->race.variable[0] ? ")" : "",
                        i == 0 ? "sampled here; the watchpoint was armed"
                               : "hit the watchpoint meanwhile");
    }
    /* Locks both held, necessarily both for reading. */
    bool shared_read = false;
    for (unsigned i = 0; i < r->a.nholds; i++)
        for (unsigned j = 0; j < r->b.nholds; j++)
            shared_read |= r->a.holds[i].id == r->b.holds[j].id;
    lw_finding_message(f, "data race on %u bytes at 0x%lx%s%s%s: T%u and T%u accessed them at "
                       "the same time, at least one writing, %s",
                       r->size, (unsigned long)r->addr, f->race.variable[0] ? " (" : "",
                       f->race.variable, f->race.variable[0] ? ")" : "", r->a.num, r->b.num,
                       shared_read ? "holding in common only rwlocks both held for reading, "
                                     "which do not exclude each other"
                                   : "with no lock in common");
    lw_finding_emit(f);
}

/* Each ready record is taken by one reporter (CAS 2 -> 3): the monitor
 * and a thread at a safe point may both be here. */
static void flush_pending(void)
{
    for (unsigned i = 0; i < LW_RACE_PENDING; i++) {
        int st = 2;
        if (!lw_cas_acq_rel(&pending[i].state, &st, 3))
            continue;
        __atomic_fetch_sub(&npending, 1, __ATOMIC_RELAXED);
        lw_store_relaxed(&pending[i].reporter, sys_gettid());
        report(&pending[i]);
        lw_store_release(&pending[i].state, 0);
    }
}

void lw_race_flush(void)
{
    if (!lw_load_acquire(&npending) || lw_guarded())
        return;
    int e = errno;
    lw_guard_up();
    flush_pending();
    lw_guard_down();
    errno = e;
}

void lw_race_flush_owned(void)
{
    if (!lw_load_acquire(&npending))
        return;
    int e = errno;
    flush_pending();
    errno = e;
}

/* How long exit waits for reports the monitor is writing: a report asks
 * the symbolizer helper a few questions, each bounded by its timeout (the
 * first data question about a large binary indexes its DWARF). */
#define FLUSH_EXIT_WAIT_NS 15000000000ull

void lw_race_flush_exit(void)
{
    lw_race_flush();
    if (!lw_load_relaxed(&on) && !sampled_pid)
        return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int self = sys_gettid();
    for (unsigned spins = 0;; spins++) {
        bool busy = false;
        /* Not a report this thread itself was writing when a signal
         * handler of the program called exit. */
        for (unsigned i = 0; i < LW_RACE_PENDING; i++)
            busy |= lw_load_acquire(&pending[i].state) == 3 &&
                    lw_load_relaxed(&pending[i].reporter) != self;
        if (!busy)
            return;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t1.tv_nsec -
                (uint64_t)t0.tv_nsec > FLUSH_EXIT_WAIT_NS)
            return;
        if (spins < 100)
            lw_syscall(SYS_sched_yield);
        else
            sleep_us(1000);
    }
}

void lw_race_set_waker(void (*wake)(void))
{
    lw_store_release(&waker, wake);
}
