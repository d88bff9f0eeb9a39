/* Declarations of every route handler; each handlers/<area>.c is thin: validate, call core, map result. */
#pragma once
#include "http/http.h"

int http_health_get(HttpRequest *req, HttpResponse *resp);

int http_config_get(HttpRequest *req, HttpResponse *resp);
int http_config_put(HttpRequest *req, HttpResponse *resp);
int http_config_pending_get(HttpRequest *req, HttpResponse *resp);
int http_config_apply_post(HttpRequest *req, HttpResponse *resp);
int http_config_settings_get(HttpRequest *req, HttpResponse *resp);

int http_auth_login_post(HttpRequest *req, HttpResponse *resp);
int http_auth_logout_post(HttpRequest *req, HttpResponse *resp);
int http_auth_session_get(HttpRequest *req, HttpResponse *resp);
int http_auth_password_put(HttpRequest *req, HttpResponse *resp);
int http_auth_tokens_get(HttpRequest *req, HttpResponse *resp);
int http_auth_tokens_post(HttpRequest *req, HttpResponse *resp);
int http_auth_tokens_delete(HttpRequest *req, HttpResponse *resp);

int http_backup_post(HttpRequest *req, HttpResponse *resp);
int http_backups_get(HttpRequest *req, HttpResponse *resp);
int http_backup_download_get(HttpRequest *req, HttpResponse *resp);
int http_backups_delete(HttpRequest *req, HttpResponse *resp);
int http_restore_post(HttpRequest *req, HttpResponse *resp);

int http_audit_get(HttpRequest *req, HttpResponse *resp);

int http_mesh_get(HttpRequest *req, HttpResponse *resp);
int http_mesh_invites_get(HttpRequest *req, HttpResponse *resp);
int http_mesh_invites_post(HttpRequest *req, HttpResponse *resp);
int http_mesh_invite_delete(HttpRequest *req, HttpResponse *resp);
int http_mesh_join_post(HttpRequest *req, HttpResponse *resp);
int http_mesh_cells_get(HttpRequest *req, HttpResponse *resp);
int http_mesh_cell_get(HttpRequest *req, HttpResponse *resp);
int http_mesh_cell_put(HttpRequest *req, HttpResponse *resp);
int http_mesh_cell_delete(HttpRequest *req, HttpResponse *resp);
int http_peers_get(HttpRequest *req, HttpResponse *resp);
int http_peers_post(HttpRequest *req, HttpResponse *resp);
int http_peer_get(HttpRequest *req, HttpResponse *resp);
int http_peer_put(HttpRequest *req, HttpResponse *resp);
int http_peer_delete(HttpRequest *req, HttpResponse *resp);
int http_peer_config_get(HttpRequest *req, HttpResponse *resp);
int http_wireguard_status_get(HttpRequest *req, HttpResponse *resp);
int http_wireguard_peers_get(HttpRequest *req, HttpResponse *resp);

int http_services_get(HttpRequest *req, HttpResponse *resp);
int http_services_status_get(HttpRequest *req, HttpResponse *resp);
int http_services_restart_post(HttpRequest *req, HttpResponse *resp);
int http_services_logs_get(HttpRequest *req, HttpResponse *resp);
int http_service_status_get(HttpRequest *req, HttpResponse *resp);

int http_dhcp_leases_get(HttpRequest *req, HttpResponse *resp);
int http_dhcp_reservations_get(HttpRequest *req, HttpResponse *resp);
int http_dhcp_reservations_post(HttpRequest *req, HttpResponse *resp);
int http_dhcp_reservations_delete(HttpRequest *req, HttpResponse *resp);

int http_ntp_status_get(HttpRequest *req, HttpResponse *resp);
int http_network_test_post(HttpRequest *req, HttpResponse *resp);

int http_ca_get(HttpRequest *req, HttpResponse *resp);

int http_dns_records_get(HttpRequest *req, HttpResponse *resp);
int http_dns_records_post(HttpRequest *req, HttpResponse *resp);
int http_dns_record_delete(HttpRequest *req, HttpResponse *resp);

int http_users_get(HttpRequest *req, HttpResponse *resp);
int http_user_mail_get(HttpRequest *req, HttpResponse *resp);
int http_mail_aliases_get(HttpRequest *req, HttpResponse *resp);
int http_mail_aliases_post(HttpRequest *req, HttpResponse *resp);
int http_mail_alias_delete(HttpRequest *req, HttpResponse *resp);
int http_mail_dns_get(HttpRequest *req, HttpResponse *resp);
int http_mail_relay_get(HttpRequest *req, HttpResponse *resp);
int http_mail_relay_put(HttpRequest *req, HttpResponse *resp);
int http_mail_relay_delete(HttpRequest *req, HttpResponse *resp);
int http_users_post(HttpRequest *req, HttpResponse *resp);
int http_user_get(HttpRequest *req, HttpResponse *resp);
int http_user_put(HttpRequest *req, HttpResponse *resp);
int http_user_delete(HttpRequest *req, HttpResponse *resp);
int http_app_passwords_get(HttpRequest *req, HttpResponse *resp);
int http_app_passwords_post(HttpRequest *req, HttpResponse *resp);
int http_app_password_delete(HttpRequest *req, HttpResponse *resp);
/* false (and a 403 in resp) unless the principal may see (write: change) the user params[0] names. */
bool http_user_allowed(HttpRequest *req, HttpResponse *resp, bool write);
int http_user_storage_get(HttpRequest *req, HttpResponse *resp);
int http_user_storage_put(HttpRequest *req, HttpResponse *resp);
int http_user_shares_get(HttpRequest *req, HttpResponse *resp);
int http_user_shares_post(HttpRequest *req, HttpResponse *resp);
int http_user_share_delete(HttpRequest *req, HttpResponse *resp);
/* Not in the route table: the one handler of auth.sock (server.c). */
int http_forward_auth(HttpRequest *req, HttpResponse *resp);
