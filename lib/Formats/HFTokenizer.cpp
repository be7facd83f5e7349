//===- HFTokenizer.cpp - Hugging Face tokenizer.json reader ---------------===//
//
// Reads the SentencePiece-BPE tokenizers of Llama-2, Mistral and TinyLlama
// (Metaspace pre-tokenizer or Prepend/Replace normalizer, byte fallback) and
// the byte-level BPE tokenizers of Llama-3, Qwen2 and SmolLM/GPT-2 from
// tokenizer.json: model.vocab, model.merges (either "a b" strings or
// ["a", "b"] pairs), added_tokens, the pre-tokenizer (recognised from its
// exact Split regex, or ByteLevel's built-in GPT-2 regex) and BOS handling
// from the post-processor template.
//
// Not modelled: normalizers (none of these families uses one), the
// lstrip/rstrip/single_word flags of added tokens, and ByteLevel's
// add_prefix_space (false in all of them).
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/HFCheckpoint.h"
#include "JsonSupport.h"
#include "respin/Formats/InputFile.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <nlohmann/json.hpp>

#include <map>

using namespace respin;
using json = nlohmann::json;

namespace {

/// The Split regexes of the supported families, as tokenizer.json spells
/// them (after JSON unescaping).
constexpr const char *kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char *kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char *kGPT2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

/// Ids are dense indices into the token table; this bounds its size.
constexpr int64_t kMaxVocabSize = int64_t(1) << 24;

llvm::Error fieldError(llvm::StringRef path, llvm::StringRef field,
                       const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "%s: field '%s': %s", path.str().c_str(),
                                 field.str().c_str(), what.str().c_str());
}

/// Reads a token id: a whole number in [0, kMaxVocabSize).
std::optional<int32_t> asTokenId(const json &value) {
  if (!value.is_number_integer())
    return std::nullopt;
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    return v < (uint64_t)kMaxVocabSize ? std::optional<int32_t>((int32_t)v)
                                       : std::nullopt;
  }
  int64_t v = value.get<int64_t>();
  return v >= 0 && v < kMaxVocabSize ? std::optional<int32_t>((int32_t)v)
                                     : std::nullopt;
}

/// Finds the pre-tokenizer name for a tokenizer.json "pre_tokenizer" value.
llvm::Expected<std::string> detectPreTokenizer(const json &pre,
                                               llvm::StringRef path) {
  if (!pre.is_object() || !pre.contains("type") || !pre["type"].is_string())
    return fieldError(path, "pre_tokenizer",
                      "missing or not an object with a \"type\"");
  std::vector<const json *> steps;
  if (pre["type"] == "Sequence") {
    auto it = pre.find("pretokenizers");
    if (it == pre.end() || !it->is_array())
      return fieldError(path, "pre_tokenizer.pretokenizers",
                        "missing or not an array");
    for (const json &step : *it)
      steps.push_back(&step);
  } else {
    steps.push_back(&pre);
  }

  std::string regexName;
  bool byteLevel = false, byteLevelRegex = false, individualDigits = false;
  for (const json *step : steps) {
    if (!step->is_object() || !step->contains("type") ||
        !(*step)["type"].is_string())
      return fieldError(path, "pre_tokenizer", "step without a \"type\"");
    const std::string &type = (*step)["type"].get_ref<const std::string &>();
    if (type == "ByteLevel") {
      byteLevel = true;
      auto useRegex = step->find("use_regex");
      byteLevelRegex = useRegex == step->end() ||
                       (useRegex->is_boolean() && useRegex->get<bool>());
    } else if (type == "Split") {
      const json *regex = nullptr;
      if (auto pattern = step->find("pattern");
          pattern != step->end() && pattern->is_object())
        if (auto r = pattern->find("Regex"); r != pattern->end())
          regex = &*r;
      if (!regex || !regex->is_string())
        return fieldError(path, "pre_tokenizer.pattern.Regex",
                          "missing or not a string");
      const std::string &text = regex->get_ref<const std::string &>();
      if (text == kLlama3Regex)
        regexName = "llama3";
      else if (text == kQwen2Regex)
        regexName = "qwen2";
      else if (text == kGPT2Regex)
        regexName = "gpt2";
      else
        return fieldError(path, "pre_tokenizer.pattern.Regex",
                          "unsupported split regex '" + text + "'");
    } else if (type == "Digits") {
      auto individual = step->find("individual_digits");
      individualDigits = individual != step->end() &&
                         individual->is_boolean() && individual->get<bool>();
      if (!individualDigits)
        return fieldError(path, "pre_tokenizer",
                          "Digits without individual_digits is unsupported");
    } else {
      return fieldError(path, "pre_tokenizer",
                        "unsupported pre-tokenizer step '" + type + "'");
    }
  }
  if (!byteLevel)
    return fieldError(path, "pre_tokenizer",
                      "no ByteLevel step (only byte-level BPE is supported)");
  if (!regexName.empty() && !byteLevelRegex && !individualDigits)
    return regexName;
  if (regexName.empty() && byteLevelRegex)
    return std::string(individualDigits ? "smollm" : "gpt2");
  return fieldError(path, "pre_tokenizer",
                    "unsupported combination of Split, Digits and ByteLevel "
                    "steps");
}

/// The content of the special token that the post-processor puts before a
/// single sequence, if any ("<|begin_of_text|>" for Llama-3).
std::optional<std::string> leadingTemplateToken(const json &post) {
  if (!post.is_object())
    return std::nullopt;
  auto type = post.find("type");
  if (type == post.end() || !type->is_string())
    return std::nullopt;
  if (*type == "Sequence") {
    auto processors = post.find("processors");
    if (processors == post.end() || !processors->is_array())
      return std::nullopt;
    for (const json &p : *processors)
      if (auto token = leadingTemplateToken(p))
        return token;
    return std::nullopt;
  }
  if (*type != "TemplateProcessing")
    return std::nullopt;
  auto single = post.find("single");
  if (single == post.end() || !single->is_array() || single->empty())
    return std::nullopt;
  const json &first = single->front();
  if (!first.is_object() || !first.contains("SpecialToken"))
    return std::nullopt;
  const json &special = first["SpecialToken"];
  if (!special.is_object() || !special.contains("id") ||
      !special["id"].is_string())
    return std::nullopt;
  return special["id"].get<std::string>();
}

/// A merge as the "a b" string TokenizerData stores.
llvm::Expected<std::string> readMerge(const json &merge, size_t index,
                                      llvm::StringRef path) {
  std::string field = "model.merges[" + std::to_string(index) + "]";
  if (merge.is_string())
    return merge.get<std::string>();
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
      merge[1].is_string()) {
    const std::string &a = merge[0].get_ref<const std::string &>();
    const std::string &b = merge[1].get_ref<const std::string &>();
    if (a.find(' ') != std::string::npos || b.find(' ') != std::string::npos)
      return fieldError(path, field,
                        "tokens containing spaces are unsupported");
    return a + " " + b;
  }
  return fieldError(path, field,
                    "expected \"a b\" or a pair of strings [\"a\", \"b\"]");
}

/// SentencePiece spells the space as U+2581 LOWER ONE EIGHTH BLOCK.
constexpr const char *kSpaceMark = "\xE2\x96\x81";

bool hasType(const json &value, const char *type) {
  return value.is_object() && value.contains("type") &&
         value["type"].is_string() && value["type"] == type;
}

/// The steps of a Sequence (or the value itself).
std::vector<const json *> stepsOf(const json &value, const char *key) {
  std::vector<const json *> steps;
  if (hasType(value, "Sequence") && value.contains(key) &&
      value[key].is_array()) {
    for (const json &step : value[key])
      steps.push_back(&step);
  } else if (value.is_object()) {
    steps.push_back(&value);
  }
  return steps;
}

/// Whether a tokenizer.json is of the SentencePiece-BPE family (Llama-2,
/// Mistral, TinyLlama): byte fallback, a Metaspace pre-tokenizer, or the
/// Prepend/Replace-U+2581 normalizer of converted Llama tokenizers.
bool isSentencePieceFamily(const json &root, const json &model) {
  if (auto fallback = model.find("byte_fallback"); fallback != model.end() &&
                                                   fallback->is_boolean() &&
                                                   fallback->get<bool>())
    return true;
  if (auto pre = root.find("pre_tokenizer"); pre != root.end())
    for (const json *step : stepsOf(*pre, "pretokenizers"))
      if (hasType(*step, "Metaspace"))
        return true;
  if (auto normalizer = root.find("normalizer"); normalizer != root.end())
    for (const json *step : stepsOf(*normalizer, "normalizers"))
      if (hasType(*step, "Prepend") || hasType(*step, "Replace"))
        return true;
  return false;
}

/// Whether the text gets the U+2581 dummy prefix, and that spaces become
/// U+2581 at all: from Metaspace (add_prefix_space, or prepend_scheme
/// "always"/"first" vs "never") or from a Prepend + Replace normalizer.
llvm::Expected<bool> sentencePieceDummyPrefix(const json &root,
                                              llvm::StringRef path) {
  const json *pre =
      root.contains("pre_tokenizer") ? &root["pre_tokenizer"] : nullptr;
  const json *normalizer =
      root.contains("normalizer") ? &root["normalizer"] : nullptr;
  if (pre && !pre->is_null()) {
    std::vector<const json *> steps = stepsOf(*pre, "pretokenizers");
    if (steps.size() != 1 || !hasType(*steps[0], "Metaspace"))
      return fieldError(path, "pre_tokenizer",
                        "a SentencePiece-style tokenizer needs a single "
                        "Metaspace pre-tokenizer (or none)");
    const json &meta = *steps[0];
    if (auto replacement = meta.find("replacement");
        replacement != meta.end() &&
        !(replacement->is_string() && *replacement == kSpaceMark))
      return fieldError(path, "pre_tokenizer.replacement",
                        "only U+2581 is supported");
    if (auto scheme = meta.find("prepend_scheme");
        scheme != meta.end() && scheme->is_string()) {
      if (*scheme == "never")
        return false;
      if (*scheme == "always" || *scheme == "first")
        return true;
      return fieldError(path, "pre_tokenizer.prepend_scheme",
                        "expected \"always\", \"first\" or \"never\", got " +
                            scheme->dump());
    }
    if (auto add = meta.find("add_prefix_space");
        add != meta.end() && add->is_boolean())
      return add->get<bool>();
    return true;
  }
  bool prepend = false, replace = false;
  if (normalizer && !normalizer->is_null())
    for (const json *step : stepsOf(*normalizer, "normalizers")) {
      if (hasType(*step, "Prepend") && step->contains("prepend") &&
          (*step)["prepend"] == kSpaceMark) {
        prepend = true;
      } else if (hasType(*step, "Replace") && step->contains("content") &&
                 (*step)["content"] == kSpaceMark) {
        replace = true;
      } else {
        return fieldError(path, "normalizer",
                          "unsupported normalizer step " +
                              (step->contains("type") ? (*step)["type"].dump()
                                                      : step->dump()));
      }
    }
  if (!replace)
    return fieldError(path, "normalizer",
                      "a SentencePiece-style tokenizer needs a Metaspace "
                      "pre-tokenizer or a normalizer replacing ' ' by "
                      "U+2581");
  return prepend;
}

size_t codePoints(llvm::StringRef text) {
  size_t count = 0;
  for (char c : text)
    count += (uint8_t(c) & 0xC0) != 0x80;
  return count;
}

bool isByteTokenSpelling(llvm::StringRef token) {
  return token.size() == 6 && token.starts_with("<0x") &&
         token.ends_with(">") && llvm::isHexDigit(token[3]) &&
         llvm::isHexDigit(token[4]);
}

/// The SentencePiece-BPE family mapped onto the SentencePiece encoder. HF
/// BPE merges the listed pair of lowest rank; SentencePiece merges the pair
/// whose merged token scores highest. Scoring each merged token -rank of
/// the first merge that makes it gives the same order, and tokens no merge
/// makes (other than single characters, which start the encoding) are
/// marked unused so that the encoder cannot produce them either.
llvm::Expected<TokenizerData> parseSentencePieceJson(const json &root,
                                                     const json &model,
                                                     llvm::StringRef path) {
  TokenizerData data;
  data.kind = TokenizerData::Kind::SentencePieceBPE;
  auto prefix = sentencePieceDummyPrefix(root, path);
  if (!prefix)
    return prefix.takeError();
  data.addDummyPrefix = *prefix;

  std::map<int32_t, std::pair<std::string, int32_t>> byId;
  auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object())
    return fieldError(path, "model.vocab", "missing or not an object");
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    std::optional<int32_t> id = asTokenId(it.value());
    if (!id)
      return fieldError(path, "model.vocab",
                        "token '" + it.key() + "' has an invalid id " +
                            it.value().dump());
    int32_t type = isByteTokenSpelling(it.key()) ? 6 : 1;
    if (!byId.try_emplace(*id, it.key(), type).second)
      return fieldError(path, "model.vocab",
                        "id " + llvm::Twine(*id) + " is used twice");
  }
  if (auto added = root.find("added_tokens"); added != root.end()) {
    if (!added->is_array())
      return fieldError(path, "added_tokens", "not an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const json &token = (*added)[i];
      std::optional<int32_t> id;
      if (token.is_object() && token.contains("id"))
        id = asTokenId(token["id"]);
      if (!id || !token.contains("content") || !token["content"].is_string())
        return fieldError(path, "added_tokens[" + std::to_string(i) + "]",
                          "needs an integer \"id\" and a string \"content\"");
      bool special = token.contains("special") &&
                     token["special"].is_boolean() &&
                     token["special"].get<bool>();
      byId[*id] = {token["content"].get<std::string>(), special ? 3 : 4};
    }
  }
  if (byId.empty())
    return fieldError(path, "model.vocab", "empty vocabulary");
  int32_t size = byId.rbegin()->first + 1;
  data.tokens.resize(size);
  data.tokenTypes.assign(size, 5);
  data.scores.assign(size, 0.0f);
  std::map<std::string, int32_t> idOf;
  for (int32_t id = 0; id < size; ++id)
    data.tokens[id] = "[PAD" + std::to_string(id) + "]";
  for (auto &[id, entry] : byId) {
    data.tokens[id] = entry.first;
    data.tokenTypes[id] = entry.second;
    idOf.emplace(entry.first, id);
  }

  auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array())
    return fieldError(path, "model.merges", "missing or not an array");
  std::vector<bool> merged(size, false);
  for (size_t rank = 0; rank < merges->size(); ++rank) {
    auto merge = readMerge((*merges)[rank], rank, path);
    if (!merge)
      return merge.takeError();
    auto [left, right] = llvm::StringRef(*merge).split(' ');
    auto it = idOf.find((left + right).str());
    if (left.empty() || right.empty() || it == idOf.end() ||
        !idOf.count(left.str()) || !idOf.count(right.str()))
      return fieldError(path, "model.merges[" + std::to_string(rank) + "]",
                        "'" + *merge +
                            "' does not join two vocabulary "
                            "tokens into a third");
    if (!merged[it->second]) {
      merged[it->second] = true;
      data.scores[it->second] = -float(rank);
    }
  }
  for (int32_t id = 0; id < size; ++id)
    if (data.tokenTypes[id] == 1 && !merged[id] &&
        codePoints(data.tokens[id]) > 1)
      data.tokenTypes[id] = 5;

  if (auto unk = model.find("unk_token");
      unk != model.end() && unk->is_string())
    if (auto it = idOf.find(unk->get<std::string>()); it != idOf.end()) {
      data.unkId = it->second;
      data.tokenTypes[it->second] = 2;
    }
  std::optional<std::string> templateBos;
  if (auto post = root.find("post_processor"); post != root.end())
    templateBos = leadingTemplateToken(*post);
  if (auto it = idOf.find(templateBos.value_or("<s>")); it != idOf.end())
    data.bosId = it->second;
  data.addBos = templateBos && idOf.count(*templateBos);
  if (auto it = idOf.find("</s>"); it != idOf.end())
    data.eosId = it->second;
  return data;
}

llvm::Expected<TokenizerData> parseTokenizerJson(const json &root,
                                                 llvm::StringRef path,
                                                 size_t fileBytes) {
  if (!root.is_object())
    return fieldError(path, "<root>", "expected a JSON object");
  auto modelIt = root.find("model");
  if (modelIt == root.end() || !modelIt->is_object())
    return fieldError(path, "model", "missing or not an object");
  const json &model = *modelIt;
  if (auto type = model.find("type"); type != model.end() && *type != "BPE")
    return fieldError(path, "model.type",
                      "unsupported model type " + jsonSnippet(*type) +
                          " (only \"BPE\")");
  if (isSentencePieceFamily(root, model))
    return parseSentencePieceJson(root, model, path);

  TokenizerData data;
  data.kind = TokenizerData::Kind::ByteLevelBPE;

  // Id -> (content, type); std::map keeps them ordered for the dense table.
  std::map<int32_t, std::pair<std::string, int32_t>> byId;
  auto vocab = model.find("vocab");
  if (vocab == model.end() || !vocab->is_object())
    return fieldError(path, "model.vocab", "missing or not an object");
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    std::optional<int32_t> id = asTokenId(it.value());
    if (!id)
      return fieldError(path, "model.vocab",
                        "token '" + it.key() + "' has an invalid id " +
                            jsonSnippet(it.value()));
    if (!byId.try_emplace(*id, it.key(), 1).second)
      return fieldError(path, "model.vocab",
                        "id " + llvm::Twine(*id) + " is used twice");
  }

  if (auto added = root.find("added_tokens"); added != root.end()) {
    if (!added->is_array())
      return fieldError(path, "added_tokens", "not an array");
    for (size_t i = 0; i < added->size(); ++i) {
      const json &token = (*added)[i];
      std::string field = "added_tokens[" + std::to_string(i) + "]";
      std::optional<int32_t> id;
      if (token.is_object() && token.contains("id"))
        id = asTokenId(token["id"]);
      if (!id || !token.contains("content") || !token["content"].is_string())
        return fieldError(path, field,
                          "needs an integer \"id\" and a string \"content\"");
      bool special = token.contains("special") &&
                     token["special"].is_boolean() &&
                     token["special"].get<bool>();
      // Added tokens override a vocab entry with the same id.
      byId[*id] = {token["content"].get<std::string>(), special ? 3 : 4};
    }
  }
  if (byId.empty())
    return fieldError(path, "model.vocab", "empty vocabulary");

  // Dense table; gaps (ids nobody names) become unused placeholders. Each
  // named id takes several bytes of the file, so a table larger than the
  // file is mostly gaps: a lying id, not a vocabulary.
  int32_t size = byId.rbegin()->first + 1;
  if (size_t(size) > fileBytes)
    return fieldError(path, "model.vocab",
                      "token id " + llvm::Twine(size - 1) + " (" +
                          llvm::Twine(byId.size()) +
                          " ids named) would need a table larger than the " +
                          llvm::Twine(fileBytes) + "-byte file");
  data.tokens.resize(size);
  data.tokenTypes.assign(size, 5);
  for (int32_t id = 0; id < size; ++id)
    data.tokens[id] = "[PAD" + std::to_string(id) + "]";
  std::map<std::string, int32_t> idOf;
  for (auto &[id, entry] : byId) {
    data.tokens[id] = entry.first;
    data.tokenTypes[id] = entry.second;
    idOf.emplace(entry.first, id);
  }

  auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array())
    return fieldError(path, "model.merges", "missing or not an array");
  data.merges.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    auto merge = readMerge((*merges)[i], i, path);
    if (!merge)
      return merge.takeError();
    data.merges.push_back(std::move(*merge));
  }

  auto pre = root.find("pre_tokenizer");
  if (pre == root.end())
    return fieldError(path, "pre_tokenizer", "missing");
  auto preName = detectPreTokenizer(*pre, path);
  if (!preName)
    return preName.takeError();
  data.preTokenizer = std::move(*preName);

  auto idOfAny = [&](std::initializer_list<const char *> names) -> int32_t {
    for (const char *name : names)
      if (auto it = idOf.find(name); it != idOf.end())
        return it->second;
    return -1;
  };
  if (auto unk = model.find("unk_token"); unk != model.end() &&
                                          unk->is_string())
    if (auto it = idOf.find(unk->get<std::string>()); it != idOf.end())
      data.unkId = it->second;

  // BOS: the token the post-processor prepends (then it is added), else a
  // conventional name (then it is not: Qwen2 and GPT-2 start bare).
  std::optional<std::string> templateBos;
  if (auto post = root.find("post_processor"); post != root.end())
    templateBos = leadingTemplateToken(*post);
  if (templateBos && idOf.count(*templateBos)) {
    data.bosId = idOf[*templateBos];
    data.addBos = true;
  } else {
    data.bosId = idOfAny({"<|begin_of_text|>", "<s>", "<|endoftext|>"});
    data.addBos = false;
  }
  data.eosId = idOfAny({"<|end_of_text|>", "<|endoftext|>", "</s>"});
  return data;
}

} // namespace

llvm::Expected<TokenizerData>
respin::loadHFTokenizerJson(llvm::StringRef path) {
  auto buffer = readInputFile(path);
  if (!buffer)
    return buffer.takeError();
  llvm::StringRef text = (*buffer)->getBuffer();
  if (llvm::Error error = checkJsonNesting(text, path))
    return std::move(error);
  json root = json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded())
    return fieldError(path, "<root>", "not valid JSON");
  try {
    return parseTokenizerJson(root, path, text.size());
  } catch (const json::exception &e) {
    // Defensive: the checks above should leave nothing for accessors to throw.
    return fieldError(path, "<root>", e.what());
  }
}
