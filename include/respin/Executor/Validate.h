//===- Validate.h - Load-time checks of a program --------------*- C++ -*-===//
//
// The executor's one rule: every shape the IR gives is checked against the
// real tensors once, when the program is built, so that the kernels never
// read outside what they were given. validateProgram infers the width of
// every value from the weights and the ops' parameters, and checks it
// against each operand use and against the width the IR declared; it also
// checks that every weight holds finite values (a NaN weight otherwise
// evaluates silently to "ppl nan").
//
//===----------------------------------------------------------------------===//

#ifndef RESPIN_EXECUTOR_VALIDATE_H
#define RESPIN_EXECUTOR_VALIDATE_H

#include "respin/Executor/Program.h"

#include <optional>
#include <string>

namespace respin::exec {

/// What is wrong with a program: the instruction (-1 for the program as a
/// whole) and a message in the words of the IR.
struct ProgramDefect {
  int instruction = -1;
  std::string message;
};

/// The first defect of `program`, or std::nullopt when the kernels can run
/// it on any number of tokens.
std::optional<ProgramDefect> validateProgram(const Program &program);

} // namespace respin::exec

#endif // RESPIN_EXECUTOR_VALIDATE_H
