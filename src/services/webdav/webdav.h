/* The "webdav" service module: WebDAV shares for granted peers.
 * Today it declares its virtual IP, DNS name, grant and settings; its daemon joins this folder. */
#pragma once
#include "core/cell.h"

extern const ServiceOps svc_webdav_ops;
