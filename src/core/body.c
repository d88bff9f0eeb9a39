/* The shared first check of a request body (body.h): its shape and its field names; each handler checks
 * the values against its own grammar afterwards. */
#include "core/body.h"

#include <errno.h>

#include "basic/util.h"

int body_check_fields(json_t *body, const char *const *known, size_t n, PicError *err) {
        if (!json_is_object(body))
                return pic_error(err, -EINVAL, NULL, "request body must be a JSON object");
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) {
                bool ok = false;
                for (size_t i = 0; i < n && !ok; i++)
                        ok = streq(k, known[i]);
                if (!ok)
                        return pic_error(err, -EINVAL, k, "unknown field \"%.64s\"", k);
        }
        return 0;
}
