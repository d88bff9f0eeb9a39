/* Named network namespaces (/run/netns/NAME, the iproute2 convention): open or create, bring up loopback,
 * and run a function inside one. */
#pragma once

/* Opens /run/netns/NAME, creating it (with lo up) if missing. Returns an O_CLOEXEC fd. */
int netns_open_or_create(const char *name, int *ret_fd);
/* Enters netns_fd for the calling thread, remembering the current one in *ret_saved_fd. */
int netns_enter(int netns_fd, int *ret_saved_fd);
/* Returns to the namespace saved by netns_enter() and closes the saved fd. */
int netns_leave(int saved_fd);
/* Sets IFF_UP on an interface of the current namespace. */
int netif_set_up(const char *ifname);
