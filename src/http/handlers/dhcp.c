/* /api/dhcp: the live leases (from dnsmasq's lease file) and the reservations (validate, store, hot apply). */
#include <stdio.h>

#include "core/dhcp.h"
#include "http/handlers/handlers.h"
#include "services/dhcp/dhcp.h"

static json_t *reservation_json(const DhcpReservation *r) {
        char ip[IPV4_STRLEN];
        return json_pack("{s:s, s:s, s:s, s:I}", "mac", r->mac, "ip", ipv4_format(r->ip, ip), "hostname", r->hostname,
                         "created_at", (json_int_t) r->created_at);
}

int http_dhcp_leases_get(HttpRequest *req, HttpResponse *resp) {
        DhcpLease *leases = NULL;
        DhcpReservation *res = NULL;
        size_t n = 0, n_res = 0;
        int r = dhcp_leases_read(req->cell, &leases, &n);
        if (r >= 0)
                r = dhcp_reservations_list(req->cell, &res, &n_res);
        if (r < 0) {
                free(leases);
                return http_reply_errno(resp, r, NULL);
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
                char ip[IPV4_STRLEN];
                bool reserved = false;
                for (size_t j = 0; j < n_res && !reserved; j++)
                        reserved = streq(res[j].mac, leases[i].mac) && res[j].ip == leases[i].ip;
                json_array_append_new(
                        arr, json_pack("{s:s, s:s, s:o, s:o, s:b}", "mac", leases[i].mac, "ip", ipv4_format(leases[i].ip, ip),
                                       "hostname", leases[i].hostname[0] ? json_string(leases[i].hostname) : json_null(),
                                       "expires", leases[i].expires ? json_integer(leases[i].expires) : json_null(),
                                       "reserved", reserved));
        }
        free(leases);
        free(res);
        return http_reply(resp, 200, json_pack("{s:o}", "leases", arr));
}

int http_dhcp_reservations_get(HttpRequest *req, HttpResponse *resp) {
        DhcpReservation *res = NULL;
        size_t n = 0;
        int r = dhcp_reservations_list(req->cell, &res, &n);
        if (r < 0)
                return http_reply_errno(resp, r, NULL);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(arr, reservation_json(&res[i]));
        free(res);
        return http_reply(resp, 200, json_pack("{s:o}", "reservations", arr));
}

int http_dhcp_reservations_post(HttpRequest *req, HttpResponse *resp) {
        if (!json_is_object(req->body))
                return http_reply_error(resp, 400, "invalid", NULL, "request body must be a JSON object {mac, ip, hostname}");
        static const char *const fields[] = { "mac", "ip", "hostname" };
        const char *k;
        json_t *v;
        json_object_foreach(req->body, k, v) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                        known = known || streq(k, fields[i]);
                if (!known)
                        return http_reply_error(resp, 400, "invalid", k, "unknown field");
        }
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (!json_is_string(json_object_get(req->body, fields[i]))) {
                        char msg[64];
                        snprintf(msg, sizeof msg, "%s is required and must be a string", fields[i]);
                        return http_reply_error(resp, 400, "invalid", fields[i], msg);
                }
        PicError err = { 0 };
        DhcpReservation res;
        int r = dhcp_reservation_add(req->cell, json_string_value(json_object_get(req->body, "mac")),
                                     json_string_value(json_object_get(req->body, "ip")),
                                     json_string_value(json_object_get(req->body, "hostname")), &res, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "reserved %s for %s", res.mac, res.hostname);
        return http_reply(resp, 201, reservation_json(&res));
}

int http_dhcp_reservations_delete(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        int r = dhcp_reservation_remove(req->cell, req->params[0], &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "removed reservation %s", req->params[0]);
        return http_reply(resp, 200, json_pack("{s:b}", "deleted", true));
}
