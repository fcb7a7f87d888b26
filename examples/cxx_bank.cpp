/*
 * cxx_bank.cpp - a lock-order inversion in C++ as people write it: a class
 * method in a namespace, one std::mutex per account, std::lock_guard, and a
 * helper the compiler inlines (always, even at -O0).
 *
 * bank::Ledger::transfer(from, to, amount) locks `from`, then credits `to`
 * through bank::credit, which locks `to`.  Thread 1 moves money from alice
 * to bob; it is joined; thread 2 moves money from bob to alice.  The threads
 * never overlap, so the program cannot hang, but two transfers in opposite
 * directions at the same time would deadlock.
 *
 * Expected lockwatch result: one `lock-order-inversion` report whose frames
 * read, with debug info, bank::credit(bank::Account&, long) cxx_bank.cpp:LINE
 * (inlined) inside bank::Ledger::transfer(bank::Account&, bank::Account&,
 * long) cxx_bank.cpp:LINE, each LINE being the line of the call; the
 * SUMMARY names bank::credit, not std::mutex::lock or __gthread_mutex_lock.
 */
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

namespace bank {

struct Account {
    std::string owner;
    long balance;
    std::mutex lock;
};

/* Always inlined: its frame is an inlined frame of transfer. */
[[gnu::always_inline]] inline void credit(Account &to, long amount)
{
    std::lock_guard<std::mutex> hold_to(to.lock);   // second lock: the inversion
    to.balance += amount;
}

class Ledger {
public:
    void transfer(Account &from, Account &to, long amount);
    long moved = 0;
};

void Ledger::transfer(Account &from, Account &to, long amount)
{
    std::lock_guard<std::mutex> hold_from(from.lock);   // first lock
    from.balance -= amount;
    credit(to, amount);
    moved += amount;
}

} // namespace bank

int main()
{
    bank::Account alice{"alice", 100, {}};
    bank::Account bob{"bob", 100, {}};
    bank::Ledger ledger;

    std::thread t1([&] { ledger.transfer(alice, bob, 30); });
    t1.join();
    std::thread t2([&] { ledger.transfer(bob, alice, 10); });
    t2.join();

    std::cout << "cxx_bank: alice=" << alice.balance << " bob=" << bob.balance << std::endl;
    return 0;
}
