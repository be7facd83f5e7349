//===- ThreadPool.h - Small persistent pool for the runtime ------*- C++ -*-===//
//
// A fixed set of worker threads that run `parallelFor` bodies. Work is split
// statically (task i always covers the same range), so results never depend
// on scheduling. The calling thread takes part as worker 0.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_LIB_RUNTIME_THREADPOOL_H
#define RESPIN_LIB_RUNTIME_THREADPOOL_H

#include <cstdint>
#include <functional>

namespace respin::rt {

/// Number of threads parallelFor uses (>= 1).
int numThreads();
/// Resizes the pool (>= 1). Not safe to call while a parallelFor runs.
void setNumThreads(int n);

/// Splits [0, count) into at most numThreads() contiguous, nearly equal
/// ranges of at least `minPerThread` items and runs body(begin, end) on
/// each, the caller taking the first. Nested calls run inline.
void parallelFor(int64_t count, int64_t minPerThread,
                 const std::function<void(int64_t, int64_t)> &body);

} // namespace respin::rt

#endif // RESPIN_LIB_RUNTIME_THREADPOOL_H
