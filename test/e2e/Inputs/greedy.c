/* A C program that runs a compiled model through its generated header:
 * greedy decoding from BOS, printing token ids. It links the object and
 * respin_rt only: no MLIR, no executor, no interpreter. */
#include <stdio.h>
#include <stdlib.h>

#include MODEL_HEADER

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s weights.safetensors tokens\n", argv[0]);
    return 2;
  }
  respin_model *model = NULL;
  if (MODEL_CREATE(argv[1], 256, &model) != RESPIN_MODEL_OK) {
    fprintf(stderr, "error: %s\n", respin_model_last_error());
    return 1;
  }
  int64_t vocab = respin_model_vocab_size(model);
  float *logits = malloc(sizeof(float) * (size_t)vocab);
  int32_t token = 1; /* BOS */
  int count = atoi(argv[2]);
  for (int step = 0; step < count; ++step) {
    if (respin_model_decode(model, token, logits) != RESPIN_MODEL_OK) {
      fprintf(stderr, "error: %s\n", respin_model_last_error());
      return 1;
    }
    int32_t best = 0;
    for (int64_t i = 1; i < vocab; ++i)
      if (logits[i] > logits[best])
        best = (int32_t)i;
    printf("%d%s", best, step + 1 < count ? " " : "\n");
    token = best;
  }
  free(logits);
  respin_model_destroy(model);
  return 0;
}
