/* The canonical one-line form of a certificate's names, without OpenSSL: picd compares what it wants with what
 * pic-ca reported, and pic-ca prints a certificate's names in the same form (crypto/ca.c). */
#include "basic/strbuf.h"
#include "crypto/ca.h"

char *ca_names_string(const CaNames *n) {
        StrBuf s = STRBUF_INIT;
        for (size_t i = 0; i < n->n_dns; i++)
                strbuf_printf(&s, "%sDNS:%s", s.len ? " " : "", n->dns[i]);
        for (size_t i = 0; i < n->n_ip; i++) {
                char ip[IPV4_STRLEN];
                strbuf_printf(&s, "%sIP:%s/%u", s.len ? " " : "", ipv4_format(cidr4_network(&n->ip[i]), ip),
                              (unsigned) n->ip[i].prefix);
        }
        return strbuf_steal(&s);
}
