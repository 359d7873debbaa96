# Shell helpers shared by make_real_captures.sh and make_nginx_captures.sh (sourced, not run).
# The sourcing script sets NAMESPACES (the network namespaces it creates) before calling them.

require() {  # require SCRIPT TOOL...: stop SCRIPT unless it runs as root and every TOOL is installed
  local script=$1 tool
  shift
  [ "$(id -u)" = 0 ] || { echo "$script: needs root (network namespaces, tcpdump)" >&2; exit 1; }
  for tool in "$@"; do command -v "$tool" >/dev/null || { echo "$script: $tool is missing" >&2; exit 1; }; done
}

select_names() {  # select_names ARRAY WORD [NAME...]: keep only the NAMEs asked for in the array ARRAY (all of it when
                 # none is asked); a NAME it does not hold stops the script ("unknown WORD")
  local -n _names=$1
  local word=$2 n
  shift 2
  [ $# -gt 0 ] || return 0
  for n in "$@"; do
    printf '%s\n' "${_names[@]}" | grep -qx -- "$n" || { echo "unknown $word: $n (see --list)" >&2; exit 2; }
  done
  _names=("$@")
}

client_server_namespaces() {  # client_server_namespaces NS_C NS_S NET [IF_C IF_S [noipv6]]: two_namespaces NS_C and
                              # NS_S joined by IF_C (NET.2/24; default vcli) and IF_S (NET.1/24; vsrv), MACs
                              # 02:AA:BB:00:00:02 and :01 for NET = x.AA.BB; with noipv6, IPv6 off in both; then
                              # offloads off, links up
  local mac if_c=${4:-vcli} if_s=${5:-vsrv} ns
  mac=$(IFS=. read -r _ b c <<<"$3"; printf '02:%02d:%02d:00:00' "$b" "$c")
  two_namespaces "$1" "$if_c" "$mac:02" "$2" "$if_s" "$mac:01"
  ip -n "$1" addr add "$3.2/24" dev "$if_c"
  ip -n "$2" addr add "$3.1/24" dev "$if_s"
  if [ "${6:-}" = noipv6 ]; then
    for ns in "$1" "$2"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true; done
  fi
  links_up "$1 $if_c" "$2 $if_s"
}

stop() {  # stop PID [SIGNAL]: signal one process we started and wait for it
  local pid=$1 sig=${2:-TERM}
  [ -n "$pid" ] || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

remove_namespaces() {  # the namespaces of $NAMESPACES, and the hosts/resolv.conf files a script wrote for them
  local ns
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; rm -rf "/etc/netns/$ns"; done
}

routed_namespace() {  # routed_namespace NS ADDRESS: a fresh namespace NS (loopback up) holding a veth pair va/vb, ADDRESS/24
                      # on va and a default route through a router that is not there (Chromium's QUIC and WebRTC want a
                      # network with a default route); nothing leaves the namespace
  ip netns del "$1" 2>/dev/null || true
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$1" link add va type veth peer name vb
  ip -n "$1" addr add "$2/24" dev va
  ip -n "$1" link set va up
  ip -n "$1" link set vb up
  ip -n "$1" route add default via "${2%.*}.254" dev va onlink
}

keep_capture() {  # keep_capture NAME: copy $WORK/NAME.pcap and NAME.keys next to the scripts ($HERE)
  local name=$1
  [ -s "$WORK/$name.keys" ] || { echo "$name: no key log written" >&2; return 1; }
  cp "$WORK/$name.pcap" "$HERE/$name.pcap"
  cp "$WORK/$name.keys" "$HERE/$name.keys"
  chmod 644 "$HERE/$name.pcap" "$HERE/$name.keys"
  echo "   $(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log"), $(stat -c %s "$HERE/$name.pcap") bytes" >&2
}

wait_log() {  # wait_log FILE REGEX SECONDS: until a line of FILE matches REGEX
  local i
  for i in $(seq $(($3 * 20))); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "timeout waiting for '$2' in $1" >&2; return 1
}

wait_for_port() {  # wait_for_port NAMESPACE PORT [udp]: until something listens on TCP PORT there (or has UDP
                   # PORT bound), 5 s at most
  local i opts=-Hltn
  [ "${3:-}" = udp ] && opts=-Hlun
  for i in $(seq 100); do
    ip netns exec "$1" ss $opts "sport = :$2" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}

two_namespaces() {  # two_namespaces NS_A IF_A MAC_A NS_B IF_B MAC_B: fresh namespaces (loopback up; leftovers of an
                    # interrupted run removed first) joined by a veth pair IF_A <-> IF_B; links_up brings it up
  remove_namespaces
  local ns
  for ns in "$1" "$4"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip link add "$2" netns "$1" address "$3" type veth peer name "$5" netns "$4" address "$6"
}

links_up() {  # links_up "NAMESPACE IFACE"...: offloads off (the capture shows segments as they are sent), link up
  local spec
  for spec in "$@"; do
    set -- $spec
    ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off sg off >/dev/null 2>&1 || true
    ip -n "$1" link set "$2" up
  done
}

start_tcpdump() {  # start_tcpdump NAMESPACE IFACE FILE FILTER: capture in the background (TCPDUMP_PID), from when
                   # tcpdump says it listens; its messages go to $WORK/tcpdump.log (keep_capture reads them)
  # (ip netns exec itself, not a shell function: a function would run in a subshell that ignores stop's SIGINT)
  ip netns exec "$1" tcpdump -i "$2" -s 0 -U --immediate-mode -Z root -w "$3" "$4" 2>"$WORK/tcpdump.log" &
  TCPDUMP_PID=$!
  local i
  for i in $(seq 100); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.05; done
}

start_server() {  # start_server NAMESPACE PORT tcp|udp CMD...: run a server in the background (SERVER_PID; cwd $WORK,
                  # stdin a FIFO that never ends, output in $WORK/$NAME.server.log) and wait for its port
  local ns=$1 port=$2 proto=$3
  shift 3
  [ -p "$WORK/stdin" ] || mkfifo "$WORK/stdin"
  (cd "$WORK" && exec ip netns exec "$ns" "$@" <>"$WORK/stdin" >"$WORK/$NAME.server.log" 2>&1) &
  SERVER_PID=$!
  wait_for_port "$ns" "$port" "$proto" && return 0
  echo "server did not start: $*" >&2; cat "$WORK/$NAME.server.log" >&2; return 1
}

run_client() {  # run_client NAMESPACE SECONDS CMD...: run a client (cwd $WORK, stdin from the caller, output appended
                # to $WORK/$NAME.client.log) for at most SECONDS
  local ns=$1 limit=$2
  shift 2
  (cd "$WORK" && timeout "$limit" ip netns exec "$ns" "$@") >>"$WORK/$NAME.client.log" 2>&1 \
    || { echo "client failed ($?): $*" >&2; tail -20 "$WORK/$NAME.client.log" >&2; return 1; }
}

finish_capture() {  # finish_capture NAME: stop the server (SERVER_PID) and tcpdump, then keep_capture NAME
  sleep 0.3
  stop "$SERVER_PID"; SERVER_PID=""
  sleep 0.2
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  keep_capture "$1"
}

trap_teardown() {  # trap_teardown [VAR[:SIGNAL]]...: on exit (or INT/TERM) stop the processes whose PIDs the named
                   # variables hold by then (TERM, or SIGNAL), then $SERVER_PID and $TCPDUMP_PID (INT), and remove
                   # the namespaces and $WORK
  TEARDOWN_PIDS=("$@")
  trap _teardown EXIT
  trap 'exit 130' INT TERM
}

_teardown() {
  local spec var
  for spec in "${TEARDOWN_PIDS[@]}"; do
    var=${spec%%:*}
    if [ "$spec" = "$var" ]; then stop "${!var:-}"; else stop "${!var:-}" "${spec#*:}"; fi
  done
  stop "${SERVER_PID:-}"; stop "${TCPDUMP_PID:-}" INT
  remove_namespaces
  rm -rf "$WORK"
}

nss_trust() {  # nss_trust DIR CA.pem: a new NSS database in DIR that trusts CA.pem for servers (Chromium reads
               # $HOME/.pki/nssdb, Firefox its profile's)
  mkdir -p "$1"
  certutil -N -d "sql:$1" --empty-password
  certutil -A -d "sql:$1" -n "dissector test CA" -t "C,," -i "$2"
}

firefox_profile() {  # firefox_profile DIR [PREF VALUE]...: DIR/user.js for a quiet headless Firefox (no default-browser
                     # check, captive-portal probe, telemetry or update), plus the preferences given (VALUE as in
                     # user.js: true, 5, "text")
  local dir=$1
  shift
  mkdir -p "$dir"
  {
    printf 'user_pref("%s", %s);\n' browser.shell.checkDefaultBrowser false network.captive-portal-service.enabled false \
      datareporting.policy.dataSubmissionEnabled false toolkit.telemetry.reportingpolicy.firstRun false \
      app.update.enabled false
    while [ $# -ge 2 ]; do printf 'user_pref("%s", %s);\n' "$1" "$2"; shift 2; done
  } > "$dir/user.js"
}
