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
