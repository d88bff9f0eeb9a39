/* The one route table: method, path pattern, auth requirement, flags, handler. Default deny: ROUTE()
 * pastes AUTH_ onto the level, so a route without one does not compile, and http_routes_check() refuses
 * to start with an unset level. api/openapi.yaml is checked against this table by a test. */
#include <stdio.h>

#include "basic/log.h"
#include "basic/util.h"
#include "http/handlers/handlers.h"
#include "http/http.h"

static const Route routes[] = {
        ROUTE("GET", "/health", PUBLIC, 0, http_health_get, "Liveness and service summary"),

        ROUTE("POST", "/api/auth/login", PUBLIC, ROUTE_NO_AUDIT, http_auth_login_post, "Log in; sets the session cookie"),
        ROUTE("POST", "/api/auth/logout", SELF, 0, http_auth_logout_post, "End this session"),
        ROUTE("GET", "/api/auth/session", SELF, 0, http_auth_session_get, "Who am I"),
        ROUTE("PUT", "/api/auth/password", ADMIN, 0, http_auth_password_put, "Change the admin password"),
        ROUTE("GET", "/api/auth/tokens", ADMIN, 0, http_auth_tokens_get, "List API tokens"),
        ROUTE("POST", "/api/auth/tokens", ADMIN, 0, http_auth_tokens_post, "Create an API token (shown once)"),
        ROUTE("DELETE", "/api/auth/tokens/{id}", ADMIN, 0, http_auth_tokens_delete, "Revoke an API token"),

        ROUTE("GET", "/api/users", ADMIN, 0, http_users_get, "List user accounts"),
        ROUTE("POST", "/api/users", ADMIN, 0, http_users_post, "Create a user account"),
        /* SELF: a user-role session reaches its own account only (the handlers check the name). */
        ROUTE("GET", "/api/users/{name}", SELF, 0, http_user_get, "Show a user with their peers"),
        ROUTE("PUT", "/api/users/{name}", SELF, 0, http_user_put, "Change a user's password or role"),
        ROUTE("DELETE", "/api/users/{name}", ADMIN, 0, http_user_delete, "Delete a user (?purge=true: with what they own)"),
        ROUTE("GET", "/api/users/{name}/mail", SELF, 0, http_user_mail_get,
              "A user's mail: address, aliases, messages, usage and quota"),
        ROUTE("GET", "/api/users/{name}/app-passwords", SELF, 0, http_app_passwords_get, "List a user's app passwords"),
        ROUTE("POST", "/api/users/{name}/app-passwords", SELF, 0, http_app_passwords_post,
              "Create an app password (shown once)"),
        ROUTE("DELETE", "/api/users/{name}/app-passwords/{id}", SELF, 0, http_app_password_delete,
              "Revoke an app password"),
        ROUTE("GET", "/api/users/{name}/storage", SELF, 0, http_user_storage_get,
              "A user's storage: one section per module (files: usage, quota, collections, shares)"),
        ROUTE("PUT", "/api/users/{name}/storage", ADMIN, 0, http_user_storage_put,
              "Set a user's files quota in bytes (null: unlimited)"),
        ROUTE("GET", "/api/users/{name}/shares", SELF, 0, http_user_shares_get,
              "Folders a user shares and those shared with them"),
        ROUTE("POST", "/api/users/{name}/shares", SELF, 0, http_user_shares_post,
              "Share a folder with another user (read-only or read-write)"),
        ROUTE("DELETE", "/api/users/{name}/shares/{id}", SELF, 0, http_user_share_delete,
              "Stop sharing a folder (access ends at once)"),

        ROUTE("GET", "/api/config", READ, 0, http_config_get, "Settings and service virtual IPs"),
        ROUTE("PUT", "/api/config", WRITE, 0, http_config_put, "Change settings (all or nothing)"),
        ROUTE("GET", "/api/config/settings", READ, 0, http_config_settings_get, "The settings metadata table"),
        ROUTE("GET", "/api/config/pending", READ, 0, http_config_pending_get, "Changes waiting for a restart"),
        ROUTE("POST", "/api/config/apply", ADMIN, ROUTE_LOCAL_ONLY, http_config_apply_post, "Apply pending changes"),
        ROUTE("POST", "/api/config/backup", ADMIN, ROUTE_LOCAL_ONLY, http_backup_post, "Archive the whole cell"),
        ROUTE("GET", "/api/config/backups", ADMIN, 0, http_backups_get, "List backup archives, newest first"),
        ROUTE("GET", "/api/config/backups/{id}/download", ADMIN, ROUTE_LOCAL_ONLY, http_backup_download_get,
              "Download a backup archive"),
        ROUTE("DELETE", "/api/config/backups/{id*}", ADMIN, ROUTE_LOCAL_ONLY, http_backups_delete, "Delete a backup archive"),
        ROUTE("POST", "/api/config/restore/{id*}", ADMIN, ROUTE_LOCAL_ONLY, http_restore_post,
              "Restore the whole cell from a backup (all or nothing)"),

        ROUTE("GET", "/api/ca", READ, 0, http_ca_get, "The cell CA's root: fingerprint, name constraints, expiry; PEM or DER"),

        ROUTE("GET", "/api/dns/records", READ, 0, http_dns_records_get, "List the custom DNS records"),
        ROUTE("POST", "/api/dns/records", WRITE, 0, http_dns_records_post, "Add a DNS record (answers at once)"),
        ROUTE("DELETE", "/api/dns/records/{id}", WRITE, 0, http_dns_record_delete, "Delete a DNS record"),

        ROUTE("GET", "/api/audit", ADMIN, 0, http_audit_get, "The audit log, newest first"),

        ROUTE("GET", "/api/peers", READ, 0, http_peers_get, "List VPN peers"),
        ROUTE("POST", "/api/peers", WRITE, 0, http_peers_post, "Create a VPN peer"),
        ROUTE("POST", "/api/wireguard/peers", WRITE, 0, http_peers_post, "Create a VPN peer (predecessor's path)"),
        ROUTE("GET", "/api/peers/{name}", READ, 0, http_peer_get, "Show one peer"),
        ROUTE("PUT", "/api/peers/{name}", WRITE, 0, http_peer_put, "Change a peer's grant, state or key"),
        ROUTE("DELETE", "/api/peers/{name}", WRITE, 0, http_peer_delete, "Delete a peer and everything it was granted"),
        /* WRITE, not READ: the answer holds the peer's private key. */
        ROUTE("GET", "/api/peers/{name}/config", WRITE, 0, http_peer_config_get,
              "The peer's wg-quick configuration, or its QR code (?format=svg|png)"),
        ROUTE("GET", "/api/wireguard/status", READ, 0, http_wireguard_status_get, "The cell's WireGuard interface"),
        ROUTE("GET", "/api/wireguard/peers", READ, 0, http_wireguard_peers_get,
              "Live peers: endpoint, latest handshake, rx/tx"),

        ROUTE("GET", "/api/mesh", READ, 0, http_mesh_get, "The cell's mesh identity: public key, fingerprint, endpoint"),
        ROUTE("GET", "/api/mesh/invites", READ, 0, http_mesh_invites_get, "Invites this cell issued"),
        ROUTE("POST", "/api/mesh/invites", ADMIN, 0, http_mesh_invites_post,
              "Issue a signed single-use invite (text and QR code)"),
        ROUTE("DELETE", "/api/mesh/invites/{id}", ADMIN, 0, http_mesh_invite_delete, "Withdraw an invite"),
        ROUTE("POST", "/api/mesh/join", ADMIN, 0, http_mesh_join_post, "Link with the cell that issued an invite"),
        ROUTE("GET", "/api/mesh/cells", READ, 0, http_mesh_cells_get, "Linked cells with liveness"),
        ROUTE("GET", "/api/mesh/cells/{name}", READ, 0, http_mesh_cell_get, "One linked cell"),
        ROUTE("PUT", "/api/mesh/cells/{name}", ADMIN, 0, http_mesh_cell_put,
              "What this cell shares with a linked cell, and which peers use its services"),
        ROUTE("DELETE", "/api/mesh/cells/{name}", ADMIN, 0, http_mesh_cell_delete,
              "Leave a linked cell (it is told, signed; this side is cleaned up regardless)"),

        ROUTE("GET", "/api/services", READ, 0, http_services_get, "Managed services: state, pid, uptime, memory, restarts"),
        ROUTE("GET", "/api/services/status", READ, 0, http_services_status_get, "Summary: ok/degraded and failing services"),
        ROUTE("POST", "/api/services/{name}/restart", ADMIN, 0, http_services_restart_post, "Restart one service"),
        ROUTE("GET", "/api/services/{name}/logs", ADMIN, 0, http_services_logs_get, "Last lines of a daemon's output"),
        ROUTE("GET", "/api/services/{name}/status", READ, 0, http_service_status_get, "A service's own live status"),
        ROUTE("GET", "/api/containers", READ, ROUTE_LOCAL_ONLY, http_services_get, "Alias of GET /api/services"),
        ROUTE("POST", "/api/containers/{name}/restart", ADMIN, ROUTE_LOCAL_ONLY, http_services_restart_post,
              "Alias of POST /api/services/{name}/restart"),

        ROUTE("GET", "/api/dhcp/leases", READ, 0, http_dhcp_leases_get, "Current DHCP leases"),
        ROUTE("GET", "/api/dhcp/reservations", READ, 0, http_dhcp_reservations_get, "DHCP reservations"),
        ROUTE("POST", "/api/dhcp/reservations", WRITE, 0, http_dhcp_reservations_post, "Reserve an IP and name for a MAC"),
        ROUTE("DELETE", "/api/dhcp/reservations/{mac}", WRITE, 0, http_dhcp_reservations_delete, "Remove a reservation"),

        ROUTE("GET", "/api/mail/aliases", READ, 0, http_mail_aliases_get, "Mail aliases and their target users"),
        ROUTE("POST", "/api/mail/aliases", WRITE, 0, http_mail_aliases_post, "Create a mail alias for one or more users"),
        ROUTE("DELETE", "/api/mail/aliases/{alias}", WRITE, 0, http_mail_alias_delete, "Delete a mail alias"),
        ROUTE("GET", "/api/mail/dns", READ, 0, http_mail_dns_get,
              "The MX, SPF, DKIM and DMARC records of the mail domain (to copy to a public DNS provider)"),
        /* ADMIN even to read: it names the account the cell sends as. */
        ROUTE("GET", "/api/mail/relay", ADMIN, 0, http_mail_relay_get,
              "The outbound relay: host, port, TLS, username and whether a password is set (never the password)"),
        ROUTE("PUT", "/api/mail/relay", ADMIN, 0, http_mail_relay_put,
              "Set the outbound relay's login (username, password): stored 0600, live at once"),
        ROUTE("DELETE", "/api/mail/relay", ADMIN, 0, http_mail_relay_delete, "Remove the outbound relay's login"),

        ROUTE("GET", "/api/ntp/status", READ, 0, http_ntp_status_get, "NTP server: stratum, offset, clients served"),
        ROUTE("POST", "/api/network/test", WRITE, 0, http_network_test_post, "Run the network self-test"),
};

const Route *http_routes(size_t *ret_n) {
        *ret_n = ELEMENTSOF(routes);
        return routes;
}

int http_routes_check(void) {
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                if (routes[i].auth <= _AUTH_UNSET || routes[i].auth >= _AUTH_LEVEL_MAX || !routes[i].handler)
                        return log_error_errno(-EINVAL, "route %s %s has no auth requirement", routes[i].method,
                                               routes[i].pattern);
                for (size_t j = 0; j < i; j++)
                        if (streq(routes[i].method, routes[j].method) && streq(routes[i].pattern, routes[j].pattern))
                                return log_error_errno(-EINVAL, "duplicate route %s %s", routes[i].method,
                                                       routes[i].pattern);
        }
        return 0;
}

bool http_route_match(const char *pattern, const char *path, const char **params, size_t *n_params, char *scratch,
                      size_t scratch_size) {
        size_t np = 0, used = 0;
        const char *p = pattern, *u = path;
        while (*p && *u) {
                if (*p == '{') {
                        const char *close = strchr(p, '}');
                        /* {name*} takes the rest of the path, so a handler can reject "../x" with a 400
                         * instead of the router answering 404. */
                        bool rest = close && close > p && close[-1] == '*';
                        size_t seg = rest ? strlen(u) : strcspn(u, "/");
                        if (!close || seg == 0 || np >= 4 || used + seg + 1 > scratch_size)
                                return false;
                        memcpy(scratch + used, u, seg);
                        scratch[used + seg] = '\0';
                        params[np++] = scratch + used;
                        used += seg + 1;
                        p = close + 1;
                        u += seg;
                        continue;
                }
                if (*p != *u)
                        return false;
                p++;
                u++;
        }
        if (*p || *u)
                return false;
        *n_params = np;
        return true;
}
