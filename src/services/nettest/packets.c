/* DNS and NTP packet building and reply parsing for the network self-test (RFC 1035 §4, RFC 5905 §7.3).
 * Only what a yes/no health answer needs; compression pointers are skipped, never followed. */
#include "services/nettest/packets.h"

#include "basic/parse.h"
#include "basic/util.h"

#define NTP_UNIX_EPOCH_OFFSET 2208988800ULL

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

static uint16_t get16(const uint8_t *p) {
        return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

int dns_build_query(uint16_t id, const char *name, uint8_t *buf, size_t size) {
        if (!dns_name_is_valid(name, false) || size < 12 + strlen(name) + 2 + 4)
                return -EINVAL;
        memset(buf, 0, 12);
        put16(buf, id);
        buf[2] = 0x01; /* RD */
        put16(buf + 4, 1);
        size_t k = 12;
        for (const char *p = name; *p;) {
                size_t l = strcspn(p, ".");
                buf[k++] = (uint8_t) l;
                memcpy(buf + k, p, l);
                k += l;
                p += l;
                if (*p == '.')
                        p++;
        }
        buf[k++] = 0;
        put16(buf + k, 1); /* A */
        put16(buf + k + 2, 1); /* IN */
        return (int) (k + 4);
}

/* Skips a (possibly compressed) name starting at *off. */
static int skip_name(const uint8_t *buf, size_t len, size_t *off) {
        size_t o = *off;
        for (int labels = 0; labels < 128; labels++) {
                if (o >= len)
                        return -EBADMSG;
                uint8_t l = buf[o];
                if ((l & 0xc0) == 0xc0) {
                        if (o + 2 > len)
                                return -EBADMSG;
                        *off = o + 2;
                        return 0;
                }
                if (l & 0xc0)
                        return -EBADMSG;
                o += 1 + (size_t) l;
                if (l == 0) {
                        if (o > len)
                                return -EBADMSG;
                        *off = o;
                        return 0;
                }
        }
        return -EBADMSG;
}

int dns_parse_a_reply(const uint8_t *buf, size_t len, uint16_t id, uint32_t *ret_ips, size_t max, size_t *ret_n) {
        if (len < 12 || get16(buf) != id || !(buf[2] & 0x80))
                return -EBADMSG;
        int rcode = buf[3] & 0x0f;
        if (rcode != 0)
                return rcode;
        size_t qd = get16(buf + 4), an = get16(buf + 6), off = 12, n = 0;
        uint32_t ips[16];
        for (size_t i = 0; i < qd; i++) {
                if (skip_name(buf, len, &off) < 0 || off + 4 > len)
                        return -EBADMSG;
                off += 4;
        }
        for (size_t i = 0; i < an; i++) {
                if (skip_name(buf, len, &off) < 0 || off + 10 > len)
                        return -EBADMSG;
                uint16_t type = get16(buf + off), class = get16(buf + off + 2), rdlen = get16(buf + off + 8);
                off += 10;
                if (off + rdlen > len)
                        return -EBADMSG;
                if (type == 1 && class == 1 && rdlen == 4 && n < max && n < ELEMENTSOF(ips))
                        ips[n++] = get32(buf + off);
                off += rdlen;
        }
        memcpy(ret_ips, ips, n * sizeof *ips);
        *ret_n = n;
        return 0;
}

void ntp_build_request(uint64_t nonce, uint8_t buf[static NTP_PACKET_SIZE]) {
        memset(buf, 0, NTP_PACKET_SIZE);
        buf[0] = (0 << 6) | (4 << 3) | 3; /* no leap warning, version 4, mode 3 (client) */
        for (int i = 0; i < 8; i++)
                buf[40 + i] = (uint8_t) (nonce >> (56 - 8 * i));
}

int ntp_parse_reply(const uint8_t *buf, size_t len, uint64_t nonce, int *ret_stratum, double *ret_unix_time) {
        if (len < NTP_PACKET_SIZE)
                return -EBADMSG;
        int mode = buf[0] & 7, stratum = buf[1];
        if (mode != 4 || stratum < 1 || stratum > 15)
                return -EBADMSG;
        for (int i = 0; i < 8; i++)
                if (buf[24 + i] != (uint8_t) (nonce >> (56 - 8 * i)))
                        return -EBADMSG; /* not the answer to our request */
        uint32_t sec = get32(buf + 40), frac = get32(buf + 44);
        *ret_stratum = stratum;
        *ret_unix_time = (double) sec - (double) NTP_UNIX_EPOCH_OFFSET + (double) frac / 4294967296.0;
        return 0;
}
