//===- TokenizerData.cpp - Tokenizer description <-> JSON -----------------===//
//
// The JSON form of TokenizerData stored in parameter archives:
//
//   {"kind": "sentencepiece-bpe" | "byte-level-bpe",
//    "tokens": [...], "scores": [...], "token_types": [...],
//    "merges": [...], "pre_tokenizer": "...",
//    "bos_id": 1, "eos_id": 2, "unk_id": 0, "add_bos": true,
//    "add_dummy_prefix": false (only when false)}
//
// Tokens are arbitrary byte strings. A token that is valid UTF-8 is stored as
// a JSON string; any other token as {"hex": "e296"} so the round trip is
// lossless (JSON strings must be UTF-8, and nlohmann::json throws on dumping
// invalid UTF-8). Non-finite scores are stored as the strings "inf", "-inf"
// and "nan" because JSON numbers cannot spell them.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/TokenizerData.h"
#include "JsonSupport.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/ConvertUTF.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

using namespace respin;
using json = nlohmann::json;

namespace {

constexpr const char *kSentencePieceKind = "sentencepiece-bpe";
constexpr const char *kByteLevelKind = "byte-level-bpe";

llvm::Error fieldError(llvm::StringRef source, llvm::StringRef field,
                       const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "%s: tokenizer field '%s': %s",
                                 source.str().c_str(), field.str().c_str(),
                                 what.str().c_str());
}

bool isValidUTF8(llvm::StringRef s) {
  const auto *begin = reinterpret_cast<const llvm::UTF8 *>(s.data());
  return llvm::isLegalUTF8String(&begin, begin + s.size());
}

json tokenToJson(const std::string &token) {
  if (isValidUTF8(token))
    return token;
  return json{{"hex", llvm::toHex(token, /*LowerCase=*/true)}};
}

json scoreToJson(float score) {
  if (std::isnan(score))
    return "nan";
  if (std::isinf(score))
    return score > 0 ? "inf" : "-inf";
  return score;
}

/// Reads a whole-number JSON value that fits int32.
std::optional<int32_t> asInt32(const json &value) {
  if (value.is_number_integer()) {
    int64_t v = value.is_number_unsigned()
                    ? (int64_t)std::min<uint64_t>(value.get<uint64_t>(),
                                                  (uint64_t)INT64_MAX)
                    : value.get<int64_t>();
    if (v >= std::numeric_limits<int32_t>::min() &&
        v <= std::numeric_limits<int32_t>::max())
      return (int32_t)v;
  }
  return std::nullopt;
}

/// Parses every field; reports the first problem. Runs inside a try block
/// because nlohmann::json accessors may throw on unexpected types.
llvm::Expected<TokenizerData> parseFields(const json &root,
                                          llvm::StringRef source) {
  if (!root.is_object())
    return fieldError(source, "<root>", "expected a JSON object");
  TokenizerData data;

  auto kindIt = root.find("kind");
  if (kindIt == root.end() || !kindIt->is_string())
    return fieldError(source, "kind", "missing or not a string");
  const std::string &kind = kindIt->get_ref<const std::string &>();
  if (kind == kSentencePieceKind)
    data.kind = TokenizerData::Kind::SentencePieceBPE;
  else if (kind == kByteLevelKind)
    data.kind = TokenizerData::Kind::ByteLevelBPE;
  else
    return fieldError(source, "kind",
                      "unknown tokenizer kind '" + kind + "'");

  auto tokensIt = root.find("tokens");
  if (tokensIt == root.end() || !tokensIt->is_array())
    return fieldError(source, "tokens", "missing or not an array");
  data.tokens.reserve(tokensIt->size());
  for (const json &token : *tokensIt) {
    std::string index = std::to_string(data.tokens.size());
    if (token.is_string()) {
      data.tokens.push_back(token.get<std::string>());
      continue;
    }
    auto hexIt = token.is_object() ? token.find("hex") : token.end();
    std::string bytes;
    if (!token.is_object() || hexIt == token.end() || !hexIt->is_string() ||
        !llvm::tryGetFromHex(hexIt->get_ref<const std::string &>(), bytes))
      return fieldError(source, "tokens",
                        "element " + index +
                            " is neither a string nor {\"hex\": ...}");
    data.tokens.push_back(std::move(bytes));
  }
  size_t numTokens = data.tokens.size();

  if (auto it = root.find("scores"); it != root.end()) {
    if (!it->is_array())
      return fieldError(source, "scores", "not an array");
    for (const json &score : *it) {
      if (score.is_number()) {
        data.scores.push_back(score.get<float>());
      } else if (score == "inf" || score == "-inf" || score == "nan") {
        const std::string &s = score.get_ref<const std::string &>();
        data.scores.push_back(
            s == "nan" ? std::numeric_limits<float>::quiet_NaN()
                       : (s == "inf" ? 1.0f : -1.0f) *
                             std::numeric_limits<float>::infinity());
      } else {
        return fieldError(source, "scores",
                          "element " + std::to_string(data.scores.size()) +
                              " is not a number");
      }
    }
    if (!data.scores.empty() && data.scores.size() != numTokens)
      return fieldError(source, "scores",
                        "has " + std::to_string(data.scores.size()) +
                            " entries for " + std::to_string(numTokens) +
                            " tokens");
  }

  if (auto it = root.find("token_types"); it != root.end()) {
    if (!it->is_array())
      return fieldError(source, "token_types", "not an array");
    for (const json &type : *it) {
      std::optional<int32_t> value = asInt32(type);
      if (!value)
        return fieldError(source, "token_types",
                          "element " + std::to_string(data.tokenTypes.size()) +
                              " is not a 32-bit integer");
      data.tokenTypes.push_back(*value);
    }
    if (!data.tokenTypes.empty() && data.tokenTypes.size() != numTokens)
      return fieldError(source, "token_types",
                        "has " + std::to_string(data.tokenTypes.size()) +
                            " entries for " + std::to_string(numTokens) +
                            " tokens");
  }

  if (auto it = root.find("merges"); it != root.end()) {
    if (!it->is_array())
      return fieldError(source, "merges", "not an array");
    for (const json &merge : *it) {
      if (!merge.is_string())
        return fieldError(source, "merges",
                          "element " + std::to_string(data.merges.size()) +
                              " is not a string");
      data.merges.push_back(merge.get<std::string>());
    }
  }

  if (auto it = root.find("pre_tokenizer"); it != root.end()) {
    if (!it->is_string())
      return fieldError(source, "pre_tokenizer", "not a string");
    data.preTokenizer = it->get<std::string>();
  }

  for (auto [name, field] :
       {std::pair<const char *, int32_t *>{"bos_id", &data.bosId},
        {"eos_id", &data.eosId},
        {"unk_id", &data.unkId}}) {
    auto it = root.find(name);
    if (it == root.end())
      continue;
    std::optional<int32_t> value = asInt32(*it);
    if (!value || *value < -1 || *value >= (int64_t)numTokens)
      return fieldError(source, name,
                        "must be -1 or a token id below " +
                            std::to_string(numTokens));
    *field = *value;
  }

  if (auto it = root.find("add_bos"); it != root.end()) {
    if (!it->is_boolean())
      return fieldError(source, "add_bos", "not a boolean");
    data.addBos = it->get<bool>();
  }
  if (auto it = root.find("add_dummy_prefix"); it != root.end()) {
    if (!it->is_boolean())
      return fieldError(source, "add_dummy_prefix", "not a boolean");
    data.addDummyPrefix = it->get<bool>();
  }
  return data;
}

} // namespace

std::string TokenizerData::toJson() const {
  json root = json::object();
  root["kind"] =
      kind == Kind::SentencePieceBPE ? kSentencePieceKind : kByteLevelKind;
  json tokenArray = json::array();
  for (const std::string &token : tokens)
    tokenArray.push_back(tokenToJson(token));
  root["tokens"] = std::move(tokenArray);
  json scoreArray = json::array();
  for (float score : scores)
    scoreArray.push_back(scoreToJson(score));
  root["scores"] = std::move(scoreArray);
  root["token_types"] = tokenTypes;
  // Merges of byte-level vocabularies are always UTF-8 (GPT-2 byte mapping);
  // the replace handler below keeps a corrupt one from throwing.
  root["merges"] = merges;
  root["pre_tokenizer"] = preTokenizer;
  root["bos_id"] = bosId;
  root["eos_id"] = eosId;
  root["unk_id"] = unkId;
  root["add_bos"] = addBos;
  if (!addDummyPrefix) // absent means true: older archives stay valid
    root["add_dummy_prefix"] = false;
  return root.dump(-1, ' ', /*ensure_ascii=*/false,
                   json::error_handler_t::replace);
}

llvm::Expected<TokenizerData> TokenizerData::fromJson(llvm::StringRef text,
                                                      llvm::StringRef source) {
  if (llvm::Error error = checkJsonNesting(text, source))
    return std::move(error);
  json root = json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded())
    return fieldError(source, "<root>", "not valid JSON");
  try {
    return parseFields(root, source);
  } catch (const json::exception &e) {
    // Defensive: the checks above should leave nothing for accessors to throw.
    return fieldError(source, "<root>", e.what());
  }
}
