// The anchor of docs/benchmarks.md "Traffic routers: one router operation": what one router
// operation costs Argo Rollouts before its plugin does any work. Argo's traffic-router plugins
// are hashicorp go-plugin processes called over net/rpc (gob) on a Unix socket; this program
// runs one exactly as Argo's controller does (rollout/trafficrouting/plugin/client: the same
// go-plugin client configuration, handshake, plugin map and rpc package of argo-rollouts
// v1.10.1), with a plugin that does nothing, and times:
//
//   - Argo's SetWeight with a Rollout (the file given as the first argument), each call on its
//     own: the Rollout gob-encoded into the plugin process and the answer back;
//   - the Ping that Argo's client sends before each reconcile's operations (GetTrafficPlugin);
//   - a bare net/rpc round trip with a 4-byte argument between two processes over a Unix socket,
//     without go-plugin (the floor of the mechanism);
//   - the plugin process's resident memory.
//
// Run it with run.sh, which builds it against tests/argo's module versions.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	rolloutsPlugin "github.com/argoproj/argo-rollouts/rollout/trafficrouting/plugin/rpc"
	"github.com/argoproj/argo-rollouts/utils/plugin/types"
	"github.com/hashicorp/go-hclog"
	goPlugin "github.com/hashicorp/go-plugin"
)

const (
	warmup  = 500
	samples = 20000
)

// Argo's handshake for traffic routers (rollout/trafficrouting/plugin/client/client.go).
var handshake = goPlugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "trafficrouter",
}

// noop is a traffic router that does nothing: what is timed is the call alone.
type noop struct{}

func (noop) InitPlugin() types.RpcError { return types.RpcError{} }
func (noop) UpdateHash(*v1alpha1.Rollout, string, string, []v1alpha1.WeightDestination) types.RpcError {
	return types.RpcError{}
}
func (noop) SetWeight(*v1alpha1.Rollout, int32, []v1alpha1.WeightDestination) types.RpcError {
	return types.RpcError{}
}
func (noop) SetHeaderRoute(*v1alpha1.Rollout, *v1alpha1.SetHeaderRoute) types.RpcError {
	return types.RpcError{}
}
func (noop) SetMirrorRoute(*v1alpha1.Rollout, *v1alpha1.SetMirrorRoute) types.RpcError {
	return types.RpcError{}
}
func (noop) VerifyWeight(*v1alpha1.Rollout, int32, []v1alpha1.WeightDestination) (types.RpcVerified, types.RpcError) {
	return types.NotImplemented, types.RpcError{}
}
func (noop) RemoveManagedRoutes(*v1alpha1.Rollout) types.RpcError { return types.RpcError{} }
func (noop) Type() string                                         { return "noop" }

// Echo is the bare net/rpc service.
type Echo struct{}

// Call answers its argument.
func (Echo) Call(arg int32, reply *int32) error {
	*reply = arg
	return nil
}

func main() {
	// The plugin process: started by go-plugin with the handshake cookie in its environment.
	if os.Getenv(handshake.MagicCookieKey) == handshake.MagicCookieValue {
		goPlugin.Serve(&goPlugin.ServeConfig{
			HandshakeConfig: handshake,
			Plugins:         map[string]goPlugin.Plugin{"RpcTrafficRouterPlugin": &rolloutsPlugin.RpcTrafficRouterPlugin{Impl: noop{}}},
		})
		return
	}
	// The bare net/rpc server process.
	if len(os.Args) == 3 && os.Args[1] == "echo-server" {
		serveEcho(os.Args[2])
		return
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-plugin-router ROLLOUT.json")
		os.Exit(2)
	}
	text, err := os.ReadFile(os.Args[1])
	check(err)
	var ro v1alpha1.Rollout
	check(json.Unmarshal(text, &ro))
	compact, err := json.Marshal(&ro)
	check(err)

	fmt.Printf("## Argo Rollouts' router call: go-plugin over net/rpc (%s, GOMAXPROCS %d)\n\n", runtime.Version(), runtime.GOMAXPROCS(0))
	fmt.Printf("Rollout %d bytes of JSON; %d timed calls of each kind after %d, each on its own\n\n", len(compact), samples, warmup)
	fmt.Println("| call | p50 | p99 | p99.9 | mean |")
	fmt.Println("|---|---|---|---|---|")

	// As Argo's controller starts a traffic-router plugin (client.go startPluginLocked).
	client := goPlugin.NewClient(&goPlugin.ClientConfig{
		HandshakeConfig: handshake,
		Plugins:         map[string]goPlugin.Plugin{"RpcTrafficRouterPlugin": &rolloutsPlugin.RpcTrafficRouterPlugin{}},
		Cmd:             exec.Command(os.Args[0]),
		Managed:         true,
		Logger:          hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Error}),
	})
	defer goPlugin.CleanupClients()
	rpcClient, err := client.Client()
	check(err)
	raw, err := rpcClient.Dispense("RpcTrafficRouterPlugin")
	check(err)
	plugin := raw.(rolloutsPlugin.TrafficRouterPlugin)
	if resp := plugin.InitPlugin(); resp.HasError() {
		panic(resp.Error())
	}

	// Bare net/rpc between two processes over a Unix socket.
	dir, err := os.MkdirTemp("", "netrpc")
	check(err)
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "echo.sock")
	server := exec.Command(os.Args[0], "echo-server", socket)
	server.Stderr = os.Stderr
	check(server.Start())
	defer server.Process.Kill()
	var conn *rpc.Client
	for try := 0; ; try++ {
		if conn, err = rpc.Dial("unix", socket); err == nil {
			break
		}
		if try > 500 {
			check(err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The three calls take turns, one each, so that they share the machine's moods.
	var setWeight, ping, bare []time.Duration
	for i := 0; i < warmup+samples; i++ {
		start := time.Now()
		if resp := plugin.SetWeight(&ro, int32(10+10*(i%2)), nil); resp.HasError() {
			panic(resp.Error())
		}
		w := time.Since(start)
		start = time.Now()
		check(rpcClient.Ping())
		p := time.Since(start)
		start = time.Now()
		var reply int32
		check(conn.Call("Echo.Call", int32(i), &reply))
		b := time.Since(start)
		if i >= warmup {
			setWeight, ping, bare = append(setWeight, w), append(ping, p), append(bare, b)
		}
	}
	row("Argo SetWeight(rollout, weight) through go-plugin, no-op plugin", setWeight)
	row("go-plugin Ping (Argo sends one per reconcile, before the operations)", ping)
	row("bare net/rpc round trip, 4-byte argument, Unix socket, two processes", bare)
	rss := residentKiB(client.ReattachConfig().Pid)
	fmt.Printf("\nplugin process resident memory (VmRSS, no-op plugin, after the calls): %d KiB\n", rss)
}

func serveEcho(socket string) {
	check(rpc.Register(Echo{}))
	listener, err := net.Listen("unix", socket)
	check(err)
	rpc.Accept(listener)
}

func row(name string, d []time.Duration) {
	sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
	at := func(q float64) time.Duration {
		i := int(float64(len(d)) * q)
		if i >= len(d) {
			i = len(d) - 1
		}
		return d[i]
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	us := func(x time.Duration) string { return fmt.Sprintf("%.1f µs", float64(x.Nanoseconds())/1000) }
	fmt.Printf("| %s | %s | %s | %s | %s |\n", name, us(at(0.5)), us(at(0.99)), us(at(0.999)), us(sum/time.Duration(len(d))))
}

func residentKiB(pid int) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kib)
			return kib
		}
	}
	return -1
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
