#!/usr/bin/env bash
# make_webrtc_capture.sh - capture WebRTC's DTLS 1.3: two RTCPeerConnections of one page (page.html) open a data
# channel and exchange "ping" and "pong" over DTLS and SCTP, in headless Chromium and in headless Firefox.
#
#   sudo ./make_webrtc_capture.sh                 # both: chromium firefox
#   sudo ./make_webrtc_capture.sh firefox         # or one
#
# Writes chromium-dtls13.pcap (BoringSSL; Chromium writes no key log for WebRTC: no keys) and firefox-dtls13.pcap
# with firefox-dtls13.keys (NSS logs the DTLS 1.3 secrets of both peers to SSLKEYLOGFILE).
# Needs root (a network namespace, tcpdump), chromium and/or firefox-esr, python3 and tcpdump. Everything runs in
# a namespace made here and removed on exit, with a veth whose address (10.77.0.1) is the page's only ICE host
# candidate (the browsers gather none on loopback alone, and none without a default route, so the namespace gets
# one that leads nowhere); the page is served on 127.0.0.1 there.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
NS=wrtc-cap
WORK=$(mktemp -d /tmp/webrtc-capture.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""
BROWSERS=("$@")
[ ${#BROWSERS[@]} -gt 0 ] || BROWSERS=(chromium firefox)
[ "$(id -u)" = 0 ] || { echo "make_webrtc_capture.sh: needs root" >&2; exit 1; }
NAMESPACES=($NS)
# shellcheck source=../netns-lib.sh
. "$HERE/../netns-lib.sh"  # stop, trap_teardown, routed_namespace, firefox_profile
trap_teardown
routed_namespace $NS 10.77.0.1

cp "$HERE/page.html" "$WORK/"
(cd "$WORK" && exec ip netns exec $NS python3 -m http.server 8000 --bind 127.0.0.1) >"$WORK/http.log" 2>&1 &
SERVER_PID=$!

capture() {  # capture chromium|firefox: the page in that browser, its UDP captured
  local which=$1 name=$1-dtls13
  ip netns exec $NS tcpdump -i any -s 0 -U -Z root -w "$WORK/$name.pcap" udp 2>"$WORK/tcpdump.log" &
  TCPDUMP_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.05; done
  sleep 1
  if [ "$which" = chromium ]; then
    timeout 20 ip netns exec $NS chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
      --allow-loopback-in-peer-connection --disable-features=WebRtcHideLocalIpsWithMdns --enable-logging=stderr \
      http://127.0.0.1:8000/page.html >"$WORK/$name.log" 2>&1 || true
  else
    firefox_profile "$WORK/ff-profile" media.peerconnection.ice.obfuscate_host_addresses false \
      devtools.console.stdout.content true
    HOME="$WORK" SSLKEYLOGFILE="$WORK/$name.keys" timeout 15 ip netns exec $NS firefox-esr --headless --no-remote \
      --profile "$WORK/ff-profile" http://127.0.0.1:8000/page.html >"$WORK/$name.log" 2>&1 || true
  fi
  sleep 0.5
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  grep -q '"DONE"' "$WORK/$name.log" || { echo "the page did not finish:" >&2; grep -i console "$WORK/$name.log" >&2; exit 1; }
  cp "$WORK/$name.pcap" "$HERE/$name.pcap"
  [ ! -s "$WORK/$name.keys" ] || cp "$WORK/$name.keys" "$HERE/$name.keys"
  chmod 644 "$HERE/$name".*
  echo "$name.pcap: $(stat -c %s "$HERE/$name.pcap") bytes" >&2
}

for b in "${BROWSERS[@]}"; do
  case $b in
    chromium|firefox) capture "$b" ;;
    *) echo "make_webrtc_capture.sh: unknown browser $b (chromium, firefox)" >&2; exit 2 ;;
  esac
done
