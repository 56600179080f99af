package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the paths of the credentials that `up` generates for one cluster directory.
//
// Everything is created once per directory and reused by later runs and by apiserver restarts, so a
// kubeconfig handed out earlier stays valid across `restart-apiserver`.
type pki struct {
	caCert      string // self-signed CA, written into the kubeconfig as certificate-authority-data
	servingCert string // kube-apiserver serving certificate, SANs 127.0.0.1, ::1 and localhost
	servingKey  string
	saKey       string // signs and verifies service-account tokens (one key for both is fine)
	tokenFile   string // --token-auth-file: one static token in group system:masters
	token       string
}

// ensurePKI creates the credentials under dir/pki unless they exist already.
//
// ECDSA P-256 keeps generation instant; rustls (kube-rs), Go and the apiserver's service-account
// signer all accept it.
func ensurePKI(dir string) (*pki, error) {
	pdir := filepath.Join(dir, "pki")
	p := &pki{
		caCert:      filepath.Join(pdir, "ca.crt"),
		servingCert: filepath.Join(pdir, "apiserver.crt"),
		servingKey:  filepath.Join(pdir, "apiserver.key"),
		saKey:       filepath.Join(pdir, "sa.key"),
		tokenFile:   filepath.Join(pdir, "tokens.csv"),
	}
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(p.tokenFile); err == nil {
		tok, err := readToken(p.tokenFile)
		if err != nil {
			return nil, err
		}
		p.token = tok
		return p, nil
	}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "testcluster-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// The IP SANs matter: clients connect to https://127.0.0.1:PORT and rustls verifies the IP.
	srvTmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}

	tokenBytes := make([]byte, 24)
	if _, err := rand.Read(tokenBytes); err != nil {
		return nil, err
	}
	p.token = hex.EncodeToString(tokenBytes)

	for _, f := range []struct {
		path string
		data []byte
	}{
		{p.caCert, pemBlock("CERTIFICATE", caDER)},
		{p.servingCert, pemBlock("CERTIFICATE", srvDER)},
		{p.servingKey, ecKeyPEM(srvKey)},
		{p.saKey, ecKeyPEM(saKey)},
		// token,user,uid,"group": system:masters bypasses RBAC, like a kind/kubeadm admin.
		{p.tokenFile, []byte(fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", p.token))},
	} {
		if err := writeFileAtomic(f.path, f.data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func readToken(tokenFile string) (string, error) {
	data, err := os.ReadFile(tokenFile)
	if err != nil {
		return "", err
	}
	for i, c := range data {
		if c == ',' {
			return string(data[:i]), nil
		}
	}
	return "", fmt.Errorf("malformed token file %s", tokenFile)
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func ecKeyPEM(k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err) // only fails for unsupported curves
	}
	return pemBlock("EC PRIVATE KEY", der)
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place, so that
// readers never see a partial file (the kubeconfig's existence is the "ready" signal).
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
