package main

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
)

// apiserverArgs are the kube-apiserver flags: the same stable CLI surface as the released binary.
func apiserverArgs(dir string, port, etcdPort int, p *pki) []string {
	return []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(etcdPort),
		// Loopback only. The advertise address must be explicit: without a default route the
		// apiserver cannot pick an interface and refuses to start.
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + p.servingCert,
		"--tls-private-key-file=" + p.servingKey,
		"--client-ca-file=" + p.caCert,
		"--token-auth-file=" + p.tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saKey,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		// Nothing manages node taints here (no node-lifecycle controller), so the plugin's
		// not-ready:NoSchedule taint on new nodes would never go away and nothing would schedule.
		// Kubernetes' own integration tests disable it the same way.
		"--disable-admission-plugins=TaintNodesByCondition",
		// No real endpoints to reconcile for the `kubernetes` service of a loopback apiserver.
		"--endpoint-reconciler-type=none",
		// Throughput for scale tests: no priority-and-fairness queuing, no in-flight limits.
		"--enable-priority-and-fairness=false",
		"--max-requests-inflight=0",
		"--max-mutating-requests-inflight=0",
		"--profiling=false",
		"--v=1",
	}
}

// startAPIServer starts kube-apiserver and waits until /readyz answers ok.
func startAPIServer(ctx context.Context, dir string, port, etcdPort int, p *pki) (*child, error) {
	c, err := startChild(dir, "kube-apiserver", apiserverArgs(dir, port, etcdPort, p))
	if err != nil {
		return nil, err
	}
	if err := waitReadyz(ctx, c, port, p, 90*time.Second); err != nil {
		c.stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	return c, nil
}

// waitReadyz polls GET /readyz with the admin token until it returns "ok".
func waitReadyz(ctx context.Context, c *child, port int, p *pki, timeout time.Duration) error {
	client, err := kubernetes.NewForConfig(restConfig(port, p))
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		if c.exited() {
			return fmt.Errorf("kube-apiserver exited (%v); see %s", c.err, c.log)
		}
		reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(reqCtx)
		cancel()
		if err == nil && string(body) == "ok" {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("kube-apiserver not ready after %s (last error: %v); see %s", timeout, lastErr, c.log)
}
