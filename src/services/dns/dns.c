/* The dns ops table and the runtime side of DNS: unbound's argv and checked config, re-applying records,
 * hosts, forwarders and view membership whenever unbound (re)starts, and the per-change edits (one record,
 * one host, one peer's view element) that never rewrite the config or reload unbound.
 * unbound starts as root to bind, then drops to the "unbound" user (username:); it writes no files. */
#include "services/dns/dns.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>

#include "basic/log.h"
#include "basic/parse.h"
#include "basic/spawn.h"
#include "basic/strbuf.h"
#include "basic/time-util.h"
#include "basic/util.h"
#include "core/dhcp.h"
#include "core/dns-records.h"
#include "core/netns-run.h"
#include "services/dns/dns-render.h"
#include "services/dns/unbound-ctl.h"
#include "services/mesh/mesh.h"

#define UNBOUND_BIN "/usr/sbin/unbound"
#define UNBOUND_CHECKCONF_BIN "/usr/sbin/unbound-checkconf"
/* How long a freshly started unbound may take to open its control socket before we give up re-applying. */
#define READY_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define READY_POLL_USEC (10 * USEC_PER_MSEC)
#define CHECK_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct DnsHost {
        char name[64];
        uint32_t ip;
} DnsHost;

typedef struct DnsState {
        DnsHost *hosts; /* dynamic names from host_changed, re-applied after every start */
        size_t n_hosts, cap_hosts;
        DnsParams running; /* what the running unbound's config was rendered from */
        bool have_running;
        bool ready; /* unbound answered and runtime state was applied since its last start */
        LoopTimer *wait_timer;
        uint64_t wait_deadline;
} DnsState;

static DnsState *dns_state(Cell *c) {
        void **slot = cell_service_data(c, svc_dns_ops.name);
        if (!slot)
                return NULL;
        if (!*slot)
                *slot = calloc(1, sizeof(DnsState));
        return *slot;
}

/* with_lan: also look up the DHCP interface's subnet (a netlink query), which only the config needs. */
static int params_from_cell(Cell *c, bool with_lan, DnsParams *ret, PicError *err) {
        DnsParams p = { 0 };
        if (dns_zone_from_settings(c->settings, p.zone) < 0)
                return pic_error(err, -EINVAL, "cell_name", "cell_name.domain is not a valid zone name");
        if (settings_ip_range(c->settings, &p.ip_range) < 0)
                return pic_error(err, -EINVAL, "ip_range", "ip_range is not a valid CIDR");
        if (settings_vpn_address(c->settings, &p.vpn) < 0)
                return pic_error(err, -EINVAL, "wireguard.address", "wireguard.address is not a valid CIDR");
        p.port = (uint16_t) settings_int(c->settings, "dns.port");
        if (dns_forwarders_parse(settings_str(c->settings, "dns.forwarders"), p.forwarders, &p.n_forwarders) < 0)
                return pic_error(err, -EINVAL, "dns.forwarders", "dns.forwarders is not a list of IPv4 addresses");
        int n1 = snprintf(p.directory, sizeof p.directory, "%s/etc/%s", c->state_dir, svc_dns_ops.name);
        int n2 = snprintf(p.control_path, sizeof p.control_path, "%s/run/dns-ctl.sock", c->state_dir);
        if (n1 < 0 || (size_t) n1 >= sizeof p.directory || n2 < 0 || (size_t) n2 >= sizeof p.control_path)
                return pic_error(err, -ENAMETOOLONG, NULL, "the state dir path is too long for unbound's control socket");
        /* The paths land in quoted config strings. */
        if (!config_text_is_safe(p.directory, sizeof p.directory))
                return pic_error(err, -EINVAL, NULL, "the state dir path has characters unbound.conf cannot hold");
        /* Drop privileges when the Debian package's user exists; unbound needs nothing after binding. */
        snprintf(p.username, sizeof p.username, "%s", getpwnam("unbound") ? "unbound" : "");
        p.registry = &c->registry;
        DhcpConfig dc;
        dhcp_config_from_settings(c->settings, &dc);
        if (with_lan && dc.enabled && dc.interface[0])
                p.have_lan = dhcp_interface_subnet(c, dc.interface, dc.range_start, &p.lan) == 0;
        *ret = p;
        return 0;
}

static bool params_same_except_forwarders(const DnsParams *a, const DnsParams *b) {
        return streq(a->zone, b->zone) && a->ip_range.addr == b->ip_range.addr && a->ip_range.prefix == b->ip_range.prefix &&
               a->vpn.addr == b->vpn.addr && a->vpn.prefix == b->vpn.prefix && a->port == b->port &&
               streq(a->directory, b->directory) && streq(a->control_path, b->control_path) &&
               streq(a->username, b->username) && a->have_lan == b->have_lan &&
               (!a->have_lan || (cidr4_network(&a->lan) == cidr4_network(&b->lan) && a->lan.prefix == b->lan.prefix));
}

static bool forwarders_same(const DnsParams *a, const DnsParams *b) {
        return a->n_forwarders == b->n_forwarders &&
               memcmp(a->forwarders, b->forwarders, a->n_forwarders * sizeof a->forwarders[0]) == 0;
}

/* unbound runs and has its runtime state: live edits go to it; otherwise the next start applies them. */
static bool unbound_is_up(Cell *c, DnsState *st) {
        ServiceStatus ss;
        return st->ready && supervisor_status(c->supervisor, svc_dns_ops.name, &ss) >= 0 && ss.state == SERVICE_RUNNING;
}

/* unbound cannot take an edit right now but will start (again) and re-apply everything from the store:
 * it is starting, restarting or in backoff after a crash. Only a failed or removed service will not. */
static bool unbound_will_reapply(Cell *c, int r) {
        ServiceStatus ss;
        if (r != -ECONNREFUSED || supervisor_status(c->supervisor, svc_dns_ops.name, &ss) < 0)
                return false;
        return ss.state == SERVICE_RUNNING || ss.state == SERVICE_BACKOFF || ss.state == SERVICE_STOPPING;
}

static int ctl(Cell *c, const char *command, const char *lines, char **ret_reply, PicError *err) {
        char path[108];
        snprintf(path, sizeof path, "%s/run/dns-ctl.sock", c->state_dir);
        return unbound_ctl(path, command, lines, ret_reply, err);
}

static int dns_ctl_line(const char *command, void *userdata, PicError *err) {
        return ctl(userdata, command, NULL, NULL, err);
}

int svc_dns_control(Cell *c, const char *command, PicError *err) {
        DnsState *st = dns_state(c);
        if (!st || !unbound_is_up(c, st))
                return 0; /* the next start runs reapply, which asks services/mesh for the same commands */
        int r = ctl(c, command, NULL, NULL, err);
        return r < 0 && unbound_will_reapply(c, r) ? 0 : r;
}

/* ---- nftables view membership ---------------------------------------------------------------------- */

/* fresh: start from a new nftables context (after a failed edit its cache may be what is out of step). */
static int nft_apply(Cell *c, const char *script, bool fresh, PicError *err) {
        if (fresh)
                c->nft = nft_free(c->nft);
        _cleanup_free_ char *nft_err = NULL;
        int r = cell_nft_run(c, script, NULL, &nft_err);
        return r < 0 ? pic_error(err, r, NULL, "nftables: %s", nft_err ? nft_err : strerror(-r)) : 0;
}

typedef struct Members {
        DnsViewMember *v;
        size_t n, cap;
        int64_t skip1, skip2; /* peer ids whose stored row is superseded by the change being applied */
} Members;

static int members_add(Members *m, uint32_t ip, uint32_t access) {
        if (m->n == m->cap) {
                size_t cap = m->cap ? m->cap * 2 : 256;
                DnsViewMember *v = realloc(m->v, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                m->v = v;
                m->cap = cap;
        }
        m->v[m->n++] = (DnsViewMember) { ip, access }; /* dns_view_port masks it with the grants in use */
        return 0;
}

static int collect_peer(const Peer *p, void *userdata) {
        Members *m = userdata;
        if (!p->enabled || p->id == m->skip1 || p->id == m->skip2)
                return 0;
        return members_add(m, p->ip, p->access);
}

/* Replaces the whole table from the store; old/new override the stored row of the peer being changed. */
static int nft_full_sync(Cell *c, const DnsParams *p, const Peer *old, const Peer *new, bool fresh, PicError *err) {
        Members m = { .skip1 = old ? old->id : -1, .skip2 = new ? new->id : -1 };
        int r = store_peer_foreach(c->store, collect_peer, &m);
        if (r >= 0 && new && new->enabled)
                r = members_add(&m, new->ip, new->access);
        if (r < 0) {
                free(m.v);
                return pic_error(err, r, NULL, "cannot read the peers for the DNS views");
        }
        _cleanup_free_ char *script = NULL;
        r = dns_render_nft(p, m.v, m.n, &script);
        free(m.v);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the DNS view table");
        return nft_apply(c, script, fresh, err);
}

/* ---- runtime data lines ---------------------------------------------------------------------------- */

static int line_add(StrBuf *b, const char *line) {
        strbuf_puts(b, line);
        return strbuf_puts(b, "\n");
}

typedef struct LinesCtx {
        const char *zone;
        StrBuf *buf;
        size_t n;
} LinesCtx;

static int record_line(const DnsRecord *r, void *userdata) {
        LinesCtx *lc = userdata;
        char line[UNBOUND_CTL_LINE_MAX];
        int k = dns_record_to_rr(lc->zone, r, line, sizeof line);
        if (k < 0)
                return k;
        lc->n++;
        return line_add(lc->buf, line);
}

/* The records service modules publish (ServiceOps.dns_records), every one or only those at relname. */
static int module_lines(Cell *c, const char *zone, const char *relname, StrBuf *b, size_t *ret_n) {
        for (size_t i = 0; i < c->n_services; i++) {
                if (!c->services[i]->dns_records)
                        continue;
                DnsRecord *v = NULL;
                size_t n = 0;
                int k = c->services[i]->dns_records(c, &v, &n);
                for (size_t j = 0; k >= 0 && j < n; j++) {
                        if (relname && !streq(v[j].name, relname))
                                continue;
                        LinesCtx lc = { zone, b, 0 };
                        k = record_line(&v[j], &lc);
                        if (ret_n)
                                *ret_n += lc.n;
                }
                free(v);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Whether a new record of this type may make a module's record at its name yield (modules publish MX and TXT:
 * a custom SPF or DMARC policy replaces the mail module's), so the name must be published anew, not appended to. */
static bool module_may_yield(Cell *c, const char *type) {
        if (!streq(type, "TXT") && !streq(type, "MX"))
                return false;
        for (size_t i = 0; i < c->n_services; i++)
                if (c->services[i]->dns_records)
                        return true;
        return false;
}

static int host_lines(const char *zone, const DnsHost *h, bool with_ptr, StrBuf *b) {
        char fqdn[DNS_ZONE_MAX + 70], line[512];
        int k = dns_fqdn(zone, h->name, fqdn, sizeof fqdn);
        if (k >= 0)
                k = dns_render_a(fqdn, h->ip, line, sizeof line);
        if (k >= 0)
                k = line_add(b, line);
        if (k >= 0 && with_ptr && (k = dns_render_ptr(fqdn, h->ip, line, sizeof line)) >= 0)
                k = line_add(b, line);
        return k;
}

/* Everything published at one relative name: built-in data there (the apex), stored records, a host. */
static int name_lines(Cell *c, DnsState *st, const char *zone, const char *relname, StrBuf *b) {
        Cidr4 range;
        uint32_t ip;
        int k = settings_ip_range(c->settings, &range);
        if (k >= 0 && registry_vip_of(registry_find_label(&c->registry, relname), &range, &ip) == 0) {
                char fqdn[DNS_ZONE_MAX + 2], line[512];
                if ((k = dns_fqdn(zone, relname, fqdn, sizeof fqdn)) >= 0 && (k = dns_render_a(fqdn, ip, line, sizeof line)) >= 0)
                        k = line_add(b, line);
        }
        LinesCtx lc = { zone, b, 0 };
        if (k >= 0)
                k = store_dns_record_foreach_name(c->store, relname, record_line, &lc);
        if (k >= 0)
                k = module_lines(c, zone, relname, b, NULL);
        for (size_t i = 0; k >= 0 && i < st->n_hosts; i++)
                if (streq(st->hosts[i].name, relname))
                        k = host_lines(zone, &st->hosts[i], false, b);
        return k < 0 ? k : (b->error ? b->error : 0);
}

/* unbound removes whole names, not single RRs: drop the name, then add back what must stay. */
static int republish_name(Cell *c, const char *zone, const char *relname, PicError *err) {
        DnsState *st = dns_state(c);
        char fqdn[DNS_ZONE_MAX + 2], cmd[UNBOUND_CTL_CMD_MAX];
        if (!st)
                return -ENOMEM;
        int r = dns_fqdn(zone, relname, fqdn, sizeof fqdn);
        if (r < 0)
                return pic_error(err, r, "name", "name too long");
        StrBuf b = STRBUF_INIT;
        r = name_lines(c, st, zone, relname, &b);
        if (r < 0) {
                strbuf_done(&b);
                return pic_error(err, r, NULL, "cannot collect the records of %s", fqdn);
        }
        snprintf(cmd, sizeof cmd, "local_data_remove %s", fqdn);
        r = ctl(c, cmd, NULL, NULL, err);
        if (r >= 0 && b.len > 0)
                r = ctl(c, "local_datas", b.data, NULL, err);
        strbuf_done(&b);
        return r;
}

/* ---- CNAMEs ------------------------------------------------------------------------------------------ */

/* unbound answers a local-data CNAME without following it, except inside a local zone of type redirect
 * (its "local alias"): then it resolves the target like any query, and the stub-zone for the cell zone sends
 * in-zone targets back to unbound itself. Such zones live in the views, never in the global tree: unbound
 * 1.17.1 gives a zone added at runtime no parent (local_zones_add_zone looks its own name up as the parent),
 * so a lookup that lands on it for a sibling name finds no zone at all. In a view that miss falls through to
 * the global tree (view-first), which holds only config zones; and since nothing may lie below a CNAME or
 * a CNAME below a service name, no view zone nests inside another. Every client is in a view: peers
 * through their view port, everyone else through access-control-view (grants-all). A view whose grant set
 * lacks the service a chain ends at answers that CNAME with NXDOMAIN, since the chase itself runs without
 * the view. */
static int cname_ttl(const DnsRecord *r, void *userdata) {
        DnsRecord *rec = userdata;
        if (streq(r->type, "CNAME"))
                rec->ttl = r->ttl;
        return 0;
}

typedef struct CnameCtx {
        Cell *c;
        const char *zone;
        const DnsCnames *g;
        PicError *err;
} CnameCtx;

static int cname_publish_one(const char *relname, void *userdata) {
        CnameCtx *cx = userdata;
        char fqdn[DNS_ZONE_MAX + 2], cmd[UNBOUND_CTL_CMD_MAX], line[UNBOUND_CTL_LINE_MAX];
        int r = dns_fqdn(cx->zone, relname, fqdn, sizeof fqdn);
        if (r < 0)
                return pic_error(cx->err, r, "name", "name too long");
        const char *target = dns_cnames_target(cx->g, relname);
        int grant = target ? dns_cname_grant(&cx->c->registry, cx->zone, cx->g, relname) : -1;
        if (target) {
                /* The TTL of the stored record is what clients see for the CNAME. */
                DnsRecord rec = { .ttl = DNS_TTL_DEFAULT };
                snprintf(rec.name, sizeof rec.name, "%s", relname);
                snprintf(rec.type, sizeof rec.type, "CNAME");
                snprintf(rec.value, sizeof rec.value, "%s", target);
                (void) store_dns_record_foreach_name(cx->c->store, relname, cname_ttl, &rec);
                if ((r = dns_record_to_rr(cx->zone, &rec, line, sizeof line)) < 0)
                        return pic_error(cx->err, r, "value", "the record is too long");
        }
        for (uint32_t v = 0; v < registry_dns_views(&cx->c->registry); v++) {
                snprintf(cmd, sizeof cmd, "view_local_zone_remove grants-%u %s", v, fqdn);
                if ((r = ctl(cx->c, cmd, NULL, NULL, cx->err)) < 0)
                        return r;
                if (!target)
                        continue;
                bool hidden = grant >= 0 && !(v & (1u << grant));
                snprintf(cmd, sizeof cmd, "view_local_zone grants-%u %s %s", v, fqdn, hidden ? "always_nxdomain" : "redirect");
                if ((r = ctl(cx->c, cmd, NULL, NULL, cx->err)) < 0)
                        return r;
                if (hidden)
                        continue;
                snprintf(cmd, sizeof cmd, "view_local_datas grants-%u", v);
                if ((r = ctl(cx->c, cmd, line, NULL, cx->err)) < 0)
                        return r;
        }
        return 0;
}

/* relname's CNAME views and those of every chain through it, from the store. */
static int cnames_publish(Cell *c, const char *zone, const char *relname, PicError *err) {
        DnsCnames g;
        int r = dns_cnames_load(c->store, &g);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the stored CNAMEs");
        CnameCtx cx = { c, zone, &g, err };
        r = dns_cnames_affected(zone, &g, relname, cname_publish_one, &cx);
        dns_cnames_done(&g);
        return r;
}

/* After a start: every stored CNAME into every view. */
static int cnames_publish_all(Cell *c, const char *zone, PicError *err) {
        DnsCnames g;
        int r = dns_cnames_load(c->store, &g);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot read the stored CNAMEs");
        CnameCtx cx = { c, zone, &g, err };
        for (size_t i = 0; r >= 0 && i < g.n; i++)
                r = cname_publish_one(g.v[i].name, &cx);
        dns_cnames_done(&g);
        return r;
}

static int dns_record_changed(Cell *c, const DnsRecord *removed, const DnsRecord *added, PicError *err) {
        const DnsRecord *rec = added ? added : removed;
        char zone[DNS_ZONE_MAX], line[UNBOUND_CTL_LINE_MAX];
        int r = dns_zone_from_settings(c->settings, zone);
        if (r < 0)
                return pic_error(err, r, NULL, "the cell has no valid zone name");
        if (added && !module_may_yield(c, added->type)) {
                /* Just the new line: the name's other records keep answering throughout. */
                if ((r = dns_record_to_rr(zone, added, line, sizeof line)) < 0)
                        return pic_error(err, r, "value", "the record is too long");
                r = ctl(c, "local_datas", line, NULL, err);
        } else if (added)
                /* A module's record may yield to this one (a custom SPF or DMARC): the whole name again. */
                r = republish_name(c, zone, added->name, err);
        else
                r = republish_name(c, zone, removed->name, err);
        /* Other records change no chain: a CNAME's views depend on the names along it, not their data. */
        if (r >= 0 && streq(rec->type, "CNAME"))
                r = cnames_publish(c, zone, rec->name, err);
        if (unbound_will_reapply(c, r))
                r = 0; /* stored: the re-apply after unbound's start publishes it */
        return r;
}

static int forward_command(const DnsParams *p, char *cmd, size_t size) {
        if (p->n_forwarders == 0)
                return snprintf(cmd, size, "forward off") < (int) size ? 0 : -ENAMETOOLONG;
        size_t used = (size_t) snprintf(cmd, size, "forward");
        for (size_t i = 0; i < p->n_forwarders && used < size; i++) {
                char ip[IPV4_STRLEN];
                used += (size_t) snprintf(cmd + used, size - used, " %s", ipv4_format(p->forwarders[i], ip));
        }
        return used < size ? 0 : -ENAMETOOLONG;
}

/* After every start: view table, forwarders, every stored record and every known host, in one batch. */
static int reapply(Cell *c, DnsState *st, PicError *err) {
        uint64_t t0 = now_usec();
        DnsParams p;
        int r = params_from_cell(c, false, &p, err);
        if (r < 0)
                return r;
        PicError nft_err = { 0 };
        int rn = nft_full_sync(c, &p, NULL, NULL, false, &nft_err);
        if (rn < 0)
                log_error("dns: cannot install the view table: %s", nft_err.message);

        char cmd[256];
        if ((r = forward_command(&p, cmd, sizeof cmd)) < 0 || (r = ctl(c, cmd, NULL, NULL, err)) < 0)
                return r;

        StrBuf b = STRBUF_INIT;
        LinesCtx lc = { p.zone, &b, 0 };
        r = store_dns_record_foreach(c->store, record_line, &lc);
        if (r >= 0)
                r = module_lines(c, p.zone, NULL, &b, &lc.n);
        for (size_t i = 0; r >= 0 && i < st->n_hosts; i++)
                r = host_lines(p.zone, &st->hosts[i], true, &b);
        if (r >= 0 && b.error)
                r = b.error;
        if (r < 0) {
                strbuf_done(&b);
                return pic_error(err, r, NULL, "cannot collect the DNS records");
        }
        if (b.len > 0)
                r = ctl(c, "local_datas", b.data, NULL, err);
        strbuf_done(&b);
        if (r >= 0)
                r = cnames_publish_all(c, p.zone, err);
        /* The zones of linked cells, forwarded over the tunnel (services/mesh): runtime state like the rest. */
        if (r >= 0)
                r = svc_mesh_dns_commands(c, dns_ctl_line, c, err);
        if (r < 0)
                return r;
        st->ready = true;
        log_info("dns: runtime state applied (%zu records, %zu hosts, views %s) in %.1f ms", lc.n, st->n_hosts,
                 rn < 0 ? "FAILED" : "ok", (double) (now_usec() - t0) / 1000.0);
        return rn < 0 ? pic_error(err, rn, NULL, "%s", nft_err.message) : 0;
}

static void wait_tick(Loop *l, void *userdata) {
        Cell *c = userdata;
        DnsState *st = dns_state(c);
        if (!st)
                return;
        st->wait_timer = NULL;
        ServiceStatus ss;
        if (supervisor_status(c->supervisor, svc_dns_ops.name, &ss) < 0 || ss.state != SERVICE_RUNNING)
                return; /* it died again; the next start calls on_running */
        PicError err = { 0 };
        int r = ctl(c, "status", NULL, NULL, &err);
        if (r < 0 && now_usec() < st->wait_deadline) {
                if (loop_add_timer(c->loop, READY_POLL_USEC, wait_tick, c, &st->wait_timer) < 0)
                        log_error("dns: cannot schedule the readiness check");
                return;
        }
        if (r >= 0)
                r = reapply(c, st, &err);
        if (r < 0)
                log_error("dns: cannot re-apply the runtime state to unbound: %s", err.message);
}

/* ---- ops --------------------------------------------------------------------------------------------- */

static int dns_render(Cell *c, ServiceFiles *out, PicError *err) {
        DnsParams p;
        int r = params_from_cell(c, true, &p, err);
        if (r < 0)
                return r;
        char *text = NULL;
        r = dns_render_unbound(&p, &text);
        if (r < 0)
                return pic_error(err, r, "ip_range", "cannot render unbound.conf: %s", strerror(-r));
        return service_files_add(out, "unbound.conf", text, 0644);
}

/* unbound-checkconf on the candidate (argv, no shell); its first output line is the message a caller sees. */
static int dns_check(Cell *c, const char *file_name, const char *tmp_path, PicError *err) {
        char *argv[] = { (char *) UNBOUND_CHECKCONF_BIN, (char *) tmp_path, NULL };
        _cleanup_free_ char *out = NULL;
        int status;
        int r = spawn_capture(argv, CHECK_TIMEOUT_USEC, 4096, &out, &status);
        if (r < 0)
                /* A checker that cannot even run is picd's problem, not a missing thing. */
                return pic_error(err, -EHOSTDOWN, NULL, "cannot run %s: %s", argv[0], strerror(-r));
        if (status != 0) {
                out[strcspn(out, "\n")] = '\0';
                return pic_error(err, -EBADMSG, NULL, "unbound-checkconf rejected %s: %s", file_name, out);
        }
        return 0;
}

static int dns_argv(Cell *c, char ***ret_argv, char ***ret_env) {
        char **argv = calloc(5, sizeof *argv);
        if (!argv)
                return -ENOMEM;
        argv[0] = strdup(UNBOUND_BIN);
        argv[1] = strdup("-d");
        argv[2] = strdup("-c");
        argv[3] = cell_service_path(c, svc_dns_ops.name, "unbound.conf");
        if (!argv[0] || !argv[1] || !argv[2] || !argv[3]) {
                strv_free(argv);
                return -ENOMEM;
        }
        *ret_argv = argv;
        *ret_env = NULL;
        return 0;
}

static int dns_setup(Cell *c, PicError *err) {
        if (!dns_state(c))
                return pic_error(err, -ENOMEM, NULL, "out of memory");
        /* An unbound left running by a SIGKILLed picd is stopped by the supervisor's pid records. */
        return 0;
}

static int dns_apply(Cell *c, bool files_changed, PicError *err) {
        DnsState *st = dns_state(c);
        DnsParams p;
        if (!st)
                return -ENOMEM;
        int r = params_from_cell(c, true, &p, err);
        if (r < 0)
                return r;
        if (!st->have_running)
                return 0; /* not started yet: the start reads the new file */
        if (!params_same_except_forwarders(&p, &st->running))
                /* Zone, addresses or port moved: a reload would drop every runtime change anyway, so restart
                 * (same cost) and let on_running re-apply everything. */
                return 1;
        if (forwarders_same(&p, &st->running))
                return 0;
        memcpy(st->running.forwarders, p.forwarders, sizeof p.forwarders);
        st->running.n_forwarders = p.n_forwarders;
        if (!unbound_is_up(c, st))
                return 0; /* the next start (or the pending re-apply) sets them */
        char cmd[256];
        r = forward_command(&p, cmd, sizeof cmd);
        return r < 0 ? r : ctl(c, cmd, NULL, NULL, err);
}

static void dns_on_running(Cell *c) {
        DnsState *st = dns_state(c);
        PicError err = { 0 };
        if (!st)
                return;
        st->ready = false;
        if (params_from_cell(c, true, &st->running, &err) < 0) {
                log_error("dns: %s", err.message);
                return;
        }
        st->have_running = true;
        loop_cancel_timer(c->loop, st->wait_timer);
        st->wait_timer = NULL;
        st->wait_deadline = now_usec() + READY_TIMEOUT_USEC;
        if (loop_add_timer(c->loop, READY_POLL_USEC, wait_tick, c, &st->wait_timer) < 0)
                log_error("dns: cannot schedule the readiness check");
}

static int dns_probe(Cell *c, PicError *err) {
        DnsState *st = dns_state(c);
        /* Just (re)started and still within its readiness wait: starting is not failing. */
        if (st && !st->ready && st->wait_timer)
                return 0;
        if (st && !st->ready)
                return pic_error(err, -EHOSTDOWN, NULL, "unbound runs but its runtime state could not be applied");
        _cleanup_free_ char *reply = NULL;
        int r = ctl(c, "status", NULL, &reply, err);
        if (r < 0)
                return r;
        if (!strstr(reply, "is running"))
                return pic_error(err, -EHOSTDOWN, NULL, "unbound status: %.200s", reply);
        return 0;
}

static void dns_teardown(Cell *c) {
        void **slot = cell_service_data(c, svc_dns_ops.name);
        DnsState *st = slot ? *slot : NULL;
        if (!st)
                return;
        loop_cancel_timer(c->loop, st->wait_timer);
        free(st->hosts);
        free(st);
        *slot = NULL;
}

static int dns_peer_changed(Cell *c, const Peer *old, const Peer *new, PicError *err) {
        bool ho = old && old->enabled, hn = new && new->enabled;
        DnsViewMember mo = { 0 }, mn = { 0 };
        if (ho)
                mo = (DnsViewMember) { old->ip, old->access & registry_grant_mask(&c->registry) };
        if (hn)
                mn = (DnsViewMember) { new->ip, new->access & registry_grant_mask(&c->registry) };
        if ((!ho && !hn) || (ho && hn && mo.ip == mn.ip && mo.access == mn.access))
                return 0;
        DnsParams p;
        int r = params_from_cell(c, false, &p, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *script = NULL;
        r = dns_render_nft_change(&p, ho ? &mo : NULL, hn ? &mn : NULL, &script);
        if (r < 0)
                return pic_error(err, r, NULL, "cannot render the DNS view change");
        PicError first = { 0 };
        r = nft_apply(c, script, false, &first);
        if (r >= 0)
                return 0;
        /* Out of step with the store (table gone, element missing): rebuild it whole, with this change. */
        log_warn("dns: view edit failed (%s); rebuilding the view table", first.message);
        return nft_full_sync(c, &p, old, new, true, err);
}

static ssize_t host_find(DnsState *st, const char *name) {
        for (size_t i = 0; i < st->n_hosts; i++)
                if (streq(st->hosts[i].name, name))
                        return (ssize_t) i;
        return -1;
}

static int dns_host_changed(Cell *c, const char *hostname, uint32_t ip, PicError *err) {
        DnsState *st = dns_state(c);
        char name[64], zone[DNS_ZONE_MAX];
        if (!st)
                return -ENOMEM;
        if (dns_hostname_normalize(hostname, name) < 0)
                return pic_error(err, -EINVAL, "hostname", "host name must be one DNS label");
        if (dns_name_is_builtin(&c->registry, name))
                return pic_error(err, -EEXIST, "hostname", "\"%s\" is a service name of the cell", name);
        ssize_t i = host_find(st, name);
        uint32_t old_ip = i >= 0 ? st->hosts[i].ip : 0;
        if (old_ip == ip)
                return 0;
        if (ip == 0)
                st->hosts[i] = st->hosts[--st->n_hosts];
        else if (i >= 0)
                st->hosts[i].ip = ip;
        else {
                if (st->n_hosts == st->cap_hosts) {
                        size_t cap = st->cap_hosts ? st->cap_hosts * 2 : 16;
                        DnsHost *v = realloc(st->hosts, cap * sizeof *v);
                        if (!v)
                                return pic_error(err, -ENOMEM, NULL, "out of memory");
                        st->hosts = v;
                        st->cap_hosts = cap;
                }
                st->hosts[st->n_hosts] = (DnsHost) { .ip = ip };
                memcpy(st->hosts[st->n_hosts++].name, name, sizeof name);
        }
        if (!unbound_is_up(c, st))
                return 0; /* published by the re-apply after unbound's next start */
        int r = dns_zone_from_settings(c->settings, zone);
        if (r < 0)
                return pic_error(err, r, NULL, "no valid zone name");
        r = republish_name(c, zone, name, err);
        char rev[32], cmd[128], fqdn[DNS_ZONE_MAX + 70], line[512];
        if (r >= 0 && old_ip) {
                dns_reverse_name(old_ip, rev);
                snprintf(cmd, sizeof cmd, "local_data_remove %s", rev);
                r = ctl(c, cmd, NULL, NULL, err);
        }
        if (r >= 0 && ip && (r = dns_fqdn(zone, name, fqdn, sizeof fqdn)) >= 0 &&
            (r = dns_render_ptr(fqdn, ip, line, sizeof line)) >= 0)
                r = ctl(c, "local_datas", line, NULL, err);
        return r;
}

static int v_forwarders(const char *key, json_t *v, PicError *err) {
        uint32_t ips[DNS_FORWARDERS_MAX];
        size_t n;
        if (dns_forwarders_parse(json_string_value(v), ips, &n) < 0)
                return pic_error(err, -EINVAL, key,
                                 "%s must be up to %d IPv4 addresses separated by spaces or commas (not 0.0.0.0, "
                                 "broadcast or 127.x), or empty", key, DNS_FORWARDERS_MAX);
        return 0;
}

static const ServiceEndpoint endpoints[] = {
        { .name = "dns", .vip_offset = 2, .dns_labels = (const char *const[]) { "dns", NULL } },
};

static const SettingDef settings[] = {
        SETTING_PORT("dns.port", 53, "DNS port on the DNS virtual IP"),
        { "dns.forwarders", SETTING_STRING, "\"\"", v_forwarders, 0, 0, false,
          "Upstream resolvers for names outside the cell (IPv4, space or comma separated); empty means unbound "
          "resolves from the root servers itself" },
};

/* The zone's name, every address it publishes, and the LAN that may ask (DHCP clients). */
static const char *const watches[] = { "cell_name",     "domain",         "ip_range",         "wireguard.address",
                                       "dhcp.enabled",  "dhcp.interface", "dhcp.range_start", "dhcp.range_end",
                                       NULL };

const ServiceOps svc_dns_ops = {
        .name = "dns",
        .endpoints = endpoints,
        .n_endpoints = ELEMENTSOF(endpoints),
        .settings = settings,
        .n_settings = ELEMENTSOF(settings),
        .watches = watches,
        .render = dns_render,
        .check = dns_check,
        .argv = dns_argv,
        .setup = dns_setup,
        .apply = dns_apply,
        .on_running = dns_on_running,
        .probe = dns_probe,
        .teardown = dns_teardown,
        .peer_changed = dns_peer_changed,
        .host_changed = dns_host_changed,
        .dns_record_changed = dns_record_changed,
};
