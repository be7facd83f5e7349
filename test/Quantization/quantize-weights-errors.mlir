// Bad options and inputs of --tfm-quantize-weights are diagnosed, naming the
// option or the linear.
// RUN: not respin-opt %s "--tfm-quantize-weights=group-size=3" 2>&1 | FileCheck %s --check-prefix=GROUP
// GROUP: error: group-size 3 does not divide the 4 input columns of the gate linear
// RUN: not respin-opt %s "--tfm-quantize-weights=bits=9" 2>&1 | FileCheck %s --check-prefix=BITS
// BITS: error: bits=9 is not supported (expected 2..8, or 16 for no quantization)
// RUN: not respin-opt %s "--tfm-quantize-weights=bits=1" 2>&1 | FileCheck %s --check-prefix=BITS1
// BITS1: error: bits=1 is not supported
// RUN: not respin-opt %s "--tfm-quantize-weights=group-size=-4" 2>&1 | FileCheck %s --check-prefix=NEG
// NEG: error: group-size=-4 must be 0 (per output channel) or positive
// RUN: not respin-opt %s "--tfm-quantize-weights=method=awq" 2>&1 | FileCheck %s --check-prefix=METHOD
// METHOD: error: unknown method 'awq' (expected rtn or gptq)
// RUN: not respin-opt %s "--tfm-quantize-weights=method=gptq" 2>&1 | FileCheck %s --check-prefix=NOCALIB
// NOCALIB: error: method=gptq needs calib-file=<text>
// RUN: not respin-opt %s "--tfm-quantize-weights=calib-file=x.txt" 2>&1 | FileCheck %s --check-prefix=RTNCALIB
// RTNCALIB: error: calib-file is only used with method=gptq
// RUN: not respin-opt %s "--tfm-quantize-weights=act-order=true" 2>&1 | FileCheck %s --check-prefix=RTNACT
// RTNACT: error: act-order is only used with method=gptq
// RUN: not respin-opt %s "--tfm-quantize-weights=method=gptq calib-file=x.txt damp=-0.5" 2>&1 | FileCheck %s --check-prefix=DAMP
// DAMP: error: damp=-0.5 must be >= 0
// RUN: not respin-opt %s "--tfm-quantize-weights=method=gptq calib-file=x.txt calib-seq-len=1" 2>&1 | FileCheck %s --check-prefix=SEQ
// SEQ: error: calibration needs calib-samples >= 1 and calib-seq-len >= 2 (got 128, 1)
// RUN: not respin-opt %s "--tfm-quantize-weights=clip-max-shrink=1.5" 2>&1 | FileCheck %s --check-prefix=SHRINK
// SHRINK: error: clip-search needs clip-grid >= 1, 0 < clip-max-shrink < 1 and clip-norm > 0 (got 100, 1.5, 2.4)
// RUN: not respin-opt %s "--tfm-quantize-weights=linears=q,gat" 2>&1 | FileCheck %s --check-prefix=ROLE
// ROLE: error: unknown linear 'gat' in linears= (expected a comma-separated list of q, k, v, o, gate, up, down, lm_head or all-decoder)
// RUN: not respin-opt %s "--tfm-quantize-weights=method=gptq calib-file=%t.missing.txt" 2>&1 | FileCheck %s --check-prefix=TOKENIZER
// TOKENIZER: error: calibration needs the model's tokenizer, but its parameter archives have none
// Quantizing twice is refused.
// RUN: respin-opt %s --tfm-quantize-weights=linears=gate | not respin-opt --tfm-quantize-weights=linears=gate,down 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: error: the gate linear is already quantized (its weight is a tfm.dequantize)
// A NaN weight is refused, naming the element.
// RUN: not respin-opt %s --tfm-quantize-weights=linears=up 2>&1 | FileCheck %s --check-prefix=NAN
// NAN: error: the up linear: element [1, 2] is NaN; cannot quantize

func.func @mlp(%h: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %wg = arith.constant dense<1.0> : tensor<4x4xf32>
  %wu = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [0.5, 0.25, 0x7FC00000, 2.0], [1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0]]> : tensor<4x4xf32>
  %wd = arith.constant dense<0.5> : tensor<4x4xf32>
  %n = tfm.rms_norm %h {epsilon = 1.0e-5 : f64} : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %g = tfm.linear %n, %wg : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %u = tfm.linear %n, %wu : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %a = tfm.silu_mul %g, %u : tensor<?x4xf32>
  %d = tfm.linear %a, %wd : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %r = tfm.add %h, %d : tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
