// A judge built from client-go 0.32's certificate code, the code the modern kubelet runs for its client
// certificate, pointed at a kubepki endpoint through a bootstrap kubeconfig. Built in GOPATH mode by
// build.sh against Debian's golang-k8s-client-go-dev.
//
//	kubepki-clientgo -bootstrap-kubeconfig FILE -cert-dir DIR -node-name NAME -content-type TYPE [-timeout 60s]
//
// Step csr (the kubelet's bootstrap, k8s.io/client-go/util/certificate/csr): an ECDSA P-256 key and a
// CSR for CN=system:node:NAME O=system:nodes, RequestCertificate with no name (metadata.generateName
// "csr-"), the kubelet client signer, no duration and the usages digital signature and client auth,
// then WaitForCertificate (list and watch by field selector); writes DIR/csr-client.crt and .key.
//
// Step manager (k8s.io/client-go/util/certificate): NewManager over NewFileStore("kubelet-client", DIR,
// DIR, "", ""), the certificate of step csr as the bootstrap pair, a ClientsetFn that uses the current
// certificate when there is one and the bootstrap token otherwise (as the kubelet's does), the same
// template, signer and usages and a requested lifetime of 10 minutes. A store that holds only a
// bootstrap pair makes the manager rotate at once: Start(), wait until Current() returns a certificate,
// then until it is replaced by one the endpoint issued to the manager's own request.
//
// The client's content type (JSON or protobuf) is set in rest.Config's ContentConfig. Every HTTP
// exchange is recorded (method, path and query, request and response content types, status) and the
// whole run is printed as one JSON object on stdout; the exit status is 0 only when both steps worked.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/certificate"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"
)

// Exchange is one HTTP request the client made and what came back.
type Exchange struct {
	Step                string `json:"step"`
	Method              string `json:"method"`
	Path                string `json:"path"`
	RequestContentType  string `json:"requestContentType,omitempty"`
	Accept              string `json:"accept,omitempty"`
	Status              int    `json:"status,omitempty"`
	ResponseContentType string `json:"responseContentType,omitempty"`
	// The start of an error response's body (a Kubernetes Status), for the report.
	Body  string `json:"body,omitempty"`
	Error string `json:"error,omitempty"`
}

// Cert is what the summary says of a certificate.
type Cert struct {
	Subject   string   `json:"subject"`
	Issuer    string   `json:"issuer"`
	Serial    string   `json:"serial"`
	NotBefore string   `json:"notBefore"`
	NotAfter  string   `json:"notAfter"`
	ExtKeyUse []string `json:"extKeyUsage"`
	// x509 Verify against the kubeconfig's CA for client auth: "" when it verifies.
	VerifyError string `json:"verifyError"`
}

type Summary struct {
	ContentType string     `json:"contentType"`
	ClientGo    string     `json:"clientGo"`
	Csr         *CsrStep   `json:"csr,omitempty"`
	Manager     *MgrStep   `json:"manager,omitempty"`
	Exchanges   []Exchange `json:"exchanges"`
	Error       string     `json:"error,omitempty"`
}

type CsrStep struct {
	Name        string `json:"name"`
	UID         string `json:"uid"`
	Certificate *Cert  `json:"certificate,omitempty"`
	CertFile    string `json:"certFile,omitempty"`
	KeyFile     string `json:"keyFile,omitempty"`
	Seconds     string `json:"seconds"`
}

type MgrStep struct {
	Bootstrap *Cert    `json:"bootstrap,omitempty"`
	Rotated   *Cert    `json:"rotated,omitempty"`
	Current   string   `json:"currentFile,omitempty"`
	Seconds   string   `json:"seconds"`
	Log       []string `json:"log"`
}

var (
	mu        sync.Mutex
	exchanges []Exchange
	step      = "csr"
)

type recorder struct{ next http.RoundTripper }

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	mu.Lock()
	current := step
	mu.Unlock()
	e := Exchange{Step: current, Method: req.Method, Path: req.URL.RequestURI(), RequestContentType: req.Header.Get("Content-Type"), Accept: req.Header.Get("Accept")}
	res, err := r.next.RoundTrip(req)
	if err != nil {
		e.Error = err.Error()
	} else {
		e.Status = res.StatusCode
		e.ResponseContentType = res.Header.Get("Content-Type")
		if res.StatusCode >= 300 {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
			res.Body.Close()
			res.Body = io.NopCloser(bytes.NewReader(body))
			e.Body = printable(body, 300)
		}
	}
	mu.Lock()
	exchanges = append(exchanges, e)
	mu.Unlock()
	return res, err
}

func printable(b []byte, max int) string {
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return '.'
		}
		return r
	}, string(b))
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

func setStep(s string) {
	mu.Lock()
	step = s
	mu.Unlock()
}

func main() {
	bootstrapPath := flag.String("bootstrap-kubeconfig", "", "bootstrap kubeconfig (server, CA, bootstrap token)")
	certDir := flag.String("cert-dir", "", "folder for the certificates")
	nodeName := flag.String("node-name", "", "node name")
	contentType := flag.String("content-type", "application/json", "application/json or application/vnd.kubernetes.protobuf")
	timeout := flag.Duration("timeout", 60*time.Second, "time allowed to each step")
	flag.Parse()
	if *bootstrapPath == "" || *certDir == "" || *nodeName == "" || (*contentType != "application/json" && *contentType != "application/vnd.kubernetes.protobuf") {
		flag.Usage()
		os.Exit(2)
	}
	summary := &Summary{ContentType: *contentType, ClientGo: "k8s.io/client-go 0.32 (Debian golang-k8s-client-go-dev), GOPATH build"}
	err := run(summary, *bootstrapPath, *certDir, *nodeName, *contentType, *timeout)
	mu.Lock()
	summary.Exchanges = append([]Exchange{}, exchanges...)
	mu.Unlock()
	if err != nil {
		summary.Error = err.Error()
	}
	out, _ := json.MarshalIndent(summary, "", "  ")
	fmt.Println(string(out))
	if err != nil {
		os.Exit(1)
	}
}

func run(summary *Summary, bootstrapPath, certDir, nodeName, contentType string, timeout time.Duration) error {
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	bootstrap, err := clientcmd.BuildConfigFromFlags("", bootstrapPath)
	if err != nil {
		return fmt.Errorf("loading the bootstrap kubeconfig: %w", err)
	}
	withContentType := func(c *rest.Config) *rest.Config {
		c = rest.CopyConfig(c)
		c.ContentConfig.ContentType = contentType
		c.ContentConfig.AcceptContentTypes = contentType
		c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return recorder{rt} }
		c.UserAgent = "kubepki-clientgo-judge"
		return c
	}
	bootstrap = withContentType(bootstrap)
	roots := x509.NewCertPool()
	caPEM := bootstrap.TLSClientConfig.CAData
	if len(caPEM) == 0 && bootstrap.TLSClientConfig.CAFile != "" {
		if caPEM, err = os.ReadFile(bootstrap.TLSClientConfig.CAFile); err != nil {
			return err
		}
	}
	roots.AppendCertsFromPEM(caPEM)

	subject := pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}}
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}

	// Step csr: the kubelet's bootstrap (pkg/kubelet/certificate/bootstrap LoadClientCert).
	started := time.Now()
	client, err := kubernetes.NewForConfig(bootstrap)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		return err
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})
	summary.Csr = &CsrStep{}
	reqName, reqUID, err := csr.RequestCertificate(client, csrPEM, "", certificatesv1.KubeAPIServerClientKubeletSignerName, nil, usages, key)
	summary.Csr.Name, summary.Csr.UID = reqName, string(reqUID)
	if err != nil {
		summary.Csr.Seconds = since(started)
		return fmt.Errorf("csr.RequestCertificate: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	certPEM, err := csr.WaitForCertificate(ctx, client, reqName, reqUID)
	cancel()
	summary.Csr.Seconds = since(started)
	if err != nil {
		return fmt.Errorf("csr.WaitForCertificate(%s): %w", reqName, err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	summary.Csr.CertFile = filepath.Join(certDir, "csr-client.crt")
	summary.Csr.KeyFile = filepath.Join(certDir, "csr-client.key")
	if err := os.WriteFile(summary.Csr.KeyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(summary.Csr.CertFile, certPEM, 0o644); err != nil {
		return err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("the issued certificate does not match the key: %w", err)
	}
	first, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return err
	}
	summary.Csr.Certificate = describe(first, roots)
	if summary.Csr.Certificate.VerifyError != "" {
		return fmt.Errorf("the issued certificate does not verify for client auth: %s", summary.Csr.Certificate.VerifyError)
	}

	// Step manager: the kubelet's client certificate manager (pkg/kubelet/certificate
	// NewKubeletClientCertificateManager), with the pair of step csr as its bootstrap pair.
	setStep("manager")
	started = time.Now()
	summary.Manager = &MgrStep{Log: []string{}}
	store, err := certificate.NewFileStore("kubelet-client", certDir, certDir, "", "")
	if err != nil {
		return err
	}
	lifetime := 10 * time.Minute
	var logMu sync.Mutex
	manager, err := certificate.NewManager(&certificate.Config{
		ClientsetFn: func(current *tls.Certificate) (kubernetes.Interface, error) {
			// As the kubelet: the current certificate when there is one, the bootstrap token otherwise.
			if current == nil {
				return kubernetes.NewForConfig(bootstrap)
			}
			config := withContentType(&rest.Config{Host: bootstrap.Host, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM, CertFile: store.CurrentPath(), KeyFile: store.CurrentPath()}})
			return kubernetes.NewForConfig(config)
		},
		Template:                     &x509.CertificateRequest{Subject: subject},
		SignerName:                   certificatesv1.KubeAPIServerClientKubeletSignerName,
		Usages:                       usages,
		RequestedCertificateLifetime: &lifetime,
		CertificateStore:             store,
		BootstrapCertificatePEM:      certPEM,
		BootstrapKeyPEM:              keyPEM,
		Name:                         "kubelet-client",
		Logf: func(format string, args ...interface{}) {
			logMu.Lock()
			summary.Manager.Log = append(summary.Manager.Log, fmt.Sprintf(format, args...))
			logMu.Unlock()
		},
	})
	if err != nil {
		return fmt.Errorf("certificate.NewManager: %w", err)
	}
	manager.Start()
	defer manager.Stop()
	deadline := time.Now().Add(timeout)
	var current *tls.Certificate
	for current = manager.Current(); current == nil && time.Now().Before(deadline); current = manager.Current() {
		time.Sleep(100 * time.Millisecond)
	}
	if current == nil {
		summary.Manager.Seconds = since(started)
		return fmt.Errorf("the manager's Current() returned no certificate within %s", timeout)
	}
	summary.Manager.Bootstrap = describe(current.Leaf, roots)
	for time.Now().Before(deadline) {
		next := manager.Current()
		if next != nil && next.Leaf != nil && !next.Leaf.Equal(current.Leaf) {
			summary.Manager.Rotated = describe(next.Leaf, roots)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	summary.Manager.Seconds = since(started)
	summary.Manager.Current = store.CurrentPath()
	if summary.Manager.Rotated == nil {
		return fmt.Errorf("the manager did not rotate its bootstrap certificate within %s", timeout)
	}
	if summary.Manager.Rotated.VerifyError != "" {
		return fmt.Errorf("the rotated certificate does not verify for client auth: %s", summary.Manager.Rotated.VerifyError)
	}
	return nil
}

func since(t time.Time) string { return fmt.Sprintf("%.2f", time.Since(t).Seconds()) }

func describe(c *x509.Certificate, roots *x509.CertPool) *Cert {
	out := &Cert{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: hex.EncodeToString(c.SerialNumber.Bytes()), NotBefore: c.NotBefore.UTC().Format(time.RFC3339), NotAfter: c.NotAfter.UTC().Format(time.RFC3339), ExtKeyUse: []string{}}
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageClientAuth:
			out.ExtKeyUse = append(out.ExtKeyUse, "clientAuth")
		case x509.ExtKeyUsageServerAuth:
			out.ExtKeyUse = append(out.ExtKeyUse, "serverAuth")
		default:
			out.ExtKeyUse = append(out.ExtKeyUse, fmt.Sprint(u))
		}
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		out.VerifyError = err.Error()
	}
	return out
}
