/* simloss.h, "Cross-entropy": values against double formulas written here,
 * layouts, statistics, gradients against central differences, bad input. */
#include "check.h"

static double lse(const double *x, int n, int stride) {
  double m = -INFINITY, s = 0;
  for (int c = 0; c < n; c++) m = fmax(m, x[c * stride]);
  for (int c = 0; c < n; c++) s += exp(x[c * stride] - m);
  return m + log(s);
}

/* simloss_cross_entropy(): [[0, 0]] against class 0 is log 2. */
static void test_cross_entropy_log2(void) {
  double x[2] = {0, 0}, v;
  int64_t y[1] = {0}, shape[2] = {1, 2}, tshape[1] = {1};
  simloss_tensor tx, ty;
  CHECK_OK(simloss_tensor_init_dense(&tx, x, SIMLOSS_FLOAT64, 2, shape));
  CHECK_OK(simloss_tensor_init_dense(&ty, y, SIMLOSS_INT64, 1, tshape));
  CHECK_OK(simloss_cross_entropy(&tx, &ty, NULL, NULL, &v, 1, NULL, NULL));
  CHECK_CLOSE(v, log(2.0), 1e-15, 0);
}

enum { N = 2, C = 5, H = 3, W = 4, P = N * H * W };

/* Segmentation (N, C, H, W) with weights and ignored pixels: MEAN divides by
 * the counted weight; stats report it; channel-last gives the same. */
static void test_cross_entropy_segmentation_weights_ignore(void) {
  static double x[N * C * H * W], xl[N * H * W * C], g[N * C * H * W], gl[N * H * W * C];
  int32_t y[P];
  double w[C] = {0.5, 1, 2, 1.5, 0.25};
  unsigned long long s = 81;
  for (int i = 0; i < N * C * H * W; i++) x[i] = 6 * test_uniform(&s) - 3;
  for (int i = 0; i < P; i++) y[i] = test_uniform(&s) < 0.25 ? -100 : (int32_t)(test_uniform(&s) * C);
  double sum = 0, den = 0;
  int64_t counted = 0;
  for (int n = 0; n < N; n++)
    for (int p = 0; p < H * W; p++) {
      const double *xp = x + n * C * H * W + p;
      for (int c = 0; c < C; c++) xl[(n * H * W + p) * C + c] = xp[c * H * W];
      int yy = y[n * H * W + p];
      if (yy == -100) continue;
      sum += w[yy] * (lse(xp, C, H * W) - xp[yy * H * W]);
      den += w[yy];
      counted++;
    }
  simloss_tensor tx, txl, ty, tw, tg, tgl;
  int64_t xs[4] = {N, C, H, W}, xls[4] = {N, H, W, C}, ys[3] = {N, H, W}, ws[1] = {C};
  CHECK_OK(simloss_tensor_init_dense(&tx, x, SIMLOSS_FLOAT64, 4, xs));
  CHECK_OK(simloss_tensor_init_dense(&txl, xl, SIMLOSS_FLOAT64, 4, xls));
  CHECK_OK(simloss_tensor_init_dense(&tg, g, SIMLOSS_FLOAT64, 4, xs));
  CHECK_OK(simloss_tensor_init_dense(&tgl, gl, SIMLOSS_FLOAT64, 4, xls));
  CHECK_OK(simloss_tensor_init_dense(&ty, y, SIMLOSS_INT32, 3, ys));
  CHECK_OK(simloss_tensor_init_dense(&tw, w, SIMLOSS_FLOAT64, 1, ws));
  simloss_cross_entropy_stats stats;
  double v, vl;
  CHECK_OK(simloss_cross_entropy(&tx, &ty, &tw, NULL, &v, 1, &tg, &stats));
  CHECK_CLOSE(v, sum / den, 1e-13, 0);
  CHECK_CLOSE(stats.denominator, den, 1e-15, 0);
  CHECK(stats.counted == counted);
  simloss_cross_entropy_options o;
  simloss_cross_entropy_options_init(&o);
  o.class_axis = SIMLOSS_CLASS_AXIS_LAST;
  CHECK_OK(simloss_cross_entropy(&txl, &ty, &tw, &o, &vl, 1, &tgl, NULL));
  CHECK_CLOSE(vl, v, 1e-14, 0);
  for (int n = 0; n < N; n++)
    for (int p = 0; p < H * W; p++)
      for (int c = 0; c < C; c++)
        CHECK_CLOSE(gl[(n * H * W + p) * C + c], g[n * C * H * W + c * H * W + p], 1e-12, 1e-15);
  /* Central differences of the MEAN with label smoothing. */
  o.class_axis = SIMLOSS_CLASS_AXIS_SECOND;
  o.label_smoothing = 0.1;
  CHECK_OK(simloss_cross_entropy(&tx, &ty, &tw, &o, &v, 1, &tg, NULL));
  for (int k = 0; k < N * C * H * W; k += 3) {
    double saved = x[k], up, down, h = 1e-6;
    x[k] = saved + h;
    CHECK_OK(simloss_cross_entropy(&tx, &ty, &tw, &o, &up, 1, NULL, NULL));
    x[k] = saved - h;
    CHECK_OK(simloss_cross_entropy(&tx, &ty, &tw, &o, &down, 1, NULL, NULL));
    x[k] = saved;
    CHECK_CLOSE(g[k], (up - down) / (2 * h), 1e-6, 1e-9);
  }
}

/* NONE writes one value per position; all ignored gives 0 for MEAN. */
static void test_cross_entropy_none_and_all_ignored(void) {
  float x[6] = {1, 2, 3, 3, 2, 1}, g[6];
  int64_t y[2] = {2, -100}, xs[2] = {2, 3}, ys[1] = {2};
  simloss_tensor tx, ty, tg;
  CHECK_OK(simloss_tensor_init_dense(&tx, x, SIMLOSS_FLOAT32, 2, xs));
  CHECK_OK(simloss_tensor_init_dense(&ty, y, SIMLOSS_INT64, 1, ys));
  CHECK_OK(simloss_tensor_init_dense(&tg, g, SIMLOSS_FLOAT32, 2, xs));
  simloss_cross_entropy_options o;
  simloss_cross_entropy_options_init(&o);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  double v[2];
  CHECK_OK(simloss_cross_entropy(&tx, &ty, NULL, &o, v, 2, &tg, NULL));
  double xd[3] = {1, 2, 3};
  CHECK_CLOSE(v[0], lse(xd, 3, 1) - 3, 1e-6, 0);
  CHECK(v[1] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0);
  y[0] = -100;
  simloss_cross_entropy_options_init(&o);
  CHECK_OK(simloss_cross_entropy(&tx, &ty, NULL, &o, v, 1, &tg, NULL));
  CHECK(v[0] == 0);
  for (int i = 0; i < 6; i++) CHECK(g[i] == 0);
}

/* Binary losses against their formulas. */
static void test_binary_losses_match_formulas(void) {
  double x[4] = {-3, -0.5, 0.7, 12}, y[4] = {0, 1, 0.3, 1}, p[4] = {0.1, 0.5, 0.0, 1.0}, v[4];
  int64_t shape[1] = {4};
  simloss_tensor tx, ty, tp;
  CHECK_OK(simloss_tensor_init_dense(&tx, x, SIMLOSS_FLOAT64, 1, shape));
  CHECK_OK(simloss_tensor_init_dense(&ty, y, SIMLOSS_FLOAT64, 1, shape));
  CHECK_OK(simloss_tensor_init_dense(&tp, p, SIMLOSS_FLOAT64, 1, shape));
  simloss_binary_options o;
  simloss_binary_options_init(&o);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  CHECK_OK(simloss_bce_with_logits(&tx, &ty, NULL, NULL, &o, v, 4, NULL));
  for (int i = 0; i < 4; i++)
    CHECK_CLOSE(v[i], fmax(x[i], 0) - x[i] * y[i] + log1p(exp(-fabs(x[i]))), 1e-13, 1e-300);
  CHECK_OK(simloss_sigmoid_focal(&tx, &ty, &o, v, 4, NULL));
  for (int i = 0; i < 4; i++) {
    double s = 1 / (1 + exp(-x[i])), ce = fmax(x[i], 0) - x[i] * y[i] + log1p(exp(-fabs(x[i])));
    double pt = s * y[i] + (1 - s) * (1 - y[i]), at = 0.25 * y[i] + 0.75 * (1 - y[i]);
    CHECK_CLOSE(v[i], at * ce * pow(1 - pt, 2), 1e-10, 1e-300);
  }
  double yb[4] = {1, 0, 0, 1};
  simloss_tensor tyb;
  CHECK_OK(simloss_tensor_init_dense(&tyb, yb, SIMLOSS_FLOAT64, 1, shape));
  CHECK_OK(simloss_bce(&tp, &tyb, NULL, &o, v, 4, NULL));
  CHECK_CLOSE(v[0], -log(0.1), 1e-14, 0);
  CHECK_CLOSE(v[1], -log(0.5), 1e-14, 0);
  CHECK(v[2] == 0 && v[3] == 0);
  yb[2] = 1; /* p = 0 against y = 1: the clamped log gives 100 */
  CHECK_OK(simloss_bce(&tp, &tyb, NULL, &o, v, 4, NULL));
  CHECK(v[2] == 100);
}

/* H(P, Q) from probabilities: -sum P log Q, clamped at -100. */
static void test_cross_entropy_probs(void) {
  double q[4] = {0.25, 0.75, 0.0, 1.0}, pt[4] = {0.5, 0.5, 1.0, 0.0}, v[2], g[4];
  int64_t shape[2] = {2, 2};
  simloss_tensor tq, tp, tg;
  CHECK_OK(simloss_tensor_init_dense(&tq, q, SIMLOSS_FLOAT64, 2, shape));
  CHECK_OK(simloss_tensor_init_dense(&tp, pt, SIMLOSS_FLOAT64, 2, shape));
  CHECK_OK(simloss_tensor_init_dense(&tg, g, SIMLOSS_FLOAT64, 2, shape));
  simloss_cross_entropy_options o;
  simloss_cross_entropy_options_init(&o);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  CHECK_OK(simloss_cross_entropy_probs(&tq, &tp, &o, v, 2, &tg));
  CHECK_CLOSE(v[0], -(0.5 * log(0.25) + 0.5 * log(0.75)), 1e-15, 0);
  CHECK(v[1] == 100);
  CHECK_CLOSE(g[0], -0.5 / 0.25, 1e-15, 0);
  CHECK(g[2] == 0 && g[3] == 0);
}

/* Bad input: each error names what is wrong. */
static void test_cross_entropy_bad_input(void) {
  double x[6] = {0}, v[2], p[2] = {0.5, 1.5};
  int64_t y[2] = {0, 7}, xs[2] = {2, 3}, ys[1] = {2};
  float yf[2] = {0, 1};
  simloss_tensor tx, ty, tyf, tp;
  CHECK_OK(simloss_tensor_init_dense(&tx, x, SIMLOSS_FLOAT64, 2, xs));
  CHECK_OK(simloss_tensor_init_dense(&ty, y, SIMLOSS_INT64, 1, ys));
  CHECK_STATUS(simloss_cross_entropy(&tx, &ty, NULL, NULL, v, 1, NULL, NULL), SIMLOSS_ERROR_INVALID_VALUE);
  CHECK_MESSAGE("target: class index 7 at (1) is outside [0, 3) and is not ignore_index (-100)");
  CHECK_OK(simloss_tensor_init_dense(&tyf, yf, SIMLOSS_FLOAT32, 1, ys));
  CHECK_STATUS(simloss_cross_entropy(&tx, &tyf, NULL, NULL, v, 1, NULL, NULL), SIMLOSS_ERROR_DTYPE);
  CHECK_MESSAGE("target: dtype float32 is not int32 or int64 class indices");
  /* Integer logits: named as such (it said the dtype differed from the
   * call's float64). */
  int32_t xi[6] = {0};
  simloss_tensor txi;
  CHECK_OK(simloss_tensor_init_dense(&txi, xi, SIMLOSS_INT32, 2, xs));
  CHECK_STATUS(simloss_cross_entropy(&txi, &ty, NULL, NULL, v, 1, NULL, NULL), SIMLOSS_ERROR_DTYPE);
  CHECK_MESSAGE("logits: dtype int32 is not float32 or float64");
  y[1] = 1;
  simloss_cross_entropy_options o;
  simloss_cross_entropy_options_init(&o);
  o.class_axis = 5;
  CHECK_STATUS(simloss_cross_entropy(&tx, &ty, NULL, &o, v, 1, NULL, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("options.class_axis: 5");
  /* An older caller whose struct ends before label_smoothing. */
  o.class_axis = SIMLOSS_CLASS_AXIS_SECOND;
  o.label_smoothing = 0.5;
  o.size = offsetof(simloss_cross_entropy_options, label_smoothing);
  CHECK_OK(simloss_cross_entropy(&tx, &ty, NULL, &o, v, 1, NULL, NULL));
  CHECK_CLOSE(v[0], log(3.0), 1e-15, 0);
  CHECK_OK(simloss_tensor_init_dense(&tp, p, SIMLOSS_FLOAT64, 1, ys));
  CHECK_STATUS(simloss_bce(&tp, &tp, NULL, NULL, v, 1, NULL), SIMLOSS_ERROR_INVALID_VALUE);
  CHECK_MESSAGE("probs: element (1) is 1.5; it must be in [0, 1]");
  /* Rank-1 "logits" are refused by name (this once trapped, found by
   * Tests/fuzz). */
  CHECK_STATUS(simloss_cross_entropy_probs(&tp, &tp, NULL, v, 1, NULL), SIMLOSS_ERROR_RANK);
  CHECK_MESSAGE("probs: rank 1 with shape (2); logits need a sample and a class dimension");
  CHECK_STATUS(simloss_cross_entropy_soft(&tp, &tp, NULL, NULL, v, 1, NULL, NULL), SIMLOSS_ERROR_RANK);
  simloss_binary_options bo;
  simloss_binary_options_init(&bo);
  bo.gamma = -1;
  CHECK_STATUS(simloss_sigmoid_focal(&tp, &tp, &bo, v, 1, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("gamma: -1.0 must be finite and >= 0");
}

/* A gradient whose memory holds the class indices: refused before anything
 * is written (the indices were read again after gradient rows had
 * overwritten them, and the process crashed at 1000 x 10). */
static void test_cross_entropy_gradient_over_targets(void) {
  enum { N = 1000, C = 10 };
  static float logits[N * C], buffer[N * C];
  int32_t *indices = (int32_t *)buffer;
  for (int i = 0; i < N * C; i++) logits[i] = (float)((i * 7919) % 13) * 0.3f;
  for (int i = 0; i < N; i++) indices[i] = i % C;
  int64_t xs[2] = {N, C}, ys[1] = {N};
  simloss_tensor tx, ty, tg;
  CHECK_OK(simloss_tensor_init_dense(&tx, logits, SIMLOSS_FLOAT32, 2, xs));
  CHECK_OK(simloss_tensor_init_dense(&ty, indices, SIMLOSS_INT32, 1, ys));
  CHECK_OK(simloss_tensor_init_dense(&tg, buffer, SIMLOSS_FLOAT32, 2, xs));
  double v;
  CHECK_STATUS(simloss_cross_entropy(&tx, &ty, NULL, NULL, &v, 1, &tg, NULL), SIMLOSS_ERROR_OVERLAP);
  CHECK_MESSAGE("grad: output memory overlaps input target");
  for (int i = 0; i < N; i++) CHECK(indices[i] == i % C);
}

/* A gradient over the class weights: refused like any output over an input
 * (it was accepted, for class indices and for probability targets). */
static void test_cross_entropy_gradient_over_weights(void) {
  float logits[2 * 4] = {0.1f, -2, 3, 0.5f, 1, 1, -1, 0}, buffer[2 * 4] = {1, 2, 3, 4, 0, 0, 0, 0};
  float soft[2 * 4] = {0.25f, 0.25f, 0.25f, 0.25f, 0, 1, 0, 0};
  int64_t indices[2] = {2, 0};
  int64_t xs[2] = {2, 4}, ys[1] = {2}, ws[1] = {4};
  simloss_tensor tx, ty, tp, tw, tg;
  CHECK_OK(simloss_tensor_init_dense(&tx, logits, SIMLOSS_FLOAT32, 2, xs));
  CHECK_OK(simloss_tensor_init_dense(&ty, indices, SIMLOSS_INT64, 1, ys));
  CHECK_OK(simloss_tensor_init_dense(&tp, soft, SIMLOSS_FLOAT32, 2, xs));
  CHECK_OK(simloss_tensor_init_dense(&tw, buffer, SIMLOSS_FLOAT32, 1, ws));
  CHECK_OK(simloss_tensor_init_dense(&tg, buffer, SIMLOSS_FLOAT32, 2, xs));
  double v = -1;
  CHECK_STATUS(simloss_cross_entropy(&tx, &ty, &tw, NULL, &v, 1, &tg, NULL), SIMLOSS_ERROR_OVERLAP);
  CHECK_MESSAGE("grad: output memory overlaps input weight");
  CHECK_STATUS(simloss_cross_entropy_soft(&tx, &tp, &tw, NULL, &v, 1, &tg, NULL), SIMLOSS_ERROR_OVERLAP);
  CHECK_MESSAGE("grad: output memory overlaps input weight");
  CHECK(v == -1 && buffer[0] == 1 && buffer[3] == 4 && buffer[4] == 0);
}

int main(void) {
  static const test_case tests[] = {
    TEST(test_cross_entropy_log2),
    TEST(test_cross_entropy_segmentation_weights_ignore),
    TEST(test_cross_entropy_none_and_all_ignored),
    TEST(test_binary_losses_match_formulas),
    TEST(test_cross_entropy_probs),
    TEST(test_cross_entropy_bad_input),
    TEST(test_cross_entropy_gradient_over_targets),
    TEST(test_cross_entropy_gradient_over_weights),
  };
  return RUN_TESTS(tests);
}
