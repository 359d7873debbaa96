#!/bin/bash
# make_heartbeat_captures.sh - capture TLS heartbeats (RFC 6520): honest ones, and a Heartbleed probe.
#
#   sudo ./make_heartbeat_captures.sh
#
# Two network namespaces joined by a veth pair (nothing leaves them):
#   dhb-cli [vcli 10.99.5.2/24] ==veth== [vsrv 10.99.5.1/24] dhb-srv   (the server and tcpdump in dhb-srv)
# The server is gnutls-serv 3.7 with --heartbeat (GnuTLS answers heartbeats; OpenSSL 3 no longer does).
#
# Writes next to this script:
#   gnutls-tls12-heartbeat.pcap / .keys   gnutls-cli --heartbeat, TLS 1.2, sends three lines to the echo server;
#                                         on the middle one, "**HEARTBEAT**", gnutls-serv pings the client: an
#                                         encrypted HeartbeatRequest (284 bytes of payload), which the client's
#                                         HeartbeatResponse echoes; the client's key log
#   heartbleed-probe.pcap                 heartbleed_probe.py, what a Heartbleed (CVE-2014-0160) scanner sends: a
#                                         TLS 1.1 ClientHello with the heartbeat extension, then, after the
#                                         server's hello flight, a plaintext HeartbeatRequest that claims 16384
#                                         bytes of payload and carries none. GnuTLS is not vulnerable: it sends
#                                         nothing back. (No key log: nothing is encrypted.)
# Needs root and: iproute2 (ip, ss), ethtool, tcpdump, gnutls-bin, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

NS_C=dhb-cli NS_S=dhb-srv PORT=4433 SRV=10.99.5.1
WORK=$(mktemp -d /tmp/heartbeat-capture.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""
NAMESPACES=($NS_C $NS_S)
# shellcheck source=netns-lib.sh
. "$HERE/netns-lib.sh"
require make_heartbeat_captures.sh ip ss tcpdump gnutls-serv gnutls-cli python3

trap_teardown

client_server_namespaces $NS_C $NS_S 10.99.5

GSRV=(gnutls-serv -p $PORT --heartbeat --x509certfile "$HERE/server.crt.pem" --x509keyfile "$HERE/server.key.pem")

capture() {  # capture NAME: start the server and tcpdump for capture NAME
  echo "== $1" >&2
  ip netns exec $NS_S "${GSRV[@]}" --echo >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  wait_for_port $NS_S $PORT
  start_tcpdump $NS_S vsrv "$WORK/$1.pcap" "tcp port $PORT"
}

done_capture() {  # done_capture NAME: stop tcpdump and the server, keep NAME.pcap (and NAME.keys when written)
  sleep 0.3
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  stop "$SERVER_PID"; SERVER_PID=""
  install -m 644 "$WORK/$1.pcap" "$HERE/$1.pcap"
  [ ! -s "$WORK/$1.keys" ] || install -m 644 "$WORK/$1.keys" "$HERE/$1.keys"
  echo "   $(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log"), $(stat -c %s "$HERE/$1.pcap") bytes" >&2
}

capture gnutls-tls12-heartbeat
{ sleep 0.3; printf 'before the heartbeat\n'; sleep 0.3; printf '**HEARTBEAT**\n'; sleep 0.5
  printf 'after the heartbeat\n'; sleep 0.5; } |
  ip netns exec $NS_C env SSLKEYLOGFILE="$WORK/gnutls-tls12-heartbeat.keys" timeout 20 gnutls-cli -p $PORT \
    --insecure --sni-hostname localhost --heartbeat --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2' $SRV \
    >"$WORK/client.log" 2>&1 || true
grep -q "after the heartbeat" "$WORK/client.log" || { cat "$WORK/client.log" >&2; exit 1; }
done_capture gnutls-tls12-heartbeat

capture heartbleed-probe
ip netns exec $NS_C timeout 20 python3 "$HERE/heartbleed_probe.py" $SRV $PORT | sed 's/^/   /' >&2 || true
done_capture heartbleed-probe
