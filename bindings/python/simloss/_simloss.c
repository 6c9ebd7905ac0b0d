/* simloss._simloss: the private CPython extension over include/simloss.h.
 *
 * Every wrapper does the same five steps and no math: parse the arguments,
 * get each array through the buffer protocol (no copy; any strides), build a
 * simloss_tensor, call the library with the GIL released, map the status to
 * an exception, and release every buffer at one exit label. Keyword
 * handling, string options and output allocation live in __init__.py.
 *
 * Built against the Limited API of 3.11 (Py_buffer is stable ABI from 3.11),
 * so one abi3 extension serves every later CPython. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "simloss.h"

#if SIMLOSS_VERSION_NUMBER < 100
#error "simloss._simloss needs simloss 0.1.0 or newer"
#endif

/* ---------------------------------------------------------------------- */
/* Errors                                                                 */
/* ---------------------------------------------------------------------- */

/* The one mapping from a status to a Python exception; the message is the
 * operation, then the library's own words. */
static PyObject *set_error_from_status(simloss_status status, const char *what) {
  PyObject *type;
  switch (status) {
    case SIMLOSS_ERROR_DTYPE:
    case SIMLOSS_ERROR_DTYPE_MISMATCH:
      type = PyExc_TypeError;
      break;
    case SIMLOSS_ERROR_OUT_OF_MEMORY:
      type = PyExc_MemoryError;
      break;
    case SIMLOSS_ERROR_INTERNAL:
      type = PyExc_RuntimeError;
      break;
    default: /* argument, shape, value and size errors */
      type = PyExc_ValueError;
      break;
  }
  PyErr_Format(type, "%s: %s", what, simloss_last_error());
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Buffers as tensors                                                     */
/* ---------------------------------------------------------------------- */

typedef struct {
  Py_buffer view;
  int held;
  simloss_tensor tensor;
} tensor_arg;

/* The native float formats: '@', '=' and '<' prefixes are native on the
 * little-endian machines simloss builds for. */
static int dtype_of_format(const char *format, Py_ssize_t itemsize, int integers) {
  if (format == NULL) return 0; /* PyBUF_FORMAT was asked for; be safe anyway */
  if (*format == '@' || *format == '=' || *format == '<') format++;
  if (strcmp(format, "f") == 0 && itemsize == 4) return SIMLOSS_FLOAT32;
  if (strcmp(format, "d") == 0 && itemsize == 8) return SIMLOSS_FLOAT64;
  if (!integers || format[0] == 0 || format[1] != 0) return 0;
  if (strchr("ilq", format[0]) && itemsize == 4) return SIMLOSS_INT32;
  if (strchr("ilq", format[0]) && itemsize == 8) return SIMLOSS_INT64;
  return 0;
}

/* Gets obj's buffer and describes it as a simloss_tensor that covers
 * exactly the memory the view spans. With nhwc, a rank-4 buffer in
 * (N, H, W, C) order is described as the logical (N, C, H, W) tensor. */
static int get_tensor_of(PyObject *obj, const char *name, int writable, int nhwc, int integers, tensor_arg *arg) {
  int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(obj, &arg->view, flags) < 0) {
    PyErr_Clear();
    if (PyObject_GetBuffer(obj, &arg->view, PyBUF_STRIDES | PyBUF_FORMAT) == 0) {
      PyBuffer_Release(&arg->view);
      PyErr_Format(PyExc_ValueError, "%s: the buffer is read-only; an output must be writable", name);
    } else {
      PyErr_Clear();
      PyObject *type_name = PyType_GetName(Py_TYPE(obj));
      PyErr_Format(PyExc_TypeError,
                   "%s: expected a float32 or float64 array with the buffer protocol "
                   "(numpy array, memoryview, ...), got %S", name, type_name);
      Py_XDECREF(type_name);
    }
    return -1;
  }
  arg->held = 1;
  Py_buffer *v = &arg->view;
  int dtype = dtype_of_format(v->format, v->itemsize, integers);
  if (dtype == 0) {
    PyErr_Format(PyExc_TypeError, "%s: element format '%s' (%zd bytes) is not %s", name,
                 v->format ? v->format : "B", v->itemsize,
                 integers ? "float32, float64, int32 or int64" : "float32 ('f') or float64 ('d')");
    return -1;
  }
  if (v->ndim < 1 || v->ndim > SIMLOSS_MAX_RANK) {
    PyErr_Format(PyExc_ValueError, "%s: rank %d is outside 1...%d", name, v->ndim, SIMLOSS_MAX_RANK);
    return -1;
  }
  /* Exporters may leave strides NULL for a C-contiguous buffer even when
   * PyBUF_STRIDES is asked for (ctypes arrays do), and shape NULL for a
   * 1-D one: the protocol then means the standard C layout. */
  Py_ssize_t shape[SIMLOSS_MAX_RANK], strides[SIMLOSS_MAX_RANK];
  if (v->shape != NULL) memcpy(shape, v->shape, sizeof(Py_ssize_t) * (size_t)v->ndim);
  else if (v->ndim == 1) shape[0] = v->len / v->itemsize;
  else {
    PyErr_Format(PyExc_ValueError, "%s: the buffer gives rank %d but no shape", name, v->ndim);
    return -1;
  }
  if (v->strides != NULL) memcpy(strides, v->strides, sizeof(Py_ssize_t) * (size_t)v->ndim);
  else PyBuffer_FillContiguousStrides(v->ndim, shape, strides, (int)v->itemsize, 'C');
  simloss_tensor *t = &arg->tensor;
  memset(t, 0, sizeof *t);
  t->dtype = dtype;
  t->rank = v->ndim;
  Py_ssize_t low = 0, high = 0;
  int empty = 0;
  for (int d = 0; d < v->ndim; d++) {
    if (strides[d] % v->itemsize != 0) {
      PyErr_Format(PyExc_ValueError, "%s: stride %zd of dimension %d is not a multiple of the element size %zd",
                   name, strides[d], d, v->itemsize);
      return -1;
    }
    t->shape[d] = shape[d];
    t->strides[d] = strides[d] / v->itemsize;
    if (shape[d] == 0) empty = 1;
    else if (strides[d] < 0) low += (shape[d] - 1) * strides[d];
    else high += (shape[d] - 1) * strides[d];
  }
  if (nhwc && v->ndim == 4) {
    int64_t s[4], st[4];
    memcpy(s, t->shape, sizeof s);
    memcpy(st, t->strides, sizeof st);
    int64_t order[4] = {0, 3, 1, 2}; /* logical N, C, H, W from N, H, W, C */
    for (int d = 0; d < 4; d++) {
      t->shape[d] = s[order[d]];
      t->strides[d] = st[order[d]];
    }
  }
  /* The buffer protocol gives the view, not the allocation: describe the
   * span the view reaches (an empty view is left for the library to name). */
  t->data = (char *)v->buf + (empty ? 0 : low);
  t->offset = empty ? 0 : -low / v->itemsize;
  t->len = empty ? 1 : (high - low) / v->itemsize + 1;
  return 0;
}

static int get_tensor(PyObject *obj, const char *name, int writable, int nhwc, tensor_arg *arg) {
  return get_tensor_of(obj, name, writable, nhwc, 0, arg);
}

static int get_optional(PyObject *obj, const char *name, int writable, int nhwc, tensor_arg *arg) {
  return obj == Py_None ? 0 : get_tensor(obj, name, writable, nhwc, arg);
}

static const simloss_tensor *tensor_or_null(const tensor_arg *arg) {
  return arg->held ? &arg->tensor : NULL;
}

static void release(tensor_arg *args, int count) {
  for (int i = 0; i < count; i++)
    if (args[i].held) PyBuffer_Release(&args[i].view);
}

/* The values output: a writable float64 buffer of at least one element. */
static int get_values(PyObject *obj, tensor_arg *arg, double **values, size_t *count) {
  if (get_tensor(obj, "values", 1, 0, arg) < 0) return -1;
  if (arg->tensor.dtype != SIMLOSS_FLOAT64 || arg->tensor.rank != 1 || arg->tensor.strides[0] != 1) {
    PyErr_SetString(PyExc_ValueError, "values: expected a contiguous 1-D float64 buffer");
    return -1;
  }
  *values = (double *)arg->view.buf;
  *count = (size_t)arg->tensor.shape[0];
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Losses                                                                 */
/* ---------------------------------------------------------------------- */

typedef simloss_status (*pointwise_fn)(const simloss_tensor *, const simloss_tensor *,
                                       const simloss_tensor *, const simloss_pointwise_options *,
                                       double *, size_t, const simloss_tensor *);

/* l1/mse(pred, target, weight, values, grad, reduction, nhwc) */
static PyObject *pointwise(PyObject *args, PyObject *kwargs, pointwise_fn fn, const char *what) {
  static char *keywords[] = {"pred", "target", "weight", "values", "grad", "reduction", "nhwc", NULL};
  PyObject *pred, *target, *weight, *values_obj, *grad, *result = NULL;
  int reduction, nhwc;
  tensor_arg a[5] = {0};
  double *values;
  size_t count;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOii", keywords, &pred, &target, &weight,
                                   &values_obj, &grad, &reduction, &nhwc))
    return NULL;
  if (get_tensor(pred, "pred", 0, nhwc, &a[0]) < 0 || get_tensor(target, "target", 0, nhwc, &a[1]) < 0 ||
      get_optional(weight, "mask", 0, nhwc, &a[2]) < 0 || get_values(values_obj, &a[3], &values, &count) < 0 ||
      get_optional(grad, "out", 1, nhwc, &a[4]) < 0)
    goto exit;
  simloss_pointwise_options options;
  simloss_pointwise_options_init(&options);
  options.reduction = reduction;
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  status = fn(&a[0].tensor, &a[1].tensor, tensor_or_null(&a[2]), &options, values, count, tensor_or_null(&a[4]));
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, what);
exit:
  release(a, 5);
  return result;
}

static PyObject *py_l1(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  return pointwise(args, kwargs, simloss_l1, "l1");
}

static PyObject *py_mse(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  return pointwise(args, kwargs, simloss_mse, "mse");
}

/* psnr(pred, target, values, grad, reduction, data_range, nhwc) */
static PyObject *py_psnr(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"pred", "target", "values", "grad", "reduction", "data_range", "nhwc", NULL};
  PyObject *pred, *target, *values_obj, *grad, *result = NULL;
  int reduction, nhwc;
  double data_range;
  tensor_arg a[4] = {0};
  double *values;
  size_t count;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOidi", keywords, &pred, &target, &values_obj, &grad,
                                   &reduction, &data_range, &nhwc))
    return NULL;
  if (get_tensor(pred, "pred", 0, nhwc, &a[0]) < 0 || get_tensor(target, "target", 0, nhwc, &a[1]) < 0 ||
      get_values(values_obj, &a[2], &values, &count) < 0 || get_optional(grad, "out", 1, nhwc, &a[3]) < 0)
    goto exit;
  simloss_psnr_options options;
  simloss_psnr_options_init(&options);
  options.reduction = reduction;
  options.data_range = data_range;
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  status = simloss_psnr(&a[0].tensor, &a[1].tensor, &options, values, count, tensor_or_null(&a[3]));
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, "psnr");
exit:
  release(a, 4);
  return result;
}

/* tv(x, values, grad, reduction, kind, eps, nhwc) */
static PyObject *py_tv(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"x", "values", "grad", "reduction", "kind", "eps", "nhwc", NULL};
  PyObject *x, *values_obj, *grad, *result = NULL;
  int reduction, kind, nhwc;
  double eps;
  tensor_arg a[3] = {0};
  double *values;
  size_t count;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOiidi", keywords, &x, &values_obj, &grad, &reduction,
                                   &kind, &eps, &nhwc))
    return NULL;
  if (get_tensor(x, "x", 0, nhwc, &a[0]) < 0 || get_values(values_obj, &a[1], &values, &count) < 0 ||
      get_optional(grad, "out", 1, nhwc, &a[2]) < 0)
    goto exit;
  simloss_tv_options options;
  simloss_tv_options_init(&options);
  options.reduction = reduction;
  options.kind = kind;
  options.eps = eps;
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  status = simloss_tv(&a[0].tensor, &options, values, count, tensor_or_null(&a[2]));
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, "tv");
exit:
  release(a, 3);
  return result;
}

/* cross_entropy(logits, target, weight, values, grad, reduction, axis_last,
 *               ignore_index, label_smoothing, soft) -> (denominator, counted) */
static PyObject *py_cross_entropy(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"logits", "target", "weight", "values", "grad", "reduction", "axis_last",
                             "ignore_index", "label_smoothing", "soft", NULL};
  PyObject *logits, *target, *weight, *values_obj, *grad, *result = NULL;
  int reduction, axis_last, soft;
  long long ignore_index;
  double smoothing;
  tensor_arg a[5] = {0};
  double *values;
  size_t count;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOiiLdp", keywords, &logits, &target, &weight, &values_obj,
                                   &grad, &reduction, &axis_last, &ignore_index, &smoothing, &soft))
    return NULL;
  if (get_tensor(logits, "logits", 0, 0, &a[0]) < 0 || get_tensor_of(target, "target", 0, 0, !soft, &a[1]) < 0 ||
      get_optional(weight, "weight", 0, 0, &a[2]) < 0 || get_values(values_obj, &a[3], &values, &count) < 0 ||
      get_optional(grad, "out", 1, 0, &a[4]) < 0)
    goto exit;
  simloss_cross_entropy_options options;
  simloss_cross_entropy_options_init(&options);
  options.reduction = reduction;
  options.class_axis = axis_last ? SIMLOSS_CLASS_AXIS_LAST : SIMLOSS_CLASS_AXIS_SECOND;
  options.ignore_index = ignore_index;
  options.label_smoothing = smoothing;
  simloss_cross_entropy_stats stats = {0, 0};
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  status = (soft ? simloss_cross_entropy_soft : simloss_cross_entropy)(
      &a[0].tensor, &a[1].tensor, tensor_or_null(&a[2]), &options, values, count, tensor_or_null(&a[4]), &stats);
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_BuildValue("(dL)", stats.denominator, (long long)stats.counted)
                                : set_error_from_status(status, "cross_entropy");
exit:
  release(a, 5);
  return result;
}

/* cross_entropy_probs(probs, target, values, grad, reduction, axis_last) */
static PyObject *py_cross_entropy_probs(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"probs", "target", "values", "grad", "reduction", "axis_last", NULL};
  PyObject *probs, *target, *values_obj, *grad, *result = NULL;
  int reduction, axis_last;
  tensor_arg a[4] = {0};
  double *values;
  size_t count;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOii", keywords, &probs, &target, &values_obj, &grad,
                                   &reduction, &axis_last))
    return NULL;
  if (get_tensor(probs, "probs", 0, 0, &a[0]) < 0 || get_tensor(target, "target", 0, 0, &a[1]) < 0 ||
      get_values(values_obj, &a[2], &values, &count) < 0 || get_optional(grad, "out", 1, 0, &a[3]) < 0)
    goto exit;
  simloss_cross_entropy_options options;
  simloss_cross_entropy_options_init(&options);
  options.reduction = reduction;
  options.class_axis = axis_last ? SIMLOSS_CLASS_AXIS_LAST : SIMLOSS_CLASS_AXIS_SECOND;
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  status = simloss_cross_entropy_probs(&a[0].tensor, &a[1].tensor, &options, values, count, tensor_or_null(&a[3]));
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, "cross_entropy_from_probs");
exit:
  release(a, 4);
  return result;
}

/* binary(kind, x, target, weight, pos_weight, values, grad, reduction, alpha, gamma):
 * kind 0 bce_with_logits, 1 bce, 2 sigmoid_focal. */
static PyObject *py_binary(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"kind", "x", "target", "weight", "pos_weight", "values", "grad", "reduction",
                             "alpha", "gamma", NULL};
  static const char *names[] = {"binary_cross_entropy_with_logits", "binary_cross_entropy", "sigmoid_focal_loss"};
  PyObject *x, *target, *weight, *pos_weight, *values_obj, *grad, *result = NULL;
  int kind, reduction;
  double alpha, gamma;
  tensor_arg a[6] = {0};
  double *values;
  size_t count;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "iOOOOOOidd", keywords, &kind, &x, &target, &weight, &pos_weight,
                                   &values_obj, &grad, &reduction, &alpha, &gamma))
    return NULL;
  if (kind < 0 || kind > 2) return PyErr_Format(PyExc_ValueError, "kind: %d", kind);
  if (get_tensor(x, kind == 1 ? "probs" : "logits", 0, 0, &a[0]) < 0 || get_tensor(target, "target", 0, 0, &a[1]) < 0 ||
      get_optional(weight, "weight", 0, 0, &a[2]) < 0 || get_optional(pos_weight, "pos_weight", 0, 0, &a[3]) < 0 ||
      get_values(values_obj, &a[4], &values, &count) < 0 || get_optional(grad, "out", 1, 0, &a[5]) < 0)
    goto exit;
  simloss_binary_options options;
  simloss_binary_options_init(&options);
  options.reduction = reduction;
  options.alpha = alpha;
  options.gamma = gamma;
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  if (kind == 0)
    status = simloss_bce_with_logits(&a[0].tensor, &a[1].tensor, tensor_or_null(&a[2]), tensor_or_null(&a[3]),
                                     &options, values, count, tensor_or_null(&a[5]));
  else if (kind == 1)
    status = simloss_bce(&a[0].tensor, &a[1].tensor, tensor_or_null(&a[2]), &options, values, count,
                         tensor_or_null(&a[5]));
  else
    status = simloss_sigmoid_focal(&a[0].tensor, &a[1].tensor, &options, values, count, tensor_or_null(&a[5]));
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, names[kind]);
exit:
  release(a, 6);
  return result;
}

/* Fills SSIM options from the Python call's values. */
static void ssim_options_from(simloss_ssim_options *o, int reduction, int window_size, double data_range,
                              double sigma, double k1, double k2, int border, int uniform, int sample,
                              int downsample, int luma) {
  simloss_ssim_options_init(o);
  o->reduction = reduction;
  o->window_size = window_size;
  o->data_range = data_range;
  o->sigma = sigma;
  o->k1 = k1;
  o->k2 = k2;
  o->border = border;
  o->uniform_window = uniform;
  o->sample_covariance = sample;
  o->matlab_downsample = downsample;
  o->luma = luma;
}

#define SSIM_OPTION_KEYWORDS "reduction", "window_size", "data_range", "sigma", "k1", "k2", "border", \
                             "uniform_window", "sample_covariance", "matlab_downsample", "luma"

/* ssim(x, y, values, grad, map, per_channel, cs, nhwc, <options>) */
static PyObject *py_ssim(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"x", "y", "values", "grad", "map", "per_channel", "cs", "nhwc",
                             SSIM_OPTION_KEYWORDS, NULL};
  PyObject *x, *y, *values_obj, *grad, *map, *per_channel, *cs, *result = NULL;
  int nhwc, reduction, window_size, border, uniform, sample, downsample, luma;
  double data_range, sigma, k1, k2;
  tensor_arg a[7] = {0};
  double *values, *pc = NULL, *csv = NULL;
  size_t count, channels = 0, cs_count = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOOOiiiddddiiiii", keywords, &x, &y, &values_obj, &grad, &map,
                                   &per_channel, &cs, &nhwc, &reduction, &window_size, &data_range, &sigma, &k1,
                                   &k2, &border, &uniform, &sample, &downsample, &luma))
    return NULL;
  if (get_tensor(x, "x", 0, nhwc, &a[0]) < 0 || get_tensor(y, "y", 0, nhwc, &a[1]) < 0 ||
      get_values(values_obj, &a[2], &values, &count) < 0 || get_optional(grad, "out", 1, nhwc, &a[3]) < 0 ||
      get_optional(map, "map", 1, 0, &a[4]) < 0 ||
      (per_channel != Py_None && get_values(per_channel, &a[5], &pc, &channels) < 0) ||
      (cs != Py_None && get_values(cs, &a[6], &csv, &cs_count) < 0))
    goto exit;
  if (pc && csv && cs_count < channels) channels = cs_count;
  if (!pc && csv) channels = cs_count;
  simloss_ssim_options options;
  ssim_options_from(&options, reduction, window_size, data_range, sigma, k1, k2, border, uniform, sample,
                    downsample, luma);
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  status = simloss_ssim(&a[0].tensor, &a[1].tensor, &options, values, count, tensor_or_null(&a[3]),
                        tensor_or_null(&a[4]), pc, csv, channels);
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, "ssim");
exit:
  release(a, 7);
  return result;
}

/* ssim3d(x, y, values, grad, per_channel, cs, <options>) */
static PyObject *py_ssim3d(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"x", "y", "values", "grad", "per_channel", "cs", SSIM_OPTION_KEYWORDS, NULL};
  PyObject *x, *y, *values_obj, *grad, *per_channel, *cs, *result = NULL;
  int reduction, window_size, border, uniform, sample, downsample, luma;
  double data_range, sigma, k1, k2;
  tensor_arg a[6] = {0};
  double *values, *pc = NULL, *csv = NULL;
  size_t count, channels = 0, cs_count = 0;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOOiiddddiiiii", keywords, &x, &y, &values_obj, &grad,
                                   &per_channel, &cs, &reduction, &window_size, &data_range, &sigma, &k1, &k2,
                                   &border, &uniform, &sample, &downsample, &luma))
    return NULL;
  if (get_tensor(x, "x", 0, 0, &a[0]) < 0 || get_tensor(y, "y", 0, 0, &a[1]) < 0 ||
      get_values(values_obj, &a[2], &values, &count) < 0 || get_optional(grad, "out", 1, 0, &a[3]) < 0 ||
      (per_channel != Py_None && get_values(per_channel, &a[4], &pc, &channels) < 0) ||
      (cs != Py_None && get_values(cs, &a[5], &csv, &cs_count) < 0))
    goto exit;
  if (pc && csv && cs_count < channels) channels = cs_count;
  if (!pc && csv) channels = cs_count;
  simloss_ssim_options options;
  ssim_options_from(&options, reduction, window_size, data_range, sigma, k1, k2, border, uniform, sample,
                    downsample, luma);
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  status = simloss_ssim3d(&a[0].tensor, &a[1].tensor, &options, values, count, tensor_or_null(&a[3]), pc, csv,
                          channels);
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, "ssim3d");
exit:
  release(a, 6);
  return result;
}

/* ssim_map_shape(shape tuple, <options>) -> shape tuple */
static PyObject *py_ssim_map_shape(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"shape", SSIM_OPTION_KEYWORDS, NULL};
  long long n, c, h, w;
  int reduction, window_size, border, uniform, sample, downsample, luma;
  double data_range, sigma, k1, k2;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "(LLLL)iiddddiiiii", keywords, &n, &c, &h, &w, &reduction,
                                   &window_size, &data_range, &sigma, &k1, &k2, &border, &uniform, &sample,
                                   &downsample, &luma))
    return NULL;
  simloss_ssim_options options;
  ssim_options_from(&options, reduction, window_size, data_range, sigma, k1, k2, border, uniform, sample,
                    downsample, luma);
  int64_t in[4] = {n, c, h, w}, out[4];
  simloss_status status = simloss_ssim_map_shape(in, &options, out);
  if (status != SIMLOSS_OK) return set_error_from_status(status, "ssim");
  return Py_BuildValue("(LLLL)", (long long)out[0], (long long)out[1], (long long)out[2], (long long)out[3]);
}

/* ms_ssim(x, y, values, grad, nhwc, weights, no_relu, floor, <options>) */
static PyObject *py_ms_ssim(PyObject *self, PyObject *args, PyObject *kwargs) {
  (void)self;
  static char *keywords[] = {"x", "y", "values", "grad", "nhwc", "weights", "no_relu", "floor",
                             SSIM_OPTION_KEYWORDS, NULL};
  PyObject *x, *y, *values_obj, *grad, *weights, *result = NULL;
  int nhwc, no_relu, reduction, window_size, border, uniform, sample, downsample, luma;
  double floor_value, data_range, sigma, k1, k2;
  tensor_arg a[5] = {0};
  double *values, *w = NULL;
  size_t count, levels = 5;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOiOidiiddddiiiii", keywords, &x, &y, &values_obj, &grad,
                                   &nhwc, &weights, &no_relu, &floor_value, &reduction, &window_size, &data_range,
                                   &sigma, &k1, &k2, &border, &uniform, &sample, &downsample, &luma))
    return NULL;
  if (get_tensor(x, "x", 0, nhwc, &a[0]) < 0 || get_tensor(y, "y", 0, nhwc, &a[1]) < 0 ||
      get_values(values_obj, &a[2], &values, &count) < 0 || get_optional(grad, "out", 1, nhwc, &a[3]) < 0 ||
      (weights != Py_None && get_values(weights, &a[4], &w, &levels) < 0))
    goto exit;
  simloss_ssim_options options;
  ssim_options_from(&options, reduction, window_size, data_range, sigma, k1, k2, border, uniform, sample,
                    downsample, luma);
  simloss_ms_ssim_options ms;
  simloss_ms_ssim_options_init(&ms);
  ms.levels = (int32_t)(levels > INT32_MAX ? INT32_MAX : levels); /* the library names a count above 16 */
  ms.weights = w;
  ms.no_relu = no_relu;
  ms.floor = floor_value;
  simloss_status status;
  Py_BEGIN_ALLOW_THREADS
  status = simloss_ms_ssim(&a[0].tensor, &a[1].tensor, &options, &ms, values, count, tensor_or_null(&a[3]));
  Py_END_ALLOW_THREADS
  result = status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, "ms_ssim");
exit:
  release(a, 5);
  return result;
}

/* ---------------------------------------------------------------------- */
/* Threads and versions                                                   */
/* ---------------------------------------------------------------------- */

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg) {
  (void)self;
  long n = PyLong_AsLong(arg);
  if (n == -1 && PyErr_Occurred()) return NULL;
  if (n < INT_MIN || n > INT_MAX) n = -1;
  simloss_status status = simloss_set_num_threads((int)n);
  return status == SIMLOSS_OK ? Py_NewRef(Py_None) : set_error_from_status(status, "set_num_threads");
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused) {
  (void)self;
  (void)unused;
  return PyLong_FromLong(simloss_get_num_threads());
}

static PyMethodDef methods[] = {
  {"l1", (PyCFunction)(void (*)(void))py_l1, METH_VARARGS | METH_KEYWORDS, "simloss_l1; see simloss.l1."},
  {"mse", (PyCFunction)(void (*)(void))py_mse, METH_VARARGS | METH_KEYWORDS, "simloss_mse; see simloss.mse."},
  {"psnr", (PyCFunction)(void (*)(void))py_psnr, METH_VARARGS | METH_KEYWORDS, "simloss_psnr; see simloss.psnr."},
  {"tv", (PyCFunction)(void (*)(void))py_tv, METH_VARARGS | METH_KEYWORDS, "simloss_tv; see simloss.tv."},
  {"cross_entropy", (PyCFunction)(void (*)(void))py_cross_entropy, METH_VARARGS | METH_KEYWORDS,
   "simloss_cross_entropy[_soft]; see simloss.cross_entropy."},
  {"cross_entropy_probs", (PyCFunction)(void (*)(void))py_cross_entropy_probs, METH_VARARGS | METH_KEYWORDS,
   "simloss_cross_entropy_probs; see simloss.cross_entropy_from_probs."},
  {"binary", (PyCFunction)(void (*)(void))py_binary, METH_VARARGS | METH_KEYWORDS,
   "simloss_bce_with_logits, simloss_bce, simloss_sigmoid_focal."},
  {"ssim", (PyCFunction)(void (*)(void))py_ssim, METH_VARARGS | METH_KEYWORDS, "simloss_ssim; see simloss.ssim."},
  {"ssim3d", (PyCFunction)(void (*)(void))py_ssim3d, METH_VARARGS | METH_KEYWORDS,
   "simloss_ssim3d; see simloss.ssim3d."},
  {"ssim_map_shape", (PyCFunction)(void (*)(void))py_ssim_map_shape, METH_VARARGS | METH_KEYWORDS,
   "simloss_ssim_map_shape."},
  {"ms_ssim", (PyCFunction)(void (*)(void))py_ms_ssim, METH_VARARGS | METH_KEYWORDS,
   "simloss_ms_ssim; see simloss.ms_ssim."},
  {"set_num_threads", py_set_num_threads, METH_O, "simloss_set_num_threads(n)."},
  {"get_num_threads", py_get_num_threads, METH_NOARGS, "simloss_get_num_threads()."},
  {NULL, NULL, 0, NULL},
};

/* Constants come from the header, never retyped in Python. */
static int module_exec(PyObject *m) {
  if (simloss_abi_version() != SIMLOSS_ABI_VERSION) {
    PyErr_Format(PyExc_ImportError,
                 "simloss: the loaded libsimloss has ABI version %d (%s) but this extension was built for "
                 "ABI version %d (%s)", simloss_abi_version(), simloss_version_string(), SIMLOSS_ABI_VERSION,
                 SIMLOSS_VERSION_STRING);
    return -1;
  }
  struct { const char *name; long value; } constants[] = {
    {"REDUCTION_MEAN", SIMLOSS_REDUCTION_MEAN}, {"REDUCTION_SUM", SIMLOSS_REDUCTION_SUM},
    {"REDUCTION_NONE", SIMLOSS_REDUCTION_NONE}, {"TV_ANISOTROPIC", SIMLOSS_TV_ANISOTROPIC},
    {"TV_ISOTROPIC", SIMLOSS_TV_ISOTROPIC}, {"TV_SQUARED", SIMLOSS_TV_SQUARED},
    {"SSIM_VALID", SIMLOSS_SSIM_VALID}, {"SSIM_REFLECT", SIMLOSS_SSIM_REFLECT}, {"SSIM_ZERO", SIMLOSS_SSIM_ZERO},
    {"VERSION_NUMBER", SIMLOSS_VERSION_NUMBER}, {"RUNTIME_VERSION_NUMBER", simloss_version_number()},
    {"ABI_VERSION", SIMLOSS_ABI_VERSION}, {"MAX_RANK", SIMLOSS_MAX_RANK},
  };
  for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
    if (PyModule_AddIntConstant(m, constants[i].name, constants[i].value) < 0) return -1;
  if (PyModule_AddStringConstant(m, "VERSION", SIMLOSS_VERSION_STRING) < 0 ||
      PyModule_AddStringConstant(m, "RUNTIME_VERSION", simloss_version_string()) < 0 ||
      PyModule_AddStringConstant(m, "BUILD_INFO", simloss_build_info()) < 0)
    return -1;
  return 0;
}

static PyModuleDef_Slot slots[] = {
  {Py_mod_exec, module_exec},
#ifdef Py_mod_gil
  {Py_mod_gil, Py_MOD_GIL_NOT_USED}, /* the library is reentrant */
#endif
  {0, NULL},
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "simloss._simloss", "The C API of simloss (private; use the simloss package).",
  0, methods, slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__simloss(void) { return PyModuleDef_Init(&module); }
