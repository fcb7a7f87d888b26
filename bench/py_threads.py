"""py_threads.py: a python3 threading workload for bench/run.py.

Worker threads take items from a bounded queue.Queue, do a little work on
each, count them under a threading.Lock and hand their partial sums back
through a second queue; the main thread checks the totals.  The GIL, the
queue's condition variables and the lock are all pthread objects underneath,
so every operation goes through the interposed functions.

    python3 py_threads.py [ITEMS] [THREADS]
"""
import queue
import sys
import threading
import time


def main():
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    nthreads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    work = queue.Queue(maxsize=64)
    results = queue.Queue()
    lock = threading.Lock()
    count = [0]

    def worker():
        s = 0
        while True:
            item = work.get()
            if item is None:
                break
            s += (item * item) % 7919
            with lock:
                count[0] += 1
        results.put(s)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in threads:
        t.start()
    for i in range(items):
        work.put(i)
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    total = sum(results.get() for _ in threads)
    expect = sum((i * i) % 7919 for i in range(items))
    if count[0] != items or total != expect:
        print("CHECK FAILED: %d items counted, sum %d; expected %d, %d"
              % (count[0], total, items, expect))
        return 1
    print("RESULT mode=python-threads ns_per_op=%.1f ops=%d threads=%d"
          % (elapsed * 1e9 / items, items, nthreads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
