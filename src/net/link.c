/* rtnetlink requests built with libmnl: one socket per call, request + ACK, errors as negative errno.
 * Idempotent by design (EEXIST/EADDRNOTAVAIL are success) so reconcile can simply re-apply. */
#include "net/link.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "basic/util.h"
#include "net/netns.h"

/* MNL_SOCKET_BUFFER_SIZE depends on the page size at run time; a fixed size keeps the buffers off VLAs. */
#define NL_BUF_SIZE 16384

typedef int (*nl_cb)(const struct nlmsghdr *nlh, void *data);

/* Sends one request and processes replies until ACK/DONE; cb sees each data message (dumps). */
static int nl_talk(struct nlmsghdr *nlh, nl_cb cb, void *data) {
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl)
                return negative_errno();
        int r = 0;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                r = negative_errno();
                goto out;
        }
        unsigned portid = mnl_socket_get_portid(nl);
        unsigned seq = nlh->nlmsg_seq = (unsigned) time(NULL);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
                r = negative_errno();
                goto out;
        }
        char buf[NL_BUF_SIZE];
        for (;;) {
                ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
                if (n < 0) {
                        r = negative_errno();
                        break;
                }
                int k = mnl_cb_run(buf, (size_t) n, seq, portid, cb, data);
                if (k < 0) {
                        r = negative_errno();
                        break;
                }
                if (k == MNL_CB_STOP)
                        break;
        }
out:
        mnl_socket_close(nl);
        return r;
}

int link_exists(const char *ifname) {
        return if_nametoindex(ifname) > 0;
}

int link_bridge_ensure(const char *ifname) {
        if (strlen(ifname) >= IFNAMSIZ)
                return -EINVAL;
        if (link_exists(ifname))
                return 0;
        char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_NEWLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
        ifm->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
        struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
        mnl_attr_nest_end(nlh, linkinfo);
        int r = nl_talk(nlh, NULL, NULL);
        return r == -EEXIST ? 0 : r;
}

int link_delete(const char *ifname) {
        unsigned idx = if_nametoindex(ifname);
        if (idx == 0)
                return 0;
        char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_DELLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = (int) idx;
        int r = nl_talk(nlh, NULL, NULL);
        return r == -ENODEV ? 0 : r;
}

int link_set_up(const char *ifname) {
        return netif_set_up(ifname);
}

static int addr_request(const char *ifname, uint32_t ip, uint8_t prefix, bool add) {
        unsigned idx = if_nametoindex(ifname);
        if (idx == 0)
                return -ENODEV;
        char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
        ifa->ifa_family = AF_INET;
        ifa->ifa_prefixlen = prefix;
        ifa->ifa_index = idx;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        uint32_t be = htonl(ip);
        mnl_attr_put_u32(nlh, IFA_LOCAL, be);
        mnl_attr_put_u32(nlh, IFA_ADDRESS, be);
        int r = nl_talk(nlh, NULL, NULL);
        if (add && r == -EEXIST)
                return 0;
        if (!add && r == -EADDRNOTAVAIL)
                return 0;
        return r;
}

int addr_add(const char *ifname, uint32_t ip, uint8_t prefix) {
        return addr_request(ifname, ip, prefix, true);
}

int addr_del(const char *ifname, uint32_t ip, uint8_t prefix) {
        return addr_request(ifname, ip, prefix, false);
}

typedef struct AddrDump {
        unsigned idx;
        uint32_t *ips;
        uint8_t *prefixes;
        size_t n, cap;
        int error;
} AddrDump;

static int addr_cb(const struct nlmsghdr *nlh, void *data) {
        AddrDump *d = data;
        struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        if (ifa->ifa_family != AF_INET || ifa->ifa_index != d->idx)
                return MNL_CB_OK;
        struct nlattr *attr;
        mnl_attr_for_each(attr, nlh, sizeof *ifa) {
                if (mnl_attr_get_type(attr) != IFA_LOCAL)
                        continue;
                if (d->n == d->cap) {
                        size_t ncap = d->cap ? d->cap * 2 : 16;
                        uint32_t *ni = realloc(d->ips, ncap * sizeof *ni);
                        if (ni)
                                d->ips = ni;
                        uint8_t *np = realloc(d->prefixes, ncap);
                        if (np)
                                d->prefixes = np;
                        if (!ni || !np) {
                                d->error = -ENOMEM;
                                return MNL_CB_ERROR;
                        }
                        d->cap = ncap;
                }
                d->ips[d->n] = ntohl(mnl_attr_get_u32(attr));
                d->prefixes[d->n++] = ifa->ifa_prefixlen;
        }
        return MNL_CB_OK;
}

int addr_list(const char *ifname, uint32_t **ret_ips, uint8_t **ret_prefixes, size_t *ret_n) {
        AddrDump d = { .idx = if_nametoindex(ifname) };
        if (d.idx == 0)
                return -ENODEV;
        char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
        ifa->ifa_family = AF_INET;
        int r = nl_talk(nlh, addr_cb, &d);
        if (r < 0 || d.error < 0) {
                free(d.ips);
                free(d.prefixes);
                return r < 0 ? r : d.error;
        }
        *ret_ips = d.ips;
        *ret_prefixes = d.prefixes;
        *ret_n = d.n;
        return 0;
}

typedef struct FirstGlobal {
        const char *const *skip;
        uint32_t ip;
        bool found;
} FirstGlobal;

static int first_global_cb(const struct nlmsghdr *nlh, void *data) {
        FirstGlobal *f = data;
        struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
        if (f->found || ifa->ifa_family != AF_INET || ifa->ifa_scope != RT_SCOPE_UNIVERSE)
                return MNL_CB_OK;
        char name[IF_NAMESIZE];
        if (!if_indextoname(ifa->ifa_index, name))
                return MNL_CB_OK;
        for (const char *const *s = f->skip; s && *s; s++)
                if (streq(*s, name))
                        return MNL_CB_OK;
        struct nlattr *attr;
        mnl_attr_for_each(attr, nlh, sizeof *ifa) {
                if (mnl_attr_get_type(attr) != IFA_LOCAL)
                        continue;
                uint32_t ip = ntohl(mnl_attr_get_u32(attr));
                if ((ip >> 24) == 127)
                        continue;
                f->ip = ip;
                f->found = true;
                break;
        }
        return MNL_CB_OK;
}

int addr_first_global(const char *const *skip_ifnames, uint32_t *ret) {
        FirstGlobal f = { .skip = skip_ifnames };
        char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_GETADDR;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
        ifa->ifa_family = AF_INET;
        int r = nl_talk(nlh, first_global_cb, &f);
        if (r < 0)
                return r;
        if (!f.found)
                return -EADDRNOTAVAIL;
        *ret = f.ip;
        return 0;
}

/* A route to net/prefix through ifname (scope link: WireGuard picks the peer by its allowed IPs). Adding an
 * existing route and removing a missing one are success. */
static int route_request(const char *ifname, uint32_t net, uint8_t prefix, bool add) {
        unsigned idx = if_nametoindex(ifname);
        if (idx == 0)
                return -ENODEV;
        char buf[NL_BUF_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = prefix;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_STATIC;
        rtm->rtm_scope = RT_SCOPE_LINK;
        rtm->rtm_type = RTN_UNICAST;
        mnl_attr_put_u32(nlh, RTA_DST, htonl(net));
        mnl_attr_put_u32(nlh, RTA_OIF, idx);
        int r = nl_talk(nlh, NULL, NULL);
        if (!add && r == -ESRCH)
                return 0;
        return r;
}

int route_add(const char *ifname, uint32_t net, uint8_t prefix) {
        return route_request(ifname, net, prefix, true);
}

int route_del(const char *ifname, uint32_t net, uint8_t prefix) {
        return route_request(ifname, net, prefix, false);
}
