/* The "calendar" service module: Radicale (CalDAV/CardDAV) for the users of granted peers, behind the proxy's
 * https://calendar.<cell>.<domain>/, storing under STATE/data/calendar. */
#pragma once
#include "core/cell.h"

extern const ServiceOps svc_calendar_ops;
