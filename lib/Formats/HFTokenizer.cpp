//===- HFTokenizer.cpp - Hugging Face tokenizer.json reader ---------------===//
//
// Reads the byte-level BPE tokenizers of Llama-3, Qwen2 and SmolLM/GPT-2
// from tokenizer.json: model.vocab, model.merges (either "a b" strings or
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
