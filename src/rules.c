/*
 * rules.c: misuse rules and the blocking-call rule (see rules.h).
 * Owns: the "already reported" sets of these rules.
 * Must never: report twice for the same site and locks; hold a lockwatch
 * lock while unwinding or writing a report.
 */
#include "rules.h"
#include "lost.h"
#include "arena.h"
#include "lw_atomic.h"
#include "lw_clock.h"
#include "finding.h"
#include "jitter.h"
#include "stacks.h"
#include "fmt.h"
#include "lw_core.h"
#include "lw_sys.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static void pending_atfork_child(void);

void lw_rules_atfork_child(void)
{
    pending_atfork_child();
    lw_lost_atfork_child();
}

/* ---- blocking calls ---- */

const char *lw_family_name(unsigned family)
{
    switch (family) {
    case LW_FAM_SLEEP: return "sleep";
    case LW_FAM_NET: return "net";
    case LW_FAM_PIPE: return "pipe";
    case LW_FAM_FILE: return "file";
    case LW_FAM_WAIT: return "wait";
    }
    return "?";
}

/* Terminals: the tty, console, serial and pseudo-terminal majors. */
static bool is_terminal_major(unsigned major)
{
    return major == 4 || major == 5 || (major >= 136 && major <= 143) || major == 3;
}

unsigned lw_fd_family(int fd)
{
    struct stat st;
    int saved = errno;
    unsigned fam = 0;
    if (fstat(fd, &st) == 0) {
        if (S_ISSOCK(st.st_mode))
            fam = LW_FAM_NET;
        else if (S_ISFIFO(st.st_mode))
            fam = LW_FAM_PIPE;
        else if (S_ISCHR(st.st_mode))
            fam = is_terminal_major(major(st.st_rdev)) ? LW_FAM_PIPE : 0;
        else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
            fam = LW_FAM_FILE;
        /* A non-blocking socket, pipe or terminal returns at once. */
        if (fam & (LW_FAM_NET | LW_FAM_PIPE)) {
            int fl = lw_sys_fcntl(fd, F_GETFL, 0);
            if (fl >= 0 && (fl & O_NONBLOCK))
                fam = 0;
        }
    }
    errno = saved;
    return fam;
}

/* Once per (call site, set of held locks). */
static uint64_t blocking_sig(const lw_thread *t, uintptr_t pc, uintptr_t except)
{
    uint64_t s = lw_hash_mix(pc, 0xb10c);
    for (unsigned i = 0; i < t->nheld; i++)
        if ((uintptr_t)t->held[i].lock->h.k1 != except)
            s += lw_hash_mix(t->held[i].id, 1);   /* order-independent */
    return s;
}

static inline unsigned block_slot(uint64_t sig)
{
    return (unsigned)(sig >> 32) & (LW_BLOCK_CACHE - 1);
}

bool lw_blocking_known(uintptr_t pc)
{
    const lw_thread *t = lw_tls.t;
    uint64_t sig = blocking_sig(t, pc, 0);
    return t->block_seen[block_slot(sig)] == sig;
}

/* Reported (by this thread or another): remember it in this thread. */
static bool first_report(lw_thread *t, uint64_t sig)
{
    if (t->block_seen[block_slot(sig)] == sig)
        return false;
    bool first = lw_first_time(sig);
    t->block_seen[block_slot(sig)] = sig;
    return first;
}

static unsigned held_except(const lw_thread *t, uintptr_t except)
{
    unsigned n = 0;
    for (unsigned i = 0; i < t->nheld; i++)
        n += (uintptr_t)lw_load_relaxed(&t->held[i].lock->h.k1) != except;
    return n;
}

/* ---- shared locks and deferred reports ----
 * A lock held across a blocking call delays only the threads that want it.
 * A lock that no other thread has taken (a per-connection mutex in a
 * one-connection-per-thread program) delays nobody: its report waits in
 * `pending` until a second thread acquires the lock or waits a slice for
 * it (lw_lock_user), and is dropped with the lock or at exit.  With
 * LOCKWATCH_BLOCKING_UNSHARED=1 every report is made at once.
 *
 * Race: the blocking thread adds its entry, sets l->pending, then re-reads
 * l->users; a new user sets users to SHARED, then reads l->pending.  Both
 * sequentially consistent, so one of the two sees the other and flushes;
 * the entry is taken out under pending_lock, so it is reported once. */
#define LW_BLOCK_PENDING 128

typedef struct {
    lw_finding *r;            /* NULL: free entry */
    unsigned n;
    struct {
        lw_lock *l;
        uint64_t id;          /* the incarnation: l->id != id once it is gone */
    } locks[LW_TSNAP_HOLDS];
} pending_ent;

/* protects: pending, pending_n */
static lw_mutex pending_lock = LW_MUTEX_INIT;
static pending_ent pending[LW_BLOCK_PENDING];
static unsigned pending_n;

static bool ent_names(const pending_ent *e, uint64_t id)
{
    for (unsigned i = 0; i < e->n; i++)
        if (e->locks[i].id == id)
            return true;
    return false;
}

static bool ent_shared(const pending_ent *e)
{
    for (unsigned i = 0; i < e->n; i++)
        if (__atomic_load_n(&e->locks[i].l->users, __ATOMIC_SEQ_CST) == LW_USERS_SHARED &&
            __atomic_load_n(&e->locks[i].l->id, __ATOMIC_RELAXED) == e->locks[i].id)
            return true;
    return false;
}

/* All its locks are gone (destroyed, or recycled for another lock). */
static bool ent_dead(const pending_ent *e)
{
    for (unsigned i = 0; i < e->n; i++)
        if (__atomic_load_n(&e->locks[i].l->id, __ATOMIC_RELAXED) == e->locks[i].id &&
            __atomic_load_n(&e->locks[i].l->h.k1, __ATOMIC_RELAXED) != 0)
            return false;
    return true;
}

/* Takes out the entries naming lock `id` and reports them, with
 * pending_lock released. */
static void pending_flush(uint64_t id)
{
    lw_finding *out[LW_BLOCK_PENDING];
    unsigned nout = 0;
    lw_mutex_lock(&pending_lock);
    for (unsigned i = 0; i < LW_BLOCK_PENDING && pending_n; i++) {
        pending_ent *e = &pending[i];
        if (e->r && ent_names(e, id)) {
            out[nout++] = e->r;
            e->r = NULL;
            pending_n--;
        }
    }
    lw_mutex_unlock(&pending_lock);
    for (unsigned i = 0; i < nout; i++)
        lw_finding_emit(out[i]);
}

/* Defers r, a report naming t's held locks (but `except`); false when one
 * of them was shared meanwhile, or the table is full of live entries: the
 * caller then reports at once. */
static bool pending_add(lw_finding *r, const lw_thread *t, uintptr_t except)
{
    pending_ent *slot = NULL;
    lw_mutex_lock(&pending_lock);
    for (unsigned i = 0; i < LW_BLOCK_PENDING && !slot; i++) {
        pending_ent *e = &pending[i];
        if (e->r && ent_dead(e)) {
            lw_finding_free(e->r);
            e->r = NULL;
            pending_n--;
        }
        if (!e->r)
            slot = e;
    }
    bool kept = false;
    if (slot) {
        slot->n = 0;
        for (unsigned i = 0; i < t->nheld && slot->n < LW_TSNAP_HOLDS; i++) {
            const lw_held *h = &t->held[i];
            if (h->addr == except)
                continue;
            slot->locks[slot->n].l = h->lock;
            slot->locks[slot->n].id = h->id;
            slot->n++;
            __atomic_store_n(&h->lock->pending, true, __ATOMIC_SEQ_CST);
        }
        /* After the flags: a second user that came meanwhile either saw
         * them (and flushes, under pending_lock, after this) or is seen
         * here. */
        if (!ent_shared(slot)) {
            slot->r = r;
            pending_n++;
            kept = true;
        }
    }
    lw_mutex_unlock(&pending_lock);
    return kept;
}

static void pending_atfork_child(void)
{
    /* The calls were the parent's: the child's locks are its own story. */
    lw_mutex_reset(&pending_lock);
    for (unsigned i = 0; i < LW_BLOCK_PENDING; i++)
        if (pending[i].r) {
            lw_finding_free(pending[i].r);
            pending[i].r = NULL;
        }
    pending_n = 0;
}

void lw_rules_atfork_prepare(void)
{
    lw_mutex_lock(&pending_lock);
}

void lw_rules_atfork_parent(void)
{
    lw_mutex_unlock(&pending_lock);
}

void lw_lock_user_slow(lw_lock *l, uint32_t me, uint32_t u)
{
    while (u != me && u != LW_USERS_SHARED) {
        uint32_t want = u == 0 ? me : LW_USERS_SHARED;
        if (__atomic_compare_exchange_n(&l->users, &u, want, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED)) {
            if (want == LW_USERS_SHARED && __atomic_load_n(&l->pending, __ATOMIC_SEQ_CST))
                pending_flush(l->id);
            return;
        }
    }
}

/* Does any lock t holds (but `except`) have a second user? */
static bool holds_shared(const lw_thread *t, uintptr_t except)
{
    for (unsigned i = 0; i < t->nheld; i++)
        if (t->held[i].addr != except &&
            __atomic_load_n(&t->held[i].lock->users, __ATOMIC_SEQ_CST) == LW_USERS_SHARED)
            return true;
    return false;
}

static void blocking_report(lw_thread *t, const lw_block_ctx *c, uint64_t elapsed_us)
{
    /* The condvar's own mutex is released by the wait: not "held". */
    lw_finding *f = lw_finding_about_self(t, LW_F_BLOCKING, c->except);
    if (!f)
        return;
    unsigned nh = f->threads[0].nholds;
    lw_finding_what(&f->threads[0], "called %s() (%s) here", c->call, lw_family_name(c->family));
    lw_buf b;
    lw_buf_init(&b, f->message, sizeof(f->message));
    lw_buf_printf(&b, "%s() may block (%s) while the thread holds %u lock%s", c->call,
                  lw_family_name(c->family), nh, nh == 1 ? "" : "s");
    if (elapsed_us != UINT64_MAX)
        lw_buf_printf(&b, "; it took %lu us", (unsigned long)elapsed_us);
    f->call.function = c->call;
    f->call.family = lw_family_name(c->family);
    f->call.elapsed_us = elapsed_us != UINT64_MAX ? (int64_t)elapsed_us : -1;
    if (lw_opt.blocking_unshared || holds_shared(t, c->except) || !pending_add(f, t, c->except))
        lw_finding_emit(f);
}

static void blocking_begin(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                           uintptr_t cfa, uintptr_t except)
{
    lw_thread *t = lw_tls.t;
    c->call = call;
    c->family = family;
    c->pc = pc;
    c->cfa = cfa;
    c->except = except;
    c->active = false;
    /* A thread with no state of its own holds nothing lockwatch saw. */
    if (!(family & lw_blocking_families) || !lw_thread_own(t) || t->guard)
        return;
    t->guard++;
    int e = errno;
    if (held_except(t, except) > 0 && lw_load_relaxed(&lw_core_ready)) {
        lw_jitter(t, LW_JIT_BLOCKING);
        uint64_t sig = blocking_sig(t, pc, except);
        if (lw_opt.blocking_min_us == 0) {
            if (first_report(t, sig))
                blocking_report(t, c, UINT64_MAX);
        } else if (t->block_seen[block_slot(sig)] != sig) {
            c->active = true;
            c->start_ns = lw_mono_ns();
        }
    }
    errno = e;
    t->guard--;
}

void lw_blocking_before(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                        uintptr_t cfa)
{
    blocking_begin(c, call, family, pc, cfa, 0);
}

void lw_blocking_before_except(lw_block_ctx *c, const char *call, unsigned family, uintptr_t pc,
                               uintptr_t cfa, uintptr_t except)
{
    blocking_begin(c, call, family, pc, cfa, except);
}

void lw_blocking_after(lw_block_ctx *c)
{
    lw_thread *t = lw_tls.t;
    if (!c->active || !lw_thread_own(t) || t->guard)
        return;
    t->guard++;
    int e = errno;
    uint64_t us = (lw_mono_ns() - c->start_ns) / 1000;
    if (us >= (uint64_t)lw_opt.blocking_min_us && held_except(t, c->except) > 0 &&
        first_report(t, blocking_sig(t, c->pc, c->except)))
        blocking_report(t, c, us);
    errno = e;
    t->guard--;
}

/* ---- misuse of the primitives ---- */

/* Recently destroyed locks, to say where a use-after-destroy's lock was
 * destroyed: direct-mapped, overwritten freely (a miss only loses that
 * detail).  Fields are written racily by design; readers tolerate it. */
#define LW_DESTROYED_SLOTS 4096
static struct {
    uintptr_t addr, pc;
} destroyed_sites[LW_DESTROYED_SLOTS];

static unsigned destroyed_slot(uintptr_t addr)
{
    return (unsigned)(lw_hash_mix(addr, 0) & (LW_DESTROYED_SLOTS - 1));
}

void lw_note_destroyed(uintptr_t addr, uintptr_t pc)
{
    unsigned s = destroyed_slot(addr);
    lw_store_relaxed(&destroyed_sites[s].pc, pc);
    lw_store_relaxed(&destroyed_sites[s].addr, addr);
}

static uintptr_t destroyed_pc(uintptr_t addr)
{
    unsigned s = destroyed_slot(addr);
    uintptr_t pc = lw_load_relaxed(&destroyed_sites[s].pc);
    return lw_load_relaxed(&destroyed_sites[s].addr) == addr ? pc : 0;
}

/* A lock snapshot for a lock lockwatch may never have seen: such a lock
 * gets its node now, so that it has an id, first seen here (pc) being
 * used without having been locked. */
static void snap_or_addr(const lw_lock *l, uintptr_t addr, unsigned kind, lw_lock_snap *s,
                         uintptr_t pc)
{
    if (!l)
        l = lw_registry_find(addr);
    if (!l) {
        lw_lock *n = lw_lock_lookup(addr, kind, 0, pc);
        if (n && n->first_how == LW_FIRST_LOCKED && n->first_pc == pc)
            n->first_how = LW_FIRST_USED;
        l = n;
    }
    if (l) {
        lw_snap_lock(l, s);
        return;
    }
    memset(s, 0, sizeof(*s));
    s->addr = addr;
    s->kind = (uint16_t)kind;
    s->name = lw_lock_name(addr);
}

static uint64_t site_sig(enum lw_finding_kind kind, uintptr_t pc)
{
    return lw_hash_mix(pc, lw_mix64((uint64_t)kind + 0x5173));
}

/* A finding about the calling thread at its current call, once per call
 * site of this kind: NULL when already reported. */
static lw_finding *site_finding(lw_thread *t, enum lw_finding_kind kind, uintptr_t pc)
{
    if (!lw_first_time(site_sig(kind, pc)))
        return NULL;
    return lw_finding_about_self(t, kind, 0);
}

bool lw_rule_relock(lw_thread *t, lw_lock *l, unsigned mode, uintptr_t pc, const char *call)
{
    lw_held *h = lw_held_find(t, l);
    if (!h)
        return false;
    bool upgrade = false;
    switch (l->kind) {
    case LW_KIND_MUTEX:
    case LW_KIND_C11_MUTEX:
        if (l->mtype == LW_MTYPE_RECURSIVE)
            return false;
        break;
    case LW_KIND_RWLOCK:
        if (h->mode == LW_MODE_READ && mode == LW_MODE_READ)
            return false;   /* nested read locks are allowed */
        upgrade = h->mode == LW_MODE_READ && mode == LW_MODE_WRITE;
        break;
    default:
        break;
    }
    enum lw_finding_kind kind = upgrade ? LW_F_RWLOCK_UPGRADE : LW_F_DOUBLE_LOCK;
    lw_finding *r = site_finding(t, kind, pc);
    if (!r)
        return true;
    lw_lock_snap s;
    lw_snap_lock(l, &s);
    int li = lw_finding_lock(r, &s, true, NULL, 0);
    /* Only a relock that really blocks waits for the lock; errorcheck
     * mutexes and rwlocks written twice fail with EDEADLK instead. */
    bool blocks = upgrade || (l->kind != LW_KIND_RWLOCK && l->mtype != LW_MTYPE_ERRORCHECK);
    if (blocks)
        r->threads[0].waits_lock = li;
    lw_finding_what(&r->threads[0], "called %s() on %s M%lu here", call, lw_lock_kind_word(l->kind), (unsigned long)l->id);
    if (upgrade)
        lw_finding_message(r, "thread T%u asks for the write lock of rwlock M%lu while it holds it for "
                       "reading: that can never be granted, the thread blocks forever",
                    t->num, (unsigned long)l->id);
    else if (l->kind == LW_KIND_RWLOCK)
        lw_finding_message(r, "thread T%u locks rwlock M%lu again while it holds it for writing "
                       "(glibc returns EDEADLK)", t->num, (unsigned long)l->id);
    else if (l->mtype == LW_MTYPE_ERRORCHECK)
        lw_finding_message(r, "thread T%u locks errorcheck mutex M%lu which it already holds "
                       "(the call returns EDEADLK)", t->num, (unsigned long)l->id);
    else
        lw_finding_message(r, "thread T%u locks %s M%lu which it already holds: it waits for itself "
                       "forever", t->num, lw_lock_kind_word(l->kind), (unsigned long)l->id);
    lw_finding_emit(r);
    return true;
}

void lw_rule_use_after_destroy(lw_thread *t, uintptr_t addr, unsigned kind, const char *call,
                               uintptr_t pc)
{
    lw_finding *r = site_finding(t, LW_F_USE_AFTER_DESTROY, pc);
    if (!r)
        return;
    lw_lock_snap s;
    snap_or_addr(NULL, addr, kind, &s, pc);
    uintptr_t dpc = destroyed_pc(addr);
    lw_finding_lock(r, &s, true, "was destroyed here", dpc ? lw_depot_put(&dpc, 1) : 0);
    lw_finding_what(&r->threads[0], "called %s() here", call);
    lw_finding_message(r, "thread T%u calls %s() on %s M%lu (%p) after it was destroyed (and not "
                   "initialised again)", t->num, call, lw_lock_kind_word(kind), (unsigned long)s.id,
                (void *)addr);
    lw_finding_emit(r);
}

bool lw_rule_assert_held(lw_thread *t, uintptr_t addr, bool want_held, uintptr_t pc)
{
    lw_lock *l = lw_registry_find(addr);
    lw_held *h = l ? lw_held_find(t, l) : NULL;
    if ((h != NULL) == want_held)
        return true;
    if (!h && t->overflow)
        return true;   /* the held stack overflowed: it may simply not show it */
    enum lw_finding_kind kind = want_held ? LW_F_ASSERT_HELD : LW_F_ASSERT_NOT_HELD;
    lw_finding *r = site_finding(t, kind, pc);
    if (!r)
        return false;
    lw_lock_snap s;
    if (l) {
        lw_snap_lock(l, &s);
    } else {
        /* Never seen: no node is made for it (the address may hold any
         * kind of lock, or none). */
        memset(&s, 0, sizeof(s));
        s.addr = addr;
        s.kind = LW_KIND_MUTEX;
        s.first_how = LW_FIRST_USED;   /* "first used at" the assertion */
        s.first_pc = pc;
        s.name = lw_lock_name(addr);
    }
    uint32_t acquired = 0;
    if (h) {
        /* Where it was acquired: the thread snapshot's hold of it. */
        for (unsigned i = 0; i < r->nholds; i++)
            if (r->locks[r->holds[i].lock].lock.id == h->id)
                acquired = r->holds[i].stack;
    }
    lw_finding_lock(r, &s, true, h ? "was acquired here" : NULL, acquired);
    char lock_name[48];
    lw_buf b;
    lw_buf_init(&b, lock_name, sizeof(lock_name));
    if (l)
        lw_buf_printf(&b, "%s M%lu", lw_lock_kind_word(l->kind), (unsigned long)s.id);
    else
        lw_buf_printf(&b, "lock %p", (void *)addr);
    if (want_held) {
        lw_finding_what(&r->threads[0], "asserted here that it holds %s", lock_name);
        lw_finding_message(r, "thread T%u asserts that it holds %s, which it does not hold%s",
                           t->num, lock_name, l ? "" : " (lockwatch never saw it locked)");
    } else {
        lw_finding_what(&r->threads[0], "asserted here that it does not hold %s", lock_name);
        lw_finding_message(r, "thread T%u asserts that it does not hold %s, which it holds%s",
                           t->num, lock_name,
                           h->mode == LW_MODE_READ && l->kind == LW_KIND_RWLOCK
                               ? " for reading"
                               : "");
    }
    lw_finding_emit(r);
    return false;
}

void lw_rule_unlock_not_owned(lw_thread *t, lw_lock *l, uintptr_t addr, unsigned kind,
                              int owner_tid, const char *call, uintptr_t pc)
{
    if (t->overflow)
        return;   /* the held stack overflowed: it may simply not show it */
    lw_finding *r = site_finding(t, LW_F_UNLOCK_NOT_OWNED, pc);
    if (!r)
        return;
    lw_lock_snap s;
    snap_or_addr(l, addr, kind, &s, pc);
    lw_finding_lock(r, &s, true, NULL, 0);
    lw_finding_what(&r->threads[0], "called %s() here", call);
    char lock_name[48];
    lw_buf b;
    lw_buf_init(&b, lock_name, sizeof(lock_name));
    lw_buf_printf(&b, "%s M%lu", lw_lock_kind_word(kind), (unsigned long)s.id);
    if (owner_tid > 0)
        lw_finding_message(r, "thread T%u unlocks %s, which is held by another thread (tid %d)", t->num,
                    lock_name, owner_tid);
    else if (owner_tid == 0)
        lw_finding_message(r, "thread T%u unlocks %s, which is not locked", t->num, lock_name);
    else
        lw_finding_message(r, "thread T%u unlocks %s, which it does not hold", t->num, lock_name);
    r->has_owner = true;
    r->owner_tid = owner_tid > 0 ? owner_tid : 0;
    lw_finding_emit(r);
}

void lw_rule_destroy_locked(lw_thread *t, lw_lock *l, uintptr_t addr, unsigned kind,
                            int holder_tid, bool self_holds, unsigned waiters, const char *call,
                            uintptr_t pc)
{
    lw_finding *r = site_finding(t, LW_F_DESTROY_LOCKED, pc);
    if (!r)
        return;
    lw_lock_snap s;
    snap_or_addr(l, addr, kind, &s, pc);
    lw_finding_lock(r, &s, true, NULL, 0);
    lw_finding_what(&r->threads[0], "called %s() here", call);
    unsigned long id = (unsigned long)s.id;
    if (kind == LW_KIND_COND)
        lw_finding_message(r, "thread T%u destroys condition variable M%lu while %u thread%s wait%s on "
                       "it", t->num, id, waiters, waiters == 1 ? "" : "s", waiters == 1 ? "s" : "");
    else if (self_holds)
        lw_finding_message(r, "thread T%u destroys %s M%lu while it holds it", t->num, lw_lock_kind_word(kind), id);
    else if (holder_tid > 0)
        lw_finding_message(r, "thread T%u destroys %s M%lu while another thread (tid %d) holds it",
                    t->num, lw_lock_kind_word(kind), id, holder_tid);
    else
        lw_finding_message(r, "thread T%u destroys %s M%lu while it is locked", t->num, lw_lock_kind_word(kind),
                    id);
    r->has_holder = true;
    r->holder_tid = self_holds ? t->tid : holder_tid > 0 ? holder_tid : 0;
    if (kind == LW_KIND_COND)
        r->waiters = (int)waiters;
    lw_finding_emit(r);
}

void lw_rule_freed_locked(lw_thread *t, lw_lock *const *locks, unsigned n, unsigned found,
                          uintptr_t held_pc, const char *call, uintptr_t pc)
{
    if (!lw_first_time(site_sig(LW_F_DESTROY_LOCKED, pc) ^ lw_hash_mix(held_pc, 0xf4eeu)))
        return;
    lw_finding *r = lw_finding_about_self(t, LW_F_DESTROY_LOCKED, 0);
    if (!r)
        return;
    char names[160];
    lw_buf b;
    lw_buf_init(&b, names, sizeof(names));
    for (unsigned i = 0; i < n; i++) {
        lw_lock_snap s;
        lw_snap_lock(locks[i], &s);
        lw_finding_lock(r, &s, true, NULL, 0);
        lw_buf_printf(&b, "%s%s M%lu", i ? ", " : "", lw_lock_kind_word(s.kind),
                      (unsigned long)s.id);
    }
    if (found > n)
        lw_buf_printf(&b, " and %u more", found - n);
    lw_finding_what(&r->threads[0], "called %s() here", call);
    if (found == 1)
        lw_finding_message(r, "thread T%u releases the memory of %s with %s() while it holds it",
                           t->num, names, call);
    else
        lw_finding_message(r, "thread T%u releases the memory of %u locks it holds (%s) with %s()",
                           t->num, found, names, call);
    r->has_holder = true;
    r->holder_tid = t->tid;
    lw_finding_emit(r);
}

/* ---- condition variables ---- */

lw_lock *lw_rule_cond_wait_begin(lw_thread *t, uintptr_t cond, uintptr_t mutex, bool held,
                                 const char *call, uintptr_t pc)
{
    lw_lock *c = lw_lock_lookup(cond, LW_KIND_COND, 0, pc);
    if (!c)
        return NULL;
    if (c->destroyed)
        lw_rule_use_after_destroy(t, cond, LW_KIND_COND, call, pc);
    if (!held && !t->overflow && lw_first_time(site_sig(LW_F_COND_WAIT_UNLOCKED, pc))) {
        lw_finding *r = lw_finding_about_self(t, LW_F_COND_WAIT_UNLOCKED, 0);
        if (r) {
            lw_lock_snap s;
            lw_lock *ml = lw_registry_find(mutex);
            snap_or_addr(ml, mutex, LW_KIND_MUTEX, &s, pc);
            lw_finding_lock(r, &s, true, NULL, 0);
            lw_finding_what(&r->threads[0], "called %s() here", call);
            lw_finding_message(r, "thread T%u waits on condition variable M%lu with mutex M%lu, which "
                           "it does not hold: the wait's unlock and the wakeup race",
                        t->num, (unsigned long)c->id, (unsigned long)s.id);
            lw_finding_emit(r);
        }
    }
    uintptr_t other = 0, other_pc = 0;
    lw_cond_lock(c);
    if (lw_load_relaxed(&c->cond_waiters) > 0 && c->cond_mutex != mutex) {
        other = c->cond_mutex;
        other_pc = c->cond_pair_pc;
    } else if (lw_load_relaxed(&c->cond_waiters) == 0) {
        c->cond_mutex = mutex;
        c->cond_pair_pc = pc;
    }
    lw_fetch_add_acq_rel(&c->cond_waiters, 1);
    lw_cond_unlock(c);

    if (other && lw_first_time(site_sig(LW_F_COND_MULTIPLE_MUTEXES, pc) ^ lw_hash_mix(cond, 7))) {
        lw_finding *r = lw_finding_about_self(t, LW_F_COND_MULTIPLE_MUTEXES, 0);
        if (r) {
            lw_lock_snap s, o;
            lw_lock *ml = lw_registry_find(mutex);
            snap_or_addr(ml, mutex, LW_KIND_MUTEX, &s, pc);
            lw_finding_lock(r, &s, true, "is the mutex of this wait", 0);
            ml = lw_registry_find(other);
            snap_or_addr(ml, other, LW_KIND_MUTEX, &o, other_pc);
            lw_finding_lock(r, &o, true, "is the mutex other waiters use, paired here",
                              other_pc ? lw_depot_put(&other_pc, 1) : 0);
            lw_finding_what(&r->threads[0], "called %s() here", call);
            lw_finding_message(r, "thread T%u waits on condition variable M%lu with mutex M%lu while "
                           "other threads wait on it with mutex M%lu",
                        t->num, (unsigned long)c->id, (unsigned long)s.id, (unsigned long)o.id);
            lw_finding_emit(r);
        }
    }
    return c;
}

void lw_rule_cond_wait_end(lw_lock *c)
{
    if (c)
        lw_fetch_add_acq_rel(&c->cond_waiters, -1);
}

void lw_rule_cond_init(uintptr_t cond, uintptr_t pc)
{
    lw_lock_initialised(cond, LW_KIND_COND, 0, pc);
}

void lw_rule_cond_destroy(lw_thread *t, uintptr_t cond, const char *call, uintptr_t pc)
{
    lw_lock *c = lw_registry_find(cond);
    if (!c) {
        c = lw_lock_lookup(cond, LW_KIND_COND, 0, pc);
        if (!c)
            return;
    }
    unsigned w = lw_cond_waiters(c);
    if (w > 0)
        lw_rule_destroy_locked(t, c, cond, LW_KIND_COND, 0, false, w, call, pc);
    else if (c->destroyed)
        lw_rule_use_after_destroy(t, cond, LW_KIND_COND, call, pc);
    c->destroyed = true;
    lw_note_destroyed(cond, pc);
}

/* ---- threads ---- */

void lw_rule_thread_exit(lw_thread *t, const char *how, uintptr_t site, bool site_is_routine,
                         uint32_t stack)
{
    if (t->num == 0 || t->exit_checked)
        return;
    t->exit_checked = true;
    unsigned n = 0;
    uintptr_t first_pc = 0;
    for (unsigned i = 0; i < t->nheld; i++) {
        if (!t->held[i].lock->robust) {
            if (!n)
                first_pc = t->held[i].pc;
            n++;
        }
    }
    if (n == 0)
        return;
    /* Once per site: where the thread ends (pthread_exit call, start
     * routine), or else where it took its first lock still held. */
    if (!lw_first_time(site_sig(LW_F_EXIT_HOLDING_LOCK, site ? site : first_pc)))
        return;
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned nf = lw_unwind(pcs, sps, LW_MAX_FRAMES);
    unsigned depth = lw_stack_depth();
    lw_thread_snap ts;
    lw_snap_thread(t, lw_depot_put(pcs, nf < depth ? nf : depth), pcs, sps, nf, 0, &ts);
    if (site_is_routine) {
        /* The stack below a returning start routine is only libc's: name
         * the routine instead (its address + 1, as a return address). */
        uintptr_t pc = site + 1;
        ts.stack = lw_depot_put(&pc, 1);
    } else if (stack) {
        ts.stack = stack;
    }
    /* Robust mutexes are meant to be left behind by a dying owner. */
    unsigned k = 0;
    for (unsigned i = 0; i < ts.nholds; i++) {
        lw_lock *l = lw_registry_find(ts.holds[i].lock.addr);
        if (!(l && l->robust))
            ts.holds[k++] = ts.holds[i];
    }
    ts.nholds = k;
    lw_finding *r = lw_finding_new(LW_F_EXIT_HOLDING_LOCK);
    if (!r || !lw_finding_thread(r, &ts)) {
        lw_finding_free(r);
        return;
    }
    lw_finding_what(&r->threads[0], "%s here", how);
    lw_finding_message(r, "thread T%u %s while holding %u lock%s; threads that need %s will wait "
                   "forever", t->num, how, n, n == 1 ? "" : "s", n == 1 ? "it" : "them");
    lw_finding_emit(r);
}

/* ---- join cycles ---- */

static void join_cycle(lw_thread *t, const lw_held *h, const lw_thread *target,
                       uintptr_t target_addr, bool target_read, uintptr_t target_pc)
{
    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned n = lw_unwind(pcs, sps, LW_MAX_FRAMES);
    unsigned depth = lw_stack_depth();
    lw_finding *f = lw_finding_new(LW_F_INVERSION);
    if (!f)
        return;
    /* Two threads, and the joined one held nothing the joiner holds (it
     * could take L): this run could have deadlocked. */
    f->confidence = LW_CONF_FEASIBLE;
    lw_lock_snap ls, es;
    lw_snap_lock(h->lock, &ls);
    ls.id = h->id;
    memset(&es, 0, sizeof(es));
    es.id = lw_registry_new_id();
    es.addr = target_addr;
    es.kind = LW_KIND_THREAD;
    es.first_how = LW_FIRST_USED;
    es.first_stack = target->create_stack;
    int li = lw_finding_lock(f, &ls, true, NULL, 0);
    int ei = lw_finding_lock(f, &es, true, NULL, 0);

    lw_thread_snap ts;
    memset(&ts, 0, sizeof(ts));
    ts.num = t->num;
    ts.parent = t->parent;
    ts.tid = t->tid;
    lw_thread_refresh_name(t);
    memcpy(ts.name, t->name, sizeof(ts.name));
    ts.created_seen = t->created_seen;
    ts.create_stack = t->create_stack;
    lw_finding_thread(f, &ts);
    memset(&ts, 0, sizeof(ts));
    ts.num = target->num;
    ts.parent = target->parent;
    ts.tid = target->tid;
    memcpy(ts.name, target->name, sizeof(ts.name));
    ts.name[sizeof(ts.name) - 1] = '\0';
    if (!ts.name[0]) {
        lw_thread_name_of(target->tid, ts.name, sizeof(ts.name));   /* never asked for it */
        lw_thread_unset_inherited(target, ts.name);
    }
    ts.created_seen = target->created_seen;
    ts.create_stack = target->create_stack;
    lw_finding_thread(f, &ts);
    if (li < 0 || ei < 0 || f->nthreads != 2) {
        lw_finding_free(f);
        return;
    }
    lw_fedge *e = &f->edges[f->nedges++];   /* L => end(T): the join */
    e->from = (uint16_t)li;
    e->to = (uint16_t)ei;
    e->thread = 0;
    e->from_mode = (uint16_t)h->mode;
    e->to_mode = LW_MODE_WRITE;
    e->stack = lw_depot_put(pcs, n < depth ? n : depth);
    e->held_stack = lw_held_stack(t, (unsigned)(h - t->held), pcs, sps, n);
    e = &f->edges[f->nedges++];             /* end(T) => L: T took L */
    e->from = (uint16_t)ei;
    e->to = (uint16_t)li;
    e->thread = 1;
    e->from_mode = LW_MODE_WRITE;
    e->to_mode = target_read ? LW_MODE_READ : LW_MODE_WRITE;
    e->stack = target_pc ? lw_depot_put(&target_pc, 1) : 0;
    e->held_stack = target->create_stack;
    lw_finding_message(f, "%s: M%lu => M%lu (the end of thread T%u, which T%u joins holding "
                       "M%lu) => M%lu", lw_finding_kind_title(LW_F_INVERSION),
                       (unsigned long)ls.id, (unsigned long)es.id, target->num, t->num,
                       (unsigned long)ls.id, (unsigned long)ls.id);
    lw_finding_emit(f);
}

void lw_rule_join_held(lw_thread *t, const lw_thread *target, uintptr_t target_addr,
                       uintptr_t pc)
{
    for (unsigned i = 0; i < t->nheld; i++) {
        const lw_held *h = &t->held[i];
        unsigned slot = (unsigned)h->id & (LW_ACQ_LOG - 1);
        uint64_t key = lw_load_relaxed(&target->acq_key[slot]);
        if (key >> 1 != h->id)
            continue;   /* target did not take it (or took another lock since) */
        bool target_read = key & 1;
        if (target_read && h->mode == LW_MODE_READ)
            continue;   /* readers do not wait for readers */
        uintptr_t target_pc = lw_load_relaxed(&target->acq_pc[slot]);
        /* One report per join site and the two acquisition sites. */
        if (!lw_first_time(lw_hash_mix(pc ^ 0x6a6f696e, lw_hash_mix(h->pc, target_pc))))
            continue;
        join_cycle(t, h, target, target_addr, target_read, target_pc);
    }
}
