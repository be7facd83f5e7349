//===- Program.h - The reference executor's program form -------*- C++ -*-===//
//
// The reference executor runs a tfm forward function lowered to a flat list
// of instructions over numbered values (no MLIR in this interface: the
// lowering from IR lives in lib/Interpreter). Every value is a row-major f32
// matrix with one row per token; the token ids and positions are inputs.
//
// New op kinds (online Hadamards, fake quantizers, rank-r adapters) are added
// as instruction kinds; each kind is computed by one function in Kernels.cpp
// so that a differentiable twin can be written next to it.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_EXECUTOR_PROGRAM_H
#define RESPIN_EXECUTOR_PROGRAM_H

#include "respin/Numerics/FastHadamard.h"

#include <Eigen/Core>

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace respin::exec {

using respin::FastHadamardTransform;

using RowMatrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMatrix>;

/// A float32 weight: either a view of mapped archive memory or owned data
/// converted from F16/BF16 (or built in memory).
struct Weight {
  std::string name;
  std::vector<float> owned;
  const float *data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0; ///< 1 for vectors

  ConstMatrixMap matrix() const { return ConstMatrixMap(data, rows, cols); }
  Eigen::Map<const Eigen::VectorXf> vector() const {
    return Eigen::Map<const Eigen::VectorXf>(data, rows * cols);
  }
};

enum class OpKind {
  Embedding,
  RMSNorm,
  Linear,
  Rope,
  Attention,
  SiluMul,
  Add,
  Rotate,          ///< x <- (I_blocks kron R) x, or its transpose
  Hadamard,        ///< x <- (I kron H_n) x, or its transpose
  ResidualAdapter, ///< h <- h + Q (M (Q^T h)); weight = Q, bias = M
  FakeQuant,       ///< per-token/group quantize-dequantize (respin_rt.h)
};

struct RopeParams {
  int64_t numHeads = 0;
  int64_t headDim = 0;
  int64_t rotaryDim = 0;
  bool interleaved = true;
  /// Inverse frequency of each rotary pair (theta and scaling applied).
  std::vector<double> inverseFrequencies;
};

struct AttentionParams {
  int64_t numHeads = 0;
  int64_t numKVHeads = 0;
  int64_t headDim = 0;
  float scale = 1.0f;
  int64_t cacheSlot = 0;
};

/// tfm.fake_quant: the runtime's per-token (or per-group) quantizer.
struct FakeQuantParams {
  int bits = 8;
  bool symmetric = false;
  float clip = 1.0f;
  int64_t groupSize = 0; ///< 0: the whole row
};

/// One step of the program. Operand and result numbers index the value table.
struct Instruction {
  OpKind kind;
  std::vector<int> operands;
  int result = -1;
  int64_t width = 0; ///< columns of the result
  const Weight *weight = nullptr; ///< embedding table, norm gain, linear W
  const Weight *bias = nullptr;   ///< linear bias; adapter update M
  int64_t blocks = 1;             ///< rotate: block-diagonal repetitions
  bool transpose = false;         ///< rotate, hadamard: apply the transpose
  const FastHadamardTransform *hadamard = nullptr; ///< hadamard: H_n
  float epsilon = 0.0f;
  RopeParams rope;
  AttentionParams attention;
  FakeQuantParams fakeQuant;
  std::string origin; ///< where it came from, for diagnostics
};

/// A whole forward function.
struct Program {
  int numValues = 0;
  int tokensValue = -1;    ///< the token-id input
  int positionsValue = -1; ///< the position input
  int resultValue = -1;    ///< the logits
  int64_t vocabSize = 0;
  int64_t numCacheSlots = 0;
  std::vector<Instruction> instructions;
  std::deque<Weight> weights; ///< stable addresses
  std::deque<FastHadamardTransform> hadamards; ///< stable addresses

  /// Computes inverse RoPE frequencies, with optional Llama-3 scaling
  /// (factor, low_freq_factor, high_freq_factor, original max positions).
  static std::vector<double>
  ropeInverseFrequencies(int64_t rotaryDim, double theta,
                         std::optional<std::array<double, 4>> llama3Scaling);
};

} // namespace respin::exec

#endif // RESPIN_EXECUTOR_PROGRAM_H
