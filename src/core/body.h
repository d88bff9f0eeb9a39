/* Request bodies as every handler first checks them: a JSON object whose fields are all ones the handler knows,
 * so a misspelt field is a 400 naming it rather than a value silently left at its default. */
#pragma once
#include <jansson.h>
#include <stddef.h>

#include "basic/error.h"

/* -EINVAL (field = the unknown key) unless body is an object with no key outside known[0..n). */
int body_check_fields(json_t *body, const char *const *known, size_t n, PicError *err);
