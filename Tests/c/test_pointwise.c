/* simloss.h, "Pointwise losses" (L1, MSE) and "PSNR": values against
 * double formulas written here, gradients against central differences. */
#include "check.h"

enum { N = 2, C = 3, H = 5, W = 7, COUNT = N * C * H * W };

static void fill(double *x, size_t n, unsigned long long seed, double lo, double hi) {
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * test_uniform(&seed);
}

typedef simloss_status (*pointwise_fn)(const simloss_tensor *, const simloss_tensor *,
                                       const simloss_tensor *, const simloss_pointwise_options *,
                                       double *, size_t, const simloss_tensor *);

/* The reference: per-sample weighted sums of |d| or d^2, in double. */
static void reference(int squared, const double *p, const double *t, const double *w_nhw,
                      double *sample_sum, double *sample_weight) {
  for (int n = 0; n < N; n++) {
    sample_sum[n] = sample_weight[n] = 0;
    for (int c = 0; c < C; c++)
      for (int i = 0; i < H * W; i++) {
        int k = (n * C + c) * H * W + i;
        double w = w_nhw ? w_nhw[n * H * W + i] : 1.0;
        double d = p[k] - t[k];
        sample_sum[n] += w * (squared ? d * d : fabs(d));
        sample_weight[n] += w;
      }
  }
}

static void check_against_reference(pointwise_fn fn, int squared, const double *w_nhw) {
  static double p[COUNT], t[COUNT], w[N * H * W];
  fill(p, COUNT, 11, -1, 1);
  fill(t, COUNT, 12, -1, 1);
  simloss_tensor pt, tt, wt;
  CHECK_OK(simloss_tensor_init_nchw(&pt, p, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&tt, t, SIMLOSS_FLOAT64, N, C, H, W));
  if (w_nhw) {
    memcpy(w, w_nhw, sizeof w);
    CHECK_OK(simloss_tensor_init_nchw(&wt, w, SIMLOSS_FLOAT64, N, 1, H, W));
  }
  double sums[N], weights[N];
  reference(squared, p, t, w_nhw, sums, weights);
  simloss_pointwise_options o;
  simloss_pointwise_options_init(&o);
  double v[N];
  CHECK_OK(fn(&pt, &tt, w_nhw ? &wt : NULL, &o, v, 1, NULL));
  CHECK_CLOSE(v[0], (sums[0] + sums[1]) / (weights[0] + weights[1]), 1e-14, 0);
  o.reduction = SIMLOSS_REDUCTION_SUM;
  CHECK_OK(fn(&pt, &tt, w_nhw ? &wt : NULL, &o, v, 1, NULL));
  CHECK_CLOSE(v[0], sums[0] + sums[1], 1e-14, 0);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  CHECK_OK(fn(&pt, &tt, w_nhw ? &wt : NULL, &o, v, N, NULL));
  CHECK_CLOSE(v[0], sums[0] / weights[0], 1e-14, 0);
  CHECK_CLOSE(v[1], sums[1] / weights[1], 1e-14, 0);
}

/* simloss_l1() and simloss_mse(): each reduction equals the formula. */
static void test_l1_matches_formula(void) { check_against_reference(simloss_l1, 0, NULL); }
static void test_mse_matches_formula(void) { check_against_reference(simloss_mse, 1, NULL); }

/* With an (N, 1, H, W) mask broadcast over channels, the mean is over the
 * mask's weight. */
static void test_weighted_mean_is_over_the_weight(void) {
  double w[N * H * W];
  fill(w, N * H * W, 13, 0, 2);
  w[3] = 0;
  check_against_reference(simloss_l1, 0, w);
  check_against_reference(simloss_mse, 1, w);
}

/* A sample whose weights are all 0 has value 0 and gradient 0. */
static void test_zero_weight_gives_zero(void) {
  double p[4] = {1, 2, 3, 4}, t[4] = {0}, w[2] = {0, 0}, g[4] = {9, 9, 9, 9}, v[2];
  simloss_tensor pt, tt, wt, gt;
  int64_t shape[2] = {2, 2}, wshape[2] = {2, 1};
  CHECK_OK(simloss_tensor_init_dense(&pt, p, SIMLOSS_FLOAT64, 2, shape));
  CHECK_OK(simloss_tensor_init_dense(&tt, t, SIMLOSS_FLOAT64, 2, shape));
  CHECK_OK(simloss_tensor_init_dense(&gt, g, SIMLOSS_FLOAT64, 2, shape));
  CHECK_OK(simloss_tensor_init_dense(&wt, w, SIMLOSS_FLOAT64, 2, wshape));
  CHECK_OK(simloss_l1(&pt, &tt, &wt, NULL, v, 1, &gt));
  CHECK(v[0] == 0 && g[0] == 0 && g[3] == 0);
  w[1] = 1; /* sample 1 counts, sample 0 does not */
  simloss_pointwise_options o;
  simloss_pointwise_options_init(&o);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  CHECK_OK(simloss_l1(&pt, &tt, &wt, &o, v, 2, &gt));
  CHECK(v[0] == 0 && v[1] == 3.5);
  CHECK(g[0] == 0 && g[1] == 0 && g[2] == 0.5 && g[3] == 0.5);
}

/* A negative or NaN weight is an error naming the element. */
static void test_bad_weight_is_named(void) {
  double p[4] = {1, 2, 3, 4}, t[4] = {0}, w[4] = {1, 1, -1, 1}, v;
  simloss_tensor pt, tt, wt;
  CHECK_OK(simloss_tensor_init_nchw(&pt, p, SIMLOSS_FLOAT64, 1, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&tt, t, SIMLOSS_FLOAT64, 1, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&wt, w, SIMLOSS_FLOAT64, 1, 1, 2, 2));
  CHECK_STATUS(simloss_mse(&pt, &tt, &wt, NULL, &v, 1, NULL), SIMLOSS_ERROR_INVALID_VALUE);
  CHECK_MESSAGE("weight: element (0, 0, 1, 0) is -1.0");
  w[2] = NAN;
  CHECK_STATUS(simloss_mse(&pt, &tt, &wt, NULL, &v, 1, NULL), SIMLOSS_ERROR_INVALID_VALUE);
  CHECK_MESSAGE("is nan");
}

/* Central differences of the returned value, for float64 inputs. */
static void check_gradient(int which, int reduction, const double *w_nhw) {
  static double p[COUNT], t[COUNT], g[COUNT], w[N * H * W];
  fill(p, COUNT, 21, 0, 1);
  fill(t, COUNT, 22, 0, 1);
  simloss_tensor pt, tt, gt, wt;
  CHECK_OK(simloss_tensor_init_nchw(&pt, p, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&tt, t, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&gt, g, SIMLOSS_FLOAT64, N, C, H, W));
  if (w_nhw) {
    memcpy(w, w_nhw, sizeof w);
    CHECK_OK(simloss_tensor_init_nchw(&wt, w, SIMLOSS_FLOAT64, N, 1, H, W));
  }
  simloss_pointwise_options o;
  simloss_pointwise_options_init(&o);
  o.reduction = reduction;
  simloss_psnr_options po;
  simloss_psnr_options_init(&po);
  po.reduction = reduction;
  po.data_range = 2.0;
  double v[N];
#define EVAL(gp)                                                                   \
  (which == 0   ? simloss_l1(&pt, &tt, w_nhw ? &wt : NULL, &o, v, N, gp)          \
   : which == 1 ? simloss_mse(&pt, &tt, w_nhw ? &wt : NULL, &o, v, N, gp)         \
                : simloss_psnr(&pt, &tt, &po, v, N, gp))
#define TOTAL() (reduction == SIMLOSS_REDUCTION_NONE ? v[0] + v[1] : v[0])
  CHECK_OK(EVAL(&gt));
  const double h = 1e-6;
  for (int k = 0; k < COUNT; k += 7) {
    double saved = p[k];
    p[k] = saved + h;
    CHECK_OK(EVAL(NULL));
    double up = TOTAL();
    p[k] = saved - h;
    CHECK_OK(EVAL(NULL));
    double down = TOTAL();
    p[k] = saved;
    CHECK_CLOSE(g[k], (up - down) / (2 * h), 1e-6, 1e-9);
  }
#undef EVAL
#undef TOTAL
}

static void test_gradients_match_central_differences(void) {
  double w[N * H * W];
  fill(w, N * H * W, 23, 0.1, 2);
  for (int which = 0; which < 3; which++)
    for (int r = 0; r <= 2; r++) {
      check_gradient(which, r, NULL);
      if (which < 2) check_gradient(which, r, w);
    }
}

/* simloss_psnr(): 10 log10(L^2 / mse) per image, mean over images; +inf
 * and a zero gradient for identical images. */
static void test_psnr_matches_formula(void) {
  double p[2 * 4], t[2 * 4], g[8], v[2];
  fill(p, 8, 31, 0, 255);
  fill(t, 8, 32, 0, 255);
  memcpy(t + 4, p + 4, 4 * sizeof(double)); /* image 1 identical */
  simloss_tensor pt, tt, gt;
  CHECK_OK(simloss_tensor_init_nchw(&pt, p, SIMLOSS_FLOAT64, 2, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&tt, t, SIMLOSS_FLOAT64, 2, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&gt, g, SIMLOSS_FLOAT64, 2, 1, 2, 2));
  simloss_psnr_options o;
  simloss_psnr_options_init(&o);
  o.data_range = 255;
  o.reduction = SIMLOSS_REDUCTION_NONE;
  CHECK_OK(simloss_psnr(&pt, &tt, &o, v, 2, &gt));
  double mse = 0;
  for (int i = 0; i < 4; i++) mse += (p[i] - t[i]) * (p[i] - t[i]) / 4;
  CHECK_CLOSE(v[0], 10 * log10(255.0 * 255.0 / mse), 1e-14, 0);
  CHECK(isinf(v[1]) && v[1] > 0);
  CHECK(g[4] == 0 && g[7] == 0);
  /* data_range 0 selects 1.0. */
  o.data_range = 0;
  CHECK_OK(simloss_psnr(&pt, &tt, &o, v, 2, NULL));
  CHECK_CLOSE(v[0], 10 * log10(1.0 / mse), 1e-14, 0);
  o.data_range = -1;
  CHECK_STATUS(simloss_psnr(&pt, &tt, &o, v, 2, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("data_range: -1.0");
}

/* float32 inputs: the value is the double formula of the float values to
 * double rounding (differences are formed in double). */
static void test_float32_value_is_exact(void) {
  static float pf[COUNT], tf[COUNT];
  static double p[COUNT], t[COUNT];
  /* The rounding to float goes through a volatile, so that the doubles are
   * exactly the floats: gcc 12 at -O3 otherwise kept the unrounded values
   * in the double copies. */
  fill(p, COUNT, 41, -1, 1);
  fill(t, COUNT, 42, -1, 1);
  for (int i = 0; i < COUNT; i++) {
    volatile float a = (float)p[i], b = (float)t[i];
    pf[i] = a;
    tf[i] = b;
    p[i] = a;
    t[i] = b;
  }
  simloss_tensor pt, tt;
  CHECK_OK(simloss_tensor_init_nchw(&pt, pf, SIMLOSS_FLOAT32, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&tt, tf, SIMLOSS_FLOAT32, N, C, H, W));
  double sums[N], weights[N], v;
  reference(0, p, t, NULL, sums, weights);
  CHECK_OK(simloss_l1(&pt, &tt, NULL, NULL, &v, 1, NULL));
  CHECK_CLOSE(v, (sums[0] + sums[1]) / COUNT, 1e-14, 0);
  reference(1, p, t, NULL, sums, weights);
  CHECK_OK(simloss_mse(&pt, &tt, NULL, NULL, &v, 1, NULL));
  CHECK_CLOSE(v, (sums[0] + sums[1]) / COUNT, 1e-14, 0);
}

/* The same logical tensor read as NCHW, as NHWC, and as a strided slice of
 * a larger buffer gives bitwise the same value and gradient. */
static void test_layouts_bitwise_equal(void) {
  static float nchw[COUNT], nhwc[COUNT], t[COUNT], big[N * C * H * (2 * W)];
  static float g1[COUNT], g2[COUNT], g3[COUNT];
  double d[COUNT];
  fill(d, COUNT, 51, 0, 1);
  for (int i = 0; i < COUNT; i++) nchw[i] = (float)d[i];
  fill(d, COUNT, 52, 0, 1);
  for (int i = 0; i < COUNT; i++) t[i] = (float)d[i];
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) {
          float x = nchw[((n * C + c) * H + h) * W + w];
          nhwc[((n * H + h) * W + w) * C + c] = x;
          big[((n * C + c) * H + h) * (2 * W) + 2 * w] = x;
        }
  simloss_tensor a, b, s, tt, ga, gb, gs;
  CHECK_OK(simloss_tensor_init_nchw(&a, nchw, SIMLOSS_FLOAT32, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nhwc(&b, nhwc, SIMLOSS_FLOAT32, N, H, W, C));
  CHECK_OK(simloss_tensor_init_nchw(&s, big, SIMLOSS_FLOAT32, N, C, H, 2 * W));
  s.shape[3] = W;
  s.strides[3] = 2;
  CHECK_OK(simloss_tensor_init_nchw(&tt, t, SIMLOSS_FLOAT32, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&ga, g1, SIMLOSS_FLOAT32, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&gb, g2, SIMLOSS_FLOAT32, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&gs, g3, SIMLOSS_FLOAT32, N, C, H, W));
  pointwise_fn fns[2] = {simloss_l1, simloss_mse};
  for (int f = 0; f < 2; f++) {
    double va, vb, vs;
    CHECK_OK(fns[f](&a, &tt, NULL, NULL, &va, 1, &ga));
    CHECK_OK(fns[f](&b, &tt, NULL, NULL, &vb, 1, &gb));
    CHECK_OK(fns[f](&s, &tt, NULL, NULL, &vs, 1, &gs));
    CHECK(va == vb && va == vs);
    CHECK(memcmp(g1, g2, sizeof g1) == 0 && memcmp(g1, g3, sizeof g1) == 0);
  }
}

/* Options: NULL means defaults; an older, shorter struct takes defaults for
 * the fields it lacks; a longer one is accepted only with a zero tail. */
static void test_options_struct_sizes(void) {
  double p[4] = {1, 2, 3, 4}, t[4] = {0}, v[2];
  simloss_tensor pt, tt;
  CHECK_OK(simloss_tensor_init_nchw(&pt, p, SIMLOSS_FLOAT64, 2, 1, 1, 2));
  CHECK_OK(simloss_tensor_init_nchw(&tt, t, SIMLOSS_FLOAT64, 2, 1, 1, 2));
  struct { simloss_psnr_options o; unsigned char extra[8]; } big;
  memset(&big, 0, sizeof big);
  simloss_psnr_options_init(&big.o);
  big.o.data_range = 4;
  big.o.size = sizeof big;
  CHECK_OK(simloss_psnr(&pt, &tt, &big.o, v, 1, NULL));
  double expected = 10 * log10(16.0 / 2.5);
  CHECK_CLOSE(v[0], (expected + 10 * log10(16.0 / 12.5)) / 2, 1e-14, 0);
  big.extra[3] = 1;
  CHECK_STATUS(simloss_psnr(&pt, &tt, &big.o, v, 1, NULL), SIMLOSS_ERROR_OPTIONS_SIZE);
  CHECK_MESSAGE("byte 27 is not zero");
  /* An old struct that ends before data_range: data_range takes 1.0. */
  big.o.size = offsetof(simloss_psnr_options, data_range);
  CHECK_OK(simloss_psnr(&pt, &tt, &big.o, v, 1, NULL));
  CHECK_CLOSE(v[0], (10 * log10(1 / 2.5) + 10 * log10(1 / 12.5)) / 2, 1e-14, 0);
  big.o.size = 3;
  CHECK_STATUS(simloss_psnr(&pt, &tt, &big.o, v, 1, NULL), SIMLOSS_ERROR_OPTIONS_SIZE);
  CHECK_OK(simloss_l1(&pt, &tt, NULL, NULL, v, 1, NULL));
  CHECK(v[0] == 2.5);
}

/* Rank 1 and rank 2 tensors: dimension 0 indexes samples. */
static void test_low_ranks(void) {
  double p[6] = {1, 2, 3, 4, 5, 6}, t[6] = {0, 0, 0, 0, 0, 0}, v[6];
  simloss_tensor pt, tt;
  int64_t s1[1] = {6}, s2[2] = {3, 2};
  simloss_pointwise_options o;
  simloss_pointwise_options_init(&o);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  CHECK_OK(simloss_tensor_init_dense(&pt, p, SIMLOSS_FLOAT64, 1, s1));
  CHECK_OK(simloss_tensor_init_dense(&tt, t, SIMLOSS_FLOAT64, 1, s1));
  CHECK_OK(simloss_mse(&pt, &tt, NULL, &o, v, 6, NULL));
  CHECK(v[0] == 1 && v[5] == 36);
  CHECK_OK(simloss_tensor_init_dense(&pt, p, SIMLOSS_FLOAT64, 2, s2));
  CHECK_OK(simloss_tensor_init_dense(&tt, t, SIMLOSS_FLOAT64, 2, s2));
  CHECK_OK(simloss_mse(&pt, &tt, NULL, &o, v, 3, NULL));
  CHECK(v[0] == 2.5 && v[1] == 12.5 && v[2] == 30.5);
  CHECK_STATUS(simloss_mse(&pt, &tt, NULL, &o, v, 2, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("values_len: 2 is less than the 3 values");
}

int main(void) {
  static const test_case tests[] = {
    TEST(test_l1_matches_formula),
    TEST(test_mse_matches_formula),
    TEST(test_weighted_mean_is_over_the_weight),
    TEST(test_zero_weight_gives_zero),
    TEST(test_bad_weight_is_named),
    TEST(test_gradients_match_central_differences),
    TEST(test_psnr_matches_formula),
    TEST(test_float32_value_is_exact),
    TEST(test_layouts_bitwise_equal),
    TEST(test_options_struct_sizes),
    TEST(test_low_ranks),
  };
  return RUN_TESTS(tests);
}
