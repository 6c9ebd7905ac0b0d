/* simloss.h, "SSIM and MS-SSIM": properties, statuses and gradients from C.
 * (Values against the float64 reference and the published numbers are in
 * Tests/python/test_ssim.py and Tests/SimLossSSIMTests.) */
#include "check.h"

enum { N = 2, C = 3, H = 24, W = 21, COUNT = N * C * H * W };

static void fill(double *x, size_t n, unsigned long long seed) {
  for (size_t i = 0; i < n; i++) x[i] = test_uniform(&seed);
}

/* Identical images give exactly 1; SSIM is symmetric. */
static void test_ssim_identical_and_symmetric(void) {
  static double x[COUNT], y[COUNT];
  fill(x, COUNT, 91);
  fill(y, COUNT, 92);
  simloss_tensor tx, ty;
  CHECK_OK(simloss_tensor_init_nchw(&tx, x, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&ty, y, SIMLOSS_FLOAT64, N, C, H, W));
  double v, w;
  CHECK_OK(simloss_ssim(&tx, &tx, NULL, &v, 1, NULL, NULL, NULL, NULL, 0));
  CHECK(v == 1.0);
  CHECK_OK(simloss_ssim(&tx, &ty, NULL, &v, 1, NULL, NULL, NULL, NULL, 0));
  CHECK_OK(simloss_ssim(&ty, &tx, NULL, &w, 1, NULL, NULL, NULL, NULL, 0));
  CHECK(v == w && v < 1);
}

/* The map has the announced shape, and its mean is the value. */
static void test_ssim_map_and_channels(void) {
  static double x[COUNT], y[COUNT], map[COUNT];
  fill(x, COUNT, 93);
  fill(y, COUNT, 94);
  simloss_tensor tx, ty, tm;
  CHECK_OK(simloss_tensor_init_nchw(&tx, x, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&ty, y, SIMLOSS_FLOAT64, N, C, H, W));
  int64_t image[4] = {N, C, H, W}, shape[4];
  CHECK_OK(simloss_ssim_map_shape(image, NULL, shape));
  CHECK(shape[0] == N && shape[1] == C && shape[2] == H - 10 && shape[3] == W - 10);
  CHECK_OK(simloss_tensor_init_dense(&tm, map, SIMLOSS_FLOAT64, 4, shape));
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  double v[N], per_channel[N * C], cs[N * C];
  CHECK_OK(simloss_ssim(&tx, &ty, &o, v, N, NULL, &tm, per_channel, cs, N * C));
  int64_t plane = shape[2] * shape[3];
  for (int n = 0; n < N; n++) {
    double image_mean = 0;
    for (int c = 0; c < C; c++) {
      double sum = 0;
      for (int64_t i = 0; i < plane; i++) sum += map[(n * C + c) * plane + i];
      CHECK_CLOSE(per_channel[n * C + c], sum / plane, 1e-12, 0);
      CHECK(cs[n * C + c] >= per_channel[n * C + c] - 1e-12 || cs[n * C + c] <= 1);
      image_mean += per_channel[n * C + c] / C;
    }
    CHECK_CLOSE(v[n], image_mean, 1e-14, 0);
  }
}

/* Asking for cs (a division per pixel) changes nothing else, bitwise:
 * values, per-channel means and the gradient, with cs and without. */
static void test_ssim_same_with_and_without_cs(void) {
  static double x[COUNT], y[COUNT], g1[COUNT], g2[COUNT];
  fill(x, COUNT, 95);
  fill(y, COUNT, 96);
  simloss_tensor tx, ty, tg1, tg2;
  CHECK_OK(simloss_tensor_init_nchw(&tx, x, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&ty, y, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&tg1, g1, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&tg2, g2, SIMLOSS_FLOAT64, N, C, H, W));
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  double v1[N], v2[N], pc1[N * C], pc2[N * C], cs[N * C];
  for (int i = 0; i < N * C; i++) cs[i] = 2; /* not a cs: must be overwritten */
  CHECK_OK(simloss_ssim(&tx, &ty, &o, v1, N, &tg1, NULL, pc1, cs, N * C));
  CHECK_OK(simloss_ssim(&tx, &ty, &o, v2, N, &tg2, NULL, pc2, NULL, N * C));
  CHECK(memcmp(v1, v2, sizeof v1) == 0);
  CHECK(memcmp(pc1, pc2, sizeof pc1) == 0);
  CHECK(memcmp(g1, g2, sizeof g1) == 0);
  for (int i = 0; i < N * C; i++) CHECK(fabs(cs[i]) <= 1 && cs[i] != 0);
}

/* The gradient of the returned value against central differences. */
static void test_ssim_gradient_matches_central_differences(void) {
  static double x[COUNT], y[COUNT], g[COUNT];
  fill(x, COUNT, 95);
  fill(y, COUNT, 96);
  simloss_tensor tx, ty, tg;
  CHECK_OK(simloss_tensor_init_nchw(&tx, x, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&ty, y, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&tg, g, SIMLOSS_FLOAT64, N, C, H, W));
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.window_size = 7;
  o.border = SIMLOSS_SSIM_REFLECT;
  double v;
  CHECK_OK(simloss_ssim(&tx, &ty, &o, &v, 1, &tg, NULL, NULL, NULL, 0));
  for (int k = 0; k < COUNT; k += 37) {
    double saved = x[k], up, down, h = 1e-5;
    x[k] = saved + h;
    CHECK_OK(simloss_ssim(&tx, &ty, &o, &up, 1, NULL, NULL, NULL, NULL, 0));
    x[k] = saved - h;
    CHECK_OK(simloss_ssim(&tx, &ty, &o, &down, 1, NULL, NULL, NULL, NULL, 0));
    x[k] = saved;
    CHECK_CLOSE(g[k], (up - down) / (2 * h), 1e-5, 1e-10);
  }
}

/* MS-SSIM: the minimum side, and a clear error below it. */
static void test_ms_ssim_minimum_side(void) {
  int64_t side = 0;
  CHECK_OK(simloss_ms_ssim_min_side(NULL, NULL, &side));
  CHECK(side == 161);
  static float x[160 * 170], y[160 * 170];
  simloss_tensor tx, ty;
  CHECK_OK(simloss_tensor_init_nchw(&tx, x, SIMLOSS_FLOAT32, 1, 1, 160, 170));
  CHECK_OK(simloss_tensor_init_nchw(&ty, y, SIMLOSS_FLOAT32, 1, 1, 160, 170));
  double v;
  CHECK_STATUS(simloss_ms_ssim(&tx, &ty, NULL, NULL, &v, 1, NULL), SIMLOSS_ERROR_TOO_SMALL);
  CHECK_MESSAGE("161");
  simloss_ms_ssim_options mo;
  simloss_ms_ssim_options_init(&mo);
  mo.levels = 3;
  CHECK_STATUS(simloss_ms_ssim(&tx, &ty, NULL, &mo, &v, 1, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("options.weights: NULL selects the 5 weights");
  double weights[3] = {0.2, 0.3, 0.5};
  mo.weights = weights;
  CHECK_OK(simloss_ms_ssim(&tx, &ty, NULL, &mo, &v, 1, NULL));
  CHECK(v == 1.0);
  /* levels 0 selects 5 only with the default weights: with weights given it
   * read 5 of them from an array of 3 (an adversarial review found the
   * Python binding passing an empty array this way). */
  mo.levels = 0;
  CHECK_STATUS(simloss_ms_ssim(&tx, &ty, NULL, &mo, &v, 1, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("options.levels: 0 with weights given; set it to their count, 1...16");
}

/* Bad options and shapes get their statuses. */
static void test_ssim_bad_input(void) {
  static double x[COUNT];
  simloss_tensor tx, small;
  CHECK_OK(simloss_tensor_init_nchw(&tx, x, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&small, x, SIMLOSS_FLOAT64, 1, 1, 8, 30));
  double v;
  CHECK_STATUS(simloss_ssim(&small, &small, NULL, &v, 1, NULL, NULL, NULL, NULL, 0), SIMLOSS_ERROR_TOO_SMALL);
  CHECK_MESSAGE("the minimum size is 11 x 11 for window 11");
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.border = 7;
  CHECK_STATUS(simloss_ssim(&tx, &tx, &o, &v, 1, NULL, NULL, NULL, NULL, 0), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("options.border: 7");
  simloss_ssim_options_init(&o);
  o.luma = 1;
  simloss_tensor two;
  CHECK_OK(simloss_tensor_init_nchw(&two, x, SIMLOSS_FLOAT64, 1, 2, 12, 12));
  CHECK_STATUS(simloss_ssim(&two, &two, &o, &v, 1, NULL, NULL, NULL, NULL, 0), SIMLOSS_ERROR_INVALID_SHAPE);
  simloss_ssim_options_init(&o);
  double pc[1];
  CHECK_STATUS(simloss_ssim(&tx, &tx, &o, &v, 1, NULL, NULL, pc, NULL, 1), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("channels_len: 1 is less than the 6 per-channel values");
  CHECK_STATUS(simloss_ssim(&tx, NULL, NULL, &v, 1, NULL, NULL, NULL, NULL, 0), SIMLOSS_ERROR_NULL_POINTER);
}

/* simloss_ssim_map_shape is arithmetic on the caller's numbers, which no
 * tensor bounds: sides near INT64_MAX must not overflow (they trapped in
 * (H + f - 1) / f and in the factor's (min(H, W) + 128) / 256). */
static void test_map_shape_of_huge_sides(void) {
  const int64_t m = INT64_MAX;
  int64_t shape[4];
  int64_t tall[4] = {1, 1, m, 16};
  CHECK_OK(simloss_ssim_map_shape(tall, NULL, shape));
  CHECK(shape[2] == m - 10 && shape[3] == 6);
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.border = SIMLOSS_SSIM_REFLECT;
  int64_t all[4] = {m, m, m, m};
  CHECK_OK(simloss_ssim_map_shape(all, &o, shape));
  CHECK(shape[0] == m && shape[1] == m && shape[2] == m && shape[3] == m);
  simloss_ssim_options_init(&o);
  o.matlab_downsample = 1;
  int64_t square[4] = {1, 1, m - 100, m - 100};
  CHECK_OK(simloss_ssim_map_shape(square, &o, shape));
  /* f = round((2^63 - 101) / 256) = 2^55; ceil((2^63 - 101) / 2^55) = 256. */
  CHECK(shape[2] == 256 - 10 && shape[3] == 256 - 10);
  int64_t wide[4] = {1, 1, 512, m};
  CHECK_OK(simloss_ssim_map_shape(wide, &o, shape));
  CHECK(shape[2] == 256 - 10 && shape[3] == m / 2 + 1 - 10);
}

/* simloss_ssim_map_shape gives the statuses simloss_ssim gives images of
 * that shape: a zero side was SIMLOSS_ERROR_RANK, and luma over 2
 * channels returned a shape where simloss_ssim refuses. */
static void test_map_shape_statuses_match_ssim(void) {
  int64_t shape[4];
  int64_t empty[4] = {1, 3, 0, 16};
  CHECK_STATUS(simloss_ssim_map_shape(empty, NULL, shape), SIMLOSS_ERROR_INVALID_SHAPE);
  CHECK_MESSAGE("x: dimension 2 of shape (1, 3, 0, 16) is 0; every dimension must be >= 1");
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.luma = 1;
  int64_t two[4] = {1, 2, 16, 16};
  CHECK_STATUS(simloss_ssim_map_shape(two, &o, shape), SIMLOSS_ERROR_INVALID_SHAPE);
  CHECK_MESSAGE("x: luma needs 3 channels (R, G, B) in dimension 1, got shape (1, 2, 16, 16)");
  static float x[2 * 16 * 16];
  simloss_tensor tx;
  CHECK_OK(simloss_tensor_init_nchw(&tx, x, SIMLOSS_FLOAT32, 1, 2, 16, 16));
  double v;
  CHECK_STATUS(simloss_ssim(&tx, &tx, &o, &v, 1, NULL, NULL, NULL, NULL, 0), SIMLOSS_ERROR_INVALID_SHAPE);
  int64_t three[4] = {1, 3, 16, 16};
  CHECK_OK(simloss_ssim_map_shape(three, &o, shape));
  CHECK(shape[0] == 1 && shape[1] == 1 && shape[2] == 6 && shape[3] == 6);
}

/* The map and the gradient are both outputs: sharing memory is refused,
 * and the message says so (it named the gradient an input). */
static void test_map_over_gradient_is_refused(void) {
  static double x[16 * 16], y[16 * 16], g[16 * 16];
  fill(x, 16 * 16, 61);
  fill(y, 16 * 16, 62);
  simloss_tensor tx, ty, tg, tm;
  CHECK_OK(simloss_tensor_init_nchw(&tx, x, SIMLOSS_FLOAT64, 1, 1, 16, 16));
  CHECK_OK(simloss_tensor_init_nchw(&ty, y, SIMLOSS_FLOAT64, 1, 1, 16, 16));
  CHECK_OK(simloss_tensor_init_nchw(&tg, g, SIMLOSS_FLOAT64, 1, 1, 16, 16));
  CHECK_OK(simloss_tensor_init_nchw(&tm, g + 100, SIMLOSS_FLOAT64, 1, 1, 6, 6));
  double v = -1;
  CHECK_STATUS(simloss_ssim(&tx, &ty, NULL, &v, 1, &tg, &tm, NULL, NULL, 0), SIMLOSS_ERROR_OVERLAP);
  CHECK_MESSAGE("map: output memory overlaps output grad");
  CHECK(v == -1);
}

/* A dimension of one element may carry any stride (nothing multiplies
 * it); a W of 1 with a W stride of 2^60 once reached a Swift trap (the
 * process killed) in the row prefetch. The same values and gradient as the
 * dense view, for the inputs, the gradient and the map. */
static void test_ssim_width_one_any_stride(void) {
  enum { ROWS = 16 };
  static double x[ROWS], y[ROWS], g[ROWS], dense_g[ROWS], map[ROWS];
  fill(x, ROWS, 51);
  fill(y, ROWS, 52);
  simloss_tensor tx, ty, tg, tm, dx, dy, dg;
  int64_t shape[4] = {1, 1, ROWS, 1};
  CHECK_OK(simloss_tensor_init_dense(&dx, x, SIMLOSS_FLOAT64, 4, shape));
  CHECK_OK(simloss_tensor_init_dense(&dy, y, SIMLOSS_FLOAT64, 4, shape));
  CHECK_OK(simloss_tensor_init_dense(&dg, dense_g, SIMLOSS_FLOAT64, 4, shape));
  tx = dx;
  ty = dy;
  CHECK_OK(simloss_tensor_init_dense(&tg, g, SIMLOSS_FLOAT64, 4, shape));
  CHECK_OK(simloss_tensor_init_dense(&tm, map, SIMLOSS_FLOAT64, 4, shape));
  tx.strides[3] = ty.strides[3] = tg.strides[3] = tm.strides[3] = (int64_t)1 << 60;
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.window_size = 1;
  double v, dense_v;
  CHECK_OK(simloss_ssim(&dx, &dy, &o, &dense_v, 1, &dg, NULL, NULL, NULL, 0));
  CHECK_OK(simloss_ssim(&tx, &ty, &o, &v, 1, &tg, &tm, NULL, NULL, 0));
  CHECK(v == dense_v);
  for (int i = 0; i < ROWS; i++) CHECK(g[i] == dense_g[i]);
  double mean = 0;
  for (int i = 0; i < ROWS; i++) mean += map[i];
  CHECK_CLOSE(mean / ROWS, v, 1e-14, 0);
}

int main(void) {
  static const test_case tests[] = {
    TEST(test_ssim_identical_and_symmetric),
    TEST(test_ssim_map_and_channels),
    TEST(test_ssim_same_with_and_without_cs),
    TEST(test_ssim_gradient_matches_central_differences),
    TEST(test_ms_ssim_minimum_side),
    TEST(test_ssim_bad_input),
    TEST(test_ssim_width_one_any_stride),
    TEST(test_map_shape_of_huge_sides),
    TEST(test_map_shape_statuses_match_ssim),
    TEST(test_map_over_gradient_is_refused),
  };
  return RUN_TESTS(tests);
}
