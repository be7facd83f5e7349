//===- KernelsAvx512.cpp - AVX-512 VNNI kernels ----------------------------===//
//
// Compiled with -mavx512f/bw/vl/dq/vnni (see CMakeLists.txt); only called
// after Dispatch.cpp checked the CPU. The low-bit linear uses VPDPBUSD on
// unsigned activation codes x unsigned weight codes u = q + 2^(b-1) (both fit
// the instruction's u8 x s8 form), then removes the offset exactly:
//   sum (x - z) q = sum x u - 2^(b-1) sum x - z sum q     (all int32).
//
//===----------------------------------------------------------------------===//

#include "HadamardImpl.h"
#include "Internal.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

namespace respin::rt {
namespace {

//===----------------------------------------------------------------------===//
// Low-bit linear
//===----------------------------------------------------------------------===//

inline __m512i broadcast4(const uint8_t *p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

/// Weight operands of one chunk of one tile: Q[i] holds, in 32-bit lane c,
/// the unsigned codes of channel c for columns k0 + 4i .. k0 + 4i + 3.
template <int Bits> struct Chunk;

template <> struct Chunk<4> {
  static constexpr int kQuads = 2;
  __m512i q[2];
  void load(const uint8_t *p) {
    const __m512i lowNibbles = _mm512_set1_epi8(0x0F);
    __m512i v = _mm512_loadu_si512(p);
    q[0] = _mm512_and_si512(v, lowNibbles);
    q[1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lowNibbles);
  }
};

template <> struct Chunk<3> {
  static constexpr int kQuads = 4;
  __m512i q[4];
  void load(const uint8_t *p) {
    const __m512i lowPair = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
    __m512i v = _mm512_loadu_si512(p);
    for (int i = 0; i < 4; ++i) {
      __m512i low = _mm512_and_si512(i == 0 ? v : _mm512_srli_epi16(v, 2 * i),
                                     lowPair);
      uint64_t plane;
      std::memcpy(&plane, p + 64 + 8 * i, 8);
      q[i] = _mm512_mask_add_epi8(low, _cvtu64_mask64(plane), low, four);
    }
  }
};

/// Computes the MR x (NT * 16) block of outputs at rows m0.., tiles t0...
template <int Bits, int MR, int NT>
void qlinearBlock(const QLinearArgs &a, int64_t m0, int64_t t0) {
  const PackedView &w = *a.w;
  constexpr int64_t kChunkK = Bits == 4 ? 8 : 16;
  constexpr int64_t kChunkBytes = Bits == 4 ? 64 : 96;
  const int64_t xGroups = a.xPerGroup ? w.numGroups : 1;
  __m512 yAcc[MR][NT];
  for (int r = 0; r < MR; ++r)
    for (int t = 0; t < NT; ++t)
      yAcc[r][t] = _mm512_setzero_ps();

  for (int64_t j = 0; j < w.numGroups; ++j) {
    __m512i acc[MR][NT];
    for (int r = 0; r < MR; ++r)
      for (int t = 0; t < NT; ++t)
        acc[r][t] = _mm512_setzero_si512();
    const uint8_t *wp[NT];
    for (int t = 0; t < NT; ++t)
      wp[t] = w.codes + (t0 + t) * w.tileBytes +
              j * w.chunksPerGroup * kChunkBytes;
    const uint8_t *xp[MR];
    for (int r = 0; r < MR; ++r)
      xp[r] = a.x + (m0 + r) * a.xStride + j * w.groupKPadded;

    for (int64_t c = 0; c < w.chunksPerGroup; ++c) {
      Chunk<Bits> chunk[NT];
      for (int t = 0; t < NT; ++t)
        chunk[t].load(wp[t] + c * kChunkBytes);
      for (int r = 0; r < MR; ++r)
        for (int i = 0; i < Chunk<Bits>::kQuads; ++i) {
          __m512i xb = broadcast4(xp[r] + c * kChunkK + 4 * i);
          for (int t = 0; t < NT; ++t)
            acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], xb, chunk[t].q[i]);
        }
    }

    // Exact integer correction, then the float epilogue in the ABI's order.
    for (int r = 0; r < MR; ++r) {
      int64_t row = m0 + r, xj = a.xPerGroup ? j : 0;
      __m512i offsetSum =
          _mm512_set1_epi32(codeOffset(Bits) * a.xSums[row * w.numGroups + j]);
      __m512i zero = _mm512_set1_epi32(a.xZeros[row * xGroups + xj]);
      __m512 xScale = _mm512_set1_ps(a.xScales[row * xGroups + xj]);
      for (int t = 0; t < NT; ++t) {
        int64_t n0 = (t0 + t) * kTileN + j * w.nPadded;
        __m512i colSum = _mm512_loadu_si512(w.colSums + n0);
        __m512 wScale = _mm512_loadu_ps(w.scales + n0);
        __m512i exact = _mm512_sub_epi32(
            _mm512_sub_epi32(acc[r][t], offsetSum),
            _mm512_mullo_epi32(zero, colSum));
        __m512 term = _mm512_mul_ps(
            _mm512_mul_ps(_mm512_cvtepi32_ps(exact), wScale), xScale);
        yAcc[r][t] = _mm512_add_ps(yAcc[r][t], term);
      }
    }
  }

  for (int t = 0; t < NT; ++t) {
    int64_t n0 = (t0 + t) * kTileN;
    int64_t valid = std::min<int64_t>(kTileN, w.n - n0);
    if (valid <= 0)
      continue;
    __mmask16 mask = (__mmask16)((1u << valid) - 1u);
    for (int r = 0; r < MR; ++r) {
      float *out = a.y + (m0 + r) * a.yStride + n0;
      __m512 v = yAcc[r][t];
      if (a.accumulate)
        v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), v);
      _mm512_mask_storeu_ps(out, mask, v);
    }
  }
}

template <int Bits, int NT>
void rowBlock(const QLinearArgs &a, int64_t m0, int64_t rows, int64_t t0) {
  switch (rows) {
  case 1: return qlinearBlock<Bits, 1, NT>(a, m0, t0);
  case 2: return qlinearBlock<Bits, 2, NT>(a, m0, t0);
  case 3: return qlinearBlock<Bits, 3, NT>(a, m0, t0);
  case 4: return qlinearBlock<Bits, 4, NT>(a, m0, t0);
  case 5: return qlinearBlock<Bits, 5, NT>(a, m0, t0);
  case 6: return qlinearBlock<Bits, 6, NT>(a, m0, t0);
  case 7: return qlinearBlock<Bits, 7, NT>(a, m0, t0);
  default: return qlinearBlock<Bits, 8, NT>(a, m0, t0);
  }
}

template <int Bits>
void qlinearAvx512(const QLinearArgs &a, int64_t tileBegin, int64_t tileEnd) {
  if (a.m < 4) {
    // Decode: weight streaming; four tiles in flight hide VPDPBUSD latency.
    for (int64_t m = 0; m < a.m; ++m) {
      int64_t t = tileBegin;
      for (; t + 4 <= tileEnd; t += 4)
        qlinearBlock<Bits, 1, 4>(a, m, t);
      for (; t < tileEnd; ++t)
        qlinearBlock<Bits, 1, 1>(a, m, t);
    }
    return;
  }
  // Prefill: a two-tile weight panel stays in L2 while all rows pass by.
  constexpr int64_t kMR = 8;
  int64_t t = tileBegin;
  for (; t + 2 <= tileEnd; t += 2)
    for (int64_t m = 0; m < a.m; m += kMR)
      rowBlock<Bits, 2>(a, m, std::min(kMR, a.m - m), t);
  for (; t < tileEnd; ++t)
    for (int64_t m = 0; m < a.m; m += kMR)
      rowBlock<Bits, 1>(a, m, std::min(kMR, a.m - m), t);
}

void qlinear(const QLinearArgs &a, int64_t tileBegin, int64_t tileEnd) {
  if (a.w->bits == 4)
    qlinearAvx512<4>(a, tileBegin, tileEnd);
  else
    qlinearAvx512<3>(a, tileBegin, tileEnd);
}

//===----------------------------------------------------------------------===//
// 8-bit weights (respin_rt_qlinear_s8)
//
// VPDPBUSD multiplies the unsigned activation codes by the signed weights
// directly; the zero point comes off afterwards, exactly in int32:
//   sum (x - z) qw = sum x qw - z sum qw.
// Decode (few rows): each output is a dot product of a weight row, read in
// place with masked loads, so nothing past a group is touched. Prefill: a
// 32-channel panel is transposed into VNNI quads once (L2-resident) and every
// activation row reuses it from an 8-row register block.
//===----------------------------------------------------------------------===//

/// The first `count` bytes of a 64-byte vector (all when count >= 64).
inline __mmask64 byteMask(int64_t count) {
  return count >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << count) - 1);
}

/// ((float)exact * wScale) * xScale with exact = dot - z * colSum, in
/// wrapping int32 (the true value fits, so the wrap cancels).
inline float s8Term(int32_t dot, int32_t zero, int32_t colSum, float wScale,
                    float xScale) {
  int32_t exact = (int32_t)((uint32_t)dot - (uint32_t)zero * (uint32_t)colSum);
  return ((float)exact * wScale) * xScale;
}

/// Row m times weight rows n0 .. n0 + NB - 1. With WithSums the column sums
/// sum_k qw are computed on the way (VPDPBUSD by ones, the weights are loaded
/// anyway) and stored in colSums[b * G + j]; later rows reuse them.
template <int NB, bool WithSums>
void s8DecodeBlock(const QLinearS8Args &a, int64_t m, int64_t n0,
                   int32_t *colSums) {
  const __m512i ones = _mm512_set1_epi8(1);
  const int64_t g = a.groupSize, xGroups = a.xPerGroup ? a.numGroups : 1;
  const uint8_t *x = a.x + m * a.xStride;
  float y[NB];
  for (int b = 0; b < NB; ++b)
    y[b] = 0.0f;
  for (int64_t j = 0; j < a.numGroups; ++j) {
    __m512i acc[NB], sums[NB];
    for (int b = 0; b < NB; ++b)
      acc[b] = sums[b] = _mm512_setzero_si512();
    const int8_t *wg = a.w + n0 * a.wStride + j * g;
    const uint8_t *xg = x + j * a.groupKPadded;
    for (int64_t kk = 0; kk < g; kk += 64) {
      __mmask64 mask = byteMask(g - kk);
      __m512i xv = _mm512_maskz_loadu_epi8(mask, xg + kk);
      for (int b = 0; b < NB; ++b) {
        __m512i wv = _mm512_maskz_loadu_epi8(mask, wg + b * a.wStride + kk);
        acc[b] = _mm512_dpbusd_epi32(acc[b], xv, wv);
        if (WithSums)
          sums[b] = _mm512_dpbusd_epi32(sums[b], ones, wv);
      }
    }
    int32_t zero = a.xZeros[m * xGroups + (a.xPerGroup ? j : 0)];
    float xScale = a.xScales[m * xGroups + (a.xPerGroup ? j : 0)];
    for (int b = 0; b < NB; ++b) {
      if (WithSums)
        colSums[b * a.numGroups + j] = _mm512_reduce_add_epi32(sums[b]);
      float t = s8Term(_mm512_reduce_add_epi32(acc[b]), zero,
                       colSums[b * a.numGroups + j],
                       a.wScales[(n0 + b) * a.numGroups + j], xScale);
      y[b] = y[b] + t;
    }
  }
  float *out = a.y + m * a.yStride + n0;
  for (int b = 0; b < NB; ++b)
    out[b] = a.accumulate ? out[b] + y[b] : y[b];
}

template <int NB>
void s8DecodeRows(const QLinearS8Args &a, int64_t n0, int32_t *colSums) {
  s8DecodeBlock<NB, true>(a, 0, n0, colSums);
  for (int64_t m = 1; m < a.m; ++m)
    s8DecodeBlock<NB, false>(a, m, n0, colSums);
}

/// Decode path: four weight rows in flight, then single rows for the tail.
void s8Decode(const QLinearS8Args &a, int64_t nBegin, int64_t nEnd,
              int32_t *colSums) {
  int64_t n = nBegin;
  for (; n + 4 <= nEnd; n += 4)
    s8DecodeRows<4>(a, n, colSums);
  for (; n < nEnd; ++n)
    s8DecodeRows<1>(a, n, colSums);
}

/// A 32-channel weight panel in VNNI form: for group j and quad q (columns
/// 4q .. 4q+3 of the group), tile t's 64 bytes hold in 32-bit lane c the four
/// codes of channel 16t + c (zeros past the group or past nEnd). Column sums
/// and scales per group, [G][32].
struct S8Panel {
  uint8_t *codes;
  int32_t *colSums;
  float *scales;
  int64_t quads; // per group
  uint8_t *quad(int64_t j, int64_t q, int t) const {
    return codes + ((j * quads + q) * 2 + t) * 64;
  }
};

void s8PackPanel(const QLinearS8Args &a, int64_t n0, int64_t nEnd,
                 const S8Panel &p) {
  const int64_t g = a.groupSize;
  for (int c = 0; c < 32; ++c) {
    int64_t n = n0 + c;
    bool live = n < nEnd; // channels past the range pack as zeros
    const int8_t *src = live ? a.w + n * a.wStride : nullptr;
    for (int64_t j = 0; j < a.numGroups; ++j) {
      p.scales[j * 32 + c] = live ? a.wScales[n * a.numGroups + j] : 0.0f;
      for (int64_t q = 0; q < p.quads; ++q) {
        uint8_t *dst = p.quad(j, q, c / 16) + 4 * (c % 16);
        std::memset(dst, 0, 4);
        if (live)
          std::memcpy(dst, src + j * g + 4 * q,
                      std::min<int64_t>(4, g - 4 * q));
      }
    }
  }
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t j = 0; j < a.numGroups; ++j)
    for (int t = 0; t < 2; ++t) {
      __m512i sum = _mm512_setzero_si512();
      for (int64_t q = 0; q < p.quads; ++q)
        sum =
            _mm512_dpbusd_epi32(sum, ones, _mm512_load_si512(p.quad(j, q, t)));
      _mm512_store_si512(p.colSums + j * 32 + 16 * t, sum);
    }
}

/// Rows m0 .. m0 + MR - 1 times the panel at n0 (valid columns < nEnd).
template <int MR>
void s8PanelBlock(const QLinearS8Args &a, const S8Panel &p, int64_t m0,
                  int64_t n0, int64_t nEnd) {
  const int64_t xGroups = a.xPerGroup ? a.numGroups : 1;
  __m512 yAcc[MR][2];
  for (int r = 0; r < MR; ++r)
    yAcc[r][0] = yAcc[r][1] = _mm512_setzero_ps();
  for (int64_t j = 0; j < a.numGroups; ++j) {
    __m512i acc[MR][2];
    for (int r = 0; r < MR; ++r)
      acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    const uint8_t *xg = a.x + m0 * a.xStride + j * a.groupKPadded;
    for (int64_t q = 0; q < p.quads; ++q) {
      __m512i w0 = _mm512_load_si512(p.quad(j, q, 0));
      __m512i w1 = _mm512_load_si512(p.quad(j, q, 1));
      for (int r = 0; r < MR; ++r) {
        __m512i xb = broadcast4(xg + r * a.xStride + 4 * q);
        acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], xb, w0);
        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], xb, w1);
      }
    }
    for (int r = 0; r < MR; ++r) {
      int64_t xi = (m0 + r) * xGroups + (a.xPerGroup ? j : 0);
      __m512i zero = _mm512_set1_epi32(a.xZeros[xi]);
      __m512 xScale = _mm512_set1_ps(a.xScales[xi]);
      for (int t = 0; t < 2; ++t) {
        __m512i colSum = _mm512_load_si512(p.colSums + j * 32 + 16 * t);
        __m512 wScale = _mm512_load_ps(p.scales + j * 32 + 16 * t);
        __m512i exact =
            _mm512_sub_epi32(acc[r][t], _mm512_mullo_epi32(zero, colSum));
        __m512 term = _mm512_mul_ps(
            _mm512_mul_ps(_mm512_cvtepi32_ps(exact), wScale), xScale);
        yAcc[r][t] = _mm512_add_ps(yAcc[r][t], term);
      }
    }
  }
  for (int t = 0; t < 2; ++t) {
    int64_t valid = std::clamp<int64_t>(nEnd - (n0 + 16 * t), 0, 16);
    __mmask16 mask = (__mmask16)((1u << valid) - 1u);
    for (int r = 0; r < MR; ++r) {
      float *out = a.y + (m0 + r) * a.yStride + n0 + 16 * t;
      __m512 v = yAcc[r][t];
      if (a.accumulate)
        v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out), v);
      _mm512_mask_storeu_ps(out, mask, v);
    }
  }
}

void s8PanelRows(const QLinearS8Args &a, const S8Panel &p, int64_t m0,
                 int64_t rows, int64_t n0, int64_t nEnd) {
  switch (rows) {
  case 1:
    return s8PanelBlock<1>(a, p, m0, n0, nEnd);
  case 2:
    return s8PanelBlock<2>(a, p, m0, n0, nEnd);
  case 3:
    return s8PanelBlock<3>(a, p, m0, n0, nEnd);
  case 4:
    return s8PanelBlock<4>(a, p, m0, n0, nEnd);
  case 5:
    return s8PanelBlock<5>(a, p, m0, n0, nEnd);
  case 6:
    return s8PanelBlock<6>(a, p, m0, n0, nEnd);
  case 7:
    return s8PanelBlock<7>(a, p, m0, n0, nEnd);
  default:
    return s8PanelBlock<8>(a, p, m0, n0, nEnd);
  }
}

thread_local AlignedScratch s8PanelScratch;

/// Prefill path; false when the panel scratch cannot be allocated.
bool s8Prefill(const QLinearS8Args &a, int64_t nBegin, int64_t nEnd) {
  S8Panel p;
  p.quads = a.groupKPadded / 4;
  size_t codeBytes = (size_t)(a.numGroups * p.quads * 128);
  size_t sideBytes = (size_t)(a.numGroups * 32 * 4);
  auto *buf = (uint8_t *)s8PanelScratch.get(codeBytes + 2 * sideBytes);
  if (!buf)
    return false;
  p.codes = buf;
  p.colSums = (int32_t *)(buf + codeBytes);
  p.scales = (float *)(buf + codeBytes + sideBytes);
  constexpr int64_t kMR = 8;
  for (int64_t n0 = nBegin; n0 < nEnd; n0 += 32) {
    s8PackPanel(a, n0, nEnd, p);
    for (int64_t m0 = 0; m0 < a.m; m0 += kMR)
      s8PanelRows(a, p, m0, std::min(kMR, a.m - m0), n0, nEnd);
  }
  return true;
}

void qlinearS8(const QLinearS8Args &a, int64_t nBegin, int64_t nEnd) {
  // Below 16 rows the panel transpose costs more than the reuse saves.
  if (a.m >= 16 && s8Prefill(a, nBegin, nEnd))
    return;
  thread_local std::vector<int32_t> colSums;
  colSums.resize(4 * a.numGroups);
  s8Decode(a, nBegin, nEnd, colSums.data());
}

//===----------------------------------------------------------------------===//
// Float linear (baseline, lm_head)
//===----------------------------------------------------------------------===//

template <int MR, int NR>
void linearF32Block(const LinearF32Args &a, int64_t m0, int64_t n0) {
  __m512 acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c)
      acc[r][c] = _mm512_setzero_ps();
  for (int64_t k = 0; k < a.k; k += 16) {
    __mmask16 mask =
        a.k - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (a.k - k)) - 1);
    __m512 wv[NR];
    for (int c = 0; c < NR; ++c)
      wv[c] = _mm512_maskz_loadu_ps(mask, a.w + (n0 + c) * a.wStride + k);
    for (int r = 0; r < MR; ++r) {
      __m512 xv = _mm512_maskz_loadu_ps(mask, a.x + (m0 + r) * a.xStride + k);
      for (int c = 0; c < NR; ++c)
        acc[r][c] = _mm512_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < NR; ++c) {
      float *out = a.y + (m0 + r) * a.yStride + n0 + c;
      float v = _mm512_reduce_add_ps(acc[r][c]);
      *out = a.accumulate ? *out + v : v;
    }
}

/// Prefill path: W^T panels of 32 columns x 256 k packed on the fly (L1),
/// 8 x 32 register block fed by broadcasts of x.
void linearF32Panels(const LinearF32Args &a, int64_t nBegin, int64_t nEnd) {
  constexpr int64_t kKC = 256, kNR = 32, kMR = 8;
  alignas(64) static thread_local float panel[kKC * kNR];
  for (int64_t kb = 0; kb < a.k; kb += kKC) {
    int64_t kl = std::min(kKC, a.k - kb);
    for (int64_t n0 = nBegin; n0 < nEnd; n0 += kNR) {
      int64_t nl = std::min(kNR, nEnd - n0);
      for (int64_t c = 0; c < kNR; ++c) {
        const float *src = a.w + (n0 + std::min(c, nl - 1)) * a.wStride + kb;
        for (int64_t kk = 0; kk < kl; ++kk)
          panel[kk * kNR + c] = src[kk];
      }
      __mmask16 mask0 = nl >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nl) - 1);
      __mmask16 mask1 = nl >= 32 ? (__mmask16)0xFFFF
                        : nl > 16 ? (__mmask16)((1u << (nl - 16)) - 1)
                                  : (__mmask16)0;
      for (int64_t m0 = 0; m0 < a.m; m0 += kMR) {
        const float *xr[kMR];
        for (int64_t r = 0; r < kMR; ++r)
          xr[r] = a.x + std::min(m0 + r, a.m - 1) * a.xStride + kb;
        __m512 acc[kMR][2];
        for (int64_t r = 0; r < kMR; ++r)
          acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        for (int64_t kk = 0; kk < kl; ++kk) {
          __m512 w0 = _mm512_load_ps(panel + kk * kNR);
          __m512 w1 = _mm512_load_ps(panel + kk * kNR + 16);
          for (int64_t r = 0; r < kMR; ++r) {
            __m512 xb = _mm512_set1_ps(xr[r][kk]);
            acc[r][0] = _mm512_fmadd_ps(xb, w0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(xb, w1, acc[r][1]);
          }
        }
        bool add = kb > 0 || a.accumulate;
        for (int64_t r = 0; r < kMR && m0 + r < a.m; ++r) {
          float *out = a.y + (m0 + r) * a.yStride + n0;
          __m512 v0 = acc[r][0], v1 = acc[r][1];
          if (add) {
            v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(mask0, out), v0);
            v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(mask1, out + 16), v1);
          }
          _mm512_mask_storeu_ps(out, mask0, v0);
          _mm512_mask_storeu_ps(out + 16, mask1, v1);
        }
      }
    }
  }
}

void linearF32(const LinearF32Args &a, int64_t nBegin, int64_t nEnd) {
  if (a.m >= 8)
    return linearF32Panels(a, nBegin, nEnd);
  // Decode path: row dot products, eight weight rows streamed at once.
  for (int64_t m = 0; m < a.m; ++m) {
    int64_t n = nBegin;
    for (; n + 8 <= nEnd; n += 8)
      linearF32Block<1, 8>(a, m, n);
    for (; n < nEnd; ++n)
      linearF32Block<1, 1>(a, m, n);
  }
}

//===----------------------------------------------------------------------===//
// Activation quantization
//===----------------------------------------------------------------------===//

void quantizeRow(const float *x, int64_t cols, int bits, bool symmetric,
                 float clip, int64_t groupSize, uint8_t *q, float *scales,
                 int32_t *zeros) {
  const float maxCode = (float)((1 << bits) - 1);
  const __m512 inf = _mm512_set1_ps(__builtin_inff());
  for (int64_t j = 0; j * groupSize < cols; ++j) {
    const float *xg = x + j * groupSize;
    uint8_t *qg = q + j * groupSize;
    __m512 vMin = inf, vMax = _mm512_sub_ps(_mm512_setzero_ps(), inf);
    for (int64_t i = 0; i < groupSize; i += 16) {
      __mmask16 mask = groupSize - i >= 16
                           ? (__mmask16)0xFFFF
                           : (__mmask16)((1u << (groupSize - i)) - 1);
      vMin = _mm512_mask_min_ps(vMin, mask, vMin, _mm512_maskz_loadu_ps(mask, xg + i));
      vMax = _mm512_mask_max_ps(vMax, mask, vMax, _mm512_maskz_loadu_ps(mask, xg + i));
    }
    ActQuantParams p =
        actQuantParams(_mm512_reduce_min_ps(vMin), _mm512_reduce_max_ps(vMax),
                       bits, symmetric, clip);
    scales[j] = p.scale;
    zeros[j] = p.zero;
    const __m512 scale = _mm512_set1_ps(p.scale);
    const __m512 zero = _mm512_set1_ps((float)p.zero);
    const __m512 top = _mm512_set1_ps(maxCode);
    for (int64_t i = 0; i < groupSize; i += 16) {
      __mmask16 mask = groupSize - i >= 16
                           ? (__mmask16)0xFFFF
                           : (__mmask16)((1u << (groupSize - i)) - 1);
      __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(mask, xg + i), scale);
      v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v = _mm512_add_ps(v, zero);
      v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), top);
      _mm512_mask_cvtepi32_storeu_epi8(qg + i, mask, _mm512_cvttps_epi32(v));
    }
  }
}

//===----------------------------------------------------------------------===//
// Hadamard
//===----------------------------------------------------------------------===//

/// One butterfly stage of distance h inside each 16-float vector.
inline __m512 butterfly(__m512 x, int h) {
  alignas(64) int32_t idx[16];
  int mask = 0;
  for (int l = 0; l < 16; ++l) {
    idx[l] = l ^ h;
    if (l & h)
      mask |= 1 << l;
  }
  __m512 p = _mm512_permutexvar_ps(_mm512_load_si512(idx), x);
  return _mm512_mask_sub_ps(_mm512_add_ps(x, p), (__mmask16)mask, p, x);
}

int64_t smallStages(float *x, int64_t len) {
  if (len < 16)
    return 1;
  for (int64_t i = 0; i < len; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    v = butterfly(v, 1);
    v = butterfly(v, 2);
    v = butterfly(v, 4);
    v = butterfly(v, 8);
    _mm512_storeu_ps(x + i, v);
  }
  return 16;
}

/// Outputs a0 .. a0+A-1 of the H_K mixing for columns b0 .. b0+16V-1:
/// acc = s_a0 * x_0 (exact), then acc = fma(s_aj, x_j, acc) for j = 1, 2, ...
/// With s = +-1 the product is exact, so each FMA rounds exactly like the
/// reference's acc + x_j or acc - x_j. out[a][c], row stride 16V.
template <int A, int V>
inline void mixTile(const float *x, int64_t pow2, int64_t kFactor,
                    const float *signsT, int64_t a0, int64_t b0, float *out) {
  __m512 acc[A][V];
  const float *s = signsT + a0;
  for (int v = 0; v < V; ++v) {
    __m512 xv = _mm512_loadu_ps(x + b0 + 16 * v);
    for (int i = 0; i < A; ++i)
      acc[i][v] = _mm512_mul_ps(_mm512_set1_ps(s[i]), xv);
  }
  for (int64_t j = 1; j < kFactor; ++j) {
    const float *xj = x + j * pow2 + b0;
    const float *sj = s + j * kFactor;
    __m512 xv[V];
    for (int v = 0; v < V; ++v)
      xv[v] = _mm512_loadu_ps(xj + 16 * v);
    for (int i = 0; i < A; ++i) {
      __m512 si = _mm512_set1_ps(sj[i]);
      for (int v = 0; v < V; ++v)
        acc[i][v] = _mm512_fmadd_ps(si, xv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < A; ++i)
    for (int v = 0; v < V; ++v)
      _mm512_storeu_ps(out + (a0 + i) * (16 * V) + 16 * v, acc[i][v]);
}

/// The H_K step by blocks of 16V columns: all K outputs of a block go to
/// scratch (K x 16V floats, L1-sized), then back to x scaled by norm.
template <int V>
void mixColumns(float *x, int64_t kFactor, int64_t pow2, const float *signsT,
                float *scratch, float norm) {
  const __m512 nv = _mm512_set1_ps(norm);
  for (int64_t b0 = 0; b0 < pow2; b0 += 16 * V) {
    int64_t a0 = 0;
    for (; a0 + 8 <= kFactor; a0 += 8)
      mixTile<8, V>(x, pow2, kFactor, signsT, a0, b0, scratch);
    for (; a0 < kFactor; a0 += 4)
      mixTile<4, V>(x, pow2, kFactor, signsT, a0, b0, scratch);
    for (int64_t a = 0; a < kFactor; ++a)
      for (int v = 0; v < V; ++v)
        _mm512_storeu_ps(
            x + a * pow2 + b0 + 16 * v,
            _mm512_mul_ps(_mm512_loadu_ps(scratch + a * 16 * V + 16 * v), nv));
  }
}

/// The H_K step when a row has fewer than 16 columns per factor row (n =
/// 172, 156, ... times 1..8): vectors run over 16 outputs a of one column,
/// acc = s_0 x_0 then fma(s_j, x_j, acc) for j ascending, which rounds like
/// the reference's acc +- x_j. Column b is written back once all its outputs
/// are known.
void mixNarrow(float *x, int64_t kFactor, int64_t pow2, const float *signsT,
               float *scratch, float norm) {
  const __m512 nv = _mm512_set1_ps(norm);
  for (int64_t b = 0; b < pow2; ++b) {
    for (int64_t a0 = 0; a0 < kFactor; a0 += 16) {
      int64_t left = kFactor - a0;
      __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF
                                  : (__mmask16)((1u << left) - 1);
      __m512 acc = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, signsT + a0),
                                 _mm512_set1_ps(x[b]));
      for (int64_t j = 1; j < kFactor; ++j)
        acc = _mm512_fmadd_ps(
            _mm512_maskz_loadu_ps(mask, signsT + j * kFactor + a0),
            _mm512_set1_ps(x[j * pow2 + b]), acc);
      _mm512_mask_storeu_ps(scratch + a0, mask, _mm512_mul_ps(acc, nv));
    }
    for (int64_t a = 0; a < kFactor; ++a)
      x[a * pow2 + b] = scratch[a];
  }
}

void hadamardRow(float *x, int64_t kFactor, int64_t pow2, const int8_t *hK,
                 const float *signsT, float *scratch) {
  hadamardRowImpl(x, kFactor, pow2, hK, scratch, smallStages,
                  [&](float *xr, int64_t k, int64_t p, float norm) {
                    if (p < 16) {
                      mixNarrow(xr, k, p, signsT, scratch, norm);
                      return true;
                    }
                    if (k % 4 != 0)
                      return false;
                    if (p >= 32)
                      mixColumns<2>(xr, k, p, signsT, scratch, norm);
                    else
                      mixColumns<1>(xr, k, p, signsT, scratch, norm);
                    return true;
                  });
}

//===----------------------------------------------------------------------===//
// Rank-r adapter
//===----------------------------------------------------------------------===//

inline __mmask16 tailMask(int64_t remaining) {
  return remaining >= 16 ? (__mmask16)0xFFFF
                         : (__mmask16)((1u << remaining) - 1);
}

/// 16 elements of Q^T from element idx, widened exactly to f32.
template <int F> inline __m512 loadQ16(const void *q, int64_t idx) {
  if constexpr (F == RESPIN_RT_FLOAT_F32) {
    return _mm512_loadu_ps((const float *)q + idx);
  } else {
    __m256i v = _mm256_loadu_si256((const __m256i *)((const uint16_t *)q + idx));
    if constexpr (F == RESPIN_RT_FLOAT_BF16)
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
    else
      return _mm512_cvtph_ps(v);
  }
}

/// Masked form (masked-off lanes are 0 and not read).
template <int F>
inline __m512 loadQ16(const void *q, int64_t idx, __mmask16 mask) {
  if constexpr (F == RESPIN_RT_FLOAT_F32) {
    return _mm512_maskz_loadu_ps(mask, (const float *)q + idx);
  } else {
    __m256i v = _mm256_maskz_loadu_epi16(mask, (const uint16_t *)q + idx);
    if constexpr (F == RESPIN_RT_FLOAT_BF16)
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
    else
      return _mm512_cvtph_ps(v);
  }
}

/// t[j0 + b] = <Q^T[j0 + b][i0..i1), h[i0..i1)> for b < JB: JB rows streamed
/// together (more memory-level parallelism), two accumulators each.
template <int F, int JB>
inline void projectRows(const float *h, int64_t i0, int64_t i1, int64_t d,
                        const void *qT, int64_t j0, float *t) {
  __m512 acc[JB][2];
  for (int b = 0; b < JB; ++b)
    acc[b][0] = acc[b][1] = _mm512_setzero_ps();
  int64_t i = i0;
  for (; i + 32 <= i1; i += 32) {
    __m512 h0 = _mm512_loadu_ps(h + i), h1 = _mm512_loadu_ps(h + i + 16);
    for (int b = 0; b < JB; ++b) {
      int64_t base = (j0 + b) * d + i;
      acc[b][0] = _mm512_fmadd_ps(loadQ16<F>(qT, base), h0, acc[b][0]);
      acc[b][1] = _mm512_fmadd_ps(loadQ16<F>(qT, base + 16), h1, acc[b][1]);
    }
  }
  for (; i < i1; i += 16) {
    __mmask16 mask = tailMask(i1 - i);
    __m512 hv = _mm512_maskz_loadu_ps(mask, h + i);
    for (int b = 0; b < JB; ++b)
      acc[b][0] = _mm512_fmadd_ps(loadQ16<F>(qT, (j0 + b) * d + i, mask), hv,
                                  acc[b][0]);
  }
  for (int b = 0; b < JB; ++b)
    t[j0 + b] = _mm512_reduce_add_ps(_mm512_add_ps(acc[b][0], acc[b][1]));
}

template <int F>
void adapterProjectT(const float *h, int64_t i0, int64_t i1, int64_t d,
                     int64_t r, const void *qT, float *t) {
  int64_t j = 0;
  // Eight rows at a time (eight DRAM streams): with D = 4096, r = 32, cold
  // bf16 best-of-15 16.4 us vs 18.4 with four and 23.6 with two rows (on a
  // loaded machine, so +-2 us); software prefetch measured slower.
  for (; j + 8 <= r; j += 8)
    projectRows<F, 8>(h, i0, i1, d, qT, j, t);
  for (; j < r; ++j)
    projectRows<F, 1>(h, i0, i1, d, qT, j, t);
}

/// h += sum_j u_j Q^T[j] + add over [i0, i1), 128 outputs in registers per
/// pass over the r rows of Q^T.
template <int F>
void adapterUpdateT(float *h, const float *add, int64_t i0, int64_t i1,
                    int64_t d, int64_t r, const void *qT, const float *u) {
  constexpr int64_t kBlock = 128, kVectors = kBlock / 16;
  for (int64_t b0 = i0; b0 < i1; b0 += kBlock) {
    int64_t len = std::min(kBlock, i1 - b0);
    int64_t vectors = (len + 15) / 16;
    __m512 acc[kVectors];
    for (int v = 0; v < kVectors; ++v)
      acc[v] = _mm512_setzero_ps();
    if (len == kBlock) {
      for (int64_t j = 0; j < r; ++j) {
        __m512 uj = _mm512_set1_ps(u[j]);
        int64_t base = j * d + b0;
        for (int v = 0; v < kVectors; ++v)
          acc[v] = _mm512_fmadd_ps(uj, loadQ16<F>(qT, base + 16 * v), acc[v]);
      }
    } else {
      for (int64_t j = 0; j < r; ++j) {
        __m512 uj = _mm512_set1_ps(u[j]);
        int64_t base = j * d + b0;
        for (int64_t v = 0; v < vectors; ++v)
          acc[v] = _mm512_fmadd_ps(
              uj, loadQ16<F>(qT, base + 16 * v, tailMask(len - 16 * v)),
              acc[v]);
      }
    }
    for (int64_t v = 0; v < vectors; ++v) {
      __mmask16 mask = tailMask(len - 16 * v);
      float *hp = h + b0 + 16 * v;
      __m512 out = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, hp), acc[v]);
      if (add)
        out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, add + b0 + 16 * v));
      _mm512_mask_storeu_ps(hp, mask, out);
    }
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

const KernelTable &avx512Kernels() {
  static const KernelTable table = {qlinear,     linearF32,      quantizeRow,
                                    hadamardRow, adapterProject, adapterUpdate,
                                    qlinearS8};
  return table;
}

} // namespace respin::rt
