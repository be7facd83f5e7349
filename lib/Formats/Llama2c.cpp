//===- Llama2c.cpp - llama2.c "v0" checkpoint reader ----------------------===//
//
// The llama2.c layout has no per-tensor headers: seven int32 fields imply the
// size and position of every tensor. The reader therefore insists that the
// file size matches the header exactly, and slices the stacked [L, ...]
// arrays into per-layer TensorViews without copying.
//
// The tokenizer reader (loadLlama2cTokenizer) lives in Llama2cTokenizer.cpp.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/Llama2c.h"
#include "respin/Formats/InputFile.h"
#include "FormatSupport.h"
#include "respin/Formats/SentencePieceModel.h"

#include "llvm/Support/Endian.h"

using namespace respin;

namespace {
/// The seven int32 header fields, in file order.
struct Header {
  int32_t dim, hiddenDim, numLayers, numHeads, numKVHeads, vocabSize, seqLen;
};

/// Walks the float32 tensor section in file order, handing out views.
class TensorCursor {
public:
  TensorCursor(const uint8_t *data) : next(data) {}

  /// Takes the next [count, rows, cols] stacked array and names slice i
  /// with `nameOf(i)`; cols == 0 means the slices are vectors [rows].
  template <typename NameFn>
  void takeStacked(int64_t count, int64_t rows, int64_t cols, NameFn nameOf,
                   std::map<std::string, TensorView> &out) {
    std::vector<int64_t> shape = cols == 0 ? std::vector<int64_t>{rows}
                                           : std::vector<int64_t>{rows, cols};
    size_t sliceBytes = size_t(rows) * size_t(cols == 0 ? 1 : cols) * 4;
    for (int64_t i = 0; i < count; ++i) {
      TensorView view;
      view.name = nameOf(i);
      view.dtype = DType::F32;
      view.shape = shape;
      view.data = next;
      view.numBytes = sliceBytes;
      next += sliceBytes;
      out.emplace(view.name, std::move(view));
    }
  }
  void skip(size_t bytes) { next += bytes; }

private:
  const uint8_t *next;
};
} // namespace

static constexpr uint64_t kHeaderBytes = 7 * 4;

/// Checks the header fields and derives the model configuration.
static llvm::Expected<ModelConfig> configFromHeader(llvm::StringRef path,
                                                    const Header &h) {
  const std::pair<const char *, int32_t> positive[] = {
      {"dim", h.dim},
      {"hidden_dim", h.hiddenDim},
      {"n_layers", h.numLayers},
      {"n_heads", h.numHeads},
      {"n_kv_heads", h.numKVHeads},
      {"seq_len", h.seqLen}};
  for (const auto &[field, value] : positive)
    if (value <= 0)
      return makeError(path + ": header field " + field + " = " +
                       llvm::Twine(value) + " must be positive");
  if (h.vocabSize == 0 || h.vocabSize == INT32_MIN)
    return makeError(path + ": header field vocab_size = " +
                     llvm::Twine(h.vocabSize) + " is invalid");
  if (h.dim % h.numHeads != 0)
    return makeError(
        path + ": header field dim = " + llvm::Twine(h.dim) +
        " is not a multiple of n_heads = " + llvm::Twine(h.numHeads));
  ModelConfig config;
  config.architecture = "llama";
  config.hiddenSize = h.dim;
  config.intermediateSize = h.hiddenDim;
  config.numLayers = h.numLayers;
  config.numHeads = h.numHeads;
  config.numKVHeads = h.numKVHeads;
  config.headDim = h.dim / h.numHeads;
  config.vocabSize = h.vocabSize < 0 ? -int64_t(h.vocabSize) : h.vocabSize;
  config.maxPositions = h.seqLen;
  config.ropeTheta = 10000.0;
  config.rotaryDim = config.headDim;
  config.ropeLayout = RopeLayout::Interleaved;
  config.rmsNormEps = 1e-5;
  // A positive vocab_size means the classifier is the embedding.
  config.tiedEmbeddings = h.vocabSize > 0;
  config.attentionBias = false;
  if (auto err = config.validate(path))
    return std::move(err);
  return config;
}

/// Bytes the header implies. Computed in 128 bits: config.validate() bounds
/// each dimension by 2^24 and layers by 4096, so nothing can wrap, even for
/// absurd headers whose implied size exceeds 2^64.
static unsigned __int128 expectedFileSize(const ModelConfig &c) {
  using U128 = unsigned __int128;
  U128 dim = c.hiddenSize, hidden = c.intermediateSize, layers = c.numLayers,
       vocab = c.vocabSize, kvDim = U128(c.numKVHeads) * c.headDim,
       seq = c.maxPositions;
  U128 perLayer = 2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * hidden * dim;
  U128 floats = vocab * dim + layers * perLayer + dim +
                seq * U128(c.headDim); // freq_cis_real + imag
  if (!c.tiedEmbeddings)
    floats += vocab * dim;
  return kHeaderBytes + floats * 4;
}

/// Decimal text of a 128-bit size, for the size-mismatch diagnostic.
static std::string toString(unsigned __int128 value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), char('0' + int(value % 10)));
    value /= 10;
  } while (value != 0);
  return digits;
}

static Header readHeader(const uint8_t *bytes) {
  int32_t fields[7];
  for (int i = 0; i < 7; ++i)
    fields[i] = llvm::support::endian::read32le(bytes + 4 * i);
  return Header{fields[0], fields[1], fields[2], fields[3],
                fields[4], fields[5], fields[6]};
}

/// Creates the canonical TensorViews over the mapped tensor section.
static void sliceTensors(const ModelConfig &c, const uint8_t *data,
                         std::map<std::string, TensorView> &out) {
  int64_t dim = c.hiddenSize, hidden = c.intermediateSize, layers = c.numLayers,
          kvDim = c.numKVHeads * c.headDim;
  auto layerName = [](const char *suffix) {
    return [suffix](int64_t l) { return names::layer(l, suffix); };
  };
  auto fixed = [](std::string name) {
    return [name](int64_t) { return name; };
  };
  TensorCursor cursor(data);
  cursor.takeStacked(1, c.vocabSize, dim, fixed(names::embedTokens()), out);
  cursor.takeStacked(layers, dim, 0, layerName("input_layernorm.weight"), out);
  cursor.takeStacked(layers, dim, dim, layerName("self_attn.q_proj.weight"),
                     out);
  cursor.takeStacked(layers, kvDim, dim, layerName("self_attn.k_proj.weight"),
                     out);
  cursor.takeStacked(layers, kvDim, dim, layerName("self_attn.v_proj.weight"),
                     out);
  cursor.takeStacked(layers, dim, dim, layerName("self_attn.o_proj.weight"),
                     out);
  cursor.takeStacked(layers, dim, 0,
                     layerName("post_attention_layernorm.weight"), out);
  // llama2.c: w1 = gate, w2 = down, w3 = up.
  cursor.takeStacked(layers, hidden, dim, layerName("mlp.gate_proj.weight"),
                     out);
  cursor.takeStacked(layers, dim, hidden, layerName("mlp.down_proj.weight"),
                     out);
  cursor.takeStacked(layers, hidden, dim, layerName("mlp.up_proj.weight"), out);
  cursor.takeStacked(1, dim, 0, fixed(names::finalNorm()), out);
  // The precomputed RoPE tables are not used: RoPE is computed from config.
  cursor.skip(size_t(c.maxPositions) * size_t(c.headDim) * 4);
  if (!c.tiedEmbeddings)
    cursor.takeStacked(1, c.vocabSize, dim, fixed(names::lmHead()), out);
}

llvm::Expected<Checkpoint>
respin::loadLlama2cCheckpoint(llvm::StringRef path,
                              llvm::StringRef tokenizerPath) {
  auto bufferOrErr = readInputFile(path);
  if (!bufferOrErr)
    return bufferOrErr.takeError();
  std::unique_ptr<llvm::MemoryBuffer> buffer = std::move(*bufferOrErr);
  const auto *bytes =
      reinterpret_cast<const uint8_t *>(buffer->getBufferStart());
  uint64_t fileSize = buffer->getBufferSize();
  if (fileSize < kHeaderBytes)
    return makeError(path + ": file of " + llvm::Twine(fileSize) +
                     " bytes is too small for the 28-byte llama2.c header");
  Header header = readHeader(bytes);
  auto config = configFromHeader(path, header);
  if (!config)
    return config.takeError();
  unsigned __int128 expected = expectedFileSize(*config);
  if (fileSize != expected)
    return makeError(path + ": file is " + llvm::Twine(fileSize) +
                     " bytes but its header " + "(dim " +
                     llvm::Twine(header.dim) + ", hidden_dim " +
                     llvm::Twine(header.hiddenDim) + ", n_layers " +
                     llvm::Twine(header.numLayers) + ", n_heads " +
                     llvm::Twine(header.numHeads) + ", n_kv_heads " +
                     llvm::Twine(header.numKVHeads) + ", vocab_size " +
                     llvm::Twine(header.vocabSize) + ", seq_len " +
                     llvm::Twine(header.seqLen) + ") implies " +
                     toString(expected) + " bytes");

  Checkpoint checkpoint;
  checkpoint.source = path.str();
  checkpoint.config = *config;
  sliceTensors(*config, bytes + kHeaderBytes, checkpoint.tensors);
  checkpoint.mappedFiles.push_back(std::move(buffer));

  if (!tokenizerPath.empty()) {
    // A SentencePiece tokenizer.model serves as well as tokenizer.bin.
    auto tokenizer =
        tokenizerPath.ends_with(".model")
            ? loadSentencePieceModel(tokenizerPath)
            : loadLlama2cTokenizer(tokenizerPath, config->vocabSize);
    if (!tokenizer)
      return tokenizer.takeError();
    if (int64_t(tokenizer->tokens.size()) != config->vocabSize)
      return makeError(tokenizerPath + ": the tokenizer has " +
                       llvm::Twine(tokenizer->tokens.size()) +
                       " tokens but the model's vocabulary has " +
                       llvm::Twine(config->vocabSize));
    checkpoint.tokenizer = std::move(*tokenizer);
  }
  if (auto err = checkpoint.validate(path))
    return std::move(err);
  return std::move(checkpoint);
}
