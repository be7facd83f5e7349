//===- ThreadPool.cpp - Small persistent pool for the runtime -------------===//
//
// Workers sleep on a condition variable between jobs. A job is published by
// bumping a generation counter; each worker runs the task with its own index.
// The pool is created on first use and intentionally never destroyed (worker
// threads may still be parked at process exit).
//
//===----------------------------------------------------------------------===//

#include "ThreadPool.h"

#include <algorithm>
#include <condition_variable>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace respin::rt {
namespace {

thread_local bool insideJob = false;

/// Waits spin this many times on the job state before sleeping: a decode
/// step runs hundreds of short kernels, and a futex wake-up per kernel would
/// cost as much as the kernel (spinning ~10 us, no pause, as measured).
constexpr int kSpinsBeforeSleep = 1 << 14;

class Pool {
public:
  explicit Pool(int n) { resize(n); }

  int size() const { return (int)workers.size() + 1; }

  void resize(int n) {
    std::lock_guard<std::mutex> callLock(callMutex);
    stopWorkers();
    stop.store(false);
    // Workers start from the current generation, captured here while no job
    // can be published (callMutex is held), so none misses the next job.
    uint64_t start = generation.load();
    for (int i = 1; i < n; ++i)
      workers.emplace_back([this, i, start] { workerLoop(i, start); });
  }

  /// Runs task(i) for i in [0, tasks) with tasks <= size().
  void run(int tasks, const std::function<void(int)> &task) {
    std::lock_guard<std::mutex> callLock(callMutex);
    {
      std::lock_guard<std::mutex> lock(mutex);
      job = &task;
      jobTasks = tasks;
      pending.store((int)workers.size(), std::memory_order_relaxed);
      // Publishes job and jobTasks to the workers that see the new value.
      generation.fetch_add(1, std::memory_order_release);
    }
    workAvailable.notify_all();
    insideJob = true;
    task(0);
    insideJob = false;
    for (int spin = 0; spin < kSpinsBeforeSleep &&
                       pending.load(std::memory_order_acquire) != 0;
         ++spin) {
    }
    if (pending.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(mutex);
      jobDone.wait(lock, [this] {
        return pending.load(std::memory_order_acquire) == 0;
      });
    }
    job = nullptr;
  }

private:
  void workerLoop(int index, uint64_t seen) {
    for (;;) {
      int spin = 0;
      while (generation.load(std::memory_order_acquire) == seen &&
             !stop.load(std::memory_order_acquire) &&
             spin < kSpinsBeforeSleep)
        ++spin;
      if (generation.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(mutex);
        workAvailable.wait(lock, [&] {
          return stop.load() || generation.load() != seen;
        });
      }
      if (stop.load(std::memory_order_acquire))
        return;
      seen = generation.load(std::memory_order_acquire);
      const std::function<void(int)> *task = job;
      int tasks = jobTasks;
      if (index < tasks) {
        insideJob = true;
        (*task)(index);
        insideJob = false;
      }
      // The last worker wakes the caller if it went to sleep; the decrement
      // happens before the lock, the caller's check under it.
      if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex);
        jobDone.notify_one();
      }
    }
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop.store(true);
    }
    workAvailable.notify_all();
    for (std::thread &t : workers)
      t.join();
    workers.clear();
  }

  std::mutex callMutex; // one job at a time
  std::mutex mutex;
  std::condition_variable workAvailable, jobDone;
  std::vector<std::thread> workers;
  const std::function<void(int)> *job = nullptr;
  int jobTasks = 0;
  std::atomic<int> pending{0};
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stop{false};
};

int defaultThreads() {
  unsigned hw = std::thread::hardware_concurrency();
  return (int)std::clamp(hw == 0 ? 1u : hw, 1u, 8u);
}

Pool &pool() {
  static Pool *thePool = new Pool(defaultThreads());
  return *thePool;
}

} // namespace

int numThreads() { return pool().size(); }

void setNumThreads(int n) { pool().resize(std::max(1, n)); }

void parallelFor(int64_t count, int64_t minPerThread,
                 const std::function<void(int64_t, int64_t)> &body) {
  if (count <= 0)
    return;
  int64_t maxTasks = std::max<int64_t>(1, count / std::max<int64_t>(1, minPerThread));
  int tasks = (int)std::min<int64_t>(maxTasks, numThreads());
  if (tasks <= 1 || insideJob) {
    body(0, count);
    return;
  }
  pool().run(tasks, [&](int i) {
    int64_t begin = count * i / tasks, end = count * (i + 1) / tasks;
    if (begin < end)
      body(begin, end);
  });
}

} // namespace respin::rt
