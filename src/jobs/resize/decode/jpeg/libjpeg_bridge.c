/*
 * The part of libjpeg's decompression API that ferryd's JPEG decoder uses, behind functions
 * that never unwind: libjpeg reports errors by calling error_exit, which must not return, so
 * each entry point below sets a jump target and turns a longjmp into a status code. Rust frames
 * are never jumped over: every longjmp lands in the same C function that called libjpeg.
 *
 * Compiled against the headers of the libjpeg-turbo that turbojpeg-sys builds, and linked to the
 * same static library (libturbojpeg.a carries the whole libjpeg API), so there is one copy of
 * libjpeg-turbo in the binary.
 */

#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jpeglib.h"

enum { FERRY_OK = 0, FERRY_ERROR = 1, FERRY_STOPPED = 2 };

/* Asked between blocks of work; nonzero stops the decode (deadline passed, job cancelled). */
typedef int (*ferry_stop_fn)(void *ctx);

struct ferry_jpeg_info {
  unsigned image_width, image_height;
  unsigned output_width, output_height;
  int output_components;
  int jpeg_color_space; /* J_COLOR_SPACE of the file: 1 gray, 2 RGB, 3 YCbCr, 4 CMYK, 5 YCCK */
};

struct ferry_jpeg {
  struct jpeg_decompress_struct cinfo; /* first, so a j_common_ptr is also a ferry_jpeg */
  struct jpeg_error_mgr err;
  struct jpeg_progress_mgr progress;
  jmp_buf jump;
  ferry_stop_fn should_stop;
  void *stop_ctx;
  int max_scans;
  int stopped;
  int warned;
  char warning[JMSG_LENGTH_MAX];
  char error[JMSG_LENGTH_MAX];
};

static void on_error(j_common_ptr c) {
  struct ferry_jpeg *d = (struct ferry_jpeg *)c;
  (*c->err->format_message)(c, d->error);
  longjmp(d->jump, 1);
}

/* libjpeg keeps decoding after a warning (corrupt data, premature end); the first one is kept
 * for the caller to judge. Trace messages are dropped. */
static void on_message(j_common_ptr c, int level) {
  struct ferry_jpeg *d = (struct ferry_jpeg *)c;
  if (level < 0 && !d->warned) {
    (*c->err->format_message)(c, d->warning);
    d->warned = 1;
  }
}

static void no_output(j_common_ptr c) { (void)c; }

/* Called once per iMCU row while a multi-scan file is absorbed (inside jpeg_start_decompress)
 * and once per jpeg_read_scanlines call: the points where a long decode can be stopped. */
static void on_progress(j_common_ptr c) {
  struct ferry_jpeg *d = (struct ferry_jpeg *)c;
  if (d->cinfo.input_scan_number > d->max_scans) {
    snprintf(d->error, sizeof d->error, "progressive JPEG image has more than %d scans", d->max_scans);
    longjmp(d->jump, 1);
  }
  if (d->should_stop != NULL && d->should_stop(d->stop_ctx)) {
    d->stopped = 1;
    longjmp(d->jump, 1);
  }
}

static int failed(struct ferry_jpeg *d) { return d->stopped ? FERRY_STOPPED : FERRY_ERROR; }

/* NULL when memory runs out. */
struct ferry_jpeg *ferry_jpeg_new(ferry_stop_fn should_stop, void *stop_ctx, int max_scans) {
  struct ferry_jpeg *volatile d = calloc(1, sizeof(struct ferry_jpeg));
  if (d == NULL) return NULL;
  d->cinfo.err = jpeg_std_error(&d->err);
  d->err.error_exit = on_error;
  d->err.emit_message = on_message;
  d->err.output_message = no_output;
  d->should_stop = should_stop;
  d->stop_ctx = stop_ctx;
  d->max_scans = max_scans;
  if (setjmp(d->jump)) {
    free(d);
    return NULL;
  }
  jpeg_create_decompress(&d->cinfo);
  d->progress.progress_monitor = on_progress;
  d->cinfo.progress = &d->progress;
  return d;
}

void ferry_jpeg_free(struct ferry_jpeg *d) {
  if (d == NULL) return;
  jpeg_destroy_decompress(&d->cinfo);
  free(d);
}

/* Reads the header and starts decompression at scale_eighths/8 (lossless files ignore the
 * scale), to 8-bit gray, RGB or CMYK (YCbCr files to YCbCr when keep_ycc is set: tests compare
 * luma). Block smoothing is off. A multi-scan (progressive) file is absorbed whole here.
 * `data` must stay valid until ferry_jpeg_free. */
int ferry_jpeg_start(struct ferry_jpeg *d, const unsigned char *data, unsigned long len, unsigned scale_eighths,
                     int keep_ycc, struct ferry_jpeg_info *info) {
  if (setjmp(d->jump)) return failed(d);
  jpeg_mem_src(&d->cinfo, data, len);
  if (jpeg_read_header(&d->cinfo, TRUE) != JPEG_HEADER_OK) {
    snprintf(d->error, sizeof d->error, "no image in the datastream");
    return FERRY_ERROR;
  }
  if (d->cinfo.data_precision != 8) {
    snprintf(d->error, sizeof d->error, "%d-bit samples are not supported", d->cinfo.data_precision);
    return FERRY_ERROR;
  }
  switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: d->cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: d->cinfo.out_color_space = JCS_CMYK; break;
    case JCS_YCbCr: d->cinfo.out_color_space = keep_ycc ? JCS_YCbCr : JCS_RGB; break;
    default: d->cinfo.out_color_space = JCS_RGB; break;
  }
  d->cinfo.scale_num = scale_eighths;
  d->cinfo.scale_denom = 8;
  d->cinfo.dct_method = JDCT_ISLOW;
  d->cinfo.do_fancy_upsampling = TRUE;
  d->cinfo.do_block_smoothing = FALSE;
  jpeg_start_decompress(&d->cinfo);
  info->image_width = d->cinfo.image_width;
  info->image_height = d->cinfo.image_height;
  info->output_width = d->cinfo.output_width;
  info->output_height = d->cinfo.output_height;
  info->output_components = d->cinfo.output_components;
  info->jpeg_color_space = (int)d->cinfo.jpeg_color_space;
  return FERRY_OK;
}

/* Decodes the next `rows` rows (fewer at the bottom of the image) into `buf`, `stride` bytes
 * apart. */
int ferry_jpeg_read_rows(struct ferry_jpeg *d, unsigned char *buf, size_t stride, unsigned rows) {
  JSAMPROW pointers[16];
  volatile unsigned done = 0;
  if (setjmp(d->jump)) return failed(d);
  while (done < rows && d->cinfo.output_scanline < d->cinfo.output_height) {
    unsigned want = rows - done < 16 ? rows - done : 16;
    for (unsigned i = 0; i < want; i++) pointers[i] = buf + (size_t)(done + i) * stride;
    JDIMENSION got = jpeg_read_scanlines(&d->cinfo, pointers, want);
    if (got == 0) {
      snprintf(d->error, sizeof d->error, "the decoder made no progress");
      return FERRY_ERROR;
    }
    done += got;
  }
  return FERRY_OK;
}

/* Reads to the end of the image (markers after the last scan). */
int ferry_jpeg_finish(struct ferry_jpeg *d) {
  if (setjmp(d->jump)) return failed(d);
  jpeg_finish_decompress(&d->cinfo);
  return FERRY_OK;
}

const char *ferry_jpeg_error(const struct ferry_jpeg *d) { return d->error; }

/* The first warning, or NULL. */
const char *ferry_jpeg_warning(const struct ferry_jpeg *d) { return d->warned ? d->warning : NULL; }
