/* A fuzz target over every entry point of simloss.h: the input bytes choose
 * each tensor's dtype, rank, shape, strides, offset and len (inside or far
 * outside a real buffer), the options and whether a gradient is asked for.
 * Properties: no crash (a Swift trap would end the process), every status
 * is one the header declares, every OK value is finite or +-inf/NaN only
 * where inputs allow, and a second identical call returns the same status
 * and values (determinism).
 *
 * Built two ways: with libFuzzer (clang -fsanitize=fuzzer, when available)
 * and, always, with random_driver.c, which feeds it seeded random inputs as
 * an ordinary ctest test. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simloss.h"

enum { ELEMENTS = 4096 };

typedef struct {
  const uint8_t *data;
  size_t size, at;
} bytes;

static uint64_t take(bytes *b, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | (b->at < b->size ? b->data[b->at++] : 0);
  return v;
}

/* A descriptor over `buffer` (ELEMENTS elements of 8 bytes), mostly sane,
 * sometimes hostile. */
static simloss_tensor tensor(bytes *b, void *buffer, int dtype_hint) {
  simloss_tensor t;
  memset(&t, 0, sizeof t);
  uint64_t mode = take(b, 1);
  t.data = (mode & 0x80) && (mode & 0x40) ? NULL : buffer;
  t.dtype = (mode & 0x20) ? (int32_t)(take(b, 1) % 7) - 1 : dtype_hint;
  t.rank = (int32_t)(take(b, 1) % 10);
  int64_t count = 1;
  for (int d = 0; d < SIMLOSS_MAX_RANK; d++) {
    uint64_t s = take(b, 1);
    t.shape[d] = (s & 0x80) ? (int64_t)(s & 0x7) - 2 : (int64_t)(s % 6) + 1;
    if (s == 0xFF) t.shape[d] = INT64_MAX / 3;
  }
  for (int d = t.rank - 1; d >= 0 && d < SIMLOSS_MAX_RANK; d--) {
    uint64_t s = take(b, 1);
    t.strides[d] = (s & 0x80) ? (int64_t)(s % 9) - 4 : count;
    if (s == 0xFE) t.strides[d] = INT64_MIN / 2;
    /* Strides that only a dimension of one element can carry (nothing
     * multiplies them), and whose byte size wraps to INT64_MIN or near it:
     * a W stride of 2^60 once reached a Swift trap through abs(). */
    if (s == 0xFD) t.strides[d] = (int64_t)1 << 60;
    if (s == 0xFC) t.strides[d] = (int64_t)1 << 61;
    if (s == 0xFB) t.strides[d] = INT64_MAX;
    if (s == 0xFA) t.strides[d] = INT64_MIN;
    if (t.shape[d] > 0 && t.shape[d] < 64) count *= t.shape[d];
  }
  uint64_t o = take(b, 1);
  t.offset = (o & 0x80) ? (int64_t)(o % 64) - 8 : 0;
  /* len may understate the buffer, never overstate it: a caller who lies
   * about len cannot be caught by anyone. INT64_MAX is the one exception,
   * as its byte size overflows and must be refused before any read. */
  t.len = (o & 0x40) ? (int64_t)(take(b, 2) % (ELEMENTS / 2 + 100)) - 100 : ELEMENTS / 2;
  if (t.len > ELEMENTS / 2) t.len = ELEMENTS / 2;
  if (o == 0xFF) t.len = INT64_MAX;
  return t;
}

static int declared(simloss_status s) {
  switch (s) {
    case SIMLOSS_OK: case SIMLOSS_ERROR_NULL_POINTER: case SIMLOSS_ERROR_INVALID_ARGUMENT:
    case SIMLOSS_ERROR_OPTIONS_SIZE: case SIMLOSS_ERROR_INVALID_VALUE: case SIMLOSS_ERROR_RANK:
    case SIMLOSS_ERROR_SHAPE_MISMATCH: case SIMLOSS_ERROR_TOO_SMALL: case SIMLOSS_ERROR_OUT_OF_BOUNDS:
    case SIMLOSS_ERROR_OVERLAP: case SIMLOSS_ERROR_INVALID_SHAPE: case SIMLOSS_ERROR_DTYPE:
    case SIMLOSS_ERROR_DTYPE_MISMATCH: case SIMLOSS_ERROR_OUT_OF_MEMORY: case SIMLOSS_ERROR_OVERFLOW:
      return 1;
    default:
      return 0; /* SIMLOSS_ERROR_INTERNAL is a bug too */
  }
}

static simloss_status call(int which, simloss_tensor *a, simloss_tensor *b, simloss_tensor *c,
                           simloss_tensor *g, int use_grad, int reduction, double knob, double *values, size_t n) {
  const simloss_tensor *grad = use_grad ? g : NULL;
  switch (which) {
    case 0: { simloss_pointwise_options o; simloss_pointwise_options_init(&o); o.reduction = reduction;
              return simloss_l1(a, b, c, &o, values, n, grad); }
    case 1: return simloss_mse(a, b, NULL, NULL, values, n, grad);
    case 2: { simloss_psnr_options o; simloss_psnr_options_init(&o); o.reduction = reduction; o.data_range = knob;
              return simloss_psnr(a, b, &o, values, n, grad); }
    case 3: { simloss_tv_options o; simloss_tv_options_init(&o); o.reduction = reduction; o.kind = (int)knob % 4;
              return simloss_tv(a, &o, values, n, grad); }
    case 4: { simloss_cross_entropy_options o; simloss_cross_entropy_options_init(&o); o.reduction = reduction;
              o.label_smoothing = knob / 4; o.class_axis = (int)knob % 2;
              return simloss_cross_entropy(a, b, c, &o, values, n, grad, NULL); }
    case 5: return simloss_cross_entropy_soft(a, b, c, NULL, values, n, grad, NULL);
    case 6: return simloss_cross_entropy_probs(a, b, NULL, values, n, grad);
    case 7: { simloss_binary_options o; simloss_binary_options_init(&o); o.reduction = reduction;
              return simloss_bce_with_logits(a, b, c, NULL, &o, values, n, grad); }
    case 8: return simloss_bce(a, b, c, NULL, values, n, grad);
    case 9: { simloss_binary_options o; simloss_binary_options_init(&o); o.gamma = knob; o.alpha = knob - 1;
              return simloss_sigmoid_focal(a, b, &o, values, n, grad); }
    case 10: { simloss_ssim_options o; simloss_ssim_options_init(&o); o.reduction = reduction;
               o.window_size = (int)knob; o.border = (int)(knob * 4) % 4; o.luma = (int)(knob * 8) % 2;
               o.matlab_downsample = (int)(knob * 16) % 2;
               return simloss_ssim(a, b, &o, values, n, grad, c, NULL, NULL, 0); }
    case 11: { simloss_ssim_options o; simloss_ssim_options_init(&o); o.window_size = 1 + 2 * ((int)knob % 3);
               o.reduction = reduction; o.sample_covariance = (int)(knob * 2) % 2;
               return simloss_ssim3d(a, b, &o, values, n, grad, NULL, NULL, 0); }
    default: { simloss_ssim_options o; simloss_ssim_options_init(&o); o.window_size = 1 + 2 * ((int)knob % 3);
               simloss_ms_ssim_options m; simloss_ms_ssim_options_init(&m); m.levels = 1;
               double w1 = 1; m.weights = &w1;
               return simloss_ms_ssim(a, b, &o, &m, values, n, grad); }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static double x[ELEMENTS], y[ELEMENTS], w[ELEMENTS], g[ELEMENTS];
  bytes b = {data, size, 0};
  int which = (int)(take(&b, 1) % 13);
  /* Element values: mostly ordinary, some extreme. */
  for (int i = 0; i < ELEMENTS; i++) {
    x[i] = (double)(i % 13) / 7 - 0.9;
    y[i] = (double)(i % 5) / 5;
    w[i] = (double)(i % 3);
  }
  uint64_t special = take(&b, 1);
  if (special & 1) x[take(&b, 1)] = INFINITY;
  if (special & 2) x[take(&b, 1)] = NAN;
  if (special & 4) y[take(&b, 1)] = -1e300;
  /* float32 views of the same buffers use the first half as floats. */
  int hint = (special & 8) ? SIMLOSS_FLOAT32 : SIMLOSS_FLOAT64;
  if (hint == SIMLOSS_FLOAT32)
    for (int i = 0; i < ELEMENTS; i++) { ((float *)x)[i] = (float)(i % 11) / 5 - 1; ((float *)y)[i] = (float)(i % 2); }
  simloss_tensor a = tensor(&b, x, hint);
  int target_hint = which == 4 ? ((special & 16) ? SIMLOSS_INT64 : SIMLOSS_INT32) : hint;
  if (which == 4) {
    int64_t *idx = (int64_t *)y;
    for (int i = 0; i < ELEMENTS / 2; i++) idx[i] = (int64_t)(i % 4) - ((special & 32) ? 1 : 0);
  }
  simloss_tensor t = tensor(&b, y, target_hint);
  simloss_tensor c = tensor(&b, w, hint);
  simloss_tensor gr = tensor(&b, g, hint);
  int use_grad = (int)(take(&b, 1) % 2);
  int reduction = (int)(take(&b, 1) % 4);
  double knob = (double)take(&b, 1) / 16;
  size_t n = (size_t)(take(&b, 2) % 5000);
  /* Both outputs start equal: a call writes only as many values as its
   * reduction needs, and the rest must compare equal too. */
  static double values[5000], again[5000];
  memset(values, 0, sizeof values);
  memset(again, 0, sizeof again);
  simloss_status s1 = call(which, &a, &t, (special & 64) ? &c : NULL, &gr, use_grad, reduction, knob, values, n);
  if (!declared(s1)) abort();
  simloss_status s2 = call(which, &a, &t, (special & 64) ? &c : NULL, &gr, use_grad, reduction, knob, again, n);
  if (s1 != s2) abort();
  if (s1 == SIMLOSS_OK) {
    for (size_t i = 0; i < n; i++)
      if (memcmp(&values[i], &again[i], sizeof(double)) != 0 && !(isnan(values[i]) && isnan(again[i]))) abort();
  }
  return 0;
}
