//===- HadamardMatrix.cpp - The K x K factors, from the shared table ------===//
//
// The runtime does not construct Hadamard matrices itself: it materializes,
// once, every factor of the project's single table (respin/Numerics/
// HadamardFactors.h, library RespinHadamardFactors: standard library only)
// and uses the same size-split rule, so the online transforms and the
// compiler's offline folding use the very same matrices.
//
//===----------------------------------------------------------------------===//

#include "HadamardMatrix.h"

#include "respin/Numerics/HadamardFactors.h"

#include <string>
#include <utility>
#include <vector>

namespace respin::rt {
namespace {

struct Factor {
  int64_t k;
  std::vector<int8_t> h;
  std::vector<float> signsT; // signsT[j * k + a] = h[a * k + j]
};

/// Every factor of the shared table, materialized on first use (ascending).
const std::vector<Factor> &factors() {
  static const std::vector<Factor> table = [] {
    std::vector<Factor> t;
    for (const HadamardFactorInfo &info : hadamardFactorTable()) {
      Factor f{info.order, respin::hadamardFactor(info.order), {}};
      f.signsT.resize(f.h.size());
      for (int64_t a = 0; a < f.k && (int64_t)f.h.size() == f.k * f.k; ++a)
        for (int64_t j = 0; j < f.k; ++j)
          f.signsT[j * f.k + a] = (float)f.h[a * f.k + j];
      t.push_back(std::move(f));
    }
    return t;
  }();
  return table;
}

} // namespace

const int8_t *hadamardMatrix(int64_t k) {
  for (const Factor &f : factors())
    if (f.k == k && (int64_t)f.h.size() == k * k)
      return f.h.data();
  return nullptr;
}

const float *hadamardSignsTransposed(int64_t k) {
  for (const Factor &f : factors())
    if (f.k == k && (int64_t)f.h.size() == k * k)
      return f.signsT.data();
  return nullptr;
}

bool hadamardFactor(int64_t n, int64_t &k, int64_t &pow2) {
  std::optional<HadamardSplit> split = splitHadamardSize(n);
  if (!split || !hadamardMatrix(split->k))
    return false;
  k = split->k;
  pow2 = int64_t(1) << split->m;
  return true;
}

const char *hadamardSizes() {
  static const std::string list = [] {
    std::string s;
    for (const HadamardFactorInfo &info : hadamardFactorTable())
      s += (s.empty() ? "" : ",") + std::to_string(info.order);
    return s;
  }();
  return list.c_str();
}

const char *unsupportedSizeMessage(int64_t n) {
  thread_local std::string message;
  message = unsupportedHadamardSizeMessage(n);
  return message.c_str();
}

const char *supportedFactorList() {
  static const std::string list = supportedHadamardFactorList();
  return list.c_str();
}

} // namespace respin::rt
