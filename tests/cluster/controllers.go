package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// defaultControllers are the kube-controller-manager controllers that an Argo-Rollouts-style
// controller relies on. The node-lifecycle and IPAM controllers are left out on purpose: the fake
// nodes have no kubelet heartbeats to judge, and pod IPs come from the fake kubelet.
const defaultControllers = "deployment-controller,replicaset-controller,job-controller," +
	"garbage-collector-controller,namespace-controller,serviceaccount-controller," +
	"endpointslice-controller,endpoints-controller,pod-garbage-collector-controller," +
	"ttl-after-finished-controller,cronjob-controller"

// controllerManagerArgs: no leader election (it calls os.Exit when the lease is lost, e.g. during an
// apiserver restart) and no HTTPS endpoint (--secure-port=0), so no delegated authn/authz is needed.
func controllerManagerArgs(kubeconfig, controllers string) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--controllers=" + controllers,
		"--use-service-account-credentials=false",
		"--kube-api-qps=1000",
		"--kube-api-burst=2000",
		"--concurrent-deployment-syncs=10",
		"--concurrent-replicaset-syncs=10",
		"--concurrent-job-syncs=10",
		"--concurrent-gc-syncs=20",
		"--profiling=false",
		"--v=1",
	}
}

// schedulerArgs writes a KubeSchedulerConfiguration (the supported way to raise the client's QPS,
// which otherwise limits binding to 50 pods/s) and returns the flags that use it.
func schedulerArgs(dir, kubeconfig string) ([]string, error) {
	cfgPath := filepath.Join(dir, "kube-scheduler.yaml")
	cfg := fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: 1000
  burst: 2000
leaderElection:
  leaderElect: false
`, kubeconfig)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return []string{"--config=" + cfgPath, "--secure-port=0", "--profiling=false", "--v=1"}, nil
}
