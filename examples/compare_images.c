/*
 * compare_images: the losses between two PNG images, computed with simloss.
 *
 *     compare_images REFERENCE.png DISTORTED.png
 *
 * Prints L1, MSE, PSNR, SSIM and MS-SSIM of DISTORTED against REFERENCE,
 * the anisotropic total variation of each image, and the mean absolute value
 * of the L1 gradient with respect to DISTORTED. Pixels are read as the 8-bit
 * values the files store (a gAMA or other color chunk is not applied) and
 * scaled to [0, 1] float32, so PSNR uses a data range of 1.0. SSIM needs
 * sides of at least 11 pixels, MS-SSIM 161; smaller images get the other
 * lines.
 *
 * examples/python/compare_images.py does the same computation through the
 * Python package and prints the same lines; the two outputs agree digit for
 * digit.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simloss.h>

/* An image as simloss reads it: one float32 buffer of height * width * 3
 * values in [0, 1], interleaved RGB, i.e. an NHWC tensor with N = 1. */
typedef struct image {
  float *pixels;
  int64_t height;
  int64_t width;
} image;

enum { CHANNELS = 3 };

/* libpng reports a fatal error by calling this, which must not return:
 * print the message with the file's name (libpng's own handler prints
 * "libpng error: ..." without it) and jump back into read_png. */
static void png_failed(png_structp png, png_const_charp message) {
  fprintf(stderr, "compare_images: %s: %s\n", (const char *)png_get_error_ptr(png), message);
  png_longjmp(png, 1);
}

/* Warnings (a bad CRC in an ancillary chunk, say) do not stop the read. */
static void png_warned(png_structp png, png_const_charp message) {
  (void)png;
  (void)message;
}

/* Reads an 8-bit PNG into *out: the samples as the file stores them, gray
 * and palette images expanded to RGB. Returns 0, or -1 after printing why the
 * file was refused.
 *
 * libpng's low-level API rather than its simplified one: the simplified API
 * converts to sRGB from whatever gamma the file declares, so a file with a
 * gAMA chunk of 1.0 (or 0.5) gave other pixels than its bytes, and other
 * values than the Python example, which reads the bytes as Pillow does. */
static int read_png(const char *path, image *out) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    fprintf(stderr, "compare_images: %s: cannot open: %s\n", path, strerror(errno));
    return -1;
  }
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, (png_voidp)path, png_failed, png_warned);
  png_infop info = png == NULL ? NULL : png_create_info_struct(png);
  if (info == NULL) {
    fprintf(stderr, "compare_images: %s: out of memory for libpng\n", path);
    png_destroy_read_struct(&png, NULL, NULL);
    fclose(file);
    return -1;
  }
  /* Written after setjmp and read after a longjmp back to it: volatile, or
   * the compiler may keep them in registers that the jump restores. */
  png_bytep volatile rgb8 = NULL;
  png_bytepp volatile rows = NULL;
  if (setjmp(png_jmpbuf(png))) {
    /* png_failed has printed why. */
    free(rows);
    free(rgb8);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(file);
    return -1;
  }
  png_init_io(png, file);
  png_read_info(png, info);
  png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  int depth = png_get_bit_depth(png, info), color = png_get_color_type(png, info);
  /* Refuse what would not be a plain comparison of the stored colors
   * (in the Python example's order, so that both give the same message):
   * - 16-bit samples: reducing them to 8 bits is a choice (scale or
   *   truncate) the Python example would have to make the same way;
   * - an alpha channel or tRNS transparency: a loss over the colors alone
   *   would compare what the file does not show. */
  if (depth == 16) {
    png_error(png, "has 16-bit samples; expected 8 bits per sample");
  }
  if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) {
    png_error(png, "has an alpha channel (or tRNS transparency); expected an opaque RGB or gray PNG");
  }
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY) {
    png_set_expand_gray_1_2_4_to_8(png);
    png_set_gray_to_rgb(png);
  }
  png_set_interlace_handling(png); /* Adam7: png_read_image does the passes */
  png_read_update_info(png, info);
  size_t row_bytes = (size_t)width * CHANNELS;
  if (png_get_rowbytes(png, info) != row_bytes) {
    png_error(png, "unexpected row size after expansion to 8-bit RGB");
  }
  /* libpng refuses sides above 1,000,000 by default, so the byte count fits
   * a size_t on 64-bit machines; the mallocs may still fail. */
  size_t bytes = row_bytes * height;
  rgb8 = malloc(bytes);
  rows = malloc(sizeof *rows * height);
  if (rgb8 == NULL || rows == NULL) {
    png_error(png, "out of memory for the pixels");
  }
  for (png_uint_32 r = 0; r < height; r++) rows[r] = rgb8 + r * row_bytes;
  png_read_image(png, rows);
  png_read_end(png, NULL);
  png_destroy_read_struct(&png, &info, NULL);
  fclose(file);
  free(rows);

  /* Row by row and R, G, B within a pixel: already NHWC; only the element
   * type changes. Dividing in float (not double, then rounding) gives the
   * same float32 values as numpy's uint8 -> float32 / 255, so the Python
   * example reads identical inputs. */
  float *pixels = malloc(bytes * sizeof *pixels);
  if (pixels == NULL) {
    fprintf(stderr, "compare_images: %s: out of memory for %" PRIu32 "x%" PRIu32 " pixels\n", path, width, height);
    free(rgb8);
    return -1;
  }
  for (size_t i = 0; i < bytes; i++) {
    pixels[i] = (float)rgb8[i] / 255.0f;
  }
  free(rgb8);
  out->pixels = pixels;
  out->height = height;
  out->width = width;
  return 0;
}

/* Prints why a simloss call failed. simloss_last_error() is per thread and
 * describes the last call on this thread, so it is read right away. */
static int failed(simloss_status status, const char *what) {
  if (status == SIMLOSS_OK) {
    return 0;
  }
  /* simloss_status_string takes an int (so it can name any value); the
   * cast keeps -Wsign-conversion quiet where the enum is unsigned. */
  fprintf(stderr, "compare_images: %s failed: %s: %s\n", what,
          simloss_status_string((int)status), simloss_last_error());
  return 1;
}

/* Computes and prints the losses of distorted against reference, two images
 * of the same size; grad has room for one image. Returns 0, or 1 after
 * printing which call failed and why. */
static int compare(const image *reference, const image *distorted, float *grad) {
  const int64_t h = reference->height;
  const int64_t w = reference->width;
  const size_t count = (size_t)(h * w * CHANNELS);

  /* Each buffer is a dense (1, H, W, 3) array. simloss's image losses use
   * the logical (N, C, H, W) order; init_nhwc describes the same memory with
   * channels-last strides, so nothing is transposed or copied. The gradient
   * has pred's shape and dtype, and its own buffer: simloss refuses an
   * output that overlaps an input. */
  simloss_tensor ref_t, dist_t, grad_t;
  if (failed(simloss_tensor_init_nhwc(&ref_t, reference->pixels, SIMLOSS_FLOAT32,
                                      1, h, w, CHANNELS), "tensor (reference)") ||
      failed(simloss_tensor_init_nhwc(&dist_t, distorted->pixels, SIMLOSS_FLOAT32,
                                      1, h, w, CHANNELS), "tensor (distorted)") ||
      failed(simloss_tensor_init_nhwc(&grad_t, grad, SIMLOSS_FLOAT32,
                                      1, h, w, CHANNELS), "tensor (gradient)")) {
    return 1;
  }

  /* Options are initialised by their _init functions, which set the size
   * field the library checks and every default; only what differs is set. */
  simloss_pointwise_options pointwise;
  simloss_pointwise_options_init(&pointwise);  /* reduction MEAN */
  simloss_psnr_options psnr_options;
  simloss_psnr_options_init(&psnr_options);
  psnr_options.data_range = 1.0;  /* the default, set to say what it is */
  simloss_tv_options tv_options;
  simloss_tv_options_init(&tv_options);  /* ANISOTROPIC, MEAN */
  /* SSIM with the reference's defaults (11x11 Gaussian, sigma 1.5, valid
   * borders), the mean over the three channels; data range 1.0 as the
   * images are scaled to [0, 1]. MS-SSIM needs sides of at least 161. */
  simloss_ssim_options ssim_options;
  simloss_ssim_options_init(&ssim_options);

  /* pred is the distorted image, target the reference: the gradient is that
   * of the loss with respect to the image one would optimise. With N = 1
   * the MEAN reduction of PSNR and TV is the one image's value. */
  double l1 = 0.0, mse = 0.0, psnr = 0.0, tv_reference = 0.0, tv_distorted = 0.0, ssim = 0.0, ms_ssim = 0.0;
  if (failed(simloss_l1(&dist_t, &ref_t, NULL, &pointwise, &l1, 1, &grad_t), "simloss_l1") ||
      failed(simloss_mse(&dist_t, &ref_t, NULL, &pointwise, &mse, 1, NULL), "simloss_mse") ||
      failed(simloss_psnr(&dist_t, &ref_t, &psnr_options, &psnr, 1, NULL), "simloss_psnr") ||
      failed(simloss_tv(&ref_t, &tv_options, &tv_reference, 1, NULL), "simloss_tv (reference)") ||
      failed(simloss_tv(&dist_t, &tv_options, &tv_distorted, 1, NULL), "simloss_tv (distorted)")) {
    return 1;
  }
  /* The valid region needs a whole window: sides of at least its size. */
  const int64_t window = ssim_options.window_size;
  int has_ssim = h >= window && w >= window;
  if (has_ssim &&
      failed(simloss_ssim(&dist_t, &ref_t, &ssim_options, &ssim, 1, NULL, NULL, NULL, NULL, 0), "simloss_ssim")) {
    return 1;
  }
  int64_t min_side = 0;
  if (failed(simloss_ms_ssim_min_side(&ssim_options, NULL, &min_side), "simloss_ms_ssim_min_side")) return 1;
  int has_ms_ssim = h >= min_side && w >= min_side;
  if (has_ms_ssim &&
      failed(simloss_ms_ssim(&dist_t, &ref_t, &ssim_options, NULL, &ms_ssim, 1, NULL), "simloss_ms_ssim")) {
    return 1;
  }

  /* d L1 / d pred is sign(pred - target) / count, so its mean absolute value
   * is (the fraction of samples that differ) / count: tiny, and a check that
   * the gradient call wrote something sensible. Every term is 0 or the same
   * float32 value, so the double sum is exact in any order and numpy's
   * pairwise sum in the Python example gives the same bits. */
  double grad_abs_sum = 0.0;
  for (size_t i = 0; i < count; i++) {
    grad_abs_sum += fabs((double)grad[i]);
  }
  const double grad_mean_abs = grad_abs_sum / (double)count;

  /* %.12g: enough digits to compare with the Python example and with other
   * tools, few enough to read. */
  printf("simloss %s\n", simloss_version_string());
  printf("images: %" PRId64 "x%" PRId64 " RGB (%zu samples)\n", w, h, count);
  printf("L1:                 %.12g\n", l1);
  printf("MSE:                %.12g\n", mse);
  /* PSNR is +inf for identical images; printf prints "inf". */
  printf("PSNR:               %.12g dB (data range 1.0)\n", psnr);
  printf("TV (reference):     %.12g\n", tv_reference);
  printf("TV (distorted):     %.12g\n", tv_distorted);
  if (has_ssim) printf("SSIM:               %.12g\n", ssim);
  else printf("SSIM:               (images smaller than %" PRId64 " pixels)\n", window);
  if (has_ms_ssim) printf("MS-SSIM:            %.12g\n", ms_ssim);
  else printf("MS-SSIM:            (images smaller than %" PRId64 " pixels)\n", min_side);
  printf("mean |dL1/dpred|:   %.12g (= %.6f of samples differ / %zu)\n",
         grad_mean_abs, grad_mean_abs * (double)count, count);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s REFERENCE.png DISTORTED.png\n", argv[0]);
    return 2;
  }
  const char *reference_path = argv[1];
  const char *distorted_path = argv[2];

  /* The header's version is what this program was compiled against; the
   * library's is what the dynamic loader found. An ABI mismatch means the
   * struct layouts above may not be the library's. */
  if (simloss_abi_version() != SIMLOSS_ABI_VERSION) {
    fprintf(stderr, "compare_images: compiled for simloss ABI %d, loaded %s "
                    "(ABI %d)\n", SIMLOSS_ABI_VERSION, simloss_version_string(),
            simloss_abi_version());
    return 1;
  }

  int rc = 1;
  image reference = {0};
  image distorted = {0};
  if (read_png(reference_path, &reference) == 0 &&
      read_png(distorted_path, &distorted) == 0) {
    if (reference.height != distorted.height || reference.width != distorted.width) {
      /* simloss would refuse the pair too (SIMLOSS_ERROR_SHAPE_MISMATCH),
       * but in tensor terms; the user thinks in pixels and file names. */
      fprintf(stderr, "compare_images: the images differ in size: %s is %" PRId64
                      "x%" PRId64 ", %s is %" PRId64 "x%" PRId64 " (width x "
                      "height); compare images of the same size\n",
              reference_path, reference.width, reference.height,
              distorted_path, distorted.width, distorted.height);
    } else {
      size_t count = (size_t)(reference.height * reference.width * CHANNELS);
      float *grad = malloc(count * sizeof *grad);
      if (grad == NULL) {
        fprintf(stderr, "compare_images: out of memory for the gradient\n");
      } else {
        rc = compare(&reference, &distorted, grad);
      }
      free(grad);
    }
  }
  free(distorted.pixels);
  free(reference.pixels);
  return rc;
}
