// The Go peer of `npm run bench` (standard library only): what kube-controller-manager's csrsigning and
// Go's crypto/x509 do for the cases kubepki is measured on, timed in this process (start-up excluded).
//
//	bench-go castep DIR ROUNDS    DIR holds ca.crt, ca.key and csr-N.pem: the CA step over every CSR once per
//	                              round, in one goroutine, then over GOMAXPROCS goroutines (the CSRs split)
//	bench-go issue DIR SPEC COUNT key generation of SPEC + CreateCertificate by the CA in DIR, COUNT times
//	bench-go verify DIR COUNT     DIR holds ca.crt and leaf.crt: pem.Decode + ParseCertificate + Verify
//	                              with roots, a name and the server purpose, COUNT times
//
// Each prints one line of JSON: {"single": [ms per op per round...], "parallel": [...], "procs": N}.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fail(errors.New("usage: bench-go castep|issue|verify DIR ..."))
	}
	dir := os.Args[2]
	var result map[string]any
	var err error
	switch os.Args[1] {
	case "castep":
		result, err = caStepBench(dir, atoi(arg(3)))
	case "issue":
		result, err = issueBench(dir, arg(3), atoi(arg(4)))
	case "verify":
		result, err = verifyBench(dir, atoi(arg(3)))
	default:
		err = fmt.Errorf("unknown case %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	result["procs"] = runtime.GOMAXPROCS(0)
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}

func arg(i int) string {
	if i >= len(os.Args) {
		fail(fmt.Errorf("missing argument %d", i))
	}
	return os.Args[i]
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		fail(fmt.Errorf("not a positive count: %q", s))
	}
	return n
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-go:", err)
	os.Exit(1)
}

type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func loadCA(dir string) (*ca, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("ca.crt: no PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, err
	}
	block, _ = pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("ca.key: no PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("ca.key: not a signer")
	}
	return &ca{cert, signer}, nil
}

// The serial as kube-controller-manager draws it: random, positive, 128 bits.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

func serial() (*big.Int, error) {
	for {
		n, err := rand.Int(rand.Reader, serialLimit)
		if err != nil || n.Sign() > 0 {
			return n, err
		}
	}
}

// signCSR is the CA step of kube-controller-manager's csrsigning controller (pkg/controller/certificates/
// signer: ParseCSR, CheckSignature, then authority.Sign's template and CreateCertificate), with the PEM
// decode before it and the PEM encode of status.certificate after it; kubelet-client usages.
func signCSR(authority *ca, csrPEM []byte, now time.Time) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("no CERTIFICATE REQUEST block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(365 * 24 * time.Hour)
	if notAfter.After(authority.cert.NotAfter) {
		notAfter = authority.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               csr.Subject,
		DNSNames:              csr.DNSNames,
		IPAddresses:           csr.IPAddresses,
		EmailAddresses:        csr.EmailAddresses,
		URIs:                  csr.URIs,
		PublicKeyAlgorithm:    csr.PublicKeyAlgorithm,
		PublicKey:             csr.PublicKey,
		Extensions:            csr.Extensions,
		ExtraExtensions:       csr.ExtraExtensions,
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, authority.cert, csr.PublicKey, authority.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func caStepBench(dir string, rounds int) (map[string]any, error) {
	authority, err := loadCA(dir)
	if err != nil {
		return nil, err
	}
	var csrs [][]byte
	for i := 0; ; i++ {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("csr-%d.pem", i)))
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		csrs = append(csrs, data)
	}
	if len(csrs) == 0 {
		return nil, errors.New("no csr-N.pem files")
	}
	now := time.Now()
	// Warm-up: a tenth of the CSRs.
	for _, c := range csrs[:len(csrs)/10+1] {
		if _, err := signCSR(authority, c, now); err != nil {
			return nil, err
		}
	}
	single := make([]float64, 0, rounds)
	parallel := make([]float64, 0, rounds)
	procs := runtime.GOMAXPROCS(0)
	for r := 0; r < rounds; r++ {
		start := time.Now()
		for _, c := range csrs {
			if _, err := signCSR(authority, c, now); err != nil {
				return nil, err
			}
		}
		single = append(single, msPerOp(start, len(csrs)))

		start = time.Now()
		if err := onAllCores(procs, len(csrs), func(i int) error {
			_, err := signCSR(authority, csrs[i], now)
			return err
		}); err != nil {
			return nil, err
		}
		parallel = append(parallel, msPerOp(start, len(csrs)))
	}
	return map[string]any{"single": single, "parallel": parallel, "count": len(csrs)}, nil
}

func generate(spec string) (crypto.Signer, error) {
	switch spec {
	case "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa-2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ed25519":
		_, key, err := ed25519.GenerateKey(rand.Reader)
		return key, err
	}
	return nil, fmt.Errorf("unknown key spec %q", spec)
}

// issueOne generates a key and certifies it for a client (kubepki's PROFILES.client: CN only).
func issueOne(authority *ca, spec string, now time.Time) error {
	key, err := generate(spec)
	if err != nil {
		return err
	}
	sn, err := serial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "u"},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	_, err = x509.CreateCertificate(rand.Reader, tmpl, authority.cert, key.Public(), authority.key)
	return err
}

func issueBench(dir, spec string, count int) (map[string]any, error) {
	authority, err := loadCA(dir)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if err := issueOne(authority, spec, now); err != nil {
		return nil, err
	}
	start := time.Now()
	for i := 0; i < count; i++ {
		if err := issueOne(authority, spec, now); err != nil {
			return nil, err
		}
	}
	single := msPerOp(start, count)
	procs := runtime.GOMAXPROCS(0)
	start = time.Now()
	if err := onAllCores(procs, count, func(int) error { return issueOne(authority, spec, now) }); err != nil {
		return nil, err
	}
	return map[string]any{"single": []float64{single}, "parallel": []float64{msPerOp(start, count)}}, nil
}

func verifyBench(dir string, count int) (map[string]any, error) {
	authority, err := loadCA(dir)
	if err != nil {
		return nil, err
	}
	leafPEM, err := os.ReadFile(filepath.Join(dir, "leaf.crt"))
	if err != nil {
		return nil, err
	}
	name, err := os.ReadFile(filepath.Join(dir, "name"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(authority.cert)
	verify := func() error {
		block, _ := pem.Decode(leafPEM)
		if block == nil {
			return errors.New("leaf.crt: no PEM")
		}
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return err
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: string(name), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		return err
	}
	if err := verify(); err != nil {
		return nil, err
	}
	samples := make([]float64, 0, 5)
	for r := 0; r < 5; r++ {
		start := time.Now()
		for i := 0; i < count; i++ {
			if err := verify(); err != nil {
				return nil, err
			}
		}
		samples = append(samples, msPerOp(start, count))
	}
	sort.Float64s(samples)
	return map[string]any{"single": samples}, nil
}

// onAllCores runs work(0..count-1) on procs goroutines, item i on goroutine i % procs; the first error of each goroutine stops it.
func onAllCores(procs, count int, work func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, procs)
	for g := 0; g < procs; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < count; i += procs {
				if err := work(i); err != nil {
					errs[g] = err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func msPerOp(start time.Time, n int) float64 {
	return float64(time.Since(start).Nanoseconds()) / 1e6 / float64(n)
}
