#!/usr/bin/env bash
# make_real_captures.sh - capture real OpenSSL and GnuTLS peers talking TLS over a private virtual
# network, with the keys needed to decrypt them (see README.md in this directory).
#
#   sudo ./make_real_captures.sh            # (re)make every capture
#   sudo ./make_real_captures.sh NAME...    # (re)make only these (names as in README.md)
#   ./make_real_captures.sh --list          # list the scenario names
#
# Needs root (network namespaces, tcpdump) and: iproute2 (ip, ss), ethtool, tcpdump, openssl,
# gnutls-bin (gnutls-serv, gnutls-cli), python3; nothing else. On Debian 12:
#   apt-get install -y gnutls-bin openssl tcpdump iproute2 ethtool python3
#
# Network: three namespaces made here and removed on exit (also on error or Ctrl-C):
#
#   dsc-cli [vcli 10.99.0.2/24 fd99::2/64] --veth-- [mcli] dsc-mid [msrv] --veth-- [vsrv 10.99.0.1/24 fd99::1/64] dsc-srv
#
# dsc-mid joins its two ports with a Linux bridge; for the impaired scenarios the bridge is taken down
# and impair.py (next to this script) forwards between the ports instead, dropping, delaying and
# reordering TCP frames like `netem delay 5ms reorder 25% loss 10%` (this is used because sch_netem is
# often missing from container kernels; impair.py is seeded, timing still varies from run to run).
# Because the capture point (tcpdump on vsrv, in dsc-srv) is behind dsc-mid, a client->server segment
# lost or reordered in dsc-mid shows in the capture as a gap / out-of-order segment, and a lost
# server->client segment shows as a genuine retransmission (openssl-tls12-lossy captures on vcli
# instead, so that the server's bulk data shows lost and reordered). Nothing leaves these namespaces: the
# addresses 10.99.0.0/24 and fd99::/64 exist only inside them, and there is no default route.
# Offloads (TSO/GSO/GRO/checksum) are off on every veth, so the capture holds wire-size segments
# (MSS 1448 with timestamps) with valid checksums.
#
# Every scenario writes NAME.pcap (tcpdump -s 0 --immediate-mode on vsrv, filter "tcp port 4433") and
# NAME.keys (the client's NSS key log: s_client -keylogfile, SSLKEYLOGFILE for gnutls-cli);
# NAME.key.pem (server key) for RSA key exchange; NAME.psk (hex) for PSK. The certificates and keys
# the peers use are made once (server.*.pem, client.*.pem, big.*.pem) and kept, so a re-run reuses
# them; captures are overwritten.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
NS_C=dsc-cli NS_M=dsc-mid NS_S=dsc-srv
S4=10.99.0.1 C4=10.99.0.2 S6=fd99::1 C6=fd99::2
VX_S=10.98.0.1 VX_C=10.98.0.2  # the VXLAN overlay of openssl-tls13-vxlan
PORT=4433
PSK_HEX=0123456789abcdeffedcba98765432100123456789abcdeffedcba9876543210
PSK_USER=dissector

SCENARIOS=(
  openssl-tls10 openssl-tls11 openssl-tls12-rsa openssl-tls12-ecdhe openssl-tls12-mtls
  openssl-tls12-reneg openssl-tls12-resume-id openssl-tls12-resume-ticket
  openssl-tls13 openssl-tls13-hrr openssl-tls13-resume openssl-tls13-0rtt openssl-tls13-0rtt-rejected
  openssl-tls13-0rtt-hrr openssl-tls13-keyupdate openssl-tls12-ocsp openssl-tls13-ocsp
  openssl-tls13-ocsp-revoked
  openssl-tls13-large openssl-tls12-bigcert openssl-tls13-ipv6 openssl-tls12-lossy openssl-tls13-vxlan
  gnutls-tls10 gnutls-tls12 gnutls-tls12-rsa gnutls-tls13 gnutls-tls13-hrr gnutls-tls12-resume
  gnutls-tls13-resume gnutls-tls13-keyupdate gnutls-tls13-0rtt gnutls-tls13-mtls
  gnutls-tls12-psk gnutls-tls13-psk gnutls-openssl-tls13-psk openssl-tls13-psk-dhe
  gnutls-tls12-rehandshake gnutls-tls13-ipv6 gnutls-tls13-lossy gnutls-tls12-rawpk gnutls-tls13-rawpk
  openssl-tls12-null openssl-tls12-camellia openssl-tls12-seed openssl-tls12-ccm openssl-tls12-dhe-ccm8
  openssl-tls13-ccm openssl-tls13-ccm8 openssl-tls12-dhe openssl-tls12-chacha20 openssl-tls13-aes128gcm
  gnutls-tls12-3des gnutls-tls10-dhe-3des gnutls-tls12-rc4 gnutls-tls11-rc4-md5 gnutls-tls12-null
  gnutls-tls12-camellia gnutls-tls12-dhe-ccm gnutls-tls12-ccm8 gnutls-tls13-ccm gnutls-tls13-ccm8
  gnutls-tls13-chacha20
  wolfssl-tls13 wolfssl-tls12 mbedtls-tls12 botan-tls12 erlang-client-tls13 erlang-client-tls12 erlang-server-tls13
)

if [ "${1:-}" = --list ]; then printf '%s\n' "${SCENARIOS[@]}"; exit 0; fi
# shellcheck source=netns-lib.sh
. "$HERE/netns-lib.sh"  # stop, remove_namespaces, keep_capture, wait_for_port
require make_real_captures.sh ip ss ethtool tcpdump openssl gnutls-serv gnutls-cli python3
select_names SCENARIOS scenario "$@"

WORK=$(mktemp -d /tmp/real-captures.XXXXXX)
TCPDUMP_PID="" SERVER_PID="" IMPAIR_PID=""

NAMESPACES=($NS_C $NS_M $NS_S)

trap_teardown IMPAIR_PID

inc() { ip netns exec $NS_C "$@"; }
inm() { ip netns exec $NS_M "$@"; }
ins() { ip netns exec $NS_S "$@"; }

setup_network() {
  remove_namespaces  # leftovers of an interrupted run
  local ns
  for ns in $NS_C $NS_M $NS_S; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add vcli netns $NS_C address 02:99:00:00:00:02 type veth peer name mcli netns $NS_M
  ip link add vsrv netns $NS_S address 02:99:00:00:00:01 type veth peer name msrv netns $NS_M
  ip -n $NS_M link add br0 type bridge
  inm sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n $NS_M link set mcli master br0
  ip -n $NS_M link set msrv master br0
  ip -n $NS_C addr add $C4/24 dev vcli
  ip -n $NS_S addr add $S4/24 dev vsrv
  ip -n $NS_C -6 addr add $C6/64 dev vcli nodad
  ip -n $NS_S -6 addr add $S6/64 dev vsrv nodad
  links_up "$NS_C vcli" "$NS_S vsrv" "$NS_M mcli" "$NS_M msrv"
  ip -n $NS_M link set br0 up
  # wait until the bridge forwards (its ports leave the listening state): a refused connection
  # means the server's namespace answered (IPv6 needs no wait: its addresses skip DAD)
  local i
  for i in $(seq 50); do
    if inc bash -c "exec 3<>/dev/tcp/$S4/9" 2>&1 | grep -q refused; then break; fi
    sleep 0.2
  done
}

impair_on() {  # impair_on ARGS...: replace the bridge by impair.py with these arguments
  ip -n $NS_M link set br0 down
  ip -n $NS_M link set mcli nomaster
  ip -n $NS_M link set msrv nomaster
  ip -n $NS_M link set mcli promisc on
  ip -n $NS_M link set msrv promisc on
  ip netns exec $NS_M python3 "$HERE/impair.py" mcli msrv "$@" 2>"$WORK/impair.log" &
  IMPAIR_PID=$!
  sleep 0.5
}

impair_off() {
  stop "$IMPAIR_PID"; IMPAIR_PID=""
  sed 's/^/    /' "$WORK/impair.log" >&2
  ip -n $NS_M link set mcli master br0
  ip -n $NS_M link set msrv master br0
  ip -n $NS_M link set br0 up
  sleep 1
}

make_certs() {
  cd "$HERE"
  if [ ! -s server.key.pem ] || [ ! -s server.crt.pem ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:$S4,IP:$S6" \
      -keyout server.key.pem -out server.crt.pem 2>/dev/null
  fi
  if [ ! -s client.key.pem ] || [ ! -s client.crt.pem ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
      -subj "/CN=dissector test client" -keyout client.key.pem -out client.crt.pem 2>/dev/null
  fi
  if [ ! -s big.key.pem ] || [ ! -s big.crt.pem ]; then  # an 18.8 KB certificate (550 SANs): more than one 16 KB record
    {
      printf '[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=localhost\n'
      printf '[ext]\nsubjectAltName=@san\n[san]\nDNS.1=localhost\n'
      for i in $(seq 2 550); do printf 'DNS.%d=host-%d.dissector-test.example\n' "$i" "$i"; done
    } > "$WORK/big.cnf"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -config "$WORK/big.cnf" \
      -keyout big.key.pem -out big.crt.pem 2>/dev/null
  fi
  chmod 644 ./*.pem  # throwaway test keys, committed on purpose
  head -c 49152 /dev/urandom | base64 -w 76 > "$WORK/large.txt"   # 66 KB of text for -WWW
  head -c 24576 /dev/urandom | base64 -w 76 > "$WORK/medium.txt"   # 33 KB
  head -c 12288 /dev/urandom | base64 -w 76 > "$WORK/upload.txt"   # 17 KB
  printf 'GET / HTTP/1.0\r\n\r\n' > "$WORK/get.txt"
  printf 'hello from openssl s_server -WWW\n' > "$WORK/hello.txt"   # the small answer of the cipher captures
  printf 'GET /hello.txt HTTP/1.0\r\n\r\n' > "$WORK/get-hello.txt"
  printf '%s:%s\n' "$PSK_USER" "$PSK_HEX" > "$WORK/psk.passwd"
}

# --- one capture ------------------------------------------------------------------------------------

NAME=""
begin() {  # begin NAME [client]: start tcpdump on the server's interface (or the client's)
  NAME=$1
  local ns=$NS_S dev=vsrv
  if [ "${2:-}" = client ]; then ns=$NS_C dev=vcli; fi
  echo "== $NAME (capture on $dev)" >&2
  rm -f "$WORK/$NAME".* "$WORK/sess"*
  start_tcpdump $ns $dev "$WORK/$NAME.pcap" "${FILTER:-tcp port $PORT}"
}

server() { start_server $NS_S "$PORT" tcp "$@"; }  # server CMD...: in dsc-srv, waits for its port

client() { run_client $NS_C 30 "$@"; }  # client CMD...: in dsc-cli, 30 s at most

finish() { finish_capture "$NAME"; }  # finish: stop server and tcpdump, keep NAME.pcap and NAME.keys

srv_say() { printf '%s' "$1" >"$WORK/stdin"; }  # srv_say TEXT: what a plain s_server sends next

# say DELAY LINE DELAY LINE ...: write lines to stdout with pauses (s_client reads its command letters
# R, k, K from stdin; it only acts on them without -ign_eof, so stdin must stay open meanwhile)
say() {
  while [ $# -gt 0 ]; do
    sleep "$1"; shift
    if [ $# -gt 0 ]; then printf '%s' "$1" 2>/dev/null || return 0; shift; fi
  done
  return 0
}
GET=$'GET / HTTP/1.0\r\n\r\n'

# --- OpenSSL ----------------------------------------------------------------------------------------

OSRV=(openssl s_server -accept $PORT -cert "$HERE/server.crt.pem" -key "$HERE/server.key.pem")
OSRV_BIG=(openssl s_server -accept $PORT -cert "$HERE/big.crt.pem" -key "$HERE/big.key.pem")
ocli() {  # ocli HOST ARGS...: s_client with the key log, SNI localhost
  local host=$1; shift
  client openssl s_client -connect "$host:$PORT" -servername localhost -keylogfile "$WORK/$NAME.keys" "$@"
}

openssl-tls10() {
  begin openssl-tls10
  server "${OSRV[@]}" -www -cipher 'DEFAULT:@SECLEVEL=0'
  ocli $S4 -tls1 -cipher 'DEFAULT:@SECLEVEL=0' -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls11() {
  begin openssl-tls11
  server "${OSRV[@]}" -www -cipher 'DEFAULT:@SECLEVEL=0'
  ocli $S4 -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls12-rsa() {  # RSA key exchange: decryptable with the server key alone
  begin openssl-tls12-rsa
  server "${OSRV[@]}" -www
  ocli $S4 -tls1_2 -cipher AES128-SHA -ign_eof < "$WORK/get.txt"
  finish
  cp "$HERE/server.key.pem" "$HERE/$NAME.key.pem"; chmod 644 "$HERE/$NAME.key.pem"
}

openssl-tls12-ecdhe() {
  begin openssl-tls12-ecdhe
  server "${OSRV[@]}" -www
  ocli $S4 -tls1_2 -ign_eof < "$WORK/get.txt"
  finish
}

ocsp_setup() {  # ocsp_setup [V|R]: a throwaway CA, a server certificate it signs, and the CA's OCSP response for
  # it: "good" (V, valid in the CA's index) or "revoked" (R, key compromise)
  local d="$WORK/ocsp" state=${1:-V} revoked=""
  [ "$state" = R ] && revoked="261101000000Z,keyCompromise"
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=dissector test CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:%s\nauthorityInfoAccess=OCSP;URI:http://ocsp.dissector-test.example\n' "$S4" \
    > "$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 3650 \
    -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
  local serial; serial=$(openssl x509 -in "$d/server.crt" -noout -serial | cut -d= -f2)
  printf '%s\t491231235959Z\t%s\t%s\tunknown\t/CN=localhost\n' "$state" "$revoked" "$serial" > "$d/index.txt"
  openssl ocsp -index "$d/index.txt" -rsigner "$d/ca.crt" -rkey "$d/ca.key" -CA "$d/ca.crt" -issuer "$d/ca.crt" \
    -cert "$d/server.crt" -ndays 3650 -respout "$d/resp.der" >/dev/null 2>&1
}

ocsp-capture() {  # ocsp-capture NAME V|R S_CLIENT-OPTIONS...: s_server staples the CA's OCSP response, s_client -status
  local name=$1 state=$2
  shift 2
  ocsp_setup "$state"
  begin "$name"
  server openssl s_server -accept $PORT -cert "$WORK/ocsp/server.crt" -cert_chain "$WORK/ocsp/ca.crt" \
    -key "$WORK/ocsp/server.key" -www -status_file "$WORK/ocsp/resp.der"
  ocli $S4 "$@" -status -ign_eof < "$WORK/get.txt"
  finish
}
# TLS 1.2: a CertificateStatus message after the Certificate; TLS 1.3: the response rides in the Certificate
# message's first entry (status_request); revoked: s_client goes on regardless
openssl-tls12-ocsp() { ocsp-capture openssl-tls12-ocsp V -tls1_2; }
openssl-tls13-ocsp() { ocsp-capture openssl-tls13-ocsp V -tls1_3; }
openssl-tls13-ocsp-revoked() { ocsp-capture openssl-tls13-ocsp-revoked R -tls1_3; }

openssl-tls12-mtls() {
  begin openssl-tls12-mtls
  server "${OSRV[@]}" -www -Verify 1 -CAfile "$HERE/client.crt.pem"
  ocli $S4 -tls1_2 -cert "$HERE/client.crt.pem" -key "$HERE/client.key.pem" -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls12-reneg() {  # client-initiated secure renegotiation ("R"), then the request
  begin openssl-tls12-reneg
  server "${OSRV[@]}" -www -client_renegotiation
  say 0.5 $'R\n' 0.5 "$GET" 2 | ocli $S4 -tls1_2
  finish
}

openssl-tls12-resume-id() {  # two connections, no tickets: the second resumes by session ID
  begin openssl-tls12-resume-id
  server "${OSRV[@]}" -www
  ocli $S4 -tls1_2 -no_ticket -sess_out "$WORK/sess" -ign_eof < "$WORK/get.txt"
  ocli $S4 -tls1_2 -no_ticket -sess_in "$WORK/sess" -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls12-resume-ticket() {  # two connections: the second resumes with the first one's ticket
  begin openssl-tls12-resume-ticket
  server "${OSRV[@]}" -www
  ocli $S4 -tls1_2 -sess_out "$WORK/sess" -ign_eof < "$WORK/get.txt"
  ocli $S4 -tls1_2 -sess_in "$WORK/sess" -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls13() {
  begin openssl-tls13
  server "${OSRV[@]}" -www
  ocli $S4 -tls1_3 -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls13-hrr() {  # the client key-shares X25519 only, the server wants P-256: HelloRetryRequest
  begin openssl-tls13-hrr
  server "${OSRV[@]}" -www -groups P-256
  ocli $S4 -tls1_3 -groups X25519:P-256 -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls13-resume() {  # two connections: PSK resumption from the first one's NewSessionTicket
  begin openssl-tls13-resume
  server "${OSRV[@]}" -www
  ocli $S4 -tls1_3 -sess_out "$WORK/sess" -ign_eof < "$WORK/get.txt"
  ocli $S4 -tls1_3 -sess_in "$WORK/sess" -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls13-0rtt() {  # two connections: the second resumes and sends its request as 0-RTT early data
  # s_server refuses -early_data with -www, so it runs as a plain server here: it prints what it
  # receives and sends what is written to its stdin (srv_say), here a small HTTP response
  begin openssl-tls13-0rtt
  server "${OSRV[@]}" -early_data
  say 0.2 "$GET" 1.5 | ocli $S4 -tls1_3 -sess_out "$WORK/sess" &
  sleep 0.8; srv_say $'HTTP/1.0 200 ok\r\n\r\nfirst connection\n'; wait $!
  say 1.5 | ocli $S4 -tls1_3 -sess_in "$WORK/sess" -early_data "$WORK/get.txt" &
  sleep 0.8; srv_say $'HTTP/1.0 200 ok\r\n\r\nsecond connection (0-RTT request)\n'; wait $!
  finish
}

openssl-tls13-0rtt-rejected() {  # the ticket allows early data (-max_early_data), the server does not read it
  # (no -early_data): the second connection's 0-RTT request is skipped by the server, and s_client sends it again
  begin openssl-tls13-0rtt-rejected
  server "${OSRV[@]}" -www -max_early_data 16384
  ocli $S4 -tls1_3 -sess_out "$WORK/sess" -ign_eof < "$WORK/get.txt"
  ocli $S4 -tls1_3 -sess_in "$WORK/sess" -early_data "$WORK/get.txt" -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls13-0rtt-hrr() {  # the resumed client key-shares X25519 only, the server wants P-256: its HelloRetryRequest
  # rejects the early data the client sent with its first ClientHello (RFC 8446 4.1.2)
  begin openssl-tls13-0rtt-hrr
  server "${OSRV[@]}" -www -max_early_data 16384 -groups P-256
  ocli $S4 -tls1_3 -groups P-256 -sess_out "$WORK/sess" -ign_eof < "$WORK/get.txt"
  ocli $S4 -tls1_3 -groups X25519:P-256 -sess_in "$WORK/sess" -early_data "$WORK/get.txt" -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls13-keyupdate() {  # "k": KeyUpdate(update_not_requested), "K": KeyUpdate(update_requested)
  begin openssl-tls13-keyupdate
  server "${OSRV[@]}" -www
  say 0.5 $'k\n' 0.5 $'K\n' 0.5 "$GET" 2 | ocli $S4 -tls1_3
  finish
}

openssl-tls13-large() {  # the 18.8 KB certificate (encrypted, two records) and a 66 KB response: 16 KB records over many segments
  begin openssl-tls13-large
  server "${OSRV_BIG[@]}" -WWW
  printf 'GET /large.txt HTTP/1.0\r\n\r\n' | ocli $S4 -tls1_3 -ign_eof
  finish
}

openssl-tls13-ipv6() {
  begin openssl-tls13-ipv6
  server "${OSRV[@]}" -www   # s_server listens on a dual-stack socket
  ocli "[$S6]" -tls1_3 -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls13-vxlan() {  # inside a VXLAN overlay (VNI 42, UDP 4789) over the same link; captured on the underlay
  local spec
  for spec in "$NS_C $C4 $S4 $VX_C" "$NS_S $S4 $C4 $VX_S"; do
    set -- $spec
    ip -n "$1" link add vx42 type vxlan id 42 local "$2" remote "$3" dstport 4789 dev "$([ "$1" = $NS_C ] && echo vcli || echo vsrv)"
    ip -n "$1" addr add "$4/24" dev vx42
    ip -n "$1" link set vx42 up
  done
  FILTER="udp port 4789" begin openssl-tls13-vxlan
  server "${OSRV[@]}" -www
  ocli $VX_S -tls1_3 -ign_eof < "$WORK/get.txt"
  finish
  ip -n $NS_C link del vx42; ip -n $NS_S link del vx42
}

openssl-tls12-bigcert() {  # the 18.8 KB certificate in the clear: one handshake message over two records, 14 segments
  begin openssl-tls12-bigcert
  server "${OSRV_BIG[@]}" -www
  ocli $S4 -tls1_2 -ign_eof < "$WORK/get.txt"
  finish
}

openssl-tls12-lossy() {  # the 18.8 KB certificate and a 33 KB response through impair.py: loss, delay, reordering.
  # Captured on the client's side, so that the server's segments show lost and reordered in the capture
  begin openssl-tls12-lossy client
  impair_on --delay 5 --reorder 25 --loss 10 --seed 7
  server "${OSRV_BIG[@]}" -WWW
  printf 'GET /medium.txt HTTP/1.0\r\n\r\n' | ocli $S4 -tls1_2 -ign_eof
  finish
  impair_off
}

# --- OpenSSL: one capture per cipher family ---------------------------------------------------------
# Both ends OpenSSL 3.0, the suite forced on both. The server runs -WWW and serves a 33-byte file, so
# each capture stays small. @SECLEVEL=0 for NULL (refused at OpenSSL 3's default level 2); the legacy
# provider for SEED. OpenSSL 3 here has no RC4, 3DES, DES or IDEA suites in libssl (built without
# weak-ssl-ciphers; no IDEA at all): RC4 and 3DES come from GnuTLS below.
OLEGACY=(-provider legacy -provider default)
ocipher() {  # ocipher VERSION-FLAG CIPHER-STRING [CLIENT-ARGS...]: one -WWW GET with one forced suite
  local vflag=$1 cipher=$2; shift 2
  server "${OSRV[@]}" -WWW "${OLEGACY[@]}" -cipher "$cipher"
  ocli $S4 "$vflag" "${OLEGACY[@]}" -cipher "$cipher" -ign_eof "$@" < "$WORK/get-hello.txt"
}
osuite13() {  # osuite13 SUITE: one -WWW GET over TLS 1.3 with one forced suite
  server "${OSRV[@]}" -WWW -ciphersuites "$1"
  ocli $S4 -tls1_3 -ciphersuites "$1" -ign_eof < "$WORK/get-hello.txt"
}
keep_server_key() { cp "$HERE/server.key.pem" "$HERE/$NAME.key.pem"; chmod 644 "$HERE/$NAME.key.pem"; }

openssl-tls12-null() {  # TLS_RSA_WITH_NULL_SHA256: no encryption, HMAC-SHA256 only; RSA key exchange
  begin openssl-tls12-null
  ocipher -tls1_2 'NULL-SHA256@SECLEVEL=0'
  finish; keep_server_key
}

openssl-tls12-camellia() {  # TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384: HMAC-SHA384, MAC-then-encrypt (-no_etm)
  begin openssl-tls12-camellia
  ocipher -tls1_2 'ECDHE-RSA-CAMELLIA256-SHA384' -no_etm
  finish
}

openssl-tls12-seed() {  # TLS_RSA_WITH_SEED_CBC_SHA (legacy provider), encrypt-then-MAC; RSA key exchange
  begin openssl-tls12-seed
  ocipher -tls1_2 'SEED-SHA'
  finish; keep_server_key
}

openssl-tls12-ccm() {  # TLS_RSA_WITH_AES_128_CCM (16-byte tag); RSA key exchange
  begin openssl-tls12-ccm
  ocipher -tls1_2 'AES128-CCM'
  finish; keep_server_key
}

openssl-tls12-dhe-ccm8() {  # TLS_DHE_RSA_WITH_AES_256_CCM_8: finite-field DHE (key log only), 8-byte tag
  begin openssl-tls12-dhe-ccm8
  ocipher -tls1_2 'DHE-RSA-AES256-CCM8'
  finish
}

openssl-tls13-ccm() {  # TLS_AES_128_CCM_SHA256 (off by default in s_server and s_client)
  begin openssl-tls13-ccm
  osuite13 TLS_AES_128_CCM_SHA256
  finish
}

openssl-tls13-ccm8() {  # TLS_AES_128_CCM_8_SHA256
  begin openssl-tls13-ccm8
  osuite13 TLS_AES_128_CCM_8_SHA256
  finish
}

openssl-tls12-dhe() {  # TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: finite-field DHE (key log only)
  begin openssl-tls12-dhe
  ocipher -tls1_2 'DHE-RSA-AES128-GCM-SHA256'
  finish
}

openssl-tls12-chacha20() {  # TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (RFC 7905 nonce: IV XOR sequence number)
  begin openssl-tls12-chacha20
  ocipher -tls1_2 'ECDHE-RSA-CHACHA20-POLY1305'
  finish
}

openssl-tls13-aes128gcm() {  # TLS_AES_128_GCM_SHA256
  begin openssl-tls13-aes128gcm
  osuite13 TLS_AES_128_GCM_SHA256
  finish
}

# --- other servers: lighttpd built on wolfSSL and on mbed TLS, Botan's own server --------------------------------
# (apt-get install -y lighttpd lighttpd-mod-wolfssl lighttpd-mod-mbedtls botan); the client is s_client, whose key
# log decrypts the sessions

lighttpd_conf() {  # lighttpd_conf wolfssl|mbedtls: a static HTTPS server on $PORT with the server certificate
  mkdir -p "$WORK/www"
  printf 'hello from lighttpd over %s\n' "$1" > "$WORK/www/index.html"
  cat > "$WORK/lighttpd-$1.conf" <<EOF
server.modules = ("mod_$1")
server.document-root = "$WORK/www"
server.port = $PORT
server.errorlog = "$WORK/lighttpd.err"
server.pid-file = "$WORK/lighttpd.pid"
ssl.engine = "enable"
ssl.pemfile = "$HERE/server.crt.pem"
ssl.privkey = "$HERE/server.key.pem"
EOF
}

lighttpd-capture() {  # lighttpd-capture NAME TLS-LIBRARY S_CLIENT-OPTIONS...
  local name=$1 lib=$2
  shift 2
  lighttpd_conf "$lib"
  begin "$name"
  server lighttpd -D -f "$WORK/lighttpd-$lib.conf"
  printf 'GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' | ocli $S4 "$@" -ign_eof
  finish
}
wolfssl-tls13() { lighttpd-capture wolfssl-tls13 wolfssl -tls1_3; }
wolfssl-tls12() { lighttpd-capture wolfssl-tls12 wolfssl -tls1_2; }
mbedtls-tls12() { lighttpd-capture mbedtls-tls12 mbedtls -tls1_2; }
# (lighttpd offers neither library's static RSA suites: these sessions need the key log)

botan-tls12() {  # Botan 2's TLS server (its own TLS stack, TLS 1.2 at most): it echoes what it is sent
  begin botan-tls12
  server botan tls_server "$HERE/server.crt.pem" "$HERE/server.key.pem" --port=$PORT
  say 0.3 $'hello botan\n' 1 | ocli $S4 -tls1_2
  finish
}

# Erlang/OTP's ssl application (its own TLS implementation; apt-get install -y erlang-base erlang-ssl), through
# erlang_tls_peer.escript: as a client against s_server, and as a server for s_client; its key log either way
ERL_PEER=(escript "$HERE/erlang_tls_peer.escript")
erlang-client-tls13() { begin erlang-client-tls13; server "${OSRV[@]}" -www; client "${ERL_PEER[@]}" client $S4 $PORT tlsv1.3 "$WORK/$NAME.keys"; finish; }
erlang-client-tls12() { begin erlang-client-tls12; server "${OSRV[@]}" -www; client "${ERL_PEER[@]}" client $S4 $PORT tlsv1.2 "$WORK/$NAME.keys"; finish; }
erlang-server-tls13() {
  begin erlang-server-tls13
  server "${ERL_PEER[@]}" server $PORT "$HERE/server.crt.pem" "$HERE/server.key.pem" "$WORK/$NAME.keys"
  client openssl s_client -connect $S4:$PORT -servername localhost -tls1_3 -ign_eof < "$WORK/get.txt"
  finish
}

# --- GnuTLS -----------------------------------------------------------------------------------------

GSRV=(gnutls-serv -p $PORT --x509certfile "$HERE/server.crt.pem" --x509keyfile "$HERE/server.key.pem")
gcli() {  # gcli HOST ARGS...: gnutls-cli with SSLKEYLOGFILE, SNI localhost, no certificate check
  local host=$1; shift
  client env SSLKEYLOGFILE="$WORK/$NAME.keys" gnutls-cli -p $PORT --insecure --sni-hostname localhost "$@" "$host"
}
TLS12='NORMAL:-VERS-ALL:+VERS-TLS1.2'
TLS13='NORMAL:-VERS-ALL:+VERS-TLS1.3'

gnutls-tls10() {  # TLS 1.0 (ECDHE, AES-CBC with HMAC-SHA1, implicit IVs)
  begin gnutls-tls10
  server "${GSRV[@]}" --http --priority 'NORMAL:+VERS-TLS1.0'
  say 0 "$GET" 1 | gcli $S4 --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.0'
  finish
}

gnutls-tls12-rsa() {  # RSA key exchange, AES-128-CBC (encrypt-then-MAC): decryptable with the server key alone
  begin gnutls-tls12-rsa
  server "${GSRV[@]}" --http --priority 'NORMAL:+RSA'
  say 0 "$GET" 1 | gcli $S4 --priority "$TLS12:-KX-ALL:+RSA:-CIPHER-ALL:+AES-128-CBC"
  finish
  cp "$HERE/server.key.pem" "$HERE/$NAME.key.pem"; chmod 644 "$HERE/$NAME.key.pem"
}

gnutls-rawpk() {  # gnutls-rawpk NAME PRIORITY: raw public keys (RFC 7250) instead of an X.509 certificate
  openssl pkey -in "$HERE/server.key.pem" -pubout -out "$WORK/server.pub.pem" 2>/dev/null
  begin "$1"
  server gnutls-serv -p $PORT --rawpkkeyfile "$HERE/server.key.pem" --rawpkfile "$WORK/server.pub.pem" --http \
    --priority "NORMAL:+CTYPE-SRV-RAWPK"
  say 0 "$GET" 1 | gcli $S4 --priority "$2:+CTYPE-SRV-RAWPK"
  finish
}
gnutls-tls12-rawpk() { gnutls-rawpk gnutls-tls12-rawpk "$TLS12"; }  # server_certificate_type RawPublicKey
gnutls-tls13-rawpk() { gnutls-rawpk gnutls-tls13-rawpk "$TLS13"; }

gnutls-tls13-hrr() {  # the server accepts only P-256, the client key-shares X25519 and P-384 (its first two): HelloRetryRequest
  begin gnutls-tls13-hrr
  server "${GSRV[@]}" --http --priority 'NORMAL:-GROUP-ALL:+GROUP-SECP256R1'
  say 0 "$GET" 1 | gcli $S4 --priority "$TLS13:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP384R1:+GROUP-SECP256R1"
  finish
}

gnutls-tls12() {
  begin gnutls-tls12
  server "${GSRV[@]}" --http
  say 0 "$GET" 1 | gcli $S4 --priority $TLS12
  finish
}

gnutls-tls13() {
  begin gnutls-tls13
  server "${GSRV[@]}" --http
  say 0 "$GET" 1 | gcli $S4 --priority $TLS13
  finish
}

gnutls-tls12-resume() {  # echo server; inline command ^resume^: a second connection resumes the first (ticket)
  begin gnutls-tls12-resume
  server "${GSRV[@]}" --echo
  say 0.3 $'first connection\n' 0.5 $'^resume^\n' 0.5 $'second connection (resumed)\n' 0.5 \
    | gcli $S4 --priority $TLS12 --inline-commands
  finish
}

gnutls-tls13-resume() {  # the same in TLS 1.3: PSK resumption with the ticket of the first connection
  begin gnutls-tls13-resume
  server "${GSRV[@]}" --echo
  say 0.3 $'first connection\n' 0.5 $'^resume^\n' 0.5 $'second connection (resumed)\n' 0.5 \
    | gcli $S4 --priority $TLS13 --inline-commands
  finish
}

gnutls-tls13-keyupdate() {  # echo server; inline commands ^rekey1^ (update_not_requested), ^rekey^ (requested)
  begin gnutls-tls13-keyupdate
  server "${GSRV[@]}" --echo
  say 0.3 $'before\n' 0.3 $'^rekey1^\n' 0.3 $'after rekey1\n' 0.3 $'^rekey^\n' 0.3 $'after rekey\n' 0.5 \
    | gcli $S4 --priority $TLS13 --inline-commands
  finish
}

gnutls-tls13-0rtt() {  # --resume with --earlydata: the second connection sends its first line as 0-RTT data
  begin gnutls-tls13-0rtt
  server "${GSRV[@]}" --echo --earlydata
  printf 'early data line\n' > "$WORK/early.txt"
  say 0.3 $'first connection\n' 1 | gcli $S4 --priority $TLS13 --resume --earlydata "$WORK/early.txt"
  finish
}

gnutls-tls13-mtls() {
  begin gnutls-tls13-mtls
  server "${GSRV[@]}" --http --require-client-cert --verify-client-cert --x509cafile "$HERE/client.crt.pem"
  say 0 "$GET" 1 | gcli $S4 --priority $TLS13 --x509certfile "$HERE/client.crt.pem" --x509keyfile "$HERE/client.key.pem"
  finish
}

gnutls-tls13-psk() {  # TLS 1.3 on an external PSK with no (EC)DHE (psk_ke): decryptable with NAME.psk alone
  begin gnutls-tls13-psk
  server "${GSRV[@]}" --http --pskpasswd "$WORK/psk.passwd" --priority 'NORMAL:+PSK'
  say 0 "$GET" 1 | gcli $S4 --priority "$TLS13:-KX-ALL:+PSK" --pskusername $PSK_USER --pskkey $PSK_HEX
  finish
  echo "$PSK_HEX" > "$HERE/$NAME.psk"
}

gnutls-openssl-tls13-psk() {  # the same between gnutls-cli (psk_ke only) and s_server (-allow_no_dhe_kex)
  begin gnutls-openssl-tls13-psk
  server openssl s_server -accept $PORT -nocert -psk $PSK_HEX -psk_identity $PSK_USER -tls1_3 -allow_no_dhe_kex -www
  say 0 "$GET" 1 | gcli $S4 --priority "$TLS13:-KX-ALL:+PSK" --pskusername $PSK_USER --pskkey $PSK_HEX
  finish
  echo "$PSK_HEX" > "$HERE/$NAME.psk"
}

openssl-tls13-psk-dhe() {  # TLS 1.3 on an external PSK with ECDHE (psk_dhe_ke, OpenSSL's choice): the PSK alone
  begin openssl-tls13-psk-dhe  # cannot decrypt it (the key log can); no NAME.psk, gnutls-tls13-psk.psk is the same
  server openssl s_server -accept $PORT -nocert -psk $PSK_HEX -psk_identity $PSK_USER -tls1_3 -www
  ocli $S4 -psk $PSK_HEX -psk_identity $PSK_USER -tls1_3 -ign_eof < "$WORK/get.txt"
  finish
}

gnutls-tls12-psk() {  # TLS 1.2 plain PSK key exchange: decryptable with NAME.psk alone
  begin gnutls-tls12-psk
  server "${GSRV[@]}" --http --pskpasswd "$WORK/psk.passwd" --priority 'NORMAL:+PSK'
  say 0 "$GET" 1 | gcli $S4 --priority "$TLS12:-KX-ALL:+PSK" --pskusername $PSK_USER --pskkey $PSK_HEX
  finish
  echo "$PSK_HEX" > "$HERE/$NAME.psk"
}

gnutls-tls12-rehandshake() {  # --rehandshake: the client renegotiates right after the first handshake
  begin gnutls-tls12-rehandshake
  server "${GSRV[@]}" --http
  say 0 "$GET" 1 | gcli $S4 --priority $TLS12 --rehandshake
  finish
}

gnutls-tls13-ipv6() {
  begin gnutls-tls13-ipv6
  server "${GSRV[@]}" --http
  say 0 "$GET" 1 | gcli $S6 --priority $TLS13
  finish
}

gnutls-tls13-lossy() {  # echo server; 17 KB uploaded and echoed back through impair.py
  begin gnutls-tls13-lossy
  impair_on --delay 5 --reorder 25 --loss 10 --seed 4
  server "${GSRV[@]}" --echo
  { cat "$WORK/upload.txt"; sleep 3; } | gcli $S4 --priority $TLS13
  finish
  impair_off
}

# --- GnuTLS: one capture per cipher family ----------------------------------------------------------
# Both ends GnuTLS 3.7 (the only peer here with RC4 and 3DES suites). The server allows every legacy
# suite and version (GLEGACY; +NULL turns TLS 1.3 off in GnuTLS, so the TLS 1.3 CCM captures use
# GCCM13), the client's priority string leaves one suite. gnutls-serv --http.
# GnuTLS 3.7 (like OpenSSL 3) is built without SSL 3.0: +VERS-SSL3.0 is not a known priority.
GLEGACY='NORMAL:+VERS-TLS1.1:+VERS-TLS1.0:+RSA:+DHE-RSA:+ARCFOUR-128:+3DES-CBC:+NULL:+CAMELLIA-128-CBC:+CAMELLIA-256-CBC:+AES-128-CCM:+AES-256-CCM:+AES-128-CCM-8:+MD5:+SHA256'
GCCM13='NORMAL:+AES-128-CCM:+AES-128-CCM-8'
gcipher() {  # gcipher HOST CLIENT-PRIORITY [SERVER-PRIORITY]: one GET / against gnutls-serv --http
  server "${GSRV[@]}" --http --priority "${3:-$GLEGACY}"
  say 0 "$GET" 1 | gcli "$1" --priority "$2"
}

gnutls-tls12-3des() {  # TLS_RSA_WITH_3DES_EDE_CBC_SHA, encrypt-then-MAC; RSA key exchange
  begin gnutls-tls12-3des
  gcipher $S4 "$TLS12:-KX-ALL:+RSA:-CIPHER-ALL:+3DES-CBC"
  finish; keep_server_key
}

gnutls-tls10-dhe-3des() {  # TLS 1.0 TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA: finite-field DHE, MAC-then-encrypt
  # (%NO_ETM), CBC IVs chained across records with an 8-byte block
  begin gnutls-tls10-dhe-3des
  gcipher $S4 'NORMAL:-VERS-ALL:+VERS-TLS1.0:-KX-ALL:+DHE-RSA:-CIPHER-ALL:+3DES-CBC:%NO_ETM'
  finish
}

gnutls-tls12-rc4() {  # TLS_RSA_WITH_RC4_128_SHA; RSA key exchange
  begin gnutls-tls12-rc4
  gcipher $S4 "$TLS12:-KX-ALL:+RSA:-CIPHER-ALL:+ARCFOUR-128:-MAC-ALL:+SHA1"
  finish; keep_server_key
}

gnutls-tls11-rc4-md5() {  # TLS 1.1 TLS_RSA_WITH_RC4_128_MD5: HMAC-MD5; RSA key exchange
  begin gnutls-tls11-rc4-md5
  gcipher $S4 'NORMAL:-VERS-ALL:+VERS-TLS1.1:-KX-ALL:+RSA:-CIPHER-ALL:+ARCFOUR-128:-MAC-ALL:+MD5'
  finish; keep_server_key
}

gnutls-tls12-null() {  # TLS_RSA_WITH_NULL_SHA: no encryption, HMAC-SHA1 only; RSA key exchange
  begin gnutls-tls12-null
  gcipher $S4 "$TLS12:-KX-ALL:+RSA:-CIPHER-ALL:+NULL:-MAC-ALL:+SHA1"
  finish; keep_server_key
}

gnutls-tls12-camellia() {  # TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256, encrypt-then-MAC; RSA key exchange
  begin gnutls-tls12-camellia
  gcipher $S4 "$TLS12:-KX-ALL:+RSA:-CIPHER-ALL:+CAMELLIA-128-CBC:-MAC-ALL:+SHA256"
  finish; keep_server_key
}

gnutls-tls12-dhe-ccm() {  # TLS_DHE_RSA_WITH_AES_256_CCM: finite-field DHE (key log only)
  begin gnutls-tls12-dhe-ccm
  gcipher $S4 "$TLS12:-KX-ALL:+DHE-RSA:-CIPHER-ALL:+AES-256-CCM"
  finish
}

gnutls-tls12-ccm8() {  # TLS_RSA_WITH_AES_128_CCM_8; RSA key exchange
  begin gnutls-tls12-ccm8
  gcipher $S4 "$TLS12:-KX-ALL:+RSA:-CIPHER-ALL:+AES-128-CCM-8"
  finish; keep_server_key
}

gnutls-tls13-ccm() {  # TLS_AES_128_CCM_SHA256
  begin gnutls-tls13-ccm
  gcipher $S4 "$TLS13:-CIPHER-ALL:+AES-128-CCM" "$GCCM13"
  finish
}

gnutls-tls13-ccm8() {  # TLS_AES_128_CCM_8_SHA256
  begin gnutls-tls13-ccm8
  gcipher $S4 "$TLS13:-CIPHER-ALL:+AES-128-CCM-8" "$GCCM13"
  finish
}

gnutls-tls13-chacha20() {  # TLS_CHACHA20_POLY1305_SHA256
  begin gnutls-tls13-chacha20
  gcipher $S4 "$TLS13:-CIPHER-ALL:+CHACHA20-POLY1305" NORMAL
  finish
}

# --- main -------------------------------------------------------------------------------------------

setup_network
make_certs
for s in "${SCENARIOS[@]}"; do "$s"; done
echo "done: ${#SCENARIOS[@]} captures in $HERE" >&2
