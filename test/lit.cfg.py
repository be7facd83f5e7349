# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "RESPIN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["unit", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.respin_obj_root, "test")

# `not`, FileCheck and friends live next to the LLVM tools.
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.use_default_substitutions()

config.substitutions.append(("%respin_data", config.respin_data_dir))
config.substitutions.append(("%python", config.python_executable))
# Linking a C program against a compiled model: respin_rt's archives, its
# headers, and the sanitizer flags the runtime was built with.
config.substitutions.append(("%respin_rt_libs", config.respin_runtime_libs))
config.substitutions.append(("%respin_include", os.path.join(config.respin_src_root, "include")))
config.substitutions.append(("%respin_link_flags", config.respin_link_flags))

tools = ["respin-opt", "respin-translate", "respin-run", "respin-compile"]
llvm_config.add_tool_substitutions(tools, [config.respin_tools_dir, config.llvm_tools_dir])

if os.path.exists(os.path.join(config.respin_data_dir, "models", "stories260K.gguf")):
    config.available_features.add("stories260k")
