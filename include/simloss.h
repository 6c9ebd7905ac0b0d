/*
 * simloss.h: loss functions for image models, and their gradients.
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * Introduction
 * ------------
 * simloss computes the losses used to train and evaluate image restoration
 * and classification models (L1, MSE, PSNR, total variation, categorical
 * and binary cross-entropy, focal loss, SSIM and MS-SSIM) together
 * with the gradient of the value it returns, in the same call. The library
 * is written in Swift and exports this C interface only; libsimloss.so needs
 * nothing but the C runtime (libc, libm and the dynamic loader), libstdc++
 * and libgcc_s.
 *
 * Conventions, shared by every function below:
 *  - Every function that can fail returns a simloss_status. SIMLOSS_OK is 0.
 *    On failure simloss_last_error() names the argument and the values that
 *    were wrong. No input, however wrong, crashes the calling process.
 *  - Images and other arrays are described by simloss_tensor: a buffer, an
 *    offset, a shape and strides counted in elements, so any view of a numpy,
 *    PyTorch or OpenCV buffer (NCHW, NHWC, sliced, negative strides) is read
 *    in place. A view that would read outside its buffer is rejected.
 *  - Image losses take logical (N, C, H, W) tensors. An NHWC buffer is the
 *    same logical tensor with other strides: simloss_tensor_init_nhwc().
 *  - Loss values are accumulated and returned in double, whatever the element
 *    type; inputs are float32 or float64 (other types: SIMLOSS_ERROR_DTYPE),
 *    class indices int32 or int64.
 *  - Options travel in size-prefixed structs (see "Options" below).
 *  - When a gradient tensor is given, the call also writes the gradient of
 *    the returned value with respect to the first input, in the same pass.
 *    A NULL gradient means forward only.
 *  - The library keeps no pointer to caller memory after a call returns.
 *  - Every function is reentrant and may be called concurrently from any
 *    number of threads. Results are bitwise identical whatever the number of
 *    threads (simloss_set_num_threads()). A call is not a cancellation
 *    point: it runs with pthread cancellation off, and a pending cancel
 *    acts at the thread's next cancellation point after it returns (at
 *    once, with asynchronous cancellation). A thread that calls the library needs a stack
 *    of 64 KiB or more: the Swift runtime builds type information on it
 *    at the first call (measured: 16 and 24 KiB overflowed, 32 KiB did
 *    not).
 *  - fork(): the library's pthread_atfork handlers, installed by the first
 *    call of any function (the Python module makes one when imported), hold
 *    a fork back until the calls in flight return and keep other threads'
 *    new calls waiting meanwhile, so that the child finds no half-done
 *    initialisation and computes normally. The forking thread may call the
 *    library from its own fork handlers. The wait is at most 10 s: a fork
 *    from a signal handler that interrupted a call on the same thread waits
 *    that long, then goes ahead unguarded (its child may then hang in its
 *    first call). A fork that begins while the process's very first call is
 *    installing the handlers is not guarded either.
 *  - Memory: temporaries are refused (SIMLOSS_ERROR_OUT_OF_MEMORY) past half
 *    of the memory the process may use; but the Swift runtime's own small
 *    allocations cannot fail gracefully, and a process whose address space
 *    is exhausted (ulimit -v) may abort in any call.
 *
 * Stability: everything in this header is stable ABI from 1.0 on: functions
 * are only added, status values and struct fields only appended.
 */
#ifndef SIMLOSS_H
#define SIMLOSS_H

/* size_t for option struct sizes and buffer lengths. */
#include <stddef.h>
/* Fixed-width integers, so that struct layouts are the same everywhere. */
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================== */
/* Version                                                                  */
/* ======================================================================== */

#define SIMLOSS_VERSION_MAJOR 0
#define SIMLOSS_VERSION_MINOR 1
#define SIMLOSS_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define SIMLOSS_VERSION_NUMBER \
  (SIMLOSS_VERSION_MAJOR * 10000 + SIMLOSS_VERSION_MINOR * 100 + SIMLOSS_VERSION_PATCH)
#define SIMLOSS_VERSION_STRING "0.1.0"
/* The soname's number: libsimloss.so.1. It changes only when the ABI breaks. */
#define SIMLOSS_ABI_VERSION 1

/* ======================================================================== */
/* Export and deprecation macros                                            */
/* ======================================================================== */

#ifndef SIMLOSS_API
#  if defined(__GNUC__) || defined(__clang__)
#    define SIMLOSS_API __attribute__((visibility("default")))
#  else
#    define SIMLOSS_API
#  endif
#endif

#ifndef SIMLOSS_DISABLE_DEPRECATE_WARNINGS
#  if defined(__GNUC__) || defined(__clang__)
#    define SIMLOSS_DEPRECATED(message) __attribute__((deprecated(message)))
#  else
#    define SIMLOSS_DEPRECATED(message)
#  endif
#else
#  define SIMLOSS_DEPRECATED(message)
#endif

/** simloss_version_number() :
 *  @return SIMLOSS_VERSION_NUMBER of the library that is loaded, which may be
 *          newer than the header the caller was compiled with. Since 0.1 */
SIMLOSS_API int simloss_version_number(void);

/** simloss_version_string() :
 *  @return SIMLOSS_VERSION_STRING of the loaded library; static storage,
 *          never freed. Since 0.1 */
SIMLOSS_API const char *simloss_version_string(void);

/** simloss_abi_version() :
 *  @return SIMLOSS_ABI_VERSION of the loaded library. A caller compiled
 *          against another ABI version must not use it. Since 0.1 */
SIMLOSS_API int simloss_abi_version(void);

/** simloss_build_info() :
 *  @return a static string of "key=value" pairs separated by spaces that
 *          describes the build and this process: version, CPU target
 *          (cpu=haswell or cpu=native), the kernels the
 *          cross-entropy family runs (kernels=avx512 or kernels=baseline,
 *          see below) and the default thread count rule. Since 0.1
 *
 *  Kernels: the cross-entropy functions (simloss_cross_entropy,
 *  simloss_cross_entropy_soft, simloss_cross_entropy_probs,
 *  simloss_bce_with_logits, simloss_bce, simloss_sigmoid_focal), float32
 *  and float64, have a second set of kernels compiled for AVX-512
 *  (AVX-512 F, BW, CD, DQ and VL), used when glibc reports all five active
 *  (CPUID and the OS's register saving; under valgrind, whose CPU has
 *  none, the baseline runs), about 1.2x faster in float32 and 1.4-2x in
 *  float64 where their exponentials dominate. The results are bitwise the
 *  same with either set. The environment variable SIMLOSS_KERNELS=baseline,
 *  read once per process, keeps the baseline kernels. */
SIMLOSS_API const char *simloss_build_info(void);

/* ======================================================================== */
/* Status codes                                                             */
/* ======================================================================== */

/* Values are pinned: never renumbered, only appended. Grouped by tens:
 * 10s argument errors, 20s shape and layout, 30s element type, 40s
 * resources, 90s internal. */
typedef enum simloss_status {
  SIMLOSS_OK = 0,
  /* A required pointer argument (or a tensor's data pointer) is NULL. */
  SIMLOSS_ERROR_NULL_POINTER = 10,
  /* An option or scalar argument is out of its documented range. */
  SIMLOSS_ERROR_INVALID_ARGUMENT = 11,
  /* An options struct's size field is below sizeof(size_t) or above 4096,
   * or larger than this library's struct with non-zero bytes in the part
   * it does not know. */
  SIMLOSS_ERROR_OPTIONS_SIZE = 12,
  /* A value inside an input tensor is not allowed (a negative or NaN weight,
   * a class index out of range). */
  SIMLOSS_ERROR_INVALID_VALUE = 13,
  /* A tensor has the wrong rank for this function, or a rank outside
   * 1...SIMLOSS_MAX_RANK. */
  SIMLOSS_ERROR_RANK = 20,
  /* Two tensors that must have the same (or broadcastable) shape do not. */
  SIMLOSS_ERROR_SHAPE_MISMATCH = 21,
  /* An image is too small for the operation (for example for a window). */
  SIMLOSS_ERROR_TOO_SMALL = 22,
  /* A tensor's offset and strides reach outside its buffer. */
  SIMLOSS_ERROR_OUT_OF_BOUNDS = 23,
  /* An output tensor overlaps an input tensor: their address ranges (from
   * the lowest to the highest byte either can reach) intersect, even when
   * interleaved strides would keep their elements apart. */
  SIMLOSS_ERROR_OVERLAP = 24,
  /* A dimension is zero or negative. */
  SIMLOSS_ERROR_INVALID_SHAPE = 25,
  /* A tensor's dtype is not one of simloss_dtype. */
  SIMLOSS_ERROR_DTYPE = 30,
  /* Tensors that must share a dtype do not. */
  SIMLOSS_ERROR_DTYPE_MISMATCH = 31,
  /* A temporary buffer could not be allocated, or would take the
     temporaries of all calls in flight past half the memory the process
     may use (the physical memory, or its cgroup's limit or its
     address-space limit, RLIMIT_AS, when lower; at most 64 GiB): refused,
     rather than granted by an
     overcommitting kernel that kills the process when the pages are
     touched. Besides scratch, a call keeps a few rows of the last
     dimension, with reduction NONE one double per value it returns,
     for cross-entropy a double per class, and for the losses that reduce
     each sample first (PSNR, TV) one double per sample (dimension 0): a
     broadcast view (stride 0) far larger than its memory, such as 2^36
     samples for simloss_psnr() or 2^31 classes on a 24 GiB machine, gets
     this status, with nothing written. (L1 of 2^36 broadcast samples
     needs no such memory, and computes.) */
  SIMLOSS_ERROR_OUT_OF_MEMORY = 40,
  /* A size computed from shapes or strides overflows 64 bits. */
  SIMLOSS_ERROR_OVERFLOW = 41,
  /* A bug in simloss; please report it with simloss_last_error(). */
  SIMLOSS_ERROR_INTERNAL = 90
} simloss_status;

/** simloss_status_string() :
 *  @return the name of a status as a static string, e.g. "SIMLOSS_OK";
 *          "unknown status" for a value that is not a simloss_status.
 *          Never NULL. Since 0.1 */
SIMLOSS_API const char *simloss_status_string(int status);

/** simloss_last_error() :
 *  @return the message of the last failed simloss call on this thread, for
 *          example "target: shape (2, 3, 8, 9) does not match pred shape
 *          (2, 3, 8, 8)"; "" when the last call succeeded. Never NULL.
 *  The string is owned by the library and stays valid until the next simloss
 *  call on the same thread; never free it. Since 0.1 */
SIMLOSS_API const char *simloss_last_error(void);

/* ======================================================================== */
/* Tensor descriptor                                                        */
/* ======================================================================== */

#define SIMLOSS_MAX_RANK 8
/* The most elements a tensor may have: 2^40. Only broadcast views (zero
 * strides) reach it with real memory, and a loss over more elements would
 * run for hours: such a view gets SIMLOSS_ERROR_OVERFLOW. */
#define SIMLOSS_MAX_ELEMENTS ((int64_t)1 << 40)

/* Element types. The integer types hold class indices, and only those. */
typedef enum simloss_dtype {
  SIMLOSS_FLOAT32 = 1,
  SIMLOSS_FLOAT64 = 2,
  SIMLOSS_INT32 = 3,
  SIMLOSS_INT64 = 4
} simloss_dtype;

/* A strided view of a caller's buffer. Element (i0, ..., i{rank-1}) is
 *     ((T *)data)[offset + i0 * strides[0] + ... + i{rank-1} * strides[rank-1]]
 * with T the C type of dtype. Every element the view reaches must lie in
 * [0, len) of the buffer, or the call fails with SIMLOSS_ERROR_OUT_OF_BOUNDS
 * and reads nothing. At most SIMLOSS_MAX_ELEMENTS elements. Strides may be zero (broadcast, inputs only) or negative.
 * Entries of shape and strides past rank are ignored.
 *
 * Inputs are never written through data, although it is not const: one
 * descriptor type serves inputs and outputs. */
typedef struct simloss_tensor {
  void *data;                          /* start of the caller's buffer */
  int64_t len;                         /* elements the buffer holds, >= 1 */
  int64_t offset;                      /* index of element (0, ..., 0) */
  int32_t dtype;                       /* a simloss_dtype */
  int32_t rank;                        /* 1 ... SIMLOSS_MAX_RANK */
  int64_t shape[SIMLOSS_MAX_RANK];     /* each >= 1 */
  int64_t strides[SIMLOSS_MAX_RANK];   /* in elements, not bytes */
} simloss_tensor;

/** simloss_tensor_init_dense() :
 *  Fills *tensor with a dense row-major (C-order) view of data: offset 0,
 *  the last dimension contiguous, len the product of the shape.
 *  @return SIMLOSS_OK; SIMLOSS_ERROR_NULL_POINTER (tensor, data or shape
 *          NULL), SIMLOSS_ERROR_RANK, SIMLOSS_ERROR_INVALID_SHAPE,
 *          SIMLOSS_ERROR_DTYPE, SIMLOSS_ERROR_OVERFLOW. Since 0.1 */
SIMLOSS_API simloss_status simloss_tensor_init_dense(
    simloss_tensor *tensor, void *data, int32_t dtype,
    int32_t rank, const int64_t *shape);

/** simloss_tensor_init_nchw() :
 *  Fills *tensor with the logical (N, C, H, W) view of a dense NCHW buffer of
 *  n * c * h * w elements.
 *  @return as simloss_tensor_init_dense(). Since 0.1 */
SIMLOSS_API simloss_status simloss_tensor_init_nchw(
    simloss_tensor *tensor, void *data, int32_t dtype,
    int64_t n, int64_t c, int64_t h, int64_t w);

/** simloss_tensor_init_nhwc() :
 *  Fills *tensor with the logical (N, C, H, W) view of a dense NHWC
 *  (channels-last) buffer of n * h * w * c elements: shape (n, c, h, w),
 *  strides (h*w*c, 1, w*c, c). Image losses read it in place.
 *  @return as simloss_tensor_init_dense(). Since 0.1 */
SIMLOSS_API simloss_status simloss_tensor_init_nhwc(
    simloss_tensor *tensor, void *data, int32_t dtype,
    int64_t n, int64_t h, int64_t w, int64_t c);

/* ======================================================================== */
/* Common options: reductions and threads                                   */
/* ======================================================================== */

/* How per-sample loss values are combined into what a call returns.
 * A "sample" is an index of dimension 0 (an image of a batch). */
typedef enum simloss_reduction {
  /* One value: the mean (each loss documents over what). The default. */
  SIMLOSS_REDUCTION_MEAN = 0,
  /* One value: the sum of the per-sample values. */
  SIMLOSS_REDUCTION_SUM = 1,
  /* shape[0] values, one per sample, written to the caller's array. The
   * gradient is then that of the sum of these values, i.e. each sample's
   * block of the gradient is the gradient of that sample's own value. */
  SIMLOSS_REDUCTION_NONE = 2
} simloss_reduction;

/* Options
 * -------
 * Each loss family has an options struct whose first field is its size:
 *
 *     simloss_tv_options opt;
 *     simloss_tv_options_init(&opt);    sets size and every default
 *     opt.kind = SIMLOSS_TV_ISOTROPIC;
 *     simloss_tv(x, &opt, values, 1, NULL);
 *
 * The library reads the first min(opt.size, its own size) bytes; fields a
 * caller's older header does not know take their defaults. A size larger
 * than the library's is accepted only if the bytes it does not know are zero
 * (and it is at most 4096 bytes: no options struct will grow past that).
 * A zero field selects the documented default, except where a field's doc
 * says that zero is a value (a class index, a focal alpha); the _init
 * function always sets every default. Fields are only appended.
 * Passing NULL for the options pointer selects every default.
 * Why structs rather than zstd-style parameter setters: every simloss call
 * is a stateless one-shot, and a context object would add a lifetime to
 * manage for nothing. */

/** simloss_set_num_threads() :
 *  Sets the process-wide number of threads the library may use. 0 restores
 *  the default: the SIMLOSS_NUM_THREADS environment variable if it holds a
 *  positive integer, else the number of processors this process may run on
 *  (counted when first needed, and again at each call with 0). Takes effect
 *  for calls that start afterwards. Results and statuses do not depend on
 *  it: a call whose per-thread scratch would not fit the limit of
 *  temporaries (SIMLOSS_ERROR_OUT_OF_MEMORY) on n threads runs on fewer.
 *  The calling thread computes too: n threads means n - 1 worker threads,
 *  started by the first call that uses them and kept for the process's
 *  life, with ordinary scheduling and the main thread's processor affinity.
 *  After a call, an idle worker waits actively (spinning) for the next call
 *  for 1 ms, then sleeps; the SIMLOSS_WAIT_US environment variable (read
 *  once, 0 to 10000000 microseconds) changes that time, 0 to sleep at once.
 *  (Waking a sleeping thread costs 15 to 40 us on virtual machines.) Only
 *  the first (processors - 1) workers spin. A call made while another
 *  thread's call uses the workers runs on its own thread alone, and for
 *  10 ms after it no worker spins (the processors are then wanted by the
 *  calling threads). Workers block asynchronous signals only: a fault in a
 *  worker reaches the application's handler (and, since they are the
 *  library's, they do not end: a process whose main thread calls
 *  pthread_exit() after a parallel call lives on with them, and only
 *  SIGKILL ends it). A child process created by fork() starts workers of
 *  its own when it first needs them. (Every
 *  function also repairs, in a forked child, the thread id that the Swift
 *  runtime inside the library cached in the parent; without that, threads
 *  of a child making their first calls at once could wait for ever.)
 *  @return SIMLOSS_OK; SIMLOSS_ERROR_INVALID_ARGUMENT for n < 0 or
 *          n > 1024. Since 0.1 */
SIMLOSS_API simloss_status simloss_set_num_threads(int n);

/** simloss_get_num_threads() :
 *  @return the number of threads calls use now, >= 1. Since 0.1 */
SIMLOSS_API int simloss_get_num_threads(void);

/* ======================================================================== */
/* Pointwise losses: L1 and MSE                                             */
/* ======================================================================== */

typedef struct simloss_pointwise_options {
  size_t size;        /* sizeof(simloss_pointwise_options) */
  int32_t reduction;  /* a simloss_reduction; default MEAN */
  int32_t reserved_;  /* must be 0 */
} simloss_pointwise_options;

static inline void simloss_pointwise_options_init(simloss_pointwise_options *o) {
  o->size = sizeof *o;
  o->reduction = SIMLOSS_REDUCTION_MEAN;
  o->reserved_ = 0;
}

/** simloss_l1() :
 *  Mean absolute error. For each sample n (index of dimension 0):
 *      value_n = sum_i w_i |pred_i - target_i| / sum_i w_i
 *  over the elements i of that sample, with w_i = 1 when weight is NULL.
 *  MEAN returns sum_n sum_i w_i |d_i| / sum_n sum_i w_i (the mean over all
 *  elements, or over the weight), as torch.nn.L1Loss; SUM returns
 *  sum_n sum_i w_i |d_i|; NONE writes value_n. A sample (or batch) whose
 *  weight sums to 0 has value 0 and gradient 0.
 *  The derivative of |d| at d = 0 is taken as 0 (PyTorch, TensorFlow).
 *
 *  @param pred    any rank 1...8, float32 or float64.
 *  @param target  the shape and dtype of pred.
 *  @param weight  NULL, or a per-element weight of pred's dtype and rank whose
 *                 every dimension equals pred's or is 1 (broadcast, e.g. an
 *                 (N, 1, H, W) mask). Weights must be finite and >= 0.
 *  @param options NULL for defaults.
 *  @param values  output: 1 double (MEAN, SUM) or shape[0] doubles (NONE),
 *                 written last, after every input has been read. It is not
 *                 checked against the tensors (nor are the other plain
 *                 double outputs of this header): memory it shares with
 *                 one is overwritten.
 *  @param values_len  the number of doubles values holds.
 *  @param grad    NULL, or an output of pred's shape and dtype, not
 *                 overlapping any input: receives d value / d pred (for NONE,
 *                 see simloss_reduction). Any strides; no broadcast.
 *  Reentrant. On failure values and grad are not written.
 *  @return SIMLOSS_OK; SIMLOSS_ERROR_NULL_POINTER, _INVALID_ARGUMENT,
 *          _OPTIONS_SIZE, _INVALID_VALUE (negative or non-finite weight),
 *          _RANK, _SHAPE_MISMATCH, _OUT_OF_BOUNDS, _OVERLAP, _INVALID_SHAPE,
 *          _DTYPE, _DTYPE_MISMATCH, _OUT_OF_MEMORY, _OVERFLOW. Since 0.1 */
SIMLOSS_API simloss_status simloss_l1(
    const simloss_tensor *pred, const simloss_tensor *target,
    const simloss_tensor *weight, const simloss_pointwise_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

/** simloss_mse() :
 *  Mean squared error, the L2 loss: as simloss_l1() with (pred - target)^2
 *  in place of |pred - target| (torch.nn.MSELoss, skimage's
 *  mean_squared_error). Parameters, weights, reductions and statuses are
 *  those of simloss_l1(). Since 0.1 */
SIMLOSS_API simloss_status simloss_mse(
    const simloss_tensor *pred, const simloss_tensor *target,
    const simloss_tensor *weight, const simloss_pointwise_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

/* ======================================================================== */
/* PSNR                                                                     */
/* ======================================================================== */

typedef struct simloss_psnr_options {
  size_t size;        /* sizeof(simloss_psnr_options) */
  int32_t reduction;  /* a simloss_reduction; default MEAN */
  int32_t reserved_;  /* must be 0 */
  double data_range;  /* L, the input units between the darkest and the
                         brightest value: 1.0 for [0, 1] images, 255.0 for
                         8-bit ones. > 0 and finite; 0 selects 1.0. Never
                         inferred from the data. */
} simloss_psnr_options;

static inline void simloss_psnr_options_init(simloss_psnr_options *o) {
  o->size = sizeof *o;
  o->reduction = SIMLOSS_REDUCTION_MEAN;
  o->reserved_ = 0;
  o->data_range = 1.0;
}

/** simloss_psnr() :
 *  Peak signal-to-noise ratio in dB, per sample (index of dimension 0):
 *      psnr_n = 10 log10(L^2 / mse_n),  mse_n the mean over the sample's
 *  elements of (pred - target)^2 (skimage's peak_signal_noise_ratio of each
 *  image). MEAN returns the mean of psnr_n over samples (the usual "average
 *  PSNR" of a test set), SUM their sum, NONE each psnr_n. A sample with
 *  mse_n = 0 has psnr_n = +infinity and a zero gradient.
 *  @param pred, target  as simloss_l1(); no weight.
 *  @param values, values_len, grad  as simloss_l1(); the gradient is
 *         d psnr / d pred = -20 / (ln 10 * count_n * mse_n) * (pred - target).
 *  @return the statuses of simloss_l1(); SIMLOSS_ERROR_INVALID_ARGUMENT for
 *          a data_range that is negative, NaN or infinite. Since 0.1 */
SIMLOSS_API simloss_status simloss_psnr(
    const simloss_tensor *pred, const simloss_tensor *target,
    const simloss_psnr_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

/* ======================================================================== */
/* Total variation                                                          */
/* ======================================================================== */

typedef enum simloss_tv_kind {
  /* sum |x[h+1,w] - x[h,w]| + |x[h,w+1] - x[h,w]|, the seed's formula. */
  SIMLOSS_TV_ANISOTROPIC = 0,
  /* sum over every pixel of sqrt(dy^2 + dx^2 + eps), with the forward
   * differences dy, dx taken as 0 past the last row and column. */
  SIMLOSS_TV_ISOTROPIC = 1,
  /* sum (x[h+1,w] - x[h,w])^2 + (x[h,w+1] - x[h,w])^2. */
  SIMLOSS_TV_SQUARED = 2
} simloss_tv_kind;

typedef struct simloss_tv_options {
  size_t size;        /* sizeof(simloss_tv_options) */
  int32_t reduction;  /* a simloss_reduction; default MEAN */
  int32_t kind;       /* a simloss_tv_kind; default ANISOTROPIC */
  double eps;         /* ISOTROPIC only: > 0 and finite, in squared input
                         units; 0 selects 1e-8. It keeps the gradient finite
                         on flat regions and adds sqrt(eps) per pixel there. */
} simloss_tv_options;

static inline void simloss_tv_options_init(simloss_tv_options *o) {
  o->size = sizeof *o;
  o->reduction = SIMLOSS_REDUCTION_MEAN;
  o->kind = SIMLOSS_TV_ANISOTROPIC;
  o->eps = 1e-8;
}

/** simloss_tv() :
 *  Total variation of each image, summed over its channels, rows and columns
 *  (TensorFlow's tf.image.total_variation, torchmetrics' and kornia's
 *  total_variation for ANISOTROPIC). MEAN returns the mean over the N
 *  images of their per-image sums, SUM the sum, NONE each image's value.
 *  The derivative of |d| at d = 0 is taken as 0 (PyTorch, TensorFlow).
 *  Precision: ISOTROPIC and SQUARED form differences in double; ANISOTROPIC
 *  forms them in the element type, so for float32 its value is within 2e-7
 *  (relative) of the exact one, and its gradient, scale times a sum of four
 *  signs, is exact; neighbours that differ by more than FLT_MAX (values
 *  beyond +-1.7e38) give +infinity.
 *  @param x       a logical (N, C, H, W) tensor, float32 or float64, any
 *                 strides (NHWC: simloss_tensor_init_nhwc()). H = 1 or W = 1
 *                 is allowed: that direction then contributes nothing.
 *  @param options NULL for defaults.
 *  @param values, values_len, grad  as simloss_l1(), with x as pred.
 *  @return SIMLOSS_OK; SIMLOSS_ERROR_NULL_POINTER, _INVALID_ARGUMENT (kind,
 *          reduction, eps), _OPTIONS_SIZE, _RANK (x not of rank 4),
 *          _SHAPE_MISMATCH (grad), _OUT_OF_BOUNDS, _OVERLAP, _INVALID_SHAPE,
 *          _DTYPE, _DTYPE_MISMATCH, _OUT_OF_MEMORY, _OVERFLOW. Since 0.1 */
SIMLOSS_API simloss_status simloss_tv(
    const simloss_tensor *x, const simloss_tv_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

/* ======================================================================== */
/* Cross-entropy                                                            */
/* ======================================================================== */

/* Where the classes of a logits tensor are. */
typedef enum simloss_class_axis {
  /* Dimension 1: (N, C) or (N, C, d1, ..., dk), PyTorch's layout. */
  SIMLOSS_CLASS_AXIS_SECOND = 0,
  /* The last dimension: (N, d1, ..., dk, C), channels-last. */
  SIMLOSS_CLASS_AXIS_LAST = 1
} simloss_class_axis;

typedef struct simloss_cross_entropy_options {
  size_t size;            /* sizeof(simloss_cross_entropy_options) */
  int32_t reduction;      /* a simloss_reduction; default MEAN (see each
                             function for what it divides by); NONE gives
                             one value per position (N x d1 x ... x dk, in
                             row-major order), as PyTorch */
  int32_t class_axis;     /* a simloss_class_axis; default SECOND */
  int64_t ignore_index;   /* class-index targets equal to it do not count;
                             default -100 (0 is a class: no zero default) */
  double label_smoothing; /* eps in [0, 1]: targets become
                             (1 - eps) target + eps / C; default 0 */
} simloss_cross_entropy_options;

static inline void simloss_cross_entropy_options_init(simloss_cross_entropy_options *o) {
  o->size = sizeof *o;
  o->reduction = SIMLOSS_REDUCTION_MEAN;
  o->class_axis = SIMLOSS_CLASS_AXIS_SECOND;
  o->ignore_index = -100;
  o->label_smoothing = 0.0;
}

/* What a categorical cross-entropy call counted, for combining the partial
 * results of data-parallel shards exactly: the total SUM over shards divided
 * by the total denominator is the MEAN of the whole batch. */
typedef struct simloss_cross_entropy_stats {
  double denominator;     /* what MEAN divides by */
  int64_t counted;        /* positions whose target counted */
} simloss_cross_entropy_stats;

/** simloss_cross_entropy() :
 *  Categorical cross-entropy of logits against class indices, through a
 *  stable log-sum-exp (torch.nn.CrossEntropyLoss with class-index targets):
 *      loss_n = (1 - eps) w[y_n] (lse(x_n) - x_n[y_n])
 *             + (eps / C) sum_c w_c (lse(x_n) - x_n[c])
 *  per position n. A target equal to ignore_index counts nothing and gets a
 *  zero gradient. MEAN divides the sum by the sum of w[y_n] over counted
 *  positions; when that sum is 0 (nothing counts, or the weights of the
 *  targets that count are 0 or cancel) it returns 0 with a zero gradient,
 *  where PyTorch divides by 0 (NaN, or +-inf with label smoothing); the
 *  stats still give the count. Logits of 1e4 do not overflow; a -inf
 *  logit of a class other than the target gives probability 0 and a
 *  finite loss (of the target: +inf). NaN logits give a NaN loss.
 *  For float32, exp and log are evaluated in float32 (within 2 ulp), the
 *  sum of a position's exponentials in float32 32 classes at a time and
 *  in double beyond, and the losses summed in double. A position's loss
 *  lse(x_n) - x_n[y_n] is then accurate to the rounding of lse(x_n)
 *  itself, whose size is up to |max logit| + log C: within
 *  1.2e-7 (1 + |max logit| + log C) absolute, not relative (measured
 *  worst 0.86 of that over 600 random cases, 2 to 20000 classes). A loss
 *  below about 1e-7 (a confident correct prediction) has few correct
 *  digits, as in PyTorch's and JAX's float32 losses, which round alike.
 *  The gradient's entries likewise carry the rounding of the
 *  probabilities, absolute (at a confident target, p - 1 with p near 1).
 *  Probabilities below 2^-126 (FLT_MIN) are taken as 0. For float64, exp
 *  and log are within 1 ulp, the same holds with 6e-16 in place of 1.2e-7
 *  (measured worst 4.0e-16; logits of 1e10 leave about 1e-6 absolute),
 *  and probabilities below 2^-1022 (DBL_MIN) are taken as 0.
 *  @param logits  (N, C, d1, ..., dk) or, with class_axis LAST,
 *                 (N, d1, ..., dk, C); float32 or float64; any strides.
 *  @param target  SIMLOSS_INT32 or SIMLOSS_INT64 class indices of the
 *                 logits' shape less the class dimension, each in [0, C) or
 *                 equal to ignore_index.
 *  @param weight  NULL, or C finite class weights of the logits' dtype.
 *  @param options NULL for defaults.
 *  @param values  output: 1 double, or one per position for NONE.
 *  @param grad    NULL, or the logits' shape and dtype: d value / d logits.
 *  @param stats   NULL, or receives the denominator and count.
 *  Reentrant. On failure nothing is written.
 *  @return SIMLOSS_OK; SIMLOSS_ERROR_NULL_POINTER, _INVALID_ARGUMENT
 *          (reduction, class_axis, label_smoothing, values_len),
 *          _OPTIONS_SIZE, _INVALID_VALUE (an index out of range, named with
 *          its position; a weight that is not finite), _RANK (logits of
 *          rank < 2), _SHAPE_MISMATCH, _OUT_OF_BOUNDS, _OVERLAP,
 *          _INVALID_SHAPE, _DTYPE (target not an integer type),
 *          _DTYPE_MISMATCH, _OUT_OF_MEMORY, _OVERFLOW. Since 0.1 */
SIMLOSS_API simloss_status simloss_cross_entropy(
    const simloss_tensor *logits, const simloss_tensor *target,
    const simloss_tensor *weight, const simloss_cross_entropy_options *options,
    double *values, size_t values_len, const simloss_tensor *grad,
    simloss_cross_entropy_stats *stats);

/** simloss_cross_entropy_soft() :
 *  Categorical cross-entropy of logits against probability (soft) targets of
 *  the logits' shape and dtype: loss_n = -sum_c w_c t'_nc log softmax(x_n)_c
 *  with t' = (1 - eps) t + eps / C (PyTorch's probability targets). MEAN
 *  divides by the number of positions. Targets are used as given (not
 *  checked to sum to 1). ignore_index does not apply. Parameters, outputs
 *  and statuses as simloss_cross_entropy(). Since 0.1 */
SIMLOSS_API simloss_status simloss_cross_entropy_soft(
    const simloss_tensor *logits, const simloss_tensor *target,
    const simloss_tensor *weight, const simloss_cross_entropy_options *options,
    double *values, size_t values_len, const simloss_tensor *grad,
    simloss_cross_entropy_stats *stats);

/** simloss_cross_entropy_probs() :
 *  The seed's H(P, Q) = -sum_c P_c log Q_c between a target distribution P
 *  and a predicted probability distribution Q (not logits), per position,
 *  each log clamped at -100 as PyTorch's BCELoss does, so Q_c = 0 gives a
 *  finite loss. The gradient is d value / d Q: -P_c / Q_c, and 0 where the
 *  clamp holds (where P_c is 0, the gradient is -0 or 0, as autograd's of
 *  the same formula). MEAN is over positions. Each term P_c log Q_c and
 *  each gradient element is evaluated in the dtype (float32: within 2 ulp;
 *  float64: 1 ulp); a position's terms are summed in class order in the
 *  dtype, 32 classes at a time (within 32 ulp when P >= 0: the terms then
 *  share a sign), and those sums in double; except where probs, target and
 *  grad all have their classes contiguous and there are more than 40
 *  float32 (32 float64) classes: then each position's terms in double.
 *  Positions are summed in double. Channels last, classes contiguous in
 *  all three, with up to 40 float32 (32 float64) classes, gives bitwise
 *  the per-position values and the gradient of the same data laid out
 *  (N, C, ...), and for rank 3 or more the same MEAN and SUM. Prefer
 *  simloss_cross_entropy() from logits in training: it is stable where
 *  probabilities have rounded to 0.
 *  @param probs   Q, (N, C, ...) or with class_axis LAST (N, ..., C);
 *                 every value in [0, 1] (else SIMLOSS_ERROR_INVALID_VALUE).
 *  @param target  P, the same shape and dtype.
 *  Only reduction and class_axis of the options apply. Outputs and
 *  statuses as simloss_cross_entropy(). Since 0.1 */
SIMLOSS_API simloss_status simloss_cross_entropy_probs(
    const simloss_tensor *probs, const simloss_tensor *target,
    const simloss_cross_entropy_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

typedef struct simloss_binary_options {
  size_t size;            /* sizeof(simloss_binary_options) */
  int32_t reduction;      /* a simloss_reduction; default MEAN, the mean
                             over all elements (PyTorch); NONE gives one
                             value per element */
  int32_t reserved_;      /* must be 0 */
  double alpha;           /* focal only: weight of positives in [0, 1], or
                             negative for none; default 0.25 (0 is a value) */
  double gamma;           /* focal only: exponent >= 0; default 2 (0 is a
                             value: binary cross-entropy) */
} simloss_binary_options;

static inline void simloss_binary_options_init(simloss_binary_options *o) {
  o->size = sizeof *o;
  o->reduction = SIMLOSS_REDUCTION_MEAN;
  o->reserved_ = 0;
  o->alpha = 0.25;
  o->gamma = 2.0;
}

/** simloss_bce_with_logits() :
 *  Binary cross-entropy from logits in its stable form
 *  (torch.nn.BCEWithLogitsLoss):
 *      loss = (1 - y) x + (1 + (q - 1) y) softplus(-x)
 *  with pos_weight q (1 without), times the element's weight. The gradient
 *  is w ((1 - y) sigmoid(x) - q y sigmoid(-x)) times the reduction's scale.
 *  It is evaluated as |x| (1 - y for x > 0, else y) + log1p(exp(-|x|))
 *  (plus the pos_weight term), so that a well-classified element keeps its
 *  small loss on either side (x = -30, y = 0 gives 9.4e-14, not 0), and an
 *  infinite logit gives an infinite loss (NaN where PyTorch's is too:
 *  x = +inf with y = 1, and x = -inf with y = 0). For float32,
 *  exp(-|x|) and log1p are evaluated in float32 (each within 2e-7
 *  relative); exp(-|x|) below 2^-126 (|x| > 87.3) is taken as 0. For
 *  float64, each within 1 ulp, and below 2^-1022 (|x| > 708.4) 0. With
 *  MEAN or SUM, float32 and neither weight nor pos_weight (the common
 *  training call), the log1p terms are summed instead as the float64
 *  logarithm of the product of the 1 + exp(-|x|) (one logarithm per row
 *  of elements instead of one per element); the sum is within 1e-7
 *  relative of the float64 sum of the exact terms.
 *  @param logits     any rank, float32 or float64, any strides.
 *  @param target     the same shape and dtype; soft targets allowed.
 *  @param weight     NULL or per-element weights broadcastable to the
 *                    logits' shape (same rank, each dimension equal or 1).
 *  @param pos_weight NULL or q broadcastable likewise: PyTorch's per-class
 *                    pos_weight of C classes on the last dimension is a
 *                    (1, ..., 1, C) tensor.
 *  @param values, values_len, grad  as simloss_l1(); NONE writes one value
 *                    per element.
 *  weight and pos_weight are used as given, as PyTorch does (a NaN weight
 *  gives a NaN loss, a negative one a negative term); they are not checked
 *  as simloss_l1()'s mask is.
 *  @return the statuses of simloss_l1() but _INVALID_VALUE. Since 0.1 */
SIMLOSS_API simloss_status simloss_bce_with_logits(
    const simloss_tensor *logits, const simloss_tensor *target,
    const simloss_tensor *weight, const simloss_tensor *pos_weight,
    const simloss_binary_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

/** simloss_bce() :
 *  Binary cross-entropy from probabilities (torch.nn.BCELoss):
 *      loss = -(y max(log p, -100) + (1 - y) max(log(1 - p), -100))
 *  times the element's weight. The clamp keeps p = 0 and p = 1 finite (a
 *  loss of 100); a clamped log contributes 0 to the gradient, which is
 *  otherwise -y / p + (1 - y) / (1 - p), the derivative of the loss
 *  returned. PyTorch's backward is instead (p - y) / max(p (1 - p), 1e-12),
 *  which differs where p (1 - p) < 1e-12: at p = 1e-20, y = 1 it gives
 *  -1e12 where simloss gives -1e20, and at p = 0 (a clamped log) -1e12
 *  where simloss gives 0. (Keras clips p to [1e-7, 1 - 1e-7] instead.)
 *  @param probs   any rank; every value in [0, 1].
 *  @param target  the same shape and dtype; every value in [0, 1].
 *  @param weight  as simloss_bce_with_logits().
 *  @return the statuses of simloss_l1(); SIMLOSS_ERROR_INVALID_VALUE names
 *          the first probability or target outside [0, 1] (or NaN), before
 *          anything is written. Since 0.1 */
SIMLOSS_API simloss_status simloss_bce(
    const simloss_tensor *probs, const simloss_tensor *target,
    const simloss_tensor *weight, const simloss_binary_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

/** simloss_sigmoid_focal() :
 *  Sigmoid focal loss (Lin et al. 2017; torchvision's sigmoid_focal_loss):
 *      p = sigmoid(x), p_t = p y + (1 - p)(1 - y),
 *      loss = a_t bce_with_logits(x, y) (1 - p_t)^gamma,
 *      a_t = alpha y + (1 - alpha)(1 - y)  (1 when alpha < 0).
 *  Its gradient is evaluated in a form that stays finite for gamma < 1 and
 *  saturated logits (where the textbook product is 0 * infinity, the NaN
 *  many implementations give).
 *  @param logits, target  as simloss_bce_with_logits(); no weights.
 *  @return the statuses of simloss_l1(); SIMLOSS_ERROR_INVALID_ARGUMENT for
 *          gamma < 0 or not finite, alpha > 1 or NaN. Since 0.1 */
SIMLOSS_API simloss_status simloss_sigmoid_focal(
    const simloss_tensor *logits, const simloss_tensor *target,
    const simloss_binary_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

/* ======================================================================== */
/* SSIM and MS-SSIM                                                         */
/* ======================================================================== */

/* Where the SSIM window may sit. */
typedef enum simloss_ssim_border {
  /* Only positions where the window lies inside the image; the map is
   * (H - win + 1) x (W - win + 1). The MATLAB reference, TensorFlow,
   * pytorch-msssim; scikit-image crops its mean to this region. */
  SIMLOSS_SSIM_VALID = 0,
  /* Same-size map over an image padded by reflection without repeating the
   * edge (numpy 'reflect'); the mean includes the borders (kornia,
   * torchmetrics >= 1.4.2). */
  SIMLOSS_SSIM_REFLECT = 1,
  /* Same-size map over a zero-padded image. */
  SIMLOSS_SSIM_ZERO = 2
} simloss_ssim_border;

typedef struct simloss_ssim_options {
  size_t size;              /* sizeof(simloss_ssim_options) */
  int32_t reduction;        /* a simloss_reduction over images; default MEAN */
  int32_t window_size;      /* odd, 1 ... 1023 pixels; 0 selects 11 */
  double data_range;        /* L in input units (1 for [0, 1], 255 for 8-bit);
                               > 0; 0 selects 1.0. Never inferred. */
  double sigma;             /* Gaussian window's sigma in pixels, > 0; 0
                               selects 1.5 */
  double k1;                /* C1 = (k1 L)^2, >= 0; default 0.01 (0 is a
                               value) */
  double k2;                /* C2 = (k2 L)^2, >= 0; default 0.03 (0 is a
                               value) */
  int32_t border;           /* a simloss_ssim_border; default VALID */
  int32_t uniform_window;   /* 1: uniform taps 1/win (scikit-image's
                               default); 0 (default): Gaussian taps
                               normalised to sum 1 (the reference) */
  int32_t sample_covariance;/* 1: variances and covariance times
                               NP / (NP - 1), NP = win^2 (scikit-image's
                               use_sample_covariance); 0 (default):
                               population, the reference */
  int32_t matlab_downsample;/* 1: the 2009 MATLAB ssim.m downsampling,
                               f = max(1, round(min(H, W) / 256)), f x f box
                               filter, every f-th pixel; default 0 */
  int32_t luma;             /* 1: SSIM of Y of ITU-R BT.601 (MATLAB
                               rgb2ycbcr) of RGB images (C = 3), as
                               super-resolution papers report; default 0:
                               each channel, averaged */
  int32_t reserved_;        /* must be 0 */
} simloss_ssim_options;

static inline void simloss_ssim_options_init(simloss_ssim_options *o) {
  o->size = sizeof *o;
  o->reduction = SIMLOSS_REDUCTION_MEAN;
  o->window_size = 11;
  o->data_range = 1.0;
  o->sigma = 1.5;
  o->k1 = 0.01;
  o->k2 = 0.03;
  o->border = SIMLOSS_SSIM_VALID;
  o->uniform_window = 0;
  o->sample_covariance = 0;
  o->matlab_downsample = 0;
  o->luma = 0;
  o->reserved_ = 0;
}

/** simloss_ssim() :
 *  Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004): local
 *  means, variances and covariance under the window, then
 *      ssim = (2 mu_x mu_y + C1)(2 sigma_xy + C2) /
 *             ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))
 *  averaged over the map; an image's value is the mean over its channels
 *  (or its luma). The defaults are the reference's and match scikit-image's
 *  structural_similarity(gaussian_weights=True, sigma=1.5,
 *  use_sample_covariance=False, data_range=L); scikit-image's own defaults
 *  are window_size 7, uniform_window 1, sample_covariance 1. Statistics are
 *  computed in double, the variances as E[x^2] - mu^2 (scikit-image's form
 *  too), which cancels for values far from 0 in units of L: SSIM is then
 *  within about 5e-16 (|x| / L)^2 (measured: 2e-8 at values 1e4 L from 0,
 *  3e-4 at 1e6 L; subtract such an offset first). Identical images give
 *  exactly 1.
 *  The loss 1 - SSIM has the negated gradient.
 *  @param x, y    logical (N, C, H, W), float32 or float64, any strides
 *                 (NHWC: simloss_tensor_init_nhwc()); the same shape.
 *  @param options NULL for defaults.
 *  @param values  output: 1 double (MEAN, SUM over images) or N (NONE).
 *  @param grad    NULL, or x's shape and dtype: d value / d x, exact through
 *                 borders, downsampling and luma.
 *  @param map     NULL, or (N, C', H', W') of x's dtype, C' = 1 with luma;
 *                 simloss_ssim_map_shape() gives the shape. Receives the
 *                 SSIM map.
 *  @param per_channel, cs  NULL, or channels_len >= N * C' doubles each:
 *                 each image's and channel's mean SSIM and mean
 *                 contrast-structure term (image-major). cs costs a
 *                 division per pixel (about 4% of a call with grad): pass
 *                 NULL unless it is used; nothing else changes.
 *  Reentrant. No output overlaps an input. On failure values, per_channel
 *  and cs are not written; grad and map may have been.
 *  @return SIMLOSS_OK; SIMLOSS_ERROR_NULL_POINTER, _INVALID_ARGUMENT
 *          (options), _OPTIONS_SIZE, _RANK (not rank 4), _SHAPE_MISMATCH,
 *          _TOO_SMALL (a side below the window with VALID, after
 *          downsampling; the message gives the minimum), _OUT_OF_BOUNDS,
 *          _OVERLAP, _INVALID_SHAPE (luma without 3 channels), _DTYPE,
 *          _DTYPE_MISMATCH, _OUT_OF_MEMORY, _OVERFLOW. Since 0.1 */
SIMLOSS_API simloss_status simloss_ssim(
    const simloss_tensor *x, const simloss_tensor *y,
    const simloss_ssim_options *options,
    double *values, size_t values_len,
    const simloss_tensor *grad, const simloss_tensor *map,
    double *per_channel, double *cs, size_t channels_len);

/** simloss_ssim3d() :
 *  SSIM of volumes (medical imaging): x, y logical (N, C, D, H, W), any
 *  strides, with a win x win x win window (the separable Gaussian, or
 *  uniform taps), the valid region only, sample covariance with
 *  NP = win^3. Values, reductions, per-channel and cs outputs, and the
 *  gradient as simloss_ssim(); there is no map output. border must be
 *  VALID, luma and matlab_downsample 0 (SIMLOSS_ERROR_INVALID_ARGUMENT).
 *  Scratch: about 10 D H W doubles per volume in flight, one per thread.
 *  @return as simloss_ssim(); _RANK unless rank 5; _TOO_SMALL when D, H or
 *          W is below the window. Since 0.1 */
SIMLOSS_API simloss_status simloss_ssim3d(
    const simloss_tensor *x, const simloss_tensor *y,
    const simloss_ssim_options *options,
    double *values, size_t values_len, const simloss_tensor *grad,
    double *per_channel, double *cs, size_t channels_len);

/** simloss_ssim_map_shape() :
 *  The shape of the SSIM map of (N, C, H, W) images under these options,
 *  into shape[0..3]. @return SIMLOSS_OK; SIMLOSS_ERROR_NULL_POINTER,
 *  _INVALID_ARGUMENT, _OPTIONS_SIZE, _INVALID_SHAPE (a dimension below 1,
 *  or luma without 3 channels), _TOO_SMALL: the statuses simloss_ssim()
 *  gives images of that shape. Since 0.1 */
SIMLOSS_API simloss_status simloss_ssim_map_shape(
    const int64_t image_shape[4], const simloss_ssim_options *options,
    int64_t shape[4]);

typedef struct simloss_ms_ssim_options {
  size_t size;              /* sizeof(simloss_ms_ssim_options) */
  int32_t levels;           /* M, 1 ... 16; 0 selects 5 (with weights
                               NULL only: with weights it must be their
                               count) */
  int32_t no_relu;          /* 0 (default): each term t becomes
                               max(t, floor) before its power (TensorFlow,
                               pytorch-msssim, piq use floor 0); 1: terms
                               as they are (a negative one gives NaN, as
                               the reference) */
  const double *weights;    /* NULL: (0.0448, 0.2856, 0.3001, 0.2363,
                               0.1333), Wang et al. 2003, for M = 5 (and
                               required for another M); else M finite
                               weights, used as given */
  double floor;             /* in [0, 1); default 1e-6 (0 is a value: the
                               peers' relu exactly). It keeps the gradient
                               of t^w finite: relu then a fractional power
                               is the NaN of many MS-SSIM trainings. */
} simloss_ms_ssim_options;

static inline void simloss_ms_ssim_options_init(simloss_ms_ssim_options *o) {
  o->size = sizeof *o;
  o->levels = 5;
  o->no_relu = 0;
  o->weights = NULL;
  o->floor = 1e-6;
}

/** simloss_ms_ssim() :
 *  Multi-scale SSIM (Wang, Simoncelli, Bovik 2003):
 *      prod_{j<M} cs_j^w_j * ssim_M^w_M
 *  with contrast-structure at levels 1 ... M-1 and SSIM at level M; between
 *  levels a 2 x 2 average, odd sides first mirror-padded at their end (the
 *  MATLAB and TensorFlow convention: sizes round up). Per channel, then
 *  averaged over channels; reductions over images as simloss_ssim().
 *  @param ssim_options  per-level SSIM; border must be VALID. NULL for
 *                 defaults. luma and matlab_downsample apply once, before
 *                 the pyramid.
 *  @param options NULL for defaults.
 *  @param values, values_len, grad  as simloss_ssim().
 *  @return as simloss_ssim(); SIMLOSS_ERROR_TOO_SMALL names the minimum
 *          side (simloss_ms_ssim_min_side()). Since 0.1 */
SIMLOSS_API simloss_status simloss_ms_ssim(
    const simloss_tensor *x, const simloss_tensor *y,
    const simloss_ssim_options *ssim_options,
    const simloss_ms_ssim_options *options,
    double *values, size_t values_len, const simloss_tensor *grad);

/** simloss_ms_ssim_min_side() :
 *  The smallest side, in pixels after luma and downsampling, that MS-SSIM
 *  accepts with these options (161 for window 11 and 5 levels), into *side.
 *  @return SIMLOSS_OK; SIMLOSS_ERROR_NULL_POINTER, _INVALID_ARGUMENT,
 *          _OPTIONS_SIZE. Since 0.1 */
SIMLOSS_API simloss_status simloss_ms_ssim_min_side(
    const simloss_ssim_options *ssim_options,
    const simloss_ms_ssim_options *options, int64_t *side);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* SIMLOSS_H */
