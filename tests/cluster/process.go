package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// child is one re-executed component (kube-apiserver, kube-controller-manager, kube-scheduler).
type child struct {
	name string
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // exit status, valid after done is closed
}

// startChild re-executes this binary as `testcluster NAME ARGS...`, logging to dir/logs/NAME.log.
//
// Setpgid puts the component in its own process group so that a Ctrl-C in a terminal reaches only
// `up`, which then stops the children in order. Pdeathsig kills the component if `up` dies without
// cleaning up (SIGKILL, crash), so nothing is ever left running.
func startChild(dir, name string, args []string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "logs", name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy of the descriptor
	fmt.Fprintf(logFile, "==== %s: starting %s %v\n", time.Now().Format(time.RFC3339), name, args)

	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Stdin = nil
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, args: args, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends sig to the component's process group and waits up to grace for it to exit, then kills
// the group. Signalling the group also reaches anything the component may have started itself.
func (c *child) stop(sig syscall.Signal, grace time.Duration) {
	if c.exited() {
		return
	}
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, sig)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.done
	}
	// Reap stragglers of the group, if any survived their leader.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
