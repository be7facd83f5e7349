//===- Backward.h - Reverse-mode differentiation of programs ---*- C++ -*-===//
//
// A Tape runs a Program forward on one fresh sequence (positions 0..n-1),
// keeping every value and what each kernel's backward twin needs, and then
// propagates a gradient of the logits back to every value and to the
// weights of the instructions that ask for one. Each kernel of Kernels.h has
// a differentiable twin here, templated on the scalar so that gradient
// checks run in float64 and learning in float32.
//
// Weights are supplied per instruction as a ProgramWeights<T>, not read from
// the Program, so a learner can replace folded weights at every step without
// rebuilding the program.
//
// Straight-through estimator of tfm.fake_quant: the forward pass quantizes
// (in float32, bit-identical to the runtime); the backward pass treats the
// scale and zero point of each group as constants and passes the gradient
// of every element inside its group's clip range unchanged, and zero outside
// it (asymmetric: [c min(0, min x), c max(0, max x)]; symmetric:
// |x| <= c max |x|). With clip 1 every element passes.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_EXECUTOR_BACKWARD_H
#define RESPIN_EXECUTOR_BACKWARD_H

#include "respin/Executor/Program.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace respin::exec {

template <typename T>
using Matrix =
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Online Hadamards up to this size run as dense matrices in the tape (one
/// GEMM instead of the fast transform's K x K loops); larger ones use the
/// fast transform.
constexpr int64_t kDenseHadamardLimit = 2048;

/// The weight and bias of every instruction (empty matrices where an
/// instruction has none; an online Hadamard's is its dense matrix). Vectors
/// (gains, biases) are n x 1.
template <typename T> struct ProgramWeights {
  std::vector<Matrix<T>> weight;
  std::vector<Matrix<T>> bias;

  /// The program's own weights converted to T.
  static ProgramWeights fromProgram(const Program &program);
};

/// Gradients with respect to instruction weights. Only slots that are sized
/// (to the weight's shape, e.g. by request()) are computed; backward() adds
/// into them.
template <typename T> struct WeightGradients {
  std::vector<Matrix<T>> weight;
  std::vector<Matrix<T>> bias;

  /// Empty slots for every instruction of `program`.
  explicit WeightGradients(const Program &program = Program());
  /// Asks for the gradient of instruction `index`'s weight (and bias, when
  /// it has one), zero-initialised.
  void request(const ProgramWeights<T> &weights, int index);
  void setZero();
};

/// Differentiable twins of the kernels (Kernels.h semantics, rows = tokens).
namespace twin {
template <typename T>
void rmsNorm(const Matrix<T> &x, const Matrix<T> *gain, T epsilon, Matrix<T> &y,
             std::vector<T> &inverseRms);
template <typename T>
void rmsNormBackward(const Matrix<T> &x, const Matrix<T> *gain,
                     const std::vector<T> &inverseRms, const Matrix<T> &dy,
                     Matrix<T> &dx, Matrix<T> *dGain);

/// y = x W^T (+ b); backward adds W^T-side products into dW, db when given.
template <typename T>
void linear(const Matrix<T> &x, const Matrix<T> &w, const Matrix<T> *b,
            Matrix<T> &y);
template <typename T>
void linearBackward(const Matrix<T> &x, const Matrix<T> &w, const Matrix<T> &dy,
                    Matrix<T> *dx, Matrix<T> *dW, Matrix<T> *db);

template <typename T>
void rope(const Matrix<T> &x, const RopeParams &params, bool inverse,
          Matrix<T> &y);

/// Causal grouped-query attention over one whole sequence. `probabilities`
/// receives the softmax of every head ([numHeads] matrices of n x n).
template <typename T>
void attention(const Matrix<T> &q, const Matrix<T> &k, const Matrix<T> &v,
               const AttentionParams &params, Matrix<T> &out,
               std::vector<Matrix<T>> &probabilities);
template <typename T>
void attentionBackward(const Matrix<T> &q, const Matrix<T> &k,
                       const Matrix<T> &v, const AttentionParams &params,
                       const std::vector<Matrix<T>> &probabilities,
                       const Matrix<T> &dOut, Matrix<T> &dq, Matrix<T> &dk,
                       Matrix<T> &dv);

template <typename T>
void siluMul(const Matrix<T> &gate, const Matrix<T> &up, Matrix<T> &y);
template <typename T>
void siluMulBackward(const Matrix<T> &gate, const Matrix<T> &up,
                     const Matrix<T> &dy, Matrix<T> &dGate, Matrix<T> &dUp);

/// Each row block x <- (I kron R) x (R^T with `transpose`); backward adds
/// into dR when given.
template <typename T>
void rotate(const Matrix<T> &x, const Matrix<T> &r, int64_t blocks,
            bool transpose, Matrix<T> &y);
template <typename T>
void rotateBackward(const Matrix<T> &x, const Matrix<T> &r, int64_t blocks,
                    bool transpose, const Matrix<T> &dy, Matrix<T> &dx,
                    Matrix<T> *dR);

template <typename T>
void hadamard(const Matrix<T> &x, const FastHadamardTransform &transform,
              bool transpose, Matrix<T> &y);

/// y = h + Q (M (Q^T h)); backward adds into dQ, dM when given.
template <typename T>
void residualAdapter(const Matrix<T> &h, const Matrix<T> &q, const Matrix<T> &m,
                     Matrix<T> &y);
template <typename T>
void residualAdapterBackward(const Matrix<T> &h, const Matrix<T> &q,
                             const Matrix<T> &m, const Matrix<T> &dy,
                             Matrix<T> &dh, Matrix<T> *dQ, Matrix<T> *dM);

/// The runtime's quantize-dequantize (float32 arithmetic; float64 inputs
/// are rounded to float32 first).
template <typename T>
void fakeQuant(const Matrix<T> &x, const FakeQuantParams &params, Matrix<T> &y);
/// The straight-through estimator of the file comment.
template <typename T>
void fakeQuantBackward(const Matrix<T> &x, const FakeQuantParams &params,
                       const Matrix<T> &dy, Matrix<T> &dx);
} // namespace twin

/// Sum over rows t < n-1 of -log softmax(logits_t)[tokens[t+1]] (double
/// accumulation): the next-token loss of one window. With `dLogits`, writes
/// `scale` times its gradient (the last row, which predicts nothing, is 0).
template <typename T>
double nextTokenCrossEntropy(const Matrix<T> &logits,
                             llvm::ArrayRef<int32_t> tokens, T scale,
                             Matrix<T> *dLogits);

/// Forward values of one sequence and the backward pass over them. A Tape
/// can be reused for many sequences (one at a time).
template <typename T> class Tape {
public:
  Tape(const Program &program, const ProgramWeights<T> &weights)
      : program(program), weights(weights) {}

  /// Logits of `tokens` at positions 0..n-1, recording the tape. Fails on
  /// token ids outside the vocabulary.
  llvm::Expected<const Matrix<T> &> forward(llvm::ArrayRef<int32_t> tokens);

  /// Propagates `dLogits` (the gradient of the loss with respect to the
  /// logits of the last forward()) back and adds the weight gradients that
  /// `gradients` asks for.
  void backward(const Matrix<T> &dLogits, WeightGradients<T> &gradients);

private:
  const Program &program;
  const ProgramWeights<T> &weights;
  std::vector<int32_t> tokens;
  std::vector<Matrix<T>> values;
  std::vector<Matrix<T>> valueGradients;
  std::vector<std::vector<T>> inverseRms;                     ///< per RMSNorm
  std::vector<std::vector<Matrix<T>>> attentionProbabilities; ///< per attention
};

} // namespace respin::exec

#endif // RESPIN_EXECUTOR_BACKWARD_H
