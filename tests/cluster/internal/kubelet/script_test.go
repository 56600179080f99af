package kubelet

import (
	"testing"
	"time"
)

func TestParseScript(t *testing.T) {
	cases := []struct {
		name          string
		command, args []string
		want          script
	}{
		{"no command runs forever", nil, nil, script{}},
		{"server runs forever", []string{"nginx", "-g", "daemon off;"}, nil, script{}},
		{"sleep then fail", []string{"sh", "-c", "sleep 2 && exit 1"}, nil, script{true, 2 * time.Second, 1}},
		{"args form", []string{"/bin/sh", "-c"}, []string{"sleep 5; exit 3"}, script{true, 5 * time.Second, 3}},
		{"exit only", []string{"sh", "-c", "exit 1"}, nil, script{true, 0, 1}},
		{"bare exit", []string{"sh", "-c", "echo hi; exit"}, nil, script{true, 0, 0}},
		{"sleep only succeeds", []string{"sleep", "10"}, nil, script{true, 10 * time.Second, 0}},
		{"sleeps add up", []string{"sh", "-c", "sleep 1; echo; sleep 0.5s; exit 0"}, nil, script{true, 1500 * time.Millisecond, 0}},
		{"minutes", []string{"sleep", "1m"}, nil, script{true, time.Minute, 0}},
		{"infinity", []string{"sleep", "infinity"}, nil, script{}},
		{"last exit wins", []string{"sh", "-c", "test -f x || exit 2; exit 4"}, nil, script{true, 0, 4}},
		{"not an exit word", []string{"sh", "-c", "echo exited; ./on-exit"}, nil, script{}},
		{"not a sleep word", []string{"nosleep", "3"}, nil, script{}},
		{"exit code wraps", []string{"sh", "-c", "exit 257"}, nil, script{true, 0, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseScript(c.command, c.args); got != c.want {
				t.Errorf("parseScript(%q, %q) = %+v, want %+v", c.command, c.args, got, c.want)
			}
		})
	}
}
