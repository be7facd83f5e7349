//===- JsonSupport.cpp - Bounded JSON for the format readers --------------===//

#include "JsonSupport.h"
#include "FormatSupport.h"

using namespace respin;

llvm::Error respin::checkJsonNesting(llvm::StringRef text,
                                     const llvm::Twine &source) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i; // the escaped character cannot end the string
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        return makeError(source + ": JSON nests deeper than " +
                         llvm::Twine(kMaxJsonDepth) + " levels (at byte " +
                         llvm::Twine(i) + ")");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return llvm::Error::success();
}

std::string respin::jsonSnippet(const nlohmann::json &value) {
  constexpr size_t kMaxLength = 64;
  std::string text =
      value.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxLength)
    text = text.substr(0, kMaxLength) + "...";
  return text;
}
