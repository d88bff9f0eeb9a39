/* Fuzz harness for the /proc/net/udp line parser (src/net/procnet.c) behind the DHCP and NTP health probes:
 * any line must be refused or parsed to values that print back to the same line and match sscanf's reading. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/procnet.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *line) {
        ProcnetUdpEntry e;
        if (procnet_udp_parse_line(line, &e) < 0)
                return;

        /* Whatever the strict parser accepts, the lax sscanf reading it replaced accepts with the same values:
         * real kernel lines keep their meaning. */
        unsigned addr, port;
        unsigned long inode;
        if (sscanf(line, " %*u: %8x:%4x %*s %*s %*s %*s %*s %*s %*s %lu", &addr, &port, &inode) != 3)
                abort();
        if (ntohl((uint32_t) addr) != e.local_addr || port != e.local_port || inode != e.inode)
                abort();

        /* Round trip: the line the kernel would print for this socket parses to the same entry (compared field
         * by field: the struct's padding is unspecified). */
        char again[256];
        snprintf(again, sizeof again,
                 "%5d: %08X:%04X 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 %lu 2 "
                 "0000000000000000 0",
                 1, htonl(e.local_addr), e.local_port, e.inode);
        ProcnetUdpEntry e2;
        if (procnet_udp_parse_line(again, &e2) < 0 || e2.local_addr != e.local_addr || e2.local_port != e.local_port ||
            e2.inode != e.inode)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* As procnet_udp_socket() sees the file: NUL-terminated text cut at newlines. */
        char *text = fuzz_cstring(data, size);
        if (!text)
                return 0;
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                check_line(line);
        free(text);
        return 0;
}
