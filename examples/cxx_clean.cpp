/*
 * cxx_clean.cpp - a correct little C++ work queue (no false alarms).
 *
 * The main thread pushes the numbers 1..N_JOBS into a queue guarded by
 * `queue_mutex`; four worker threads pop them (std::unique_lock +
 * std::condition_variable::wait), square them outside the lock, and add the
 * result to a total guarded by `result_mutex` (std::lock_guard).  When a
 * worker holds both locks it always takes queue_mutex first, then
 * result_mutex, so there is a single consistent lock order.  The printed
 * result does not depend on scheduling.
 *
 * Expected lockwatch result: no report, exit status 0, the same output as a
 * native run.
 */
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace {

const int N_WORKERS = 4;
const long N_JOBS = 2000;

std::mutex queue_mutex;
std::condition_variable queue_cv;
std::queue<long> jobs;    // guarded by queue_mutex
bool no_more_jobs = false; // guarded by queue_mutex

std::mutex result_mutex;
long long total = 0;    // guarded by result_mutex
long jobs_finished = 0; // guarded by result_mutex
long queue_peak = 0;    // guarded by result_mutex

void worker()
{
    for (;;) {
        long job;
        {
            std::unique_lock<std::mutex> lk(queue_mutex);
            queue_cv.wait(lk, [] { return !jobs.empty() || no_more_jobs; });
            if (jobs.empty())
                return; // no more work
            job = jobs.front();
            jobs.pop();
            {
                // nested, always queue_mutex -> result_mutex
                std::lock_guard<std::mutex> stats(result_mutex);
                if (static_cast<long>(jobs.size()) + 1 > queue_peak)
                    queue_peak = static_cast<long>(jobs.size()) + 1;
            }
        }
        long long square = static_cast<long long>(job) * job;
        std::lock_guard<std::mutex> lk(result_mutex);
        total += square;
        jobs_finished++;
    }
}

} // namespace

int main()
{
    std::vector<std::thread> workers;
    for (int i = 0; i < N_WORKERS; i++)
        workers.emplace_back(worker);

    for (long j = 1; j <= N_JOBS; j++) {
        {
            std::lock_guard<std::mutex> lk(queue_mutex);
            jobs.push(j);
        }
        queue_cv.notify_one();
    }
    {
        std::lock_guard<std::mutex> lk(queue_mutex);
        no_more_jobs = true;
    }
    queue_cv.notify_all();

    for (auto &t : workers)
        t.join();

    std::lock_guard<std::mutex> lk(result_mutex);
    std::cout << "cxx_clean: " << N_WORKERS << " workers finished " << jobs_finished
              << " jobs, sum of squares " << total << std::endl;
    return (jobs_finished == N_JOBS && total == N_JOBS * (N_JOBS + 1) * (2 * N_JOBS + 1) / 6) ? 0 : 1;
}
