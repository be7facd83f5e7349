//===- JsonSupport.h - Bounded JSON for the format readers -----*- C++ -*-===//
//
// Private to lib/Formats. JSON from files is hostile input: nesting is
// bounded before nlohmann::json sees the text (its copy, comparison and
// dump are recursive, so 100 000 nested arrays overflow the stack), and
// values quoted in error messages are cut short.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_LIB_FORMATS_JSONSUPPORT_H
#define RESPIN_LIB_FORMATS_JSONSUPPORT_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <nlohmann/json.hpp>

#include <string>

namespace respin {

/// Deepest nesting of arrays and objects any respin format needs (real
/// tokenizer.json files nest 6 levels).
constexpr unsigned kMaxJsonDepth = 64;

/// Fails, naming `source` and the byte offset, when `text` nests arrays and
/// objects deeper than kMaxJsonDepth. Linear; strings are skipped.
llvm::Error checkJsonNesting(llvm::StringRef text, const llvm::Twine &source);

/// `value` as JSON text for an error message, at most about 64 characters.
std::string jsonSnippet(const nlohmann::json &value);

} // namespace respin

#endif // RESPIN_LIB_FORMATS_JSONSUPPORT_H
