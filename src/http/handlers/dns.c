/* /api/dns/records: list, create and delete the cell's custom DNS records. Thin: core/dns-records.c holds
 * the grammar and the atomic store + live apply, services/dns publishes into unbound. */
#include <stdio.h>

#include "core/dns-records.h"
#include "http/handlers/handlers.h"

typedef struct ListCtx {
        const char *zone;
        json_t *arr;
} ListCtx;

static int collect(const DnsRecord *r, void *userdata) {
        ListCtx *lc = userdata;
        return json_array_append_new(lc->arr, dns_record_to_json(lc->zone, r)) < 0 ? -ENOMEM : 0;
}

int http_dns_records_get(HttpRequest *req, HttpResponse *resp) {
        char zone[DNS_ZONE_MAX];
        if (dns_zone_from_settings(req->cell->settings, zone) < 0)
                return http_reply_errno(resp, -EINVAL, NULL);
        ListCtx lc = { zone, json_array() };
        int r = store_dns_record_foreach(req->cell->store, collect, &lc);
        if (r < 0) {
                json_decref(lc.arr);
                return http_reply_errno(resp, r, NULL);
        }
        return http_reply(resp, 200, json_pack("{s:s, s:I, s:o}", "zone", zone, "count",
                                               (json_int_t) json_array_size(lc.arr), "records", lc.arr));
}

int http_dns_records_post(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        DnsRecord rec;
        char zone[DNS_ZONE_MAX];
        if (!req->body)
                return http_reply_error(resp, 400, "invalid", NULL,
                                        "request body must be a JSON object {name, type, value, ttl?}");
        int r = dns_record_add(req->cell, req->body, &rec, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        if (dns_zone_from_settings(req->cell->settings, zone) < 0)
                zone[0] = '\0';
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "record %lld %s %.100s created", (long long) rec.id,
                 rec.type, rec.name);
        return http_reply(resp, 201, dns_record_to_json(zone, &rec));
}

int http_dns_record_delete(HttpRequest *req, HttpResponse *resp) {
        PicError err = { 0 };
        DnsRecord rec;
        char zone[DNS_ZONE_MAX];
        int r = dns_record_remove(req->cell, req->params[0], &rec, &err);
        if (r < 0)
                return http_reply_errno(resp, r, &err);
        if (dns_zone_from_settings(req->cell->settings, zone) < 0)
                zone[0] = '\0';
        snprintf(resp->audit_detail, sizeof resp->audit_detail, "record %lld %s %.100s deleted", (long long) rec.id,
                 rec.type, rec.name);
        return http_reply(resp, 200, json_pack("{s:o, s:b}", "record", dns_record_to_json(zone, &rec), "deleted", 1));
}
