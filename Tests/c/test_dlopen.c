/* The library survives repeated dlopen/dlclose while using its threads, as
 * a Python process that imports and unloads it would. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simloss.h"

typedef simloss_status (*l1_fn)(const simloss_tensor *, const simloss_tensor *, const simloss_tensor *,
                                const simloss_pointwise_options *, double *, size_t, const simloss_tensor *);
typedef simloss_status (*init_fn)(simloss_tensor *, void *, int32_t, int64_t, int64_t, int64_t, int64_t);

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  enum { COUNT = 8 * 3 * 64 * 64 };
  static float p[COUNT], t[COUNT], g[COUNT];
  for (int i = 0; i < COUNT; i++) p[i] = (float)(i % 97) / 97.0f;
  int failures = 0;
  for (int cycle = 0; cycle < 20; cycle++) {
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { printf("dlopen: %s\n", dlerror()); return 1; }
    l1_fn l1 = (l1_fn)dlsym(lib, "simloss_l1");
    init_fn init = (init_fn)dlsym(lib, "simloss_tensor_init_nchw");
    simloss_status (*threads)(int) = (simloss_status (*)(int))dlsym(lib, "simloss_set_num_threads");
    if (!l1 || !init || !threads) { printf("dlsym failed\n"); return 1; }
    threads(2);
    simloss_tensor pt, tt, gt;
    init(&pt, p, SIMLOSS_FLOAT32, 8, 3, 64, 64);
    init(&tt, t, SIMLOSS_FLOAT32, 8, 3, 64, 64);
    init(&gt, g, SIMLOSS_FLOAT32, 8, 3, 64, 64);
    double v = 0;
    if (l1(&pt, &tt, NULL, NULL, &v, 1, &gt) != SIMLOSS_OK || !(v > 0.49 && v < 0.5)) failures++;
    dlclose(lib);
  }
  printf("%d passed, %d failed\n", failures ? 0 : 1, failures ? 1 : 0);
  return failures ? 1 : 0;
}
