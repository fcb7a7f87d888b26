/*
 * lock_names.c - four lock-order inversions, one for each kind of memory a
 * lock lives in, so that reports can name the locks by what they are.
 *
 *  1. globals: transfer(1, 3) in thread 1, then transfer(3, 1) in thread 2
 *     lock accounts[1].lock and accounts[3].lock (members of a global array
 *     of structs) in opposite orders;
 *  2. a static and a heap lock: thread 3 takes audit_lock (a static) then
 *     the lock inside a malloc'ed journal; main takes them the other way;
 *  3. main's own stack: thread 4 takes frame_lock, a local variable of
 *     stack_case() in main, then accounts[0].lock; main, still in
 *     stack_case(), takes them the other way;
 *  4. another thread's stack: thread 5 takes its local own_lock then
 *     accounts[2].lock and waits; main takes them the other way while
 *     thread 5 is still alive;
 *  5. a name given with lockwatch_name_lock() wins: ledger[0], named
 *     "ledger head", and ledger[1] (unnamed), inverted by threads 6 and 7.
 * Each pair of acquisitions is separated by a join or a semaphore, so the
 * program never deadlocks.
 *
 * Expected lockwatch result: four `lock-order-inversion` reports whose Cycle
 * lines, edge headings and messages name the locks: accounts[1].lock and
 * accounts[3].lock (declared at the line of `accounts` below); audit_lock
 * (static) and a heap object; local 'frame_lock' of stack_case;
 * accounts[2].lock and the stack of thread 5; "ledger head" and ledger[1].
 */
#include <lockwatch.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

#define N_ACCOUNTS 4

struct account {
    long balance;
    pthread_mutex_t lock;
};

struct account accounts[N_ACCOUNTS];
static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;

struct journal {
    long entries[2];
    pthread_mutex_t lock;   /* 16 bytes into the allocation */
};
static struct journal *journal;

pthread_mutex_t ledger[2] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER };

static void transfer(int from, int to, long amount)
{
    pthread_mutex_lock(&accounts[from].lock);
    pthread_mutex_lock(&accounts[to].lock);
    accounts[from].balance -= amount;
    accounts[to].balance += amount;
    pthread_mutex_unlock(&accounts[to].lock);
    pthread_mutex_unlock(&accounts[from].lock);
}

static void *one_to_three(void *arg)
{
    (void)arg;
    transfer(1, 3, 10);
    return NULL;
}

static void *three_to_one(void *arg)
{
    (void)arg;
    transfer(3, 1, 5);
    return NULL;
}

static void *audit_then_journal(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&audit_lock);
    pthread_mutex_lock(&journal->lock);
    journal->entries[0]++;
    pthread_mutex_unlock(&journal->lock);
    pthread_mutex_unlock(&audit_lock);
    return NULL;
}

static void *frame_then_account(void *arg)
{
    pthread_mutex_t *frame_lock = arg;
    pthread_mutex_lock(frame_lock);
    pthread_mutex_lock(&accounts[0].lock);
    accounts[0].balance++;
    pthread_mutex_unlock(&accounts[0].lock);
    pthread_mutex_unlock(frame_lock);
    return NULL;
}

static void *ledger_pair(void *arg)
{
    int first = arg != NULL;
    pthread_mutex_lock(&ledger[first]);
    pthread_mutex_lock(&ledger[!first]);
    pthread_mutex_unlock(&ledger[!first]);
    pthread_mutex_unlock(&ledger[first]);
    return NULL;
}

static void run(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_create(&t, NULL, fn, arg);
    pthread_join(t, NULL);
}

static void stack_case(void)
{
    pthread_mutex_t frame_lock;
    pthread_mutex_init(&frame_lock, NULL);
    run(frame_then_account, &frame_lock);
    pthread_mutex_lock(&accounts[0].lock);
    pthread_mutex_lock(&frame_lock);      /* closes the cycle on main's stack */
    pthread_mutex_unlock(&frame_lock);
    pthread_mutex_unlock(&accounts[0].lock);
    pthread_mutex_destroy(&frame_lock);
}

static sem_t taken, done;
static pthread_mutex_t *other_stack_lock;

static void *owner_thread(void *arg)
{
    (void)arg;
    pthread_mutex_t own_lock;
    pthread_mutex_init(&own_lock, NULL);
    pthread_mutex_lock(&own_lock);
    pthread_mutex_lock(&accounts[2].lock);
    pthread_mutex_unlock(&accounts[2].lock);
    pthread_mutex_unlock(&own_lock);
    other_stack_lock = &own_lock;
    sem_post(&taken);
    sem_wait(&done);       /* own_lock lives until main is done with it */
    pthread_mutex_destroy(&own_lock);
    return NULL;
}

int main(void)
{
    for (int i = 0; i < N_ACCOUNTS; i++) {
        accounts[i].balance = 100;
        pthread_mutex_init(&accounts[i].lock, NULL);
    }
    run(one_to_three, NULL);
    run(three_to_one, NULL);

    journal = malloc(sizeof(*journal));
    if (!journal)
        return 1;
    pthread_mutex_init(&journal->lock, NULL);
    run(audit_then_journal, NULL);
    pthread_mutex_lock(&journal->lock);
    pthread_mutex_lock(&audit_lock);
    pthread_mutex_unlock(&audit_lock);
    pthread_mutex_unlock(&journal->lock);

    stack_case();

    pthread_t t;
    sem_init(&taken, 0, 0);
    sem_init(&done, 0, 0);
    pthread_create(&t, NULL, owner_thread, NULL);
    sem_wait(&taken);
    pthread_mutex_lock(&accounts[2].lock);
    pthread_mutex_lock(other_stack_lock);
    pthread_mutex_unlock(other_stack_lock);
    pthread_mutex_unlock(&accounts[2].lock);
    sem_post(&done);
    pthread_join(t, NULL);

    if (lockwatch_name_lock)
        lockwatch_name_lock(&ledger[0], "ledger head");
    run(ledger_pair, NULL);
    run(ledger_pair, (void *)1);

    pthread_mutex_destroy(&journal->lock);
    free(journal);
    printf("lock_names: done\n");
    return 0;
}
