/* simloss.h, "Version" and "Status codes". */
#include "check.h"

/* simloss_version_number(): the loaded library is the header's version
 * (SQLite's recommended assert), and the string and ABI agree. */
static void test_version_header_matches_runtime(void) {
  CHECK(simloss_version_number() == SIMLOSS_VERSION_NUMBER);
  CHECK(strcmp(simloss_version_string(), SIMLOSS_VERSION_STRING) == 0);
  CHECK(simloss_abi_version() == SIMLOSS_ABI_VERSION);
  CHECK(SIMLOSS_VERSION_NUMBER ==
        SIMLOSS_VERSION_MAJOR * 10000 + SIMLOSS_VERSION_MINOR * 100 + SIMLOSS_VERSION_PATCH);
}

/* simloss_build_info(): names the version and the CPU target. */
static void test_build_info_names_version_and_cpu(void) {
  const char *info = simloss_build_info();
  CHECK(info != NULL);
  CHECK(strstr(info, "version=" SIMLOSS_VERSION_STRING) != NULL);
  CHECK(strstr(info, "cpu=haswell") != NULL || strstr(info, "cpu=native") != NULL);
  CHECK(strstr(info, "kernels=avx512") != NULL || strstr(info, "kernels=baseline") != NULL);
  /* SIMLOSS_KERNELS=baseline turns the AVX-512 kernels off. */
  const char *kernels = getenv("SIMLOSS_KERNELS");
  if (kernels != NULL && strcmp(kernels, "baseline") == 0) CHECK(strstr(info, "kernels=baseline") != NULL);
}

/* simloss_status_string(): total; every status has its own name. */
static void test_status_string_is_total(void) {
  static const struct { int status; const char *name; } names[] = {
    {SIMLOSS_OK, "SIMLOSS_OK"},
    {SIMLOSS_ERROR_NULL_POINTER, "SIMLOSS_ERROR_NULL_POINTER"},
    {SIMLOSS_ERROR_INVALID_ARGUMENT, "SIMLOSS_ERROR_INVALID_ARGUMENT"},
    {SIMLOSS_ERROR_OPTIONS_SIZE, "SIMLOSS_ERROR_OPTIONS_SIZE"},
    {SIMLOSS_ERROR_INVALID_VALUE, "SIMLOSS_ERROR_INVALID_VALUE"},
    {SIMLOSS_ERROR_RANK, "SIMLOSS_ERROR_RANK"},
    {SIMLOSS_ERROR_SHAPE_MISMATCH, "SIMLOSS_ERROR_SHAPE_MISMATCH"},
    {SIMLOSS_ERROR_TOO_SMALL, "SIMLOSS_ERROR_TOO_SMALL"},
    {SIMLOSS_ERROR_OUT_OF_BOUNDS, "SIMLOSS_ERROR_OUT_OF_BOUNDS"},
    {SIMLOSS_ERROR_OVERLAP, "SIMLOSS_ERROR_OVERLAP"},
    {SIMLOSS_ERROR_INVALID_SHAPE, "SIMLOSS_ERROR_INVALID_SHAPE"},
    {SIMLOSS_ERROR_DTYPE, "SIMLOSS_ERROR_DTYPE"},
    {SIMLOSS_ERROR_DTYPE_MISMATCH, "SIMLOSS_ERROR_DTYPE_MISMATCH"},
    {SIMLOSS_ERROR_OUT_OF_MEMORY, "SIMLOSS_ERROR_OUT_OF_MEMORY"},
    {SIMLOSS_ERROR_OVERFLOW, "SIMLOSS_ERROR_OVERFLOW"},
    {SIMLOSS_ERROR_INTERNAL, "SIMLOSS_ERROR_INTERNAL"},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    CHECK(strcmp(simloss_status_string(names[i].status), names[i].name) == 0);
  CHECK(strcmp(simloss_status_string(-1), "unknown status") == 0);
  CHECK(strcmp(simloss_status_string(12345), "unknown status") == 0);
}

/* simloss_last_error(): "" after a success, the message after a failure. */
static void test_last_error_cleared_by_success(void) {
  CHECK_STATUS(simloss_set_num_threads(-1), SIMLOSS_ERROR_INVALID_ARGUMENT);
  CHECK_MESSAGE("num_threads: -1");
  CHECK_OK(simloss_set_num_threads(0));
  CHECK(strcmp(simloss_last_error(), "") == 0);
}

/* simloss_set_num_threads(): 0 restores the default, which is >= 1. */
static void test_threads_setting(void) {
  CHECK_OK(simloss_set_num_threads(3));
  CHECK(simloss_get_num_threads() == 3);
  CHECK_OK(simloss_set_num_threads(0));
  CHECK(simloss_get_num_threads() >= 1);
  CHECK_STATUS(simloss_set_num_threads(1025), SIMLOSS_ERROR_INVALID_ARGUMENT);
}

int main(void) {
  static const test_case tests[] = {
    TEST(test_version_header_matches_runtime),
    TEST(test_build_info_names_version_and_cpu),
    TEST(test_status_string_is_total),
    TEST(test_last_error_cleared_by_success),
    TEST(test_threads_setting),
  };
  return RUN_TESTS(tests);
}
