/* CTRL_CMD_GETFAMILY over NETLINK_GENERIC: the kernel answers ENOENT for a family it does not have
 * (after trying to autoload its module), which is how "is kernel WireGuard available" is decided. */
#include "net/genl.h"

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <time.h>

#include "basic/util.h"

int genl_family_exists(const char *name) {
        if (!name || strlen(name) >= GENL_NAMSIZ)
                return -EINVAL;
        char buf[4096];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = GENL_ID_CTRL;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = (unsigned) time(NULL);
        struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
        g->cmd = CTRL_CMD_GETFAMILY;
        g->version = 1;
        mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);

        struct mnl_socket *nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
        if (!nl)
                return negative_errno();
        int r;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 || mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
                r = negative_errno();
                goto out;
        }
        unsigned portid = mnl_socket_get_portid(nl), seq = nlh->nlmsg_seq; /* buf is reused for replies */
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
                if (n < 0) {
                        r = negative_errno();
                        break;
                }
                int k = mnl_cb_run(buf, (size_t) n, seq, portid, NULL, NULL);
                if (k < 0) {
                        r = errno == ENOENT ? 0 : negative_errno();
                        break;
                }
                if (k == MNL_CB_STOP) {
                        r = 1;
                        break;
                }
        }
out:
        mnl_socket_close(nl);
        return r;
}
