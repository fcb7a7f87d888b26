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
#include "decode.h"
#include "finding.h"
#include "log.h"
#include "lw_atomic.h"
#include "lw_core.h"
#include "options.h"
#include "stacks.h"
#include "thread.h"

#include <errno.h>
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
    race_side hit;
} watch_slot;

typedef struct {
    int state;
    uintptr_t addr;
    unsigned size;
    race_side a, b;                 /* a: the sampled thread, b: the hitter */
} race_rec;

static struct {
    int tid;
    int timer;                      /* kernel timer id, or -1 */
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

/* This thread's table slot (-1 none), timer and stack bounds. */
static LW_TLS struct {
    int slot;
    int timer;
    uintptr_t stack_lo, stack_hi;
    bool started;
} me;

static long sys_perf_event_open(struct perf_event_attr *a, int tid)
{
    return syscall(SYS_perf_event_open, a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static int sys_gettid(void)
{
    return (int)syscall(SYS_gettid);
}

/* Reads len (<= 8) bytes at addr without faulting; false when unmapped. */
static bool peek(uintptr_t addr, unsigned len, uint64_t *out)
{
    *out = 0;
    struct iovec local = { out, len }, remote = { (void *)addr, len };
    return syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0) == (long)len;
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

/* ---- which code is never sampled ---- */

static bool is_excluded_name(const char *n)
{
    static const char *const names[] = { "/libc.so", "/ld-linux", "libunwind", "liblockwatch",
                                         "/libpthread.so", "/libdl.so" };
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

/* ---- the trap handler: another thread hit a watched address ---- */

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
            syscall(SYS_ioctl, lw_load_relaxed(&s->fd[i]), PERF_EVENT_IOC_DISABLE, 0);
            break;
        }
    __atomic_fetch_sub(&s->in_disarm, 1, __ATOMIC_SEQ_CST);
}

static void on_hit(unsigned idx, uint64_t gen, void *ucv)
{
    watch_slot *s = &slots[idx];
    int tid = sys_gettid();
    disarm_for(s, tid);   /* one trap per thread and arming is enough */
    lw_thread *t = lw_tls.t;
    if (!lw_thread_own(t) || !t->ready || lw_guarded() || tid == lw_load_relaxed(&s->tid))
        return;   /* lockwatch's own access, or a thread it does not know */
    uint64_t w = gen << 2 | HIT_ARMED;
    if (!lw_cas_acq_rel(&s->word, &w, gen << 2 | HIT_WRITING))
        return;
    const ucontext_t *uc = ucv;
    race_side *h = &s->hit;
    capture_side(h, t, (uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
    if (!s->rw) {
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
        syscall(SYS_tgkill, getpid(), sys_gettid(), SIGTRAP);
        errno = e;
    } else {
        p.sa_handler(sig);
    }
}

/* ---- the sampling handler ---- */

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

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 }, rem;
    while (syscall(SYS_nanosleep, &ts, &rem) != 0 && errno == EINTR)
        ts = rem;
}

static void queue_race(const watch_slot *s, lw_thread *t, uintptr_t pc, bool wrote)
{
    uint64_t a = pc, b = s->hit.pc;
    uint64_t sig = lw_mix64(a < b ? a : b) ^ lw_mix64((a < b ? b : a) + 0x9e37);
    if (!sig)
        sig = 1;
    for (unsigned i = 0, j = sig % SEEN_PAIRS; i < SEEN_PAIRS; i++, j = (j + 1) % SEEN_PAIRS) {
        uint64_t cur = lw_load_relaxed(&seen_pairs[j]);
        if (cur == sig)
            return;   /* this pair of code locations is queued or reported */
        if (cur == 0) {
            if (lw_cas_acq_rel(&seen_pairs[j], &cur, sig))
                break;
            if (cur == sig)
                return;
        }
    }
    for (unsigned i = 0; i < LW_RACE_PENDING; i++) {
        int st = 0;
        if (!lw_cas_acq_rel(&pending[i].state, &st, 1))
            continue;
        race_rec *r = &pending[i];
        r->addr = s->addr;
        r->size = s->len;
        capture_side(&r->a, t, pc);
        r->a.wrote = r->a.write_known = wrote;
        r->b = s->hit;
        lw_store_release(&r->state, 2);
        __atomic_fetch_add(&npending, 1, __ATOMIC_RELEASE);
        __atomic_fetch_add(&stats.races, 1, __ATOMIC_RELAXED);
        void (*wake)(void) = lw_load_acquire(&waker);
        if (wake)
            wake();   /* the monitor writes the report, within a slice */
        return;
    }
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
    lw_store_release(&s->nfd, 0);
    lw_store_release(&s->word, gen << 2 | HIT_ARMED);
    struct perf_event_attr attr;
    watch_attr(&attr, addr, len, wrote, RACE_TAG << 48 | (uint64_t)idx << 40 | gen);
    int nfd = 0;
    for (unsigned i = 0; i < LW_RACE_MAX_THREADS && nfd < LW_RACE_MAX_TARGETS; i++) {
        int tid = lw_load_relaxed(&threads[i].tid);
        if (tid == 0 || tid == self)
            continue;
        long fd = sys_perf_event_open(&attr, tid);
        if (fd < 0)
            continue;   /* the thread ended, or its debug registers are taken */
        s->fd[nfd] = (int)fd;
        s->fd_tid[nfd] = tid;
        nfd++;
        lw_store_release(&s->nfd, nfd);
    }
    if (nfd) {
        __atomic_fetch_add(&stats.armed, 1, __ATOMIC_RELAXED);
        sleep_us(lw_opt.race_delay_us);
    } else {
        __atomic_fetch_add(&stats.no_target, 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&s->nfd, 0, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; __atomic_load_n(&s->in_disarm, __ATOMIC_SEQ_CST) && i < HIT_WAIT_SPINS;
         i++)
        syscall(SYS_sched_yield);
    if (__atomic_load_n(&s->in_disarm, __ATOMIC_SEQ_CST))
        return;   /* a hitter is stuck in disarm_for: leak the fds and the slot */
    for (int i = 0; i < nfd; i++)
        syscall(SYS_close, s->fd[i]);
    uint64_t w = gen << 2 | HIT_ARMED;
    if (!lw_cas_acq_rel(&s->word, &w, gen << 2 | HIT_CLOSED)) {
        for (unsigned i = 0; (w & 3) == HIT_WRITING && i < HIT_WAIT_SPINS; i++) {
            syscall(SYS_sched_yield);
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
    } else {
        uint64_t v1;
        if (peek(addr, len, &v1) && v1 != v0)
            __atomic_fetch_add(&stats.unseen_writes, 1, __ATOMIC_RELAXED);
    }
    lw_store_release(&s->busy, 0);
}

static void sample(void *ucv)
{
    lw_thread *t = lw_tls.t;
    if (!lw_thread_own(t) || !t->ready || lw_guarded())
        return;
    lw_regs regs;
    lw_regs_from_ucontext(&regs, ucv);
    uintptr_t pc = (uintptr_t)regs.rip;
    if (pc_excluded(pc))
        return;
    __atomic_fetch_add(&stats.samples, 1, __ATOMIC_RELAXED);
    size_t len = 4096 - (pc & 4095);
    if (len > 15)
        len = 15;
    if (is_atomic((const uint8_t *)pc, len)) {
        __atomic_fetch_add(&stats.atomic, 1, __ATOMIC_RELAXED);
        return;
    }
    lw_mem_access acc[4];
    int n = lw_decode_access((const uint8_t *)pc, len, pc, &regs, acc, 4);
    if (n <= 0) {
        __atomic_fetch_add(&stats.no_access, 1, __ATOMIC_RELAXED);
        return;
    }
    uintptr_t addr = acc[0].addr;
    unsigned size = acc[0].size;
    uintptr_t sp = (uintptr_t)regs.gpr[4];
    uintptr_t lo = me.stack_lo ? me.stack_lo : sp - 65536;
    uintptr_t hi = me.stack_hi ? me.stack_hi : sp + MAIN_STACK_GUESS;
    if ((addr >= lo && addr < hi) || (addr >= sp - 128 && addr < sp + 65536)) {
        __atomic_fetch_add(&stats.on_stack, 1, __ATOMIC_RELAXED);
        return;   /* the sampled thread's own stack */
    }
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
    watch(t, pc, addr, size, acc[0].write);
    t->guard--;
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
    if (syscall(SYS_timer_create, CLOCK_THREAD_CPUTIME_ID, &sev, &id) != 0)
        return;
    long ns = 1000000000L / lw_opt.race_rate;
    struct itimerspec its = { { ns / 1000000000L, ns % 1000000000L },
                              { ns / 1000000000L, ns % 1000000000L } };
    if (syscall(SYS_timer_settime, id, 0, &its, NULL) != 0) {
        syscall(SYS_timer_delete, id);
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
    syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, _NSIG / 8);
    return sigismember(&cur, race_sig) == 1;
}

void lw_race_mask_changed(void)
{
    if (!lw_load_relaxed(&on) || !me.started || me.slot < 0)
        return;
    int e = errno;
    bool blocked = sig_blocked();
    if (blocked && me.timer >= 0) {
        int id = me.timer;
        if (lw_cas_acq_rel(&threads[me.slot].timer, &id, -1))
            syscall(SYS_timer_delete, id);
        me.timer = -1;
        /* A sample that fired before the block waits, pending, for this
         * thread: take it back (a sigwait of the program must not see it). */
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, race_sig);
        struct timespec zero = { 0, 0 };
        while (syscall(SYS_rt_sigtimedwait, &only, NULL, &zero, _NSIG / 8) == race_sig)
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
            syscall(SYS_timer_delete, id);
        lw_store_release(&threads[me.slot].tid, 0);
    }
    me.timer = -1;
    me.slot = -1;
    errno = e;
}

/* The program installed a handler for the sampling signal: stop sampling
 * and give the signal back. */
static void step_aside(void)
{
    if (!lw_load_relaxed(&on))
        return;
    lw_store_release(&on, 0);
    for (int i = 0; i < LW_RACE_MAX_THREADS; i++) {
        int id = lw_load_acquire(&threads[i].timer);
        if (id >= 0 && lw_load_relaxed(&threads[i].tid) != 0 &&
            lw_cas_acq_rel(&threads[i].timer, &id, -1))
            syscall(SYS_timer_delete, id);
    }
    lw_warn("lockwatch: race sampling is off: the program installs its own handler for "
            "signal %d (SIGRTMAX-%d), which lockwatch used\n", race_sig,
            LW_RACE_SIGNAL_FROM_MAX);
}

bool lw_race_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (race_sig && sig == race_sig && act && lw_load_relaxed(&on)) {
        int e = errno;
        step_aside();
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
            syscall(SYS_close, (int)fd);
    }
    if (err) {
        lw_warn("lockwatch: race sampling is off: %s (%s); the program runs without it\n",
                refusal(err), strerror(err));
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
}

void lw_race_final_words(void)
{
    static int said;
    if (!lw_opt.race_stats || !sampled_pid || getpid() != sampled_pid || said++)
        return;   /* a fork child was not sampled: no line of its own */
    lw_race_stats s;
    lw_race_get_stats(&s);
    lw_warn("lockwatch: race sampling: %llu samples, %llu armed, %llu hits, %llu races, "
            "%llu unseen writes (not armed: %llu no memory operand, %llu stack, %llu atomic, "
            "%llu slots full, %llu no other thread)\n",
            (unsigned long long)s.samples, (unsigned long long)s.armed,
            (unsigned long long)s.hits, (unsigned long long)s.races,
            (unsigned long long)s.unseen_writes, (unsigned long long)s.no_access,
            (unsigned long long)s.on_stack, (unsigned long long)s.atomic,
            (unsigned long long)s.slots_full, (unsigned long long)s.no_target);
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

static void report(const race_rec *r)
{
    lw_finding *f = lw_finding_new(LW_F_DATA_RACE);
    if (!f)
        return;
    f->race.addr = r->addr;
    f->race.size = r->size;
    lw_symbolize_data(r->addr, f->race.variable, sizeof(f->race.variable));
    const race_side *sides[2] = { &r->a, &r->b };
    for (unsigned i = 0; i < 2; i++) {
        lw_thread_snap ts;
        snap_side(sides[i], &ts);
        lw_fthread *ft = lw_finding_thread(f, &ts);
        const char *how = i == 0 ? access_word(sides[i])
                          : sides[i]->write_known ? "wrote"
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

#define FLUSH_EXIT_WAIT_NS 1000000000ull   /* how long exit waits for the monitor's reports */

void lw_race_flush_exit(void)
{
    lw_race_flush();
    if (!lw_load_relaxed(&on) && !sampled_pid)
        return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        bool busy = false;
        for (unsigned i = 0; i < LW_RACE_PENDING; i++)
            busy |= lw_load_acquire(&pending[i].state) == 3;
        if (!busy)
            return;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t1.tv_nsec -
                (uint64_t)t0.tv_nsec > FLUSH_EXIT_WAIT_NS)
            return;
        syscall(SYS_sched_yield);
    }
}

void lw_race_set_waker(void (*wake)(void))
{
    lw_store_release(&waker, wake);
}
