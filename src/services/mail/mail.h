/* The "mail" service module: email (SMTP, submission, IMAP) for granted peers.
 * Today it declares its virtual IP, DNS name, grant and settings; its daemon joins this folder. */
#pragma once
#include "core/cell.h"

extern const ServiceOps svc_mail_ops;
