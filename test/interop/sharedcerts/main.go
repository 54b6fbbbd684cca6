// The judge of kubepki's kubeadm-certs Secret: kubeadm's own upload-certs and download-certs logic, with
// Go's crypto/aes and crypto/cipher. The kubeadm source is not kept on this machine (build.sh deletes the
// unpacked tree), so the functions below are copied from Kubernetes' source, keeping their names:
//   - EncryptBytes, DecryptBytes, CreateRandBytes: cmd/kubeadm/app/util/crypto/crypto.go
//   - certsToTransfer (local etcd), getDataFromDisk, loadAndEncryptCert, getDataFromSecret,
//     certOrKeyNameToSecretName and DownloadCerts' check of every name: cmd/kubeadm/app/phases/copycerts/copycerts.go
//   - the names: cmd/kubeadm/app/constants/constants.go (CACertName "ca.crt", EtcdCACertName "etcd/ca.crt", ...)
//
// Standard input is one JSON request, standard output one JSON answer:
//   {"op":"upload","key":HEX,"dir":PKI}            -> {"data":{DATAKEY: base64 of EncryptBytes(file)}}
//   {"op":"download","key":HEX,"data":{...},"dir":PKI} -> files written into PKI as DownloadCerts does
//                                                       (keys 0600, the rest 0644), {"files":[NAME...]}
// A failure is {"error": TEXT} with exit status 1.
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

type request struct {
	Op   string            `json:"op"`
	Key  string            `json:"key"`
	Dir  string            `json:"dir"`
	Data map[string][]byte `json:"data"` // encoding/json: base64, as a Secret's data
}

type answer struct {
	Data  map[string][]byte `json:"data,omitempty"`
	Files []string          `json:"files,omitempty"`
	Error string            `json:"error,omitempty"`
}

// kubeadm's constants.go.
const (
	CACertName                   = "ca.crt"
	CAKeyName                    = "ca.key"
	FrontProxyCACertName         = "front-proxy-ca.crt"
	FrontProxyCAKeyName          = "front-proxy-ca.key"
	ServiceAccountPublicKeyName  = "sa.pub"
	ServiceAccountPrivateKeyName = "sa.key"
	EtcdCACertName               = "etcd/ca.crt"
	EtcdCAKeyName                = "etcd/ca.key"
)

// CreateRandBytes, EncryptBytes and DecryptBytes as in cmd/kubeadm/app/util/crypto/crypto.go.
func CreateRandBytes(size uint32) ([]byte, error) {
	bytes := make([]byte, size)
	if _, err := rand.Read(bytes); err != nil {
		return nil, err
	}
	return bytes, nil
}

func EncryptBytes(data, key []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce, err := CreateRandBytes(uint32(gcm.NonceSize()))
	if err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, data, nil), nil
}

func DecryptBytes(data, key []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonceSize := gcm.NonceSize()
	if len(data) < nonceSize {
		return nil, errors.New("size of data is less than the nonce")
	}
	nonce, out := data[:nonceSize], data[nonceSize:]
	out, err = gcm.Open(nil, nonce, out, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// certsToTransfer for cfg.Etcd.External == nil, as in copycerts.go.
func certsToTransfer(certsDir string) map[string]string {
	return map[string]string{
		CACertName:                   path.Join(certsDir, CACertName),
		CAKeyName:                    path.Join(certsDir, CAKeyName),
		FrontProxyCACertName:         path.Join(certsDir, FrontProxyCACertName),
		FrontProxyCAKeyName:          path.Join(certsDir, FrontProxyCAKeyName),
		ServiceAccountPublicKeyName:  path.Join(certsDir, ServiceAccountPublicKeyName),
		ServiceAccountPrivateKeyName: path.Join(certsDir, ServiceAccountPrivateKeyName),
		EtcdCACertName:               path.Join(certsDir, EtcdCACertName),
		EtcdCAKeyName:                path.Join(certsDir, EtcdCAKeyName),
	}
}

func certOrKeyNameToSecretName(certOrKeyName string) string {
	return strings.Replace(certOrKeyName, "/", "-", -1)
}

func loadAndEncryptCert(certPath string, key []byte) ([]byte, error) {
	cert, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	return EncryptBytes(cert, key)
}

func getDataFromDisk(certsDir string, key []byte) (map[string][]byte, error) {
	secretData := map[string][]byte{}
	for certName, certPath := range certsToTransfer(certsDir) {
		cert, err := loadAndEncryptCert(certPath, key)
		if err == nil || os.IsNotExist(err) {
			secretData[certOrKeyNameToSecretName(certName)] = cert
		} else {
			return nil, err
		}
	}
	return secretData, nil
}

func getDataFromSecret(data map[string][]byte, key []byte) (map[string][]byte, error) {
	secretData := map[string][]byte{}
	for secretName, encryptedSecret := range data {
		if len(encryptedSecret) > 0 {
			cert, err := DecryptBytes(encryptedSecret, key)
			if err != nil {
				return map[string][]byte{}, err
			}
			secretData[secretName] = cert
		} else {
			secretData[secretName] = []byte{}
		}
	}
	return secretData, nil
}

// downloadCerts is DownloadCerts without the API: every name must be in the Secret, empty ones are skipped;
// keyutil.WriteKey writes 0600, certutil.WriteCert 0644 (both make the folder 0755).
func downloadCerts(certsDir string, data map[string][]byte, key []byte) ([]string, error) {
	secretData, err := getDataFromSecret(data, key)
	if err != nil {
		return nil, fmt.Errorf("error decoding secret data with provided key: %w", err)
	}
	written := []string{}
	for certOrKeyName, certOrKeyPath := range certsToTransfer(certsDir) {
		certOrKeyData, found := secretData[certOrKeyNameToSecretName(certOrKeyName)]
		if !found {
			return nil, fmt.Errorf("the Secret does not include the required certificate or key - name: %s, path: %s", certOrKeyName, certOrKeyPath)
		}
		if len(certOrKeyData) == 0 {
			continue
		}
		mode := os.FileMode(0644)
		if strings.HasSuffix(certOrKeyName, ".key") {
			mode = 0600
		}
		if err := os.MkdirAll(filepath.Dir(certOrKeyPath), 0755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(certOrKeyPath, certOrKeyData, mode); err != nil {
			return nil, err
		}
		written = append(written, certOrKeyName)
	}
	sort.Strings(written)
	return written, nil
}

func main() {
	var req request
	out := answer{}
	err := json.NewDecoder(os.Stdin).Decode(&req)
	var key []byte
	if err == nil {
		key, err = hex.DecodeString(req.Key) // UploadCerts and DownloadCerts: "error decoding certificate key"
	}
	if err == nil {
		switch req.Op {
		case "upload":
			out.Data, err = getDataFromDisk(req.Dir, key)
		case "download":
			out.Files, err = downloadCerts(req.Dir, req.Data, key)
		default:
			err = fmt.Errorf("unknown op %q", req.Op)
		}
	}
	if err != nil {
		out = answer{Error: err.Error()}
	}
	if encodeErr := json.NewEncoder(os.Stdout).Encode(out); encodeErr != nil {
		os.Exit(2)
	}
	if err != nil {
		os.Exit(1)
	}
}
