/* Fuzz harness for the credentials of a forward_auth request (core/accounts.c accounts_authorize: HTTP Basic
 * decoding, app-password normalisation, session cookie): any Authorization or Cookie text is refused unless it
 * is the one app password the harness created, and nothing crashes. Built once on an in-memory store. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/accounts.h"
#include "services/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Cell cell = { .netns_fd = -1 };
static char secret[SECRET_APP_PASSWORD_STRLEN];

static void setup(void) {
        json_t *body = json_pack("{s:s}", "label", "fuzz");
        int64_t id;
        PicError err = { 0 };
        if (secret_init() < 0 || settings_new(&cell.settings) < 0 || services_register_all(&cell) < 0 ||
            store_open(":memory:", &cell.store) < 0 || settings_load(cell.settings, cell.store) < 0 ||
            store_user_insert(cell.store, "fuzz", "x", "user", NULL) < 0 || accounts_new(&cell) < 0 ||
            app_password_create(&cell, "fuzz", body, secret, &id, &err) < 0)
                abort();
        json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!cell.store)
                setup();
        if (size == 0)
                return 0;
        /* First byte: 0 = the rest is an Authorization header value, else a session cookie value. */
        char *s = malloc(size);
        if (!s)
                return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = '\0';
        char user[64];
        bool failed;
        int r = data[0] == 0 ? accounts_authorize(&cell, "calendar", "127.0.0.1", s, NULL, 1800, user, &failed)
                             : accounts_authorize(&cell, "calendar", "127.0.0.1", NULL, s, 1800, user, &failed);
        if (r != 0 && r != -EACCES)
                abort();
        if (r == 0 && (data[0] != 0 || strcmp(user, "fuzz") != 0))
                abort();
        free(s);
        return 0;
}
