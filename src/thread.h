/*
 * thread.h: per-thread state, in initial-exec TLS (no allocation on first
 * touch, PITFALLS 8).  Only the owning thread writes its state.  Other
 * threads read it in one place: a joiner's deadlock check (deadlock.c,
 * fast_record) reads the identity, fast_wait and held[0].pc of a thread
 * it joins that is blocked on the fast path, through lw_thread_of(); those
 * fields are written before the thread blocks and read relaxed.  Reports
 * otherwise copy what they need (edges, wait records, findings).
 */
#ifndef LW_THREAD_H
#define LW_THREAD_H

#include "lw_base.h"
#include "registry.h"
#include "graph.h"

#include <pthread.h>
#include <stddef.h>


typedef struct lw_held {
    lw_lock *lock;
    uintptr_t addr;        /* the lock's address (unlock finds it without a lookup) */
    uint64_t id;           /* lock->id when acquired (detects reuse) */
    uint16_t mode;         /* LW_MODE_* */
    uint16_t framed;       /* held_frames[] of this entry's index hold: 1 its stack,
                            * 2 the stack words above its cfa (lw_core.c capture) */
    uint32_t count;        /* recursive acquisitions */
    uintptr_t pc;          /* call site of the acquisition */
    uintptr_t cfa;         /* caller's stack pointer at that call */
    uint32_t lost_seen;    /* lock->lost_seq when acquired (lost.h) */
} lw_held;

typedef struct {
    uint64_t from;         /* from lock id; 0 = empty */
    uint64_t key;          /* to id << 4 | LW_EM_* modes */
    lw_edge *e;
} lw_edge_cache_ent;

typedef struct {
    uint64_t key;          /* acquired lock id << 2 | mode; 0 = empty */
    uint32_t n;            /* entries of the held set */
    uint64_t set[LW_SIG_SET];   /* their (id << 2 | mode), in held-stack order */
} lw_sig_cache_ent;

typedef struct lw_thread {
    union {
        struct {
            int guard;     /* > 0: inside lockwatch, wrappers pass through */
            bool ready;    /* set up (implies the core is ready) */
            uint8_t slow;      /* 1: take the slow paths (LOCKWATCH_JITTER) */
            uint8_t pad_[2];   /* never written: part of gate */
        };
        uint64_t gate;     /* == LW_GATE_OPEN: ready and not inside */
    };
    uint32_t num;          /* lockwatch thread number; 0 = main thread */
    uint32_t parent;       /* creator's number */
    uint32_t create_stack; /* depot id of the pthread_create call */
    bool created_seen;     /* lockwatch saw this thread created */
    bool exit_checked;     /* exit-holding-lock already considered */
    int tid;               /* OS thread id */
    char name[16];         /* its own name, or "" (lw_thread_refresh_name) */
    /* The name the kernel gave the thread at its creation, a copy of its
     * creator's at pthread_create ("" when lockwatch did not see it created:
     * the process's, lw_process_comm).  A name equal to it was never set.
     * Written before the thread's first event, by the thread; read by
     * report paths of other threads (asleep.c, rules.c), plain: it never
     * changes after. */
    char inherited_name[16];
    unsigned nheld;
    /* A fast-path blocking acquisition in progress (nothing held): the lock
     * and its call site.  Read by other threads' deadlock checks, relaxed:
     * a thread holding nothing can only be on a wait-for cycle through a
     * thread joining it, and that joiner's check reads these (deadlock.c).
     * The address, not the node; the call site is held[0].pc (the entry
     * the thread, holding nothing, fills before it waits). */
    uintptr_t fast_wait;       /* the lock's address */
    /* Set (release) when the thread has returned from its start routine or
     * called pthread_exit: a join of it only waits for the exit itself. */
    int routine_done;
    const lw_lock *not_held;  /* set by the pre-event: l is not in held[] */
    uint64_t overflow;     /* acquisitions not tracked: no memory to grow the held stack */
    struct lw_sleeper *sleeper;   /* asleep.c: this thread's sleep slot, or NULL */
    uint64_t jit_rng;      /* LOCKWATCH_JITTER's generator (jitter.c); 0 = unseeded */
    uint8_t jit_bias;      /* this thread's slowness, 0-3 */
    /* The held-lock stack: held_cap entries at held, which is held_inline
     * or, once a thread held more, a larger array (lw_held_grow).  held_big
     * and held_big_cap keep that array when the state is reused. */
    lw_held *held;
    unsigned held_cap;
    lw_held *held_big;
    unsigned held_big_cap;
    /* The locks this thread acquired in its life, direct-mapped by id (a
     * later lock may take an earlier one's slot): id << 1 | 1 if read
     * mode, and the call site.  Read by a thread that joins this one
     * while holding a lock (rules.h, lw_rule_join_held), relaxed. */
    uint64_t acq_key[LW_ACQ_LOG];
    uintptr_t acq_pc[LW_ACQ_LOG];
    /* What was captured of held entry i's acquisition (held[i].framed;
     * held_nframes[i] words), moved with the entries:
     * always with LOCKWATCH_HELD_STACKS=full, else at the sites that
     * need it (lw_core.h, lw_site_probe). */
    uint8_t held_nframes[LW_HELD_FULL];
    uintptr_t held_frames[LW_HELD_FULL][LW_HELD_FRAMES];
    /* Acquisition sites (call pcs) this thread has used, 2-way set
     * associative, most recent first: pc << 8 | captures left at the site
     * (0 in the steady state).  site_allow bounds the captures. */
    uint64_t sites[LW_SITE_SETS * 2];
    uint32_t site_allow;
    uint32_t site_captures;   /* captures made (tests, statistics) */
    /* The lowest address of the thread's stack when lockwatch knows it (a
     * thread it saw created: the trampoline's frame less the stack size
     * asked for); 0 unknown.  side: a stack for the slow paths when that
     * one runs short (lw_side_call); on_side: running on it. */
    uintptr_t stack_lo;
    /* From here up to pthread_self() the thread's stack is surely mapped
     * (the upper half of a stack of 256 KB or more it was created with);
     * 0 unknown.  acq_stacks: its last backtraces of acquisitions that
     * formed new edges (acqstack.h), allocated at the first, kept with the
     * state when it is reused (emptied). */
    uintptr_t stack_safe_lo;
    struct lw_acq_stacks *acq_stacks;
    void *side;
    uint8_t on_side;
    lw_edge_cache_ent cache[LW_EDGE_CACHE];
    lw_sig_cache_ent sig_cache[LW_SIG_CACHE];
    uint64_t block_seen[LW_BLOCK_CACHE];   /* reported blocking-call signatures */
    /* Condvars this thread signalled lately, by address (lost.c): their
     * nodes and their mutex's, so that a signal needs no hash lookup.  An
     * entry is only a hint, checked against the nodes' keys and ids (node
     * records are never unmapped); the thread's own. */
    struct {
        uintptr_t cond, maddr;
        lw_lock *c, *m;
        uint64_t cid, mid;
        bool took;     /* this thread was seen to take m: sticky, since its
                        * acquisition log forgets (direct-mapped) */
    } lost_cache[LW_LOST_CACHE];
    lw_held held_inline[LW_HELD_INLINE];
} lw_thread;

/* guard 0, ready 1 and slow 0, read as one word (x86-64 is little-endian). */
#define LW_GATE_OPEN ((uint64_t)1 << 32)
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "LW_GATE_OPEN reads guard and ready as one little-endian word");
_Static_assert(offsetof(lw_thread, guard) == offsetof(lw_thread, gate) &&
                   offsetof(lw_thread, ready) == offsetof(lw_thread, gate) + 4 &&
                   sizeof(((lw_thread *)0)->gate) == 8,
               "gate must cover guard (low word) and ready (byte 4)");

/* The calling thread's state is lw_tls.t, allocated at its first event
 * (intercept_thread.c, lw_thread_attach): the thread-local storage
 * lockwatch takes from every thread (glibc carves it out of the thread's
 * stack) is these 24 bytes (104 with lockwatch's other thread-local
 * variables), not the state's 30 KB.  Until then lw_tls.t is
 * lw_dormant, whose gate is closed (every wrapper takes its slow path,
 * which attaches a state); after the thread's end was handled, lw_gone,
 * whose guard is up (everything passes through).  Both are shared by many
 * threads and never written.  lw_tls.guard is the guard of a thread with
 * no state of its own.  fp: the caller's frame pointer at the last entry
 * into an acquiring function (LW_NOTE_FP), for acqstack.h. */
typedef struct {
    lw_thread *t;
    int guard;
    uintptr_t fp;
} lw_tls_t;
extern LW_TLS lw_tls_t lw_tls;
extern lw_thread lw_dormant, lw_gone;

static inline bool lw_thread_own(const lw_thread *t)
{
    return t != &lw_dormant && t != &lw_gone;
}
/* Raise and lower the calling thread's guard (lockwatch is calling: the
 * wrappers pass through), whether or not it has a state yet.  A state is
 * neither attached nor detached between the two. */
static inline void lw_guard_up(void)
{
    lw_thread *t = lw_tls.t;
    if (lw_thread_own(t))
        t->guard++;
    else
        lw_tls.guard++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
static inline void lw_guard_down(void)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    lw_thread *t = lw_tls.t;
    if (lw_thread_own(t))
        t->guard--;
    else
        lw_tls.guard--;
}
static inline bool lw_guarded(void)
{
    lw_thread *t = lw_tls.t;
    return lw_tls.guard != 0 || (lw_thread_own(t) && t->guard != 0);
}

/* Runs fn(arg), on a side stack of LW_SIDE_SIZE bytes when the calling
 * thread's own stack has less than LW_SIDE_NEED left below it: reports,
 * unwinding and symbolising take several KB, more than a thread created
 * with a small stack (PTHREAD_STACK_MIN is 16 KiB) may have.  The switch
 * is a frame with call-frame information, so backtraces taken on the side
 * stack continue into the thread's own frames. */
void lw_side_call(void (*fn)(void *), void *arg);
/* Gives back t's side stack (its thread has ended). */
void lw_side_free(lw_thread *t);

/* A state's first set-up (zeroed memory, or a state being reused, whose
 * grown held stack it keeps): what zero does not mean. */
void lw_thread_init(lw_thread *t);

/* First use on this thread: number it (threads lockwatch did not see
 * created get a number lazily). */
void lw_thread_setup(lw_thread *t);
/* Set by the pthread_create trampoline before the thread's first event. */
void lw_thread_adopt(lw_thread *t, uint32_t num, uint32_t parent, uint32_t create_stack,
                     const char *inherited_name);
uint32_t lw_thread_new_number(void);
/* Reads the calling thread's name into t->name (slow paths only). */
void lw_thread_refresh_name(lw_thread *t);
/* The kernel's name of thread tid of this process into out (unchanged when
 * the thread is gone): /proc/self/task/TID/comm, read with raw system
 * calls (slow paths only). */
void lw_thread_name_of(int tid, char *out, size_t cap);
/* Clears `name` (a thread's kernel name, as just read) when it is only the
 * name t inherited at its creation, not one set with pthread_setname_np or
 * prctl(PR_SET_NAME): every thread starts with its creator's name, in the
 * end the process's, which tells a reader nothing. */
void lw_thread_unset_inherited(const lw_thread *t, char *name);
/* The main thread's name when lockwatch started (at exec: the program's
 * file name, 15 bytes at most); read once by lw_thread_init_process. */
extern char lw_process_comm[16];
void lw_thread_init_process(void);
/* Another live thread's state from its pthread_t (glibc keeps static TLS at
 * a fixed offset from the thread descriptor). */
lw_thread *lw_thread_of(pthread_t pt);
/* In a fork child: the calling thread is the only one left. */
void lw_thread_atfork_child(void);

#endif
