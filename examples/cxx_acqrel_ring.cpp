/*
 * cxx_acqrel_ring.cpp - a correct lock-free single-producer single-consumer
 * ring buffer in C++, on the heap: race-free by the C++ memory model.
 *
 * The ring (allocated with new) has std::atomic<std::size_t> head and tail
 * members: the producer writes a slot, then publishes it with
 * head.store(..., std::memory_order_release); the consumer sees it with
 * head.load(std::memory_order_acquire), reads the slot, and frees it with
 * tail.store(..., std::memory_order_release).  Each side polls the other's
 * index with relaxed or acquire loads while the ring is full or empty.  On
 * x86 every one of these loads and stores is a plain `mov`: a sampler of
 * the binary cannot tell them from the racy accesses of a program without
 * atomics.  The memory is heap memory, whose type no debug information
 * gives; what tells them apart is the function that makes the access,
 * std::atomic's load and store (called at -O0, inlined with their DWARF
 * scopes at -O2).
 *
 * Expected lockwatch result: no report, exit status 0, the same output as a
 * native run, also with LOCKWATCH_RACES=sample (whose statistics line counts
 * the hits it did not report as "on atomic objects").  ThreadSanitizer: no
 * report.
 */
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <thread>

namespace {

const std::size_t SLOTS = 64;
const unsigned long ITEMS = 3000000;

struct ring {
    std::atomic<std::size_t> head{0};   // next slot the producer fills
    std::atomic<std::size_t> tail{0};   // next slot the consumer reads
    unsigned long slot[SLOTS];
};

void produce(ring *r)
{
    for (unsigned long i = 1; i <= ITEMS; i++) {
        std::size_t h = r->head.load(std::memory_order_relaxed);
        while (h - r->tail.load(std::memory_order_acquire) == SLOTS) {
            // full: wait for the consumer
        }
        r->slot[h % SLOTS] = i * 2654435761ul;
        r->head.store(h + 1, std::memory_order_release);
    }
}

unsigned long consume(ring *r)
{
    unsigned long sum = 0;
    for (unsigned long n = 0; n < ITEMS; n++) {
        std::size_t t = r->tail.load(std::memory_order_relaxed);
        while (r->head.load(std::memory_order_acquire) == t) {
            // empty: wait for the producer
        }
        sum += r->slot[t % SLOTS] >> 3;
        r->tail.store(t + 1, std::memory_order_release);
    }
    return sum;
}

} // namespace

int main()
{
    ring *r = new ring;
    unsigned long sum = 0;
    std::thread consumer([&] { sum = consume(r); });
    std::thread producer(produce, r);
    producer.join();
    consumer.join();
    std::printf("cxx_acqrel_ring: %lu items, checksum %lu\n", ITEMS, sum);
    delete r;
    return 0;
}
