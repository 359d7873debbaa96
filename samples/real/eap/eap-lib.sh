# Shell helpers shared by make_eap_captures.sh and make_freeradius_captures.sh (sourced, not run). They use HERE (this
# directory), WORK (the work directory), NAME (the capture being made), TCPDUMP_PID and stop (from ../netns-lib.sh).

# supplicant_conf FILE METHOD TLS CA USER PASSWORD [EXTRA...]: a wpa_supplicant / eapol_test configuration with one
# network; METHOD is tls (eap-client's certificate), peap (USER, PASSWORD over MSCHAPv2) or ttls (USER, PASSWORD over
# PAP); TLS is 12 (AES128-SHA, TLS 1.3 disabled) or 13 (TLS 1.3 enabled); CA is the PEM file the supplicant trusts for
# the server certificate; EXTRA are more lines of the network block
supplicant_conf() {
  local file=$1 method=$2 tls=$3 ca=$4 user=$5 password=$6 phase1
  shift 6
  if [ "$tls" = 12 ]; then phase1="tls_disable_tlsv1_3=1"; else phase1="tls_disable_tlsv1_3=0"; fi
  {
    printf '%s\n' ap_scan=0 eapol_version=2 'network={' '	key_mgmt=IEEE8021X' "	ca_cert=\"$HERE/$ca\""
    case $method in
      tls)  printf '%s\n' '	eap=TLS' '	identity="eap-client"' "	client_cert=\"$HERE/eap-client.crt.pem\"" \
              "	private_key=\"$HERE/eap-client.key.pem\"";;
      peap) printf '%s\n' '	eap=PEAP' "	identity=\"$user\"" "	password=\"$password\"" '	phase2="auth=MSCHAPV2"'
            phase1="peapver=0 $phase1";;
      ttls) printf '%s\n' '	eap=TTLS' "	identity=\"$user\"" "	password=\"$password\"" '	phase2="auth=PAP"';;
    esac
    printf '%s\n' "	phase1=\"$phase1\""
    [ "$tls" = 12 ] && printf '%s\n' '	openssl_ciphers="AES128-SHA"'
    [ $# -gt 0 ] && printf '	%s\n' "$@"
    printf '%s\n' '}'
  } >"$file"
}

keep() {  # keep: stop tcpdump and copy $WORK/$NAME.pcap next to the scripts
  sleep 0.5  # frames the outcome still triggers
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  install -m 644 "$WORK/$NAME.pcap" "$HERE/$NAME.pcap"
  [ -z "${EAP_LOGS:-}" ] || cp "$WORK/$NAME".*.log "$EAP_LOGS/"
  echo "   $(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log"), $(stat -c %s "$HERE/$NAME.pcap") bytes" >&2
}
