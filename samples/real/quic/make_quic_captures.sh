#!/usr/bin/env bash
# make_quic_captures.sh - capture QUIC connections between aioquic peers (quic_peer.py): the client sends a line on
# one stream and reads the server's echo; the client writes the key log (NAME.keys). One network namespace, made
# here and removed on exit; both peers on its loopback, UDP port 4433. chromium-h3: headless Chromium fetches a
# page over HTTP/3 from quic_peer.py's HTTP/3 server (on a veth address: Chromium's QUIC, like its WebRTC, wants a
# network with a default route), trusting its certificate by SPKI hash, and writes the key log. firefox-h3: headless
# Firefox ESR the same (neqo's QUIC and QPACK), told by a testing preference that the server speaks h3 on the port,
# trusting the certificate through its profile's NSS database, with SSLKEYLOGFILE.
#
#   sudo ./make_quic_captures.sh [NAME...]     # default: all of them (see CAPTURES)
#
# Needs root, tcpdump, openssl, chromium (for chromium-h3), firefox-esr and certutil (firefox-h3) and a Python with aioquic (QUIC_PYTHON, default:
# python3; e.g. a venv with `pip install aioquic==1.7.2`).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${QUIC_PYTHON:-python3}
NS=quic-cap
PORT=4433
CAPTURES=(quic-aioquic quic-aioquic-aes128 quic-aioquic-chacha20 quic-aioquic-retry quic-aioquic-v2 quic-aioquic-keyupdate
          quic-aioquic-0rtt quic-aioquic-0rtt-rejected quic-aioquic-v2-retry quic-aioquic-version-negotiation
          quic-aioquic-draft27 quic-aioquic-draft27-retry quic-aioquic-draft29 quic-aioquic-draft29-retry
          chromium-h3 firefox-h3)
# the IETF draft versions need the aioquic releases that spoke them, each in a Python of its own:
# QUIC_DRAFT27_PYTHON (pip install aioquic==0.8.8) and QUIC_DRAFT29_PYTHON (pip install aioquic==0.9.20)
[ $# -gt 0 ] && CAPTURES=("$@")
[ "$(id -u)" = 0 ] || { echo "make_quic_captures.sh: needs root" >&2; exit 1; }
"$PY" -c "import aioquic" 2>/dev/null || { echo "make_quic_captures.sh: $PY has no aioquic (set QUIC_PYTHON)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/quic-captures.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""

NAMESPACES=($NS)
# shellcheck source=../netns-lib.sh
. "$HERE/../netns-lib.sh"  # stop, trap_teardown, routed_namespace
trap_teardown
routed_namespace $NS 10.77.0.1

h3server() {  # h3server NAME CERT: tcpdump on every interface and quic_peer.py h3server, with CERT.crt.pem and its key
  local cert=$2
  ip netns exec $NS tcpdump -i any -s 0 -U --immediate-mode -Z root -w "$WORK/$name.pcap" "udp port $PORT" 2>"$WORK/tcpdump.log" &
  TCPDUMP_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.05; done
  ip netns exec $NS "$PY" "$HERE/quic_peer.py" h3server 10.77.0.1 $PORT "$HERE/../$cert.crt.pem" \
    "$HERE/../$cert.key.pem" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q listening "$WORK/server.log" && break; sleep 0.05; done
}

chromium_h3() {  # the HTTP/3 capture: Chromium against quic_peer.py h3server
  local name=$1 spki
  spki=$(openssl x509 -in "$HERE/../nginx-server.crt.pem" -pubkey -noout | openssl pkey -pubin -outform der \
         | openssl dgst -sha256 -binary | base64)
  h3server "$name" nginx-server
  timeout 30 ip netns exec $NS chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
    --enable-quic --origin-to-force-quic-on=www.example.test:$PORT --host-resolver-rules="MAP www.example.test 10.77.0.1" \
    --ignore-certificate-errors-spki-list="$spki" --ssl-key-log-file="$WORK/$name.keys" --dump-dom \
    "https://www.example.test:$PORT/" 2>/dev/null | grep -o "hello over HTTP/3" | sed 's/^/   /' >&2
}

firefox_h3() {  # the page fetched by Firefox ESR over HTTP/3, from browser.example.test (whose CA the profile trusts:
                # Firefox refuses nginx-server.crt.pem, a CA certificate, as a server's)
  local name=$1 profile="$WORK/firefox-profile"
  mkdir -p "$profile"
  nss_trust "$profile" "$HERE/../browser-ca.crt.pem"
  firefox_profile "$profile" network.http.http3.enable true \
    network.http.http3.alt-svc-mapping-for-testing "\"browser.example.test;h3=:$PORT\"" \
    network.http.http3.disable_when_third_party_roots_found false network.dns.forceResolve '"10.77.0.1"'
  h3server "$name" browser-server
  HOME="$WORK" SSLKEYLOGFILE="$WORK/$name.keys" timeout 60 ip netns exec $NS firefox-esr --headless --no-remote \
    --profile "$profile" --screenshot "$WORK/$name.png" "https://browser.example.test:$PORT/" >"$WORK/browser.log" 2>&1 || true
  echo "   screenshot: $(stat -c %s "$WORK/$name.png" 2>/dev/null || echo none) bytes" >&2
}

for name in "${CAPTURES[@]}"; do
  server_opts=() client_opts=()
  case $name in
    quic-aioquic) ;;
    quic-aioquic-aes128) client_opts=(--cipher AES_128_GCM_SHA256);;
    quic-aioquic-chacha20) client_opts=(--cipher CHACHA20_POLY1305_SHA256);;
    quic-aioquic-retry) server_opts=(--retry);;
    quic-aioquic-v2) client_opts=(--v2);;
    quic-aioquic-v2-retry) server_opts=(--retry) client_opts=(--v2);;
    quic-aioquic-version-negotiation) server_opts=(--v1-only) client_opts=(--v2 --v1-too);;
    quic-aioquic-keyupdate) client_opts=(--key-update);;
    quic-aioquic-draft27) server_opts=(--draft 27) client_opts=(--draft 27);;
    quic-aioquic-draft27-retry) server_opts=(--retry --draft 27) client_opts=(--draft 27);;
    quic-aioquic-draft29) server_opts=(--draft 29) client_opts=(--draft 29);;
    quic-aioquic-draft29-retry) server_opts=(--retry --draft 29) client_opts=(--draft 29);;
    quic-aioquic-0rtt) server_opts=(--tickets) client_opts=(--0rtt);;
    quic-aioquic-0rtt-rejected) server_opts=(--tickets --forget-tickets) client_opts=(--0rtt);;
    chromium-h3|firefox-h3) ;;
    *) echo "unknown capture: $name (one of: ${CAPTURES[*]})" >&2; exit 2;;
  esac
  echo "== $name" >&2
  rm -f "$WORK/$name".*
  peer_py=$PY
  case $name in
    quic-aioquic-draft27*) peer_py=${QUIC_DRAFT27_PYTHON:?set QUIC_DRAFT27_PYTHON to a Python with aioquic 0.8.8};;
    quic-aioquic-draft29*) peer_py=${QUIC_DRAFT29_PYTHON:?set QUIC_DRAFT29_PYTHON to a Python with aioquic 0.9.20};;
  esac
  if [ "$name" = chromium-h3 ]; then
    chromium_h3 "$name"
  elif [ "$name" = firefox-h3 ]; then
    firefox_h3 "$name"
  else
  ip netns exec $NS tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$WORK/$name.pcap" "udp port $PORT" 2>"$WORK/tcpdump.log" &
  TCPDUMP_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.05; done
  ip netns exec $NS "$peer_py" "$HERE/quic_peer.py" server $PORT "$HERE/../server.crt.pem" "$HERE/../server.key.pem" \
    "${server_opts[@]}" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q listening "$WORK/server.log" && break; sleep 0.05; done
  timeout 20 ip netns exec $NS "$peer_py" "$HERE/quic_peer.py" client $PORT "$WORK/$name.keys" "${client_opts[@]}" | sed 's/^/   /' >&2
  fi
  sleep 0.5
  stop "$SERVER_PID"; SERVER_PID=""
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  cp "$WORK/$name.pcap" "$WORK/$name.keys" "$HERE/"
  chmod 644 "$HERE/$name.pcap" "$HERE/$name.keys"
  echo "   $(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log"), $(stat -c %s "$HERE/$name.pcap") bytes" >&2
done
