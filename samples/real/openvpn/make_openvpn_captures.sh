#!/usr/bin/env bash
# make_openvpn_captures.sh - capture real OpenVPN 2.6 connections (TLS control channel carried in OpenVPN's
# P_CONTROL packets, then data-channel packets) between two network namespaces. See README.md here.
#
#   sudo ./make_openvpn_captures.sh            # (re)make every capture
#   sudo ./make_openvpn_captures.sh NAME...    # (re)make only these
#   ./make_openvpn_captures.sh --list          # list the capture names
#
# Needs root (network namespaces, tun devices, tcpdump) and: iproute2 (ip, ss), ethtool, tcpdump, openssl,
# openvpn 2.6, iputils-ping. On Debian 12:
#   apt-get install -y openvpn openssl tcpdump iproute2 ethtool iputils-ping
#
# Network: two namespaces made here and removed on exit (also on error or Ctrl-C), joined by one veth pair:
#
#   ovpn-cli [ovcli 10.99.6.2/24] ==veth== [ovsrv 10.99.6.1/24] ovpn-srv
#   ovpn-cli [tun0 10.8.0.2/24]  ~~~~ OpenVPN tunnel ~~~~  [tun0 10.8.0.1/24] ovpn-srv
#
# No default route and IPv6 off in both namespaces; the tun devices are made by openvpn inside its namespace,
# so the tunnel's addresses exist only there too: nothing leaves them. Offloads are off on the veth.
# openvpn runs in the foreground (not as a service), from configuration files written into a temporary work
# directory ($WORK, removed on exit). tcpdump captures on ovsrv (the server's side), filter "PROTO port PORT".
# A capture: tcpdump starts, the server starts, the client starts; once the client logs "Initialization Sequence
# Completed", two pings to 10.8.0.1 go through the tunnel; then the client is stopped (SIGTERM; UDP clients send
# explicit-exit-notify), then the server, then tcpdump. openvpn-udp-reneg and openvpn-udp-tlscrypt-reneg instead
# keep the tunnel up about 10 s (reneg-sec 4 on both peers, a ping every second) so that they hold two
# renegotiations (key ids 1 and 2); their control packets are wrapped in dynamic tls-crypt (OpenVPN 2.6 peers
# always agree on dyn-tls-crypt; in openvpn-udp-tlscrypt-reneg key id 0 is wrapped with the static ovpn-tc.key).
#
# Test PKI (test-only keys, committed next to this script, made here with openssl only if one of them is missing,
# so that the captures stay consistent): ovpn-ca.crt.pem (the CA; its key is not kept), ovpn-server.{crt,key}.pem
# (RSA 2048, serverAuth), ovpn-client.{crt,key}.pem (RSA 2048, clientAuth). Static keys made with openvpn --genkey
# if missing: ovpn-ta.key (tls-auth), ovpn-tc.key (tls-crypt).
#
# OPENVPN_LOGS=DIR: run both peers with verb 4 (instead of 3) and keep their logs as DIR/NAME.{server,client}.log.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REAL=$(cd "$HERE/.." && pwd)
NS_C=ovpn-cli NS_S=ovpn-srv
IF_C=ovcli IF_S=ovsrv
MAC_C=02:99:06:00:00:02 MAC_S=02:99:06:00:00:01
S4=10.99.6.1 C4=10.99.6.2
TUN_NET=10.8.0.0 TUN_SERVER=10.8.0.1
VPN_USER=erin VPN_PASSWORD=test-password-5
PKI=(ovpn-ca.crt.pem ovpn-server.crt.pem ovpn-server.key.pem ovpn-client.crt.pem ovpn-client.key.pem)

CAPTURES=(
  openvpn-udp-rsa openvpn-udp-tlsauth-sha1 openvpn-udp-tlsauth-sha256 openvpn-udp-tlscrypt
  openvpn-tcp-rsa openvpn-udp-port443-tls13 openvpn-udp-reneg openvpn-udp-tlscrypt-reneg
)

if [ "${1:-}" = --list ]; then printf '%s\n' "${CAPTURES[@]}"; exit 0; fi
# shellcheck source=../netns-lib.sh
. "$REAL/netns-lib.sh"  # stop, remove_namespaces, two_namespaces, links_up, start_tcpdump, start_server, wait_log, trap_teardown
require make_openvpn_captures.sh ip ss tcpdump openssl openvpn ping
[ -c /dev/net/tun ] || { echo "make_openvpn_captures.sh: /dev/net/tun is missing" >&2; exit 1; }
select_names CAPTURES capture "$@"

WORK=$(mktemp -d /tmp/openvpn-captures.XXXXXX)
TCPDUMP_PID="" SERVER_PID="" CLIENT_PID=""
VERB=3
if [ -n "${OPENVPN_LOGS:-}" ]; then mkdir -p "$OPENVPN_LOGS"; VERB=4; fi

NAMESPACES=($NS_C $NS_S)

trap_teardown CLIENT_PID  # on exit: stop the client, the server (SERVER_PID), tcpdump; remove namespaces and $WORK

# --- test PKI and static keys -----------------------------------------------------------------------------------

make_pki() {  # the five PEM files next to this script, unless they are all there already
  local f missing=0
  for f in "${PKI[@]}"; do [ -s "$HERE/$f" ] || missing=1; done
  if [ $missing = 0 ]; then
    echo "test PKI: reusing ${PKI[*]}" >&2
  else
    echo "test PKI: making ${PKI[*]}" >&2
    local d="$WORK/pki" days=10950
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days $days -keyout "$d/ovpn-ca.key.pem" \
      -out "$d/ovpn-ca.crt.pem" -subj "/O=dissector test/CN=dissector OpenVPN test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" 2>/dev/null
    leaf() {  # leaf NAME CN SERIAL EXTENSIONS: an RSA 2048 key and certificate signed by ovpn-ca
      openssl req -new -newkey rsa:2048 -nodes -keyout "$d/$1.key.pem" -out "$d/$1.csr" \
        -subj "/O=dissector test/CN=$2" 2>/dev/null
      openssl x509 -req -sha256 -days $days -in "$d/$1.csr" -CA "$d/ovpn-ca.crt.pem" -CAkey "$d/ovpn-ca.key.pem" \
        -set_serial "$3" -extfile <(printf '%s\n' "$4") -out "$d/$1.crt.pem" 2>/dev/null
    }
    leaf ovpn-server ovpn-server.example.test 2 "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:ovpn-server.example.test
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
    leaf ovpn-client ovpn-client 3 "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
    for f in "${PKI[@]}"; do install -m 644 "$d/$f" "$HERE/$f"; done
  fi
  if [ -s "$HERE/ovpn-ta.key" ]; then echo "tls-auth key: reusing ovpn-ta.key" >&2
  else echo "tls-auth key: making ovpn-ta.key" >&2; openvpn --genkey secret "$HERE/ovpn-ta.key" >/dev/null
  fi
  if [ -s "$HERE/ovpn-tc.key" ]; then echo "tls-crypt key: reusing ovpn-tc.key" >&2
  else echo "tls-crypt key: making ovpn-tc.key" >&2; openvpn --genkey tls-crypt "$HERE/ovpn-tc.key" >/dev/null
  fi
  chmod 644 "$HERE/ovpn-ta.key" "$HERE/ovpn-tc.key"
  # private copies for openvpn (it warns about key files that others can read)
  install -d -m 700 "$WORK/keys"
  for f in ovpn-server.key.pem ovpn-client.key.pem ovpn-ta.key ovpn-tc.key; do install -m 600 "$HERE/$f" "$WORK/keys/$f"; done
}

# --- configuration files ----------------------------------------------------------------------------------------

# write_configs PROTO PORT TLS WRAP AUTH USERPASS [RENEG]: $WORK/server.conf and $WORK/client.conf.
#   PROTO udp or tcp; PORT the server's port; TLS rsa12 (TLS 1.2 only, AES128-SHA only: RSA key exchange) or
#   default (OpenVPN's and OpenSSL's defaults: TLS 1.3); WRAP none, tls-auth or tls-crypt; AUTH the --auth digest
#   (HMAC of tls-auth; "-" for OpenVPN's default, SHA1); USERPASS yes (the client also sends auth-user-pass, the
#   server checks it with an auth-user-pass-verify script) or no; RENEG (default -: OpenVPN's 3600) the seconds
#   of reneg-sec on both peers (server too without jitter: its default minimum, 90 % of max, is 4 - 4/10 = 4 here),
#   then hand-window and tran-window are set below it (the defaults, 60 and 3600, would not stop a renegotiation
#   either: they only bound how long a handshake may take and how long the old key stays usable)
write_configs() {
  local proto=$1 port=$2 tls=$3 wrap=$4 auth=$5 userpass=$6 reneg=${7:--} side
  for side in server client; do
    {
      printf '%s\n' "# $NAME: $side" "dev-type tun" "dev tun0" "verb $VERB" disable-dco \
        "ca $HERE/ovpn-ca.crt.pem" "cert $HERE/ovpn-$side.crt.pem" "key $WORK/keys/ovpn-$side.key.pem"
      if [ $side = server ]; then
        printf '%s\n' "proto ${proto}4$([ "$proto" = tcp ] && echo -server)" "local $S4" "port $port" \
          "server $TUN_NET 255.255.255.0" "topology subnet" "dh none" \
          "verify-client-cert require" "remote-cert-tls client"
      else
        printf '%s\n' client "proto ${proto}4$([ "$proto" = tcp ] && echo -client)" "remote $S4 $port" nobind \
          "remote-cert-tls server" "connect-retry 1" "server-poll-timeout 10"
        [ "$proto" = udp ] && printf '%s\n' "explicit-exit-notify 1"
      fi
      if [ "$tls" = rsa12 ]; then printf '%s\n' "tls-version-max 1.2" "tls-cipher AES128-SHA"; fi
      [ "$auth" = - ] || printf '%s\n' "auth $auth"
      [ "$reneg" = - ] || printf '%s\n' "reneg-sec $reneg" "hand-window $((reneg - 1))" "tran-window $((reneg - 1))"
      case $wrap in
        tls-auth)  printf '%s\n' "tls-auth $WORK/keys/ovpn-ta.key" "key-direction $([ $side = server ] && echo 0 || echo 1)";;
        tls-crypt) printf '%s\n' "tls-crypt $WORK/keys/ovpn-tc.key";;
      esac
      if [ "$userpass" = yes ]; then
        if [ $side = server ]; then
          printf '%s\n' "script-security 2" "tmp-dir $WORK" "auth-user-pass-verify $WORK/verify-user.sh via-file"
        else
          printf '%s\n' "auth-user-pass $WORK/userpass.txt" auth-nocache
        fi
      fi
    } >"$WORK/$side.conf"
  done
  printf '%s\n%s\n' "$VPN_USER" "$VPN_PASSWORD" >"$WORK/userpass.txt"
  chmod 600 "$WORK/userpass.txt"
  cat >"$WORK/verify-user.sh" <<EOF
#!/bin/sh
# auth-user-pass-verify via-file: \$1 is a file holding the username and the password, one a line
[ "\$(sed -n 1p "\$1")" = "$VPN_USER" ] && [ "\$(sed -n 2p "\$1")" = "$VPN_PASSWORD" ]
EOF
  chmod 755 "$WORK/verify-user.sh"
}

# --- one capture ------------------------------------------------------------------------------------------------

NAME=""

fail() {  # fail MESSAGE: show the peers' logs and give up
  echo "$NAME: $1" >&2
  tail -25 "$WORK/$NAME.server.log" "$WORK/$NAME.client.log" >&2 2>/dev/null || true
  return 1
}

# capture NAME PROTO PORT TLS WRAP AUTH USERPASS [RENEG]: one connection (see write_configs for the arguments).
#   Without RENEG: two pings 0.2 s apart. With RENEG (seconds): a ping every second, 10 of them (9 s: with reneg-sec
#   4 the renegotiations start 3-4 s and 7-8 s in, the next one would be 11-12 s in), then until the client has
#   logged three TLS handshakes (the first and two renegotiations), 10 s at most
capture() {
  local proto=$2 port=$3 reneg=${8:--} ns i
  NAME=$1
  echo "== $NAME" >&2
  two_namespaces $NS_S $IF_S $MAC_S $NS_C $IF_C $MAC_C
  for ns in $NS_S $NS_C; do
    ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  ip -n $NS_S addr add $S4/24 dev $IF_S
  ip -n $NS_C addr add $C4/24 dev $IF_C
  links_up "$NS_S $IF_S" "$NS_C $IF_C"
  write_configs "$proto" "$port" "$4" "$5" "$6" "$7" "$reneg"
  start_tcpdump $NS_S $IF_S "$WORK/$NAME.pcap" "$proto port $port"
  start_server $NS_S "$port" "$proto" openvpn --cd "$WORK" --config "$WORK/server.conf" || fail "server did not start"
  (cd "$WORK" && exec ip netns exec $NS_C openvpn --cd "$WORK" --config "$WORK/client.conf" \
     >"$WORK/$NAME.client.log" 2>&1) &
  CLIENT_PID=$!
  wait_log "$WORK/$NAME.client.log" "Initialization Sequence Completed|Exiting due to fatal error" 30 \
    || fail "no tunnel"
  grep -q "Initialization Sequence Completed" "$WORK/$NAME.client.log" || fail "no tunnel"
  grep -oE "((Outgoing|Incoming) )?(Control|Data) Channel: .*" "$WORK/$NAME.client.log" | sed 's/^/   /' >&2
  if [ "$reneg" = - ]; then
    ip netns exec $NS_C ping -n -c 2 -i 0.2 -W 2 $TUN_SERVER >"$WORK/$NAME.ping.log" 2>&1 \
      || { cat "$WORK/$NAME.ping.log" >&2; fail "no ping reply through the tunnel"; }
  else
    ip netns exec $NS_C ping -n -c 10 -i 1 -W 2 $TUN_SERVER >"$WORK/$NAME.ping.log" 2>&1 \
      || { cat "$WORK/$NAME.ping.log" >&2; fail "ping through the tunnel lost replies"; }
    for i in $(seq 200); do
      [ "$(grep -c "Control Channel: " "$WORK/$NAME.client.log")" -ge 3 ] && break
      sleep 0.05
    done
    grep "Control Channel: " "$WORK/$NAME.client.log" \
      | sed -n '2,$s/^.*\(Control Channel: .*\)/   renegotiated: \1/p' >&2
    [ "$(grep -c "Control Channel: " "$WORK/$NAME.client.log")" -ge 3 ] || fail "fewer than two renegotiations"
  fi
  echo "   $(grep -o '[0-9]* packets transmitted.*received' "$WORK/$NAME.ping.log")" >&2
  sleep 0.3
  stop "$CLIENT_PID"; CLIENT_PID=""  # SIGTERM: a UDP client sends its exit notification first
  sleep 0.5
  stop "$SERVER_PID"; SERVER_PID=""
  sleep 0.2
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  install -m 644 "$WORK/$NAME.pcap" "$HERE/$NAME.pcap"
  [ -z "${OPENVPN_LOGS:-}" ] || cp "$WORK/$NAME".{server,client}.log "$OPENVPN_LOGS/"
  echo "   $(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log"), $(stat -c %s "$HERE/$NAME.pcap") bytes" >&2
  remove_namespaces
}

# --- the captures -----------------------------------------------------------------------------------------------

make_pki

for name in "${CAPTURES[@]}"; do
  rm -f "$WORK/$name".*
  case $name in
    #                                          proto port TLS     wrap      auth   user/password reneg-sec
    openvpn-udp-rsa)             capture "$name" udp 1194 rsa12   none      -      yes;;
    openvpn-udp-tlsauth-sha1)    capture "$name" udp 1194 default tls-auth  SHA1   no;;
    openvpn-udp-tlsauth-sha256)  capture "$name" udp 1194 rsa12   tls-auth  SHA256 no;;
    openvpn-udp-tlscrypt)        capture "$name" udp 1194 default tls-crypt -      no;;
    openvpn-tcp-rsa)             capture "$name" tcp 1194 rsa12   none      -      no;;
    openvpn-udp-port443-tls13)   capture "$name" udp 443  default none      -      no;;
    openvpn-udp-reneg)           capture "$name" udp 1194 rsa12   none      -      no     4;;  # reneg-sec 4
    openvpn-udp-tlscrypt-reneg)  capture "$name" udp 1194 rsa12   tls-crypt -      no     4;;  # reneg-sec 4
  esac
done
