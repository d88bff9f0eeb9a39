/* POST /api/network/test: runs the network self-test (real queries from inside the cell) and reports each
 * check with its timing; the answer is 200 whether checks pass or not, "ok" says which. */
#include "http/handlers/handlers.h"
#include "services/nettest/nettest.h"

int http_network_test_post(HttpRequest *req, HttpResponse *resp) {
        json_t *result = NULL;
        int r = network_test_run(req->cell, &result);
        if (r < 0)
                return http_reply_errno(resp, r, NULL);
        return http_reply(resp, 200, result);
}
