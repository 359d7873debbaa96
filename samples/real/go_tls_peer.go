// go_tls_peer: Go's own TLS stack (crypto/tls, net/http) as a server or a client, for the captures
// go-server-h2 and go-client-tls12 made by make_nginx_captures.sh. Standard library only:
//
//	go run go_tls_peer.go server ADDR CERT KEY      # HTTPS (HTTP/1.1 and HTTP/2, TLS 1.2-1.3)
//	go run go_tls_peer.go client URL CAFILE KEYLOG  # GET URL, then POST a form to URL+"login", TLS 1.2 only,
//	                                                # HTTP/1.1, one keep-alive connection; the key log in
//	                                                # NSS format (tls.Config.KeyLogWriter)
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

func server(addr, cert, key string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<html><body>hello from Go over %s</body></html>\n", r.Proto)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc123", Path: "/", HttpOnly: true, Secure: true})
		fmt.Fprintf(w, "welcome, %s\n", r.PostForm.Get("user"))
	})
	mux.HandleFunc("/api/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"user":"alice"}`)
	})
	srv := &http.Server{Addr: addr, Handler: mux, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	return srv.ListenAndServeTLS(cert, key)
}

func client(base, caFile, keylog string) error {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s: no certificate", caFile)
	}
	logw, err := os.OpenFile(keylog, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logw.Close()
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12, KeyLogWriter: logw},
		// a non-nil, empty map: HTTP/1.1 only
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	c := &http.Client{Transport: transport}
	resp, err := c.Get(base)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Proto, resp.Status, base)
	form := url.Values{"user": {"alice"}, "password": {"wonderland"}}
	resp, err = c.Post(base+"login", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Proto, resp.Status, base+"login")
	transport.CloseIdleConnections()
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 5 && os.Args[1] == "server":
		err = server(os.Args[2], os.Args[3], os.Args[4])
	case len(os.Args) == 5 && os.Args[1] == "client":
		err = client(os.Args[2], os.Args[3], os.Args[4])
	default:
		err = fmt.Errorf("usage: go_tls_peer server ADDR CERT KEY | client URL CAFILE KEYLOG")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_tls_peer:", err)
		os.Exit(1)
	}
}
