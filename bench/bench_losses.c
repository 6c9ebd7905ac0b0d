/* bench_losses: the time of each loss on an 8x3x256x256 float32 batch,
 * forward and forward+backward, as a ratio to a memcpy of the same number of
 * bytes measured in the same run (these machines are shared and noisy, so
 * only ratios within one run mean anything), plus throughput in GB/s.
 *
 * "The same bytes" is what the fused pass must move: every input read once
 * and the gradient written once. A memcpy of B bytes reads B and writes B,
 * so the baseline copies half the pass's traffic: a pass that reads two
 * inputs and writes a gradient (3 x 6 MB) is timed against a 9 MB memcpy.
 * Usage: bench_losses [--smoke] [--threads N] */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simloss.h"

enum { N = 8, C = 3, H = 256, W = 256, COUNT = N * C * H * W };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *pred, *target, *grad, *copy_src, *copy_dst;
static simloss_tensor tp, tt, tg;

typedef int (*bench_fn)(int with_grad);

static int run_l1(int g) { double v; return simloss_l1(&tp, &tt, NULL, NULL, &v, 1, g ? &tg : NULL); }
static int run_mse(int g) { double v; return simloss_mse(&tp, &tt, NULL, NULL, &v, 1, g ? &tg : NULL); }
static int run_psnr(int g) { double v; return simloss_psnr(&tp, &tt, NULL, &v, 1, g ? &tg : NULL); }
static int run_tv(int g) { double v; return simloss_tv(&tp, NULL, &v, 1, g ? &tg : NULL); }
static int run_tv_iso(int g) {
  simloss_tv_options o;
  simloss_tv_options_init(&o);
  o.kind = SIMLOSS_TV_ISOTROPIC;
  double v;
  return simloss_tv(&tp, &o, &v, 1, g ? &tg : NULL);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Times the loss and the memcpy baseline alternately, `reps` times each, so
 * that both see the same state of a shared machine; returns both medians
 * (robust to a neighbour's burst). */
static void paired_medians(bench_fn f, int arg, size_t memcpy_bytes, int reps, double *loss, double *copy) {
  double *tl = malloc(sizeof(double) * reps), *tc = malloc(sizeof(double) * reps);
  for (int r = 0; r < reps; r++) {
    double t0 = now();
    memcpy(copy_dst, copy_src, memcpy_bytes);
    double t1 = now();
    if (f(arg) != SIMLOSS_OK) { fprintf(stderr, "error: %s\n", simloss_last_error()); exit(1); }
    double t2 = now();
    tc[r] = t1 - t0;
    tl[r] = t2 - t1;
  }
  qsort(tl, reps, sizeof(double), cmp_double);
  qsort(tc, reps, sizeof(double), cmp_double);
  *loss = tl[reps / 2];
  *copy = tc[reps / 2];
  free(tl);
  free(tc);
}

int main(int argc, char **argv) {
  int reps = 51, threads = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--smoke") == 0) reps = 1;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
  }
  if (simloss_set_num_threads(threads) != SIMLOSS_OK) { fprintf(stderr, "%s\n", simloss_last_error()); return 1; }
  size_t bytes = sizeof(float) * COUNT;
  pred = malloc(bytes); target = malloc(bytes); grad = malloc(bytes);
  copy_src = malloc(3 * bytes); copy_dst = malloc(3 * bytes);
  unsigned s = 1;
  for (int i = 0; i < COUNT; i++) { s = s * 1664525u + 1013904223u; pred[i] = (s >> 8) / 16777216.0f; }
  for (int i = 0; i < COUNT; i++) { s = s * 1664525u + 1013904223u; target[i] = (s >> 8) / 16777216.0f; }
  memset(copy_src, 1, 3 * bytes); memset(copy_dst, 0, 3 * bytes); memset(grad, 0, bytes);
  simloss_tensor_init_nchw(&tp, pred, SIMLOSS_FLOAT32, N, C, H, W);
  simloss_tensor_init_nchw(&tt, target, SIMLOSS_FLOAT32, N, C, H, W);
  simloss_tensor_init_nchw(&tg, grad, SIMLOSS_FLOAT32, N, C, H, W);

  struct { const char *name; bench_fn f; int inputs; } losses[] = {
    {"l1", run_l1, 2}, {"mse", run_mse, 2}, {"psnr", run_psnr, 2},
    {"tv", run_tv, 1}, {"tv-isotropic", run_tv_iso, 1},
  };
  printf("simloss %s, %s, %d thread(s), batch %dx%dx%dx%d float32, median of %d\n",
         simloss_version_string(), simloss_build_info(), simloss_get_num_threads(), N, C, H, W, reps);
  printf("%-14s %-9s %9s %9s %9s %14s\n", "loss", "pass", "ms", "GB/s", "memcpy ms", "ratio/memcpy");
  for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++)
    for (int g = 0; g <= 1; g++) {
      size_t moved = bytes * (size_t)(losses[i].inputs + g);
      double tl, tm;
      paired_medians(losses[i].f, g, moved / 2, reps, &tl, &tm);
      printf("%-14s %-9s %9.3f %9.2f %9.3f %13.2fx\n", losses[i].name, g ? "fwd+bwd" : "forward", tl * 1e3,
             moved / tl * 1e-9, tm * 1e3, tl / tm);
    }
  printf("1 passed, 0 failed\n");
  return 0;
}
