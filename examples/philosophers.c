/*
 * philosophers.c - the dining philosophers, five-lock cycle.
 *
 * Five forks (mutexes created with pthread_mutex_init) lie between five
 * philosophers.  Philosopher i picks up fork i (left) and then fork i+1
 * (right); philosopher 4 therefore takes fork 4 and then fork 0, which closes
 * the cycle fork0 -> fork1 -> fork2 -> fork3 -> fork4 -> fork0.  If all five
 * sat down together each could hold its left fork and wait forever for the
 * right one.
 *
 * Here the philosophers eat one at a time (create + join), so the program
 * never hangs.
 *
 * Expected lockwatch result: exactly one `lock-order-inversion` report whose
 * cycle contains all 5 forks (5 edges, one per philosopher thread).
 */
#include <pthread.h>
#include <stdio.h>

#define N_PHILOSOPHERS 5

static pthread_mutex_t forks[N_PHILOSOPHERS];
static int meals[N_PHILOSOPHERS];

static void pick_up_forks(int seat)
{
    int left = seat;
    int right = (seat + 1) % N_PHILOSOPHERS;

    pthread_mutex_lock(&forks[left]);
    pthread_mutex_lock(&forks[right]); /* edge fork[left] -> fork[right] */
}

static void put_down_forks(int seat)
{
    int left = seat;
    int right = (seat + 1) % N_PHILOSOPHERS;

    pthread_mutex_unlock(&forks[right]);
    pthread_mutex_unlock(&forks[left]);
}

static void *philosopher(void *arg)
{
    int seat = *(int *)arg;

    pick_up_forks(seat);
    meals[seat]++; /* eat */
    put_down_forks(seat);
    return NULL;
}

int main(void)
{
    int seats[N_PHILOSOPHERS];
    int i, total = 0;

    for (i = 0; i < N_PHILOSOPHERS; i++)
        pthread_mutex_init(&forks[i], NULL);

    /* One philosopher at a time: never deadlocks. */
    for (i = 0; i < N_PHILOSOPHERS; i++) {
        pthread_t t;
        seats[i] = i;
        if (pthread_create(&t, NULL, philosopher, &seats[i]) != 0)
            return 1;
        pthread_join(t, NULL);
    }

    for (i = 0; i < N_PHILOSOPHERS; i++) {
        total += meals[i];
        pthread_mutex_destroy(&forks[i]);
    }
    printf("philosophers: %d philosophers ate %d meals\n", N_PHILOSOPHERS, total);
    return 0;
}
