/*===- respin_model.h - C ABI of a compiled respin model ----------*- C -*-===*\
|*                                                                            *|
|* respin-compile turns a model into an object that defines two symbols,     *|
|*   int32_t <name>_forward(void *const *weights,                             *|
|*                          const respin_rt_kv_cache *const *caches,          *|
|*                          void *workspace, const int32_t *tokens,           *|
|*                          int64_t n, int64_t pos0, float *logits);          *|
|*   extern const char <name>_manifest[];                                     *|
|* and a weights archive. This library (part of respin_rt) loads the archive *|
|* by memory-mapping it, checks it against the manifest (format, names,      *|
|* dtypes, shapes, sizes), owns the KV caches and the workspace, and drives  *|
|* the forward function. The generated <name>.h wraps respin_model_create    *|
|* for one model.                                                             *|
|*                                                                            *|
|* A context is not thread-safe; two contexts (of one model or of two) may   *|
|* run concurrently in two threads. The runtime's kernels are shared: their  *|
|* thread pool runs one kernel at a time, so concurrent contexts interleave. *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef RESPIN_RUNTIME_RESPIN_MODEL_H
#define RESPIN_RUNTIME_RESPIN_MODEL_H

#include "respin_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* First line of every manifest, and the archive's "format" metadata. */
#define RESPIN_MODEL_MANIFEST_MAGIC "respin-compiled-model 1"
#define RESPIN_MODEL_WEIGHTS_FORMAT "respin-compiled-weights-1"
/* Archive metadata holding the tokenizer (JSON), when the model has one. */
#define RESPIN_MODEL_TOKENIZER_KEY "respin.tokenizer"

typedef enum respin_model_status {
  RESPIN_MODEL_OK = 0,
  RESPIN_MODEL_ERR_INVALID_ARGUMENT = 1, /* null, bad token count, bad id */
  RESPIN_MODEL_ERR_IO = 2,               /* weights file cannot be read   */
  RESPIN_MODEL_ERR_MISMATCH = 3,         /* archive does not fit the code */
  RESPIN_MODEL_ERR_CONTEXT_FULL = 4,     /* KV cache length limit reached */
  RESPIN_MODEL_ERR_RUNTIME = 5,          /* a kernel failed               */
  RESPIN_MODEL_ERR_OUT_OF_MEMORY = 6
} respin_model_status;

typedef int32_t (*respin_model_forward_fn)(
    void *const *weights, const respin_rt_kv_cache *const *caches,
    void *workspace, const int32_t *tokens, int64_t n, int64_t pos0,
    float *logits);

typedef struct respin_model respin_model;

/* Loads `weights_path` for the model described by `manifest` and creates a
 * context whose KV caches hold `max_seq` positions (0: 2048). On failure
 * *out is NULL and respin_model_last_error() says why. */
respin_model_status respin_model_create(const char *manifest,
                                        respin_model_forward_fn forward,
                                        const char *weights_path,
                                        int64_t max_seq, respin_model **out);
void respin_model_destroy(respin_model *model);

/* Forgets the cached sequence (position 0 next). */
void respin_model_reset(respin_model *model);

/* Runs n >= 1 tokens after the cached ones; writes n rows of vocab logits
 * (logits may be NULL to only fill the cache). Longer prompts are split
 * into calls of the compiled max-tokens. */
respin_model_status respin_model_prefill(respin_model *model,
                                         const int32_t *tokens, int64_t n,
                                         float *logits);
/* One token: vocab logits of the next position. */
respin_model_status respin_model_decode(respin_model *model, int32_t token,
                                        float *logits);

int64_t respin_model_vocab_size(const respin_model *model);
int64_t respin_model_position(const respin_model *model); /* cached tokens */
int64_t respin_model_max_seq(const respin_model *model);
/* Bytes of the KV caches and of the workspace this context allocated. */
size_t respin_model_state_bytes(const respin_model *model);
/* Bytes of the mapped weights archive. */
size_t respin_model_weights_bytes(const respin_model *model);

/* Threads of the runtime's kernels (process-wide; respin_rt_set_num_threads). */
respin_model_status respin_model_set_num_threads(int num_threads);

/* Message of the last failure on this thread ("" when none). */
const char *respin_model_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RESPIN_RUNTIME_RESPIN_MODEL_H */
