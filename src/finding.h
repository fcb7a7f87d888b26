/*
 * finding.h: a finding, the one thing the core hands to the outside.
 *
 * A rule, the order graph or the deadlock detector builds a finding: a plain
 * record of what happened (its kind, snapshots of the threads and locks
 * involved with their names and stack ids, the cycle's edges for an
 * inversion, typed extras) and emits it with lw_finding_emit().  The sink
 * (sink.c) gives it a fingerprint, drops repeats, counts it for the exit
 * status and hands it to the writer (report.c), which formats findings and
 * knows nothing else of the core.
 *
 * A finding refers to stacks by depot id (stacks.h) and to its locks and
 * threads by index into its own arrays, so it is self-contained: nothing in
 * it points into live core state except lock names (strings the program
 * gave to lockwatch_name_lock(), which must stay valid).
 *
 * The fingerprint identifies the problem, not the run: it mixes the kind
 * with the module-relative code locations of the finding's key stacks
 * (never addresses of data, lock ids, thread ids, pids or times), so the
 * same bug gets the same fingerprint in every run of the same binary.
 */
#ifndef LW_FINDING_H
#define LW_FINDING_H

#include "lw_base.h"

enum lw_finding_kind {
    LW_F_INVERSION = 0,
    LW_F_DEADLOCK,
    LW_F_BLOCKING,
    LW_F_DOUBLE_LOCK,
    LW_F_UNLOCK_NOT_OWNED,
    LW_F_DESTROY_LOCKED,
    LW_F_COND_WAIT_UNLOCKED,
    LW_F_COND_MULTIPLE_MUTEXES,
    LW_F_EXIT_HOLDING_LOCK,
    LW_F_RWLOCK_UPGRADE,
    LW_F_USE_AFTER_DESTROY,
    LW_F_ORDER_VIOLATION,
    LW_F_ASSERT_HELD,
    LW_F_ASSERT_NOT_HELD,
    LW_F_DATA_RACE,
    LW_F_LOST_WAKEUP,
    LW_F_NKINDS
};

/* The fixed JSON name ("lock-order-inversion", ...; never renamed) and the
 * text banner's title of a kind. */
const char *lw_finding_kind_name(enum lw_finding_kind k);
const char *lw_finding_kind_title(enum lw_finding_kind k);
/* A lock kind (enum lw_lock_kind) as a JSON word ("mutex", "c11-mutex"),
 * as a title ("Mutex", "RWLock") and as prose ("C11 mutex"). */
const char *lw_lock_kind_name(unsigned kind);
const char *lw_lock_kind_title(unsigned kind);
const char *lw_lock_kind_word(unsigned kind);
/* A lock's key, its name across runs (order.h says which; order.c makes
 * it), into out; false (out "") when it has none.  The writer puts it in
 * every JSON lock ("key"), LOCKWATCH_ORDER_FILE is matched with it. */
#define LW_LOCK_KEY_MAX 512          /* bytes of a key, NUL included */
struct lw_lock_snap;
bool lw_lock_key(const struct lw_lock_snap *l, char *out, size_t cap);

#define LW_F_MAX_THREADS LW_MAX_CYCLE        /* an inversion names a thread per edge */
#define LW_F_MAX_LOCKS   (LW_MAX_CYCLE + 8)
#define LW_F_MAX_HOLDS   128                 /* held locks, all threads together */
#define LW_TSNAP_HOLDS   16                  /* held locks a thread snapshot keeps */

/* A lock as it was when the finding was made. */
typedef struct lw_lock_snap {
    uint64_t id;              /* M<id>; the incarnation that was held or used */
    uintptr_t addr;
    uint16_t kind, mtype;     /* enum lw_lock_kind, LW_MTYPE_* */
    uint32_t first_how;       /* LW_FIRST_* */
    uintptr_t first_pc;       /* where it was first seen (the sink makes first_stack) */
    uint32_t first_stack;     /* depot id, or 0 */
    const char *name;         /* lockwatch_name_lock(), or NULL */
} lw_lock_snap;

/* A thread's held lock. */
typedef struct {
    lw_lock_snap lock;
    uint32_t mode;            /* LW_MODE_* */
    uint32_t stack;           /* depot id: where it was acquired */
} lw_hold_snap;

/* A thread as the core saw it: identity, where it was created, the stack of
 * the call the finding is about, and what it held. */
typedef struct {
    uint32_t num, parent;     /* T<num>; T0 is the main thread */
    int tid;
    char name[16];
    bool created_seen;
    uint32_t create_stack;    /* depot id */
    uint32_t stack;           /* depot id: the offending call or the wait */
    unsigned nholds;
    lw_hold_snap holds[LW_TSNAP_HOLDS];
} lw_thread_snap;

/* A lock named by a finding. */
typedef struct {
    lw_lock_snap lock;
    bool own;                 /* the finding is about it (not only held) */
    char role[96];            /* "was destroyed here"; "" = first seen */
    uint32_t role_stack;      /* depot id for the role */
} lw_flock;

/* A thread named by a finding. */
typedef struct {
    uint32_t num, parent;
    int tid;
    char name[16];
    bool created_seen;
    uint32_t create_stack;
    uint32_t stack;           /* depot id; 0 for an inversion's thread */
    char what[160];           /* "called read() (pipe) here" */
    int waits_lock;           /* index into locks, or -1 */
    int waits_thread;         /* thread number it joins, or -1 */
    uint16_t first_hold, nholds;   /* its entries in holds[] */
} lw_fthread;

typedef struct {
    uint16_t lock;            /* index into locks */
    uint16_t mode;            /* LW_MODE_* */
    uint32_t stack;           /* depot id: where it was acquired */
} lw_fhold;

/* An edge of an inversion's cycle: `to` acquired while holding `from`. */
typedef struct {
    uint16_t from, to;        /* indices into locks */
    uint16_t thread;          /* index into threads */
    uint16_t from_mode, to_mode;   /* LW_MODE_* */
    uint32_t stack;           /* depot id: acquisition of `to` */
    uint32_t held_stack;      /* depot id: acquisition of `from` */
    uint32_t timed_ms;        /* `to` was a timed acquisition with this timeout, or 0 */
} lw_fedge;

/* How an inversion could deadlock (lockwatch(7), "Confidence"). */
enum lw_confidence {
    LW_CONF_NONE = 0,         /* not an inversion */
    LW_CONF_LATENT,           /* some edges share a thread or a held lock:
                               * it deadlocks once threads run these paths
                               * at the same time */
    LW_CONF_FEASIBLE,         /* every edge from its own thread, no lock held
                               * in common: the run could have deadlocked */
};
const char *lw_confidence_name(enum lw_confidence c);

typedef struct lw_finding {
    enum lw_finding_kind kind;
    enum lw_confidence confidence;
    uint64_t fingerprint;     /* set by the sink */
    char message[512];        /* one line: what happened */
    unsigned nthreads, nlocks, nholds, nedges;
    lw_fthread threads[LW_F_MAX_THREADS];
    lw_flock locks[LW_F_MAX_LOCKS];
    lw_fhold holds[LW_F_MAX_HOLDS];
    lw_fedge edges[LW_MAX_CYCLE];
    /* Typed extras, by kind (see lockwatch(7)). */
    struct {                  /* blocking-call-under-lock */
        const char *function; /* NULL: none */
        const char *family;
        int64_t elapsed_us;   /* -1: not measured */
    } call;
    struct {                  /* order-violation: LOCKWATCH_ORDER_FILE's entries */
        const char *file;     /* the order file's path; NULL for a LOCKWATCH_ORDER
                               * declaration (its lock `to` has the role and stack) */
        const char *first;    /* key of the lock taken, which the file lists first */
        const char *second;   /* key of the lock held, listed after it */
        uint32_t first_line, second_line;   /* their lines in the file */
    } order;
    struct {                  /* data-race: the memory both threads accessed */
        uintptr_t addr;
        unsigned size;        /* bytes; 0: not a data-race */
        char variable[320];   /* its name, as a lock's label (lw_lock_desc.label): "table[3].ready",
                               * "heap object 0x...+0x8", "stack of T2"; or "" */
    } race;
    int owner_tid;            /* unlock-not-owned: > 0 the holder, else none */
    bool has_owner;
    int holder_tid;           /* destroy-locked: > 0 the holder, else none */
    bool has_holder;
    int waiters;              /* destroy-locked of a condvar: -1 none */
    /* Set by the sink. */
    int suppressed_by;        /* index of the suppression rule that matched, -1 none */
    char suppression[192];    /* LOCKWATCH_GEN_SUPPRESSIONS: the rule that would match */
    unsigned jitter;          /* LOCKWATCH_JITTER of the run (0: off) */
    uint32_t seed;            /* and its seed, to replay the run's decisions */
} lw_finding;

/* A zeroed finding of `kind` from a pool (findings are too big for the
 * stacks of the program's threads); NULL when out of memory. */
lw_finding *lw_finding_new(enum lw_finding_kind kind);
void lw_finding_free(lw_finding *f);

/* Index of l in f->locks (added if new; the same id and address is the same
 * lock), or -1 when full.  own: the finding is about it; role/role_stack
 * only when not empty. */
int lw_finding_lock(lw_finding *f, const lw_lock_snap *l, bool own, const char *role,
                    uint32_t role_stack);
/* Adds a thread from its snapshot (holds included); NULL when full. */
lw_fthread *lw_finding_thread(lw_finding *f, const lw_thread_snap *ts);
/* Index of the thread numbered num among f's threads, -1 if absent. */
int lw_finding_thread_index(const lw_finding *f, uint32_t num);
/* printf into the message or into a thread's `what`. */
void lw_finding_message(lw_finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lw_finding_what(lw_fthread *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the sink (sink.c) ---- */

/* Fingerprints f, drops it if the same fingerprint was emitted before or a
 * suppression rule matches it (suppress.h), else counts it and writes it.
 * Frees f in every case. */
void lw_finding_emit(lw_finding *f);
/* The fingerprint the sink gives f (also usable before emitting). */
uint64_t lw_finding_fingerprint(const lw_finding *f);
/* Findings emitted (not dropped as repeats) so far in this process. */
uint64_t lw_findings_count(void);
/* The status a process exiting with `status` should exit with. */
int lw_exit_status(int status);
/* Is the caller a vfork child (or a clone sharing this process's memory
 * that fork handlers did not see)?  Its writes would be its parent's. */
bool lw_in_vfork_child(void);
/* Notes this process's pid (core start-up). */
void lw_sink_start(void);
/* True the first time `sig` is offered (rules use it to decide, before
 * they unwind, whether a finding can be new). */
bool lw_first_time(uint64_t sig);
/* Was sig offered to lw_first_time before?  (Does not record it.) */
bool lw_seen_before(uint64_t sig);
/* Tests: every emitted finding goes to hook (before it is freed), repeats
 * too (first == false); with write == false none is written.  NULL
 * restores the writer only. */
typedef void (*lw_finding_hook)(const lw_finding *f, bool first, void *ctx);
void lw_sink_set_hook(lw_finding_hook hook, void *ctx, bool write);
/* Forgets which fingerprints were seen and the count (tests, fork child). */
void lw_sink_reset(void);
void lw_sink_atfork_prepare(void);
void lw_sink_atfork_parent(void);
void lw_sink_atfork_child(void);

/* ---- the writer (report.c): formats a finding, text or JSON ---- */
void lw_report_finding(const lw_finding *f);

/* ---- the run's lock-order graph, for the JSON log ----
 * Written once per process at exit (lw_core_write_graph): every lock that
 * is an end of an edge and every edge, with the stacks of the edge's first
 * acquisition, as a {"kind":"graph"} record (lockwatch(7)).  Bounded: past
 * these limits the record says "truncated". */
#define LW_GRAPH_REC_EDGES 4096
#define LW_GRAPH_REC_LOCKS 4096

typedef struct {
    uint16_t from, to;        /* indices into locks */
    uint16_t from_mode, to_mode;   /* LW_MODE_* */
    uint32_t thread;          /* the thread number that first took it */
    uint32_t stack;           /* depot id: first acquisition of `to` */
    uint32_t held_stack;      /* depot id: acquisition of `from` then */
    bool cyclic;              /* it closed a cycle (lockwatch reported or filtered it) */
} lw_gedge;

typedef struct {
    unsigned nlocks, nedges;
    bool truncated;
    lw_lock_snap locks[LW_GRAPH_REC_LOCKS];
    lw_gedge edges[LW_GRAPH_REC_EDGES];
} lw_graph_rec;

/* Writes g as one JSON line (JSON output only); the writer may drop edges
 * (and say truncated) to fit its buffer. */
void lw_report_graph(lw_graph_rec *g);

#endif
