#!/bin/bash
# make_nflog_capture.sh - capture TLS through Linux's netfilter log (NFLOG): what `tcpdump -i nflog:N` writes when
# an nftables (or iptables NFLOG) rule sends packets to log group N, link type 239.
#
#   sudo ./make_nflog_capture.sh
#
# One network namespace (loopback only): an nftables rule on the output hook logs every TCP packet to or from port
# 4433 to group 5 (on loopback each packet passes the output hook once), and tcpdump reads group 5. Python's ssl
# (OpenSSL) serves on 127.0.0.1 and ::1; openssl s_client fetches over TLS 1.3, first over IPv4, then over IPv6,
# so the capture holds NFLOG records of both families.
#
# Writes next to this script:
#   nflog-tls13.pcap / nflog-tls13.keys   both connections, and s_client's key log
# Needs root and: iproute2 (ip, ss), nft, tcpdump (libpcap with NFLOG), openssl, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)

NS=dnflog
WORK=$(mktemp -d /tmp/nflog-capture.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""
NAMESPACES=($NS)
# shellcheck source=netns-lib.sh
. "$HERE/netns-lib.sh"
require make_nflog_capture.sh ip ss nft tcpdump openssl python3

trap_teardown

remove_namespaces
ip netns add $NS
ip -n $NS link set lo up
ip netns exec $NS nft -f - <<'EOF'
table inet capture {
  chain out {
    type filter hook output priority 0; policy accept;
    tcp sport 4433 log group 5
    tcp dport 4433 log group 5
  }
}
EOF

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=nflog.example.test" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat > "$WORK/server.py" <<'EOF'
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])

def serve(family, host):
    ls = socket.socket(family)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    ls.bind((host, 4433))
    ls.listen(4)
    conn, _ = ls.accept()
    with ctx.wrap_socket(conn, server_side=True) as tls:
        tls.recv(4096)
        body = b"logged by netfilter\n"
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        tls.unwrap()  # close_notify, and the client's

threads = [threading.Thread(target=serve, args=a) for a in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"))]
for t in threads:
    t.start()
for t in threads:
    t.join()
EOF
ip netns exec $NS python3 "$WORK/server.py" "$WORK/cert.pem" "$WORK/key.pem" &
SERVER_PID=$!
wait_for_port $NS 4433
start_tcpdump $NS nflog:5 "$WORK/nflog-tls13.pcap" ""
for host in 127.0.0.1 '[::1]'; do
  printf 'GET / HTTP/1.1\r\nHost: nflog.example.test\r\nConnection: close\r\n\r\n' |
    ip netns exec $NS openssl s_client -connect "$host:4433" -tls1_3 -quiet -ign_eof \
      -keylogfile "$WORK/nflog-tls13.keys" >/dev/null 2>&1
done
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
sleep 1.5  # netfilter hands log records over in batches, after up to a second
stop "$TCPDUMP_PID" INT
TCPDUMP_PID=""
keep_capture nflog-tls13
