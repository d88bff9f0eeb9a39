/* QR rendering (see qr.h). One encoder call per render; output grows by copy-and-wipe, never realloc,
 * so no freed block keeps a piece of an image of a private key. */
#include "crypto/qr.h"

#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdio.h>

#include "basic/util.h"

typedef struct Out {
        uint8_t *data;
        size_t len, cap;
        int error;
} Out;

static void out_append(Out *o, const void *p, size_t n) {
        if (o->error)
                return;
        if (o->len + n + 1 > o->cap) {
                size_t ncap = o->cap ? o->cap : 4096;
                while (ncap < o->len + n + 1)
                        ncap *= 2;
                uint8_t *nd = malloc(ncap);
                if (!nd) {
                        o->error = -ENOMEM;
                        return;
                }
                if (o->data) {
                        memcpy(nd, o->data, o->len);
                        sodium_memzero(o->data, o->cap);
                        free(o->data);
                }
                o->data = nd;
                o->cap = ncap;
        }
        memcpy(o->data + o->len, p, n);
        o->len += n;
        o->data[o->len] = 0;
}

static void out_puts(Out *o, const char *s) {
        out_append(o, s, strlen(s));
}

static void out_wipe(Out *o) {
        if (o->data) {
                sodium_memzero(o->data, o->cap);
                free(o->data);
        }
        *o = (Out) { 0 };
}

static int encode(const char *text, QRcode **ret) {
        if (!text || !*text)
                return -EINVAL;
        errno = 0;
        QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
        if (!q)
                return errno == ERANGE ? -ERANGE : errno == ENOMEM ? -ENOMEM : -EINVAL;
        *ret = q;
        return 0;
}

static void qr_wipe_free(QRcode *q) {
        if (!q)
                return;
        sodium_memzero(q->data, (size_t) q->width * (size_t) q->width);
        QRcode_free(q);
}

/* Dark module at (x, y) of the symbol; the quiet zone and beyond are light. */
static bool dark(const QRcode *q, int x, int y) {
        if (x < 0 || y < 0 || x >= q->width || y >= q->width)
                return false;
        return q->data[y * q->width + x] & 1;
}

int qr_symbol_width(const char *text, int *ret) {
        QRcode *q;
        int r = encode(text, &q);
        if (r < 0)
                return r;
        *ret = q->width;
        qr_wipe_free(q);
        return 0;
}

int qr_render_svg(const char *text, char **ret, size_t *ret_len) {
        QRcode *q;
        int r = encode(text, &q);
        if (r < 0)
                return r;
        int size = q->width + 2 * QR_QUIET_ZONE;
        Out o = { 0 };
        char buf[160];
        snprintf(buf, sizeof buf,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\"",
                 size, size, size * 8, size * 8);
        out_puts(&o, buf);
        out_puts(&o, " shape-rendering=\"crispEdges\">\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
                     "<path fill=\"#000\" d=\"");
        /* One sub-path per horizontal run of dark modules keeps the file small. */
        for (int y = 0; y < q->width; y++)
                for (int x = 0; x < q->width;) {
                        if (!dark(q, x, y)) {
                                x++;
                                continue;
                        }
                        int run = 1;
                        while (dark(q, x + run, y))
                                run++;
                        snprintf(buf, sizeof buf, "M%d %dh%dv1h-%dz", x + QR_QUIET_ZONE, y + QR_QUIET_ZONE, run, run);
                        out_puts(&o, buf);
                        x += run;
                }
        out_puts(&o, "\"/>\n</svg>\n");
        sodium_memzero(buf, sizeof buf);
        qr_wipe_free(q);
        if (o.error) {
                r = o.error;
                out_wipe(&o);
                return r;
        }
        *ret = (char *) o.data;
        *ret_len = o.len;
        return 0;
}

static void png_write_cb(png_structp png, png_bytep data, size_t n) {
        out_append(png_get_io_ptr(png), data, n);
}

static void png_flush_cb(png_structp png) {
}

/* Separate from qr_render_png so that nothing setjmp could clobber lives in the caller's frame. */
static int write_png(const QRcode *q, unsigned scale, Out *o) {
        png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
        if (!png)
                return -ENOMEM;
        png_infop info = png_create_info_struct(png);
        uint32_t px = (uint32_t) (q->width + 2 * QR_QUIET_ZONE) * scale;
        size_t row_bytes = (px + 7) / 8;
        uint8_t *volatile row = info ? calloc(1, row_bytes) : NULL;
        if (!row) {
                png_destroy_write_struct(&png, info ? &info : NULL);
                return -ENOMEM;
        }
        if (setjmp(png_jmpbuf(png))) {
                png_destroy_write_struct(&png, &info);
                sodium_memzero(row, row_bytes);
                free(row);
                return o->error ? o->error : -EIO;
        }
        png_set_write_fn(png, o, png_write_cb, png_flush_cb);
        png_set_IHDR(png, info, px, px, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                     PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (uint32_t py = 0; py < px; py++) {
                int y = (int) (py / scale) - QR_QUIET_ZONE;
                /* Grey 1 bit: 1 = white. Start all white, clear the dark modules' pixels. */
                memset(row, 0xff, row_bytes);
                for (uint32_t pxx = 0; pxx < px; pxx++)
                        if (dark(q, (int) (pxx / scale) - QR_QUIET_ZONE, y))
                                row[pxx / 8] &= (uint8_t) ~(0x80u >> (pxx % 8));
                png_write_row(png, row);
        }
        png_write_end(png, info);
        png_destroy_write_struct(&png, &info);
        sodium_memzero(row, row_bytes);
        free(row);
        return o->error;
}

int qr_render_png(const char *text, unsigned scale, uint8_t **ret, size_t *ret_len) {
        if (scale < 1 || scale > 32)
                return -EINVAL;
        QRcode *q;
        int r = encode(text, &q);
        if (r < 0)
                return r;
        Out o = { 0 };
        r = write_png(q, scale, &o);
        qr_wipe_free(q);
        if (r < 0) {
                out_wipe(&o);
                return r;
        }
        *ret = o.data;
        *ret_len = o.len;
        return 0;
}

int qr_render_terminal(const char *text, bool ansi, char **ret) {
        QRcode *q;
        int r = encode(text, &q);
        if (r < 0)
                return r;
        Out o = { 0 };
        int lo = -QR_QUIET_ZONE, hi = q->width + QR_QUIET_ZONE;
        for (int y = lo; y < hi; y += 2) {
                if (ansi)
                        out_puts(&o, "\033[40;97m");
                for (int x = lo; x < hi; x++) {
                        bool top = !dark(q, x, y), bottom = y + 1 < hi && !dark(q, x, y + 1);
                        out_puts(&o, top && bottom ? "\xe2\x96\x88"   /* █ */
                                     : top         ? "\xe2\x96\x80"   /* ▀ */
                                     : bottom      ? "\xe2\x96\x84"   /* ▄ */
                                                   : " ");
                }
                out_puts(&o, ansi ? "\033[0m\n" : "\n");
        }
        qr_wipe_free(q);
        if (o.error) {
                r = o.error;
                out_wipe(&o);
                return r;
        }
        *ret = (char *) o.data;
        return 0;
}
