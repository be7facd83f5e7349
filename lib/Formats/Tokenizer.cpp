//===- Tokenizer.cpp - SentencePiece and byte-level BPE -------------------===//
//
// Both tokenizer kinds reduce to the same core: split a string into UTF-8
// characters, then repeatedly merge the adjacent pair with the best priority
// (SentencePiece: score of the merged token; byte-level BPE: lowest merge
// rank), leftmost first on ties. The core keeps the symbols in a linked list
// and the candidate pairs in a heap, so encoding is O(n log n) in the text
// length rather than quadratic.
//
//===----------------------------------------------------------------------===//

#include "respin/Formats/Tokenizer.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <queue>

using namespace respin;

namespace {

/// SentencePiece spells the space as U+2581 LOWER ONE EIGHTH BLOCK.
constexpr llvm::StringLiteral kSpaceMark = "\xE2\x96\x81";
/// Code point given to a byte that is not part of valid UTF-8, so that it
/// can be told apart from every real character.
constexpr uint32_t kInvalidByteBase = 0x110000;

/// GGUF token types.
enum TokenType : int32_t {
  kTypeUndefined = 0,
  kTypeNormal = 1,
  kTypeUnknown = 2,
  kTypeControl = 3,
  kTypeUserDefined = 4,
  kTypeUnused = 5,
  kTypeByte = 6,
};

llvm::Error tokenizerError(const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "invalid tokenizer: %s", what.str().c_str());
}

//===----------------------------------------------------------------------===//
// UTF-8
//===----------------------------------------------------------------------===//

/// Decodes the character at `pos`; returns its length in bytes. A byte that
/// does not start a well-formed sequence is one character of its own, with
/// code point kInvalidByteBase + byte.
size_t decodeUTF8(llvm::StringRef s, size_t pos, uint32_t &cp) {
  size_t avail = s.size() - pos;
  auto byteAt = [&](size_t i) { return (uint8_t)s[pos + i]; };
  auto isCont = [&](size_t i, uint8_t lo = 0x80, uint8_t hi = 0xBF) {
    return i < avail && byteAt(i) >= lo && byteAt(i) <= hi;
  };
  uint8_t lead = byteAt(0);
  if (lead < 0x80) {
    cp = lead;
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF && isCont(1)) {
    cp = (uint32_t(lead & 0x1F) << 6) | (byteAt(1) & 0x3F);
    return 2;
  }
  // The narrowed second-byte ranges reject overlong forms and surrogates.
  if (lead >= 0xE0 && lead <= 0xEF &&
      isCont(1, lead == 0xE0 ? 0xA0 : 0x80, lead == 0xED ? 0x9F : 0xBF) &&
      isCont(2)) {
    cp = (uint32_t(lead & 0x0F) << 12) | (uint32_t(byteAt(1) & 0x3F) << 6) |
         (byteAt(2) & 0x3F);
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4 &&
      isCont(1, lead == 0xF0 ? 0x90 : 0x80, lead == 0xF4 ? 0x8F : 0xBF) &&
      isCont(2) && isCont(3)) {
    cp = (uint32_t(lead & 0x07) << 18) | (uint32_t(byteAt(1) & 0x3F) << 12) |
         (uint32_t(byteAt(2) & 0x3F) << 6) | (byteAt(3) & 0x3F);
    return 4;
  }
  cp = kInvalidByteBase + lead;
  return 1;
}

void appendUTF8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

//===----------------------------------------------------------------------===//
// Priority-queue BPE over a linked list of symbols
//===----------------------------------------------------------------------===//

/// A run of bytes [start, start + len) of the text being encoded. Merged-away
/// symbols have len 0.
struct Symbol {
  uint32_t start;
  uint32_t len;
  int32_t prev;
  int32_t next;
};

/// A pair that may merge; stale once either side has changed.
struct Candidate {
  double priority;
  uint32_t leftStart;
  int32_t left;
  int32_t right;
  uint32_t len;
};

/// Heap order: highest priority first, then leftmost.
struct CandidateOrder {
  bool operator()(const Candidate &a, const Candidate &b) const {
    if (a.priority != b.priority)
      return a.priority < b.priority;
    return a.leftStart > b.leftStart;
  }
};

/// One symbol per UTF-8 character of `text`.
std::vector<Symbol> splitCharacters(llvm::StringRef text) {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    uint32_t cp;
    size_t len = decodeUTF8(text, pos, cp);
    int32_t index = (int32_t)symbols.size();
    symbols.push_back({(uint32_t)pos, (uint32_t)len, index - 1, index + 1});
    pos += len;
  }
  if (!symbols.empty())
    symbols.back().next = -1;
  return symbols;
}

/// Merges adjacent symbols while `priorityOf(left, right)` names a merge
/// (std::nullopt: the pair does not merge). Symbol 0 stays the list head.
template <typename PriorityFn>
void mergeSymbols(llvm::StringRef text, std::vector<Symbol> &symbols,
                  PriorityFn priorityOf) {
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> heap;
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0)
      return;
    const Symbol &l = symbols[left];
    const Symbol &r = symbols[right];
    std::optional<double> priority = priorityOf(text.substr(l.start, l.len),
                                                text.substr(r.start, r.len));
    if (priority)
      heap.push({*priority, l.start, left, right, l.len + r.len});
  };
  for (int32_t i = 0; i + 1 < (int32_t)symbols.size(); ++i)
    consider(i, i + 1);

  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    Symbol &l = symbols[c.left];
    Symbol &r = symbols[c.right];
    // Symbols only grow, so an unchanged total length means both sides are
    // exactly as they were when the candidate was pushed.
    if (l.len == 0 || r.len == 0 || l.next != c.right ||
        l.len + r.len != c.len)
      continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0)
      symbols[r.next].prev = c.left;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }
}

//===----------------------------------------------------------------------===//
// GPT-2 byte <-> unicode mapping
//===----------------------------------------------------------------------===//

/// GPT-2 maps each byte to a printable code point: printable Latin-1 bytes
/// map to themselves, the others to 256, 257, ... in byte order.
const std::array<std::string, 256> &byteToUnicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
                       (b >= 174 && b <= 255);
      appendUTF8(t[b], printable ? b : next++);
    }
    return t;
  }();
  return table;
}

/// Inverse of byteToUnicode, indexed by code point (all are below 324);
/// -1 for code points that are not in the mapping.
int32_t unicodeToByte(uint32_t cp) {
  static const std::vector<int32_t> table = [] {
    std::vector<int32_t> t(512, -1);
    for (uint32_t b = 0; b < 256; ++b) {
      uint32_t cp;
      decodeUTF8(byteToUnicode()[b], 0, cp);
      t[cp] = (int32_t)b;
    }
    return t;
  }();
  return cp < table.size() ? table[cp] : -1;
}

//===----------------------------------------------------------------------===//
// Byte-level pre-tokenizers
//===----------------------------------------------------------------------===//

enum class CharClass : uint8_t { Letter, Number, Space, Other };

/// Unicode White_Space, which is what \s matches in the HF regexes.
bool isUnicodeSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 ||
         cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

bool inRanges(uint32_t cp,
              std::initializer_list<std::pair<uint32_t, uint32_t>> ranges) {
  for (auto [lo, hi] : ranges)
    if (cp >= lo && cp <= hi)
      return true;
  return false;
}

/// \p{N} for the common scripts: decimal digits of the major scripts,
/// superscripts, fractions, Roman and circled numerals, fullwidth digits.
bool isUnicodeNumber(uint32_t cp) {
  if (cp < 0x80)
    return cp >= '0' && cp <= '9';
  return inRanges(
      cp, {{0xB2, 0xB3},     {0xB9, 0xB9},     {0xBC, 0xBE},
           {0x660, 0x669},   {0x6F0, 0x6F9},   {0x7C0, 0x7C9},
           {0x966, 0x96F},   {0x9E6, 0x9EF},   {0xA66, 0xA6F},
           {0xAE6, 0xAEF},   {0xB66, 0xB6F},   {0xBE6, 0xBF2},
           {0xC66, 0xC6F},   {0xCE6, 0xCEF},   {0xD66, 0xD78},
           {0xE50, 0xE59},   {0xED0, 0xED9},   {0xF20, 0xF33},
           {0x1040, 0x1049}, {0x17E0, 0x17E9}, {0x1810, 0x1819},
           {0x2070, 0x2070}, {0x2074, 0x2079}, {0x2080, 0x2089},
           {0x2150, 0x2189}, {0x2460, 0x249B}, {0x24EA, 0x24FF},
           {0x2776, 0x2793}, {0x3007, 0x3007}, {0x3021, 0x3029},
           {0x3038, 0x303A}, {0x3192, 0x3195}, {0x3220, 0x3229},
           {0x3248, 0x324F}, {0x3251, 0x325F}, {0x3280, 0x3289},
           {0x32B1, 0x32BF}, {0xFF10, 0xFF19}, {0x1D7CE, 0x1D7FF},
           {0x1F100, 0x1F10C}});
}

/// Vowel signs, viramas and other marks of the nine Brahmic blocks
/// U+0900..U+0D7F, which share the ISCII layout, and of Thai.
bool isIndicOrThaiMark(uint32_t cp) {
  if (cp >= 0x900 && cp <= 0xD7F) {
    uint32_t offset = cp & 0x7F;
    return offset <= 0x03 || (offset >= 0x3A && offset <= 0x3C) ||
           (offset >= 0x3E && offset <= 0x4F) ||
           (offset >= 0x51 && offset <= 0x57) ||
           (offset >= 0x62 && offset <= 0x63);
  }
  return cp == 0xE31 || (cp >= 0xE34 && cp <= 0xE3A) ||
         (cp >= 0xE47 && cp <= 0xE4E);
}

/// Non-ASCII code points that are neither letters nor numbers: controls,
/// punctuation, symbols, combining marks, emoji.
bool isNonLetterSymbol(uint32_t cp) {
  if (cp >= 0x80 && cp <= 0xBF) // Latin-1 controls and punctuation ...
    return cp != 0xAA && cp != 0xB5 && cp != 0xBA; // ... but ª µ º
  if (isIndicOrThaiMark(cp))
    return true;
  return inRanges(
      cp, {{0xD7, 0xD7},       {0xF7, 0xF7},       {0x300, 0x36F},
           {0x37E, 0x37E},     {0x387, 0x387},     {0x55A, 0x55F},
           {0x589, 0x58A},     {0x5BE, 0x5BE},     {0x5C0, 0x5C0},
           {0x5C3, 0x5C3},     {0x5F3, 0x5F4},     {0x60C, 0x60D},
           {0x61B, 0x61F},     {0x64B, 0x65F},     {0x66A, 0x66D},
           {0x6D4, 0x6D4},     {0x964, 0x965},     {0x2000, 0x206F},
           {0x20A0, 0x20FF},   {0x2190, 0x2BFF},   {0x2E00, 0x2E7F},
           {0x3000, 0x3004},   {0x3008, 0x3020},   {0x3030, 0x3030},
           {0x303D, 0x303F},   {0xFE00, 0xFE0F},   {0xFE10, 0xFE1F},
           {0xFE30, 0xFE6F},   {0xFEFF, 0xFEFF},   {0xFF01, 0xFF0F},
           {0xFF1A, 0xFF20},   {0xFF3B, 0xFF40},   {0xFF5B, 0xFF65},
           {0xFFF0, 0xFFFF},   {0x1F000, 0x1FAFF}, {0xE0000, 0xE007F}});
}

/// Character class for the pre-tokenizer regexes. ASCII is classified
/// exactly. Beyond ASCII this approximates \p{L} / \p{N} / \s without the
/// Unicode tables: white space and the number ranges above are exact, the
/// common punctuation/symbol/mark/emoji blocks and the Indic/Thai vowel signs
/// are "other", and every other code point counts as a letter. Marks of other
/// scripts and rare symbols may therefore split differently from the
/// reference regex; English, European, Cyrillic, Greek, CJK and Devanagari
/// text does not.
CharClass classify(uint32_t cp) {
  if (cp >= kInvalidByteBase)
    return CharClass::Other;
  if (cp < 0x80) {
    if (llvm::isAlpha(char(cp)))
      return CharClass::Letter;
    if (llvm::isDigit(char(cp)))
      return CharClass::Number;
    return isUnicodeSpace(cp) ? CharClass::Space : CharClass::Other;
  }
  if (isUnicodeSpace(cp))
    return CharClass::Space;
  if (isUnicodeNumber(cp))
    return CharClass::Number;
  return isNonLetterSymbol(cp) ? CharClass::Other : CharClass::Letter;
}

using PreTokenizer = Tokenizer::PreTokenizer;

std::optional<PreTokenizer> parsePreTokenizer(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<PreTokenizer>>(name)
      .Cases("llama3", "llama-bpe", PreTokenizer::Llama3)
      .Case("qwen2", PreTokenizer::Qwen2)
      .Cases("gpt2", "gpt-2", "default", "", PreTokenizer::GPT2)
      .Case("smollm", PreTokenizer::SmolLM)
      .Default(std::nullopt);
}

/// Hand-written equivalents of the pre-tokenizer regexes, over the code
/// points of one text. match*(i) returns how many code points the regex
/// matches at i (always at least one). Linear in the text: every scan
/// either consumes what it looks at or is bounded by a constant, and
/// `steps` counts the code points examined so that tests can check it.
class PreTokenSplitter {
public:
  explicit PreTokenSplitter(llvm::StringRef text) : text(text) {
    for (size_t pos = 0; pos < text.size();) {
      uint32_t cp;
      size_t len = decodeUTF8(text, pos, cp);
      cps.push_back(cp);
      classes.push_back(classify(cp));
      offsets.push_back((uint32_t)pos);
      pos += len;
    }
    offsets.push_back((uint32_t)text.size());
  }

  std::vector<llvm::StringRef> split(PreTokenizer kind) {
    std::vector<llvm::StringRef> pieces;
    size_t n = cps.size();
    end = n;
    for (size_t i = 0; i < n;) {
      // SmolLM: Digits(individual_digits) runs before the GPT-2 regex, so
      // every number character is a piece and the regex never sees one.
      if (kind == PreTokenizer::SmolLM) {
        if (classes[i] == CharClass::Number) {
          pieces.push_back(slice(i, i + 1));
          ++i;
          continue;
        }
        // A number-free run is scanned once, when it starts.
        if (i == 0 || classes[i - 1] == CharClass::Number) {
          end = i;
          while (end < n && classes[end] != CharClass::Number) {
            ++end;
            ++steps;
          }
        }
      }
      size_t len = kind == PreTokenizer::Llama3  ? matchLlama3(i, 3)
                   : kind == PreTokenizer::Qwen2 ? matchLlama3(i, 1)
                                                     : matchGPT2(i);
      pieces.push_back(slice(i, i + len));
      i += len;
    }
    return pieces;
  }

private:
  llvm::StringRef slice(size_t from, size_t to) const {
    return text.slice(offsets[from], offsets[to]);
  }
  bool isNewline(size_t i) const { return cps[i] == '\r' || cps[i] == '\n'; }
  CharClass classAt(size_t i) const {
    // Past the end behaves like a character that continues nothing.
    return i < end ? classes[i] : CharClass::Space;
  }
  /// End of the run of class `c` from i, looking at most `limit` code
  /// points ahead.
  size_t runEnd(size_t i, CharClass c, size_t limit = SIZE_MAX) const {
    size_t stop = limit < end - i ? i + limit : end;
    while (i < stop && classes[i] == c) {
      ++i;
      ++steps;
    }
    return i;
  }

  /// 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive.
  size_t matchContraction(size_t i, bool ignoreCase) const {
    if (cps[i] != '\'' || i + 1 >= end)
      return 0;
    auto at = [&](size_t k) -> uint32_t {
      if (k >= end)
        return 0;
      uint32_t c = cps[k];
      return ignoreCase && c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
    };
    uint32_t c1 = at(i + 1), c2 = at(i + 2);
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
      return 2;
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
        (c1 == 'l' && c2 == 'l'))
      return 3;
    return 0;
  }

  /// \s*[\r\n]+ (when `newlines`) | \s+(?!\S) | \s+, at a space.
  size_t matchSpaces(size_t i, bool newlines) const {
    size_t e = runEnd(i, CharClass::Space);
    if (newlines) {
      // Greedy \s* backs off to the last line break of the run (consumed,
      // or else followed only by what \s+(?!\S) consumes next).
      for (size_t k = e; k > i; --k) {
        ++steps;
        if (isNewline(k - 1))
          return k - i;
      }
    }
    // \s+(?!\S): leave the last space for the following word.
    if (e < end && e - i > 1)
      return e - i - 1;
    return e - i;
  }

  /// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,N}|
  ///  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  size_t matchLlama3(size_t i, size_t maxDigits) const {
    if (size_t len = matchContraction(i, /*ignoreCase=*/true))
      return len;
    CharClass c = classes[i];
    size_t j = i;
    if (c != CharClass::Letter && c != CharClass::Number && !isNewline(i) &&
        classAt(i + 1) == CharClass::Letter)
      ++j;
    if (classes[j] == CharClass::Letter)
      return runEnd(j, CharClass::Letter) - i;
    if (c == CharClass::Number) // \p{N}{1,maxDigits}: look no further
      return runEnd(i, CharClass::Number, maxDigits) - i;
    j = cps[i] == ' ' && classAt(i + 1) == CharClass::Other ? i + 1 : i;
    if (classes[j] == CharClass::Other) {
      j = runEnd(j, CharClass::Other);
      while (j < end && isNewline(j)) {
        ++j;
        ++steps;
      }
      return j - i;
    }
    return matchSpaces(i, /*newlines=*/true);
  }

  /// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|
  /// \s+(?!\S)|\s+
  size_t matchGPT2(size_t i) const {
    if (size_t len = matchContraction(i, /*ignoreCase=*/false))
      return len;
    size_t j = cps[i] == ' ' && classAt(i + 1) != CharClass::Space ? i + 1 : i;
    if (classes[j] != CharClass::Space)
      return runEnd(j, classes[j]) - i;
    return matchSpaces(i, /*newlines=*/false);
  }

public:
  /// Code points examined by the scans so far.
  mutable size_t steps = 0;

private:
  llvm::StringRef text;
  std::vector<uint32_t> cps;
  std::vector<CharClass> classes;
  std::vector<uint32_t> offsets;
  size_t end = 0; ///< End of the code points the current match may use.
};

/// "<0xXX>" spelling of a byte-fallback token.
std::string byteTokenSpelling(unsigned byte) {
  char buf[8];
  snprintf(buf, sizeof(buf), "<0x%02X>", byte);
  return buf;
}

} // namespace

//===----------------------------------------------------------------------===//
// Free helpers
//===----------------------------------------------------------------------===//

std::vector<llvm::StringRef> respin::preTokenizeByteLevel(llvm::StringRef text,
                                                          llvm::StringRef kind,
                                                          size_t *steps) {
  std::optional<PreTokenizer> parsed = parsePreTokenizer(kind);
  PreTokenSplitter splitter(text);
  std::vector<llvm::StringRef> pieces =
      splitter.split(parsed.value_or(PreTokenizer::GPT2));
  if (steps)
    *steps = splitter.steps;
  return pieces;
}

std::vector<std::string> respin::splitStories(llvm::StringRef text) {
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, "<|endoftext|>");
  std::vector<std::string> stories;
  for (llvm::StringRef part : parts) {
    llvm::StringRef story = part.trim();
    if (!story.empty())
      stories.push_back(story.str());
  }
  return stories;
}

//===----------------------------------------------------------------------===//
// Construction and validation
//===----------------------------------------------------------------------===//

Tokenizer::Tokenizer(TokenizerData data) : data(std::move(data)) {
  byteTokens.fill(-1);
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::create(TokenizerData data) {
  size_t n = data.tokens.size();
  if (n == 0)
    return tokenizerError("empty vocabulary");
  if (n > (size_t)INT32_MAX)
    return tokenizerError("vocabulary too large");
  if (!data.tokenTypes.empty() && data.tokenTypes.size() != n)
    return tokenizerError(llvm::Twine(data.tokenTypes.size()) +
                          " token types for " + llvm::Twine(n) + " tokens");
  if (!data.scores.empty() && data.scores.size() != n)
    return tokenizerError(llvm::Twine(data.scores.size()) + " scores for " +
                          llvm::Twine(n) + " tokens");
  for (auto [name, id] : {std::pair<const char *, int32_t>{"BOS", data.bosId},
                          {"EOS", data.eosId},
                          {"UNK", data.unkId}})
    if (id < -1 || id >= (int64_t)n)
      return tokenizerError(llvm::Twine(name) + " id " + llvm::Twine(id) +
                            " outside the vocabulary of " + llvm::Twine(n));

  std::unique_ptr<Tokenizer> tokenizer(new Tokenizer(std::move(data)));
  llvm::Error err = tokenizer->data.kind == TokenizerData::Kind::ByteLevelBPE
                        ? tokenizer->initByteLevel()
                        : tokenizer->initSentencePiece();
  if (err)
    return std::move(err);
  return std::move(tokenizer);
}

bool Tokenizer::isControl(int32_t id) const {
  if (!data.tokenTypes.empty())
    return data.tokenTypes[id] == kTypeControl;
  return id == data.bosId || id == data.eosId;
}

llvm::Error Tokenizer::initSentencePiece() {
  size_t n = data.tokens.size();
  if (data.scores.size() != n)
    return tokenizerError("SentencePiece vocabulary needs one score per token");
  for (size_t id = 0; id < n; ++id)
    if (std::isnan(data.scores[id]))
      return tokenizerError("score of token " + llvm::Twine(id) + " is NaN");

  for (size_t id = 0; id < n; ++id)
    if (!data.tokens[id].empty())
      tokenIds.emplace(data.tokens[id], (int32_t)id); // first spelling wins
  for (unsigned b = 0; b < 256; ++b) {
    auto it = tokenIds.find(byteTokenSpelling(b));
    if (it != tokenIds.end())
      byteTokens[b] = it->second;
    else if (data.unkId < 0)
      return tokenizerError("SentencePiece vocabulary lacks byte token " +
                            byteTokenSpelling(b) + " and has no unknown token");
  }

  std::vector<int16_t> byteOf(n, -1);
  for (unsigned b = 0; b < 256; ++b)
    if (byteTokens[b] >= 0)
      byteOf[byteTokens[b]] = (int16_t)b;

  pieces.assign(n, std::string());
  for (size_t id = 0; id < n; ++id) {
    int32_t type = data.tokenTypes.empty() ? -1 : data.tokenTypes[id];
    if (byteOf[id] >= 0) {
      pieces[id] = std::string(1, (char)byteOf[id]);
      continue;
    }
    if (isControl((int32_t)id))
      continue;
    std::string piece = data.tokens[id];
    for (size_t pos; (pos = piece.find(kSpaceMark.str())) != std::string::npos;)
      piece.replace(pos, kSpaceMark.size(), " ");
    pieces[id] = std::move(piece);
    bool special = type < 0 ? (int32_t)id == data.unkId
                            : !(type == kTypeNormal || type == kTypeUndefined ||
                                type == kTypeUserDefined);
    if (special || data.tokens[id].empty())
      continue;
    mergeableIds.try_emplace(data.tokens[id], (int32_t)id);
    uint64_t previous = 0;
    for (size_t pos = 0; pos < data.tokens[id].size();) {
      uint32_t cp;
      size_t len = decodeUTF8(data.tokens[id], pos, cp);
      if (pos > 0)
        joinablePairs.insert(previous << 32 | cp);
      previous = cp;
      pos += len;
    }
  }
  return llvm::Error::success();
}

llvm::Error Tokenizer::initByteLevel() {
  std::optional<PreTokenizer> kind = parsePreTokenizer(data.preTokenizer);
  if (!kind)
    return tokenizerError("unknown byte-level pre-tokenizer '" +
                          data.preTokenizer + "'");
  preTokenizer = *kind;

  size_t n = data.tokens.size();
  for (size_t id = 0; id < n; ++id)
    if (!data.tokens[id].empty())
      tokenIds.emplace(data.tokens[id], (int32_t)id);

  for (size_t rank = 0; rank < data.merges.size(); ++rank) {
    llvm::StringRef merge = data.merges[rank];
    auto [left, right] = merge.split(' ');
    if (left.empty() || right.empty() || right.contains(' '))
      return tokenizerError("merge " + llvm::Twine(rank) + " '" + merge +
                            "' is not two tokens separated by one space");
    for (llvm::StringRef part : {left, right, llvm::StringRef()}) {
      std::string token = part.empty() ? left.str() + right.str() : part.str();
      if (!tokenIds.count(token))
        return tokenizerError("merge " + llvm::Twine(rank) + " '" + merge +
                              "' uses '" + token +
                              "', which is not in the vocabulary");
    }
    mergeRanks.emplace(merge.str(), (int32_t)rank); // first rank wins
  }

  pieces.assign(n, std::string());
  for (size_t id = 0; id < n; ++id) {
    int32_t type = data.tokenTypes.empty() ? kTypeNormal : data.tokenTypes[id];
    if (isControl((int32_t)id) || type == kTypeUnused)
      continue;
    const std::string &token = data.tokens[id];
    // Added tokens are raw text matched literally; the rest is byte-mapped.
    if (type == kTypeUserDefined) {
      pieces[id] = token;
      if (token.empty())
        continue;
      literalTokens[(uint8_t)token[0]].push_back((int32_t)id);
      continue;
    }
    if (type != kTypeUnknown && !token.empty())
      mergeableIds.try_emplace(token, (int32_t)id);
    std::string &piece = pieces[id];
    for (size_t pos = 0; pos < token.size();) {
      uint32_t cp;
      size_t len = decodeUTF8(token, pos, cp);
      int32_t byte = unicodeToByte(cp);
      if (byte >= 0)
        piece += (char)byte;
      else
        piece.append(token, pos, len); // not byte-mapped: keep as is
      pos += len;
    }
  }
  // Control tokens (special added tokens) are matched literally too.
  if (!data.tokenTypes.empty())
    for (size_t id = 0; id < n; ++id)
      if (data.tokenTypes[id] == kTypeControl && !data.tokens[id].empty())
        literalTokens[(uint8_t)data.tokens[id][0]].push_back((int32_t)id);
  for (auto &candidates : literalTokens)
    llvm::stable_sort(candidates, [&](int32_t a, int32_t b) {
      return data.tokens[a].size() > data.tokens[b].size();
    });
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

int32_t Tokenizer::lookupMergeable(llvm::StringRef token) const {
  auto it = mergeableIds.find(token);
  return it == mergeableIds.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::encode(llvm::StringRef text,
                                       bool addBos) const {
  std::vector<int32_t> ids;
  if (addBos && data.bosId >= 0)
    ids.push_back(data.bosId);
  if (data.kind == TokenizerData::Kind::ByteLevelBPE)
    encodeByteLevel(text, ids);
  else
    encodeSentencePiece(text, ids);
  return ids;
}

void Tokenizer::encodeSentencePiece(llvm::StringRef text,
                                    std::vector<int32_t> &ids) const {
  if (text.empty())
    return;
  // Dummy prefix, then every space spelled as U+2581.
  std::string normalized = data.addDummyPrefix ? kSpaceMark.str() : "";
  normalized.reserve(text.size() * 2);
  for (char c : text) {
    if (c == ' ')
      normalized += kSpaceMark;
    else
      normalized += c;
  }

  // Encode segment by segment, cut where no token spans the boundary.
  llvm::StringRef rest = normalized;
  size_t segmentStart = 0;
  uint64_t previous = 0;
  for (size_t pos = 0; pos < rest.size();) {
    uint32_t cp;
    size_t len = decodeUTF8(rest, pos, cp);
    if (pos > segmentStart && !joinablePairs.contains(previous << 32 | cp)) {
      encodeSentencePieceSegment(rest.slice(segmentStart, pos), ids);
      segmentStart = pos;
    }
    previous = cp;
    pos += len;
  }
  encodeSentencePieceSegment(rest.substr(segmentStart), ids);
}

void Tokenizer::encodeSentencePieceSegment(llvm::StringRef segment,
                                           std::vector<int32_t> &ids) const {
  std::vector<Symbol> symbols = splitCharacters(segment);
  mergeSymbols(segment, symbols,
               [&](llvm::StringRef left,
                   llvm::StringRef right) -> std::optional<double> {
                 // Symbols are adjacent, so the merged text is contiguous.
                 int32_t id = lookupMergeable(
                     llvm::StringRef(left.data(), left.size() + right.size()));
                 if (id < 0)
                   return std::nullopt;
                 return data.scores[id];
               });

  for (int32_t i = 0; i >= 0; i = symbols[i].next) {
    llvm::StringRef symbol = segment.substr(symbols[i].start, symbols[i].len);
    int32_t id = lookupMergeable(symbol);
    if (id >= 0) {
      ids.push_back(id);
      continue;
    }
    // Byte fallback; a vocabulary without it yields one <unk> per symbol.
    bool haveBytes = llvm::all_of(
        symbol, [&](char c) { return byteTokens[(uint8_t)c] >= 0; });
    if (haveBytes) {
      for (char c : symbol)
        ids.push_back(byteTokens[(uint8_t)c]);
    } else if (data.unkId >= 0) {
      ids.push_back(data.unkId);
    }
  }
}

void Tokenizer::encodeByteLevel(llvm::StringRef text,
                                std::vector<int32_t> &ids) const {
  // Pre-tokens repeat a lot in natural text; remember their ids.
  std::unordered_map<std::string, std::vector<int32_t>> cache;
  size_t segmentStart = 0;
  for (size_t pos = 0; pos < text.size();) {
    int32_t match = -1;
    for (int32_t id : literalTokens[(uint8_t)text[pos]]) {
      if (text.substr(pos).starts_with(data.tokens[id])) {
        match = id;
        break;
      }
    }
    if (match < 0) {
      ++pos;
      continue;
    }
    encodeByteLevelSegment(text.slice(segmentStart, pos), ids, cache);
    ids.push_back(match);
    pos += data.tokens[match].size();
    segmentStart = pos;
  }
  encodeByteLevelSegment(text.substr(segmentStart), ids, cache);
}

void Tokenizer::encodeByteLevelSegment(
    llvm::StringRef segment, std::vector<int32_t> &ids,
    std::unordered_map<std::string, std::vector<int32_t>> &cache) const {
  if (segment.empty())
    return;
  const auto &mapping = byteToUnicode();
  for (llvm::StringRef word : PreTokenSplitter(segment).split(preTokenizer)) {
    auto [it, inserted] = cache.try_emplace(word.str());
    std::vector<int32_t> &wordIds = it->second;
    if (!inserted) {
      ids.insert(ids.end(), wordIds.begin(), wordIds.end());
      continue;
    }
    std::string mapped;
    for (char c : word)
      mapped += mapping[(uint8_t)c];
    // Llama-3's tokenizer.json sets ignore_merges: a word that is itself a
    // token is emitted whole.
    int32_t whole = preTokenizer == PreTokenizer::Llama3
                        ? lookupMergeable(mapped)
                        : -1;
    if (whole >= 0) {
      wordIds.push_back(whole);
    } else {
      std::vector<Symbol> symbols = splitCharacters(mapped);
      std::string key;
      mergeSymbols(mapped, symbols,
                   [&](llvm::StringRef left,
                       llvm::StringRef right) -> std::optional<double> {
                     key.assign(left.data(), left.size());
                     key += ' ';
                     key.append(right.data(), right.size());
                     auto rank = mergeRanks.find(key);
                     if (rank == mergeRanks.end())
                       return std::nullopt;
                     return -(double)rank->second;
                   });
      for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        int32_t id = lookupMergeable(
            llvm::StringRef(mapped).substr(symbols[i].start, symbols[i].len));
        if (id < 0)
          id = data.unkId; // a byte missing from the vocabulary
        if (id >= 0)
          wordIds.push_back(id);
      }
    }
    ids.insert(ids.end(), wordIds.begin(), wordIds.end());
  }
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

std::string Tokenizer::decode(llvm::ArrayRef<int32_t> ids) const {
  std::string text;
  int32_t previous = -1;
  for (int32_t id : ids) {
    text += decodeToken(previous, id);
    previous = id;
  }
  return text;
}

std::string Tokenizer::decodeToken(int32_t previous, int32_t id) const {
  if (id < 0 || id >= vocabSize())
    return std::string();
  llvm::StringRef piece = pieces[id];
  // The SentencePiece dummy prefix: the first piece of a text (at the start
  // or right after BOS) loses its leading space.
  bool atStart = previous < 0 || previous == data.bosId;
  if (data.kind == TokenizerData::Kind::SentencePieceBPE &&
      data.addDummyPrefix && atStart && piece.starts_with(" ") &&
      !llvm::is_contained(byteTokens, id))
    piece = piece.drop_front();
  return piece.str();
}
