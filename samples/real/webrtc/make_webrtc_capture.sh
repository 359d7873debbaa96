#!/usr/bin/env bash
# make_webrtc_capture.sh - capture headless Chromium's WebRTC DTLS (chromium-dtls13.pcap): two RTCPeerConnections
# of one page (page.html) open a data channel and exchange "ping" and "pong" over DTLS and SCTP.
#
#   sudo ./make_webrtc_capture.sh
#
# Needs root (a network namespace, tcpdump), chromium, python3 and tcpdump. Everything runs in a namespace made
# here and removed on exit, with a veth whose address (10.77.0.1) is the page's only ICE host candidate (Chromium
# gathers none on loopback alone, and none without a default route, so the namespace gets one that leads nowhere);
# the page is served on 127.0.0.1 there. Chromium writes no key log for WebRTC: the capture ships without keys.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NS=wrtc-cap
NAME=chromium-dtls13
WORK=$(mktemp -d /tmp/webrtc-capture.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""
[ "$(id -u)" = 0 ] || { echo "make_webrtc_capture.sh: needs root" >&2; exit 1; }
NAMESPACES=($NS)
# shellcheck source=../netns-lib.sh
. "$HERE/../netns-lib.sh"  # stop, trap_teardown, routed_namespace
trap_teardown
routed_namespace $NS 10.77.0.1

cp "$HERE/page.html" "$WORK/"
(cd "$WORK" && exec ip netns exec $NS python3 -m http.server 8000 --bind 127.0.0.1) >"$WORK/http.log" 2>&1 &
SERVER_PID=$!
ip netns exec $NS tcpdump -i any -s 0 -U -Z root -w "$WORK/$NAME.pcap" udp 2>"$WORK/tcpdump.log" &
TCPDUMP_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.05; done
sleep 1
timeout 20 ip netns exec $NS chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
  --allow-loopback-in-peer-connection --disable-features=WebRtcHideLocalIpsWithMdns --enable-logging=stderr \
  http://127.0.0.1:8000/page.html >"$WORK/chromium.log" 2>&1 || true
sleep 0.5
stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
grep -q '"DONE"' "$WORK/chromium.log" || { echo "the page did not finish:" >&2; grep CONSOLE "$WORK/chromium.log" >&2; exit 1; }
cp "$WORK/$NAME.pcap" "$HERE/$NAME.pcap"
chmod 644 "$HERE/$NAME.pcap"
echo "$NAME.pcap: $(stat -c %s "$HERE/$NAME.pcap") bytes" >&2
