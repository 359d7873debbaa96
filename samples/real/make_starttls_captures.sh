#!/usr/bin/env bash
# make_starttls_captures.sh - capture TLS that starts in the middle of another protocol: real servers and
# clients that upgrade one TCP connection to TLS (MySQL/MariaDB, PostgreSQL, SMTP STARTTLS, LDAP StartTLS,
# IMAP STARTTLS, POP3 STLS, XMPP STARTTLS) and curl through a SOCKS5 proxy. See the section "TLS after a cleartext start" in
# README.md in this directory.
#
#   sudo ./make_starttls_captures.sh              # (re)make all of them
#   sudo ./make_starttls_captures.sh mysql smtp   # or only some: mysql, mysql-openssl, postgres, smtp,
#                                                 # socks5, ldap, imap, imap-clear, pop3, xmpp, sieve,
#                                                 # lmtp, ftp, ftp-clear
#
# Needs root (network namespaces, tcpdump) and, on Debian 12:
#   apt-get install -y iproute2 tcpdump ethtool openssl curl nginx mariadb-server mariadb-client postgresql \
#     python3-aiosmtpd microsocks slapd ldap-utils dovecot-imapd dovecot-pop3d \
#     dovecot-managesieved dovecot-lmtpd prosody vsftpd
# plus this project's own Python package (run from its checkout) for `dissector keys`, which writes the
# key log of the two captures whose clients write none (RSA key exchange, see below).
#
# Network: two namespaces made here and removed on exit (also on error or Ctrl-C), one veth between them:
#
#   st-cli [stcli 10.98.1.2/24] ==veth== [stsrv 10.98.1.1/24] st-srv      (every server in st-srv)
#
# No default route: nothing leaves these namespaces. www.example.test is 10.98.1.1 in both (through
# /etc/netns/st-*/hosts, written here and removed on exit). tcpdump runs on the client's interface.
# Every server uses nginx-server.crt.pem / nginx-server.key.pem (CN and SAN www.example.test, RSA 2048,
# made by make_nginx_captures.sh) and every client that can verifies it against that certificate.
#
# Files (next to this script), NAME.pcap and NAME.keys (NSS key log) each, NAME.key.pem where the key
# exchange is RSA (a copy of nginx-server.key.pem):
#   starttls-mysql          mariadb client (Connector/C, OpenSSL) -> MariaDB 10.11 on 3306, SELECT; the client
#                           offers only TLS 1.2 TLS_RSA_WITH_AES_128_GCM_SHA256; the .keys come from
#                           `dissector keys --key` (the client writes no key log)
#   starttls-mysql-openssl  openssl s_client -starttls mysql -> the same MariaDB, TLS 1.3, s_client's key log;
#                           after the handshake s_client relays MySQL packets this script wrote (login as
#                           guest, SELECT 1, COM_QUIT)
#   starttls-postgres       psql (libpq, OpenSSL) -> PostgreSQL 15 on 5432, SELECT; the server allows only
#                           TLS 1.2 AES128-GCM-SHA256 (RSA key exchange); .keys from `dissector keys --key`
#   starttls-smtp           curl smtp:// --ssl-reqd -> aiosmtpd on 25: EHLO, STARTTLS, one mail; curl's key log
#   socks5-tls              curl --socks5-hostname -> microsocks on 1080 -> nginx on 443; curl's key log;
#                           the client-to-proxy leg
#   starttls-ldap           ldapsearch -ZZ (libldap, GnuTLS) -> slapd on 389: StartTLS, simple bind, search;
#                           GnuTLS's key log
#   starttls-imap           curl imap:// --ssl-reqd -> dovecot on 143: STARTTLS, LOGIN, LIST, LOGOUT; curl's
#                           key log
#   cleartext-imap          curl imap:// (no TLS) -> dovecot on 143 with TLS off and plaintext logins allowed:
#                           the same LOGIN in the clear (no key log: nothing is encrypted)
#   starttls-pop3           curl pop3:// --ssl-reqd -> dovecot on 110: STLS (RFC 2595), AUTH PLAIN, RETR 1, QUIT;
#                           curl's key log
#   starttls-xmpp           openssl s_client -starttls xmpp -> Prosody 0.12 on 5222 (encryption required):
#                           STARTTLS (RFC 6120 5), then a new stream, SASL PLAIN as alice, the stream's end;
#                           s_client's key log
#   starttls-sieve          openssl s_client -starttls sieve -> Dovecot's ManageSieve (RFC 5804) on 4190: the
#                           capabilities, STARTTLS, TLS, LOGOUT; s_client's key log
#   starttls-lmtp           openssl s_client -starttls lmtp -> Dovecot's LMTP (RFC 2033) on 24: greeting, LHLO,
#                           STARTTLS, TLS, QUIT; s_client's key log
#   starttls-ftp            curl ftp:// --ssl-reqd -> vsftpd on 21 (explicit FTPS): AUTH TLS on the control
#                           connection, anonymous login, a directory listing and a file, each over a passive data
#                           connection (ports 30000-30009) that starts with TLS and resumes the control
#                           connection's session (vsftpd's require_ssl_reuse); curl's key log
#   cleartext-ftp           curl ftp:// (no TLS) -> pyftpdlib on 21 (FTP_PYTHON: a Python with pyftpdlib, default
#                           python3): a login with a wrong password (530), then alice's (230) and a file, in the
#                           clear (no key log: nothing is encrypted)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
NS_C=st-cli NS_S=st-srv
S4=10.98.1.1 C4=10.98.1.2
HOST=www.example.test
ALL=(mysql mysql-openssl postgres smtp socks5 ldap imap imap-clear pop3 xmpp sieve lmtp ftp ftp-clear)
CAPTURES=("${ALL[@]}")

# shellcheck source=netns-lib.sh
. "$HERE/netns-lib.sh"  # stop, remove_namespaces, keep_capture, wait_for_port
require make_starttls_captures.sh ip ss tcpdump openssl curl
if [ $# -gt 0 ]; then
  for n in "$@"; do
    case " ${ALL[*]} " in *" $n "*) ;; *) echo "unknown capture: $n (one of: ${ALL[*]})" >&2; exit 2;; esac
  done
  CAPTURES=("$@")
fi
[ -s "$HERE/nginx-server.crt.pem" ] && [ -s "$HERE/nginx-server.key.pem" ] || {
  echo "nginx-server.crt.pem / nginx-server.key.pem missing: run make_nginx_captures.sh first" >&2; exit 1; }

WORK=$(mktemp -d /tmp/starttls-captures.XXXXXX)
chmod 755 "$WORK"  # PostgreSQL runs as the postgres user and needs to reach its files in here
TCPDUMP_PID="" SERVER_PID="" NGINX_PID=""

NAMESPACES=($NS_C $NS_S)

trap_teardown NGINX_PID:QUIT

inc() { ip netns exec $NS_C "$@"; }
ins() { ip netns exec $NS_S "$@"; }

setup_network() {
  client_server_namespaces $NS_C $NS_S "${S4%.*}" stcli stsrv noipv6
  local ns
  for ns in $NS_C $NS_S; do  # ip netns exec mounts these over /etc/hosts and /etc/resolv.conf
    mkdir -p "/etc/netns/$ns"
    printf '127.0.0.1 localhost\n%s %s\n' "$S4" "$HOST" > "/etc/netns/$ns/hosts"
    printf 'nameserver 127.0.0.1\n' > "/etc/netns/$ns/resolv.conf"
  done
  cp "$HERE/nginx-server.crt.pem" "$WORK/server.crt.pem"
  cp "$HERE/nginx-server.key.pem" "$WORK/server.key.pem"
  chmod 644 "$WORK/server.crt.pem"; chmod 600 "$WORK/server.key.pem"
}

# --- one capture -----------------------------------------------------------------------------------

begin() {  # begin NAME PORT [FILTER]: start tcpdump on the client's interface (FILTER: more than PORT)
  local name=$1 port=$2
  echo "== $name" >&2
  rm -f "$WORK/$name".*
  start_tcpdump $NS_C stcli "$WORK/$name.pcap" "${3:-tcp port $port}"
}

finish() {  # finish NAME: stop tcpdump, keep the capture and its key log
  local name=$1
  sleep 0.5
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  keep_capture "$name"
}

finish_clear() {  # finish_clear NAME: stop tcpdump, keep the capture (no TLS: no key log)
  local name=$1
  sleep 0.5
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  cp "$WORK/$name.pcap" "$HERE/$name.pcap"
  chmod 644 "$HERE/$name.pcap"
  echo "   $(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log")" >&2
}

finish_rsa() {  # finish_rsa NAME: as finish, for a client that writes no key log: the server's key decrypts
  local name=$1
  sleep 0.5
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  PYTHONPATH="$HERE/../..${PYTHONPATH:+:$PYTHONPATH}" python3 -m dissector keys "$WORK/$name.pcap" \
    --key "$HERE/nginx-server.key.pem" -o "$WORK/$name.keys" 2>&1 | sed 's/^/   /' >&2
  sed -i "1s|.*|# written by dissector keys from $name.pcap with $name.key.pem (nginx-server.key.pem)|" "$WORK/$name.keys"
  keep_capture "$name"
  cp "$HERE/nginx-server.key.pem" "$HERE/$name.key.pem"
  chmod 644 "$HERE/$name.key.pem"
}

server_up() {  # server_up PORT WHAT LOG: wait for the server started in the background as $SERVER_PID
  wait_for_port $NS_S "$1" && return 0
  echo "$2 did not start" >&2; cat "$3" >&2 2>/dev/null; return 1
}

# --- MariaDB ---------------------------------------------------------------------------------------

MYSQL_UP=""
start_mariadb() {
  [ -n "$MYSQL_UP" ] && return 0
  command -v mariadbd >/dev/null || { echo "mariadbd is missing (apt-get install mariadb-server)" >&2; return 1; }
  mariadb-install-db --no-defaults --user=root --datadir="$WORK/mysql" --auth-root-authentication-method=socket \
    --skip-test-db >"$WORK/mysql-install.log" 2>&1 || { cat "$WORK/mysql-install.log" >&2; return 1; }
  ip netns exec $NS_S mariadbd --no-defaults --user=root --datadir="$WORK/mysql" --socket="$WORK/mysql.sock" \
    --pid-file="$WORK/mysql.pid" --log-error="$WORK/mysql.err" --bind-address=$S4 --port=3306 \
    --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=16M \
    --ssl-cert="$WORK/server.crt.pem" --ssl-key="$WORK/server.key.pem" &
  SERVER_PID=$!
  server_up 3306 mariadbd "$WORK/mysql.err" || return 1
  ins mariadb --no-defaults --socket="$WORK/mysql.sock" -u root <<'EOF'
CREATE USER 'alice'@'%' IDENTIFIED BY 'wonderland' REQUIRE SSL;
CREATE DATABASE shop;
CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40));
INSERT INTO shop.items VALUES (1, 'teapot'), (2, 'kettle');
GRANT SELECT ON shop.* TO 'alice'@'%';
CREATE USER 'guest'@'%' REQUIRE SSL;
EOF
  MYSQL_UP=1
}

mysql_capture() {
  start_mariadb || return 1
  local name=starttls-mysql
  begin "$name" 3306
  # The client offers one suite with an RSA key exchange: Connector/C (OpenSSL) writes no key log.
  timeout 30 ip netns exec $NS_C mariadb --no-defaults -h $HOST -P 3306 -u alice -pwonderland \
    --ssl --ssl-ca="$WORK/server.crt.pem" --ssl-verify-server-cert --tls-version=TLSv1.2 \
    --ssl-cipher=AES128-GCM-SHA256 -e "SELECT id, name FROM shop.items; SHOW STATUS LIKE 'Ssl_cipher'" \
    | sed 's/^/   /' >&2
  finish_rsa "$name"
}

mysql_openssl_capture() {
  start_mariadb || return 1
  local name=starttls-mysql-openssl
  # s_client sends MySQL's SSLRequest, does the handshake and then relays stdin. stdin holds what a MySQL
  # client sends next, as packets: the HandshakeResponse41 of guest (no password, so no scramble needed),
  # COM_QUERY "SELECT 1" and COM_QUIT; -ign_eof waits for the server to close after COM_QUIT.
  /usr/bin/python3 - "$WORK/mysql-client.bin" <<'PY'
import struct, sys
def packet(seq, body): return struct.pack("<I", len(body))[:3] + bytes([seq]) + body
caps = 0x007fae85  # the capability flags of s_client's SSLRequest (the server keeps those), CLIENT_SSL among them
login = (struct.pack("<IIB", caps, 16 << 20, 0x21) + bytes(23) + b"guest\0" + b"\0"  # user, empty auth data
         + b"mysql_native_password\0" + b"\0")  # plugin name, no connection attributes
data = packet(2, login) + packet(0, b"\x03SELECT 1") + packet(0, b"\x01")
open(sys.argv[1], "wb").write(data)
PY
  begin "$name" 3306
  timeout 30 ip netns exec $NS_C openssl s_client -connect $HOST:3306 -starttls mysql -servername $HOST \
    -CAfile "$WORK/server.crt.pem" -verify_return_error -keylogfile "$WORK/$name.keys" -ign_eof -quiet \
    <"$WORK/mysql-client.bin" 2>"$WORK/s_client.err" | od -A d -c | sed 's/^/   /' >&2 || true
  finish "$name"
}

stop_mariadb() {
  [ -n "$MYSQL_UP" ] || return 0
  stop "$SERVER_PID"; SERVER_PID=""; MYSQL_UP=""
}

# --- PostgreSQL ------------------------------------------------------------------------------------

postgres_capture() {
  local bin=/usr/lib/postgresql/15/bin name=starttls-postgres
  [ -x $bin/postgres ] || bin=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
  [ -x "$bin/postgres" ] || { echo "PostgreSQL is missing (apt-get install postgresql)" >&2; return 1; }
  local pg="$WORK/pg"
  mkdir -p "$pg/sock"; cp "$WORK/server.crt.pem" "$WORK/server.key.pem" "$pg/"
  chown -R postgres:postgres "$pg"; chmod 700 "$pg"
  runuser -u postgres -- "$bin/initdb" -D "$pg/data" -U postgres --auth-local=trust --auth-host=reject \
    >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; return 1; }
  cat >> "$pg/data/postgresql.conf" <<EOF
listen_addresses = '$S4'
port = 5432
unix_socket_directories = '$pg/sock'
ssl = on
ssl_cert_file = '$pg/server.crt.pem'
ssl_key_file = '$pg/server.key.pem'
# an RSA key exchange, so that the server's key decrypts it (libpq writes no key log)
ssl_min_protocol_version = 'TLSv1.2'
ssl_max_protocol_version = 'TLSv1.2'
ssl_ciphers = 'AES128-GCM-SHA256'
EOF
  printf '%s\n' "local all postgres trust" "hostssl all alice $C4/32 scram-sha-256" > "$pg/data/pg_hba.conf"
  ip netns exec $NS_S setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$pg/data" >"$WORK/postgres.log" 2>&1 &
  SERVER_PID=$!
  server_up 5432 postgres "$WORK/postgres.log" || return 1
  ins runuser -u postgres -- "$bin/psql" -q -h "$pg/sock" -U postgres -d postgres <<'EOF'
CREATE USER alice PASSWORD 'wonderland';
CREATE TABLE items (id int PRIMARY KEY, name text);
INSERT INTO items VALUES (1, 'teapot'), (2, 'kettle');
GRANT SELECT ON items TO alice;
EOF
  begin "$name" 5432
  PGPASSWORD=wonderland timeout 30 ip netns exec $NS_C "$bin/psql" -X \
    "host=$HOST port=5432 dbname=postgres user=alice sslmode=verify-full sslrootcert=$WORK/server.crt.pem gssencmode=disable" \
    -c "SELECT id, name FROM items" -c "SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()" \
    | sed 's/^/   /' >&2
  finish_rsa "$name"
  stop "$SERVER_PID"; SERVER_PID=""
}

# --- SMTP ------------------------------------------------------------------------------------------

smtp_capture() {
  local name=starttls-smtp
  /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || { echo "aiosmtpd is missing (apt-get install python3-aiosmtpd)" >&2; return 1; }
  # aiosmtpd's own server and Debugging handler (prints the mail); STARTTLS required before MAIL
  ip netns exec $NS_S /usr/bin/python3 -m aiosmtpd -n -l $S4:25 --tlscert "$WORK/server.crt.pem" --tlskey "$WORK/server.key.pem" \
    >"$WORK/smtpd.log" 2>&1 &
  SERVER_PID=$!
  server_up 25 aiosmtpd "$WORK/smtpd.log" || return 1
  printf '%s\r\n' "From: Alice <alice@example.test>" "To: Bob <bob@example.test>" "Subject: hello" \
    "Date: Thu, 26 Nov 2026 10:00:00 +0000" "Message-ID: <starttls-smtp@example.test>" "" \
    "Hi Bob, this mail went through STARTTLS." > "$WORK/mail.txt"
  begin "$name" 25
  (cd "$WORK" && SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 ip netns exec $NS_C curl -sS \
    --url "smtp://$HOST:25/client.example.test" --ssl-reqd --cacert "$WORK/server.crt.pem" \
    --mail-from alice@example.test --mail-rcpt bob@example.test -T "$WORK/mail.txt") 2>&1 | sed 's/^/   /' >&2
  finish "$name"
  stop "$SERVER_PID"; SERVER_PID=""
  grep -q 'this mail went through STARTTLS' "$WORK/smtpd.log" || { echo "the mail did not arrive" >&2; return 1; }
}

# --- SOCKS5 ----------------------------------------------------------------------------------------

socks5_capture() {
  local name=socks5-tls
  command -v microsocks >/dev/null || { echo "microsocks is missing (apt-get install microsocks)" >&2; return 1; }
  command -v nginx >/dev/null || { echo "nginx is missing (apt-get install nginx)" >&2; return 1; }
  mkdir -p "$WORK/nginx/html" "$WORK/nginx/tmp"
  printf '<html><body>Hello through SOCKS5</body></html>\n' > "$WORK/nginx/html/index.html"
  cat > "$WORK/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
error_log error.log info;
events { worker_connections 16; }
http {
    access_log access.log;
    client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
    default_type text/html;
    server_tokens off;
    server {
        listen $S4:443 ssl;
        server_name $HOST;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate $WORK/server.crt.pem;
        ssl_certificate_key $WORK/server.key.pem;
        root html;
    }
}
EOF
  ip netns exec $NS_S nginx -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -g 'daemon off; pid nginx.pid;' >"$WORK/nginx.out" 2>&1 &
  NGINX_PID=$!
  server_up 443 nginx "$WORK/nginx/error.log" || return 1
  ip netns exec $NS_S microsocks -i $S4 -p 1080 >"$WORK/microsocks.log" 2>&1 &
  SERVER_PID=$!
  server_up 1080 microsocks "$WORK/microsocks.log" || return 1
  begin "$name" 1080
  (cd "$WORK" && SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 ip netns exec $NS_C curl -sS -o /dev/null \
    -w '%{http_version} %{http_code} %{url_effective}\n' --socks5-hostname "$S4:1080" \
    --cacert "$WORK/server.crt.pem" --http1.1 "https://$HOST/") 2>&1 | sed 's/^/   /' >&2
  finish "$name"
  stop "$SERVER_PID"; SERVER_PID=""
  stop "$NGINX_PID" QUIT; NGINX_PID=""
}

# --- LDAP ------------------------------------------------------------------------------------------

ldap_capture() {
  local name=starttls-ldap
  [ -x /usr/sbin/slapd ] || { echo "slapd is missing (apt-get install slapd ldap-utils)" >&2; return 1; }
  mkdir -p "$WORK/ldap/db"
  cat > "$WORK/ldap/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $WORK/ldap/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $WORK/server.crt.pem
TLSCertificateKeyFile $WORK/server.key.pem
security simple_bind=128
database mdb
maxsize 10485760
suffix "dc=example,dc=test"
rootdn "cn=admin,dc=example,dc=test"
rootpw secret
directory $WORK/ldap/db
EOF
  cat > "$WORK/ldap/base.ldif" <<'EOF'
dn: dc=example,dc=test
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: uid=alice,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Liddell
mail: alice@example.test
EOF
  /usr/sbin/slapadd -f "$WORK/ldap/slapd.conf" -l "$WORK/ldap/base.ldif" >"$WORK/slapadd.log" 2>&1 \
    || { cat "$WORK/slapadd.log" >&2; return 1; }
  ip netns exec $NS_S /usr/sbin/slapd -d 0 -f "$WORK/ldap/slapd.conf" -h "ldap://$S4:389/" >"$WORK/slapd.log" 2>&1 &
  SERVER_PID=$!
  server_up 389 slapd "$WORK/slapd.log" || return 1
  begin "$name" 389
  # simple_bind=128 above: slapd refuses the password bind before StartTLS
  SSLKEYLOGFILE="$WORK/$name.keys" LDAPTLS_CACERT="$WORK/server.crt.pem" LDAPTLS_REQCERT=demand \
    timeout 30 ip netns exec $NS_C ldapsearch -LLL -ZZ -H "ldap://$HOST" -x -D "cn=admin,dc=example,dc=test" \
    -w secret -b "dc=example,dc=test" "(uid=alice)" cn mail 2>&1 | sed 's/^/   /' >&2
  finish "$name"
  stop "$SERVER_PID"; SERVER_PID=""
}

# --- IMAP ------------------------------------------------------------------------------------------

start_dovecot() {  # start_dovecot PROTOCOL PORT SSL PLAINTEXT-OFF [MORE-CONFIG]: Dovecot for PROTOCOL in the
                   # server's namespace (SERVER_PID), static passdb (any user, password wonderland); waits for PORT
  local proto=$1 port=$2 ssl=$3 plaintext_off=$4 more=${5:-} d="$WORK/dovecot-$1"
  mkdir -p "$d/run" "$d/mail"
  cat > "$d/dovecot.conf" <<EOF
protocols = $proto
listen = $S4
base_dir = $d/run
log_path = $d/dovecot.log
instance_name = st-dovecot-$proto
ssl = $ssl
ssl_cert = <$WORK/server.crt.pem
ssl_key = <$WORK/server.key.pem
disable_plaintext_auth = $plaintext_off
auth_mechanisms = plain
passdb {
  driver = static
  args = password=wonderland
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/mail/%u
}
$more
EOF
  ip netns exec $NS_S dovecot -F -c "$d/dovecot.conf" >"$d/dovecot.out" 2>&1 &
  SERVER_PID=$!
  server_up "$port" dovecot "$d/dovecot.log"
}

dovecot_capture() {  # dovecot_capture imap|pop3 [clear]: curl against dovecot, STARTTLS (IMAP) or STLS (POP3)
                     # required, or (clear) no TLS at all and plaintext logins allowed
  local proto=$1 name=starttls-$1 ssl=required plaintext=yes tls_opts="--ssl-reqd" port=143 url
  if [ "${2:-}" = clear ]; then name=cleartext-$1 ssl=no plaintext=no tls_opts=""; fi
  if [ "$proto" = pop3 ]; then port=110 url="pop3://$HOST/1"; else url="imap://$HOST/INBOX;UID=1"; fi
  command -v dovecot >/dev/null || { echo "dovecot is missing (apt-get install dovecot-imapd)" >&2; return 1; }
  [ -x /usr/lib/dovecot/$proto ] || { echo "dovecot's $proto is missing (apt-get install dovecot-${proto}d)" >&2; return 1; }
  local mail="$WORK/dovecot-$proto/mail"
  mkdir -p "$mail/alice/Maildir/"{cur,new,tmp}
  printf '%s\r\n' "From: Bob <bob@example.test>" "To: Alice <alice@example.test>" "Subject: tea" \
    "Date: Thu, 26 Nov 2026 09:00:00 +0000" "" "Tea at five?" > "$mail/alice/Maildir/new/1795000000.M1P1.www"
  chown -R nobody:nogroup "$mail"
  start_dovecot "$proto" $port $ssl $plaintext "mail_location = maildir:~/Maildir" || return 1
  begin "$name" $port
  # shellcheck disable=SC2086
  (cd "$WORK" && SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 ip netns exec $NS_C curl -sS \
    $tls_opts --cacert "$WORK/server.crt.pem" -u alice:wonderland "$url") 2>&1 | sed 's/^/   /' >&2
  if [ -n "$tls_opts" ]; then finish "$name"; else finish_clear "$name"; fi
  stop "$SERVER_PID"; SERVER_PID=""
}

dovecot_s_client_capture() {  # dovecot_s_client_capture sieve|lmtp: openssl s_client -starttls against Dovecot's
                              # ManageSieve (4190) or LMTP (24); after TLS s_client sends LOGOUT or QUIT
  local proto=$1 name=starttls-$1 port=4190 service=managesieve-login listener=sieve bye="LOGOUT"
  if [ "$proto" = lmtp ]; then port=24 service=lmtp listener=lmtp bye="QUIT"; fi
  start_dovecot "$proto" $port required yes "$(printf 'service %s {\n  inet_listener %s {\n    address = %s\n    port = %s\n  }\n}' \
    $service $listener $S4 $port)" || return 1
  begin "$name" $port
  (sleep 1; printf '%s\r\n' "$bye"; sleep 1) | timeout 30 ip netns exec $NS_C openssl s_client \
    -connect $HOST:$port -starttls "$proto" -servername $HOST -CAfile "$WORK/server.crt.pem" -verify_return_error \
    -keylogfile "$WORK/$name.keys" -ign_eof -quiet 2>"$WORK/s_client.err" | sed 's/^/   /' >&2 || true
  finish "$name"
  stop "$SERVER_PID"; SERVER_PID=""
}

xmpp_capture() {  # openssl s_client -starttls xmpp -> Prosody on 5222; after TLS s_client relays the client's side
                  # of the stream this script wrote: a new stream header, SASL PLAIN as alice, the stream's end
  local name=starttls-xmpp d="$WORK/prosody"
  command -v prosody >/dev/null || { echo "prosody is missing (apt-get install prosody)" >&2; return 1; }
  mkdir -p "$d/data"
  cat > "$d/prosody.cfg.lua" <<EOF
run_as_root = true
daemonize = false
pidfile = "$d/prosody.pid"
data_path = "$d/data"
log = { info = "$d/prosody.log"; error = "$d/prosody.log" }
interfaces = { "$S4" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = true
authentication = "internal_plain"
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping" }
modules_disabled = { "s2s"; "http" }
VirtualHost "$HOST"
  ssl = { certificate = "$WORK/server.crt.pem"; key = "$WORK/server.key.pem" }
EOF
  ip netns exec $NS_S prosodyctl --config "$d/prosody.cfg.lua" register alice $HOST wonderland >"$WORK/prosodyctl.log" 2>&1
  ip netns exec $NS_S prosody --config "$d/prosody.cfg.lua" >"$WORK/prosody.out" 2>&1 &
  SERVER_PID=$!
  server_up 5222 prosody "$d/prosody.log" || return 1
  {
    printf "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' " "$HOST"
    printf "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    printf "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" \
      "$(printf '\0alice\0wonderland' | base64)"
    printf "</stream:stream>"
  } > "$WORK/xmpp-client.txt"
  begin "$name" 5222
  (sleep 1; cat "$WORK/xmpp-client.txt"; sleep 2) | timeout 30 ip netns exec $NS_C openssl s_client \
    -connect $HOST:5222 -starttls xmpp -xmpphost $HOST -servername $HOST -CAfile "$WORK/server.crt.pem" \
    -verify_return_error -keylogfile "$WORK/$name.keys" -quiet 2>"$WORK/s_client.err" | sed 's/^/   /' >&2 || true
  finish "$name"
  stop "$SERVER_PID"; SERVER_PID=""
}

# --- FTP -------------------------------------------------------------------------------------------

ftp_capture() {
  local name=starttls-ftp d="$WORK/vsftpd"
  command -v vsftpd >/dev/null || { echo "vsftpd is missing (apt-get install vsftpd)" >&2; return 1; }
  mkdir -p "$d/root/pub" "$d/empty"
  printf 'hello over FTPS\n' > "$d/root/pub/hello.txt"
  chmod 755 "$d" "$d/root" "$d/root/pub" "$d/empty"; chmod 644 "$d/root/pub/hello.txt"
  cat > "$d/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$S4
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$d/root
local_enable=NO
write_enable=NO
secure_chroot_dir=$d/empty
seccomp_sandbox=NO
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=YES
force_anon_data_ssl=YES
require_ssl_reuse=YES
rsa_cert_file=$WORK/server.crt.pem
rsa_private_key_file=$WORK/server.key.pem
pasv_enable=YES
pasv_address=$S4
pasv_min_port=30000
pasv_max_port=30009
vsftpd_log_file=$d/vsftpd.log
EOF
  ip netns exec $NS_S vsftpd "$d/vsftpd.conf" >"$WORK/vsftpd.out" 2>&1 &
  SERVER_PID=$!
  server_up 21 vsftpd "$WORK/vsftpd.out" || return 1
  begin "$name" 21 "tcp port 21 or tcp portrange 30000-30009"
  (cd "$WORK" && SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 ip netns exec $NS_C curl -sS --ssl-reqd \
    --cacert "$WORK/server.crt.pem" "ftp://$HOST/pub/" "ftp://$HOST/pub/hello.txt") 2>&1 | sed 's/^/   /' >&2
  finish "$name"
  stop "$SERVER_PID"; SERVER_PID=""
}

ftp_clear_capture() {
  local name=cleartext-ftp py=${FTP_PYTHON:-python3} d="$WORK/pyftpd"
  "$py" -c 'import pyftpdlib' 2>/dev/null || { echo "$py has no pyftpdlib (pip install pyftpdlib; FTP_PYTHON)" >&2; return 1; }
  mkdir -p "$d/home"
  printf 'hello over plain FTP\n' > "$d/home/hello.txt"
  cat > "$d/server.py" <<EOF
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
auth = DummyAuthorizer()
auth.add_user("alice", "wonderland", "$d/home", perm="elr")
FTPHandler.authorizer = auth
FTPHandler.passive_ports = range(30000, 30010)
FTPHandler.banner = "pyftpdlib FTP server ready."
FTPServer(("$S4", 21), FTPHandler).serve_forever()
EOF
  ip netns exec $NS_S "$py" "$d/server.py" >"$WORK/pyftpd.log" 2>&1 &
  SERVER_PID=$!
  server_up 21 pyftpdlib "$WORK/pyftpd.log" || return 1
  begin "$name" 21 "tcp port 21 or tcp portrange 30000-30009"
  (cd "$WORK" && timeout 30 ip netns exec $NS_C curl -sS "ftp://alice:rabbit@$HOST/hello.txt" || true) 2>&1 \
    | sed 's/^/   /' >&2  # refused: 530
  (cd "$WORK" && timeout 30 ip netns exec $NS_C curl -sS "ftp://alice:wonderland@$HOST/hello.txt") 2>&1 \
    | sed 's/^/   /' >&2
  finish_clear "$name"
  stop "$SERVER_PID"; SERVER_PID=""
}

# --- main ------------------------------------------------------------------------------------------

setup_network
for w in "${CAPTURES[@]}"; do
  case $w in
    mysql) mysql_capture;;
    mysql-openssl) mysql_openssl_capture;;
    postgres) stop_mariadb; postgres_capture;;
    smtp) stop_mariadb; smtp_capture;;
    socks5) stop_mariadb; socks5_capture;;
    ldap) stop_mariadb; ldap_capture;;
    imap) stop_mariadb; dovecot_capture imap;;
    imap-clear) stop_mariadb; dovecot_capture imap clear;;
    pop3) stop_mariadb; dovecot_capture pop3;;
    xmpp) stop_mariadb; xmpp_capture;;
    sieve|lmtp) stop_mariadb; dovecot_s_client_capture "$w";;
    ftp) stop_mariadb; ftp_capture;;
    ftp-clear) stop_mariadb; ftp_clear_capture;;
  esac
done
stop_mariadb
echo "done: ${#CAPTURES[@]} capture(s) in $HERE" >&2
