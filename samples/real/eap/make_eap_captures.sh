#!/usr/bin/env bash
# make_eap_captures.sh - capture TLS handshakes carried inside EAP (802.1X), between real peers: hostapd's internal
# EAP server and wpa_supplicant (wired 802.1X, EAPOL frames on a veth pair) or eapol_test (RADIUS over UDP on
# loopback, hostapd acting as the RADIUS authentication server). See README.md here.
#
#   sudo ./make_eap_captures.sh            # (re)make every capture
#   sudo ./make_eap_captures.sh NAME...    # (re)make only these
#   ./make_eap_captures.sh --list          # list the capture names
#
# Needs root (network namespaces, tcpdump) and: iproute2, ethtool, tcpdump, openssl, hostapd, wpa_supplicant,
# eapol_test. On Debian 12:
#   apt-get install -y hostapd wpasupplicant eapoltest tcpdump openssl iproute2 ethtool
#
# Network (made here, removed on exit, also on error or Ctrl-C; no addresses, no routes: nothing leaves them):
#
#   EAPOL:   eap-supp [esupp 02:00:00:8e:00:02] ==veth== [eauth 02:00:00:8e:00:01] eap-auth
#            wpa_supplicant -D wired, tcpdump here           hostapd driver=wired (authenticator + EAP server)
#   RADIUS:  eap-radius: eapol_test (NAS + supplicant) --UDP 1812 on lo--> hostapd driver=none (RADIUS server)
#
# tcpdump: EAPOL captures on esupp, filter "ether proto 0x888e"; RADIUS captures on lo, "udp port 1812". Both give
# Ethernet frames (loopback's with zero MAC addresses). sll2-eap-tls12-rsa is an EAPOL capture made on the
# authenticator's side with `tcpdump -i any`: Linux cooked frames (SLL2), which record only the sender's address. A capture stops once the supplicant reports the outcome
# (CTRL-EVENT-EAP-SUCCESS or -FAILURE): one authentication per capture.
#
# Test PKI (test-only keys, committed next to this script, made here with openssl only if one of them is missing,
# so that the captures stay consistent): eap-ca.crt.pem (the CA), eap-server.{crt,key}.pem (RSA 2048, signed by
# the CA), eap-client.{crt,key}.pem (RSA 2048, signed by the CA) and other-ca.crt.pem (an unrelated CA). The CAs'
# keys are not kept. The TLS 1.2 captures use AES128-SHA (RSA key exchange): the server key alone decrypts them.
#
# EAP_LOGS=DIR: run hostapd and wpa_supplicant with -dd and keep every peer's log as DIR/NAME.PEER.log (eapol_test
# always logs at debug level); "OpenSSL: RX/TX ver=... content_type=..." lines name the TLS messages, also the
# encrypted TLS 1.3 ones.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REAL=$(cd "$HERE/.." && pwd)
NS_A=eap-auth NS_S=eap-supp NS_R=eap-radius
IF_A=eauth IF_S=esupp
MAC_A=02:00:00:8e:00:01 MAC_S=02:00:00:8e:00:02
RADIUS_PORT=1812
RADIUS_SECRET=dissector-radius-secret
PKI=(eap-ca.crt.pem eap-server.crt.pem eap-server.key.pem eap-client.crt.pem eap-client.key.pem other-ca.crt.pem)

CAPTURES=(
  eapol-eap-tls12-rsa eapol-eap-tls13 eapol-peap-mschapv2 eapol-eap-tls-unknown-ca sll2-eap-tls12-rsa
  radius-eap-tls12-rsa radius-ttls-pap radius-eap-tls13 radius-peap-mschapv2
)

if [ "${1:-}" = --list ]; then printf '%s\n' "${CAPTURES[@]}"; exit 0; fi
# shellcheck source=../netns-lib.sh
. "$REAL/netns-lib.sh"  # stop, remove_namespaces, two_namespaces, links_up, start_tcpdump, wait_for_port, trap_teardown
require make_eap_captures.sh ip ss tcpdump openssl hostapd wpa_supplicant eapol_test
select_names CAPTURES capture "$@"

WORK=$(mktemp -d /tmp/eap-captures.XXXXXX)
TCPDUMP_PID="" SERVER_PID="" SUPP_PID=""
DEBUG=()
if [ -n "${EAP_LOGS:-}" ]; then mkdir -p "$EAP_LOGS"; DEBUG=(-dd); fi

NAMESPACES=($NS_A $NS_S $NS_R)
# shellcheck source=eap-lib.sh
. "$HERE/eap-lib.sh"  # supplicant_conf, keep (wait_log: netns-lib.sh)
user_of() { case $1 in peap) echo alice;; ttls) echo bob;; esac; }  # the inner identities of the users file
password_of() { case $1 in peap) echo test-password-1;; ttls) echo test-password-2;; esac; }

trap_teardown SUPP_PID  # on exit: stop wpa_supplicant, hostapd (SERVER_PID), tcpdump; remove namespaces and $WORK

# --- test PKI ---------------------------------------------------------------------------------------------------

make_pki() {  # the six PEM files next to this script, unless they are all there already
  local f missing=0
  for f in "${PKI[@]}"; do [ -s "$HERE/$f" ] || missing=1; done
  [ $missing = 1 ] || { echo "test PKI: reusing ${PKI[*]}" >&2; return 0; }
  echo "test PKI: making ${PKI[*]}" >&2
  local d="$WORK/pki" days=10950
  mkdir -p "$d"
  ca() {  # ca NAME CN: a self-signed CA certificate $d/NAME.crt.pem, key $d/NAME.key.pem
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days $days -keyout "$d/$1.key.pem" -out "$d/$1.crt.pem" \
      -subj "/O=dissector test/CN=$2" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" -addext "subjectKeyIdentifier=hash" 2>/dev/null
  }
  leaf() {  # leaf NAME CN SERIAL EXTENSIONS: an RSA 2048 key and certificate signed by eap-ca
    openssl req -new -newkey rsa:2048 -nodes -keyout "$d/$1.key.pem" -out "$d/$1.csr" \
      -subj "/O=dissector test/CN=$2" 2>/dev/null
    openssl x509 -req -sha256 -days $days -in "$d/$1.csr" -CA "$d/eap-ca.crt.pem" -CAkey "$d/eap-ca.key.pem" \
      -set_serial "$3" -extfile <(printf '%s\n' "$4") -out "$d/$1.crt.pem" 2>/dev/null
  }
  ca eap-ca "dissector EAP test CA"
  ca other-ca "dissector unrelated test CA"
  leaf eap-server eap-server.example.test 2 "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:eap-server.example.test
authorityKeyIdentifier=keyid"
  leaf eap-client eap-client 3 "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid"
  for f in "${PKI[@]}"; do install -m 644 "$d/$f" "$HERE/$f"; done
}

# --- configuration files ----------------------------------------------------------------------------------------

write_eap_users() {  # hostapd's eap_user_file: phase 1 identities and their method, phase 2 ([2]) credentials
  cat >"$WORK/eap_users" <<'EOF'
"eap-client"	TLS
"alice"	PEAP
"alice"	MSCHAPV2	"test-password-1"	[2]
"bob"	TTLS
"bob"	TTLS-PAP	"test-password-2"	[2]
EOF
}

# hostapd_conf FILE TLS MODE [FRAGMENT]: hostapd.conf for the internal EAP server; TLS is 12 (TLS 1.2 with
# AES128-SHA only) or 13 (TLS 1.3 enabled); MODE is wired (802.1X authenticator on $IF_A) or radius (RADIUS server,
# driver=none); FRAGMENT the EAP fragment size (default: hostapd's, 1398)
hostapd_conf() {
  local file=$1 tls=$2 mode=$3 frag=${4:-}
  {
    if [ "$mode" = wired ]; then
      printf '%s\n' driver=wired "interface=$IF_A" ieee8021x=1 eapol_version=2 use_pae_group_addr=1 eap_reauth_period=0
    else
      printf '%s\n' driver=none interface=lo "radius_server_clients=$WORK/radius_clients" \
        "radius_server_auth_port=$RADIUS_PORT" radius_server_ipv6=0
    fi
    [ -z "$frag" ] || printf '%s\n' "fragment_size=$frag"
    printf '%s\n' logger_stdout=-1 logger_stdout_level=1 eap_server=1 "eap_user_file=$WORK/eap_users" \
      "ca_cert=$HERE/eap-ca.crt.pem" "server_cert=$HERE/eap-server.crt.pem" "private_key=$HERE/eap-server.key.pem"
    if [ "$tls" = 12 ]; then
      printf '%s\n' openssl_ciphers=AES128-SHA 'tls_flags=[DISABLE-TLSv1.3]'
    else
      printf '%s\n' 'tls_flags=[ENABLE-TLSv1.3]'
    fi
  } >"$file"
  printf '127.0.0.1/32\t%s\n' "$RADIUS_SECRET" >"$WORK/radius_clients"
}


# --- one capture ------------------------------------------------------------------------------------------------

NAME=""



# eapol NAME METHOD TLS CA OUTCOME [any]: wired 802.1X between wpa_supplicant (in $NS_S) and hostapd (in $NS_A) on a
# fresh veth pair; tcpdump on the supplicant's interface (or with "any", on every interface of the authenticator's
# namespace) from before either starts; OUTCOME is SUCCESS or FAILURE
eapol() {
  local method=$2 tls=$3 ca=$4 outcome=$5 ns
  NAME=$1
  echo "== $NAME" >&2
  two_namespaces $NS_A $IF_A $MAC_A $NS_S $IF_S $MAC_S
  for ns in $NS_A $NS_S; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
  links_up "$NS_A $IF_A" "$NS_S $IF_S"
  hostapd_conf "$WORK/hostapd.conf" "$tls" wired
  supplicant_conf "$WORK/supplicant.conf" "$method" "$tls" "$ca" "$(user_of "$method")" "$(password_of "$method")"
  if [ "${6:-}" = any ]; then
    start_tcpdump $NS_A any "$WORK/$NAME.pcap" "ether proto 0x888e"
  else
    start_tcpdump $NS_S $IF_S "$WORK/$NAME.pcap" "ether proto 0x888e"
  fi
  ip netns exec $NS_A hostapd "${DEBUG[@]}" -t "$WORK/hostapd.conf" >"$WORK/$NAME.hostapd.log" 2>&1 &
  SERVER_PID=$!
  wait_log "$WORK/$NAME.hostapd.log" "AP-ENABLED|$IF_A: .*ENABLED" 10 || { cat "$WORK/$NAME.hostapd.log" >&2; return 1; }
  ip netns exec $NS_S wpa_supplicant "${DEBUG[@]}" -t -D wired -i $IF_S -c "$WORK/supplicant.conf" >"$WORK/$NAME.supplicant.log" 2>&1 &
  SUPP_PID=$!
  wait_log "$WORK/$NAME.supplicant.log" "CTRL-EVENT-EAP-(SUCCESS|FAILURE)" 30 \
    || { tail -30 "$WORK/$NAME.supplicant.log" "$WORK/$NAME.hostapd.log" >&2; return 1; }
  grep -q "CTRL-EVENT-EAP-$outcome" "$WORK/$NAME.supplicant.log" \
    || { echo "$NAME: expected EAP-$outcome" >&2; tail -30 "$WORK/$NAME.supplicant.log" >&2; return 1; }
  grep -E "CTRL-EVENT-EAP-(SUCCESS|FAILURE)|CTRL-EVENT-EAP-TLS-CERT-ERROR" "$WORK/$NAME.supplicant.log" | sed 's/^/   /' >&2
  keep
  stop "$SUPP_PID"; SUPP_PID=""
  stop "$SERVER_PID"; SERVER_PID=""
  remove_namespaces
}

# radius NAME METHOD TLS OUTCOME [FRAGMENT]: eapol_test (NAS and supplicant) against hostapd as a RADIUS server, both
# in $NS_R on 127.0.0.1; tcpdump on lo; OUTCOME is SUCCESS or FAILURE; FRAGMENT an EAP fragment size for both peers
radius() {
  local method=$2 tls=$3 outcome=$4 frag=${5:-} rc=0
  NAME=$1
  echo "== $NAME" >&2
  ip netns del $NS_R 2>/dev/null || true
  ip netns add $NS_R
  ip -n $NS_R link set lo up
  hostapd_conf "$WORK/hostapd.conf" "$tls" radius "$frag"
  supplicant_conf "$WORK/eapol_test.conf" "$method" "$tls" eap-ca.crt.pem "$(user_of "$method")" \
    "$(password_of "$method")" ${frag:+"fragment_size=$frag"}
  start_tcpdump $NS_R lo "$WORK/$NAME.pcap" "udp port $RADIUS_PORT"
  ip netns exec $NS_R hostapd "${DEBUG[@]}" -t "$WORK/hostapd.conf" >"$WORK/$NAME.hostapd.log" 2>&1 &
  SERVER_PID=$!
  wait_for_port $NS_R $RADIUS_PORT udp || { cat "$WORK/$NAME.hostapd.log" >&2; return 1; }
  timeout 30 ip netns exec $NS_R eapol_test -c "$WORK/eapol_test.conf" -a 127.0.0.1 -p $RADIUS_PORT \
    -s "$RADIUS_SECRET" >"$WORK/$NAME.eapol_test.log" 2>&1 || rc=$?
  if [ "$outcome" = SUCCESS ]; then
    [ $rc = 0 ] || { echo "$NAME: eapol_test failed ($rc)" >&2; tail -30 "$WORK/$NAME.eapol_test.log" >&2; return 1; }
  fi
  grep -q "CTRL-EVENT-EAP-$outcome" "$WORK/$NAME.eapol_test.log" \
    || { echo "$NAME: expected EAP-$outcome" >&2; tail -30 "$WORK/$NAME.eapol_test.log" >&2; return 1; }
  grep -E "CTRL-EVENT-EAP-(SUCCESS|FAILURE)|^SUCCESS|^FAILURE" "$WORK/$NAME.eapol_test.log" | sed 's/^/   /' >&2
  keep
  stop "$SERVER_PID"; SERVER_PID=""
  ip netns del $NS_R
}

# --- the captures -----------------------------------------------------------------------------------------------

make_pki
write_eap_users

for name in "${CAPTURES[@]}"; do
  rm -f "$WORK/$name".*
  case $name in
    eapol-eap-tls12-rsa)      eapol "$name" tls 12 eap-ca.crt.pem SUCCESS;;
    eapol-eap-tls13)          eapol "$name" tls 13 eap-ca.crt.pem SUCCESS;;
    eapol-peap-mschapv2)      eapol "$name" peap 12 eap-ca.crt.pem SUCCESS;;
    eapol-eap-tls-unknown-ca) eapol "$name" tls 12 other-ca.crt.pem FAILURE;;
    sll2-eap-tls12-rsa)       eapol "$name" tls 12 eap-ca.crt.pem SUCCESS any;;
    radius-eap-tls12-rsa)     radius "$name" tls 12 SUCCESS 500;;
    radius-ttls-pap)          radius "$name" ttls 12 SUCCESS;;
    radius-eap-tls13)         radius "$name" tls 13 SUCCESS;;
    radius-peap-mschapv2)     radius "$name" peap 12 SUCCESS;;
  esac
done
