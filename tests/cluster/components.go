package main

import (
	"os"
	_ "time/tzdata" // CronJob time-zone support, as in the upstream kube-apiserver/KCM mains

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

// components maps the multi-call subcommands to the upstream cobra commands. Each component runs in
// its own process (re-executed by `up`) because they share process-global state (feature gates,
// component-version registry, klog flags, signal handling) that cannot be set up twice in one process.
var components = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": controllermanager.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

// runComponent runs one upstream component exactly like its released binary would, with the arguments
// that follow the subcommand name; it never returns.
func runComponent(newCommand func() *cobra.Command, args []string) {
	cmd := newCommand()
	cmd.SetArgs(args)
	os.Exit(cli.Run(cmd))
}
