/* simloss.h, "Common options": results are bitwise the same for any thread
 * count, calls from many threads at once are safe, and a child process
 * after fork() computes on threads of its own. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

enum { N = 4, C = 3, H = 96, W = 80, COUNT = N * C * H * W };
static float P[COUNT], T[COUNT], M[N * H * W];

static void setup(void) {
  unsigned long long s = 71;
  for (int i = 0; i < COUNT; i++) P[i] = (float)test_uniform(&s);
  for (int i = 0; i < COUNT; i++) T[i] = (float)test_uniform(&s);
  for (int i = 0; i < N * H * W; i++) M[i] = (float)test_uniform(&s);
}

/* Runs every foundation loss with a gradient; results into v[5] and g. */
static void run_all(double *v, float *g) {
  simloss_tensor p, t, m, gt;
  simloss_tensor_init_nchw(&p, P, SIMLOSS_FLOAT32, N, C, H, W);
  simloss_tensor_init_nchw(&t, T, SIMLOSS_FLOAT32, N, C, H, W);
  simloss_tensor_init_nchw(&m, M, SIMLOSS_FLOAT32, N, 1, H, W);
  for (int k = 0; k < 5; k++) {
    simloss_tensor_init_nchw(&gt, g + (size_t)k * COUNT, SIMLOSS_FLOAT32, N, C, H, W);
    simloss_tv_options o;
    simloss_tv_options_init(&o);
    o.kind = SIMLOSS_TV_ISOTROPIC;
    simloss_status s =
        k == 0 ? simloss_l1(&p, &t, &m, NULL, v + k, 1, &gt)
      : k == 1 ? simloss_mse(&p, &t, NULL, NULL, v + k, 1, &gt)
      : k == 2 ? simloss_psnr(&p, &t, NULL, v + k, 1, &gt)
      : k == 3 ? simloss_tv(&p, NULL, v + k, 1, &gt)
               : simloss_tv(&p, &o, v + k, 1, &gt);
    if (s != SIMLOSS_OK) FAIL("loss %d: %s", k, simloss_last_error());
  }
}

static void test_threads_bitwise_equal(void) {
  setup();
  static float g1[5 * COUNT], gn[5 * COUNT];
  double v1[5], vn[5];
  CHECK_OK(simloss_set_num_threads(1));
  run_all(v1, g1);
  int counts[] = {2, 3, 8};
  for (int i = 0; i < 3; i++) {
    CHECK_OK(simloss_set_num_threads(counts[i]));
    run_all(vn, gn);
    CHECK(memcmp(v1, vn, sizeof v1) == 0);
    CHECK(memcmp(g1, gn, sizeof g1) == 0);
  }
  CHECK_OK(simloss_set_num_threads(0));
}

static double serial_values[5];
static float serial_grads[5 * COUNT];

static void *worker(void *arg) {
  float *g = malloc(sizeof(float) * 5 * COUNT);
  double v[5];
  int *ok = arg;
  *ok = 1;
  for (int rep = 0; rep < 3; rep++) {
    run_all(v, g);
    if (memcmp(v, serial_values, sizeof v) != 0 || memcmp(g, serial_grads, sizeof(float) * 5 * COUNT) != 0)
      *ok = 0;
    /* A failure on this thread leaves its own message, not another's. */
    if (simloss_l1(NULL, NULL, NULL, NULL, NULL, 0, NULL) != SIMLOSS_ERROR_NULL_POINTER ||
        strcmp(simloss_last_error(), "pred is NULL") != 0)
      *ok = 0;
  }
  free(g);
  return NULL;
}

static void test_concurrent_calls(void) {
  setup();
  run_all(serial_values, serial_grads);
  pthread_t threads[4];
  int ok[4];
  for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, worker, &ok[i]);
  for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
  for (int i = 0; i < 4; i++) CHECK(ok[i]);
}

/* The threads of this process, from /proc/self/task. */
static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* fork() copies only the calling thread: the parent's worker threads are
 * not in the child. The child's calls must neither wait for them nor run
 * on one thread for good: they start workers of their own. */
static void test_fork_child_computes_on_its_own_workers(void) {
  setup();
  CHECK_OK(simloss_set_num_threads(1));
  run_all(serial_values, serial_grads);
  CHECK_OK(simloss_set_num_threads(2));
  static float g[5 * COUNT];
  double v[5];
  run_all(v, g); /* the parent's workers start */
  CHECK(thread_count() >= 2);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    alarm(60); /* a child that hangs dies, and fails the test */
    int single = thread_count() == 1;
    run_all(v, g);
    int same = memcmp(v, serial_values, sizeof v) == 0 && memcmp(g, serial_grads, sizeof g) == 0;
    _exit(single && same && thread_count() >= 2 ? 0 : 1);
  }
  CHECK(child > 0);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    FAIL("child: %s %d", WIFEXITED(status) ? "exit status" : "signal",
         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  CHECK_OK(simloss_set_num_threads(0));
}

int main(void) {
  static const test_case tests[] = {
    TEST(test_threads_bitwise_equal),
    TEST(test_concurrent_calls),
    TEST(test_fork_child_computes_on_its_own_workers),
  };
  return RUN_TESTS(tests);
}
