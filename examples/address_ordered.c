/*
 * address_ordered.c - locks taken in address order (terminates without
 * lockwatch).
 *
 * ACCOUNTS accounts, each malloc'ed with its own mutex, are kept in an
 * array in an order unrelated to their addresses (a fixed shuffle).
 * WORKERS threads make transfers between two accounts and audits of three,
 * chosen by rand_r with fixed seeds, so every thread takes many different
 * pairs and triples, in both index orders.  Whatever the indices, a thread
 * sorts the accounts by address and locks them lowest address first: one
 * global order, the classic way to lock "any two objects" without a
 * deadlock.  So for any two accounts every thread that holds both took the
 * one at the lower address first, and no cycle can form.
 *
 * The total of all balances never changes; the program prints it.
 *
 * Expected lockwatch result: no report, exit status 0, the same output.
 *
 * Helgrind and DRD (valgrind 3.19): silent.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ACCOUNTS 12
#define WORKERS 4
#define OPERATIONS 1500
#define START_BALANCE 1000

struct account {
    pthread_mutex_t lock;
    long balance; /* under lock */
};

static struct account *accounts[ACCOUNTS];

/* Sort n (<= 3) accounts by address, lowest first. */
static void by_address(struct account **a, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && (uintptr_t)a[j] < (uintptr_t)a[j - 1]; j--) {
            struct account *t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
}

static void lock_all(struct account **a, int n)
{
    by_address(a, n);
    for (int i = 0; i < n; i++)
        pthread_mutex_lock(&a[i]->lock);
}

static void unlock_all(struct account **a, int n)
{
    for (int i = n - 1; i >= 0; i--)
        pthread_mutex_unlock(&a[i]->lock);
}

static int pick_other(unsigned *seed, int n, const int *taken)
{
    for (;;) {
        int k = rand_r(seed) % ACCOUNTS, dup = 0;
        for (int i = 0; i < n; i++)
            dup |= taken[i] == k;
        if (!dup)
            return k;
    }
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;

    for (int op = 0; op < OPERATIONS; op++) {
        int idx[3];
        struct account *a[3];
        int n = rand_r(&seed) % 4 == 0 ? 3 : 2;

        for (int i = 0; i < n; i++) {
            idx[i] = pick_other(&seed, i, idx);
            a[i] = accounts[idx[i]];
        }
        struct account *from = a[0], *to = a[1]; /* index order, before sorting */
        lock_all(a, n);
        if (n == 2) {
            long amount = rand_r(&seed) % 50;
            from->balance -= amount;
            to->balance += amount;
        } else {
            long sum = a[0]->balance + a[1]->balance + a[2]->balance; /* an audit */
            (void)sum;
        }
        unlock_all(a, n);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[WORKERS];
    unsigned seed = 12345;
    long total = 0;

    for (int i = 0; i < ACCOUNTS; i++) {
        accounts[i] = malloc(sizeof(*accounts[i]));
        if (!accounts[i])
            return 1;
        pthread_mutex_init(&accounts[i]->lock, NULL);
        accounts[i]->balance = START_BALANCE;
    }
    for (int i = ACCOUNTS - 1; i > 0; i--) { /* index order != address order */
        int j = rand_r(&seed) % (i + 1);
        struct account *x = accounts[i];
        accounts[i] = accounts[j];
        accounts[j] = x;
    }
    for (int i = 0; i < WORKERS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0)
            return 1;
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < ACCOUNTS; i++) {
        total += accounts[i]->balance;
        pthread_mutex_destroy(&accounts[i]->lock);
        free(accounts[i]);
    }
    printf("address_ordered: %d workers x %d operations, total balance %ld (expected %d)\n",
           WORKERS, OPERATIONS, total, ACCOUNTS * START_BALANCE);
    return total == ACCOUNTS * START_BALANCE ? 0 : 1;
}
