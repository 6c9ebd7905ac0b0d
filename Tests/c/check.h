/* A minimal test harness for the C tests: named test functions in a table,
 * checks that report the call, its status name and simloss_last_error(),
 * and a failure that does not stop the other tests. */
#ifndef SIMLOSS_TEST_CHECK_H
#define SIMLOSS_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simloss.h"

static int check_failures = 0;

#define FAIL(...)                                             \
  do {                                                        \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);         \
    fprintf(stderr, __VA_ARGS__);                             \
    fprintf(stderr, "\n");                                    \
    check_failures++;                                         \
  } while (0)

#define CHECK(cond)                                           \
  do {                                                        \
    if (!(cond)) FAIL("CHECK(%s) failed", #cond);             \
  } while (0)

/* Runs a simloss call and compares its status with the expected one. */
#define CHECK_STATUS(call, expected)                                         \
  do {                                                                       \
    simloss_status s_ = (call);                                              \
    if (s_ != (expected))                                                    \
      FAIL("%s returned %s, expected %s; last error: %s", #call,             \
           simloss_status_string(s_), simloss_status_string(expected),       \
           simloss_last_error());                                            \
  } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, SIMLOSS_OK)

/* |actual - expected| <= atol + rtol * |expected| */
#define CHECK_CLOSE(actual, expected, rtol, atol)                            \
  do {                                                                       \
    double a_ = (actual), e_ = (expected);                                   \
    if (!(fabs(a_ - e_) <= (atol) + (rtol) * fabs(e_)))                      \
      FAIL("%s = %.17g, expected %.17g (rtol %g, atol %g)", #actual, a_, e_, \
           (double)(rtol), (double)(atol));                                  \
  } while (0)

/* The message of the last error must contain a fragment. */
#define CHECK_MESSAGE(fragment)                                              \
  do {                                                                       \
    if (!strstr(simloss_last_error(), (fragment)))                           \
      FAIL("last error \"%s\" lacks \"%s\"", simloss_last_error(), fragment);\
  } while (0)

typedef struct {
  const char *name;
  void (*run)(void);
} test_case;

#define TEST(name) {#name, name}

static int run_tests(const test_case *tests, size_t count) {
  int failed_tests = 0;
  for (size_t i = 0; i < count; i++) {
    int before = check_failures;
    tests[i].run();
    int ok = check_failures == before;
    failed_tests += !ok;
    printf("%s %s\n", ok ? "PASS" : "FAIL", tests[i].name);
  }
  printf("%zu passed, %d failed\n", count - (size_t)failed_tests, failed_tests);
  return failed_tests ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define RUN_TESTS(table) run_tests(table, sizeof(table) / sizeof(table[0]))

/* A deterministic generator (splitmix64), seeded in each test. */
static inline double test_uniform(unsigned long long *state) {
  unsigned long long z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

#endif
