#!/usr/bin/env bash
# Installs every Debian package pic needs to build, run and test; idempotent and quiet when all is present.
# Used by `make run`, `make test` and .ci/run so a fresh Debian 12 machine needs nothing by hand.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev libssl-dev
  libcmocka-dev libarchive-dev libqrencode-dev libnftables-dev libmnl-dev libpng-dev
  # managed daemons and their tools
  wireguard-go wireguard-tools nftables dnsmasq-base unbound chrony caddy radicale
  lighttpd lighttpd-mod-webdav
  postfix dovecot-core dovecot-imapd dovecot-lmtpd opendkim opendkim-tools
  # Postfix's SMTP client logs in to an outbound relay through Cyrus SASL: PLAIN and LOGIN are these plugins
  libsasl2-modules ca-certificates
  # webmail: Roundcube on picd's private php-fpm (php8.2-fpm first: it is what satisfies Roundcube's need for a
  # PHP SAPI, which apt would otherwise meet with apache2 and its PHP module)
  php8.2-fpm roundcube-core roundcube-sqlite3
  # test clients and harness (swaks needs the two perl TLS modules, which it only recommends)
  curl dnsutils udhcpc sntp iproute2 iputils-ping socat sqlite3 python3 procps zbar-tools util-linux python3-caldav
  litmus swaks libnet-ssleay-perl libio-socket-ssl-perl python3-dkim
  # the outbound relay test_mail_relay runs (STARTTLS, AUTH)
  python3-aiosmtpd
  # web UI build and browser tests (Node.js and npm are checked below: the machine's own Node 20 may come with
  # its npm, which Debian's npm package would conflict with)
  chromium
  # bench
  wrk nginx-light
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Vite 8 needs Node.js 20.19+; Debian 12's own nodejs is 18, so a machine with a newer Node keeps it.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# ensure_user NAME HOME: a system user and its group of the same name, made only when missing (idempotent).
ensure_user() {
  getent passwd "$1" >/dev/null && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: the system user $1 is missing; run as root" >&2
    exit 1
  fi
  # A group left behind by an earlier user of that name is reused, not a reason to fail.
  local group=(--user-group)
  getent group "$1" >/dev/null && group=(--gid "$1")
  useradd --system "${group[@]}" --no-create-home --home-dir "$2" --shell /usr/sbin/nologin "$1"
}
# lighttpd (WebDAV) runs as a system user of its own, which no other daemon shares (not www-data: Roundcube's PHP
# workers are that); picd gives it the users' file trees.
ensure_user pic-files /nonexistent
# Caddy runs as Debian's caddy user (its package makes it; picd gives it HOME in the state dir): made here too when
# the package is installed but the user is gone, and again below after an install, in case its postinst did not.
[[ " ${missing[*]} " == *" caddy "* ]] || ensure_user caddy /var/lib/caddy
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix's postinst asks what kind of mail system this is: "No configuration" writes no /etc/postfix/main.cf and
# starts nothing (pic runs its own instance from the state dir).
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get -o DPkg::Lock::Timeout=120 update -qq
# Roundcube's database is picd's SQLite file under the state dir: dbconfig-common must not create one for it.
if [[ " ${missing[*]} " == *" roundcube-core "* ]]; then
  echo "roundcube-core roundcube/dbconfig-install boolean false" | debconf-set-selections
fi
apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Debian's caddy and nginx packages enable and start their own caddy.service/nginx.service, which listen on port
# 80 of every host interface (lighttpd's too), radicale its own on the host's localhost:5232, dovecot-core starts a system Dovecot on 143/993, opendkim a system signer and
# php8.2-fpm a host-wide pool (php8.2-fpm.service). pic runs its own Caddy, Postfix, Dovecot, OpenDKIM and php-fpm
# inside the cell's namespace (and nginx only as a bench backend on unix sockets), so a package installed here must
# not leave a host-wide daemon behind. Only for packages installed just now; with systemd running through
# systemctl, elsewhere through the init script when the package's own pid file says its postinst started it (the
# scripts' "status" matches any process of that name, a cell's own included).
for p in "${missing[@]}"; do
  case "$p" in
    caddy) unit=caddy pidfile= ;;
    nginx-light) unit=nginx pidfile=/run/nginx.pid ;;
    lighttpd) unit=lighttpd pidfile=/run/lighttpd.pid ;;
    radicale) unit=radicale pidfile= ;;
    postfix) unit=postfix pidfile=/var/spool/postfix/pid/master.pid ;;
    dovecot-core) unit=dovecot pidfile=/run/dovecot/master.pid ;;
    opendkim) unit=opendkim pidfile=/run/opendkim/opendkim.pid ;;
    php8.2-fpm) unit=php8.2-fpm pidfile=/run/php/php8.2-fpm.pid ;;
    *) continue ;;
  esac
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$unit.service" >/dev/null 2>&1 || echo "install-deps: could not stop $unit; stop it by hand" >&2
  elif [ -n "$pidfile" ] && [ -s "$pidfile" ] && [ -x "/etc/init.d/$unit" ]; then
    "/etc/init.d/$unit" stop >/dev/null 2>&1 || echo "install-deps: could not stop $unit; stop it by hand" >&2
  fi
done

ensure_user caddy /var/lib/caddy
