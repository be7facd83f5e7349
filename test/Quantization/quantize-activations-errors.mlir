// Bad options of --tfm-quantize-activations are diagnosed, naming the option
// or the linear.
// RUN: not respin-opt %s "--tfm-quantize-activations=bits=1" 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: bits=1 is not supported (expected 2..8, or 16 for no quantization)
// RUN: not respin-opt %s "--tfm-quantize-activations=kv-bits=12" 2>&1 | FileCheck %s --check-prefix=KVBITS
// KVBITS: error: kv-bits=12 is not supported (expected 2..8, or 16 for no quantization)
// RUN: not respin-opt %s "--tfm-quantize-activations=clip=0" 2>&1 | FileCheck %s --check-prefix=CLIP
// CLIP: error: clip=0 is not a clip ratio in (0, 1]
// RUN: not respin-opt %s "--tfm-quantize-activations=kv-clip=1.5" 2>&1 | FileCheck %s --check-prefix=KVCLIP
// KVCLIP: error: kv-clip=1.5 is not a clip ratio in (0, 1]
// RUN: not respin-opt %s "--tfm-quantize-activations=group-size=-2" 2>&1 | FileCheck %s --check-prefix=NEG
// NEG: error: group-size=-2 must be 0 (per token) or positive
// RUN: not respin-opt %s "--tfm-quantize-activations=group-size=3" 2>&1 | FileCheck %s --check-prefix=GROUP
// GROUP: error: group-size 3 does not divide the 8 input features of the gate linear
// RUN: not respin-opt %s "--tfm-quantize-activations=linears=" 2>&1 | FileCheck %s --check-prefix=EMPTY
// EMPTY: error: linears= names no linear
// RUN: respin-opt %s --tfm-quantize-activations | not respin-opt --tfm-quantize-activations 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: error: the input of the gate linear is already quantized by a tfm.fake_quant

func.func @mlp(%h: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %wg = arith.constant dense<0.5> : tensor<4x8xf32>
  %wu = arith.constant dense<0.6> : tensor<4x8xf32>
  %wd = arith.constant dense<0.7> : tensor<8x4xf32>
  %m = tfm.rms_norm %h {epsilon = 1.0e-5 : f64} : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %g = tfm.linear %m, %wg : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %u = tfm.linear %m, %wu : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %s = tfm.silu_mul %g, %u : tensor<?x4xf32>
  %d = tfm.linear %s, %wd : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %h2 = tfm.add %h, %d : tensor<?x8xf32>
  return %h2 : tensor<?x8xf32>
}
