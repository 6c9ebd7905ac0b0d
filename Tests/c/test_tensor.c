/* simloss.h, "Tensor descriptor": the init helpers and the checks every
 * loss applies to a caller's descriptor. */
#include "check.h"

/* simloss_tensor_init_nchw(): dense row-major strides, offset 0. */
static void test_init_nchw_is_dense_row_major(void) {
  float buf[2 * 3 * 4 * 5];
  simloss_tensor t;
  CHECK_OK(simloss_tensor_init_nchw(&t, buf, SIMLOSS_FLOAT32, 2, 3, 4, 5));
  CHECK(t.rank == 4 && t.len == 120 && t.offset == 0 && t.dtype == SIMLOSS_FLOAT32);
  CHECK(t.shape[0] == 2 && t.shape[1] == 3 && t.shape[2] == 4 && t.shape[3] == 5);
  CHECK(t.strides[0] == 60 && t.strides[1] == 20 && t.strides[2] == 5 && t.strides[3] == 1);
}

/* simloss_tensor_init_nhwc(): logical (N, C, H, W), strides (HWC, 1, WC, C). */
static void test_init_nhwc_is_logical_nchw(void) {
  double buf[2 * 4 * 5 * 3];
  simloss_tensor t;
  CHECK_OK(simloss_tensor_init_nhwc(&t, buf, SIMLOSS_FLOAT64, 2, 4, 5, 3));
  CHECK(t.shape[0] == 2 && t.shape[1] == 3 && t.shape[2] == 4 && t.shape[3] == 5);
  CHECK(t.strides[0] == 60 && t.strides[1] == 1 && t.strides[2] == 15 && t.strides[3] == 3);
  CHECK(t.len == 120);
}

/* simloss_tensor_init_dense(): any rank 1...8; rejects bad ranks, shapes,
 * dtypes and element counts that overflow. */
static void test_init_dense_validates(void) {
  float buf[6];
  simloss_tensor t;
  int64_t shape[9] = {2, 3, 1, 1, 1, 1, 1, 1, 1};
  CHECK_OK(simloss_tensor_init_dense(&t, buf, SIMLOSS_FLOAT32, 2, shape));
  CHECK(t.strides[0] == 3 && t.strides[1] == 1);
  CHECK_OK(simloss_tensor_init_dense(&t, buf, SIMLOSS_FLOAT32, 8, shape));
  CHECK_STATUS(simloss_tensor_init_dense(&t, buf, SIMLOSS_FLOAT32, 9, shape), SIMLOSS_ERROR_RANK);
  CHECK_STATUS(simloss_tensor_init_dense(&t, buf, SIMLOSS_FLOAT32, 0, shape), SIMLOSS_ERROR_RANK);
  CHECK_STATUS(simloss_tensor_init_dense(&t, buf, 7, 2, shape), SIMLOSS_ERROR_DTYPE);
  CHECK_MESSAGE("dtype 7");
  CHECK_STATUS(simloss_tensor_init_dense(NULL, buf, SIMLOSS_FLOAT32, 2, shape), SIMLOSS_ERROR_NULL_POINTER);
  CHECK_STATUS(simloss_tensor_init_dense(&t, NULL, SIMLOSS_FLOAT32, 2, shape), SIMLOSS_ERROR_NULL_POINTER);
  CHECK_STATUS(simloss_tensor_init_dense(&t, buf, SIMLOSS_FLOAT32, 2, NULL), SIMLOSS_ERROR_NULL_POINTER);
  int64_t zero[2] = {2, 0};
  CHECK_STATUS(simloss_tensor_init_dense(&t, buf, SIMLOSS_FLOAT32, 2, zero), SIMLOSS_ERROR_INVALID_SHAPE);
  CHECK_STATUS(simloss_tensor_init_nchw(&t, buf, SIMLOSS_FLOAT32, 1 << 20, 1 << 20, 1 << 20, 1 << 20),
               SIMLOSS_ERROR_OVERFLOW);
}

/* A view whose offset and strides reach outside len is rejected before any
 * read: here a buffer of 10 floats described as 2 x 6. */
static void test_view_outside_buffer_is_rejected(void) {
  float pred[12] = {0}, target[12] = {0};
  simloss_tensor p, t;
  CHECK_OK(simloss_tensor_init_nchw(&p, pred, SIMLOSS_FLOAT32, 2, 1, 1, 6));
  CHECK_OK(simloss_tensor_init_nchw(&t, target, SIMLOSS_FLOAT32, 2, 1, 1, 6));
  double v;
  p.len = 10;
  CHECK_STATUS(simloss_l1(&p, &t, NULL, NULL, &v, 1, NULL), SIMLOSS_ERROR_OUT_OF_BOUNDS);
  CHECK_MESSAGE("pred: shape (2, 1, 1, 6)");
  CHECK_MESSAGE("outside the buffer of 10 elements");
  p.len = 12;
  p.offset = -1;
  CHECK_STATUS(simloss_l1(&p, &t, NULL, NULL, &v, 1, NULL), SIMLOSS_ERROR_OUT_OF_BOUNDS);
  /* Negative strides with the origin at the end read the buffer backwards. */
  p.offset = 11;
  p.strides[0] = -6;
  p.strides[3] = -1;
  CHECK_OK(simloss_l1(&p, &t, NULL, NULL, &v, 1, NULL));
  p.offset = 10;
  CHECK_STATUS(simloss_l1(&p, &t, NULL, NULL, &v, 1, NULL), SIMLOSS_ERROR_OUT_OF_BOUNDS);
  /* Strides so large that offsets overflow 64 bits. */
  p.offset = 0;
  p.shape[0] = 3;
  p.strides[0] = INT64_MAX / 2 + 1;
  p.strides[3] = 1;
  CHECK_STATUS(simloss_l1(&p, &t, NULL, NULL, &v, 1, NULL), SIMLOSS_ERROR_OVERFLOW);
}

/* A misaligned data pointer is refused rather than read. */
static void test_misaligned_data_is_rejected(void) {
  double storage[9] = {0};
  simloss_tensor p, t;
  CHECK_OK(simloss_tensor_init_nchw(&p, (char *)storage + 4, SIMLOSS_FLOAT64, 1, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&t, storage + 4, SIMLOSS_FLOAT64, 1, 1, 2, 2));
  double v;
  CHECK_STATUS(simloss_mse(&p, &t, NULL, NULL, &v, 1, NULL), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("not aligned");
}

/* A zero stride (broadcast) is fine for inputs and refused for outputs,
 * whose elements must be distinct. */
static void test_broadcast_output_is_rejected(void) {
  float a[4] = {1, 2, 3, 4}, b[4] = {0}, g[4];
  simloss_tensor p, t, gt;
  CHECK_OK(simloss_tensor_init_nchw(&p, a, SIMLOSS_FLOAT32, 1, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&t, b, SIMLOSS_FLOAT32, 1, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&gt, g, SIMLOSS_FLOAT32, 1, 1, 2, 2));
  t.strides[2] = 0; /* target rows broadcast: fine */
  double v;
  CHECK_OK(simloss_l1(&p, &t, NULL, NULL, &v, 1, &gt));
  CHECK_CLOSE(v, (1 + 2 + 3 + 4) / 4.0, 0, 1e-15);
  gt.strides[2] = 0;
  CHECK_STATUS(simloss_l1(&p, &t, NULL, NULL, &v, 1, &gt), SIMLOSS_ERROR_OVERLAP);
  CHECK_MESSAGE("grad: strides (4, 4, 0, 1)");
}

/* An output that shares memory with an input is refused. */
static void test_gradient_overlapping_input_is_rejected(void) {
  float a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, b[8] = {0};
  simloss_tensor p, t, g;
  CHECK_OK(simloss_tensor_init_nchw(&p, a, SIMLOSS_FLOAT32, 1, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&t, b, SIMLOSS_FLOAT32, 1, 1, 2, 2));
  CHECK_OK(simloss_tensor_init_nchw(&g, a + 2, SIMLOSS_FLOAT32, 1, 1, 2, 2));
  double v = -1;
  CHECK_STATUS(simloss_l1(&p, &t, NULL, NULL, &v, 1, &g), SIMLOSS_ERROR_OVERLAP);
  CHECK_MESSAGE("grad: output memory overlaps input pred");
  CHECK(v == -1); /* nothing written on failure */
  CHECK(a[2] == 3);
}

int main(void) {
  static const test_case tests[] = {
    TEST(test_init_nchw_is_dense_row_major),
    TEST(test_init_nhwc_is_logical_nchw),
    TEST(test_init_dense_validates),
    TEST(test_view_outside_buffer_is_rejected),
    TEST(test_misaligned_data_is_rejected),
    TEST(test_broadcast_output_is_rejected),
    TEST(test_gradient_overlapping_input_is_rejected),
  };
  return RUN_TESTS(tests);
}
