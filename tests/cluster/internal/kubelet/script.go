package kubelet

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// script is what the fake kubelet makes of a container's command line. There is no container
// runtime, so the only behaviour it can play is the one the tests spell out in shell idioms, the same
// idioms Argo Rollouts' e2e suite uses: `sleep N` (run for N seconds) and `exit K` (then end with
// code K), e.g. ["sh", "-c", "sleep 2 && exit 1"].
type script struct {
	// terminates is false for containers that run until deleted (no `sleep N` and no `exit K`,
	// or `sleep infinity`), like a web server.
	terminates bool
	runFor     time.Duration // total of the `sleep N` commands
	exitCode   int32         // code of the last `exit K`; 0 when the script only sleeps
}

var (
	sleepRe = regexp.MustCompile(`(?:^|[^\w.-])sleep\s+(\S+)`)
	exitRe  = regexp.MustCompile(`(?:^|[^\w.-])exit(?:\s+(\d+))?(?:$|[^\w.-])`)
)

// parseScript reads the command line of a container (command and args joined by spaces).
func parseScript(command, args []string) script {
	line := strings.Join(append(append([]string{}, command...), args...), " ")
	var s script
	for _, m := range sleepRe.FindAllStringSubmatch(line, -1) {
		d, ok := parseSleep(m[1])
		if !ok {
			// `sleep infinity` or an expression we cannot evaluate: the container runs forever.
			return script{}
		}
		s.terminates = true
		s.runFor += d
	}
	if ms := exitRe.FindAllStringSubmatch(line, -1); len(ms) > 0 {
		s.terminates = true
		last := ms[len(ms)-1]
		if last[1] != "" {
			code, err := strconv.ParseInt(last[1], 10, 32)
			if err == nil {
				s.exitCode = int32(code % 256) // shells truncate exit codes to 8 bits
			}
		}
	}
	return s
}

// parseSleep accepts the operands of coreutils/busybox sleep: a number with an optional
// s/m/h/d suffix ("2", "0.5", "1m").
func parseSleep(arg string) (time.Duration, bool) {
	arg = strings.Trim(arg, `"';&|)`)
	unit := time.Second
	if n := len(arg); n > 0 {
		switch arg[n-1] {
		case 's':
			arg = arg[:n-1]
		case 'm':
			unit, arg = time.Minute, arg[:n-1]
		case 'h':
			unit, arg = time.Hour, arg[:n-1]
		case 'd':
			unit, arg = 24*time.Hour, arg[:n-1]
		}
	}
	f, err := strconv.ParseFloat(arg, 64)
	// ParseFloat accepts "inf"/"infinity": like durations beyond ~292 years, that means forever.
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f*float64(unit) >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}
