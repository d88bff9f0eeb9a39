/* Fuzz harness for what the mesh reads from other cells (src/crypto/invite.c): an invite pasted by a person and
 * the signed JSON lines of the mesh endpoint. Anything accepted must hold only values of the grammar. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/parse.h"
#include "crypto/invite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        Invite inv;
        char why[200];
        if (invite_decode(text, &inv, why, sizeof why) == 0) {
                if (!name_is_valid(inv.name) || inv.port == 0 || inv.n_share > INVITE_SHARE_MAX ||
                    strlen(inv.identity) != IDENTITY_PK_STRLEN - 1)
                        abort();
                for (size_t i = 0; i < inv.n_share; i++)
                        if (!name_is_valid(inv.share[i]))
                                abort();
        }
        json_t *env = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
        json_t *body = NULL;
        uint8_t *raw = NULL, sig[IDENTITY_SIG_BYTES];
        size_t len;
        if (env && signed_msg_body(env, &body, &raw, &len, sig) == 0) {
                if (!json_is_object(body))
                        abort();
                json_decref(body);
                free(raw);
        }
        uint8_t pk[IDENTITY_PK_BYTES] = { 0 };
        if (env && signed_msg_open(env, pk, "pic-mesh-msg-v1", &body) == 0)
                abort(); /* nothing verifies against the all-zero key */
        json_decref(env);
        free(text);
        return 0;
}
