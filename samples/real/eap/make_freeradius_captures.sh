#!/usr/bin/env bash
# make_freeradius_captures.sh - capture TLS handshakes carried inside EAP in RADIUS, between FreeRADIUS 3.2 (the RADIUS
# and EAP server) and eapol_test (NAS + supplicant), over UDP on loopback. The hostapd / wpa_supplicant captures next
# to it are made by make_eap_captures.sh; see README.md here.
#
#   sudo ./make_freeradius_captures.sh            # (re)make every capture
#   sudo ./make_freeradius_captures.sh NAME...    # (re)make only these
#   ./make_freeradius_captures.sh --list          # list the capture names
#
# Needs root (network namespace, tcpdump) and: iproute2, tcpdump, freeradius (3.2), eapol_test. On Debian 12:
#   apt-get install -y freeradius eapoltest tcpdump iproute2
# (installing freeradius enables its system service; this script never uses it, nor /etc/freeradius itself: it copies
# /etc/freeradius/3.0 into its temporary work directory, edits the copy and runs "freeradius -X -d COPY" in the
# foreground, inside the namespace).
#
# Network (made here, removed on exit, also on error or Ctrl-C; only loopback: nothing leaves it):
#
#   eap-freeradius: eapol_test (NAS + supplicant) --UDP 1812 on lo--> freeradius -X (RADIUS server + EAP server)
#                   tcpdump -i lo "udp port 1812" (Ethernet frames with zero MAC addresses)
#
# FreeRADIUS configuration (the copy): radiusd.conf's raddbdir, logdir and run_dir point into the work directory and
# it keeps running as root (no user/group switch: the work directory is root's); clients.conf holds one client,
# 127.0.0.1 with the shared secret below; the users file (mods-config/files/authorize) carol's and dave's
# Cleartext-Password; mods-available/eap is written anew for each capture: the test PKI next to this script
# (eap-server.crt.pem / .key.pem, client certificates checked against eap-ca.crt.pem), default_eap_type the
# capture's method (so the server's first request is that method's Start, no NAK), cipher_list, tls_min_version /
# tls_max_version and the session cache (enable = yes only for the resumption capture; FreeRADIUS 3.2 has OpenSSL's
# internal session cache disabled and resumes only sessions it stored in the cache's persist_dir, here in $WORK).
# The TLS 1.2 captures use AES128-SHA only (RSA key exchange): eap-server.key.pem alone decrypts them. For the TLS
# 1.3 capture FreeRADIUS runs with SSLKEYLOGFILE set (its OpenSSL keylog callback writes the file): kept as NAME.keys.
#
# The test PKI is made by make_eap_captures.sh; this script only reuses it (it stops if a file is missing).
#
# EAP_LOGS=DIR: keep every peer's log as DIR/NAME.freeradius.log (freeradius -X) and DIR/NAME.eapol_test.log.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REAL=$(cd "$HERE/.." && pwd)
NS_R=eap-freeradius
RADIUS_PORT=1812
RADIUS_SECRET=dissector-radius-secret
RADDB_SYSTEM=/etc/freeradius/3.0
PKI=(eap-ca.crt.pem eap-server.crt.pem eap-server.key.pem eap-client.crt.pem eap-client.key.pem)

CAPTURES=(
  freeradius-eap-tls12-rsa freeradius-eap-tls12-resume freeradius-peap-mschapv2 freeradius-ttls-pap
  freeradius-eap-tls13
)

if [ "${1:-}" = --list ]; then printf '%s\n' "${CAPTURES[@]}"; exit 0; fi
# shellcheck source=../netns-lib.sh
. "$REAL/netns-lib.sh"  # stop, remove_namespaces, start_tcpdump, wait_for_port, trap_teardown
require make_freeradius_captures.sh ip ss tcpdump freeradius eapol_test
[ -d "$RADDB_SYSTEM" ] || { echo "make_freeradius_captures.sh: $RADDB_SYSTEM is missing (package freeradius)" >&2; exit 1; }
for f in "${PKI[@]}"; do
  [ -s "$HERE/$f" ] || { echo "make_freeradius_captures.sh: $f is missing (made by make_eap_captures.sh)" >&2; exit 1; }
done
select_names CAPTURES capture "$@"

WORK=$(mktemp -d /tmp/freeradius-captures.XXXXXX)
TCPDUMP_PID="" SERVER_PID=""
RADDB=$WORK/raddb
if [ -n "${EAP_LOGS:-}" ]; then mkdir -p "$EAP_LOGS"; fi

NAMESPACES=($NS_R)
# shellcheck source=eap-lib.sh
. "$HERE/eap-lib.sh"  # supplicant_conf, keep (wait_log: netns-lib.sh)
user_of() { case $1 in peap) echo carol;; ttls) echo dave;; esac; }  # the inner identities of the users file
password_of() { case $1 in peap) echo test-password-3;; ttls) echo test-password-4;; esac; }

trap_teardown  # on exit: stop freeradius (SERVER_PID), tcpdump; remove the namespace and $WORK (with the raddb copy)

# --- FreeRADIUS configuration (a copy of the system's, edited) ---------------------------------------------------

make_raddb() {  # $RADDB: /etc/freeradius/3.0 copied, with its own paths, one client and the users file
  cp -a "$RADDB_SYSTEM" "$RADDB"
  mkdir -p "$WORK/log/radacct" "$WORK/log/tlscache" "$WORK/run"
  chmod 700 "$WORK/log/tlscache"
  sed -i -e "s|^raddbdir = .*|raddbdir = $RADDB|" -e "s|^logdir = .*|logdir = $WORK/log|" \
    -e "s|^run_dir = .*|run_dir = $WORK/run|" -e 's/^\([[:space:]]*\)\(user\|group\) = freerad/\1#\2 = freerad/' \
    "$RADDB/radiusd.conf"
  cat >"$RADDB/clients.conf" <<EOF
client localhost {
	ipaddr = 127.0.0.1
	proto = udp
	secret = $RADIUS_SECRET
	require_message_authenticator = no
	nas_type = other
}
EOF
  # the users file ("users" is a link to it): the inner (phase 2) credentials of PEAP and EAP-TTLS; EAP-TLS's
  # eap-client needs no entry (its certificate is checked against eap-ca.crt.pem)
  cat >"$RADDB/mods-config/files/authorize" <<'EOF'
carol	Cleartext-Password := "test-password-3"

dave	Cleartext-Password := "test-password-4"
EOF
}

# eap_module METHOD TLS CACHE: mods-available/eap for one capture; METHOD tls, peap or ttls (default_eap_type); TLS 12
# (TLS 1.2 only, AES128-SHA only) or 13 (TLS 1.2 to 1.3, default ciphers); CACHE yes or no (TLS session cache)
eap_module() {
  local method=$1 tls=$2 cache=$3 ciphers min max
  if [ "$tls" = 12 ]; then ciphers=AES128-SHA min=1.2 max=1.2; else ciphers=DEFAULT min=1.2 max=1.3; fi
  cat >"$RADDB/mods-available/eap" <<EOF
eap {
	default_eap_type = $method
	timer_expire = 60
	ignore_unknown_eap_types = no
	cisco_accounting_username_bug = no
	max_sessions = \${max_requests}
	md5 {
	}
	tls-config tls-common {
		private_key_file = $HERE/eap-server.key.pem
		certificate_file = $HERE/eap-server.crt.pem
		ca_file = $HERE/eap-ca.crt.pem
		cipher_list = "$ciphers"
		cipher_server_preference = no
		tls_min_version = "$min"
		tls_max_version = "$max"
		ecdh_curve = ""
		cache {
			enable = $cache
			lifetime = 24 # hours
			name = "dissector EAP"
			persist_dir = "\${logdir}/tlscache"
			store {
				Tunnel-Private-Group-Id
			}
		}
		verify {
		}
		ocsp {
			enable = no
		}
	}
	tls {
		tls = tls-common
	}
	ttls {
		tls = tls-common
		default_eap_type = md5
		copy_request_to_tunnel = no
		use_tunneled_reply = no
		virtual_server = "inner-tunnel"
	}
	peap {
		tls = tls-common
		default_eap_type = mschapv2
		copy_request_to_tunnel = no
		use_tunneled_reply = no
		virtual_server = "inner-tunnel"
	}
	mschapv2 {
	}
}
EOF
}


# --- one capture ------------------------------------------------------------------------------------------------

NAME=""



# radius NAME METHOD TLS CACHE SUCCESSES [EAPOL_TEST_OPTION...]: eapol_test against freeradius -X, both in $NS_R on
# 127.0.0.1; tcpdump on lo; SUCCESSES is how many EAP-Successes eapol_test must report (1 + its re-authentications)
radius() {
  local method=$2 tls=$3 cache=$4 successes=$5 rc=0 n keylog
  NAME=$1
  shift 5
  echo "== $NAME" >&2
  ip netns del $NS_R 2>/dev/null || true
  ip netns add $NS_R
  ip -n $NS_R link set lo up
  eap_module "$method" "$tls" "$cache"
  supplicant_conf "$WORK/eapol_test.conf" "$method" "$tls" eap-ca.crt.pem "$(user_of "$method")" "$(password_of "$method")"
  start_tcpdump $NS_R lo "$WORK/$NAME.pcap" "udp port $RADIUS_PORT"
  # TLS 1.3: FreeRADIUS writes the key log (SSLKEYLOGFILE, read by its OpenSSL keylog callback); kept as NAME.keys
  if [ "$tls" = 13 ]; then keylog=(env "SSLKEYLOGFILE=$WORK/$NAME.keys"); else keylog=(); fi
  ip netns exec $NS_R "${keylog[@]}" freeradius -X -d "$RADDB" >"$WORK/$NAME.freeradius.log" 2>&1 &
  SERVER_PID=$!
  wait_log "$WORK/$NAME.freeradius.log" "Ready to process requests" 20 \
    && wait_for_port $NS_R $RADIUS_PORT udp || { tail -40 "$WORK/$NAME.freeradius.log" >&2; return 1; }
  timeout 60 ip netns exec $NS_R eapol_test -c "$WORK/eapol_test.conf" -a 127.0.0.1 -p $RADIUS_PORT \
    -s "$RADIUS_SECRET" "$@" >"$WORK/$NAME.eapol_test.log" 2>&1 || rc=$?
  [ $rc = 0 ] || { echo "$NAME: eapol_test failed ($rc)" >&2; tail -30 "$WORK/$NAME.eapol_test.log" >&2; return 1; }
  n=$(grep -c "CTRL-EVENT-EAP-SUCCESS" "$WORK/$NAME.eapol_test.log" || true)
  [ "$n" = "$successes" ] \
    || { echo "$NAME: $n EAP-Successes, expected $successes" >&2; tail -30 "$WORK/$NAME.eapol_test.log" >&2; return 1; }
  if [ "$cache" = yes ]; then  # the re-authentication must have resumed the first session
    grep -q "Handshake finished - resumed=1" "$WORK/$NAME.eapol_test.log" \
      || { echo "$NAME: the TLS session was not resumed" >&2; return 1; }
  fi
  grep -E "CTRL-EVENT-EAP-(SUCCESS|FAILURE)|^SUCCESS|^FAILURE|resum" "$WORK/$NAME.eapol_test.log" | sed 's/^/   /' >&2
  keep
  if [ "$tls" = 13 ]; then
    [ -s "$WORK/$NAME.keys" ] || { echo "$NAME: FreeRADIUS wrote no key log" >&2; return 1; }
    install -m 644 "$WORK/$NAME.keys" "$HERE/$NAME.keys"
    echo "   key log: $(wc -l <"$HERE/$NAME.keys") lines" >&2
  fi
  stop "$SERVER_PID"; SERVER_PID=""
  ip netns del $NS_R
}

# --- the captures -----------------------------------------------------------------------------------------------

echo "test PKI: reusing ${PKI[*]}" >&2
make_raddb

for name in "${CAPTURES[@]}"; do
  rm -f "$WORK/$name".*
  case $name in
    freeradius-eap-tls12-rsa)    radius "$name" tls 12 no 1;;
    freeradius-eap-tls12-resume) radius "$name" tls 12 yes 2 -r 1;;  # a second, resumed authentication
    freeradius-peap-mschapv2)    radius "$name" peap 12 no 1;;
    freeradius-ttls-pap)         radius "$name" ttls 12 no 1;;
    freeradius-eap-tls13)        radius "$name" tls 13 no 1;;
  esac
done
