/* bench_cross_entropy: the cross-entropy workloads, forward and
 * forward+backward, as a ratio to a memcpy of the bytes the fused pass must
 * move (logits and targets read once, gradient written once) measured in the
 * same run, plus GB/s. "ratio/memcpy" divides the medians, "best ratio" the
 * fastest of each. A memcpy of B bytes reads B and writes B, so it copies
 * half the pass's traffic: for categorical forward+backward that is exactly
 * memcpy(gradient, logits) plus the class indices.
 * Usage: bench_cross_entropy [--smoke] [--threads N] */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simloss.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static double median(double *t, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && t[j] < t[j - 1]; j--) { double x = t[j]; t[j] = t[j - 1]; t[j - 1] = x; }
  return t[n / 2];
}

typedef struct {
  const char *name;
  int kind; /* 0 categorical indices, 1 binary with logits */
  int rank;
  int64_t shape[4];
  int classes_last; /* categorical: classes in the last dimension */
} workload;

static void check(simloss_status s) {
  if (s != SIMLOSS_OK) { fprintf(stderr, "%s: %s\n", simloss_status_string(s), simloss_last_error()); exit(1); }
}

/* One call of the workload's loss; the gradient written when `grad`. */
static void call_loss(const workload *w, const simloss_tensor *x, const simloss_tensor *y, const simloss_tensor *g,
                      int grad) {
  double v;
  simloss_cross_entropy_options o;
  simloss_cross_entropy_options_init(&o);
  o.class_axis = w->classes_last ? SIMLOSS_CLASS_AXIS_LAST : SIMLOSS_CLASS_AXIS_SECOND;
  if (w->kind == 0) check(simloss_cross_entropy(x, y, NULL, &o, &v, 1, grad ? g : NULL, NULL));
  else check(simloss_bce_with_logits(x, y, NULL, NULL, NULL, &v, 1, grad ? g : NULL));
}

int main(int argc, char **argv) {
  int reps = 21, threads = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--smoke") == 0) reps = 1;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
  }
  check(simloss_set_num_threads(threads));
  workload loads[] = {
    {"ce 8192x1000", 0, 2, {8192, 1000}},
    {"ce 8x21x128x128", 0, 4, {8, 21, 128, 128}},
    {"bce-logits 2^20", 1, 1, {1 << 20}},
    /* Beyond the workloads: channels last (TensorFlow's layout)
     * and few classes (CIFAR-10), staged through scratch. */
    {"ce 8x128x128x21", 0, 4, {8, 128, 128, 21}, 1},
    {"ce 262144x10", 0, 2, {262144, 10}},
  };
  if (reps == 1)
    printf("simloss %s, %s, %d thread(s), float32, one call (smoke run)\n", simloss_version_string(),
           simloss_build_info(), simloss_get_num_threads());
  else
    printf("simloss %s, %s, %d thread(s), float32, median of %d or more calls (0.1 s of each loss)\n",
           simloss_version_string(), simloss_build_info(), simloss_get_num_threads(), reps);
  printf("%-18s %-8s %9s %8s %10s %13s %11s\n", "workload", "pass", "ms", "GB/s", "memcpy ms", "ratio/memcpy",
         "best ratio");
  for (size_t k = 0; k < sizeof loads / sizeof loads[0]; k++) {
    workload *w = &loads[k];
    int64_t count = 1;
    for (int d = 0; d < w->rank; d++) count *= w->shape[d];
    int64_t classes = w->kind == 0 ? w->shape[w->classes_last ? w->rank - 1 : 1] : 1;
    int64_t positions = count / classes;
    float *x = malloc(sizeof(float) * count), *g = malloc(sizeof(float) * count);
    float *y = malloc(sizeof(float) * count);
    int64_t *idx = malloc(sizeof(int64_t) * positions);
    unsigned s = 7;
    for (int64_t i = 0; i < count; i++) { s = s * 1664525u + 1013904223u; x[i] = ((s >> 8) / 16777216.0f - 0.5f) * 8; }
    for (int64_t i = 0; i < count; i++) { s = s * 1664525u + 1013904223u; y[i] = (s >> 31) ? 1.0f : 0.0f; }
    for (int64_t i = 0; i < positions; i++) { s = s * 1664525u + 1013904223u; idx[i] = (s >> 8) % classes; }
    memset(g, 0, sizeof(float) * count);
    size_t bytes = sizeof(float) * (size_t)count;
    /* What the pass reads besides the logits: int64 indices or float targets. */
    size_t target_bytes = w->kind == 0 ? sizeof(int64_t) * (size_t)positions : bytes;
    size_t most = (2 * bytes + target_bytes) / 2;
    char *src = malloc(most), *dst = malloc(most);
    memset(src, 1, most);
    memset(dst, 0, most);
    simloss_tensor tx, ty, tg;
    check(simloss_tensor_init_dense(&tx, x, SIMLOSS_FLOAT32, w->rank, w->shape));
    check(simloss_tensor_init_dense(&tg, g, SIMLOSS_FLOAT32, w->rank, w->shape));
    if (w->kind == 0) {
      int64_t pshape[4] = {w->shape[0], 0, 0, 0};
      for (int d = 1, k = 1; d < w->rank; d++)
        if (d != (w->classes_last ? w->rank - 1 : 1)) pshape[k++] = w->shape[d];
      check(simloss_tensor_init_dense(&ty, idx, SIMLOSS_INT64, w->rank - 1, pshape));
    } else {
      check(simloss_tensor_init_dense(&ty, y, SIMLOSS_FLOAT32, w->rank, w->shape));
    }
    /* At least `reps` calls of each, and as many more as fill about 0.1 s
     * of loss calls (BCE's 0.3 ms calls: 21 spanned 7 ms, which one burst of
     * a neighbour's work could cover half of). */
    double first = 0;
    for (int warm = 0; warm < 2; warm++) { /* the second call is timed: caches warm */
      double t0 = now();
      call_loss(w, &tx, &ty, &tg, 1);
      first = now() - t0;
    }
    double want = 0.1 / first; /* clamped as a double: no overflowing conversion */
    int n = reps == 1 ? 1 : (want >= 501 ? 501 : (want <= reps ? reps : ((int)want | 1)));
    double *t = malloc(sizeof(double) * n);
    double *tc = malloc(sizeof(double) * n);
    for (int pass = 0; pass <= 1; pass++) {
      /* forward reads the logits and targets; +grad writes the gradient.
       * The memcpy and the loss alternate, so both see the same machine. */
      size_t moved = bytes * (size_t)(1 + pass) + target_bytes;
      for (int r = 0; r < n; r++) {
        double t0 = now();
        memcpy(dst, src, moved / 2);
        double t1 = now();
        call_loss(w, &tx, &ty, &tg, pass);
        t[r] = now() - t1;
        tc[r] = t1 - t0;
      }
      double tl = median(t, n), tm = median(tc, n);
      /* median sorts: t[0] and tc[0] are then the fastest of each, the
       * least disturbed by other work on a shared machine. */
      printf("%-18s %-8s %9.3f %8.2f %10.3f %12.2fx %10.2fx\n", w->name, pass ? "fwd+bwd" : "forward", tl * 1e3,
             moved / tl * 1e-9, tm * 1e3, tl / tm, t[0] / tc[0]);
    }
    free(tc);
    free(t); free(x); free(g); free(y); free(idx); free(src); free(dst);
  }
  printf("1 passed, 0 failed\n");
  return 0;
}
