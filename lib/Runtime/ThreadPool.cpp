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
#include <mutex>
#include <thread>
#include <vector>

namespace respin::rt {
namespace {

thread_local bool insideJob = false;

class Pool {
public:
  explicit Pool(int n) { resize(n); }

  int size() const { return (int)workers.size() + 1; }

  void resize(int n) {
    std::lock_guard<std::mutex> callLock(callMutex);
    stopWorkers();
    stop = false;
    // Workers start from the current generation, captured here while no job
    // can be published (callMutex is held), so none misses the next job.
    uint64_t start = generation;
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
      pending = (int)workers.size();
      ++generation;
    }
    workAvailable.notify_all();
    insideJob = true;
    task(0);
    insideJob = false;
    std::unique_lock<std::mutex> lock(mutex);
    jobDone.wait(lock, [this] { return pending == 0; });
    job = nullptr;
  }

private:
  void workerLoop(int index, uint64_t seen) {
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex);
      workAvailable.wait(lock, [&] { return stop || generation != seen; });
      if (stop)
        return;
      seen = generation;
      const std::function<void(int)> *task = job;
      int tasks = jobTasks;
      lock.unlock();
      if (index < tasks) {
        insideJob = true;
        (*task)(index);
        insideJob = false;
      }
      lock.lock();
      if (--pending == 0)
        jobDone.notify_one();
    }
  }

  void stopWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
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
  int pending = 0;
  uint64_t generation = 0;
  bool stop = false;
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
