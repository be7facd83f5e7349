//===- PackedWeights.cpp - int4/int3 weight packing and validation --------===//
//
// Builds and reads the tiled code layout described in respin_rt.h. Packing
// runs once at compile time, so it is plain scalar code; the layout itself is
// what makes the kernels fast (one 512-bit load per 16 channels x 8 columns).
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cinttypes>
#include <cstdio>
#include <vector>

namespace respin::rt {
namespace {

int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/// Geometry of a blob, derived from (bits, n, k, group size) only.
struct Geometry {
  int64_t groupSize, numGroups, groupKPadded, chunksPerGroup;
  int64_t nPadded, numTiles, tileBytes;
  uint64_t codesOffset, scalesOffset, colSumsOffset, total;
};

respin_rt_status checkShape(int bits, int64_t n, int64_t k,
                            int64_t groupSize) {
  if (bits != 3 && bits != 4)
    return fail(RESPIN_RT_ERR_UNSUPPORTED,
                "packed weights support 3 or 4 bits, got %d", bits);
  if (n < 1 || k < 1 || k > kMaxK)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "weight shape %" PRId64 " x %" PRId64
                " out of range (need n >= 1, 1 <= k <= %" PRId64 ")",
                n, k, kMaxK);
  if (groupSize != 0 && groupSize != k &&
      (groupSize < 8 || groupSize % 8 != 0 || k % groupSize != 0))
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "group size %" PRId64 " must be 0, k, or a multiple of 8 "
                "dividing k = %" PRId64,
                groupSize, k);
  return RESPIN_RT_OK;
}

Geometry geometry(int bits, int64_t n, int64_t k, int64_t groupSize) {
  Geometry g;
  g.groupSize = groupSize == 0 ? k : groupSize;
  g.numGroups = k / g.groupSize;
  g.groupKPadded = roundUp(g.groupSize, chunkK(bits));
  g.chunksPerGroup = g.groupKPadded / chunkK(bits);
  g.nPadded = roundUp(n, kTileN);
  g.numTiles = g.nPadded / kTileN;
  g.tileBytes = g.numGroups * g.chunksPerGroup * chunkBytes(bits);
  g.codesOffset = kHeaderBytes;
  g.scalesOffset = roundUp(g.codesOffset + g.numTiles * g.tileBytes, 64);
  uint64_t perGroupTable = (uint64_t)g.numGroups * g.nPadded * 4;
  g.colSumsOffset = roundUp(g.scalesOffset + perGroupTable, 64);
  g.total = roundUp(g.colSumsOffset + perGroupTable, 64);
  return g;
}

/// Where the code of (n, k) lives: chunk base and position in the chunk.
struct CodeSlot {
  int64_t chunk;  // byte offset of the chunk from the codes start
  int64_t lane;   // 4 * channel + (column % 4)
  int64_t quad;   // which group of 4 columns in the chunk
};

CodeSlot codeSlot(int bits, const Geometry &g, int64_t n, int64_t k) {
  int64_t j = k / g.groupSize, kk = k % g.groupSize;
  int64_t c = kk / chunkK(bits), within = kk % chunkK(bits);
  CodeSlot s;
  s.chunk = (n / kTileN) * g.tileBytes +
            (j * g.chunksPerGroup + c) * chunkBytes(bits);
  s.lane = 4 * (n % kTileN) + within % 4;
  s.quad = within / 4;
  return s;
}

void storeCode(int bits, uint8_t *codes, const CodeSlot &s, uint32_t u) {
  uint8_t *chunk = codes + s.chunk;
  if (bits == 4) {
    chunk[s.lane] |= (uint8_t)(u << (4 * s.quad));
    return;
  }
  chunk[s.lane] |= (uint8_t)((u & 3u) << (2 * s.quad));
  uint8_t *plane = chunk + 64 + 8 * s.quad;
  plane[s.lane / 8] |= (uint8_t)(((u >> 2) & 1u) << (s.lane % 8));
}

uint32_t loadCode(int bits, const uint8_t *codes, const CodeSlot &s) {
  const uint8_t *chunk = codes + s.chunk;
  if (bits == 4)
    return (chunk[s.lane] >> (4 * s.quad)) & 15u;
  const uint8_t *plane = chunk + 64 + 8 * s.quad;
  return ((chunk[s.lane] >> (2 * s.quad)) & 3u) |
         (((plane[s.lane / 8] >> (s.lane % 8)) & 1u) << 2);
}

Geometry geometryOf(const PackedView &w) {
  return geometry(w.bits, w.n, w.k, w.groupSize == w.k ? 0 : w.groupSize);
}

} // namespace

respin_rt_status makePackedView(const void *packed, size_t size,
                                PackedView &view) {
  if (!packed)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "packed weights are null");
  if ((uintptr_t)packed % 4 != 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "packed weights must be 4-byte aligned");
  if (size < (size_t)kHeaderBytes)
    return fail(RESPIN_RT_ERR_BAD_PACKED,
                "packed weights: %zu bytes, smaller than the header", size);
  PackedHeader h;
  std::memcpy(&h, packed, sizeof(h));
  if (h.magic != kPackedMagic)
    return fail(RESPIN_RT_ERR_BAD_PACKED, "packed weights: bad magic");
  if (h.layoutVersion != kPackedLayoutVersion)
    return fail(RESPIN_RT_ERR_BAD_PACKED,
                "packed weights: layout version %u, this runtime reads %u",
                h.layoutVersion, kPackedLayoutVersion);
  int64_t groupArg = h.groupSize == h.k ? 0 : h.groupSize;
  if (checkShape(h.bits, h.n, h.k, groupArg) != RESPIN_RT_OK) {
    char detail[512]; // fail() overwrites the buffer last_error points to
    std::snprintf(detail, sizeof(detail), "%s", respin_rt_last_error());
    return fail(RESPIN_RT_ERR_BAD_PACKED, "packed weights: header invalid: %s",
                detail);
  }
  Geometry g = geometry(h.bits, h.n, h.k, groupArg);
  if (h.codesOffset != g.codesOffset || h.scalesOffset != g.scalesOffset ||
      h.colSumsOffset != g.colSumsOffset)
    return fail(RESPIN_RT_ERR_BAD_PACKED,
                "packed weights: section offsets do not match the shape");
  if (size < g.total)
    return fail(RESPIN_RT_ERR_BAD_PACKED,
                "packed weights truncated: %zu bytes, need %" PRIu64, size,
                g.total);
  const uint8_t *base = (const uint8_t *)packed;
  view.bits = h.bits;
  view.n = h.n;
  view.k = h.k;
  view.groupSize = g.groupSize;
  view.numGroups = g.numGroups;
  view.nPadded = g.nPadded;
  view.numTiles = g.numTiles;
  view.groupKPadded = g.groupKPadded;
  view.chunksPerGroup = g.chunksPerGroup;
  view.tileBytes = g.tileBytes;
  view.codes = base + g.codesOffset;
  view.scales = (const float *)(base + g.scalesOffset);
  view.colSums = (const int32_t *)(base + g.colSumsOffset);
  return RESPIN_RT_OK;
}

int32_t decodeWeight(const PackedView &w, int64_t n, int64_t k) {
  Geometry g = geometryOf(w);
  return (int32_t)loadCode(w.bits, w.codes, codeSlot(w.bits, g, n, k)) -
         codeOffset(w.bits);
}

} // namespace respin::rt

using namespace respin::rt;

extern "C" {

size_t respin_rt_packed_weights_size(int bits, int64_t n, int64_t k,
                                     int64_t group_size) {
  if (checkShape(bits, n, k, group_size) != RESPIN_RT_OK)
    return 0;
  return geometry(bits, n, k, group_size).total;
}

respin_rt_status respin_rt_pack_weights(int bits, int64_t n, int64_t k,
                                        int64_t group_size, const int8_t *q,
                                        int64_t q_stride, const float *scales,
                                        void *dst, size_t dst_size) {
  if (respin_rt_status s = checkShape(bits, n, k, group_size))
    return s;
  if (!q || !scales || !dst)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "pack_weights: null pointer");
  if (q_stride < k)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "pack_weights: q_stride %" PRId64 " < k %" PRId64, q_stride, k);
  if ((uintptr_t)dst % 4 != 0)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "pack_weights: destination must be 4-byte aligned");
  Geometry g = geometry(bits, n, k, group_size);
  if (dst_size < g.total)
    return fail(RESPIN_RT_ERR_BUFFER_TOO_SMALL,
                "pack_weights: need %" PRIu64 " bytes, got %zu", g.total,
                dst_size);
  int32_t lo = -codeOffset(bits), hi = codeOffset(bits) - 1;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c)
      if (q[r * q_stride + c] < lo || q[r * q_stride + c] > hi)
        return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                    "pack_weights: code %d at (%" PRId64 ", %" PRId64
                    ") outside [%d, %d] for %d bits",
                    q[r * q_stride + c], r, c, lo, hi, bits);
    for (int64_t j = 0; j < g.numGroups; ++j)
      if (!std::isfinite(scales[r * g.numGroups + j]))
        return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                    "pack_weights: scale of row %" PRId64 " group %" PRId64
                    " is not finite",
                    r, j);
  }

  uint8_t *base = (uint8_t *)dst;
  std::memset(base, 0, g.total);
  PackedHeader h{};
  h.magic = kPackedMagic;
  h.layoutVersion = kPackedLayoutVersion;
  h.bits = bits;
  h.n = n;
  h.k = k;
  h.groupSize = g.groupSize;
  h.codesOffset = g.codesOffset;
  h.scalesOffset = g.scalesOffset;
  h.colSumsOffset = g.colSumsOffset;
  std::memcpy(base, &h, sizeof(h));

  uint8_t *codes = base + g.codesOffset;
  float *scaleTable = (float *)(base + g.scalesOffset);
  int32_t *colSums = (int32_t *)(base + g.colSumsOffset);
  int32_t offset = codeOffset(bits);
  // Every slot, padding included, gets a code; padding holds signed code 0.
  for (int64_t r = 0; r < g.nPadded; ++r) {
    for (int64_t j = 0; j < g.numGroups; ++j) {
      int32_t sum = 0;
      for (int64_t kk = 0; kk < g.groupKPadded; ++kk) {
        int64_t col = j * g.groupSize + kk;
        bool real = r < n && kk < g.groupSize;
        int32_t code = real ? q[r * q_stride + col] : 0;
        sum += code;
        // Padding columns live past the group's real columns in its chunks.
        int64_t cIdx = kk / chunkK(bits), within = kk % chunkK(bits);
        CodeSlot s;
        s.chunk = (r / kTileN) * g.tileBytes +
                  (j * g.chunksPerGroup + cIdx) * chunkBytes(bits);
        s.lane = 4 * (r % kTileN) + within % 4;
        s.quad = within / 4;
        storeCode(bits, codes, s, (uint32_t)(code + offset));
      }
      scaleTable[j * g.nPadded + r] = r < n ? scales[r * g.numGroups + j] : 0;
      colSums[j * g.nPadded + r] = sum;
    }
  }
  return ok();
}

respin_rt_status respin_rt_packed_weights_info(const void *packed,
                                               size_t size,
                                               respin_rt_weights_info *info) {
  PackedView w;
  if (respin_rt_status s = makePackedView(packed, size, w))
    return s;
  if (!info)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT, "weights_info: null info");
  info->bits = w.bits;
  info->layout_version = (int32_t)kPackedLayoutVersion;
  info->n = w.n;
  info->k = w.k;
  info->group_size = w.groupSize;
  info->num_groups = w.numGroups;
  info->n_padded = w.nPadded;
  info->k_group_padded = w.groupKPadded;
  info->total_size = geometryOf(w).total;
  return ok();
}

respin_rt_status respin_rt_unpack_weights(const void *packed, size_t size,
                                          int8_t *q, int64_t q_stride,
                                          float *scales) {
  PackedView w;
  if (respin_rt_status s = makePackedView(packed, size, w))
    return s;
  if (q && q_stride < w.k)
    return fail(RESPIN_RT_ERR_INVALID_ARGUMENT,
                "unpack_weights: q_stride %" PRId64 " < k %" PRId64, q_stride,
                w.k);
  for (int64_t r = 0; r < w.n; ++r) {
    if (q)
      for (int64_t c = 0; c < w.k; ++c)
        q[r * q_stride + c] = (int8_t)decodeWeight(w, r, c);
    if (scales)
      for (int64_t j = 0; j < w.numGroups; ++j)
        scales[r * w.numGroups + j] = w.scales[j * w.nPadded + r];
  }
  return ok();
}

} // extern "C"
