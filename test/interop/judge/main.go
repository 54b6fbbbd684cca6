// Command judge answers, with Go's standard library only, whether certificates, CSRs and keys are
// acceptable to crypto/x509 and crypto/tls: the code kube-apiserver, the kubelet and etcd run.
// It reads a JSON array of cases on stdin and writes a JSON array of results in the same order.
// A malformed case gets {"ok": false, "error": ...}; only unreadable input as a whole exits non-zero.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
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
	CRLs          []string `json:"crls"`
	CRL           string   `json:"crl"`
}

type result struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	// For op "identity": the user and groups kube-apiserver's x509 authenticator takes from the leaf
	// (Subject.CommonName, Subject.Organization), hex-encoded so that bytes that are not UTF-8 survive.
	User   string   `json:"user,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// For op "crl": what Go reads from a CRL whose signature verified with its issuer.
	CRL *crlInfo `json:"crl,omitempty"`
}

type crlInfo struct {
	// Number is the cRLNumber in decimal, empty when the CRL has none.
	Number string `json:"number"`
	// AuthorityKeyID is the authorityKeyIdentifier's keyIdentifier in hex, empty when absent.
	AuthorityKeyID string `json:"authorityKeyId"`
	// Extensions are the OIDs of the crlExtensions, a "!" appended when critical.
	Extensions []string `json:"extensions"`
	// Revoked are the revoked serial numbers in hex.
	Revoked []string `json:"revoked"`
	// EntriesWithExtensions counts revoked entries that carry a crlEntryExtensions field (even an empty one).
	EntriesWithExtensions int `json:"entriesWithExtensions"`
}

func main() {
	var raw []json.RawMessage
	if err := json.NewDecoder(os.Stdin).Decode(&raw); err != nil {
		fmt.Fprintln(os.Stderr, "judge: input is not a JSON array:", err)
		os.Exit(2)
	}
	results := make([]result, len(raw))
	for i, r := range raw {
		results[i] = judgeRaw(r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "judge:", err)
		os.Exit(2)
	}
}

// judgeRaw decodes one case on its own, so that a malformed case fails alone instead of the batch.
// Unknown fields are refused: a misspelt field would otherwise be ignored and change the question.
func judgeRaw(raw json.RawMessage) (r result) {
	defer func() {
		if p := recover(); p != nil {
			r = result{Error: fmt.Sprint("judge panic: ", p)}
		}
	}()
	var c judgeCase
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&c); err != nil {
		return result{Error: "bad case: " + err.Error()}
	}
	if c.Op == "identity" {
		return identity(c.Cert)
	}
	if c.Op == "crl" {
		info, err := inspectCRL(c.CRL, c.Cert)
		if err != nil {
			return result{Error: err.Error()}
		}
		return result{OK: true, CRL: info}
	}
	if err := judge(c); err != nil {
		return result{Error: err.Error()}
	}
	return result{OK: true}
}

// identity reads a client certificate as apiserver's x509 CommonNameUserConversion does.
func identity(text string) result {
	certs, err := parseCerts(text)
	if err != nil {
		return result{Error: err.Error()}
	}
	subject := certs[0].Subject
	groups := make([]string, 0, len(subject.Organization))
	for _, o := range subject.Organization {
		groups = append(groups, fmt.Sprintf("%x", o))
	}
	return result{OK: true, User: fmt.Sprintf("%x", subject.CommonName), Groups: groups}
}

// The TBSCertList as RFC 5280 5.1 writes it, to see which fields the revoked entries really carry:
// crypto/x509 reads an absent and an empty crlEntryExtensions alike.
type tbsCertList struct {
	Raw                 asn1.RawContent
	Version             int `asn1:"optional,default:0"`
	Signature           pkix.AlgorithmIdentifier
	Issuer              asn1.RawValue
	ThisUpdate          time.Time
	NextUpdate          time.Time        `asn1:"optional"`
	RevokedCertificates []revokedEntry   `asn1:"optional"`
	Extensions          []pkix.Extension `asn1:"tag:0,optional,explicit"`
}

type revokedEntry struct {
	SerialNumber   *big.Int
	RevocationDate time.Time
	Extensions     asn1.RawValue `asn1:"optional"`
}

// inspectCRL parses a CRL with x509.ParseRevocationList, checks its signature with the issuer
// certificate (the first of cert) and reports its number, authority key id, extensions and entries.
func inspectCRL(crlText, issuerText string) (*crlInfo, error) {
	block, _ := pem.Decode([]byte(crlText))
	if block == nil || block.Type != "X509 CRL" {
		return nil, errors.New("crl: no X509 CRL block")
	}
	list, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("crl: %w", err)
	}
	issuers, err := parseCerts(issuerText)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if err := list.CheckSignatureFrom(issuers[0]); err != nil {
		return nil, fmt.Errorf("crl signature: %w", err)
	}
	var tbs tbsCertList
	if rest, err := asn1.Unmarshal(list.RawTBSRevocationList, &tbs); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("crl: tbsCertList: %v (%d trailing bytes)", err, len(rest))
	}
	info := &crlInfo{Extensions: []string{}, Revoked: []string{}}
	if list.Number != nil {
		info.Number = list.Number.String()
	}
	for _, extension := range list.Extensions {
		id := extension.Id.String()
		if extension.Critical {
			id += "!"
		}
		info.Extensions = append(info.Extensions, id)
	}
	info.AuthorityKeyID = hex.EncodeToString(list.AuthorityKeyId)
	for _, revoked := range list.RevokedCertificates {
		info.Revoked = append(info.Revoked, revoked.SerialNumber.Text(16))
	}
	for _, entry := range tbs.RevokedCertificates {
		if len(entry.Extensions.FullBytes) > 0 {
			info.EntriesWithExtensions++
		}
	}
	return info, nil
}

func judge(c judgeCase) error {
	switch c.Op {
	case "verify":
		return verify(c)
	case "csr":
		return checkCSR(c.CSR)
	case "keypair":
		_, err := tls.X509KeyPair([]byte(c.Cert), []byte(c.Key))
		return err
	case "key":
		return parsePrivateKeyPEM(c.Key)
	case "pubkey":
		return parsePublicKeyPEM(c.Key)
	default:
		return fmt.Errorf("unknown op %q", c.Op)
	}
}

// parseCerts returns every CERTIFICATE block of text; any other block type is an error.
func parseCerts(text string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected %s block where a CERTIFICATE was expected", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE block")
	}
	return certs, nil
}

func pool(texts []string) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	for _, text := range texts {
		certs, err := parseCerts(text)
		if err != nil {
			return nil, err
		}
		for _, cert := range certs {
			p.AddCert(cert)
		}
	}
	return p, nil
}

func keyUsages(eku string) ([]x509.ExtKeyUsage, error) {
	switch eku {
	case "server":
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil
	case "client":
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	case "any":
		return []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, nil
	default:
		return nil, fmt.Errorf("eku must be server, client or any, not %q", eku)
	}
}

func verify(c judgeCase) error {
	leaves, err := parseCerts(c.Leaf)
	if err != nil {
		return fmt.Errorf("leaf: %w", err)
	}
	if len(leaves) != 1 {
		return fmt.Errorf("leaf: %d certificates, want 1", len(leaves))
	}
	opts := x509.VerifyOptions{DNSName: c.Name}
	if opts.Roots, err = pool(c.Roots); err != nil {
		return fmt.Errorf("roots: %w", err)
	}
	if opts.Intermediates, err = pool(c.Intermediates); err != nil {
		return fmt.Errorf("intermediates: %w", err)
	}
	if opts.KeyUsages, err = keyUsages(c.EKU); err != nil {
		return err
	}
	if c.Time != "" {
		if opts.CurrentTime, err = time.Parse(time.RFC3339, c.Time); err != nil {
			return err
		}
	}
	chains, err := leaves[0].Verify(opts)
	if err != nil {
		return err
	}
	return checkRevocation(chains[0], c.CRLs)
}

// checkRevocation applies revocation lists to a verified chain: crypto/x509's Verify does not, so the
// judge does what a relying party must: a CRL from an issuer in the chain must verify, and lists no
// certificate of the chain.
func checkRevocation(chain []*x509.Certificate, crls []string) error {
	for _, text := range crls {
		block, _ := pem.Decode([]byte(text))
		if block == nil || block.Type != "X509 CRL" {
			return errors.New("crls: no X509 CRL block")
		}
		list, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return fmt.Errorf("crls: %w", err)
		}
		for i := 0; i+1 < len(chain); i++ {
			issuer := chain[i+1]
			if !bytes.Equal(list.RawIssuer, issuer.RawSubject) {
				continue
			}
			if err := list.CheckSignatureFrom(issuer); err != nil {
				return fmt.Errorf("crl signature: %w", err)
			}
			for _, revoked := range list.RevokedCertificates {
				if revoked.SerialNumber.Cmp(chain[i].SerialNumber) == 0 {
					return fmt.Errorf("certificate %s is revoked", chain[i].SerialNumber.Text(16))
				}
			}
		}
	}
	return nil
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

// parsePrivateKeyPEM follows client-go's keyutil.ParsePrivateKeyPEM: the first key block that parses
// wins; other block types (EC PARAMETERS, certificates) and key blocks that fail to parse are skipped.
func parsePrivateKeyPEM(text string) error {
	lastErr := errors.New("data does not contain a valid RSA, ECDSA or ed25519 private key")
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return lastErr
		}
		if !privateKeyBlockTypes[block.Type] {
			continue
		}
		err := parseKeyBlock(block)
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("%s block: %w", block.Type, err)
	}
}

var privateKeyBlockTypes = map[string]bool{"EC PRIVATE KEY": true, "RSA PRIVATE KEY": true, "PRIVATE KEY": true}

func parseKeyBlock(block *pem.Block) error {
	switch block.Type {
	case "EC PRIVATE KEY":
		_, err := x509.ParseECPrivateKey(block.Bytes)
		return err
	case "RSA PRIVATE KEY":
		_, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		return err
	case "PRIVATE KEY":
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return err
		}
		switch key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return nil
		default:
			return fmt.Errorf("unsupported PKCS#8 key type %T", key)
		}
	default:
		return fmt.Errorf("not a private key block: %s", block.Type)
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
