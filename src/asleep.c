/*
 * asleep.c: sleep slots and the monitor thread (see asleep.h).
 * Owns: the slot chain, the count of sleeping threads, the monitor.
 * Also writes the data races the race sampler queues (race.h), woken by
 * the sampler's handler (monitor_kick: a futex wake).
 * Must never: make a sleeper pay a system call or a backtrace unless the
 * monitor asked for it; let the monitor read a thread's state before it
 * checked the thread is alive; let the monitor receive a signal.
 */
#include "race.h"
#include "asleep.h"
#include "arena.h"
#include "deadlock.h"
#include "finding.h"
#include "fmt.h"
#include "log.h"
#include "intercept.h"
#include "lw_clock.h"
#include "lw_core.h"
#include "lw_glibc.h"
#include "lw_sys.h"
#include "lost.h"
#include "options.h"
#include "stacks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

struct lw_sleeper {
    lw_sleeper *next;          /* the chain of all slots; set once */
    lw_thread *t;              /* owner, NULL while free (claimed by CAS) */
    int tid;
    /* Written by the owner; kind last on begin (release), first on end. */
    uint32_t kind;             /* enum lw_sleep_kind, 0: awake */
    uint32_t flags, mode;
    uint64_t seq;              /* one more per wait */
    uintptr_t obj, pc;
    lw_lock *node, *mutex;
    bool has_lost;             /* a lost signal matches this wait: lost */
    lw_lost lost;
    /* The monitor's request for a stack, and the owner's answer. */
    uint64_t dump_req, dump_ack;
    lw_thread_snap snap;       /* the answer: written by the owner before dump_ack */
};

static lw_sleeper *slots;              /* chain head (CAS push) */
static uint32_t nsleeping;             /* threads in a sleep: the monitor's wake-up */
static int monitor_idle;               /* futex: the monitor waits for a sleeper or a kick */
/* Set (seq_cst) by lw_monitor_kick, from the race sampler's signal handler
 * when it queued a race; taken by the monitor (exchange), which then writes
 * the queued reports.  Dekker with monitor_idle, like nsleeping. */
static int kicked;
static int monitor_state;              /* 0 none, 1 starting, 2 running, 3 failed */
static int monitor_tid;

/* ---- slots ---- */

static lw_sleeper *slot_of(lw_thread *t)
{
    if (LW_LIKELY(t->sleeper != NULL))
        return t->sleeper;
    /* A free slot of an ended thread, or a new one.  A slot still owned
     * under this thread's tid belongs to a thread that ended unseen (its
     * tid is ours now): free it, so that the monitor never reads the dead
     * thread's state. */
    for (lw_sleeper *s = lw_load_acquire(&slots); s; s = s->next) {
        lw_thread *old = lw_load_acquire(&s->t);
        if (old && old != t && s->tid == t->tid) {
            lw_store_release(&s->kind, LW_SLEEP_NONE);
            __atomic_compare_exchange_n(&s->t, &old, NULL, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED);
        }
        lw_thread *none = NULL;
        if (lw_load_relaxed(&s->t) == NULL &&
            __atomic_compare_exchange_n(&s->t, &none, t, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            s->tid = t->tid;
            t->sleeper = s;
            return s;
        }
    }
    lw_sleeper *s = lw_arena_alloc(sizeof(*s));
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->t = t;
    s->tid = t->tid;
    lw_sleeper *head = lw_load_relaxed(&slots);
    do
        s->next = head;
    while (!__atomic_compare_exchange_n(&slots, &head, s, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
    t->sleeper = s;
    return s;
}

void lw_sleep_claim(lw_thread *t)
{
    if (lw_opt.all_asleep && !t->sleeper)
        slot_of(t);
}

void lw_sleep_thread_gone(lw_thread *t)
{
    lw_sleeper *s = t->sleeper;
    if (!s)
        return;
    t->sleeper = NULL;
    lw_store_release(&s->kind, LW_SLEEP_NONE);
    lw_store_release(&s->t, NULL);
}

void lw_sleep_atfork_child(void)
{
    lw_thread *self = lw_tls.t;
    for (lw_sleeper *s = slots; s; s = s->next) {
        if (s->t == self) {
            s->tid = self->tid;
            continue;
        }
        s->kind = LW_SLEEP_NONE;
        s->t = NULL;
    }
    nsleeping = self->sleeper && self->sleeper->kind ? 1 : 0;
    monitor_idle = 0;
    kicked = 0;
    monitor_state = 0;   /* started again by the child's first sleep */
}

/* ---- the monitor ---- */

static long futex(int *uaddr, int op, int val, const struct timespec *ts)
{
    return lw_syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static void monitor_loop(void);

/* Async-signal-safe (the race sampler's handler): a raw futex wake, no
 * lock, errno kept. */
static void monitor_kick(void)
{
    int e = errno;
    __atomic_store_n(&kicked, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&monitor_idle, __ATOMIC_SEQ_CST)) {
        lw_store_relaxed(&monitor_idle, 0);
        futex(&monitor_idle, FUTEX_WAKE_PRIVATE, 1, NULL);
    }
    errno = e;
}

static void *monitor_main(void *arg)
{
    (void)arg;
    /* Every interposed call it makes passes through (it is lockwatch): it
     * never has a state of its own. */
    lw_tls.guard = 1;
    monitor_tid = (int)lw_syscall(SYS_gettid);
    lw_syscall(SYS_prctl, 15 /* PR_SET_NAME */, "lockwatch", 0, 0, 0);
    /* Races the sampler queues are written from here, within a slice,
     * rather than at the program's next thread event. */
    lw_race_set_waker(monitor_kick);
    __atomic_store_n(&kicked, 1, __ATOMIC_SEQ_CST);   /* races queued before the waker was set */
    monitor_loop();
    return NULL;
}

void lw_monitor_start(void)
{
    int s = 0;
    if (lw_load_acquire(&monitor_state) != 0 || !lw_cas_acq_rel(&monitor_state, &s, 1))
        return;
    pthread_attr_t a;
    pthread_t th;
    sigset_t all, old;
    int r = pthread_attr_init(&a);
    if (r == 0) {
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 256 * 1024);
        /* The monitor inherits this mask: no signal of the program is ever
         * delivered to it. */
        sigfillset(&all);
        LW_REAL(pthread_sigmask)(SIG_SETMASK, &all, &old);
        r = LW_REAL(pthread_create)(&th, &a, monitor_main, NULL);
        LW_REAL(pthread_sigmask)(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&a);
    }
    if (r != 0) {
        static int once;
        lw_warn_once(&once, "lockwatch: warning: cannot start the monitor thread (error %d); "
                     "deadlocks where all threads are asleep are not reported, and data races "
                     "only at thread events and exit\n", r);
    }
    lw_store_release(&monitor_state, r == 0 ? 2 : 3);
}

/* ---- sleeping ---- */

lw_sleeper *lw_sleep_begin(lw_thread *t, enum lw_sleep_kind kind, uintptr_t obj, lw_lock *node,
                           lw_lock *mutex, unsigned mode, unsigned flags, uintptr_t pc,
                           const lw_lost *lost)
{
    if (!lw_opt.all_asleep)
        return NULL;
    lw_sleeper *s = slot_of(t);
    if (!s)
        return NULL;
    /* A lock wait can be inside malloc (an allocator's own mutex): the
     * monitor is started from the waits a program makes in plain code. */
    if (kind != LW_SLEEP_LOCK && LW_UNLIKELY(lw_load_acquire(&monitor_state) == 0))
        lw_monitor_start();
    s->obj = obj;
    s->node = node;
    s->mutex = mutex;
    s->mode = mode;
    s->flags = flags;
    s->pc = pc;
    s->has_lost = lost != NULL;
    if (lost)
        s->lost = *lost;
    lw_store_relaxed(&s->seq, s->seq + 1);
    lw_store_release(&s->kind, (uint32_t)kind);
    /* seq_cst both sides (monitor_loop): either the monitor sees this
     * sleeper, or this sleeper sees the monitor idle and wakes it. */
    if (__atomic_fetch_add(&nsleeping, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&monitor_idle, __ATOMIC_SEQ_CST)) {
        lw_store_relaxed(&monitor_idle, 0);
        futex(&monitor_idle, FUTEX_WAKE_PRIVATE, 1, NULL);
    }
    return s;
}

void lw_sleep_end(lw_sleeper *s)
{
    if (!s)
        return;
    lw_store_release(&s->kind, LW_SLEEP_NONE);
    __atomic_fetch_sub(&nsleeping, 1, __ATOMIC_SEQ_CST);
}

bool lw_sleep_poll(lw_thread *t, lw_sleeper *s)
{
    if (!s)
        return false;
    uint64_t req = lw_load_acquire(&s->dump_req);
    if (LW_LIKELY(req == s->dump_ack))
        return false;
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    t->guard++;
    unsigned n = lw_unwind(pcs, sps, LW_MAX_FRAMES);
    unsigned depth = lw_stack_depth();
    lw_snap_thread(t, lw_depot_put(pcs, n < depth ? n : depth), pcs, sps, n, 0, &s->snap);
    t->guard--;
    lw_store_release(&s->dump_ack, req);
    return true;
}

/* ---- the monitor's view ---- */

#define LW_ASLEEP_MAX 512   /* threads a view covers; more: not checked */

typedef struct {
    lw_sleeper *s;
    lw_thread *t;
    int tid;
    uint32_t kind;             /* LW_SLEEP_*, or LW_SLEEP_FAST */
    uint64_t seq;
    uintptr_t obj;             /* LW_SLEEP_FAST: the mutex */
} sleeper_view;

#define LW_SLEEP_FAST 100u     /* a fast-path mutex wait (no slot state) */

typedef struct {
    unsigned n;
    sleeper_view v[LW_ASLEEP_MAX];
    uint64_t sig;
    bool only_locks;           /* lock waits and joins only: deadlock.c's */
    bool sems;
} asleep_view;

/* The tids of the process's threads, but the monitor's, sorted.  -1: too
 * many or unreadable. */
static int task_tids(int *out, int max)
{
    int fd = (int)lw_syscall(SYS_openat, -100, "/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[4096];
    int n = 0;
    for (;;) {
        long got = lw_syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (got <= 0) {
            if (got < 0)
                n = -1;
            break;
        }
        for (long off = 0; off < got;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            if (d->name[0] < '0' || d->name[0] > '9')
                continue;
            int tid = 0;
            for (const char *p = d->name; *p >= '0' && *p <= '9'; p++)
                tid = tid * 10 + (*p - '0');
            if (tid == monitor_tid)
                continue;
            if (n == max) {
                lw_sys_close(fd);
                return -1;
            }
            int i = n++;
            while (i > 0 && out[i - 1] > tid) {
                out[i] = out[i - 1];
                i--;
            }
            out[i] = tid;
        }
    }
    lw_sys_close(fd);
    return n;
}

static int tid_index(const int *tids, int n, int tid)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (tids[mid] < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && tids[lo] == tid ? lo : -1;
}

/* A handler for a signal another process (or a timer) may send: it could
 * post a semaphore (sem_post is async-signal-safe), so a thread in
 * sem_wait may be woken from outside. */
static bool outside_wakeups(void)
{
    struct itimerval it;
    if (lw_syscall(SYS_getitimer, ITIMER_REAL, &it) == 0 &&
        (it.it_value.tv_sec || it.it_value.tv_usec))
        return true;
    static const int sync_sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS };
    for (int sig = 1; sig < 65; sig++) {
        bool sync = false;
        for (unsigned i = 0; i < LW_ARRAY_SIZE(sync_sigs); i++)
            sync |= sig == sync_sigs[i];
        if (sync || sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33 ||
            sig == lw_race_signal())
            continue;   /* 32, 33: glibc's own (cancellation, setxid); race sampling's */
        struct {
            void *handler;
            unsigned long flags;
            void *restorer;
            uint64_t mask;
        } sa;
        if (lw_syscall(SYS_rt_sigaction, sig, NULL, &sa, 8) == 0 && sa.handler != SIG_DFL &&
            sa.handler != SIG_IGN)
            return true;
    }
    return false;
}

/* Is every thread of the process asleep?  Fills v. */
static bool take_view(asleep_view *v)
{
    static int tids[LW_ASLEEP_MAX];
    static bool covered[LW_ASLEEP_MAX];
    int ntids = task_tids(tids, LW_ASLEEP_MAX);
    if (ntids <= 0)
        return false;
    memset(covered, 0, sizeof(covered));
    v->n = 0;
    v->sig = (uint64_t)ntids;
    v->only_locks = true;
    v->sems = false;
    for (lw_sleeper *s = lw_load_acquire(&slots); s; s = s->next) {
        lw_thread *t = lw_load_acquire(&s->t);
        if (!t)
            continue;
        int i = tid_index(tids, ntids, s->tid);
        if (i < 0 || covered[i])
            continue;   /* ended (its TLS may be gone): never read it */
        sleeper_view *sv = &v->v[v->n];
        sv->s = s;
        sv->t = t;
        sv->tid = s->tid;
        sv->kind = lw_load_acquire(&s->kind);
        sv->seq = lw_load_relaxed(&s->seq);
        sv->obj = s->obj;
        if (sv->kind == LW_SLEEP_NONE) {
            /* A fast-path mutex wait on a mutex that is locked by another
             * thread (and not process-shared). */
            uintptr_t m = lw_load_relaxed(&t->fast_wait);
            const pthread_mutex_t *pm = (const pthread_mutex_t *)m;
            if (!m || !lw_glibc_mutex_locked(pm) || lw_glibc_mutex_pshared(pm) ||
                lw_glibc_mutex_owner(pm) == s->tid)
                return false;
            sv->kind = LW_SLEEP_FAST;
            sv->obj = m;
            sv->seq = (uint64_t)lw_glibc_mutex_owner(pm);
        }
        if (sv->kind == LW_SLEEP_COND || sv->kind == LW_SLEEP_SEM || sv->kind == LW_SLEEP_BARRIER)
            v->only_locks = false;
        v->sems |= sv->kind == LW_SLEEP_SEM;
        v->sig = lw_hash_mix(v->sig ^ ((uint64_t)sv->tid << 32 | sv->kind),
                             sv->seq ^ (uint64_t)sv->obj);
        covered[i] = true;
        v->n++;
    }
    if ((int)v->n != ntids)
        return false;   /* a thread without a slot, or not asleep */
    if (v->sems && outside_wakeups())
        return false;
    return true;
}

/* ---- the report ---- */

static const char *sleep_verb(uint32_t kind)
{
    switch (kind) {
    case LW_SLEEP_COND: return "waits on";
    case LW_SLEEP_SEM: return "waits on";
    case LW_SLEEP_BARRIER: return "waits at";
    case LW_SLEEP_JOIN: return "joins";
    default: return "waits for";
    }
}

/* A pseudo-lock snapshot for a semaphore or a barrier. */
static void snap_object(lw_lock_snap *ls, unsigned kind, uintptr_t addr, uintptr_t pc)
{
    memset(ls, 0, sizeof(*ls));
    ls->id = lw_registry_new_id();
    ls->addr = addr;
    ls->kind = (uint16_t)kind;
    ls->first_how = LW_FIRST_USED;
    ls->first_pc = pc;
}

/* A sleeper that did not answer (a barrier, a fast-path wait, a condvar
 * waiter stuck re-taking its mutex): its call site, and the call sites of
 * what it holds. */
static void snap_quietly(const sleeper_view *sv, lw_thread_snap *ts)
{
    lw_thread *t = sv->t;
    const lw_held *h0 = lw_load_relaxed(&t->held);
    uintptr_t pc = sv->kind == LW_SLEEP_FAST ? (h0 ? lw_load_relaxed(&h0[0].pc) : 0) : sv->s->pc;
    /* A fast-path waiter holds nothing (nheld 0: its held[0] is filled
     * but not published). */
    lw_snap_thread(t, pc ? lw_depot_put(&pc, 1) : 0, NULL, NULL, 0, 0, ts);
}

/* Asks every sleeper that can answer for its stack; waits a little for the
 * answers.  A condvar waiter is woken by a broadcast, which its wrapper
 * swallows (lw_sleep_poll) before it waits again: no thread is left that
 * could have signalled it, so no wake-up of the program's is lost. */
static void ask_stacks(asleep_view *v, uint64_t epoch)
{
    for (unsigned i = 0; i < v->n; i++) {
        sleeper_view *sv = &v->v[i];
        if (sv->kind == LW_SLEEP_BARRIER || sv->kind == LW_SLEEP_FAST)
            continue;
        lw_store_release(&sv->s->dump_req, epoch);
    }
    for (unsigned i = 0; i < v->n; i++) {
        sleeper_view *sv = &v->v[i];
        if (sv->kind != LW_SLEEP_COND)
            continue;
        bool dup = false;
        for (unsigned j = 0; j < i; j++)
            dup |= v->v[j].kind == LW_SLEEP_COND && v->v[j].obj == sv->obj;
        if (!dup)
            ((sv->s->flags & LW_SLEEP_COND_OLD) ? lw_real_pthread_cond_broadcast_old
                                                : lw_real_pthread_cond_broadcast_new)(
                (pthread_cond_t *)sv->obj);
    }
    /* Sliced waits answer within a slice. */
    uint64_t until = lw_mono_ns() + 2 * lw_wait_slice_ns() + 100000000ull;
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < v->n; i++) {
            sleeper_view *sv = &v->v[i];
            if (sv->kind != LW_SLEEP_BARRIER && sv->kind != LW_SLEEP_FAST &&
                lw_load_acquire(&sv->s->dump_ack) != epoch)
                all = false;
        }
        if (all || lw_mono_ns() > until)
            break;
        struct timespec ts = { 0, 5000000 };
        lw_syscall(SYS_nanosleep, &ts, NULL);
    }
}

/* The sleeper holding `l` (a lock snapshot's id), or -1. */
static int holder_of(const lw_thread_snap *snaps, unsigned n, uint64_t id)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < snaps[i].nholds; j++)
            if (snaps[i].holds[j].lock.id == id)
                return (int)i;
    return -1;
}

static void report(asleep_view *v, uint64_t epoch)
{
    ask_stacks(v, epoch);
    lw_finding *f = lw_finding_new(LW_F_DEADLOCK);
    if (!f)
        return;
    static lw_thread_snap snaps[LW_F_MAX_THREADS];
    unsigned n = v->n < LW_F_MAX_THREADS ? v->n : LW_F_MAX_THREADS;
    /* Thread order: by number, T0 first. */
    for (unsigned i = 1; i < v->n; i++)
        for (unsigned j = i; j > 0 && v->v[j - 1].t->num > v->v[j].t->num; j--) {
            sleeper_view tmp = v->v[j];
            v->v[j] = v->v[j - 1];
            v->v[j - 1] = tmp;
        }
    for (unsigned i = 0; i < n; i++) {
        sleeper_view *sv = &v->v[i];
        if (sv->kind != LW_SLEEP_BARRIER && sv->kind != LW_SLEEP_FAST &&
            lw_load_acquire(&sv->s->dump_ack) == epoch)
            snaps[i] = sv->s->snap;
        else
            snap_quietly(sv, &snaps[i]);
    }
    /* A condvar wait in a lost signal's window (lost.h): the cause, first. */
    for (unsigned i = 0; i < n; i++) {
        sleeper_view *sv = &v->v[i];
        if (sv->kind == LW_SLEEP_COND && sv->s->has_lost)
            lw_lost_report_asleep(&snaps[i], sv->s->node, sv->s->mutex, &sv->s->lost);
    }
    lw_buf b;
    lw_buf_init(&b, f->message, sizeof(f->message));
    lw_buf_printf(&b, "all %u thread%s of the process %s asleep, each waiting for another: ",
                  v->n, v->n == 1 ? "" : "s", v->n == 1 ? "is" : "are");
    for (unsigned i = 0; i < n; i++) {
        sleeper_view *sv = &v->v[i];
        lw_fthread *ft = lw_finding_thread(f, &snaps[i]);
        if (!ft)
            break;
        lw_lock_snap ls;
        int li = -1, mi = -1;
        switch (sv->kind) {
        case LW_SLEEP_COND:
            if (sv->s->node) {
                lw_snap_lock(sv->s->node, &ls);
                li = lw_finding_lock(f, &ls, true, NULL, 0);
            }
            if (sv->s->mutex) {
                lw_snap_lock(sv->s->mutex, &ls);
                mi = lw_finding_lock(f, &ls, false, NULL, 0);
            }
            ft->waits_lock = li;
            if (li >= 0 && mi >= 0)
                lw_finding_what(ft, "waits on condition variable M%lu (with mutex M%lu), "
                                "and no thread is left to signal it",
                                (unsigned long)f->locks[li].lock.id,
                                (unsigned long)f->locks[mi].lock.id);
            else
                lw_finding_what(ft, "waits on condition variable %p, and no thread is left to "
                                "signal it", (void *)sv->obj);
            break;
        case LW_SLEEP_SEM:
        case LW_SLEEP_BARRIER: {
            bool sem = sv->kind == LW_SLEEP_SEM;
            unsigned k = sem ? LW_KIND_SEM : LW_KIND_BARRIER;
            for (unsigned j = 0; j < f->nlocks && li < 0; j++)
                if (f->locks[j].lock.addr == sv->obj && f->locks[j].lock.kind == k)
                    li = (int)j;   /* another waiter's: the same object */
            if (li < 0) {
                snap_object(&ls, k, sv->obj, sv->s->pc);
                li = lw_finding_lock(f, &ls, true, NULL, 0);
            } else {
                ls = f->locks[li].lock;
            }
            ft->waits_lock = li;
            lw_finding_what(ft, sem ? "waits on semaphore M%lu (%p), and no thread is left to "
                                      "post it"
                                    : "waits at barrier M%lu (%p), and no thread is left to "
                                      "arrive",
                            (unsigned long)ls.id, (void *)sv->obj);
            break;
        }
        case LW_SLEEP_JOIN: {
            lw_thread *target = lw_thread_of((pthread_t)sv->obj);
            ft->waits_thread = (int)target->num;
            lw_finding_what(ft, "is joining thread T%u", target->num);
            break;
        }
        default: {   /* LW_SLEEP_LOCK, LW_SLEEP_FAST */
            lw_lock *l = sv->kind == LW_SLEEP_LOCK ? sv->s->node : lw_registry_find(sv->obj);
            if (!l) {
                lw_finding_what(ft, "is blocked locking %p", (void *)sv->obj);
                break;
            }
            lw_snap_lock(l, &ls);
            li = lw_finding_lock(f, &ls, true, NULL, 0);
            ft->waits_lock = li;
            int h = holder_of(snaps, n, ls.id);
            bool read = sv->kind == LW_SLEEP_LOCK && sv->s->mode == LW_MODE_READ;
            if (h >= 0)
                lw_finding_what(ft, "is blocked %s M%lu, held by thread T%u",
                                read ? "read-locking" : "locking", (unsigned long)ls.id,
                                snaps[h].num);
            else
                lw_finding_what(ft, "is blocked %s M%lu", read ? "read-locking" : "locking",
                                (unsigned long)ls.id);
            break;
        }
        }
        lw_buf_printf(&b, "%sT%u %s", i ? ", " : "", snaps[i].num, sleep_verb(sv->kind));
        if (sv->kind == LW_SLEEP_JOIN)
            lw_buf_printf(&b, " T%u", lw_thread_of((pthread_t)sv->obj)->num);
        else if (li >= 0)
            lw_buf_printf(&b, " %s M%lu", lw_lock_kind_word(f->locks[li].lock.kind),
                          (unsigned long)f->locks[li].lock.id);
    }
    lw_finding_emit(f);
}

/* ---- the loop ---- */

static void monitor_loop(void)
{
    static asleep_view view;
    uint64_t last_sig = 0, since = 0, reported_sig = 0, epoch = 0;
    for (;;) {
        /* Races queued by samples: written now (at most a slice after the
         * kick while threads sleep, at once otherwise). */
        if (__atomic_exchange_n(&kicked, 0, __ATOMIC_SEQ_CST))
            lw_race_flush_owned();
        if (__atomic_load_n(&nsleeping, __ATOMIC_SEQ_CST) == 0) {
            __atomic_store_n(&monitor_idle, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&nsleeping, __ATOMIC_SEQ_CST) == 0 &&
                __atomic_load_n(&kicked, __ATOMIC_SEQ_CST) == 0)
                futex(&monitor_idle, FUTEX_WAIT_PRIVATE, 1, NULL);
            __atomic_store_n(&monitor_idle, 0, __ATOMIC_SEQ_CST);
            last_sig = 0;
            continue;
        }
        uint64_t slice = lw_wait_slice_ns();
        struct timespec ts = { (time_t)(slice / 1000000000ull), (long)(slice % 1000000000ull) };
        lw_syscall(SYS_nanosleep, &ts, NULL);
        if (!take_view(&view)) {
            last_sig = 0;
            continue;
        }
        uint64_t now = lw_mono_ns();
        if (view.sig != last_sig) {
            last_sig = view.sig;
            since = now;
            continue;
        }
        /* Lock waits and joins alone are deadlock.c's: a cycle, found by
         * its members; only a wait on a lock whose holder is gone is left
         * here, after twice the time. */
        uint64_t need = (uint64_t)lw_opt.deadlock_ms * 1000000ull * (view.only_locks ? 2 : 1);
        if (now - since < need || view.sig == reported_sig || lw_wait_cycle_reported())
            continue;
        reported_sig = view.sig;
        report(&view, ++epoch);
        lw_deadlock_act();
    }
}
