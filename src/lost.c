/*
 * lost.c: lost wake-ups (see lost.h).
 * Owns: the table of lost signals and its lock.
 * Must never: make the usual signal (a condvar the sender signalled before,
 * whose mutex it took) pay more than lw_lost_known_safe's loads, or any
 * signal that finds a waiter or whose sender holds or took the mutex more
 * than two registry lookups; hold lost_lock while unwinding or reporting;
 * report a wait that was woken.
 */
#include "lost.h"
#include "arena.h"
#include "fmt.h"
#include "lw_atomic.h"
#include "lw_clock.h"
#include "lw_core.h"
#include "registry.h"
#include "stacks.h"

#include <string.h>

/* protects: every field of table[] but cond_id's relaxed probe.  A leaf
 * lock, never held while unwinding; a fork child resets it (gen spin). */
static int lost_lock;
static lw_lost table[LW_LOST_SLOTS];

static unsigned slot_of(uint64_t cond_id)
{
    return (unsigned)(lw_hash_mix(cond_id, 0x105eu) >> 7) & (LW_LOST_SLOTS - 1);
}

/* Did t take m at some time (its acquisition log, direct-mapped by id: an
 * entry taken over by another lock says no)? */
static bool took_before(const lw_thread *t, const lw_lock *m)
{
    return t->acq_key[(unsigned)m->id & (LW_ACQ_LOG - 1)] >> 1 == m->id;
}

/* Is node l still the lock at addr, incarnation id?  (A record read through
 * a stale pointer is a record of the same type: safe to read.) */
static bool still(const lw_lock *l, uintptr_t addr, uint64_t id)
{
    return __atomic_load_n(&l->h.k1, __ATOMIC_ACQUIRE) == addr &&
           __atomic_load_n(&l->id, __ATOMIC_RELAXED) == id;
}

/* The nodes of the condvar at cond and of its mutex, through t's cache;
 * false when either is unknown (never waited on). */
static bool cond_nodes(lw_thread *t, uintptr_t cond, lw_lock **cp, lw_lock **mp)
{
    __typeof__(t->lost_cache[0]) *e = &t->lost_cache[lw_lost_cache_slot(cond)];
    if (e->cond == cond && still(e->c, cond, e->cid) && still(e->m, e->maddr, e->mid) &&
        __atomic_load_n(&e->c->cond_mutex, __ATOMIC_RELAXED) == e->maddr) {
        *cp = e->c;
        *mp = e->m;
        return true;
    }
    lw_lock *c = lw_registry_find(cond);
    if (!c || c->kind != LW_KIND_COND)
        return false;
    uintptr_t maddr = __atomic_load_n(&c->cond_mutex, __ATOMIC_RELAXED);
    lw_lock *m = maddr ? lw_registry_find(maddr) : NULL;
    if (!m || m->kind != LW_KIND_MUTEX)
        return false;
    e->cond = cond;
    e->maddr = maddr;
    e->c = c;
    e->m = m;
    e->cid = c->id;
    e->mid = m->id;
    e->took = false;
    *cp = c;
    *mp = m;
    return true;
}

bool lw_lost_suspect_slow(lw_thread *t, uintptr_t cond, lw_lock **cp, lw_lock **mp)
{
    /* 1: a condvar whose mutex is known; 2: the sender neither holds the
     * mutex nor ever took it.  What the acquisition log says it took is
     * remembered in the cache entry (the log keeps one lock a slot: a
     * later lock in M's slot would make a producer that signals after its
     * unlock look like a sender that never took M); 1 again: nobody waits. */
    if (!cond_nodes(t, cond, cp, mp))
        return false;
    __typeof__(t->lost_cache[0]) *e = &t->lost_cache[lw_lost_cache_slot(cond)];
    if (e->took)
        return false;
    if (took_before(t, *mp) || lw_held_find(t, *mp)) {
        if (e->m == *mp)
            e->took = true;
        return false;
    }
    return lw_cond_waiters(*cp) == 0;
}

void lw_lost_signal(lw_thread *t, uintptr_t cond, bool broadcast, lw_holder_fn holder,
                    uintptr_t pc)
{
    lw_lock *c, *m;
    if (lw_lost_suspect(t, cond, &c, &m))
        lw_lost_record(t, c, m, broadcast, holder, pc);
}

void lw_lost_record(lw_thread *t, lw_lock *c, lw_lock *m, bool broadcast, lw_holder_fn holder,
                    uintptr_t pc)
{
    uintptr_t maddr = m->h.k1;
    /* 3: another thread holds it.  Bump the clock between two reads of the
     * holder: the hold seen after the bump is one that began before it
     * exactly when its lost_seen is older (lost.h). */
    int w = holder(maddr);
    if (w <= 0 || w == t->tid)
        return;
    uint32_t seq = __atomic_add_fetch(&m->lost_seq, 1, __ATOMIC_SEQ_CST);
    if (holder(maddr) != w)
        return;

    lw_lost rec;
    memset(&rec, 0, sizeof(rec));
    rec.cond_id = c->id;
    rec.mutex_id = m->id;
    rec.seq = seq;
    rec.holder_tid = w;
    rec.broadcast = broadcast;
    rec.pc = pc;
    rec.ns = lw_mono_ns();

    /* A signal sent again from the same call by the same thread (a sender
     * that signals without the mutex, over and over, while another thread
     * holds it): the stack and identity of the record it replaces, without
     * unwinding again (20 us a signal, measured, otherwise). */
    lw_lost *e = &table[slot_of(c->id)];
    lw_gen_spin_lock(&lost_lock);
    bool again = e->pc == pc && e->tid == t->tid && e->num == t->num && e->stack;
    if (again) {
        rec.stack = e->stack;
        rec.num = e->num;
        rec.parent = e->parent;
        rec.tid = e->tid;
        memcpy(rec.name, e->name, sizeof(rec.name));
        rec.created_seen = e->created_seen;
        rec.create_stack = e->create_stack;
        *e = rec;
    }
    lw_gen_spin_unlock(&lost_lock);
    if (again)
        return;

    uintptr_t pcs[LW_MAX_FRAMES], sps[LW_MAX_FRAMES];
    unsigned n = lw_unwind(pcs, sps, LW_MAX_FRAMES);
    unsigned depth = lw_stack_depth();
    rec.stack = n ? lw_depot_put(pcs, n < depth ? n : depth) : lw_depot_put(&pc, 1);
    lw_thread_snap ts;
    lw_snap_thread(t, 0, NULL, NULL, 0, 0, &ts);
    rec.num = ts.num;
    rec.parent = ts.parent;
    rec.tid = ts.tid;
    memcpy(rec.name, ts.name, sizeof(rec.name));
    rec.created_seen = ts.created_seen;
    rec.create_stack = ts.create_stack;

    lw_gen_spin_lock(&lost_lock);
    *e = rec;
    lw_gen_spin_unlock(&lost_lock);
}

bool lw_lost_match(lw_thread *t, const lw_lock *c, const lw_lock *m, const lw_held *h,
                   lw_lost *out)
{
    if (!c || !m || !h || h->lock != m || h->id != m->id)
        return false;
    lw_lost *e = &table[slot_of(c->id)];
    if (LW_LIKELY(__atomic_load_n(&e->cond_id, __ATOMIC_RELAXED) != c->id))
        return false;
    lw_gen_spin_lock(&lost_lock);
    *out = *e;
    lw_gen_spin_unlock(&lost_lock);
    /* 4: W held M at the signal, in the hold it waits in now. */
    if (out->cond_id != c->id || out->mutex_id != m->id || out->holder_tid != t->tid ||
        (int32_t)(h->lost_seen - out->seq) >= 0)
        return false;
    out->acq_pc = h->pc;
    return true;
}

static void sender_snap(const lw_lost *lost, lw_thread_snap *ts)
{
    memset(ts, 0, sizeof(*ts));
    ts->num = lost->num;
    ts->parent = lost->parent;
    ts->tid = lost->tid;
    memcpy(ts->name, lost->name, sizeof(ts->name));
    ts->created_seen = lost->created_seen;
    ts->create_stack = lost->create_stack;
    ts->stack = lost->stack;
}

/* f has the waiter as its thread 0: adds the sender, the locks, the words. */
static void fill(lw_finding *f, lw_lock *c, lw_lock *m, const lw_lost *lost, uint64_t now_ns,
                 uint64_t waited_ms)
{
    lw_thread_snap ss;
    sender_snap(lost, &ss);
    lw_fthread *w = &f->threads[0];
    lw_fthread *s = lw_finding_thread(f, &ss);
    lw_lock_snap cs, ms;
    int ci = -1;
    unsigned long cid = 0, mid = 0;
    if (c) {
        lw_snap_lock(c, &cs);
        ci = lw_finding_lock(f, &cs, true, NULL, 0);
        cid = (unsigned long)cs.id;
    }
    if (m) {
        char role[96];
        lw_buf b;
        lw_buf_init(&b, role, sizeof(role));
        lw_buf_printf(&b, "was held by T%u from before the signal to the wait, taken here",
                      w->num);
        lw_snap_lock(m, &ms);
        lw_finding_lock(f, &ms, true, role, lost->acq_pc ? lw_depot_put(&lost->acq_pc, 1) : 0);
        mid = (unsigned long)ms.id;
    }
    const char *call = lost->broadcast ? "pthread_cond_broadcast" : "pthread_cond_signal";
    w->waits_lock = ci;
    if (waited_ms)
        lw_finding_what(w, "waits on condition variable M%lu with mutex M%lu, held since before "
                        "the signal; the wait timed out after %lu ms",
                        cid, mid, (unsigned long)waited_ms);
    else
        lw_finding_what(w, "waits on condition variable M%lu with mutex M%lu, held since before "
                        "the signal; no thread is left to signal it", cid, mid);
    if (s)
        lw_finding_what(s, "called %s() here, not holding mutex M%lu, while T%u held it and no "
                        "thread waited", call, mid, w->num);
    unsigned long ago = now_ns > lost->ns ? (unsigned long)((now_ns - lost->ns) / 1000000u) : 0;
    lw_finding_message(f, "thread T%u waits on condition variable M%lu for a wake-up that was "
                       "lost: thread T%u called %s() %lu ms before, without holding mutex M%lu, "
                       "while T%u held M%lu between checking its condition and waiting",
                       w->num, cid, lost->num, call, ago, mid, w->num, mid);
}

void lw_lost_report_timeout(lw_thread *t, lw_lock *c, lw_lock *m, const lw_lost *lost,
                            uint64_t waited_ms, const char *call, uintptr_t pc)
{
    (void)call;
    uint64_t sig = lw_hash_mix(lost->pc, lw_mix64(pc ^ 0x10573a4eull));
    if (!lw_first_time(sig))
        return;
    lw_finding *f = lw_finding_about_self(t, LW_F_LOST_WAKEUP, m ? m->h.k1 : 0);
    if (!f)
        return;
    fill(f, c, m, lost, lw_mono_ns(), waited_ms ? waited_ms : 1);
    lw_finding_emit(f);
}

void lw_lost_report_asleep(const lw_thread_snap *w, lw_lock *c, lw_lock *m, const lw_lost *lost)
{
    lw_finding *f = lw_finding_new(LW_F_LOST_WAKEUP);
    if (!f)
        return;
    if (!lw_finding_thread(f, w)) {
        lw_finding_free(f);
        return;
    }
    fill(f, c, m, lost, lw_mono_ns(), 0);
    lw_finding_emit(f);
}

void lw_lost_atfork_child(void)
{
    lost_lock = 0;
    memset(table, 0, sizeof(table));
}
