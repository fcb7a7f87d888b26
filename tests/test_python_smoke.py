"""Smoke test: a real multi-threaded program (CPython running a threading
workload: 8 threads, queue.Queue, threading.Lock and threading.Condition)
runs normally under lockwatch: same stdout, exit status 0, no report.

Uses python3 from PATH, else /usr/bin/python3; skips (77) if there is none."""
import os
import shutil

import lwtest as lw

WORKLOAD = r'''
import queue
import threading

N_THREADS = 8
N_ITEMS = 5000

jobs = queue.Queue()
total_lock = threading.Lock()
total = 0
done = threading.Condition()
finished = 0


def worker():
    global total, finished
    local = 0
    while True:
        item = jobs.get()
        if item is None:
            jobs.task_done()
            break
        local += item * item
        jobs.task_done()
    with total_lock:
        total += local
    with done:
        finished += 1
        done.notify_all()


threads = [threading.Thread(target=worker, name="worker-%d" % i) for i in range(N_THREADS)]
for th in threads:
    th.start()
for i in range(1, N_ITEMS + 1):
    jobs.put(i)
for _ in threads:
    jobs.put(None)
with done:
    done.wait_for(lambda: finished == N_THREADS, timeout=60)
jobs.join()
for th in threads:
    th.join()
expected = N_ITEMS * (N_ITEMS + 1) * (2 * N_ITEMS + 1) // 6
print("python smoke: %d threads finished, sum of squares %d (%s)"
      % (finished, total, "ok" if total == expected else "WRONG"))
'''


def find_python():
    py = shutil.which("python3")
    if py:
        return py
    if os.access("/usr/bin/python3", os.X_OK):
        return "/usr/bin/python3"
    return None


def main(t):
    py = find_python()
    if py is None:
        raise lw.Skip("no python3 in PATH or /usr/bin")
    argv = [py, "-I", "-c", WORKLOAD]
    native = lw.run_native(argv)
    t.require(native.returncode == 0 and "(ok)" in native.stdout,
              "python workload fails natively\n" + native.describe())
    lw.expect_clean_run(t, native, lw.run_preload(argv), "python3 threading workload")

lw.main(main)
