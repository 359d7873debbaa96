# Shell helpers shared by make_real_captures.sh and make_nginx_captures.sh (sourced, not run).
# The sourcing script sets NAMESPACES (the network namespaces it creates) before calling them.

stop() {  # stop PID [SIGNAL]: signal one process we started and wait for it
  local pid=$1 sig=${2:-TERM}
  [ -n "$pid" ] || return 0
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

remove_namespaces() {
  local ns
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}

keep_capture() {  # keep_capture NAME: copy $WORK/NAME.pcap and NAME.keys next to the scripts ($HERE)
  local name=$1
  [ -s "$WORK/$name.keys" ] || { echo "$name: no key log written" >&2; return 1; }
  cp "$WORK/$name.pcap" "$HERE/$name.pcap"
  cp "$WORK/$name.keys" "$HERE/$name.keys"
  chmod 644 "$HERE/$name.pcap" "$HERE/$name.keys"
  echo "   $(grep -o '[0-9]* packets captured' "$WORK/tcpdump.log"), $(stat -c %s "$HERE/$name.pcap") bytes" >&2
}

wait_for_port() {  # wait_for_port NAMESPACE PORT: until something listens on TCP PORT there (5 s at most)
  local i
  for i in $(seq 100); do
    ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}
