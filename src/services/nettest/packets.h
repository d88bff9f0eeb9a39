/* The two wire formats the network self-test speaks: a minimal DNS A query/answer and an NTP client packet.
 * Pure functions; replies come from the network and are parsed with every length checked. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define NTP_PACKET_SIZE 48
#define DNS_PACKET_MAX 1232

/* Query for name (dotted, no trailing dot needed) type A, recursion desired. Returns the length or -EINVAL. */
int dns_build_query(uint16_t id, const char *name, uint8_t *buf, size_t size);
/* Parses a reply to query id: 0 and the A records (up to max) in ret_ips; -EBADMSG when malformed or not
 * the reply to id; a positive DNS rcode (3 = NXDOMAIN, 5 = REFUSED) when the server answered with an error. */
int dns_parse_a_reply(const uint8_t *buf, size_t len, uint16_t id, uint32_t *ret_ips, size_t max, size_t *ret_n);

/* A version 4 client request whose transmit timestamp is the nonce the server must echo. */
void ntp_build_request(uint64_t nonce, uint8_t buf[static NTP_PACKET_SIZE]);
/* Checks a server reply to the request with that nonce; fills stratum and the server's transmit time as Unix
 * seconds. -EBADMSG when it is not a valid reply to us. */
int ntp_parse_reply(const uint8_t *buf, size_t len, uint64_t nonce, int *ret_stratum, double *ret_unix_time);
