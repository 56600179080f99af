package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/aviary-dev/aviary/tests/cluster/internal/kubelet"
)

type upOptions struct {
	dir             string
	nodes           int
	exitOnStdinEOF  bool
	removeDirOnExit bool
	controllers     string
}

// Files of a cluster directory. kubeconfig is written last and removed first, so that its existence
// means "the cluster is up".
const (
	kubeconfigFile     = "kubeconfig"
	componentsKubeconf = "components.kubeconfig" // for KCM and scheduler, written before kubeconfig
	pidFile            = "up.pid"
	apiserverGenFile   = "apiserver.generation" // bumped after each apiserver (re)start
	podCIDR            = "10.244.0.0/16"        // fake: nothing routes or connects to these addresses
)

// cluster is the running state of `up`.
type cluster struct {
	opts        upOptions
	pki         *pki
	etcd        *embed.Etcd
	etcdPort    int
	apiPort     int
	apiserver   *child
	kcm         *child
	scheduler   *child
	generation  int
	start       time.Time
	lastPhase   time.Time
	cancelKubel context.CancelFunc
	kubeletDone chan error
}

// phase prints how long the step that just ended took, and the time since start.
func (c *cluster) phase(name string) {
	now := time.Now()
	fmt.Fprintf(os.Stderr, "testcluster: %-36s +%5.2fs  (total %5.2fs)\n",
		name, now.Sub(c.lastPhase).Seconds(), now.Sub(c.start).Seconds())
	c.lastPhase = now
}

func (c *cluster) path(name string) string { return filepath.Join(c.opts.dir, name) }

func up(o upOptions) (err error) {
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	o.dir = dir
	c := &cluster{opts: o, start: time.Now(), lastPhase: time.Now()}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return err
	}
	if pid, err := readPid(c.path(pidFile)); err == nil && syscall.Kill(pid, 0) == nil && pid != os.Getpid() {
		return fmt.Errorf("a cluster is already running in %s (pid %d)", dir, pid)
	}
	_ = os.Remove(c.path(kubeconfigFile)) // stale from a previous run: not ready yet
	if err := writeFileAtomic(c.path(pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}

	// Signals: TERM/INT/HUP stop; USR1/USR2 restart the apiserver (see restart.go).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdinEOF := make(chan struct{})
	if o.exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(stdinEOF)
		}()
	}

	defer func() {
		c.shutdown()
		// On failure the directory is kept: its logs are the evidence.
		if o.removeDirOnExit && err == nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if err := c.bringUp(ctx, sigs, stdinEOF); err != nil {
		if errors.Is(err, errStopped) {
			fmt.Fprintln(os.Stderr, "testcluster: stop requested during startup: stopping")
			return nil
		}
		return err
	}
	return c.serve(ctx, sigs, stdinEOF)
}

// bringUp starts everything, in dependency order, and writes the kubeconfig last.
// A stop request during startup aborts it (errStopped), which is not a failure.
func (c *cluster) bringUp(ctx context.Context, sigs <-chan os.Signal, stdinEOF <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case s := <-sigs:
			if s == syscall.SIGUSR1 || s == syscall.SIGUSR2 {
				fmt.Fprintln(os.Stderr, "testcluster: apiserver restart requested during startup; ignored")
			}
			cancel()
		case <-stdinEOF:
			cancel()
		case <-ctx.Done():
		}
	}()
	var err error
	c.pki, err = ensurePKI(c.opts.dir)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	c.etcdPort, c.apiPort = ports[0], ports[2]
	c.phase("credentials and ports")

	c.etcd, err = startEtcd(c.opts.dir, ports[0], ports[1])
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	c.phase("etcd ready")

	c.apiserver, err = startAPIServer(ctx, c.opts.dir, c.apiPort, c.etcdPort, c.pki)
	if err != nil {
		return stopped(ctx, fmt.Errorf("kube-apiserver: %w", err))
	}
	if err := c.bumpGeneration(); err != nil {
		return err
	}
	c.phase("kube-apiserver ready (/readyz)")

	if err := writeKubeconfig(c.path(componentsKubeconf), c.apiPort, c.pki); err != nil {
		return err
	}
	if err := c.startControllers(); err != nil {
		return err
	}
	c.phase("controller-manager, scheduler started")

	client, err := kubernetes.NewForConfig(restConfig(c.apiPort, c.pki))
	if err != nil {
		return err
	}
	hostIPs := map[string]string{}
	for i := 1; i <= c.opts.nodes; i++ {
		name, ip := nodeName(i), fmt.Sprintf("10.0.0.%d", i)
		if err := ensureNode(ctx, client, name, ip); err != nil {
			return stopped(ctx, err)
		}
		hostIPs[name] = ip
	}
	kl, err := kubelet.New(client, hostIPs, podCIDR)
	if err != nil {
		return err
	}
	kctx, kcancel := context.WithCancel(context.Background())
	c.cancelKubel, c.kubeletDone = kcancel, make(chan error, 1)
	go func() { c.kubeletDone <- kl.Run(kctx, 8) }()
	c.phase(fmt.Sprintf("%d node(s) ready, fake kubelet running", c.opts.nodes))

	// The default ServiceAccount appears once the controller-manager runs its controllers. Pods are
	// rejected by ServiceAccount admission until then, so a cluster without it is not usable yet.
	if err := waitFor(ctx, 60*time.Second, func() bool {
		_, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		return stopped(ctx, fmt.Errorf("controller-manager did not create ServiceAccount default/default: %w (see %s)", err, c.kcm.log))
	}
	c.phase("controllers working (default ServiceAccount)")

	if err := writeKubeconfig(c.path(kubeconfigFile), c.apiPort, c.pki); err != nil {
		return err
	}
	c.phase("kubeconfig written")
	fmt.Fprintf(os.Stderr, "testcluster: up: server %s, logs in %s\n", serverURL(c.apiPort), c.path("logs"))
	fmt.Println(c.path(kubeconfigFile))
	return nil
}

// errStopped: a stop was requested while starting.
var errStopped = errors.New("stopped during startup")

func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errStopped
	}
	return err
}

func (c *cluster) startControllers() error {
	kubeconfig := c.path(componentsKubeconf)
	var err error
	c.kcm, err = startChild(c.opts.dir, "kube-controller-manager", controllerManagerArgs(kubeconfig, c.opts.controllers))
	if err != nil {
		return err
	}
	schedArgs, err := schedulerArgs(c.opts.dir, kubeconfig)
	if err != nil {
		return err
	}
	c.scheduler, err = startChild(c.opts.dir, "kube-scheduler", schedArgs)
	return err
}

// serve runs until a stop is requested, restarting the apiserver on request and any component that
// dies unexpectedly (as a kubelet would restart a static pod), so one crash does not silently leave
// the tests without, say, a ReplicaSet controller.
func (c *cluster) serve(ctx context.Context, sigs <-chan os.Signal, stdinEOF <-chan struct{}) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case s := <-sigs:
			switch s {
			case syscall.SIGUSR1, syscall.SIGUSR2:
				if err := c.restartAPIServer(ctx, s == syscall.SIGUSR2); err != nil {
					return err
				}
			default:
				fmt.Fprintf(os.Stderr, "testcluster: %v: stopping\n", s)
				return nil
			}
		case <-stdinEOF:
			fmt.Fprintln(os.Stderr, "testcluster: stdin closed: stopping")
			return nil
		case err := <-c.etcd.Err():
			return fmt.Errorf("etcd failed: %w", err)
		case err := <-c.kubeletDone:
			return fmt.Errorf("fake kubelet stopped: %v", err)
		case <-tick.C:
			for _, p := range []**child{&c.apiserver, &c.kcm, &c.scheduler} {
				if !(*p).exited() {
					continue
				}
				old := *p
				fmt.Fprintf(os.Stderr, "testcluster: %s exited unexpectedly (%v; see %s); restarting\n", old.name, old.err, old.log)
				var err error
				if old.name == "kube-apiserver" {
					err = c.startAPIServerAgain(ctx)
				} else {
					*p, err = startChild(c.opts.dir, old.name, old.args)
				}
				if err != nil {
					return err
				}
			}
		}
	}
}

// restartAPIServer stops the apiserver (SIGKILL: a crash, or SIGTERM: a graceful shutdown) and
// starts a new one on the same port with the same credentials, so existing kubeconfigs stay valid
// while every open connection and watch sees a real disconnection.
func (c *cluster) restartAPIServer(ctx context.Context, graceful bool) error {
	start := time.Now()
	sig := syscall.SIGKILL
	if graceful {
		sig = syscall.SIGTERM
	}
	// A terminating apiserver stops listening at once but keeps serving its open connections for up
	// to a minute (the controllers' watches keep them busy); 5 s is plenty for a "graceful" fault.
	c.apiserver.stop(sig, 5*time.Second)
	stoppedAt := time.Now()
	if err := c.startAPIServerAgain(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "testcluster: kube-apiserver restarted (%v): stopped in %.2fs, ready again in %.2fs\n",
		sig, stoppedAt.Sub(start).Seconds(), time.Since(stoppedAt).Seconds())
	return nil
}

func (c *cluster) startAPIServerAgain(ctx context.Context) error {
	var err error
	c.apiserver, err = startAPIServer(ctx, c.opts.dir, c.apiPort, c.etcdPort, c.pki)
	if err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	return c.bumpGeneration()
}

func (c *cluster) bumpGeneration() error {
	c.generation++
	return writeFileAtomic(c.path(apiserverGenFile), []byte(strconv.Itoa(c.generation)+"\n"), 0o644)
}

// shutdown stops everything that was started, in reverse order, and removes the kubeconfig first so
// nobody mistakes a stopping cluster for a running one.
func (c *cluster) shutdown() {
	start := time.Now()
	_ = os.Remove(c.path(kubeconfigFile))
	if c.cancelKubel != nil {
		c.cancelKubel()
		select {
		case <-c.kubeletDone:
		case <-time.After(5 * time.Second):
		}
	}
	// The controllers first, so they do not spend the apiserver's last seconds on retries. The
	// apiserver would keep clients' open watches for up to a minute: the data is disposable, so it
	// gets little grace.
	for _, ch := range []*child{c.scheduler, c.kcm} {
		if ch != nil {
			ch.stop(syscall.SIGTERM, 5*time.Second)
		}
	}
	if c.apiserver != nil {
		c.apiserver.stop(syscall.SIGTERM, 2*time.Second)
	}
	if c.etcd != nil {
		c.etcd.Close()
	}
	_ = os.Remove(c.path(pidFile))
	fmt.Fprintf(os.Stderr, "testcluster: stopped in %.2fs\n", time.Since(start).Seconds())
}

// freePorts reserves n distinct free loopback ports. They are released before use, so another
// process could take one in between; on a test machine that race is rare enough.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitFor polls cond every 100 ms until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
