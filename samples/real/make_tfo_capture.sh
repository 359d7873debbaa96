#!/bin/bash
# make_tfo_capture.sh - capture TLS over TCP Fast Open: curl (OpenSSL) sends its ClientHello in the SYN.
#
#   sudo ./make_tfo_capture.sh
#
# Two network namespaces joined by a veth pair, TCP Fast Open on in both (net.ipv4.tcp_fastopen=3):
#   dtfo-cli [vcli 10.99.4.2/24] ==veth== [vsrv 10.99.4.1/24] dtfo-srv   (the server and tcpdump in dtfo-srv)
# The server is Python's ssl (OpenSSL) on a listening socket with TCP_FASTOPEN; curl --tcp-fastopen fetches
# https://10.99.4.1:4433/ twice over TLS 1.3: the first connection gets a Fast Open cookie (a plain SYN), the
# second sends the cookie and its ClientHello in the SYN, and the server accepts that data with its SYN-ACK.
#
# Writes next to this script:
#   tfo-tls13.pcap / tfo-tls13.keys   both connections, and curl's key log (SSLKEYLOGFILE)
# Needs root and: iproute2 (ip, ss), tcpdump, curl, openssl, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

NS_C=dtfo-cli NS_S=dtfo-srv
WORK=$(mktemp -d /tmp/tfo-capture.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""
NAMESPACES=($NS_C $NS_S)
# shellcheck source=netns-lib.sh
. "$HERE/netns-lib.sh"
require make_tfo_capture.sh ip ss tcpdump curl openssl python3

trap_teardown

client_server_namespaces $NS_C $NS_S 10.99.4
for ns in $NS_C $NS_S; do ip netns exec $ns sysctl -qw net.ipv4.tcp_fastopen=3; done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=tfo.example.test" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat > "$WORK/server.py" <<'EOF'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)
ls.bind(("10.99.4.1", 4433))
ls.listen(8)
for _ in range(2):
    conn, _ = ls.accept()
    with ctx.wrap_socket(conn, server_side=True) as tls:
        tls.recv(4096)
        body = b"fast open\n"
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
EOF
ip netns exec $NS_S python3 "$WORK/server.py" "$WORK/cert.pem" "$WORK/key.pem" &
SERVER_PID=$!
wait_for_port $NS_S 4433
start_tcpdump $NS_S vsrv "$WORK/tfo-tls13.pcap" "tcp port 4433"
for i in 1 2; do
  ip netns exec $NS_C env SSLKEYLOGFILE="$WORK/tfo-tls13.keys" \
    curl -sk --tcp-fastopen --tlsv1.3 --http1.1 -o /dev/null https://10.99.4.1:4433/
done
sleep 0.3
stop "$TCPDUMP_PID" INT
TCPDUMP_PID=""
keep_capture tfo-tls13
