/* Views far larger than the memory behind them: a broadcast dimension
 * (stride 0) of 2^36 elements, or a broadcast row of 2^39. Each entry point
 * must return SIMLOSS_ERROR_OUT_OF_MEMORY, naming the argument, for the
 * per-sample values or the per-row scratch such a view would need, without
 * touching the data; never abort the process. (Until 0.1's fix, l1 and
 * ssim on the first shape died with "failed to allocate 549755813920
 * bytes": the per-sample sums were Swift arrays, which trap.) */
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define BIG ((int64_t)1 << 36)
#define WIDE ((int64_t)1 << 39)

static double D[4] = {0.25, 0.5, 0.75, 1.0};
static float F[4] = {0.25f, -1.0f, 2.0f, 0.5f};
static int64_t L[1] = {0};

/* A view of `rank` dimensions, every stride 0, over one element of data. */
static simloss_tensor broadcast(void *data, int32_t dtype, int32_t rank, const int64_t *shape) {
  simloss_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.len = 1;
  t.dtype = dtype;
  t.rank = rank;
  for (int32_t d = 0; d < rank; d++) t.shape[d] = shape[d];
  return t;
}

static double values[1];

/* The call must fail with OUT_OF_MEMORY, its message naming `fragment`,
 * and leave the value alone. */
#define CHECK_NO_MEMORY(call, fragment)                  \
  do {                                                   \
    values[0] = -7;                                      \
    CHECK_STATUS(call, SIMLOSS_ERROR_OUT_OF_MEMORY);     \
    CHECK_MESSAGE(fragment);                             \
    CHECK(values[0] == -7);                              \
  } while (0)

static void test_pointwise_per_sample_sums(void) {
  /* Two elements per sample: a tensor of one element per sample is read
     as a single sample for MEAN and SUM (and then merely takes long). */
  const int64_t shape[4] = {BIG, 2, 1, 1};
  simloss_tensor p = broadcast(D, SIMLOSS_FLOAT64, 4, shape), t = broadcast(D + 1, SIMLOSS_FLOAT64, 4, shape);
  CHECK_NO_MEMORY(simloss_l1(&p, &t, NULL, NULL, values, 1, NULL), "pred: one sum per sample");
  CHECK_NO_MEMORY(simloss_mse(&p, &t, NULL, NULL, values, 1, NULL), "pred: one sum per sample");
  CHECK_NO_MEMORY(simloss_psnr(&p, &t, NULL, values, 1, NULL), "pred: one sum per sample");
  simloss_tensor w = broadcast(D + 2, SIMLOSS_FLOAT64, 4, shape);
  CHECK_NO_MEMORY(simloss_l1(&p, &t, &w, NULL, values, 1, NULL), "weight: one sum per sample");
}

static void test_tv_per_sample_sums_and_row_scratch(void) {
  const int64_t tall[4] = {BIG, 1, 1, 1}, wide[4] = {1, 1, 1, WIDE};
  simloss_tensor x = broadcast(F, SIMLOSS_FLOAT32, 4, tall);
  CHECK_NO_MEMORY(simloss_tv(&x, NULL, values, 1, NULL), "x: one sum per sample");
  x = broadcast(F, SIMLOSS_FLOAT32, 4, wide);
  CHECK_NO_MEMORY(simloss_tv(&x, NULL, values, 1, NULL), "x: scratch");
}

/* Cross-entropy cuts evenly spaced positions into rows of one sample,
 * which needs no memory per sample (a view broadcast along every
 * dimension merely takes long): these logits step through their last
 * position dimension with stride 1 and their first with stride 0, so that
 * their positions stay samples. */
static void test_cross_entropy_positions_and_classes(void) {
  const int64_t positions[3] = {BIG, 2, 2}, labels[2] = {BIG, 2};
  simloss_tensor x = broadcast(F, SIMLOSS_FLOAT32, 3, positions);
  x.len = 2;
  x.strides[2] = 1;
  simloss_tensor y = broadcast(L, SIMLOSS_INT64, 2, labels);
  CHECK_NO_MEMORY(simloss_cross_entropy(&x, &y, NULL, NULL, values, 1, NULL, NULL), "target: one sum per sample");
  simloss_tensor q = broadcast(F, SIMLOSS_FLOAT32, 3, positions);
  CHECK_NO_MEMORY(simloss_cross_entropy_soft(&x, &q, NULL, NULL, values, 1, NULL, NULL), "logits: one sum per sample");
  CHECK_NO_MEMORY(simloss_cross_entropy_probs(&x, &x, NULL, values, 1, NULL), "one sum per sample");

  const int64_t classes[2] = {1, WIDE}, one[1] = {1};
  x = broadcast(F, SIMLOSS_FLOAT32, 2, classes);
  y = broadcast(L, SIMLOSS_INT64, 1, one);
  CHECK_NO_MEMORY(simloss_cross_entropy(&x, &y, NULL, NULL, values, 1, NULL, NULL), "class weights");
  /* With a broadcast weight too: refused before 2^39 weights are read
     (which took hours). */
  const int64_t weights[1] = {WIDE};
  simloss_tensor w = broadcast(F, SIMLOSS_FLOAT32, 1, weights);
  CHECK_NO_MEMORY(simloss_cross_entropy(&x, &y, &w, NULL, values, 1, NULL, NULL), "class weights");
}

/* Temporaries within the machine's memory: cross-entropy over a broadcast
 * row of C classes, 8 C bytes of class weights more than half the physical
 * memory. Refused at once with the first allocation past that (until 0.1's
 * fix, C = 2^31 held 16 GiB of weights and 16 GiB of per-thread scratch,
 * each under the 64 GiB limit of one allocation, and the OOM killer ended
 * the process on a 24 GiB machine). */
static void test_temporaries_within_half_of_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), page_bytes = sysconf(_SC_PAGESIZE);
  CHECK(pages > 0 && page_bytes > 0);
  int64_t half = (int64_t)pages * page_bytes / 2, classes = 1;
  while (classes * 8 <= half) classes *= 2;
  const int64_t shape[2] = {1, classes}, one[1] = {1};
  simloss_tensor x = broadcast(F, SIMLOSS_FLOAT32, 2, shape);
  simloss_tensor y = broadcast(L, SIMLOSS_INT64, 1, one);
  CHECK_NO_MEMORY(simloss_cross_entropy(&x, &y, NULL, NULL, values, 1, NULL, NULL), "class weights");
}

/* The binary losses merge the dimensions that every operand steps through
 * alike, so a view broadcast along all of them is one run of elements that
 * needs no temporaries (and merely takes long). These views keep their
 * dimensions: the logits step through one of them with stride 1, over
 * the first 2 elements of F. */
static void test_binary_samples_and_rows(void) {
  const int64_t tall[2] = {BIG, 2}, wide[2] = {2, WIDE};
  simloss_tensor x = broadcast(F, SIMLOSS_FLOAT32, 2, tall), y = broadcast(F, SIMLOSS_FLOAT32, 2, tall);
  x.len = 2;
  x.strides[1] = 1;
  CHECK_NO_MEMORY(simloss_bce_with_logits(&x, &y, NULL, NULL, NULL, values, 1, NULL), "one sum per sample");
  CHECK_NO_MEMORY(simloss_sigmoid_focal(&x, &y, NULL, values, 1, NULL), "one sum per sample");
  CHECK_NO_MEMORY(simloss_bce(&x, &y, NULL, NULL, values, 1, NULL), "one sum per sample");
  x = broadcast(F, SIMLOSS_FLOAT32, 2, wide);
  y = broadcast(F, SIMLOSS_FLOAT32, 2, wide);
  x.len = 2;
  x.strides[0] = 1;
  CHECK_NO_MEMORY(simloss_bce_with_logits(&x, &y, NULL, NULL, NULL, values, 1, NULL), "logits: scratch");
}

static void test_ssim_planes(void) {
  const int64_t shape[4] = {BIG, 1, 1, 1}, volume[5] = {BIG, 1, 1, 1, 1};
  simloss_tensor x = broadcast(D, SIMLOSS_FLOAT64, 4, shape), y = broadcast(D + 1, SIMLOSS_FLOAT64, 4, shape);
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.window_size = 1;
  CHECK_NO_MEMORY(simloss_ssim(&x, &y, &o, values, 1, NULL, NULL, NULL, NULL, 0), "SSIM");
  simloss_ms_ssim_options m;
  simloss_ms_ssim_options_init(&m);
  static const double one_weight[1] = {1.0};
  m.levels = 1;
  m.weights = one_weight;
  CHECK_NO_MEMORY(simloss_ms_ssim(&x, &y, &o, &m, values, 1, NULL), "MS-SSIM");
  x = broadcast(D, SIMLOSS_FLOAT64, 5, volume);
  y = broadcast(D + 1, SIMLOSS_FLOAT64, 5, volume);
  CHECK_NO_MEMORY(simloss_ssim3d(&x, &y, &o, values, 1, NULL, NULL, NULL, 0), "SSIM3D");
}

/* Runs `body` in a child process whose address space is limited to
 * `bytes` (RLIMIT_AS), which must exit with 0. Not under AddressSanitizer,
 * whose allocator aborts on a failed allocation. */
static void in_limited_child(rlim_t bytes, void (*body)(void)) {
#if defined(__SANITIZE_ADDRESS__)
  (void)bytes;
  (void)body;
  printf("  skipped under AddressSanitizer\n");
#else
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit limit = {bytes, bytes};
    if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(3);
    body();
    _exit(0);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    FAIL("child %s %d", WIFEXITED(status) ? "exited with" : "died of signal",
         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
#endif
}

/* Under a 4 GiB address-space limit, in a child process: MATLAB
 * downsampling of a broadcast row of 2^31 columns needs a 16 GiB column
 * table, whose allocation fails. (It was a Swift array: the child died
 * with "failed to allocate 17179869216 bytes".) */
static void downsampling_table(void) {
  const int64_t shape[4] = {1, 1, 384, (int64_t)1 << 31};
  simloss_tensor x = broadcast(F, SIMLOSS_FLOAT32, 4, shape);
  simloss_ssim_options o;
  simloss_ssim_options_init(&o);
  o.matlab_downsample = 1;
  simloss_status s = simloss_ssim(&x, &x, &o, values, 1, NULL, NULL, NULL, NULL, 0);
  if (s != SIMLOSS_ERROR_OUT_OF_MEMORY || !strstr(simloss_last_error(), "SSIM downsampling")) {
    fprintf(stderr, "  child: %s: %s\n", simloss_status_string(s), simloss_last_error());
    _exit(1);
  }
}

static void test_downsampling_table_under_a_memory_limit(void) {
  in_limited_child((rlim_t)4 << 30, downsampling_table);
}

/* The thread count changes no status: each thread's scratch is counted
 * against the limit of temporaries, and a call that would pass it runs on
 * fewer threads instead. TV keeps 6 rows of doubles per thread: with W =
 * 2^20 that is 48 MiB, and 16 threads took 768 MiB, past the 384 MiB an
 * address-space limit of 768 MiB leaves (the limit's half): 1 thread was
 * OK and 16 OUT_OF_MEMORY. */
static void tv_on_1_and_16_threads(void) {
  enum { W = 1 << 20 };
  static float row[W];
  for (int i = 0; i < W; i++) row[i] = (float)(((int64_t)i * 7919) % 1000) / 1000.0f;
  const int64_t shape[4] = {16, 1, 4, W};
  simloss_tensor x = broadcast(row, SIMLOSS_FLOAT32, 4, shape);
  x.len = W;
  x.strides[3] = 1;
  double one = -1, many = -2;
  if (simloss_set_num_threads(1) != SIMLOSS_OK || simloss_tv(&x, NULL, &one, 1, NULL) != SIMLOSS_OK) _exit(4);
  simloss_set_num_threads(16);
  simloss_status s = simloss_tv(&x, NULL, &many, 1, NULL);
  if (s != SIMLOSS_OK || many != one) {
    fprintf(stderr, "  child: %s: %s (%.17g, %.17g)\n", simloss_status_string(s), simloss_last_error(), one, many);
    _exit(1);
  }
}

static void test_thread_count_changes_no_status(void) {
  in_limited_child((rlim_t)768 << 20, tv_on_1_and_16_threads);
}

int main(void) {
  static const test_case tests[] = {
    /* First: it forks, and a child of a process whose library threads
       have started may not use them. */
    TEST(test_downsampling_table_under_a_memory_limit),
    TEST(test_thread_count_changes_no_status),
    TEST(test_pointwise_per_sample_sums),
    TEST(test_tv_per_sample_sums_and_row_scratch),
    TEST(test_cross_entropy_positions_and_classes),
    TEST(test_temporaries_within_half_of_memory),
    TEST(test_binary_samples_and_rows),
    TEST(test_ssim_planes),
  };
  return RUN_TESTS(tests);
}
