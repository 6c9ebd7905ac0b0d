/* Bad input: every status a foundation call can produce, reached at least
 * once, each with a message that names the argument and the values.
 * (SIMLOSS_ERROR_TOO_SMALL belongs to the windowed losses; OUT_OF_MEMORY,
 * for views larger than memory, to test_memory.c; INTERNAL cannot be
 * provoked by an argument.) */
#include "check.h"

static float P[2 * 3 * 4 * 4], T[2 * 3 * 4 * 4], G[2 * 3 * 4 * 4];
static double D[2 * 3 * 4 * 4];

typedef struct {
  const char *what;
  simloss_status expected;
  const char *message;
  simloss_status (*call)(void);
} bad_call;

static simloss_tensor pred, target, grad;
static double values[4];

static void reset(void) {
  simloss_tensor_init_nchw(&pred, P, SIMLOSS_FLOAT32, 2, 3, 4, 4);
  simloss_tensor_init_nchw(&target, T, SIMLOSS_FLOAT32, 2, 3, 4, 4);
  simloss_tensor_init_nchw(&grad, G, SIMLOSS_FLOAT32, 2, 3, 4, 4);
}

static simloss_status null_pred(void) { return simloss_l1(NULL, &target, NULL, NULL, values, 1, NULL); }
static simloss_status null_target(void) { return simloss_mse(&pred, NULL, NULL, NULL, values, 1, NULL); }
static simloss_status null_values(void) { return simloss_l1(&pred, &target, NULL, NULL, NULL, 1, NULL); }
static simloss_status null_data(void) { target.data = NULL; return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status bad_reduction(void) {
  simloss_pointwise_options o;
  simloss_pointwise_options_init(&o);
  o.reduction = 9;
  return simloss_l1(&pred, &target, NULL, &o, values, 1, NULL);
}
static simloss_status nonzero_reserved(void) {
  simloss_pointwise_options o;
  simloss_pointwise_options_init(&o);
  o.reserved_ = 5;
  return simloss_l1(&pred, &target, NULL, &o, values, 1, NULL);
}
static simloss_status huge_options(void) {
  simloss_tv_options o;
  simloss_tv_options_init(&o);
  o.size = (size_t)1 << 40;
  return simloss_tv(&pred, &o, values, 1, NULL);
}
/* SIZE_MAX is named as such (it was printed as -1). */
static simloss_status max_options(void) {
  simloss_tv_options o;
  simloss_tv_options_init(&o);
  o.size = SIZE_MAX;
  return simloss_tv(&pred, &o, values, 1, NULL);
}
static simloss_status bad_weight(void) {
  static float w[2 * 3 * 4 * 4];
  for (int i = 0; i < 96; i++) w[i] = 1;
  w[95] = -INFINITY;
  simloss_tensor wt;
  simloss_tensor_init_nchw(&wt, w, SIMLOSS_FLOAT32, 2, 3, 4, 4);
  return simloss_l1(&pred, &target, &wt, NULL, values, 1, NULL);
}
static simloss_status rank_too_big(void) { pred.rank = 9; return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status mismatch(void) { target.shape[3] = 3; return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status rank_mismatch(void) { target.rank = 3; return simloss_mse(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status grad_mismatch(void) { grad.shape[0] = 1; return simloss_l1(&pred, &target, NULL, NULL, values, 1, &grad); }
static simloss_status weight_not_broadcastable(void) {
  static float w[2 * 2 * 4 * 4];
  simloss_tensor wt;
  simloss_tensor_init_nchw(&wt, w, SIMLOSS_FLOAT32, 2, 2, 4, 4);
  return simloss_l1(&pred, &target, &wt, NULL, values, 1, NULL);
}
static simloss_status out_of_bounds(void) { pred.len = 95; return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status overlap(void) { grad.data = T; return simloss_l1(&pred, &target, NULL, NULL, values, 1, &grad); }
static simloss_status negative_dim(void) { pred.shape[1] = -3; return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status zero_dim(void) { pred.shape[0] = 0; return simloss_tv(&pred, NULL, values, 1, NULL); }
static simloss_status bad_dtype(void) { pred.dtype = 7; return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status integer_pred(void) { pred.dtype = SIMLOSS_INT32; return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status mixed_dtypes(void) {
  simloss_tensor_init_nchw(&target, D, SIMLOSS_FLOAT64, 2, 3, 4, 4);
  return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL);
}
static simloss_status huge_shape(void) {
  pred.shape[0] = INT64_MAX / 2;
  pred.shape[1] = 4;
  return simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL);
}
static simloss_status broadcast_too_big(void) {
  pred.shape[0] = SIMLOSS_MAX_ELEMENTS / 48 + 1;
  pred.strides[0] = 0;
  return simloss_tv(&pred, NULL, values, 1, NULL);
}
static simloss_status huge_len(void) { pred.len = INT64_MAX; return simloss_mse(&pred, &target, NULL, NULL, values, 1, NULL); }
static simloss_status short_values(void) {
  simloss_tv_options o;
  simloss_tv_options_init(&o);
  o.reduction = SIMLOSS_REDUCTION_NONE;
  return simloss_tv(&pred, &o, values, 1, NULL);
}

static const bad_call bad_calls[] = {
  {"NULL pred", SIMLOSS_ERROR_NULL_POINTER, "pred is NULL", null_pred},
  {"NULL target", SIMLOSS_ERROR_NULL_POINTER, "target is NULL", null_target},
  {"NULL values", SIMLOSS_ERROR_NULL_POINTER, "values is NULL", null_values},
  {"NULL data", SIMLOSS_ERROR_NULL_POINTER, "target.data is NULL", null_data},
  {"reduction 9", SIMLOSS_ERROR_INVALID_ARGUMENT, "options.reduction: 9 is not a simloss_reduction", bad_reduction},
  {"reserved field", SIMLOSS_ERROR_INVALID_ARGUMENT, "options.reserved_: 5 must be 0", nonzero_reserved},
  {"values_len short", SIMLOSS_ERROR_INVALID_ARGUMENT, "values_len: 1 is less than the 2 values", short_values},
  {"options size 2^40", SIMLOSS_ERROR_OPTIONS_SIZE, "options.size: 1099511627776", huge_options},
  {"options size SIZE_MAX", SIMLOSS_ERROR_OPTIONS_SIZE, "options.size: 18446744073709551615 is outside", max_options},
  {"weight -inf", SIMLOSS_ERROR_INVALID_VALUE, "weight: element (1, 2, 3, 3) is -inf", bad_weight},
  {"rank 9", SIMLOSS_ERROR_RANK, "pred.rank: 9 is outside 1...8", rank_too_big},
  {"shape mismatch", SIMLOSS_ERROR_SHAPE_MISMATCH, "target: shape (2, 3, 4, 3) does not match pred shape (2, 3, 4, 4)", mismatch},
  {"rank mismatch", SIMLOSS_ERROR_SHAPE_MISMATCH, "target: shape (2, 3, 4) does not match", rank_mismatch},
  {"grad mismatch", SIMLOSS_ERROR_SHAPE_MISMATCH, "grad: shape (1, 3, 4, 4)", grad_mismatch},
  {"weight broadcast", SIMLOSS_ERROR_SHAPE_MISMATCH, "weight: shape (2, 2, 4, 4) cannot broadcast to (2, 3, 4, 4)", weight_not_broadcastable},
  {"len too small", SIMLOSS_ERROR_OUT_OF_BOUNDS, "reaches elements 0...95, outside the buffer of 95 elements", out_of_bounds},
  {"grad overlaps target", SIMLOSS_ERROR_OVERLAP, "grad: output memory overlaps input target", overlap},
  {"negative dimension", SIMLOSS_ERROR_INVALID_SHAPE, "pred: dimension 1 of shape (2, -3, 4, 4) is -3", negative_dim},
  {"zero dimension", SIMLOSS_ERROR_INVALID_SHAPE, "x: dimension 0 of shape (0, 3, 4, 4) is 0", zero_dim},
  {"dtype 7", SIMLOSS_ERROR_DTYPE, "pred.dtype: dtype 7 is not a simloss_dtype", bad_dtype},
  {"int32 pred", SIMLOSS_ERROR_DTYPE, "pred: dtype int32 is not float32 or float64", integer_pred},
  {"float32 with float64", SIMLOSS_ERROR_DTYPE_MISMATCH, "target: dtype float64 differs from the call's float32", mixed_dtypes},
  {"2^62 x 4 elements", SIMLOSS_ERROR_OVERFLOW, "overflows 64-bit sizes", huge_shape},
  {"broadcast 2^40+", SIMLOSS_ERROR_OVERFLOW, "has more than 2^40 elements (SIMLOSS_MAX_ELEMENTS)", broadcast_too_big},
  {"len 2^63-1", SIMLOSS_ERROR_OVERFLOW, "pred: buffer length 9223372036854775807 elements overflows", huge_len},
};

static void test_every_bad_call_gets_its_status_and_message(void) {
  for (size_t i = 0; i < sizeof bad_calls / sizeof bad_calls[0]; i++) {
    reset();
    values[0] = -7;
    simloss_status s = bad_calls[i].call();
    if (s != bad_calls[i].expected)
      FAIL("%s: got %s, expected %s (%s)", bad_calls[i].what, simloss_status_string(s),
           simloss_status_string(bad_calls[i].expected), simloss_last_error());
    else if (!strstr(simloss_last_error(), bad_calls[i].message))
      FAIL("%s: message \"%s\" lacks \"%s\"", bad_calls[i].what, simloss_last_error(), bad_calls[i].message);
    if (values[0] != -7) FAIL("%s: values written on failure", bad_calls[i].what);
  }
}

/* The message is per thread and lasts until the next call. */
static void test_message_lifetime(void) {
  reset();
  CHECK_STATUS(null_pred(), SIMLOSS_ERROR_NULL_POINTER);
  const char *m = simloss_last_error();
  CHECK(strcmp(m, "pred is NULL") == 0);
  CHECK(strcmp(simloss_last_error(), "pred is NULL") == 0);
  CHECK_OK(simloss_l1(&pred, &target, NULL, NULL, values, 1, NULL));
  CHECK(strcmp(simloss_last_error(), "") == 0);
}

int main(void) {
  static const test_case tests[] = {
    TEST(test_every_bad_call_gets_its_status_and_message),
    TEST(test_message_lifetime),
  };
  return RUN_TESTS(tests);
}
