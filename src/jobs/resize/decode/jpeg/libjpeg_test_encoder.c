/*
 * Test support only: encodes progressive JPEGs with a caller-chosen scan script through libjpeg's
 * compression API (TurboJPEG offers only libjpeg's default script), so the scan-pruning tests can
 * generate the scripts real encoders write. Nothing in ferryd's serving path calls this; the
 * linker drops it from the daemon.
 */

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include "jpeglib.h"

struct failure {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
};

static void fail(j_common_ptr c) { longjmp(((struct failure *)c->err)->jump, 1); }

/*
 * `pixels`: rows of `components` (1 gray, 3 RGB) bytes per pixel. The first component is sampled
 * at h0 x v0, the others at 1x1. `script` holds `nscans` scans of 8 ints each: component count,
 * up to four component indices, Ss, Se, Ah, Al packed as {n, c0, c1, c2, c3, Ss, Se, Ah_Al}
 * with Ah_Al = Ah * 16 + Al. nscans 0 asks for libjpeg's default progressive script.
 * restart_interval: MCUs between restart markers (0: none). rgb: store RGB as RGB (Adobe marker
 * with transform 0, no JFIF marker, as `cjpeg -rgb` writes) instead of YCbCr.
 * Returns 0 and a malloc'd buffer in *out (free with ferry_test_free), or 1.
 */
int ferry_test_encode(const unsigned char *pixels, unsigned width, unsigned height, int components,
                      int quality, int h0, int v0, const int *script, int nscans, unsigned restart_interval,
                      int rgb, unsigned char **out, unsigned long *out_len) {
  struct jpeg_compress_struct c;
  struct failure err;
  jpeg_scan_info *volatile scans = NULL;
  *out = NULL;
  *out_len = 0;
  c.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = fail;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&c);
    free(scans);
    free(*out);
    *out = NULL;
    return 1;
  }
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, out, out_len);
  c.image_width = width;
  c.image_height = height;
  c.input_components = components;
  c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  if (rgb && components == 3) jpeg_set_colorspace(&c, JCS_RGB);
  jpeg_set_quality(&c, quality, TRUE);
  c.comp_info[0].h_samp_factor = h0;
  c.comp_info[0].v_samp_factor = v0;
  for (int i = 1; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  if (nscans == 0) {
    jpeg_simple_progression(&c);
  } else {
    scans = calloc((size_t)nscans, sizeof *scans);
    if (scans == NULL) longjmp(err.jump, 1);
    for (int s = 0; s < nscans; s++) {
      const int *p = script + 8 * s;
      scans[s].comps_in_scan = p[0];
      for (int i = 0; i < 4; i++) scans[s].component_index[i] = p[1 + i];
      scans[s].Ss = p[5];
      scans[s].Se = p[6];
      scans[s].Ah = p[7] / 16;
      scans[s].Al = p[7] % 16;
    }
    c.scan_info = scans;
    c.num_scans = nscans;
  }
  c.restart_interval = restart_interval;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * width * (size_t)components);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  free(scans);
  return 0;
}

void ferry_test_free(unsigned char *buf) { free(buf); }
