//===- FormatsTest.cpp - Tensor helpers and safetensors tests -------------===//
//
// dtype helpers, exact F16/BF16 conversions on known bit patterns, checked
// element counts, and the safetensors reader/writer on valid and malformed
// files.
//
//===----------------------------------------------------------------------===//

#include "FormatsTestUtil.h"

#include "respin/Formats/Safetensors.h"

#include <cmath>
#include <filesystem>
#include <limits>

using namespace respin;
using namespace respin::test;

//===----------------------------------------------------------------------===//
// Tensor helpers
//===----------------------------------------------------------------------===//

TEST(Tensor, DTypeNamesAndSizes) {
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::F16), 2u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::I8), 1u);
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::F64,
                      DType::I8})
    EXPECT_EQ(parseDTypeName(dtypeName(dtype)), dtype);
  EXPECT_EQ(parseDTypeName("I16"), std::nullopt);
  EXPECT_EQ(parseDTypeName("f32"), std::nullopt);
  EXPECT_EQ(formatShape({3, 4, 5}), "[3, 4, 5]");
  EXPECT_EQ(formatShape({}), "[]");
}

TEST(Tensor, HalfToFloatKnownBits) {
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14)); // smallest normal
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
  EXPECT_EQ(halfToFloat(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(halfToFloat(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
  EXPECT_EQ(halfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(halfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01)));
}

TEST(Tensor, FloatToHalfRoundsToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65519.0f), 0x7bff); // below the rounding midpoint
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // midpoint rounds up to Inf
  EXPECT_EQ(floatToHalf(1e6f), 0x7c00);
  EXPECT_EQ(floatToHalf(0.1f), 0x2e66);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to even.
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  // Subnormals.
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000); // tie to even (0)
  EXPECT_EQ(floatToHalf(std::ldexp(3.0f, -25)), 0x0002); // tie to even (2)
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(floatToHalf(std::ldexp(1023.5f, -24)), 0x0400); // carries to normal
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::infinity()), 0x7c00);
  uint16_t nan = floatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x03ff, 0);
}

TEST(Tensor, HalfRoundTripsEveryNonNaNPattern) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = halfToFloat((uint16_t)bits);
    if (std::isnan(value))
      continue;
    ASSERT_EQ(floatToHalf(value), bits) << "bits 0x" << std::hex << bits;
  }
}

TEST(Tensor, BFloat16KnownBits) {
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(bfloat16ToFloat(0xc040), -3.0f);
  EXPECT_EQ(bfloat16ToFloat(0x4049), 3.140625f);
  EXPECT_EQ(floatToBFloat16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBFloat16(3.14159265f), 0x4049);
  // 1 + 2^-8 is a tie between 0x3f80 and 0x3f81: goes to even 0x3f80.
  EXPECT_EQ(floatToBFloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(floatToBFloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(floatToBFloat16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(
      floatToBFloat16(std::numeric_limits<float>::quiet_NaN()))));
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = bfloat16ToFloat((uint16_t)bits);
    if (std::isnan(value))
      continue;
    ASSERT_EQ(floatToBFloat16(value), bits) << "bits 0x" << std::hex << bits;
  }
}

TEST(Tensor, CheckedNumElements) {
  auto ok = checkedNumElements({2, 3, 4}, 4, "t");
  ASSERT_TRUE(!!ok);
  EXPECT_EQ(*ok, 24);
  auto scalar = checkedNumElements({}, 4, "t");
  ASSERT_TRUE(!!scalar);
  EXPECT_EQ(*scalar, 1);
  expectError(checkedNumElements({int64_t(1) << 32, int64_t(1) << 32}, 4,
                                 "file: tensor 'big'"),
              {"file: tensor 'big'", "overflows"});
  expectError(checkedNumElements({int64_t(1) << 61}, 4, "x"),
              {"x", "2^62 bytes"});
  expectError(checkedNumElements({3, -1}, 4, "neg"),
              {"neg", "negative dimension", "[3, -1]"});
}

TEST(Tensor, FloatConversionsAndFiniteCheck) {
  std::vector<uint16_t> half = {0x3c00, 0xc000, 0x7e00};
  TensorView view{
      "h", DType::F16, {3}, reinterpret_cast<const uint8_t *>(half.data()), 6};
  std::vector<float> values = view.toFloat32();
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(view.firstNonFinite(), std::optional<int64_t>(2));
  expectError(view.toFiniteFloat32(), {"'h'", "element 2", "NaN"});

  std::vector<uint16_t> bf = {0x3f80, 0x4049};
  TensorView bview{
      "b", DType::BF16, {2}, reinterpret_cast<const uint8_t *>(bf.data()), 4};
  auto finite = bview.toFiniteFloat32();
  ASSERT_TRUE(!!finite);
  EXPECT_EQ((*finite)[1], 3.140625f);
  EXPECT_EQ(bview.firstNonFinite(), std::nullopt);
}

//===----------------------------------------------------------------------===//
// Safetensors
//===----------------------------------------------------------------------===//

namespace {
std::vector<uint8_t> toBytes(const std::string &text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}
} // namespace

TEST(Safetensors, WriteReadRoundTripAllDTypes) {
  TempDir dir;
  std::vector<float> f32 = {1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, 7.0f};
  std::vector<uint16_t> f16 = {floatToHalf(0.5f), floatToHalf(-1.0f),
                               floatToHalf(2.0f)};
  std::vector<uint16_t> bf16 = {floatToBFloat16(1.0f),
                                floatToBFloat16(-0.125f)};
  SafetensorsWriter writer;
  writer.setMetadata("note", "hello");
  writer.setMetadata("format", "pt");
  writer.addTensor("w.f32", DType::F32, {2, 3},
                   llvm::ArrayRef<uint8_t>(
                       reinterpret_cast<const uint8_t *>(f32.data()), 24));
  writer.addTensor(
      "w.f16", DType::F16, {3},
      toBytes(std::string(reinterpret_cast<char *>(f16.data()), 6)));
  writer.addTensor(
      "a.bf16", DType::BF16, {1, 2},
      toBytes(std::string(reinterpret_cast<char *>(bf16.data()), 4)));
  std::string path = dir.file("x.safetensors");
  ASSERT_FALSE(errorText(writer.write(path)).size());

  // The data section starts 8-byte aligned.
  std::string raw = readFile(path);
  uint64_t headerLength;
  std::memcpy(&headerLength, raw.data(), 8);
  EXPECT_EQ((8 + headerLength) % 8, 0u);

  RESPIN_ASSERT_OK_AND_ASSIGN(file, SafetensorsFile::open(path));
  EXPECT_EQ(file->metadata().at("note"), "hello");
  EXPECT_EQ(file->metadata().at("format"), "pt");
  ASSERT_EQ(file->tensors().size(), 3u);
  // File order is data order: the order tensors were added.
  EXPECT_EQ(file->tensors()[0].name, "w.f32");
  EXPECT_EQ(file->tensors()[2].name, "a.bf16");

  const TensorView *a = file->lookup("w.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->toFloat32(), f32);
  const TensorView *b = file->lookup("w.f16");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::F16);
  EXPECT_EQ(b->toFloat32(), (std::vector<float>{0.5f, -1.0f, 2.0f}));
  const TensorView *c = file->lookup("a.bf16");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::BF16);
  EXPECT_EQ(c->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(c->toFloat32(), (std::vector<float>{1.0f, -0.125f}));
  EXPECT_EQ(file->lookup("missing"), nullptr);

  // Only the final file remains: the temporary was renamed.
  EXPECT_EQ(dir.list(), std::vector<std::string>{"x.safetensors"});
}

TEST(Safetensors, WriterIsDeterministic) {
  TempDir dir;
  std::vector<float> v = {1, 2, 3, 4};
  auto make = [&](const std::string &path) {
    SafetensorsWriter writer;
    writer.setMetadata("b", "2");
    writer.setMetadata("a", "1");
    writer.addTensor("z", DType::F32, {4}, toBytes(floatBytes(v)));
    writer.addTensor("y", DType::F32, {2, 2}, toBytes(floatBytes(v)));
    return writer.write(path);
  };
  ASSERT_FALSE(errorText(make(dir.file("1.safetensors"))).size());
  ASSERT_FALSE(errorText(make(dir.file("2.safetensors"))).size());
  EXPECT_EQ(readFile(dir.file("1.safetensors")),
            readFile(dir.file("2.safetensors")));
  // Header keys are sorted: "__metadata__" < "y" < "z" in byte order.
  std::string raw = readFile(dir.file("1.safetensors"));
  EXPECT_LT(raw.find("__metadata__"), raw.find("\"y\""));
  EXPECT_LT(raw.find("\"y\""), raw.find("\"z\""));
}

TEST(Safetensors, FailedWriteLeavesPreviousFileUntouched) {
  TempDir dir;
  std::string path = dir.file("keep.safetensors");
  writeFile(path, "previous contents");
  SafetensorsWriter writer;
  std::vector<float> v = {1, 2, 3};
  writer.addTensor("t", DType::F32, {2, 2}, toBytes(floatBytes(v)));
  expectError(writer.write(path), {"keep.safetensors", "tensor 't'",
                                   "12 bytes given", "[2, 2]", "16"});
  EXPECT_EQ(readFile(path), "previous contents");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"keep.safetensors"});

  SafetensorsWriter duplicate;
  duplicate.addTensor("t", DType::F32, {3}, toBytes(floatBytes(v)));
  duplicate.addTensor("t", DType::F32, {3}, toBytes(floatBytes(v)));
  expectError(duplicate.write(path), {"tensor 't'", "added twice"});
  EXPECT_EQ(readFile(path), "previous contents");

  SafetensorsWriter ok;
  ok.addTensor("t", DType::F32, {3}, toBytes(floatBytes(v)));
  expectError(ok.write(dir.file("no/such/dir/x.safetensors")),
              {"no/such/dir/x.safetensors", "temporary file"});
}

TEST(Safetensors, ZeroSizedTensorsAndEmptyFile) {
  TempDir dir;
  std::string path = dir.file("e.safetensors");
  SafetensorsWriter writer;
  writer.addTensor("empty", DType::F16, {0, 5}, std::vector<uint8_t>());
  ASSERT_FALSE(errorText(writer.write(path)).size());
  RESPIN_ASSERT_OK_AND_ASSIGN(file, SafetensorsFile::open(path));
  ASSERT_EQ(file->tensors().size(), 1u);
  EXPECT_EQ(file->tensors()[0].numBytes, 0u);
}

namespace {
/// Writes a safetensors file with `header` and `data`, then opens it.
llvm::Expected<std::unique_ptr<SafetensorsFile>>
openRaw(const TempDir &dir, llvm::StringRef header, llvm::StringRef data,
        const std::string &name = "bad.safetensors") {
  writeFile(dir.file(name), safetensorsBytes(header, data));
  return SafetensorsFile::open(dir.file(name));
}
} // namespace

TEST(SafetensorsMalformed, FileTooSmallAndMissing) {
  TempDir dir;
  writeFile(dir.file("tiny.safetensors"), "abc");
  expectError(SafetensorsFile::open(dir.file("tiny.safetensors")),
              {"tiny.safetensors", "too small"});
  expectError(SafetensorsFile::open(dir.file("absent.safetensors")),
              {"absent.safetensors", "cannot open"});
}

TEST(SafetensorsMalformed, HeaderLengthPastEOF) {
  TempDir dir;
  std::string path = dir.file("h.safetensors");
  writeFile(path, Bytes().u64(1000).raw("{}").text);
  expectError(SafetensorsFile::open(path),
              {"h.safetensors", "header length 1000", "past the end"});
  // A length so large that 8 + N wraps around.
  writeFile(path, Bytes().u64(~0ull).raw("{}").text);
  expectError(SafetensorsFile::open(path), {"h.safetensors", "past the end"});
}

TEST(SafetensorsMalformed, HugeHeaderIsRefusedBeforeParsing) {
  TempDir dir;
  std::string path = dir.file("huge.safetensors");
  writeFile(path, Bytes().u64(100'000'001).raw("{").text);
  // Sparse: the file is large without writing 100 MB.
  std::filesystem::resize_file(path, 100'000'100);
  expectError(
      SafetensorsFile::open(path),
      {"huge.safetensors", "header length 100000001", "exceeds the limit"});
}

TEST(SafetensorsMalformed, BadJsonAndUtf8) {
  TempDir dir;
  expectError(openRaw(dir, "{\"a\": ", ""),
              {"bad.safetensors", "not valid JSON"});
  expectError(openRaw(dir, "[1, 2]", ""),
              {"bad.safetensors", "must be a JSON object"});
  expectError(openRaw(dir, "{\"\xff\xfe\": 1}", ""),
              {"bad.safetensors", "not valid UTF-8"});
  expectError(openRaw(dir, "", ""), {"bad.safetensors", "not valid JSON"});
}

// Quantized weight codes are stored as I8; an odd byte count
// must not disturb the tensors written after it.
TEST(Safetensors, Int8CodesRoundTrip) {
  TempDir dir;
  std::vector<int8_t> codes = {-8, 7, 0, -1, 127, -128, 3};
  std::vector<float> after = {0.25f, -4.0f};
  SafetensorsWriter writer;
  writer.addTensor("q.codes", DType::I8, {7},
                   llvm::ArrayRef<uint8_t>(
                       reinterpret_cast<const uint8_t *>(codes.data()), 7));
  writer.addTensor("q.scales", DType::F32, {2}, toBytes(floatBytes(after)));
  std::string path = dir.file("q.safetensors");
  ASSERT_FALSE(errorText(writer.write(path)).size());
  RESPIN_ASSERT_OK_AND_ASSIGN(file, SafetensorsFile::open(path));
  const TensorView *q = file->lookup("q.codes");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->dtype, DType::I8);
  EXPECT_EQ(q->numBytes, 7u);
  EXPECT_EQ(q->toFloat64(),
            (std::vector<double>{-8, 7, 0, -1, 127, -128, 3}));
  EXPECT_FALSE(q->firstNonFinite().has_value());
  ASSERT_NE(file->lookup("q.scales"), nullptr);
  EXPECT_EQ(file->lookup("q.scales")->toFloat32(), after);
  // A declared I8 shape that disagrees with the byte range is refused.
  expectError(openRaw(dir,
                      R"({"t": {"dtype": "I8", "shape": [4], )"
                      R"("data_offsets": [0, 5]}})",
                      std::string(5, '\0')),
              {"bad.safetensors", "tensor 't'"});
}

TEST(SafetensorsMalformed, EntryFields) {
  TempDir dir;
  std::string data(16, '\0');
  expectError(
      openRaw(
          dir,
          R"({"t": {"dtype": "I16", "shape": [8], "data_offsets": [0, 16]}})",
          data),
      {"bad.safetensors", "tensor 't'", "unsupported dtype I16"});
  expectError(
      openRaw(dir, R"({"t": {"shape": [4], "data_offsets": [0, 16]}})", data),
      {"tensor 't'", "missing field 'dtype'"});
  expectError(
      openRaw(
          dir,
          R"({"t": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}})",
          data),
      {"tensor 't'", "'shape' entry -4"});
  expectError(
      openRaw(
          dir,
          R"({"t": {"dtype": "F32", "shape": [4.5], "data_offsets": [0, 16]}})",
          data),
      {"tensor 't'", "'shape' entry 4.5"});
  expectError(
      openRaw(dir,
              R"({"t": {"dtype": "F32", "shape": 4, "data_offsets": [0, 16]}})",
              data),
      {"tensor 't'", "'shape' must be an array"});
  expectError(
      openRaw(
          dir,
          R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}})",
          data),
      {"tensor 't'", "begin > end"});
  expectError(
      openRaw(dir,
              R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0]}})",
              data),
      {"tensor 't'", "'data_offsets' must be an array [begin, end]"});
  expectError(openRaw(dir, R"({"t": 3})", data),
              {"tensor 't'", "must be a JSON object"});
  expectError(
      openRaw(dir, R"({"__metadata__": {"k": 1}})", data),
      {"bad.safetensors", "'__metadata__' key 'k'", "must map to a string"});
}

TEST(SafetensorsMalformed, OffsetsOutsideData) {
  TempDir dir;
  std::string data(16, '\0');
  expectError(
      openRaw(
          dir,
          R"({"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}})",
          data),
      {"bad.safetensors", "tensor 'w'", "data range [0, 32)",
       "outside the data section of 16 bytes"});
  expectError(
      openRaw(
          dir,
          R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [18446744073709551612, 18446744073709551615]}})",
          data),
      {"tensor 'w'", "non-negative integers"});
}

TEST(SafetensorsMalformed, ByteSizeMismatch) {
  TempDir dir;
  std::string data(16, '\0');
  expectError(
      openRaw(
          dir,
          R"({"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 16]}})",
          data),
      {"tensor 'w'", "holds 16 bytes", "[2, 2]", "F16", "needs 8"});
}

TEST(SafetensorsMalformed, OverlappingTensors) {
  TempDir dir;
  std::string data(16, '\0');
  expectError(
      openRaw(dir,
              R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                          "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
              data),
      {"bad.safetensors", "tensor 'b'", "overlaps tensor 'a'"});
  // Adjacent tensors do not overlap.
  auto ok =
      openRaw(dir,
              R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
              data);
  ASSERT_TRUE(!!ok) << llvm::toString(ok.takeError());
}

TEST(SafetensorsMalformed, DuplicateTensorName) {
  TempDir dir;
  std::string data(16, '\0');
  expectError(
      openRaw(dir,
              R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                          "a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
              data),
      {"bad.safetensors", "header names 'a' twice"});
  // Keys of nested objects may repeat across objects.
  auto ok =
      openRaw(dir,
              R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
              data);
  ASSERT_TRUE(!!ok) << llvm::toString(ok.takeError());
}

TEST(SafetensorsMalformed, AbsurdDimsOverflow) {
  TempDir dir;
  expectError(
      openRaw(
          dir,
          R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 16], "data_offsets": [0, 0]}})",
          ""),
      {"bad.safetensors", "tensor 'w'", "overflows"});
  expectError(
      openRaw(
          dir,
          R"({"w": {"dtype": "F32", "shape": [9223372036854775808], "data_offsets": [0, 0]}})",
          ""),
      {"tensor 'w'", "not a non-negative 64-bit integer"});
}

TEST(SafetensorsMalformed, RandomCorruptionNeverCrashes) {
  TempDir dir;
  std::vector<float> values = syntheticValues(24, 1);
  SafetensorsWriter writer;
  writer.setMetadata("k", "v");
  writer.addTensor("a", DType::F32, {2, 3},
                   toBytes(floatBytes(values).substr(0, 24)));
  writer.addTensor("b", DType::BF16, {4, 2},
                   toBytes(floatBytes(values).substr(24, 16)));
  writer.addTensor("c", DType::F16, {9}, toBytes(std::string(18, '\x3c')));
  std::string path = dir.file("base.safetensors");
  ASSERT_FALSE(errorText(writer.write(path)).size());
  std::string base = readFile(path);
  ASSERT_TRUE(!!SafetensorsFile::open(path));

  Rng rng(42);
  int failures = 0;
  for (int i = 0; i < 2000; ++i) {
    writeFile(path, corrupt(base, rng, 8 + 200));
    auto file = SafetensorsFile::open(path);
    if (!file) {
      std::string message = llvm::toString(file.takeError());
      EXPECT_NE(message.find("base.safetensors"), std::string::npos) << message;
      ++failures;
      continue;
    }
    // Whatever was accepted must be consistent and inside the mapping.
    std::unique_ptr<llvm::MemoryBuffer> buffer = (*file)->takeBuffer();
    const auto *begin =
        reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
    for (const TensorView &t : (*file)->tensors()) {
      ASSERT_GE(t.data, begin);
      ASSERT_LE(t.data + t.numBytes, begin + buffer->getBufferSize());
      auto count = checkedNumElements(t.shape, dtypeSize(t.dtype), t.name);
      ASSERT_TRUE(!!count);
      EXPECT_EQ(t.numBytes, (size_t)*count * dtypeSize(t.dtype));
      (void)t.toFloat32(); // touches every byte (checked by sanitizers)
    }
  }
  EXPECT_GT(failures, 500);
}
