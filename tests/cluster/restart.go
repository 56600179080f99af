package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// restartAPIServer asks the `up` process of dir to restart its apiserver and waits until it is
// ready again. The request is a signal to the pid in dir/up.pid (SIGUSR1: kill, SIGUSR2: graceful);
// `up` acknowledges by bumping dir/apiserver.generation once the new apiserver answers /readyz.
// Signals need no listener and no extra port, and only `up` itself acts on them.
func restartAPIServer(dir string, graceful bool, timeout time.Duration) error {
	pidPath := dir + "/" + pidFile
	genPath := dir + "/" + apiserverGenFile
	pid, err := readPid(pidPath)
	if err != nil {
		return fmt.Errorf("no running cluster in %s: %w", dir, err)
	}
	before, err := readInt(genPath)
	if err != nil {
		return fmt.Errorf("cluster in %s is not up yet: %w", dir, err)
	}
	sig := syscall.SIGUSR1
	if graceful {
		sig = syscall.SIGUSR2
	}
	start := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal testcluster up (pid %d): %w", pid, err)
	}
	for time.Since(start) < timeout {
		time.Sleep(100 * time.Millisecond)
		if syscall.Kill(pid, 0) != nil {
			return fmt.Errorf("testcluster up (pid %d) exited during the restart", pid)
		}
		if gen, err := readInt(genPath); err == nil && gen > before {
			fmt.Fprintf(os.Stderr, "testcluster: kube-apiserver restarted in %.2fs\n", time.Since(start).Seconds())
			return nil
		}
	}
	return fmt.Errorf("kube-apiserver not back after %s (see %s/logs/kube-apiserver.log)", timeout, dir)
}

func readPid(path string) (int, error) {
	pid, err := readInt(path)
	if err == nil && pid <= 0 {
		err = fmt.Errorf("bad pid %d in %s", pid, path)
	}
	return pid, err
}

func readInt(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}
