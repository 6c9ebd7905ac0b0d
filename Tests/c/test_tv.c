/* simloss.h, "Total variation": published values, the three kinds against
 * double formulas written here, gradients against central differences. */
#include "check.h"

static void fill(double *x, size_t n, unsigned long long seed) {
  for (size_t i = 0; i < n; i++) x[i] = test_uniform(&seed);
}

/* kornia's test: the 2x3 image has anisotropic TV 1.6900232. */
static void test_tv_kornia_value(void) {
  float x[6] = {0.09094203f, 0.32630223f, 0.8066123f, 0.10921168f, 0.09534764f, 0.48588026f};
  simloss_tensor t;
  CHECK_OK(simloss_tensor_init_nchw(&t, x, SIMLOSS_FLOAT32, 1, 1, 2, 3));
  double v;
  CHECK_OK(simloss_tv(&t, NULL, &v, 1, NULL));
  CHECK_CLOSE(v, 1.6900232, 1e-7, 0);
}

/* A 10x10 identity image has anisotropic TV 36. */
static void test_tv_identity_value(void) {
  double x[100] = {0};
  for (int i = 0; i < 10; i++) x[i * 10 + i] = 1;
  simloss_tensor t;
  CHECK_OK(simloss_tensor_init_nchw(&t, x, SIMLOSS_FLOAT64, 1, 1, 10, 10));
  double v;
  CHECK_OK(simloss_tv(&t, NULL, &v, 1, NULL));
  CHECK(v == 36);
}

enum { N = 2, C = 2, H = 5, W = 6, COUNT = N * C * H * W };
#define AT(x, n, c, h, w) (x)[(((n) * C + (c)) * H + (h)) * W + (w)]

static double reference(const double *x, int n, int kind, double eps) {
  double total = 0;
  for (int c = 0; c < C; c++)
    for (int h = 0; h < H; h++)
      for (int w = 0; w < W; w++) {
        double dx = w + 1 < W ? AT(x, n, c, h, w + 1) - AT(x, n, c, h, w) : 0;
        double dy = h + 1 < H ? AT(x, n, c, h + 1, w) - AT(x, n, c, h, w) : 0;
        if (kind == SIMLOSS_TV_ANISOTROPIC) total += fabs(dx) + fabs(dy);
        else if (kind == SIMLOSS_TV_SQUARED) total += dx * dx + dy * dy;
        else total += sqrt(dx * dx + dy * dy + eps);
      }
  return total;
}

/* Each kind and reduction equals the formula. */
static void test_tv_kinds_match_formula(void) {
  static double x[COUNT];
  fill(x, COUNT, 61);
  simloss_tensor t;
  CHECK_OK(simloss_tensor_init_nchw(&t, x, SIMLOSS_FLOAT64, N, C, H, W));
  simloss_tv_options o;
  for (int kind = 0; kind <= 2; kind++) {
    simloss_tv_options_init(&o);
    o.kind = kind;
    o.eps = 1e-3;
    double r0 = reference(x, 0, kind, 1e-3), r1 = reference(x, 1, kind, 1e-3), v[2];
    CHECK_OK(simloss_tv(&t, &o, v, 1, NULL));
    CHECK_CLOSE(v[0], (r0 + r1) / 2, 1e-14, 0);
    o.reduction = SIMLOSS_REDUCTION_SUM;
    CHECK_OK(simloss_tv(&t, &o, v, 1, NULL));
    CHECK_CLOSE(v[0], r0 + r1, 1e-14, 0);
    o.reduction = SIMLOSS_REDUCTION_NONE;
    CHECK_OK(simloss_tv(&t, &o, v, 2, NULL));
    CHECK_CLOSE(v[0], r0, 1e-14, 0);
    CHECK_CLOSE(v[1], r1, 1e-14, 0);
  }
}

/* Gradients of every kind and reduction against central differences. */
static void test_tv_gradient_matches_central_differences(void) {
  static double x[COUNT], g[COUNT];
  fill(x, COUNT, 62);
  simloss_tensor t, gt;
  CHECK_OK(simloss_tensor_init_nchw(&t, x, SIMLOSS_FLOAT64, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nchw(&gt, g, SIMLOSS_FLOAT64, N, C, H, W));
  for (int kind = 0; kind <= 2; kind++)
    for (int r = 0; r <= 2; r++) {
      simloss_tv_options o;
      simloss_tv_options_init(&o);
      o.kind = kind;
      o.reduction = r;
      o.eps = 1e-2;
      double v[N];
      CHECK_OK(simloss_tv(&t, &o, v, N, &gt));
      for (int k = 0; k < COUNT; k++) {
        const double h = 1e-6;
        double saved = x[k];
        x[k] = saved + h;
        CHECK_OK(simloss_tv(&t, &o, v, N, NULL));
        double up = r == SIMLOSS_REDUCTION_NONE ? v[0] + v[1] : v[0];
        x[k] = saved - h;
        CHECK_OK(simloss_tv(&t, &o, v, N, NULL));
        double down = r == SIMLOSS_REDUCTION_NONE ? v[0] + v[1] : v[0];
        x[k] = saved;
        CHECK_CLOSE(g[k], (up - down) / (2 * h), 1e-6, 1e-8);
      }
    }
}

/* The derivative of |d| at 0 is 0: a constant image has a zero gradient. */
static void test_tv_flat_image_gradient_is_zero(void) {
  float x[16], g[16];
  for (int i = 0; i < 16; i++) x[i] = 0.5f;
  simloss_tensor t, gt;
  CHECK_OK(simloss_tensor_init_nchw(&t, x, SIMLOSS_FLOAT32, 1, 1, 4, 4));
  CHECK_OK(simloss_tensor_init_nchw(&gt, g, SIMLOSS_FLOAT32, 1, 1, 4, 4));
  double v;
  for (int kind = 0; kind <= 2; kind++) {
    simloss_tv_options o;
    simloss_tv_options_init(&o);
    o.kind = kind;
    CHECK_OK(simloss_tv(&t, &o, &v, 1, &gt));
    for (int i = 0; i < 16; i++) CHECK(g[i] == 0);
    /* Isotropic adds sqrt(eps) per pixel: 16 * 1e-4. */
    CHECK_CLOSE(v, kind == SIMLOSS_TV_ISOTROPIC ? 16 * 1e-4 : 0, 1e-12, 0);
  }
}

/* NHWC and NCHW views of one image give bitwise the same value and
 * gradient; H = 1 and W = 1 images are allowed. */
static void test_tv_layouts_and_thin_images(void) {
  static float a[COUNT], b[COUNT], ga[COUNT], gb[COUNT], gb_nchw[COUNT];
  double d[COUNT];
  fill(d, COUNT, 63);
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++) {
          float v = (float)AT(d, n, c, h, w);
          AT(a, n, c, h, w) = v;
          b[((n * H + h) * W + w) * C + c] = v;
        }
  simloss_tensor ta, tb, gta, gtb;
  CHECK_OK(simloss_tensor_init_nchw(&ta, a, SIMLOSS_FLOAT32, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nhwc(&tb, b, SIMLOSS_FLOAT32, N, H, W, C));
  CHECK_OK(simloss_tensor_init_nchw(&gta, ga, SIMLOSS_FLOAT32, N, C, H, W));
  CHECK_OK(simloss_tensor_init_nhwc(&gtb, gb, SIMLOSS_FLOAT32, N, H, W, C));
  for (int kind = 0; kind <= 2; kind++) {
    simloss_tv_options o;
    simloss_tv_options_init(&o);
    o.kind = kind;
    double va, vb;
    CHECK_OK(simloss_tv(&ta, &o, &va, 1, &gta));
    CHECK_OK(simloss_tv(&tb, &o, &vb, 1, &gtb));
    CHECK(va == vb);
    for (int n = 0; n < N; n++)
      for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++)
          for (int w = 0; w < W; w++) AT(gb_nchw, n, c, h, w) = gb[((n * H + h) * W + w) * C + c];
    CHECK(memcmp(ga, gb_nchw, sizeof ga) == 0);
  }
  float row[4] = {0, 1, 3, 6};
  simloss_tensor tr;
  double v;
  CHECK_OK(simloss_tensor_init_nchw(&tr, row, SIMLOSS_FLOAT32, 1, 1, 1, 4));
  CHECK_OK(simloss_tv(&tr, NULL, &v, 1, NULL));
  CHECK(v == 6);
  CHECK_OK(simloss_tensor_init_nchw(&tr, row, SIMLOSS_FLOAT32, 1, 1, 4, 1));
  CHECK_OK(simloss_tv(&tr, NULL, &v, 1, NULL));
  CHECK(v == 6);
}

/* simloss_tv() needs rank 4 and a known kind. */
static void test_tv_rejects_bad_rank_and_kind(void) {
  float x[8] = {0};
  simloss_tensor t;
  int64_t shape[3] = {2, 2, 2};
  CHECK_OK(simloss_tensor_init_dense(&t, x, SIMLOSS_FLOAT32, 3, shape));
  double v;
  CHECK_STATUS(simloss_tv(&t, NULL, &v, 1, NULL), SIMLOSS_ERROR_RANK);
  CHECK_MESSAGE("x: expected rank 4 (N, C, H, W), got rank 3 with shape (2, 2, 2)");
  CHECK_OK(simloss_tensor_init_nchw(&t, x, SIMLOSS_FLOAT32, 1, 2, 2, 2));
  simloss_tv_options o;
  simloss_tv_options_init(&o);
  o.kind = 3;
  CHECK_STATUS(simloss_tv(&t, &o, &v, 1, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("options.kind: 3");
  o.kind = SIMLOSS_TV_ISOTROPIC;
  o.eps = -1;
  CHECK_STATUS(simloss_tv(&t, &o, &v, 1, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("eps: -1.0");
}

int main(void) {
  static const test_case tests[] = {
    TEST(test_tv_kornia_value),
    TEST(test_tv_identity_value),
    TEST(test_tv_kinds_match_formula),
    TEST(test_tv_gradient_matches_central_differences),
    TEST(test_tv_flat_image_gradient_is_zero),
    TEST(test_tv_layouts_and_thin_images),
    TEST(test_tv_rejects_bad_rank_and_kind),
  };
  return RUN_TESTS(tests);
}
