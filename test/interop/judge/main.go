// Command judge answers, with Go's standard library only, whether certificates, CSRs and keys are
// acceptable to crypto/x509 and crypto/tls: the code kube-apiserver, the kubelet and etcd run.
// It reads a JSON array of cases on stdin and writes a JSON array of results in the same order.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

type judgeCase struct {
	Op            string   `json:"op"`
	Leaf          string   `json:"leaf"`
	Intermediates []string `json:"intermediates"`
	Roots         []string `json:"roots"`
	Name          string   `json:"name"`
	EKU           string   `json:"eku"`
	Time          string   `json:"time"`
	CSR           string   `json:"csr"`
	Cert          string   `json:"cert"`
	Key           string   `json:"key"`
}

type result struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func main() {
	var cases []judgeCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "judge: bad input:", err)
		os.Exit(2)
	}
	results := make([]result, len(cases))
	for i, c := range cases {
		results[i] = judge(c)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		os.Exit(2)
	}
}

func judge(c judgeCase) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{Error: fmt.Sprint("panic: ", p)}
		}
	}()
	var err error
	switch c.Op {
	case "verify":
		err = verify(c)
	case "csr":
		err = checkCSR(c.CSR)
	case "keypair":
		_, err = tls.X509KeyPair([]byte(c.Cert), []byte(c.Key))
	case "key":
		err = parsePrivateKeyPEM(c.Key)
	case "pubkey":
		err = parsePublicKeyPEM(c.Key)
	default:
		err = fmt.Errorf("unknown op %q", c.Op)
	}
	if err != nil {
		return result{Error: err.Error()}
	}
	return result{OK: true}
}

func parseCert(text string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func pool(texts []string) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	for _, text := range texts {
		cert, err := parseCert(text)
		if err != nil {
			return nil, err
		}
		p.AddCert(cert)
	}
	return p, nil
}

func verify(c judgeCase) error {
	leaf, err := parseCert(c.Leaf)
	if err != nil {
		return err
	}
	roots, err := pool(c.Roots)
	if err != nil {
		return err
	}
	intermediates, err := pool(c.Intermediates)
	if err != nil {
		return err
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: c.Name}
	switch c.EKU {
	case "server":
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case "client":
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case "any", "":
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	default:
		return fmt.Errorf("unknown eku %q", c.EKU)
	}
	if c.Time != "" {
		t, err := time.Parse(time.RFC3339, c.Time)
		if err != nil {
			return err
		}
		opts.CurrentTime = t
	}
	_, err = leaf.Verify(opts)
	return err
}

func checkCSR(text string) error {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return errors.New("no CERTIFICATE REQUEST block")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return err
	}
	return csr.CheckSignature()
}

// parsePrivateKeyPEM follows client-go's keyutil.ParsePrivateKeyPEM: the first key block wins,
// other block types (EC PARAMETERS, certificates) are skipped.
func parsePrivateKeyPEM(text string) error {
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return errors.New("no private key block")
		}
		switch block.Type {
		case "EC PRIVATE KEY":
			_, err := x509.ParseECPrivateKey(block.Bytes)
			return err
		case "RSA PRIVATE KEY":
			_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			return err
		case "PRIVATE KEY":
			_, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			return err
		}
	}
}

func parsePublicKeyPEM(text string) error {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "PUBLIC KEY" {
		return errors.New("no PUBLIC KEY block")
	}
	_, err := x509.ParsePKIXPublicKey(block.Bytes)
	return err
}
