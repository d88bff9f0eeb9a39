/* QR codes (libqrencode, 8-bit mode, level L like `qrencode`) rendered as SVG text, PNG bytes (libpng) or
 * terminal text (UTF-8 half blocks). The text is usually a WireGuard config with a private key: every
 * intermediate buffer is wiped; the caller owns (and should wipe) the result. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QR_QUIET_ZONE 4 /* modules of light border, as ISO/IEC 18004 asks */

/* Width in modules of the symbol for text (without quiet zone); -ERANGE when text does not fit a QR code. */
int qr_symbol_width(const char *text, int *ret);
int qr_render_svg(const char *text, char **ret, size_t *ret_len);
/* scale: pixels per module (1..32). */
int qr_render_png(const char *text, unsigned scale, uint8_t **ret, size_t *ret_len);
/* Two module rows per text line. Light modules are drawn (so it reads right on a dark terminal);
 * ansi adds colours that force white-on-black whatever the terminal's scheme. */
int qr_render_terminal(const char *text, bool ansi, char **ret);
