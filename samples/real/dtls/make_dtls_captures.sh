#!/usr/bin/env bash
# make_dtls_captures.sh - capture real OpenSSL and GnuTLS peers talking DTLS (1.0 and 1.2, over UDP)
# between two network namespaces, with the keys needed to decrypt them (see README.md here).
#
#   sudo ./make_dtls_captures.sh            # (re)make every capture
#   sudo ./make_dtls_captures.sh NAME...    # (re)make only these
#   ./make_dtls_captures.sh --list          # list the scenario names
#
# Needs root (network namespaces, tcpdump) and: iproute2 (ip, ss), ethtool, tcpdump, openssl,
# gnutls-bin (gnutls-serv, gnutls-cli), nftables (nft, for openssl-dtls12-lossy only). On Debian 12:
#   apt-get install -y gnutls-bin openssl tcpdump iproute2 ethtool nftables
#
# Network: two namespaces made here and removed on exit (also on error or Ctrl-C), joined by one veth pair:
#
#   dsd-cli [vcli 10.99.0.2/24 fd99::2/64] ==veth== [vsrv 10.99.0.1/24 fd99::1/64] dsd-srv
#
# The addresses are those of ../make_real_captures.sh (so ../server.crt.pem's SANs match); they exist only
# inside these namespaces (other names than that script's, so both can run at once) and there is no
# default route: nothing leaves them. Offloads are off on both ends of the veth.
# The server listens on UDP port 4433 in dsd-srv; tcpdump captures on vsrv (filter "udp port 4433").
#
# Every scenario writes NAME.pcap and NAME.keys (the client's NSS key log: s_client -keylogfile, or
# SSLKEYLOGFILE for gnutls-cli); NAME.key.pem (a copy of ../server.key.pem) for RSA key exchange; NAME.psk
# (hex) for PSK. The server certificate and key are ../server.crt.pem and ../server.key.pem (RSA 2048,
# made by ../make_real_captures.sh; this script does not make them). Captures are overwritten.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REAL=$(cd "$HERE/.." && pwd)
NS_C=dsd-cli NS_S=dsd-srv
S4=10.99.0.1 C4=10.99.0.2 S6=fd99::1 C6=fd99::2
PORT=4433
PSK_HEX=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
PSK_ID=dissector

SCENARIOS=(
  openssl-dtls12-ecdhe openssl-dtls12-rsa openssl-dtls10 openssl-dtls12-fragmented
  openssl-dtls12-resume openssl-dtls12-ipv6 openssl-dtls12-lossy openssl-dtls12-psk
  gnutls-dtls12 gnutls-dtls10
)

if [ "${1:-}" = --list ]; then printf '%s\n' "${SCENARIOS[@]}"; exit 0; fi
# shellcheck source=../netns-lib.sh
. "$REAL/netns-lib.sh"  # stop, remove_namespaces, keep_capture (copies $WORK/NAME.{pcap,keys} to $HERE)
require make_dtls_captures.sh ip ss ethtool tcpdump openssl gnutls-serv gnutls-cli
for f in server.crt.pem server.key.pem; do
  [ -s "$REAL/$f" ] || { echo "make_dtls_captures.sh: $REAL/$f is missing (run ../make_real_captures.sh once)" >&2; exit 1; }
done
select_names SCENARIOS scenario "$@"

WORK=$(mktemp -d /tmp/dtls-captures.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""

NAMESPACES=($NS_C $NS_S)

trap_teardown

inc() { ip netns exec $NS_C "$@"; }
ins() { ip netns exec $NS_S "$@"; }

setup_network() {
  two_namespaces $NS_C vcli 02:99:00:00:01:02 $NS_S vsrv 02:99:00:00:01:01
  ip -n $NS_C addr add $C4/24 dev vcli
  ip -n $NS_S addr add $S4/24 dev vsrv
  ip -n $NS_C -6 addr add $C6/64 dev vcli nodad
  ip -n $NS_S -6 addr add $S6/64 dev vsrv nodad
  links_up "$NS_C vcli" "$NS_S vsrv"
  # a static neighbour entry each way: no ARP / neighbour discovery delays the first datagram
  ip -n $NS_C neigh replace $S4 lladdr 02:99:00:00:01:01 dev vcli nud permanent
  ip -n $NS_S neigh replace $C4 lladdr 02:99:00:00:01:02 dev vsrv nud permanent
  ip -n $NS_C neigh replace $S6 lladdr 02:99:00:00:01:01 dev vcli nud permanent
  ip -n $NS_S neigh replace $C6 lladdr 02:99:00:00:01:02 dev vsrv nud permanent
}

# --- one capture ------------------------------------------------------------------------------------

NAME=""
begin() {  # begin NAME: start tcpdump on the server's interface
  NAME=$1
  echo "== $NAME" >&2
  rm -f "$WORK/$NAME".* "$WORK/sess"*
  OX=0
  start_tcpdump $NS_S vsrv "$WORK/$NAME.pcap" "udp port $PORT"
}

server() { start_server $NS_S "$PORT" udp "$@"; }  # server CMD...: in dsd-srv, waits for its port

client() { run_client $NS_C 60 "$@"; }  # client CMD...: in dsd-cli, 60 s at most

finish() { finish_capture "$NAME"; }  # finish: stop server and tcpdump, keep NAME.pcap and NAME.keys

wait_log() {  # wait_log FILE TEXT N: until TEXT is in FILE N times (60 s at most)
  local i
  for i in $(seq 1200); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.05
  done
  echo "timeout waiting for '$2' in $1" >&2; return 1
}

srv_say() { printf '%s' "$1" >"$WORK/stdin"; }  # srv_say TEXT: what the server sends next (s_server reads its stdin)

keep_server_key() { cp "$REAL/server.key.pem" "$HERE/$NAME.key.pem"; chmod 644 "$HERE/$NAME.key.pem"; }

# --- OpenSSL ----------------------------------------------------------------------------------------

# s_server runs as a plain server: it prints what it receives and sends what is written to its stdin
# (srv_say). For DTLS it always does the cookie exchange (SSL_OP_COOKIE_EXCHANGE: ClientHello,
# HelloVerifyRequest, ClientHello with the cookie). Its UDP socket is not connected, so it cannot query
# the path MTU and falls back to OpenSSL's minimum (256 bytes of link MTU: every flight fragmented):
# -mtu 1500 (the veth's MTU) gives it the real one, except in openssl-dtls12-fragmented. (s_client's
# socket is connected: it finds 1500 itself; -mtu on s_client also turns the query off, SSL_OP_NO_QUERY_MTU.)
# There is no separate HelloVerifyRequest capture: every OpenSSL capture has one, and `s_server -listen`
# (the stateless DTLSv1_listen) was tried and puts the same messages, message_seq and record sequence
# numbers on the wire as the default (stateful) cookie exchange.
OSRV=(openssl s_server -port $PORT -cert "$REAL/server.crt.pem" -key "$REAL/server.key.pem")
ocli() {  # ocli HOST ARGS...: s_client with the key log (appended to), SNI localhost
  local host=$1; shift
  client openssl s_client -connect "$host:$PORT" -servername localhost -keylogfile "$WORK/$NAME.keys" "$@"
}

# oexchange HOST CLIENT-ARGS...: one association: once the handshake is done (s_client reads its stdin
# only then) the client sends a line; when the server has it, the server answers with two lines (one
# record); when the client has them, it sends a last line and closes at stdin EOF (close_notify);
# s_server answers the client's close_notify with its own. Driven by what the peers print, not by timing.
OX=0  # associations so far in this capture (the logs are appended to)
oexchange() {
  local host=$1; shift
  OX=$((OX + 1))
  {
    sleep 0.2; printf 'hello from the DTLS client\n'
    wait_log "$WORK/$NAME.client.log" 'second line from the server' $OX
    sleep 0.2; printf 'bye from the client\n'; sleep 0.5
  } | ocli "$host" "$@" &
  local pid=$!
  wait_log "$WORK/$NAME.server.log" 'hello from the DTLS client' $OX \
    && srv_say $'hello from the DTLS server\nsecond line from the server\n'
  wait $pid
}

openssl-dtls12-ecdhe() {  # DTLS 1.2, ECDHE-RSA, AES-256-GCM (the default suite)
  begin openssl-dtls12-ecdhe
  server "${OSRV[@]}" -dtls1_2 -mtu 1500
  oexchange $S4 -dtls1_2
  finish
}

openssl-dtls12-rsa() {  # RSA key exchange, AES-128-CBC, HMAC-SHA1, encrypt-then-MAC: decryptable with the server key alone
  begin openssl-dtls12-rsa
  server "${OSRV[@]}" -dtls1_2 -mtu 1500
  oexchange $S4 -dtls1_2 -cipher AES128-SHA
  finish; keep_server_key
}

openssl-dtls10() {  # DTLS 1.0 (@SECLEVEL=0 for its MD5+SHA1 signatures), ECDHE-RSA-AES256-SHA, MAC-then-encrypt (-no_etm)
  begin openssl-dtls10
  server "${OSRV[@]}" -dtls1 -mtu 1500 -cipher 'DEFAULT:@SECLEVEL=0'
  oexchange $S4 -dtls1 -cipher 'ECDHE-RSA-AES256-SHA:@SECLEVEL=0' -no_etm
  finish
}

openssl-dtls12-fragmented() {  # link MTU 300 on both peers: the server's flight in 272-byte datagrams
  begin openssl-dtls12-fragmented
  server "${OSRV[@]}" -dtls1_2 -mtu 300
  oexchange $S4 -dtls1_2 -mtu 300
  finish
}

openssl-dtls12-resume() {  # two associations: the second resumes the first with its session ticket
  begin openssl-dtls12-resume
  server "${OSRV[@]}" -dtls1_2 -mtu 1500
  oexchange $S4 -dtls1_2 -sess_out "$WORK/sess"
  oexchange $S4 -dtls1_2 -sess_in "$WORK/sess"
  finish
}

openssl-dtls12-ipv6() {
  begin openssl-dtls12-ipv6
  server "${OSRV[@]}" -dtls1_2 -mtu 1500 -6
  oexchange "[$S6]" -dtls1_2
  finish
}

# Loss for openssl-dtls12-lossy: this kernel has no sch_netem (`tc qdisc add ... netem` is refused) and
# ../impair.py forwards TCP only, so an nftables rule in each peer's namespace drops, at random, incoming
# datagrams whose first record is a handshake (22) or ChangeCipherSpec (20) record: those a DTLS peer
# retransmits (it never resends application data or alerts, which are left alone). The rules sit on
# the input hook, after the capture point (tcpdump on vsrv sees a frame before the server's stack
# drops it, and the server's frames as they leave): every lost datagram is in the capture, followed by
# the retransmitted flight(s). numgen random is not seeded: which datagrams are lost changes per run.
LOSS_PCT=30
loss_on() {
  ip netns exec $NS_S nft -f - <<NFT
table inet dsdloss {
  chain in {
    type filter hook input priority 0; policy accept;
    udp dport $PORT @th,64,8 { 20, 22 } numgen random mod 100 < $LOSS_PCT counter drop
  }
}
NFT
  ip netns exec $NS_C nft -f - <<NFT
table inet dsdloss {
  chain in {
    type filter hook input priority 0; policy accept;
    udp sport $PORT @th,64,8 { 20, 22 } numgen random mod 100 < $LOSS_PCT counter drop
  }
}
NFT
}
loss_drops() {  # loss_drops NAMESPACE: datagrams dropped there so far
  ip netns exec "$1" nft list table inet dsdloss | grep -o 'packets [0-9]*' | awk '{n += $2} END {print n + 0}'
}
loss_off() { ip netns exec $NS_S nft delete table inet dsdloss 2>/dev/null || true; ip netns exec $NS_C nft delete table inet dsdloss 2>/dev/null || true; }

openssl-dtls12-lossy() {  # 30% of the handshake datagrams lost each way: retransmitted flights
  # (re-run until at least two datagrams were lost each way and the association completed; 10 tries at most)
  command -v nft >/dev/null || { echo "openssl-dtls12-lossy: nft (nftables) is missing" >&2; return 1; }
  local try to_srv to_cli
  for try in $(seq 10); do
    begin openssl-dtls12-lossy
    loss_on
    server "${OSRV[@]}" -dtls1_2 -mtu 1500
    if oexchange $S4 -dtls1_2; then
      to_srv=$(loss_drops $NS_S) to_cli=$(loss_drops $NS_C)
      if [ "$to_srv" -ge 2 ] && [ "$to_cli" -ge 2 ]; then
        finish; loss_off
        echo "   try $try: lost $to_cli datagrams from the server, $to_srv from the client" >&2
        return 0
      fi
    fi
    echo "   try $try: not kept (association failed, or fewer than 2 datagrams lost one way)" >&2
    stop "$SERVER_PID"; SERVER_PID=""; stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""; loss_off
  done
  echo "openssl-dtls12-lossy: no usable capture in 10 tries" >&2; return 1
}

openssl-dtls12-psk() {  # plain PSK key exchange, no certificate: decryptable with NAME.psk alone
  begin openssl-dtls12-psk
  server "${OSRV[@]}" -dtls1_2 -mtu 1500 -nocert -psk $PSK_HEX -psk_identity $PSK_ID -cipher PSK-AES128-GCM-SHA256
  oexchange $S4 -dtls1_2 -psk $PSK_HEX -psk_identity $PSK_ID -cipher PSK-AES128-GCM-SHA256
  finish
  echo "$PSK_HEX" > "$HERE/$NAME.psk"; chmod 644 "$HERE/$NAME.psk"
}

# --- GnuTLS -----------------------------------------------------------------------------------------

GSRV=(gnutls-serv --udp -p $PORT --x509certfile "$REAL/server.crt.pem" --x509keyfile "$REAL/server.key.pem" --echo)
gcli() {  # gcli HOST ARGS...: gnutls-cli over UDP with SSLKEYLOGFILE, SNI localhost, no certificate check
  local host=$1; shift
  client env SSLKEYLOGFILE="$WORK/$NAME.keys" gnutls-cli --udp -p $PORT --insecure --sni-hostname localhost "$@" "$host"
}
# gexchange HOST ARGS...: two lines, each echoed by gnutls-serv --echo (the second sent once the first is
# back); gnutls-cli sends close_notify at stdin EOF (gnutls-serv sends none: it just drops the session)
gexchange() {
  {
    sleep 0.2; printf 'hello from the DTLS client\n'
    wait_log "$WORK/$NAME.client.log" 'hello from the DTLS client' 1
    sleep 0.2; printf 'bye from the client\n'
    wait_log "$WORK/$NAME.client.log" 'bye from the client' 1; sleep 0.3
  } | gcli "$@"
}

gnutls-dtls12() {
  begin gnutls-dtls12
  server "${GSRV[@]}"
  gexchange $S4 --priority 'NORMAL:-VERS-ALL:+VERS-DTLS1.2'
  finish
}

gnutls-dtls10() {  # DTLS 1.0, and the server without cookie exchange (--nocookie): no HelloVerifyRequest
  begin gnutls-dtls10
  server "${GSRV[@]}" --priority 'NORMAL:+VERS-DTLS1.0' --nocookie
  gexchange $S4 --priority 'NORMAL:-VERS-ALL:+VERS-DTLS1.0'
  finish
}

# --- main -------------------------------------------------------------------------------------------

setup_network
for s in "${SCENARIOS[@]}"; do "$s"; done
echo "done: ${#SCENARIOS[@]} captures in $HERE" >&2
