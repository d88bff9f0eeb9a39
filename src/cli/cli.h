/* Shared pieces of the pic CLI: the invocation context, the exit-code contract, the one API call helper
 * (request, error report, JSON parse) and the command handlers the dispatch table in pic.c points at. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/client.h"

#define PIC_SOCKET_DEFAULT "/var/lib/pic/run/picd.sock"
#define PIC_TIMEOUT_DEFAULT_SEC 60

/* The exit codes `pic --help` documents. Handlers return negative errno; cli_exit_code() maps: -EINVAL is a
 * usage error, -EREMOTEIO means picd answered with an error (already reported), anything else means picd
 * could not be reached or understood. */
enum {
        PIC_EXIT_OK = 0,
        PIC_EXIT_API = 1,
        PIC_EXIT_USAGE = 2,
        PIC_EXIT_UNREACHABLE = 3,
};
int cli_exit_code(int r);

typedef struct Cli {
        const char *socket_path;
        const char *socket_origin; /* how socket_path was chosen ("--socket", "PIC_STATE_DIR", "the default"...) */
        bool json;               /* print picd's JSON instead of the human summary */
        int timeout_ms;
        const char *scope;       /* token create --scope */
        const char *expires_days; /* token create --expires-days, as typed */
        /* peer add/set: what was given, as typed (NULL when not); picd validates all of it. */
        const char *access;      /* --access: comma-separated grants, "" for none */
        const char *ip;
        const char *public_key;
        const char *description;
        const char *owner;       /* --owner: a user name, "" for nobody */
        int enabled;             /* --enable/--disable(d): 1/0, -1 when not given */
        int route_all;           /* --route-all/--no-route-all: 1/0, -1 when not given */
        const char *png;         /* peer qr --png FILE */
        const char *role;        /* user add --role */
        bool purge;              /* user rm --purge */
} Cli;

/* Prints "pic: <message>" to stderr and returns -EINVAL (exit code 2). */
int cli_usage_error(const char *fmt, ...) _printf_(1, 2);

typedef struct ApiReply {
        ClientReply raw;
        json_t *json; /* the parsed body: always a JSON object on success */
} ApiReply;

/* One request to picd; body (may be NULL) is sent as JSON. Returns 0 with ret filled for a 2xx reply whose
 * body is a JSON object. Otherwise reports the failure on stderr (and with --json prints picd's error
 * body on stdout) and returns -EREMOTEIO for an API error or the transport's negative errno. */
int api_call(Cli *c, const char *method, const char *path, json_t *body, ApiReply *ret);
/* The same request without a word on stderr, for detail a command can do without (live peer state). */
int api_call_quiet(Cli *c, const char *method, const char *path, ApiReply *ret);
/* For replies that are not JSON (a wg-quick config, a PNG): on a 2xx, ret->raw holds the body exactly as
 * received and ret->json is NULL; errors are reported and mapped as api_call does. */
int api_call_raw(Cli *c, const char *method, const char *path, ApiReply *ret);
/* Wipes (bodies may carry keys or tokens) and frees the reply; accepts a zeroed one. */
void api_reply_done(ApiReply *r);
/* --json output: picd's body exactly as received, newline-terminated. */
int api_print_raw(const ApiReply *r);

/* Formatting for human output. */
const char *format_time(int64_t t, char *buf, size_t size);  /* local "YYYY-MM-DD HH:MM"; "never" for 0 */
const char *format_size(uint64_t bytes, char *buf, size_t size); /* "512 B", "1.5 KiB", ... */
const char *format_duration(int64_t sec, char *buf, size_t size); /* "3d 4h", "5m 2s" */
/* A JSON value as a person reads it: strings unquoted, scalars plain, the rest compact JSON. Sanitized. */
const char *json_text(const json_t *v, char *buf, size_t size);
/* The elements of a JSON array as "a, b, c" ("-" when empty), truncated to fit. */
const char *json_join(const json_t *arr, char *buf, size_t size);
/* "created" fields may be epoch seconds or text; both become display text. */
const char *json_time_text(const json_t *v, char *buf, size_t size);

/* A list reply as a table: one row per object of rows, one column per JsonColumn (its key's value shown as
 * text, a time or a size). */
typedef enum { COLUMN_TEXT, COLUMN_TIME, COLUMN_SIZE } ColumnKind;
typedef struct JsonColumn {
        const char *header;
        const char *key;
        ColumnKind kind;
} JsonColumn;
int json_table_print(const JsonColumn *cols, size_t n_cols, const json_t *rows, FILE *f);

/* Command handlers: args are the words after the command name, their count checked by the table. */
int cmd_status(Cli *c, char **args, size_t n);
int cmd_config_get(Cli *c, char **args, size_t n);
int cmd_config_set(Cli *c, char **args, size_t n);
int cmd_config_pending(Cli *c, char **args, size_t n);
int cmd_config_apply(Cli *c, char **args, size_t n);
int cmd_token_create(Cli *c, char **args, size_t n);
int cmd_ca_show(Cli *c, char **args, size_t n);
int cmd_mesh_invite(Cli *c, char **args, size_t n);
int cmd_mesh_join(Cli *c, char **args, size_t n);
int cmd_mesh_list(Cli *c, char **args, size_t n);
int cmd_mesh_share(Cli *c, char **args, size_t n);
int cmd_mesh_grant(Cli *c, char **args, size_t n);
int cmd_mesh_leave(Cli *c, char **args, size_t n);

int cmd_mail_aliases(Cli *c, char **args, size_t n);
int cmd_mail_alias_add(Cli *c, char **args, size_t n);
int cmd_mail_alias_rm(Cli *c, char **args, size_t n);
int cmd_mail_dns(Cli *c, char **args, size_t n);
int cmd_mail_user(Cli *c, char **args, size_t n);
int cmd_mail_relay(Cli *c, char **args, size_t n);
int cmd_token_list(Cli *c, char **args, size_t n);
int cmd_token_revoke(Cli *c, char **args, size_t n);
int cmd_backup_create(Cli *c, char **args, size_t n);
int cmd_backup_list(Cli *c, char **args, size_t n);
int cmd_backup_restore(Cli *c, char **args, size_t n);
int cmd_peer_add(Cli *c, char **args, size_t n);
int cmd_peer_list(Cli *c, char **args, size_t n);
int cmd_peer_show(Cli *c, char **args, size_t n);
int cmd_peer_set(Cli *c, char **args, size_t n);
int cmd_peer_config(Cli *c, char **args, size_t n);
int cmd_peer_qr(Cli *c, char **args, size_t n);
int cmd_peer_rm(Cli *c, char **args, size_t n);
int cmd_user_add(Cli *c, char **args, size_t n);
/* "/api/users/NAME" + suffix into buf, or a usage error (2) for a name outside the grammar. */
int cli_user_path(const char *name, const char *suffix, char *buf, size_t size);
int cmd_user_list(Cli *c, char **args, size_t n);
int cmd_user_show(Cli *c, char **args, size_t n);
int cmd_user_passwd(Cli *c, char **args, size_t n);
int cmd_user_rm(Cli *c, char **args, size_t n);
int cmd_user_app_password(Cli *c, char **args, size_t n);
/* A new password: asked twice on a terminal (echo off), else the first line of stdin; never from argv. The caller
 * wipes buf. */
#define CLI_PASSWORD_BUF 300
int cli_read_password(char buf[static CLI_PASSWORD_BUF]);
int cmd_user_storage(Cli *c, char **args, size_t n);
int cmd_user_share(Cli *c, char **args, size_t n);
int cmd_user_shares(Cli *c, char **args, size_t n);
int cmd_user_unshare(Cli *c, char **args, size_t n);
