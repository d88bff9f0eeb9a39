/* cell_in_netns(): setns() there and back around one call. picd is single-threaded, so switching the
 * thread's namespace briefly affects nothing else; sockets keep the namespace they were created in. */
#include "core/netns-run.h"

#include "basic/log.h"
#include "net/netns.h"

int cell_in_netns(Cell *c, cell_netns_fn fn, void *userdata) {
        if (c->netns_fd < 0)
                return fn(c, userdata);
        int saved;
        int r = netns_enter(c->netns_fd, &saved);
        if (r < 0)
                return log_debug_errno(r, "cannot enter the cell namespace");
        r = fn(c, userdata);
        int k = netns_leave(saved);
        if (k < 0) {
                /* Staying in the wrong namespace would silently misdirect every later call. */
                log_error_errno(k, "cannot return to picd's own network namespace");
                abort();
        }
        return r;
}
