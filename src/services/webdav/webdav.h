/* The "webdav" service module: the webdav.<cell> name, address and grant in front of the files module's
 * storage (services/files runs the daemon and makes the checks). */
#pragma once
#include "core/cell.h"

extern const ServiceOps svc_webdav_ops;
