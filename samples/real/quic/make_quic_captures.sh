#!/usr/bin/env bash
# make_quic_captures.sh - capture QUIC connections between aioquic peers (quic_peer.py): the client sends a line on
# one stream and reads the server's echo; the client writes the key log (NAME.keys). One network namespace, made
# here and removed on exit; both peers on its loopback, UDP port 4433.
#
#   sudo ./make_quic_captures.sh [NAME...]     # default: all of them (see CAPTURES)
#
# Needs root, tcpdump, and a Python with aioquic (QUIC_PYTHON, default: python3; e.g. a venv with
# `pip install aioquic==1.7.2`).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${QUIC_PYTHON:-python3}
NS=quic-cap
PORT=4433
CAPTURES=(quic-aioquic quic-aioquic-aes128 quic-aioquic-chacha20 quic-aioquic-retry quic-aioquic-v2)
[ $# -gt 0 ] && CAPTURES=("$@")
[ "$(id -u)" = 0 ] || { echo "make_quic_captures.sh: needs root" >&2; exit 1; }
"$PY" -c "import aioquic" 2>/dev/null || { echo "make_quic_captures.sh: $PY has no aioquic (set QUIC_PYTHON)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/quic-captures.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""

stop() { [ -n "${1:-}" ] && kill -"${2:-TERM}" "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
teardown() { stop "$SERVER_PID"; stop "$TCPDUMP_PID" INT; ip netns del $NS 2>/dev/null || true; rm -rf "$WORK"; }
trap teardown EXIT

ip netns del $NS 2>/dev/null || true
ip netns add $NS
ip -n $NS link set lo up

for name in "${CAPTURES[@]}"; do
  server_opts=() client_opts=()
  case $name in
    quic-aioquic) ;;
    quic-aioquic-aes128) client_opts=(--cipher AES_128_GCM_SHA256);;
    quic-aioquic-chacha20) client_opts=(--cipher CHACHA20_POLY1305_SHA256);;
    quic-aioquic-retry) server_opts=(--retry);;
    quic-aioquic-v2) client_opts=(--v2);;
    *) echo "unknown capture: $name (one of: quic-aioquic quic-aioquic-aes128 quic-aioquic-chacha20 quic-aioquic-retry quic-aioquic-v2)" >&2; exit 2;;
  esac
  echo "== $name" >&2
  rm -f "$WORK/$name".*
  ip netns exec $NS tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$WORK/$name.pcap" "udp port $PORT" 2>"$WORK/tcpdump.log" &
  TCPDUMP_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.05; done
  ip netns exec $NS "$PY" "$HERE/quic_peer.py" server $PORT "$HERE/../server.crt.pem" "$HERE/../server.key.pem" \
    "${server_opts[@]}" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q listening "$WORK/server.log" && break; sleep 0.05; done
  timeout 20 ip netns exec $NS "$PY" "$HERE/quic_peer.py" client $PORT "$WORK/$name.keys" "${client_opts[@]}" | sed 's/^/   /' >&2
  sleep 0.5
  stop "$SERVER_PID"; SERVER_PID=""
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  cp "$WORK/$name.pcap" "$WORK/$name.keys" "$HERE/"
  chmod 644 "$HERE/$name.pcap" "$HERE/$name.keys"
  echo "   $(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log"), $(stat -c %s "$HERE/$name.pcap") bytes" >&2
done
