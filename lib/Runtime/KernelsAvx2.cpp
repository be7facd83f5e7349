//===- KernelsAvx2.cpp - AVX2 + FMA kernels --------------------------------===//
//
// Compiled with -mavx2 -mfma. No VNNI here: the u8 x s8 products go through
// VPMADDUBSW (pairs into saturating int16) and VPMADDWD (quads into int32).
// That is exact for our operands: activation codes <= 255 and weight codes
// u = q + 2^(b-1) <= 15, so a pair sums to at most 2 * 255 * 15 = 7650,
// far below the int16 saturation limit of 32767.
//
//===----------------------------------------------------------------------===//

#include "HadamardImpl.h"
#include "Internal.h"

#include <immintrin.h>

#include <algorithm>

namespace respin::rt {
namespace {

//===----------------------------------------------------------------------===//
// Low-bit linear
//===----------------------------------------------------------------------===//

inline __m256i broadcast4(const uint8_t *p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

/// acc += per-lane dot of 4 unsigned x bytes with 4 weight bytes.
inline __m256i dot4(__m256i acc, __m256i x, __m256i w) {
  __m256i pairs = _mm256_maddubs_epi16(x, w);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

/// Weight operands of one chunk for one half tile (8 channels).
template <int Bits> struct HalfChunk;

template <> struct HalfChunk<4> {
  static constexpr int kQuads = 2;
  __m256i q[2];
  void load(const uint8_t *chunk, int half) {
    const __m256i lowNibbles = _mm256_set1_epi8(0x0F);
    __m256i v = _mm256_loadu_si256((const __m256i *)(chunk + 32 * half));
    q[0] = _mm256_and_si256(v, lowNibbles);
    q[1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), lowNibbles);
  }
};

template <> struct HalfChunk<3> {
  static constexpr int kQuads = 4;
  __m256i q[4];
  void load(const uint8_t *chunk, int half) {
    const __m256i lowPair = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    // Byte l of the half tests bit l % 8 of plane byte l / 8.
    const __m256i byteOfBit = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2,
        3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bitOfByte = _mm256_setr_epi8(
        1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8,
        16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    __m256i v = _mm256_loadu_si256((const __m256i *)(chunk + 32 * half));
    for (int i = 0; i < 4; ++i) {
      __m256i low = _mm256_and_si256(
          i == 0 ? v : _mm256_srli_epi16(v, 2 * i), lowPair);
      uint32_t plane;
      std::memcpy(&plane, chunk + 64 + 8 * i + 4 * half, 4);
      __m256i bytes =
          _mm256_shuffle_epi8(_mm256_set1_epi32((int32_t)plane), byteOfBit);
      __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bitOfByte),
                                      bitOfByte);
      q[i] = _mm256_or_si256(low, _mm256_and_si256(set, four));
    }
  }
};

/// MR rows x one tile (two halves of 8 channels).
template <int Bits, int MR>
void qlinearBlock(const QLinearArgs &a, int64_t m0, int64_t tile) {
  const PackedView &w = *a.w;
  constexpr int64_t kChunkK = Bits == 4 ? 8 : 16;
  constexpr int64_t kChunkBytes = Bits == 4 ? 64 : 96;
  const int64_t xGroups = a.xPerGroup ? w.numGroups : 1;
  __m256 yAcc[MR][2];
  for (int r = 0; r < MR; ++r)
    yAcc[r][0] = yAcc[r][1] = _mm256_setzero_ps();

  for (int64_t j = 0; j < w.numGroups; ++j) {
    __m256i acc[MR][2];
    for (int r = 0; r < MR; ++r)
      acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const uint8_t *wp =
        w.codes + tile * w.tileBytes + j * w.chunksPerGroup * kChunkBytes;
    const uint8_t *xp[MR];
    for (int r = 0; r < MR; ++r)
      xp[r] = a.x + (m0 + r) * a.xStride + j * w.groupKPadded;
    for (int64_t c = 0; c < w.chunksPerGroup; ++c) {
      for (int half = 0; half < 2; ++half) {
        HalfChunk<Bits> chunk;
        chunk.load(wp + c * kChunkBytes, half);
        for (int r = 0; r < MR; ++r)
          for (int i = 0; i < HalfChunk<Bits>::kQuads; ++i)
            acc[r][half] = dot4(acc[r][half],
                                broadcast4(xp[r] + c * kChunkK + 4 * i),
                                chunk.q[i]);
      }
    }
    for (int r = 0; r < MR; ++r) {
      int64_t row = m0 + r, xj = a.xPerGroup ? j : 0;
      __m256i offsetSum = _mm256_set1_epi32(codeOffset(Bits) *
                                            a.xSums[row * w.numGroups + j]);
      __m256i zero = _mm256_set1_epi32(a.xZeros[row * xGroups + xj]);
      __m256 xScale = _mm256_set1_ps(a.xScales[row * xGroups + xj]);
      for (int half = 0; half < 2; ++half) {
        int64_t n0 = tile * kTileN + 8 * half + j * w.nPadded;
        __m256i colSum =
            _mm256_loadu_si256((const __m256i *)(w.colSums + n0));
        __m256 wScale = _mm256_loadu_ps(w.scales + n0);
        __m256i exact = _mm256_sub_epi32(
            _mm256_sub_epi32(acc[r][half], offsetSum),
            _mm256_mullo_epi32(zero, colSum));
        __m256 term = _mm256_mul_ps(
            _mm256_mul_ps(_mm256_cvtepi32_ps(exact), wScale), xScale);
        yAcc[r][half] = _mm256_add_ps(yAcc[r][half], term);
      }
    }
  }

  int64_t n0 = tile * kTileN;
  int64_t valid = std::min<int64_t>(kTileN, w.n - n0);
  for (int r = 0; r < MR; ++r) {
    float *out = a.y + (m0 + r) * a.yStride + n0;
    alignas(32) float result[16];
    _mm256_store_ps(result, yAcc[r][0]);
    _mm256_store_ps(result + 8, yAcc[r][1]);
    for (int64_t c = 0; c < valid; ++c)
      out[c] = a.accumulate ? out[c] + result[c] : result[c];
  }
}

template <int Bits>
void qlinearAvx2(const QLinearArgs &a, int64_t tileBegin, int64_t tileEnd) {
  constexpr int64_t kMR = 4;
  for (int64_t t = tileBegin; t < tileEnd; ++t) {
    int64_t m = 0;
    for (; m + kMR <= a.m; m += kMR)
      qlinearBlock<Bits, kMR>(a, m, t);
    for (; m < a.m; ++m)
      qlinearBlock<Bits, 1>(a, m, t);
  }
}

void qlinear(const QLinearArgs &a, int64_t tileBegin, int64_t tileEnd) {
  if (a.w->bits == 4)
    qlinearAvx2<4>(a, tileBegin, tileEnd);
  else
    qlinearAvx2<3>(a, tileBegin, tileEnd);
}

//===----------------------------------------------------------------------===//
// Float linear
//===----------------------------------------------------------------------===//

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int NR>
void linearF32Row(const LinearF32Args &a, int64_t m, int64_t n0) {
  const float *x = a.x + m * a.xStride;
  __m256 acc[NR];
  for (int c = 0; c < NR; ++c)
    acc[c] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= a.k; k += 8) {
    __m256 xv = _mm256_loadu_ps(x + k);
    for (int c = 0; c < NR; ++c)
      acc[c] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(a.w + (n0 + c) * a.wStride + k),
                               acc[c]);
  }
  for (int c = 0; c < NR; ++c) {
    float v = hsum(acc[c]);
    const float *wr = a.w + (n0 + c) * a.wStride;
    for (int64_t kk = k; kk < a.k; ++kk)
      v += x[kk] * wr[kk];
    float *out = a.y + m * a.yStride + n0 + c;
    *out = a.accumulate ? *out + v : v;
  }
}

void linearF32(const LinearF32Args &a, int64_t nBegin, int64_t nEnd) {
  for (int64_t m = 0; m < a.m; ++m) {
    int64_t n = nBegin;
    for (; n + 4 <= nEnd; n += 4)
      linearF32Row<4>(a, m, n);
    for (; n < nEnd; ++n)
      linearF32Row<1>(a, m, n);
  }
}

//===----------------------------------------------------------------------===//
// Activation quantization
//===----------------------------------------------------------------------===//

void quantizeRow(const float *x, int64_t cols, int bits, bool symmetric,
                 float clip, int64_t groupSize, uint8_t *q, float *scales,
                 int32_t *zeros) {
  const float maxCode = (float)((1 << bits) - 1);
  for (int64_t j = 0; j * groupSize < cols; ++j) {
    const float *xg = x + j * groupSize;
    uint8_t *qg = q + j * groupSize;
    __m256 vMin = _mm256_set1_ps(__builtin_inff());
    __m256 vMax = _mm256_set1_ps(-__builtin_inff());
    int64_t i = 0;
    for (; i + 8 <= groupSize; i += 8) {
      __m256 v = _mm256_loadu_ps(xg + i);
      vMin = _mm256_min_ps(vMin, v);
      vMax = _mm256_max_ps(vMax, v);
    }
    alignas(32) float lanes[2][8];
    _mm256_store_ps(lanes[0], vMin);
    _mm256_store_ps(lanes[1], vMax);
    float minV = lanes[0][0], maxV = lanes[1][0];
    for (int l = 1; l < 8; ++l) {
      minV = std::fmin(minV, lanes[0][l]);
      maxV = std::fmax(maxV, lanes[1][l]);
    }
    for (int64_t t = i; t < groupSize; ++t) {
      minV = std::fmin(minV, xg[t]);
      maxV = std::fmax(maxV, xg[t]);
    }
    ActQuantParams p = actQuantParams(minV, maxV, bits, symmetric, clip);
    scales[j] = p.scale;
    zeros[j] = p.zero;
    const __m256 scale = _mm256_set1_ps(p.scale);
    const __m256 zero = _mm256_set1_ps((float)p.zero);
    const __m256 top = _mm256_set1_ps(maxCode);
    i = 0;
    for (; i + 8 <= groupSize; i += 8) {
      __m256 v = _mm256_div_ps(_mm256_loadu_ps(xg + i), scale);
      v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v = _mm256_add_ps(v, zero);
      v = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), top);
      alignas(32) int32_t codes[8];
      _mm256_store_si256((__m256i *)codes, _mm256_cvttps_epi32(v));
      for (int l = 0; l < 8; ++l)
        qg[i + l] = (uint8_t)codes[l];
    }
    for (; i < groupSize; ++i)
      qg[i] = quantizeActValue(xg[i], p.scale, p.zero, maxCode);
  }
}

//===----------------------------------------------------------------------===//
// Hadamard
//===----------------------------------------------------------------------===//

/// Stage of distance h (1, 2, 4) inside each 8-float vector.
inline __m256 butterfly(__m256 x, int h) {
  alignas(32) int32_t idx[8];
  alignas(32) int32_t upper[8];
  for (int l = 0; l < 8; ++l) {
    idx[l] = l ^ h;
    upper[l] = (l & h) ? -1 : 0;
  }
  __m256 p = _mm256_permutevar8x32_ps(
      x, _mm256_load_si256((const __m256i *)idx));
  __m256 sum = _mm256_add_ps(x, p), diff = _mm256_sub_ps(p, x);
  return _mm256_blendv_ps(
      sum, diff, _mm256_castsi256_ps(_mm256_load_si256((const __m256i *)upper)));
}

int64_t smallStages(float *x, int64_t len) {
  if (len < 8)
    return 1;
  for (int64_t i = 0; i < len; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    v = butterfly(v, 1);
    v = butterfly(v, 2);
    v = butterfly(v, 4);
    _mm256_storeu_ps(x + i, v);
  }
  return 8;
}

/// Outputs a0 .. a0+3 of the H_K mixing for columns b0 .. b0+8V-1:
/// acc = s_a0 * x_0 (exact), then acc = fma(s_aj, x_j, acc) for j = 1, 2, ...
/// With s = +-1 the product is exact, so each FMA rounds exactly like the
/// reference's acc + x_j or acc - x_j. out[a][c], row stride 8V.
template <int V>
inline void mixTile(const float *x, int64_t pow2, int64_t kFactor,
                    const float *signsT, int64_t a0, int64_t b0, float *out) {
  constexpr int A = 4;
  __m256 acc[A][V];
  const float *s = signsT + a0;
  for (int v = 0; v < V; ++v) {
    __m256 xv = _mm256_loadu_ps(x + b0 + 8 * v);
    for (int i = 0; i < A; ++i)
      acc[i][v] = _mm256_mul_ps(_mm256_set1_ps(s[i]), xv);
  }
  for (int64_t j = 1; j < kFactor; ++j) {
    const float *xj = x + j * pow2 + b0;
    const float *sj = s + j * kFactor;
    __m256 xv[V];
    for (int v = 0; v < V; ++v)
      xv[v] = _mm256_loadu_ps(xj + 8 * v);
    for (int i = 0; i < A; ++i) {
      __m256 si = _mm256_broadcast_ss(sj + i);
      for (int v = 0; v < V; ++v)
        acc[i][v] = _mm256_fmadd_ps(si, xv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < A; ++i)
    for (int v = 0; v < V; ++v)
      _mm256_storeu_ps(out + (a0 + i) * (8 * V) + 8 * v, acc[i][v]);
}

/// The H_K step by blocks of 8V columns through scratch (K x 8V floats).
template <int V>
void mixColumns(float *x, int64_t kFactor, int64_t pow2, const float *signsT,
                float *scratch, float norm) {
  const __m256 nv = _mm256_set1_ps(norm);
  for (int64_t b0 = 0; b0 < pow2; b0 += 8 * V) {
    for (int64_t a0 = 0; a0 < kFactor; a0 += 4)
      mixTile<V>(x, pow2, kFactor, signsT, a0, b0, scratch);
    for (int64_t a = 0; a < kFactor; ++a)
      for (int v = 0; v < V; ++v)
        _mm256_storeu_ps(
            x + a * pow2 + b0 + 8 * v,
            _mm256_mul_ps(_mm256_loadu_ps(scratch + a * 8 * V + 8 * v), nv));
  }
}

void hadamardRow(float *x, int64_t kFactor, int64_t pow2, const int8_t *hK,
                 const float *signsT, float *scratch) {
  hadamardRowImpl(x, kFactor, pow2, hK, scratch, smallStages,
                  [&](float *xr, int64_t k, int64_t p, float norm) {
                    if (k % 4 != 0 || p < 8)
                      return false;
                    if (p >= 16)
                      mixColumns<2>(xr, k, p, signsT, scratch, norm);
                    else
                      mixColumns<1>(xr, k, p, signsT, scratch, norm);
                    return true;
                  });
}

//===----------------------------------------------------------------------===//
// Rank-r adapter
//===----------------------------------------------------------------------===//

/// 8 elements of Q^T from element idx, widened exactly to f32.
template <int F> inline __m256 loadQ8(const void *q, int64_t idx) {
  if constexpr (F == RESPIN_RT_FLOAT_F32) {
    return _mm256_loadu_ps((const float *)q + idx);
  } else {
    __m128i v = _mm_loadu_si128((const __m128i *)((const uint16_t *)q + idx));
    if constexpr (F == RESPIN_RT_FLOAT_BF16)
      return _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
    else
      return _mm256_cvtph_ps(v);
  }
}

/// One element (tails), through the baseline decoders.
template <int F> inline float loadQ1(const void *q, int64_t idx) {
  if constexpr (F == RESPIN_RT_FLOAT_F32)
    return ((const float *)q)[idx];
  else if constexpr (F == RESPIN_RT_FLOAT_BF16)
    return bf16ToFloat(((const uint16_t *)q)[idx]);
  else
    return f16ToFloat(((const uint16_t *)q)[idx]);
}

/// t[j0 + b] = <Q^T[j0 + b][i0..i1), h[i0..i1)> for b < JB.
template <int F, int JB>
inline void projectRows(const float *h, int64_t i0, int64_t i1, int64_t d,
                        const void *qT, int64_t j0, float *t) {
  __m256 acc[JB][2];
  for (int b = 0; b < JB; ++b)
    acc[b][0] = acc[b][1] = _mm256_setzero_ps();
  int64_t i = i0;
  for (; i + 16 <= i1; i += 16) {
    __m256 h0 = _mm256_loadu_ps(h + i), h1 = _mm256_loadu_ps(h + i + 8);
    for (int b = 0; b < JB; ++b) {
      int64_t base = (j0 + b) * d + i;
      acc[b][0] = _mm256_fmadd_ps(loadQ8<F>(qT, base), h0, acc[b][0]);
      acc[b][1] = _mm256_fmadd_ps(loadQ8<F>(qT, base + 8), h1, acc[b][1]);
    }
  }
  for (; i + 8 <= i1; i += 8) {
    __m256 hv = _mm256_loadu_ps(h + i);
    for (int b = 0; b < JB; ++b)
      acc[b][0] = _mm256_fmadd_ps(loadQ8<F>(qT, (j0 + b) * d + i), hv,
                                  acc[b][0]);
  }
  for (int b = 0; b < JB; ++b) {
    float s = hsum(_mm256_add_ps(acc[b][0], acc[b][1]));
    for (int64_t k = i; k < i1; ++k)
      s += loadQ1<F>(qT, (j0 + b) * d + k) * h[k];
    t[j0 + b] = s;
  }
}

template <int F>
void adapterProjectT(const float *h, int64_t i0, int64_t i1, int64_t d,
                     int64_t r, const void *qT, float *t) {
  int64_t j = 0;
  for (; j + 4 <= r; j += 4)
    projectRows<F, 4>(h, i0, i1, d, qT, j, t);
  for (; j < r; ++j)
    projectRows<F, 1>(h, i0, i1, d, qT, j, t);
}

/// h += sum_j u_j Q^T[j] + add over [i0, i1): 64 outputs in registers per
/// pass over the r rows of Q^T, scalar tail.
template <int F>
void adapterUpdateT(float *h, const float *add, int64_t i0, int64_t i1,
                    int64_t d, int64_t r, const void *qT, const float *u) {
  constexpr int64_t kBlock = 64, kVectors = kBlock / 8;
  int64_t b0 = i0;
  for (; b0 + kBlock <= i1; b0 += kBlock) {
    __m256 acc[kVectors];
    for (int v = 0; v < kVectors; ++v)
      acc[v] = _mm256_setzero_ps();
    for (int64_t j = 0; j < r; ++j) {
      __m256 uj = _mm256_set1_ps(u[j]);
      int64_t base = j * d + b0;
      for (int v = 0; v < kVectors; ++v)
        acc[v] = _mm256_fmadd_ps(uj, loadQ8<F>(qT, base + 8 * v), acc[v]);
    }
    for (int v = 0; v < kVectors; ++v) {
      __m256 out = _mm256_add_ps(_mm256_loadu_ps(h + b0 + 8 * v), acc[v]);
      if (add)
        out = _mm256_add_ps(out, _mm256_loadu_ps(add + b0 + 8 * v));
      _mm256_storeu_ps(h + b0 + 8 * v, out);
    }
  }
  for (int64_t i = b0; i < i1; ++i) {
    float s = 0.0f;
    for (int64_t j = 0; j < r; ++j)
      s += loadQ1<F>(qT, j * d + i) * u[j];
    float v = h[i] + s;
    h[i] = add ? v + add[i] : v;
  }
}

void adapterProject(const float *h, int64_t i0, int64_t i1, int64_t d,
                    int64_t r, const void *qT, int format, float *t) {
  switch (format) {
  case RESPIN_RT_FLOAT_BF16:
    return adapterProjectT<RESPIN_RT_FLOAT_BF16>(h, i0, i1, d, r, qT, t);
  case RESPIN_RT_FLOAT_F16:
    return adapterProjectT<RESPIN_RT_FLOAT_F16>(h, i0, i1, d, r, qT, t);
  default:
    return adapterProjectT<RESPIN_RT_FLOAT_F32>(h, i0, i1, d, r, qT, t);
  }
}

void adapterUpdate(float *h, const float *add, int64_t i0, int64_t i1,
                   int64_t d, int64_t r, const void *qT, int format,
                   const float *u) {
  switch (format) {
  case RESPIN_RT_FLOAT_BF16:
    return adapterUpdateT<RESPIN_RT_FLOAT_BF16>(h, add, i0, i1, d, r, qT, u);
  case RESPIN_RT_FLOAT_F16:
    return adapterUpdateT<RESPIN_RT_FLOAT_F16>(h, add, i0, i1, d, r, qT, u);
  default:
    return adapterUpdateT<RESPIN_RT_FLOAT_F32>(h, add, i0, i1, d, r, qT, u);
  }
}

} // namespace

const KernelTable &avx2Kernels() {
  static const KernelTable table = {
      qlinear,        linearF32,     quantizeRow,       hadamardRow,
      adapterProject, adapterUpdate, qlinearS8Reference};
  return table;
}

} // namespace respin::rt
