/*
 * cxx_inversion.cpp - the two-lock inversion with std::mutex and std::thread.
 *
 * Thread 1 locks lock_a then lock_b (std::lock_guard); it is joined, then
 * thread 2 locks lock_b then lock_a.  The threads never overlap, so the
 * program cannot hang, but the two orders are inconsistent.  std::mutex is
 * constant-initialised (no pthread_mutex_init call) and locks through
 * pthread_mutex_lock.
 *
 * Expected lockwatch result: exactly one `lock-order-inversion` report naming
 * both mutexes; the backtraces show take_a_then_b and take_b_then_a.
 */
#include <iostream>
#include <mutex>
#include <thread>

static std::mutex lock_a;
static std::mutex lock_b;
static int shared_counter;

static void take_a_then_b()
{
    std::lock_guard<std::mutex> hold_a(lock_a);
    std::lock_guard<std::mutex> hold_b(lock_b); // edge a -> b
    shared_counter += 1;
}

static void take_b_then_a()
{
    std::lock_guard<std::mutex> hold_b(lock_b);
    std::lock_guard<std::mutex> hold_a(lock_a); // edge b -> a: inversion
    shared_counter += 10;
}

int main()
{
    std::thread t1(take_a_then_b);
    t1.join();
    std::thread t2(take_b_then_a);
    t2.join();

    std::cout << "cxx_inversion: counter=" << shared_counter << std::endl;
    return 0;
}
