// JavaTlsClient: the JDK's own TLS stack (SunJSSE) as a client, for the capture java-client-tls12-rsa made by
// make_nginx_captures.sh. Standard library only:
//
//   java JavaTlsClient.java URL CAFILE SUITE
//
// GETs URL, then POSTs a login form to URL + "login", over one keep-alive HTTP/1.1 connection
// (HttpsURLConnection), TLS 1.2 only, offering the one cipher suite SUITE (an RSA key exchange suite, so
// that the server's private key decrypts the capture), trusting the certificate in CAFILE.
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

public class JavaTlsClient {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: java JavaTlsClient.java URL CAFILE SUITE");
            System.exit(2);
        }
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = new FileInputStream(args[1])) {
            trust.setCertificateEntry("server", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLSv1.2");
        ctx.init(null, tmf.getTrustManagers(), null);
        String suite = args[2];
        SSLSocketFactory base = ctx.getSocketFactory();
        // every socket HttpsURLConnection opens offers only TLS 1.2 and the one suite
        SSLSocketFactory factory = new SSLSocketFactory() {
            private java.net.Socket limit(java.net.Socket s) {
                SSLSocket ssl = (SSLSocket) s;
                SSLParameters p = ssl.getSSLParameters();
                p.setProtocols(new String[] {"TLSv1.2"});
                p.setCipherSuites(new String[] {suite});
                ssl.setSSLParameters(p);
                return ssl;
            }
            public String[] getDefaultCipherSuites() { return new String[] {suite}; }
            public String[] getSupportedCipherSuites() { return base.getSupportedCipherSuites(); }
            public java.net.Socket createSocket(java.net.Socket s, String h, int p, boolean c) throws java.io.IOException {
                return limit(base.createSocket(s, h, p, c));
            }
            public java.net.Socket createSocket(String h, int p) throws java.io.IOException {
                return limit(base.createSocket(h, p));
            }
            public java.net.Socket createSocket(String h, int p, java.net.InetAddress l, int lp) throws java.io.IOException {
                return limit(base.createSocket(h, p, l, lp));
            }
            public java.net.Socket createSocket(java.net.InetAddress h, int p) throws java.io.IOException {
                return limit(base.createSocket(h, p));
            }
            public java.net.Socket createSocket(java.net.InetAddress h, int p, java.net.InetAddress l, int lp)
                    throws java.io.IOException {
                return limit(base.createSocket(h, p, l, lp));
            }
        };
        HttpsURLConnection.setDefaultSSLSocketFactory(factory);

        HttpsURLConnection get = (HttpsURLConnection) new URL(args[0]).openConnection();
        System.out.println(get.getResponseCode() + " " + args[0] + " " + get.getCipherSuite());
        get.getInputStream().readAllBytes();
        get.getInputStream().close();

        HttpsURLConnection post = (HttpsURLConnection) new URL(args[0] + "login").openConnection();
        post.setDoOutput(true);
        post.setRequestMethod("POST");
        post.setRequestProperty("Content-Type", "application/x-www-form-urlencoded");
        try (OutputStream out = post.getOutputStream()) {
            out.write("user=alice&password=wonderland".getBytes(StandardCharsets.US_ASCII));
        }
        System.out.println(post.getResponseCode() + " " + args[0] + "login");
        post.getInputStream().readAllBytes();
        post.getInputStream().close();
        post.disconnect();
    }
}
