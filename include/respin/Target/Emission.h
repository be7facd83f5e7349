//===- Emission.h - LLVM dialect to native code ----------------*- C++ -*-===//
//
// Translates a module in the LLVM dialect to LLVM IR, optimizes it with the
// new pass manager's default pipeline for the chosen level, and writes LLVM
// IR, assembly or an object file for the host or a given triple/CPU/features.
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_TARGET_EMISSION_H
#define RESPIN_TARGET_EMISSION_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace respin {

enum class EmitKind { LLVMIR, Assembly, Object };

struct EmissionOptions {
  std::string triple;   ///< empty: the host's
  std::string cpu;      ///< empty or "native": the host CPU and its features
  std::string features; ///< e.g. "+avx2,+fma" (added to the CPU's)
  unsigned optLevel = 3;
};

/// Emits `module` (LLVM dialect only) as `kind` to `os`. Errors name what
/// failed (unknown triple, translation, verification).
llvm::Error emitModule(mlir::ModuleOp module, const EmissionOptions &options,
                       EmitKind kind, llvm::raw_pwrite_stream &os);

} // namespace respin

#endif
