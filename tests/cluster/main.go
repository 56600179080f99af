// Command testcluster runs a real Kubernetes control plane on loopback for tests: an embedded etcd,
// the real kube-apiserver, kube-controller-manager and kube-scheduler (built from k8s.io/kubernetes,
// see go.mod), fake nodes and a fake kubelet that plays the pods.
//
// It is one multi-call binary: `up` orchestrates and re-executes the same binary as
// `kube-apiserver`, `kube-controller-manager` and `kube-scheduler`, each in its own process, with the
// same flags as the released binaries.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

const usage = `usage:
  testcluster up --dir DIR [--nodes N] [--exit-on-stdin-eof] [--remove-dir-on-exit] [--controllers LIST]
      Run a control plane in the foreground, with its state in DIR. When it is ready it writes
      DIR/kubeconfig (admin credentials, server https://127.0.0.1:PORT) and prints that path.
      SIGTERM or SIGINT stops everything it started.
  testcluster restart-apiserver --dir DIR [--graceful]
      Restart the kube-apiserver of the cluster running in DIR, on the same port, with the same
      credentials; returns once the new one is ready. The old one is killed (SIGKILL: a crash), or
      with --graceful sent SIGTERM and killed if still running 5 s later.
  testcluster kube-apiserver|kube-controller-manager|kube-scheduler [FLAGS]
      Run one upstream component (used by up).
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if newCommand, ok := components[os.Args[1]]; ok {
		runComponent(newCommand, os.Args[2:])
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = runUp(os.Args[2:])
	case "restart-apiserver":
		err = runRestartAPIServer(os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "testcluster: unknown command %q\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testcluster %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func runUp(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	var o upOptions
	fs.StringVar(&o.dir, "dir", "", "cluster directory (created if missing)")
	fs.IntVar(&o.nodes, "nodes", 1, "number of fake nodes")
	fs.BoolVar(&o.exitOnStdinEOF, "exit-on-stdin-eof", false,
		"stop the cluster when standard input reaches EOF (i.e. when the process that started us dies)")
	fs.BoolVar(&o.removeDirOnExit, "remove-dir-on-exit", false, "delete DIR after stopping")
	fs.StringVar(&o.controllers, "controllers", defaultControllers, "kube-controller-manager --controllers")
	_ = fs.Parse(args)
	if o.dir == "" || fs.NArg() > 0 || o.nodes < 1 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	return up(o)
}

func runRestartAPIServer(args []string) error {
	fs := flag.NewFlagSet("restart-apiserver", flag.ExitOnError)
	dir := fs.String("dir", "", "directory of a running `testcluster up`")
	graceful := fs.Bool("graceful", false, "stop the apiserver with SIGTERM instead of SIGKILL")
	timeout := fs.Duration("timeout", 120*time.Second, "how long to wait for the new apiserver")
	_ = fs.Parse(args)
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	return restartAPIServer(*dir, *graceful, *timeout)
}
