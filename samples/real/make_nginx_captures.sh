#!/usr/bin/env bash
# make_nginx_captures.sh - capture curl talking to nginx (HTTP/1.1 and HTTP/2 over TLS) in a
# browser-like session: a page, a form login that sets cookies, Basic and Bearer authorization and an
# OAuth2 authorization-code flow; with curl's key log (SSLKEYLOGFILE). Also two real browsers, headless
# Chromium (BoringSSL) and Firefox ESR (NSS), loading one page with its subresources from the same nginx.
# See README.md in this directory.
#
#   sudo ./make_nginx_captures.sh           # (re)make all of them (the files listed below)
#   sudo ./make_nginx_captures.sh h1        # or only some: h1, h2, chromium, firefox, chromium-brotli,
#                                           # firefox-zstd, firefox-zlib, go-server, go-client, proxy, proxy-auth,
#                                           # https-proxy, chromium-h2-proxy, firefox-h2-proxy,
#                                           # haproxy-v1, haproxy-v2, java
#
# Needs root (network namespaces, tcpdump) and: iproute2 (ip, ss), tcpdump, nginx, curl, openssl;
# ethtool if present (offloads off); chromium, firefox-esr and certutil for the browser captures, and
# Python's tlslite-ng, brotli and zstandard for the certificate-compression ones. On Debian 12:
#   apt-get install -y nginx curl tcpdump iproute2 ethtool openssl chromium firefox-esr libnss3-tools
#   pip install tlslite-ng==0.8.2 brotli zstandard
# and Go (crypto/tls) for the Go captures: apt-get install -y golang-1.19-go; tinyproxy for the proxy one;
# haproxy for the PROXY protocol ones;
# a JDK (java 11 or later runs JavaTlsClient.java from source) for the Java one
#
# Network: two namespaces made here and removed on exit (also on error or Ctrl-C), one veth between them:
#
#   dsn-cli [vcli 10.99.1.2/24] ==veth== [vsrv 10.99.1.1/24] dsn-srv      (nginx and tcpdump in dsn-srv)
#
# The addresses exist only inside these namespaces and there is no default route: nothing reaches any
# other network. curl resolves www.example.test to 10.99.1.1 with --resolve (no DNS).
#
# Files (next to this script):
#   nginx-server.crt.pem / nginx-server.key.pem  self-signed RSA 2048 certificate, CN and SAN www.example.test
#                                                (made once and kept; throwaway test key, committed on purpose)
#   nginx-htpasswd      alice:wonderland (apr1), made once and kept
#   nginx-server.conf   the nginx configuration (rewritten on every run; paths relative to its directory)
#   nginx-h1.pcap/.keys curl --http1.1, TLS 1.2 (--tls-max 1.2): one keep-alive connection, 8 requests
#   nginx-h2.pcap/.keys curl --http2 (TLS 1.2 and 1.3 offered, 1.3 chosen): one connection, 8 streams
#   browser-ca.crt.pem  a test CA (made once and kept, its key is not kept) that signed
#   browser-server.crt.pem / browser-server.key.pem   browser.example.test's certificate (RSA 2048)
#   chromium-h2.pcap/.keys, firefox-h2.pcap/.keys  the browser loading https://browser.example.test/: the
#                       page, a stylesheet, an image and a script whose synchronous requests log in (POST,
#                       Set-Cookie), fetch an OAuth2 token (POST; a gzip'd JSON answer) and call an API with
#                       a Bearer token; the browser trusts browser-ca
#                       through a throwaway NSS database (no certificate errors ignored)
#   chromium-tlslite-brotli, firefox-tlslite-zstd, firefox-tlslite-zlib (.pcap/.keys): the same page from
#                       tlslite_https_server.py (tlslite-ng, HTTP/1.1, port 8443), which compresses its
#                       certificate (RFC 8879 CompressedCertificate) with brotli, zstd or zlib, and the token
#                       response's body with the matching Content-Encoding (br, zstd or deflate)
#   go-server-h2 (.pcap/.keys): curl --http2 against go_tls_peer.go's server (Go's crypto/tls and net/http,
#                       TLS 1.3, HTTP/2, port 9443), curl's key log
#   go-client-tls12 (.pcap/.keys): go_tls_peer.go's client (TLS 1.2 only, HTTP/1.1) against nginx, with the
#                       key log Go writes (tls.Config.KeyLogWriter)
#   proxy-connect (.pcap/.keys): curl through tinyproxy (in the server's namespace, port 3128) to nginx:
#                       HTTP CONNECT, the proxy's 200, then TLS 1.3 inside the tunnel; captured on the
#                       client-to-proxy leg
#   proxy-connect-auth (.pcap/.keys): the same with tinyproxy asking for Basic credentials (BasicAuth) and curl
#                       sending them (--proxy-user alice:wonderland) in the CONNECT request, in the clear
#   https-proxy-connect (.pcap/.keys): curl through squid's https_port (an HTTPS proxy, port 3129) to nginx: TLS
#                       to the proxy, CONNECT inside it, then TLS to nginx inside that tunnel; curl's key log holds
#                       both sessions (needs squid-openssl)
#   chromium-h2-proxy, firefox-h2-proxy (.pcap/.keys): the browser loading https://browser.example.test/ through
#                       an HTTPS proxy that speaks HTTP/2 (nghttpx --http2-proxy, port 3443, in front of tinyproxy;
#                       Firefox reads it from a PAC file): each tunnel is an HTTP/2 CONNECT stream with TLS to nginx
#                       inside it; captured on the browser-to-proxy leg. NAME-origin (.pcap/.keys) holds the
#                       proxy-to-nginx leg of the same run (the inner sessions as plain TCP) with the same key log
#                       (needs nghttp2-proxy)
#   java-client-tls12-rsa (.pcap/.keys/.key.pem): JavaTlsClient.java (the JDK's SunJSSE, HttpsURLConnection)
#                       against nginx, TLS 1.2 with the RSA key exchange suite TLS_RSA_WITH_AES_128_GCM_SHA256:
#                       nginx's private key decrypts it. Java writes no key log: the .keys file is what
#                       `dissector keys --key` derives from that key (tshark checks it decrypts the same)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
NS_C=dsn-cli NS_S=dsn-srv
S4=10.99.1.1 C4=10.99.1.2
HOST=www.example.test
CAPTURES=(h1 h2 chromium firefox chromium-brotli firefox-zstd firefox-zlib go-server go-client proxy proxy-auth
          https-proxy chromium-h2-proxy firefox-h2-proxy haproxy-v1 haproxy-v2 java)

# shellcheck source=netns-lib.sh
. "$HERE/netns-lib.sh"  # stop, remove_namespaces, keep_capture, wait_for_port
require make_nginx_captures.sh ip ss tcpdump nginx curl openssl
if [ $# -gt 0 ]; then
  for n in "$@"; do
    case $n in h1|h2|chromium|firefox|chromium-brotli|firefox-zstd|firefox-zlib|go-server|go-client|proxy|proxy-auth|https-proxy|chromium-h2-proxy|firefox-h2-proxy|haproxy-v1|haproxy-v2|java) ;;
      *) echo "unknown capture: $n (see the top of this script)" >&2; exit 2;; esac
  done
  CAPTURES=("$@")
fi

WORK=$(mktemp -d /tmp/nginx-captures.XXXXXX)
TCPDUMP_PID="" NGINX_PID="" TLSLITE_PID="" GO_PID="" PROXY_PID="" H2PROXY_PID="" ORIGIN_PID=""

NAMESPACES=($NS_C $NS_S)

trap_teardown NGINX_PID:QUIT TLSLITE_PID GO_PID PROXY_PID H2PROXY_PID ORIGIN_PID:INT

inc() { ip netns exec $NS_C "$@"; }
ins() { ip netns exec $NS_S "$@"; }

setup_network() {
  client_server_namespaces $NS_C $NS_S "${S4%.*}" vcli vsrv noipv6
}

# --- server files ----------------------------------------------------------------------------------

make_files() {
  cd "$HERE"
  if [ ! -s nginx-server.key.pem ] || [ ! -s nginx-server.crt.pem ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$HOST" \
      -addext "subjectAltName=DNS:$HOST" \
      -keyout nginx-server.key.pem -out nginx-server.crt.pem 2>/dev/null
  fi
  if [ ! -s nginx-htpasswd ]; then
    printf 'alice:%s\n' "$(openssl passwd -apr1 wonderland)" > nginx-htpasswd
  fi
  chmod 644 nginx-server.key.pem nginx-server.crt.pem nginx-htpasswd
  cat > nginx-server.conf <<'EOF'
# nginx configuration of the nginx-h1 / nginx-h2 captures (written by make_nginx_captures.sh).
# Relative paths are relative to this file's directory; the script runs a copy with
#   nginx -p WORKDIR -c WORKDIR/nginx-server.conf -g 'daemon off; pid nginx.pid;'
# nginx 1.22 (Debian 12): HTTP/2 is "listen ... http2" (the "http2 on" directive is nginx 1.25.1+).
user root;
worker_processes 1;
error_log error.log info;
events { worker_connections 64; }
http {
    access_log access.log;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    types { text/html html; text/css css; application/javascript js; image/svg+xml svg; }
    default_type text/plain;
    server_tokens off;
    keepalive_requests 100;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets on;

    server {
        listen 443 ssl http2;
        server_name www.example.test;
        ssl_certificate nginx-server.crt.pem;
        ssl_certificate_key nginx-server.key.pem;
        root html;

        location = / {
            index index.html;
        }
        location = /login {
            add_header Set-Cookie "session=abc123; Path=/; HttpOnly; Secure; SameSite=Lax" always;
            default_type text/html;
            return 200 "<html><body>welcome, alice</body></html>\n";
        }
        location = /prefs {
            add_header Set-Cookie "theme=dark; Path=/" always;
            default_type text/html;
            return 200 "<html><body>preferences saved</body></html>\n";
        }
        location = /basic {
            auth_basic "restricted";
            auth_basic_user_file nginx-htpasswd;
            default_type text/html;
            alias html/basic.html;
        }
        location /api/ {
            default_type application/json;
            return 200 '{"user":"alice"}\n';
        }
        location = /authorize {
            return 302 "https://client.example.test/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz";
        }
        location = /token {
            default_type application/json;
            add_header Cache-Control no-store always;
            return 200 '{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}';
        }
    }

    # behind a load balancer (haproxy-proxy-v1, -v2): every connection starts with HAProxy's PROXY header
    server {
        listen 4443 ssl proxy_protocol;
        server_name www.example.test;
        ssl_certificate nginx-server.crt.pem;
        ssl_certificate_key nginx-server.key.pem;
        location / {
            default_type text/plain;
            return 200 "hello from behind the load balancer, $proxy_protocol_addr:$proxy_protocol_port\n";
        }
    }

    # the browser captures (chromium-h2, firefox-h2): a certificate from a CA the browsers are told to trust
    server {
        listen 443 ssl http2;
        server_name browser.example.test;
        ssl_certificate browser-server.crt.pem;
        ssl_certificate_key browser-server.key.pem;
        root browser;
        gzip on;  # browsers accept gzip: the token response below travels compressed
        gzip_types application/json;
        gzip_min_length 20;

        location = /token {
            default_type application/json;
            add_header Cache-Control no-store always;
            return 200 '{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA"}';
        }
        location = /login {
            add_header Set-Cookie "session=abc123; Path=/; HttpOnly; Secure; SameSite=Lax" always;
            default_type text/plain;
            return 200 "welcome, alice\n";
        }
        location /api/ {
            default_type application/json;
            return 200 '{"user":"alice"}\n';
        }
    }
}
EOF
  chmod 644 nginx-server.conf
  make_browser_certs
  cp nginx-server.conf nginx-server.crt.pem nginx-server.key.pem nginx-htpasswd browser-server.crt.pem \
     browser-server.key.pem "$WORK/"
  mkdir -p "$WORK/html" "$WORK/tmp" "$WORK/browser"
  make_browser_site "$WORK/browser"
  printf '<!DOCTYPE html>\n<html><head><title>www.example.test</title></head><body><h1>Hello</h1><a href="/login">log in</a></body></html>\n' > "$WORK/html/index.html"
  printf '<html><body>Basic authentication accepted</body></html>\n' > "$WORK/html/basic.html"
}

make_browser_certs() {  # a test CA (its key lives only in $WORK) and browser.example.test's certificate
  if [ -s browser-ca.crt.pem ] && [ -s browser-server.crt.pem ] && [ -s browser-server.key.pem ]; then return 0; fi
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=dissector test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$WORK/browser-ca.key.pem" -out browser-ca.crt.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=browser.example.test" \
    -keyout browser-server.key.pem -out "$WORK/browser.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:browser.example.test" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > "$WORK/browser.ext"
  openssl x509 -req -in "$WORK/browser.csr" -CA browser-ca.crt.pem -CAkey "$WORK/browser-ca.key.pem" \
    -set_serial "0x$(openssl rand -hex 8)" -days 3650 -sha256 -extfile "$WORK/browser.ext" \
    -out browser-server.crt.pem 2>/dev/null
  chmod 644 browser-ca.crt.pem browser-server.crt.pem browser-server.key.pem
}

make_browser_site() {  # make_browser_site DIR: the page the browsers load, with its subresources
  local dir=$1
  cat > "$dir/index.html" <<'HTML'
<!DOCTYPE html>
<html><head><title>browser.example.test</title><link rel="stylesheet" href="/style.css"></head>
<body><h1>Hello</h1><img src="/logo.svg" alt="logo"><p id="out">...</p><script src="/app.js"></script></body></html>
HTML
  printf 'body { font-family: sans-serif; }\nh1 { color: #336; }\n' > "$dir/style.css"
  printf '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><circle cx="8" cy="8" r="7"/></svg>\n' > "$dir/logo.svg"
  # synchronous requests: they are over before the load event, when headless browsers stop
  cat > "$dir/app.js" <<'JS'
function call(method, url, body, headers) {
  var x = new XMLHttpRequest();
  x.open(method, url, false);
  for (var h in headers || {}) x.setRequestHeader(h, headers[h]);
  x.send(body || null);
  return x.status;
}
var form = {"Content-Type": "application/x-www-form-urlencoded"};
var login = call("POST", "/login", "user=alice&password=wonderland", form);
var token = call("POST", "/token", "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA" +
                 "&redirect_uri=https%3A%2F%2Fbrowser.example.test%2Fcb&client_id=s6BhdRkqt3" +
                 "&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw", form);
var me = call("GET", "/api/me", null, {"Authorization": "Bearer 2YotnFZFEjr1zCsicMWpAA"});
document.getElementById("out").textContent = "login " + login + ", token " + token + ", api " + me;
JS
}

start_nginx() {
  ip netns exec $NS_S nginx -p "$WORK/" -c "$WORK/nginx-server.conf" -g 'daemon off; pid nginx.pid;' >"$WORK/nginx.out" 2>&1 &
  NGINX_PID=$!
  wait_for_port $NS_S 443 && return 0
  echo "nginx did not start" >&2; cat "$WORK/nginx.out" "$WORK/error.log" >&2 2>/dev/null; return 1
}

# --- one capture -----------------------------------------------------------------------------------

begin() {  # begin NAME: start tcpdump on the server's interface
  local name=$1
  echo "== $name" >&2
  rm -f "$WORK/$name".* "$WORK/cookies.txt"
  start_tcpdump $NS_S vsrv "$WORK/$name.pcap" "tcp port 443 or tcp port 8443 or tcp port 9443 or tcp port 3128 or tcp port 3129 or tcp port 3443 or tcp port 4443"
}

finish() {  # finish NAME: stop tcpdump, keep the capture and its key log
  local name=$1
  sleep 0.3
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  keep_capture "$name"
}

capture() {  # capture h1|h2
  local which=$1 name=nginx-$1
  begin "$name"

  local proto
  if [ "$which" = h1 ]; then proto=(--http1.1 --tlsv1.2 --tls-max 1.2); else proto=(--http2); fi
  local base="https://$HOST"
  # every --next operation starts from scratch: the common options are repeated; the operations of one
  # curl command share its connection pool (one keep-alive connection) and its cookie store
  local c=(-sS -o /dev/null -w '%{http_version} %{http_code} %{url_effective}\n'
           --resolve "$HOST:443:$S4" --cacert "$WORK/nginx-server.crt.pem" "${proto[@]}"
           -b "$WORK/cookies.txt" -c "$WORK/cookies.txt")
  local redirect=https%3A%2F%2Fclient.example.test%2Fcb
  (cd "$WORK" && SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 ip netns exec $NS_C curl \
      "${c[@]}" "$base/" --next \
      "${c[@]}" -d 'user=alice&password=wonderland' "$base/login" --next \
      "${c[@]}" "$base/prefs" --next \
      "${c[@]}" -u alice:wonderland "$base/basic" --next \
      "${c[@]}" -H 'Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA' "$base/api/me" --next \
      "${c[@]}" "$base/authorize?response_type=code&client_id=s6BhdRkqt3&redirect_uri=$redirect&scope=openid&state=xyz" --next \
      "${c[@]}" -d "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA&redirect_uri=$redirect&client_id=s6BhdRkqt3&client_secret=7Fjfp0ZBr1KtDRbnfVdmIw" "$base/token" --next \
      "${c[@]}" -H 'Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA' "$base/api/me") \
    | sed 's/^/   /' >&2
  finish "$name"
}

browser() {  # browser chromium|firefox NAME URL: the browser loads URL once, then quits
  local which=$1 name=$2 url=$3
  local home="$WORK/home-$name"
  nss_trust "$home/.pki/nssdb" "$HERE/browser-ca.crt.pem"
  nss_trust "$home/profile" "$HERE/browser-ca.crt.pem"
  begin "$name"
  if [ "$which" = chromium ]; then
    HOME="$home" SSLKEYLOGFILE="$WORK/$name.keys" timeout 60 ip netns exec $NS_C chromium --headless \
      --no-sandbox --disable-gpu --no-first-run --user-data-dir="$home/chromium" --dump-dom "$url" \
      2>"$WORK/browser.log" | grep -o '<p id="out">[^<]*' | sed 's/^/   /' >&2
  else
    firefox_profile "$home/profile"
    HOME="$home" SSLKEYLOGFILE="$WORK/$name.keys" timeout 60 ip netns exec $NS_C firefox-esr --headless \
      --no-remote --profile "$home/profile" --screenshot "$WORK/$name.png" "$url" >"$WORK/browser.log" 2>&1
    echo "   screenshot: $(stat -c %s "$WORK/$name.png" 2>/dev/null || echo none) bytes" >&2
  fi
  finish "$name"
}

tlslite() {  # tlslite ALGORITHM: (re)start tlslite_https_server.py on port 8443, compressing with ALGORITHM
  stop "$TLSLITE_PID"
  ip netns exec $NS_S python3 "$HERE/tlslite_https_server.py" $S4 8443 "$WORK/browser-server.crt.pem" \
    "$WORK/browser-server.key.pem" "$WORK/browser" "$1" 2>"$WORK/tlslite.log" &
  TLSLITE_PID=$!
  wait_for_port $NS_S 8443 && return 0
  echo "tlslite_https_server.py did not start" >&2; cat "$WORK/tlslite.log" >&2; return 1
}

go_peer() {  # go_peer: build go_tls_peer.go once (Go's build cache in $WORK)
  [ -x "$WORK/go_tls_peer" ] && return 0
  local go
  go=$(command -v go || echo /usr/lib/go-1.19/bin/go)
  (cd "$HERE" && GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GO111MODULE=off "$go" build -o "$WORK/go_tls_peer" go_tls_peer.go)
}

go_capture() {  # go_capture server|client
  go_peer
  if [ "$1" = server ]; then
    local name=go-server-h2 base=https://browser.example.test:9443
    ip netns exec $NS_S "$WORK/go_tls_peer" server "$S4:9443" "$WORK/browser-server.crt.pem" \
      "$WORK/browser-server.key.pem" 2>"$WORK/go.log" &
    GO_PID=$!
    wait_for_port $NS_S 9443 || { echo "go_tls_peer did not start" >&2; cat "$WORK/go.log" >&2; return 1; }
    begin "$name"
    local c=(-sS -o /dev/null -w '%{http_version} %{http_code} %{url_effective}\n' --http2
             --cacert "$HERE/browser-ca.crt.pem" -b "$WORK/cookies.txt" -c "$WORK/cookies.txt")
    (cd "$WORK" && SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 ip netns exec $NS_C curl \
        "${c[@]}" "$base/" --next "${c[@]}" -d 'user=alice&password=wonderland' "$base/login" --next \
        "${c[@]}" -H 'Authorization: Bearer 2YotnFZFEjr1zCsicMWpAA' "$base/api/me") | sed 's/^/   /' >&2
    finish "$name"
    stop "$GO_PID"; GO_PID=""
  else
    local name=go-client-tls12
    begin "$name"
    timeout 30 ip netns exec $NS_C "$WORK/go_tls_peer" client "https://$HOST/" "$HERE/nginx-server.crt.pem" \
      "$WORK/$name.keys" | sed 's/^/   /' >&2
    finish "$name"
  fi
}

proxy_capture() {  # proxy_capture [auth]: curl -> tinyproxy (HTTP CONNECT) -> nginx; the capture holds the
                   # client-to-proxy leg; with auth, tinyproxy asks for Basic credentials and curl sends them
  local name=proxy-connect auth=() creds=()
  if [ "${1:-}" = auth ]; then name=proxy-connect-auth auth=("BasicAuth alice wonderland"); creds=(--proxy-user alice:wonderland); fi
  printf '%s\n' "User root" "Group root" "Port 3128" "Listen $S4" "Timeout 30" "LogLevel Info" \
    "Allow $C4" "ConnectPort 443" "MaxClients 10" "${auth[@]}" > "$WORK/tinyproxy.conf"
  ip netns exec $NS_S tinyproxy -d -c "$WORK/tinyproxy.conf" >"$WORK/tinyproxy.log" 2>&1 &
  PROXY_PID=$!
  wait_for_port $NS_S 3128 || { echo "tinyproxy did not start" >&2; cat "$WORK/tinyproxy.log" >&2; return 1; }
  curl_via_proxy "$name" --proxy "http://$S4:3128" "${creds[@]}"
}

curl_via_proxy() {  # curl_via_proxy NAME CURL-PROXY-OPTIONS...: capture curl fetching https://$HOST/ through the
                    # proxy (PROXY_PID) with its key log, then stop the proxy
  local name=$1
  shift
  begin "$name"
  (cd "$WORK" && SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 ip netns exec $NS_C curl -sS -o /dev/null \
      -w '%{http_version} %{http_code} %{url_effective} via %{http_connect}\n' "$@" \
      --cacert "$WORK/nginx-server.crt.pem" --http1.1 "https://$HOST/") | sed 's/^/   /' >&2
  finish "$name"
  stop "$PROXY_PID"; PROXY_PID=""
}

https_proxy_capture() {  # curl -> squid over TLS (an HTTPS proxy: https_port) -> CONNECT -> nginx: TLS inside TLS;
                         # the capture holds the client-to-proxy leg, curl's key log has both sessions
  local name=https-proxy-connect
  mkdir -p "$WORK/squid"
  printf '%s\n' "https_port $S4:3129 tls-cert=$WORK/nginx-server.crt.pem tls-key=$HERE/nginx-server.key.pem" \
    "http_access allow all" "acl SSL_ports port 443" "cache deny all" "pid_filename $WORK/squid/squid.pid" \
    "cache_log $WORK/squid/cache.log" "access_log $WORK/squid/access.log" "coredump_dir $WORK/squid" \
    "cache_effective_user proxy" "hosts_file $WORK/squid/hosts" > "$WORK/squid.conf"
  printf '%s %s\n' "$S4" "$HOST" > "$WORK/squid/hosts"
  chmod 777 "$WORK/squid"; chmod 755 "$WORK"  # (squid drops root for the proxy user)
  rm -f /dev/shm/squid-*  # (shared memory a squid that died left behind)
  ip netns exec $NS_S squid -N -f "$WORK/squid.conf" >"$WORK/squid/stdout.log" 2>&1 &
  PROXY_PID=$!
  wait_for_port $NS_S 3129 || { echo "squid did not start" >&2; cat "$WORK/squid/cache.log" >&2; return 1; }
  curl_via_proxy "$name" --proxy "https://$S4:3129" --proxy-cacert "$WORK/nginx-server.crt.pem" --proxy-insecure
}

h2_proxy_capture() {  # h2_proxy_capture chromium|firefox: the browser -> nghttpx (HTTP/2 proxy mode, TLS) -> tinyproxy ->
                      # nginx, every tunnel an HTTP/2 CONNECT stream; the capture holds the browser-to-proxy leg,
                      # NAME-origin.pcap the proxy-to-nginx leg (tcpdump on the server namespace's loopback), and the
                      # browser's key log has both sessions
  local which=$1 name=$1-h2-proxy home="$WORK/home-$1-h2-proxy"
  printf '%s\n' "User root" "Group root" "Port 3128" "Listen $S4" "Timeout 30" "LogLevel Info" \
    "Allow $S4" "ConnectPort 443" "MaxClients 10" > "$WORK/tinyproxy.conf"
  ip netns exec $NS_S tinyproxy -d -c "$WORK/tinyproxy.conf" >"$WORK/tinyproxy.log" 2>&1 &
  PROXY_PID=$!
  wait_for_port $NS_S 3128 || { echo "tinyproxy did not start" >&2; cat "$WORK/tinyproxy.log" >&2; return 1; }
  ip netns exec $NS_S nghttpx --http2-proxy --conf=/dev/null -f"$S4,3443" -b"$S4,3128" --no-ocsp \
    --errorlog-file="$WORK/nghttpx.log" "$HERE/browser-server.key.pem" "$HERE/browser-server.crt.pem" &
  H2PROXY_PID=$!
  wait_for_port $NS_S 3443 || { echo "nghttpx did not start" >&2; cat "$WORK/nghttpx.log" >&2; return 1; }
  ip netns exec $NS_S tcpdump -i lo -s 0 -U --immediate-mode -Z root -w "$WORK/$name-origin.pcap" "tcp port 443" \
    2>"$WORK/tcpdump-origin.log" &
  ORIGIN_PID=$!
  wait_log "$WORK/tcpdump-origin.log" "listening on" 5
  nss_trust "$home/.pki/nssdb" "$HERE/browser-ca.crt.pem"
  nss_trust "$home/profile" "$HERE/browser-ca.crt.pem"
  begin "$name"
  if [ "$which" = chromium ]; then
    HOME="$home" SSLKEYLOGFILE="$WORK/$name.keys" timeout 60 ip netns exec $NS_C chromium --headless --no-sandbox \
      --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$home/chromium" --proxy-server=https://browser.example.test:3443 \
      --dump-dom https://browser.example.test/ 2>"$WORK/browser.log" | grep -o '<p id="out">[^<]*' | sed 's/^/   /' >&2
  else  # Firefox takes an HTTPS proxy from a PAC file only
    printf 'function FindProxyForURL(url, host) { return "HTTPS browser.example.test:3443"; }\n' > "$home/proxy.pac"
    firefox_profile "$home/profile" network.proxy.type 2 network.proxy.autoconfig_url "\"file://$home/proxy.pac\""
    HOME="$home" SSLKEYLOGFILE="$WORK/$name.keys" timeout 60 ip netns exec $NS_C firefox-esr --headless \
      --no-remote --profile "$home/profile" --screenshot "$WORK/$name.png" https://browser.example.test/ \
      >"$WORK/browser.log" 2>&1
    echo "   screenshot: $(stat -c %s "$WORK/$name.png" 2>/dev/null || echo none) bytes" >&2
  fi
  sleep 0.3
  stop "$ORIGIN_PID" INT; ORIGIN_PID=""
  finish "$name"
  cp "$WORK/$name-origin.pcap" "$HERE/$name-origin.pcap"
  cp "$WORK/$name.keys" "$HERE/$name-origin.keys"  # (the same key log: every capture here has its own)
  chmod 644 "$HERE/$name-origin.pcap" "$HERE/$name-origin.keys"
  stop "$H2PROXY_PID"; H2PROXY_PID=""
  stop "$PROXY_PID"; PROXY_PID=""
}

haproxy_capture() {  # haproxy_capture v1|v2: curl -> HAProxy (TCP mode, in the client's namespace) -> nginx with
                     # a PROXY protocol header; the capture holds the load-balancer-to-nginx leg
  local v=$1 name=haproxy-proxy-$1 send=send-proxy
  [ "$v" = v2 ] && send=send-proxy-v2
  printf '%s\n' "global" "  maxconn 64" "defaults" "  mode tcp" "  timeout connect 5s" "  timeout client 30s" \
    "  timeout server 30s" "frontend lb" "  bind 127.0.0.1:8443" "  default_backend web" "backend web" \
    "  server nginx $S4:4443 $send" > "$WORK/haproxy.cfg"
  ip netns exec $NS_C haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
  PROXY_PID=$!
  wait_for_port $NS_C 8443 || { echo "haproxy did not start" >&2; cat "$WORK/haproxy.log" >&2; return 1; }
  begin "$name"
  (cd "$WORK" && SSLKEYLOGFILE="$WORK/$name.keys" timeout 30 ip netns exec $NS_C curl -sS --http1.1 \
      --resolve "$HOST:8443:127.0.0.1" --cacert "$WORK/nginx-server.crt.pem" "https://$HOST:8443/") | sed 's/^/   /' >&2
  finish "$name"
  stop "$PROXY_PID"; PROXY_PID=""
}

java_capture() {  # the JDK's TLS client against nginx, RSA key exchange; the key log comes from nginx's key
  local name=java-client-tls12-rsa
  begin "$name"
  timeout 60 ip netns exec $NS_C java "$HERE/JavaTlsClient.java" "https://$HOST/" "$HERE/nginx-server.crt.pem" \
    TLS_RSA_WITH_AES_128_GCM_SHA256 | sed 's/^/   /' >&2
  sleep 0.3
  stop "$TCPDUMP_PID" INT; TCPDUMP_PID=""
  PYTHONPATH="$HERE/../..${PYTHONPATH:+:$PYTHONPATH}" python3 -m dissector keys "$WORK/$name.pcap" \
    --key "$HERE/nginx-server.key.pem" -o "$WORK/$name.keys" 2>&1 | sed 's/^/   /' >&2
  sed -i "1s|.*|# written by dissector keys from $name.pcap with nginx-server.key.pem|" "$WORK/$name.keys"
  keep_capture "$name"
  cp "$HERE/nginx-server.key.pem" "$HERE/$name.key.pem"
}

# --- main ------------------------------------------------------------------------------------------

setup_network
# name resolution inside the client's namespace (ip netns exec mounts these over /etc/hosts, resolv.conf)
mkdir -p "/etc/netns/$NS_C"
printf '127.0.0.1 localhost\n%s www.example.test browser.example.test\n' "$S4" > "/etc/netns/$NS_C/hosts"
printf 'nameserver 127.0.0.1\n' > "/etc/netns/$NS_C/resolv.conf"
mkdir -p "/etc/netns/$NS_S"  # the proxy resolves www.example.test to nginx, beside it
printf '127.0.0.1 localhost\n%s www.example.test browser.example.test\n' "$S4" > "/etc/netns/$NS_S/hosts"
printf 'nameserver 127.0.0.1\n' > "/etc/netns/$NS_S/resolv.conf"
make_files
start_nginx
for w in "${CAPTURES[@]}"; do
  case $w in
    h1|h2) capture "$w";;
    chromium|firefox) browser "$w" "$w-h2" https://browser.example.test/;;
    go-server|go-client) go_capture "${w#go-}";;
    proxy) proxy_capture;;
    proxy-auth) proxy_capture auth;;
    https-proxy) https_proxy_capture;;
    chromium-h2-proxy|firefox-h2-proxy) h2_proxy_capture "${w%%-*}";;
    haproxy-v1|haproxy-v2) haproxy_capture "${w#haproxy-}";;
    java) java_capture;;
    *) tlslite "${w#*-}"
       browser "${w%%-*}" "${w%%-*}-tlslite-${w#*-}" https://browser.example.test:8443/
       sed 's/^/   /' "$WORK/tlslite.log" >&2;;
  esac
done
echo "done: ${#CAPTURES[@]} capture(s) in $HERE" >&2
