// go_ech_peer: Go's crypto/tls with Encrypted Client Hello (RFC 9849), for the go-ech captures made by
// make_ech_captures.sh. Standard library only (Go 1.24 or later: ECH on the server side):
//
//	go run go_ech_peer.go keygen ID PUBLIC_NAME OUT.pem   # an X25519 ECH key and its ECHConfigList, in the
//	                                                      # ECHConfig PEM file format (RFC 9934), as OpenSSL
//	                                                      # writes it ("openssl ech")
//	go run go_ech_peer.go server ADDR CERT KEY ECH.pem    # HTTPS (HTTP/1.1) accepting ECH with that key, P-256
//	                                                      # only (a client offering another group gets a HRR)
//	go run go_ech_peer.go client URL CAFILE ECH.pem KEYLOG [GROUP]
//	                                                      # GET URL offering ECH with the config in ECH.pem
//	                                                      # (its key need not be the server's); GROUP p256
//	                                                      # (default) or x25519 for the first key share; the
//	                                                      # key log in NSS format (tls.Config.KeyLogWriter)
package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
)

// echConfig: one ECHConfig (version 0xfe0d) for an X25519 key, HKDF-SHA256 with AES-128-GCM or ChaCha20-Poly1305.
func echConfig(id uint8, pub []byte, publicName string) []byte {
	var c []byte
	c = append(c, id)
	c = binary.BigEndian.AppendUint16(c, 0x0020) // DHKEM(X25519, HKDF-SHA256)
	c = binary.BigEndian.AppendUint16(c, uint16(len(pub)))
	c = append(c, pub...)
	c = binary.BigEndian.AppendUint16(c, 8)                 // cipher_suites: two (kdf, aead) pairs
	c = append(c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x03) // HKDF-SHA256 with AES-128-GCM, ChaCha20
	c = append(c, 0)                                        // maximum_name_length
	c = append(c, uint8(len(publicName)))
	c = append(c, publicName...)
	c = binary.BigEndian.AppendUint16(c, 0) // no extensions
	out := binary.BigEndian.AppendUint16(nil, 0xfe0d)
	out = binary.BigEndian.AppendUint16(out, uint16(len(c)))
	return append(out, c...)
}

func keygen(id, publicName, out string) error {
	n, err := strconv.Atoi(id)
	if err != nil || n < 0 || n > 255 {
		return fmt.Errorf("config id %q: 0-255", id)
	}
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	config := echConfig(uint8(n), key.PublicKey().Bytes(), publicName)
	list := binary.BigEndian.AppendUint16(nil, uint16(len(config)))
	list = append(list, config...)
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "ECHCONFIG", Bytes: list})...)
	return os.WriteFile(out, data, 0o600)
}

// readECH: the X25519 private key (raw) and the first ECHConfig of an ECHConfig PEM file.
func readECH(path string) (priv, config, list []byte, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, nil, err
			}
			priv = k.(*ecdh.PrivateKey).Bytes()
		case "ECHCONFIG":
			list = block.Bytes
			if len(list) < 6 {
				return nil, nil, nil, errors.New("short ECHConfigList")
			}
			n := int(binary.BigEndian.Uint16(list[4:6]))
			config = list[2 : 6+n]
		}
	}
	if config == nil {
		return nil, nil, nil, fmt.Errorf("%s: no ECHCONFIG", path)
	}
	return priv, config, list, nil
}

func server(addr, cert, key, echFile string) error {
	priv, config, _, err := readECH(echFile)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello %s, over ECH: %v\n", r.TLS.ServerName, r.TLS.ECHAccepted)
	})
	conf := &tls.Config{
		MinVersion:               tls.VersionTLS13,
		CurvePreferences:         []tls.CurveID{tls.CurveP256},
		EncryptedClientHelloKeys: []tls.EncryptedClientHelloKey{{Config: config, PrivateKey: priv, SendAsRetry: true}},
		NextProtos:               []string{"http/1.1"},
	}
	srv := &http.Server{Addr: addr, Handler: mux, TLSConfig: conf}
	return srv.ListenAndServeTLS(cert, key)
}

func client(url, caFile, echFile, keylog, group string) error {
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemData) {
		return fmt.Errorf("%s: no certificate", caFile)
	}
	_, _, list, err := readECH(echFile)
	if err != nil {
		return err
	}
	logw, err := os.OpenFile(keylog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logw.Close()
	curves := []tls.CurveID{tls.CurveP256}
	if group == "x25519" {
		curves = []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	conf := &tls.Config{
		RootCAs:                        roots,
		MinVersion:                     tls.VersionTLS13,
		CurvePreferences:               curves,
		EncryptedClientHelloConfigList: list,
		KeyLogWriter:                   logw,
		NextProtos:                     []string{"http/1.1"},
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: conf, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	var rejected *tls.ECHRejectionError
	if errors.As(err, &rejected) {
		fmt.Printf("ECH rejected; the server sent %d bytes of retry configs\n", len(rejected.RetryConfigList))
		return nil
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	return err
}

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) == 4 && args[0] == "keygen":
		err = keygen(args[1], args[2], args[3])
	case len(args) == 5 && args[0] == "server":
		err = server(args[1], args[2], args[3], args[4])
	case (len(args) == 5 || len(args) == 6) && args[0] == "client":
		group := "p256"
		if len(args) == 6 {
			group = args[5]
		}
		err = client(args[1], args[2], args[3], args[4], group)
	default:
		err = errors.New("usage: keygen ID PUBLIC_NAME OUT.pem | server ADDR CERT KEY ECH.pem | " +
			"client URL CAFILE ECH.pem KEYLOG [p256|x25519]")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_ech_peer:", err)
		os.Exit(1)
	}
}
