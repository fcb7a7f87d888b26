/*
 * hand_over_hand.c - lock coupling ("hand-over-hand" locking) on a sorted
 * linked list, with nodes deleted, freed and their memory reused for nodes
 * inserted elsewhere in the list (terminates without lockwatch).
 *
 * The list has a sentinel head and one mutex per node.  Every walk takes
 * the head's lock, then the next node's lock while still holding the
 * previous one, and only then releases the previous one: a thread holds at
 * most two adjacent locks, always in list order.  TRAVERSERS threads walk
 * the whole list ROUNDS times, counting visits under each node's lock.
 * Meanwhile a mutator thread makes MOVES moves, each deleting the largest
 * original key still in the list (holding its predecessor and itself:
 * unlink, unlock, pthread_mutex_destroy, free) and inserting a new, small
 * key near the front (holding the two nodes it goes between; malloc and
 * pthread_mutex_init).  glibc's allocator hands the freed node back to the
 * next malloc of the same size, so the new node's mutex sits at the
 * address of the one just destroyed, now early in the list.
 *
 * Every order is list order, so no cycle can form among live locks.  A
 * detector that kept the destroyed mutexes' edges would see one: the
 * reused address was a successor of the nodes it now precedes.
 *
 * The program prints the final list (always the same keys, in order) and
 * how many inserted nodes reused freed memory.
 *
 * Expected lockwatch result: no report, exit status 0, the same output.
 *
 * Helgrind and DRD (valgrind 3.19): silent.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NODES 24
#define TRAVERSERS 3
#define ROUNDS 30
#define MOVES 12

struct node {
    int key;
    long visits;       /* under lock */
    struct node *next; /* under lock (of this node) */
    pthread_mutex_t lock;
};

static struct node head = {-1, 0, NULL, PTHREAD_MUTEX_INITIALIZER}; /* sentinel */
static long walks;                                                  /* atomic */

static struct node *node_new(int key)
{
    struct node *n = malloc(sizeof(*n));
    if (!n)
        abort();
    n->key = key;
    n->visits = 0;
    n->next = NULL;
    pthread_mutex_init(&n->lock, NULL);
    return n;
}

/* Walk the whole list, coupling the locks. */
static void walk(void)
{
    struct node *prev = &head, *cur;

    pthread_mutex_lock(&prev->lock);
    while ((cur = prev->next) != NULL) {
        pthread_mutex_lock(&cur->lock); /* prev -> cur, list order */
        pthread_mutex_unlock(&prev->lock);
        cur->visits++;
        prev = cur;
    }
    pthread_mutex_unlock(&prev->lock);
    __atomic_add_fetch(&walks, 1, __ATOMIC_RELAXED);
}

/* Lock-coupled search: returns with *prevp and (if not NULL) the result
 * locked; the result is the first node whose key is >= key. */
static struct node *find(int key, struct node **prevp)
{
    struct node *prev = &head, *cur;

    pthread_mutex_lock(&prev->lock);
    while ((cur = prev->next) != NULL) {
        pthread_mutex_lock(&cur->lock);
        if (cur->key >= key)
            break;
        pthread_mutex_unlock(&prev->lock);
        prev = cur;
    }
    *prevp = prev;
    return cur;
}

static void insert(struct node *n)
{
    struct node *prev, *cur = find(n->key, &prev);

    n->next = cur;
    prev->next = n;
    if (cur)
        pthread_mutex_unlock(&cur->lock);
    pthread_mutex_unlock(&prev->lock);
}

/* Remove key; returns the freed node's address (only to compare it). */
static void *remove_key(int key)
{
    struct node *prev, *cur = find(key, &prev);
    void *gone = NULL;

    if (cur && cur->key == key) {
        prev->next = cur->next;
        pthread_mutex_unlock(&cur->lock);
        pthread_mutex_destroy(&cur->lock); /* no thread can reach it now */
        gone = cur;
        free(cur);
    } else if (cur) {
        pthread_mutex_unlock(&cur->lock);
    }
    pthread_mutex_unlock(&prev->lock);
    return gone;
}

static void *traverser(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++)
        walk();
    return NULL;
}

static int reused; /* written by the mutator, read after the join */

static void *mutator(void *arg)
{
    (void)arg;
    for (int i = 0; i < MOVES; i++) {
        void *gone = remove_key((NODES - i) * 10); /* from the tail end */
        struct node *n = node_new(i * 10 + 5);     /* near the front */
        reused += (void *)n == gone;
        insert(n);
    }
    return NULL;
}

int main(void)
{
    pthread_t tr[TRAVERSERS], mu;
    struct node *n;
    int count = 0, sorted = 1, last = -1;

    for (int k = NODES; k >= 1; k--)
        insert(node_new(k * 10));
    for (int i = 0; i < TRAVERSERS; i++)
        if (pthread_create(&tr[i], NULL, traverser, NULL) != 0)
            return 1;
    if (pthread_create(&mu, NULL, mutator, NULL) != 0)
        return 1;
    for (int i = 0; i < TRAVERSERS; i++)
        pthread_join(tr[i], NULL);
    pthread_join(mu, NULL);

    printf("hand_over_hand: %ld walks, keys:", walks);
    for (n = head.next; n; n = n->next) {
        printf(" %d", n->key);
        sorted &= n->key > last;
        last = n->key;
        count++;
    }
    printf("\nhand_over_hand: %d nodes, %s, freed nodes reused by %d of %d inserts\n", count,
           sorted ? "sorted" : "NOT SORTED", reused, MOVES);
    while ((n = head.next) != NULL) {
        head.next = n->next;
        pthread_mutex_destroy(&n->lock);
        free(n);
    }
    return sorted && count == NODES ? 0 : 1;
}
