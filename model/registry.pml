/*
 * registry.pml: a Promela model of lockwatch's lock-free-lookup hash,
 * lw_hash (src/registry.h, src/registry.c), which the lock registry
 * (address -> lock node) and the order graph's edge set are built on.
 * Checked with SPIN (Debian's package "spin", 6.5.2): `make check-model`.
 *
 * What is modelled, as the C code does it, one shared load or store per
 * step (sequential consistency; see "not modelled" below):
 *  - buckets (NBUCKET chain heads), one stripe spinlock per bucket;
 *  - records with next, free_next, bucket, reuse, k1, k2 and a slot;
 *  - lw_hash_insert: under the stripe, look for the key in the chain; else
 *    pop the free list (under free_lock) and bump reuse to odd, or take a
 *    fresh record (and give it a slot); store k2, k1, bucket, next, bump
 *    a recycled record's reuse to even, then publish at the chain's head;
 *  - lw_hash_remove: under the stripe, if the record still holds the key,
 *    k1 = 0 (tombstone), unlink it (its own next kept), push it on the
 *    free list (under free_lock);
 *  - lw_hash_find, the lock-free reader: up to LW_TRIES walks of the chain,
 *    each record read as the C code reads it (reuse, k1, k2, next, bucket,
 *    reuse again, k1 again), a walk abandoned when the record is being
 *    set up (odd count), was recycled (the count moved) or lives in
 *    another chain (bucket), then lw_hash_find_locked under the stripe;
 *  - the slot table: a record keeps the slot it got when first allocated
 *    through every reuse, and a slot hint is trusted only when the record
 *    holds the key (lw_slot_lookup).
 *
 * Keys (k1,k2): S (1,0) in bucket 0 is inserted before anything runs and
 * never removed: "there all along".  C (2,0) and E (2,1) share bucket 0
 * with S (E has C's k1 and another k2, as the order graph's edges from one
 * lock to two others); D (3,0) lives in bucket 1.  C is inserted at start
 * too, ahead of S in its chain, so that a reader must walk through a
 * record that writers may remove and recycle.  NWRITER writers each run
 * up to OPS operations, chosen freely among insert and remove of C, D
 * and E; NREADER readers look up a key of their choice (any of the
 * four), then follow a slot hint.
 *
 * Properties (registry.h's promises), as assertions:
 *  P1 a lookup that returns a record returns one that held exactly the
 *     key it was asked for at the moment the reader matched k1 (its
 *     linearisation point): never a record holding another key;
 *  P2 a lookup of a key there all along (S) finds it: a reader led off its
 *     chain by a recycled record notices and starts again;
 *  P3 no lost or duplicated insert: at every moment at most one record of
 *     a chain holds a key; when everything has run, each key is in its
 *     chain exactly when the writers' last completed operation on it was
 *     an insert; every chained record holds a key (k1 != 0) and names its
 *     chain in `bucket`; chains are acyclic; each record is in one chain,
 *     on the free list, or never used;
 *  P4 a slot keeps naming the record it was given to, and a slot hint
 *     returns a record only while it holds the key;
 *  P5 lookups terminate: with -DNP, no non-progress cycle (the writers
 *     are bounded, so an infinite loop can only be a reader's).
 *
 * Deliberately broken variants (each must produce a violation; make
 * check-model checks that it does):
 *  -DBROKEN_V1               the code before the fix this model led to:
 *                            one reuse bump when a record is recycled, no
 *                            odd phase, the bucket read after the reuse
 *                            re-check.  A reader that reads the count just
 *                            after the bump takes the record's new link
 *                            (into another chain), then the record is
 *                            recycled again into the reader's chain before
 *                            it reads the bucket: it misses S (P2)
 *  -DBROKEN_NO_ODD_CHECK     the reader does not reject an odd count (a
 *                            record being set up): the same miss (P2)
 *  -DBROKEN_LATE_BUCKET      the bucket read after the reuse re-check, as
 *                            before: a recycling between the two reads
 *                            passes unnoticed (P2)
 *  -DBROKEN_NO_BUCKET_CHECK  no bucket check: led by a recycled record
 *                            into another chain, the reader misses S (P2)
 *  -DBROKEN_NO_REUSE_BUMP    recycling leaves the reuse count alone (P2
 *                            or P1)
 * (With the odd phase, the order of the bucket and next stores of an
 * insert no longer matters: a variant storing next first passes.)
 *
 * Not modelled: the C11 memory model (the code uses acquire loads and
 * release stores; the model is sequentially consistent, so it checks the
 * algorithm, not the choice of orderings); the payload and init callback;
 * more than NREC records, NBUCKET buckets or the writers' OPS; reuse
 * counter wrap-around (32 bits in C); arena exhaustion beyond "no fresh
 * record left" (insert then fails, as lw_hash_insert returns NULL); fork
 * (lw_hash_atfork_child).
 */

#ifndef NREC
#define NREC 3
#endif
#ifndef NWRITER
#define NWRITER 2
#endif
#ifndef NREADER
#define NREADER 1
#endif
#ifndef OPS
#define OPS 2
#endif
#define NBUCKET 2
#define NIL 255
#define LW_TRIES 4

/* keys: index 0 unused (k1 == 0 is the tombstone) */
#define KS 1
#define KC 2
#define KD 3
#define KE 4
#define NKEY 5
byte key_k1[NKEY];
byte key_k2[NKEY];
byte key_b[NKEY];

/* the table */
byte head[NBUCKET];
bool stripe[NBUCKET];
byte freehd = NIL;
bool free_lock;
byte nalloc;              /* fresh records handed out */

/* records */
byte nxt[NREC];
byte fnext[NREC];
byte bkt[NREC];
byte reuse[NREC];
byte k1[NREC];
byte k2[NREC];
byte slot[NREC];          /* 0: none; slots run from 1 */

/* the slot table: slot -> record */
byte slot_tab[NREC + 1];
byte next_slot = 1;
bool slot_lock;

/* ghost: is the key in the table, by the writers' completed operations
 * (set at an insert's publication, cleared at a removal's tombstone) */
bool present[NKEY];
byte running;             /* processes still working */

inline lock(l)   { atomic { !l -> l = true } }
inline unlock(l) { l = false }

/* P3 at one instant: at most one record of bucket bb holds key kk. */
inline check_unique(bb, kk, w, cnt)
{
    d_step {
        cnt = 0;
        w = head[bb];
        do
        :: w == NIL -> break
        :: else ->
            if
            :: k1[w] == key_k1[kk] && k2[w] == key_k2[kk] -> cnt++
            :: else -> skip
            fi;
            w = nxt[w]
        od;
        assert(cnt <= 1);
        cnt = 0;
        w = NIL
    }
}

/* lw_hash_insert(key kk); the record in e (NIL: exhausted). */
inline hash_insert(kk, e, w, cnt)
{
    lock(stripe[key_b[kk]]);
    /* the chain does not change while we hold its stripe */
    d_step {
        e = head[key_b[kk]];
        do
        :: e == NIL -> break
        :: e != NIL && k1[e] == key_k1[kk] && k2[e] == key_k2[kk] -> break
        :: else -> e = nxt[e]
        od
    }
    if
    :: e != NIL -> unlock(stripe[key_b[kk]])      /* already there */
    :: else ->
        lock(free_lock);
        e = freehd;
        if
        :: e != NIL -> freehd = fnext[e]
        :: else -> skip
        fi;
        unlock(free_lock);
        if
        :: e == NIL ->
            /* fresh memory (lw_arena_alloc, atomic under the arena lock):
             * zeroed, never in a chain; NIL when exhausted */
            d_step {
                if
                :: nalloc < NREC -> e = nalloc; nalloc++; nxt[e] = NIL; bkt[e] = NIL
                :: else -> skip
                fi
            }
            if
            :: e != NIL ->
                /* slot_assign */
                lock(slot_lock);
                slot_tab[next_slot] = e;
                slot[e] = next_slot;
                next_slot++;
                unlock(slot_lock)
            :: else -> skip
            fi
        :: else ->
            /* recycled: odd while it is being set up again */
#ifndef BROKEN_NO_REUSE_BUMP
            reuse[e] = reuse[e] + 1;
#endif
            skip
        fi;
        if
        :: e == NIL ->
            unlock(stripe[key_b[kk]])             /* memory exhausted */
        :: else ->
            k2[e] = key_k2[kk];
            k1[e] = key_k1[kk];
            bkt[e] = key_b[kk];
            nxt[e] = head[key_b[kk]];
#if !defined(BROKEN_NO_REUSE_BUMP) && !defined(BROKEN_V1)
            /* even again: set up (a fresh record stays even) */
            if
            :: reuse[e] % 2 == 1 -> reuse[e] = reuse[e] + 1
            :: else -> skip
            fi;
#endif
            atomic { head[key_b[kk]] = e; present[kk] = true };
            check_unique(key_b[kk], kk, w, cnt);
            unlock(stripe[key_b[kk]])
        fi
    fi
}

/* lw_registry_forget / lw_hash_remove of the record holding kk, found
 * under the stripe (the C caller passes a record it looked up earlier;
 * the stripe re-check makes a stale one a no-op, which needs no model). */
inline hash_remove(kk, e, w)
{
    lock(stripe[key_b[kk]]);
    d_step {
        e = head[key_b[kk]];
        do
        :: e == NIL -> break
        :: e != NIL && k1[e] == key_k1[kk] && k2[e] == key_k2[kk] -> break
        :: else -> e = nxt[e]
        od
    }
    if
    :: e == NIL -> skip
    :: else ->
        atomic { k1[e] = 0; present[kk] = false };
        /* unlink: one store, to the head or to the predecessor's next */
        if
        :: head[key_b[kk]] == e -> head[key_b[kk]] = nxt[e]
        :: else ->
            d_step {
                w = head[key_b[kk]];
                do
                :: nxt[w] == e -> break
                :: else -> w = nxt[w]
                od
            };
            nxt[w] = nxt[e]
        fi;
        lock(free_lock);
        fnext[e] = freehd;
        freehd = e;
        unlock(free_lock)
    fi;
    unlock(stripe[key_b[kk]])
}

proctype writer()
{
    byte e = NIL, w = NIL, cnt, op = 0;
    do
    :: op < OPS ->
        if
        :: hash_insert(KC, e, w, cnt)
        :: hash_remove(KC, e, w)
        :: hash_insert(KD, e, w, cnt)
        :: hash_remove(KD, e, w)
        :: hash_insert(KE, e, w, cnt)
        :: hash_remove(KE, e, w)
        fi;
        op++;
        e = NIL; w = NIL
    :: op < OPS -> break                  /* a writer may stop early */
    :: else -> break
    od;
    running--
}

proctype reader()
{
    byte kk, b, e, n, r1, ek1, ek2, eb, tries, res = NIL, s;
    bool held, jumped;
    if
    :: kk = KS
    :: kk = KC
    :: kk = KD
    :: kk = KE
    fi;
    b = key_b[kk];
    /* lw_hash_find */
    tries = 0;
    do
    :: tries < LW_TRIES ->
        e = head[b];
        jumped = false;
        do
        :: e == NIL -> break
        :: else ->
            r1 = reuse[e];
            /* held: ghost, does the record hold the key as k1 is read? */
            atomic { ek1 = k1[e]; held = (k1[e] == key_k1[kk] && k2[e] == key_k2[kk]) };
            ek2 = k2[e];
            n = nxt[e];
#ifdef BROKEN_V1
            /* the reader before the fix: no odd check, and the bucket read
             * after the reuse re-check */
            if
            :: reuse[e] != r1 -> jumped = true; break
            :: else -> skip
            fi;
            if
            :: bkt[e] != b -> jumped = true; break
            :: else -> skip
            fi;
#else
#ifndef BROKEN_LATE_BUCKET
            eb = bkt[e];
#endif
#ifndef BROKEN_NO_ODD_CHECK
            if
            :: r1 % 2 == 1 -> jumped = true; break    /* being set up */
            :: else -> skip
            fi;
#endif
            if
            :: reuse[e] != r1 -> jumped = true; break /* recycled meanwhile */
            :: else -> skip
            fi;
#ifdef BROKEN_LATE_BUCKET
            eb = bkt[e];
#endif
#ifndef BROKEN_NO_BUCKET_CHECK
            if
            :: eb != b -> jumped = true; break        /* in another chain */
            :: else -> skip
            fi;
#endif
#endif
            if
            :: ek1 == key_k1[kk] && ek2 == key_k2[kk] && k1[e] == key_k1[kk] ->
                res = e;
                goto found
            :: else -> skip
            fi;
            e = n
        od;
        if
        :: !jumped -> goto missed
        :: else -> tries++
        fi
    :: else ->
        /* lw_hash_find_locked */
        lock(stripe[b]);
        d_step {
            e = head[b];
            do
            :: e == NIL -> break
            :: e != NIL && k1[e] == key_k1[kk] && k2[e] == key_k2[kk] -> break
            :: else -> e = nxt[e]
            od;
            held = true;
            res = e
        }
        unlock(stripe[b]);
        if
        :: res != NIL -> goto found
        :: else -> goto missed
        fi
    od;
found:
    assert(held);                             /* P1 */
    /* P4: the record keeps its slot; a later hint lookup trusts the
     * record only while it holds the key */
    s = slot[res];
    assert(s != 0 && slot_tab[s] == res);
    e = slot_tab[s];
    atomic {
        if
        :: k1[e] == key_k1[kk] ->
            assert(k1[e] == key_k1[kk])       /* P4 (one load: trivial in SC) */
        :: else -> skip
        fi
    };
    goto done;
missed:
    assert(kk != KS);                         /* P2 */
done:
    running--
}

/* P3 when everything has run. */
proctype final_check()
{
    byte kk, b, e, cnt, seen[NREC], i, steps;
    running == 0;
    d_step {
        /* chains: acyclic, tombstone-free, bucket fields right, one key once */
        b = 0;
        do
        :: b < NBUCKET ->
            e = head[b];
            steps = 0;
            do
            :: e == NIL -> break
            :: else ->
                assert(steps < NREC);         /* acyclic */
                assert(k1[e] != 0 && bkt[e] == b);
                assert(seen[e] == 0);
                seen[e] = 1;
                steps++;
                e = nxt[e]
            od;
            b++
        :: else -> break
        od;
        /* the free list: records out of every chain */
        e = freehd;
        steps = 0;
        do
        :: e == NIL -> break
        :: else ->
            assert(steps < NREC && seen[e] == 0 && k1[e] == 0);
            seen[e] = 2;
            steps++;
            e = fnext[e]
        od;
        /* nothing lost: every record handed out is chained or free */
        i = 0;
        do
        :: i < nalloc -> assert(seen[i] != 0); i++
        :: else -> break
        od;
        /* each key in its chain exactly when present */
        kk = 1;
        do
        :: kk < NKEY ->
            cnt = 0;
            e = head[key_b[kk]];
            do
            :: e == NIL -> break
            :: else ->
                if
                :: k1[e] == key_k1[kk] && k2[e] == key_k2[kk] -> cnt++
                :: else -> skip
                fi;
                e = nxt[e]
            od;
            assert(cnt == (present[kk] -> 1 : 0));
            kk++
        :: else -> break
        od;
        assert(present[KS])
    }
}

init {
    byte e = NIL, w = NIL, cnt, i;
    atomic {
        key_k1[KS] = 1; key_k2[KS] = 0; key_b[KS] = 0;
        key_k1[KC] = 2; key_k2[KC] = 0; key_b[KC] = 0;
        key_k1[KE] = 2; key_k2[KE] = 1; key_b[KE] = 0;
        key_k1[KD] = 3; key_k2[KD] = 0; key_b[KD] = 1;
        head[0] = NIL; head[1] = NIL;
        /* S, then C ahead of it in bucket 0 */
        hash_insert(KS, e, w, cnt);
        e = NIL;
        hash_insert(KC, e, w, cnt);
        e = NIL; w = NIL; cnt = 0;
        running = NWRITER + NREADER;
        i = 0;
        do
        :: i < NWRITER -> run writer(); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NREADER -> run reader(); i++
        :: else -> break
        od;
        run final_check()
    }
}
