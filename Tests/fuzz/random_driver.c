/* Runs the fuzz target on seeded random inputs, as an ordinary test: a
 * crash, an undeclared status or a non-deterministic result fails it. With
 * an argument, replays the given files (a libFuzzer corpus) instead. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  if (argc > 1) {
    for (int f = 1; f < argc; f++) {
      FILE *file = fopen(argv[f], "rb");
      if (!file) { perror(argv[f]); return 2; }
      static uint8_t buffer[1 << 16];
      size_t n = fread(buffer, 1, sizeof buffer, file);
      fclose(file);
      LLVMFuzzerTestOneInput(buffer, n);
    }
    printf("%d passed, 0 failed\n", argc - 1);
    return 0;
  }
  unsigned long long state = 0x5151;
  uint8_t input[96];
  const int runs = 20000;
  for (int r = 0; r < runs; r++) {
    for (size_t i = 0; i < sizeof input; i++) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      input[i] = (uint8_t)(state >> 56);
    }
    LLVMFuzzerTestOneInput(input, sizeof input);
  }
  printf("%d passed, 0 failed\n", runs);
  return 0;
}
