package main

import (
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// serverURL is the apiserver address every client uses: loopback only, never another interface.
func serverURL(port int) string {
	return fmt.Sprintf("https://127.0.0.1:%d", port)
}

// writeKubeconfig writes an admin kubeconfig (CA data inlined, static bearer token) atomically.
// Inlining the CA keeps the file self-contained, so tools can copy it anywhere.
func writeKubeconfig(path string, port int, p *pki) error {
	ca, err := os.ReadFile(p.caCert)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testcluster"] = &clientcmdapi.Cluster{
		Server:                   serverURL(port),
		CertificateAuthorityData: ca,
	}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: p.token}
	cfg.Contexts["testcluster"] = &clientcmdapi.Context{Cluster: "testcluster", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "testcluster"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

// restConfig is the client configuration of `up` itself (readiness checks, node, fake kubelet).
// The limits are high because the fake kubelet writes the status of every pod of scale tests.
func restConfig(port int, p *pki) *rest.Config {
	return &rest.Config{
		Host:            serverURL(port),
		BearerToken:     p.token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: p.caCert},
		QPS:             1000,
		Burst:           2000,
		UserAgent:       "testcluster",
	}
}
