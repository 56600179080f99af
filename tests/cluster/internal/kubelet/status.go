package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// imagePullFailureMarker: an image whose name contains it never pulls (ErrImagePull), so tests can
// play a broken rollout (Argo's e2e uses made-up image names for the same purpose).
const imagePullFailureMarker = "does-not-exist"

// minRunTime keeps a container that exits at once in Running for a moment, as a real one would be,
// and bounds the restart rate of containers that keep exiting (a real kubelet backs off instead).
// It also covers the precision of status timestamps, which the API server stores in whole seconds.
const minRunTime = time.Second

// podEnv is what desiredStatus needs besides the pod: the clock and the addresses to hand out.
type podEnv struct {
	now    time.Time
	hostIP string
	podIP  func() string // allocates a new pod IP; called only when the pod has none
}

// desiredStatus computes the status a kubelet would report for pod at env.now, and how long until
// it changes by itself (0: not by itself, only when the pod changes, e.g. a readiness gate).
//
// It only ever moves a pod forward: Pending -> Running -> Succeeded/Failed, and never rewrites
// conditions it does not own, such as the readiness-gate conditions that tests patch.
func desiredStatus(pod *corev1.Pod, env podEnv) (corev1.PodStatus, time.Duration) {
	st := *pod.Status.DeepCopy()
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		return st, 0
	}
	now := metav1.NewTime(env.now)

	st.HostIP = env.hostIP
	st.HostIPs = []corev1.HostIP{{IP: env.hostIP}}
	if st.PodIP == "" {
		ip := env.hostIP
		if !pod.Spec.HostNetwork {
			ip = env.podIP()
		}
		st.PodIP = ip
		st.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	if st.StartTime == nil {
		st.StartTime = &now
	}

	// Init containers: plain ones have completed, restartable ("sidecar") ones keep running.
	initialized := true
	st.InitContainerStatuses = containerStatuses(pod.Spec.InitContainers, st.InitContainerStatuses,
		func(c corev1.Container, cs *corev1.ContainerStatus) time.Duration {
			if strings.Contains(c.Image, imagePullFailureMarker) {
				initialized = false
				setImagePullFailure(cs, c)
				return 0
			}
			if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				setRunning(cs, now)
				return 0
			}
			if cs.State.Terminated == nil {
				cs.ContainerID = "fake://" + c.Name
				cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now,
					ContainerID: cs.ContainerID,
				}}
				cs.Ready, cs.Started = false, boolPtr(false)
			}
			return 0
		})

	var requeue time.Duration
	var waiting, running, succeeded, failed int
	if initialized {
		st.ContainerStatuses = containerStatuses(pod.Spec.Containers, st.ContainerStatuses,
			func(c corev1.Container, cs *corev1.ContainerStatus) time.Duration {
				return playContainer(pod, c, cs, now)
			})
	} else {
		st.ContainerStatuses = containerStatuses(pod.Spec.Containers, st.ContainerStatuses,
			func(c corev1.Container, cs *corev1.ContainerStatus) time.Duration {
				if cs.State.Waiting == nil {
					cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}
				}
				return 0
			})
	}
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		switch {
		case cs.State.Waiting != nil:
			waiting++
		case cs.State.Running != nil:
			running++
			// Wake up when the container's script ends.
			if d := untilExit(pod, cs, env.now); d > 0 && (requeue == 0 || d < requeue) {
				requeue = d
			}
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			succeeded++
		default:
			failed++
		}
	}

	// Phase, as the kubelet's getPhase derives it from the containers.
	switch {
	case !initialized || waiting > 0:
		st.Phase = corev1.PodPending
	case running > 0:
		st.Phase = corev1.PodRunning
	case failed > 0:
		st.Phase = corev1.PodFailed
	default:
		st.Phase = corev1.PodSucceeded
	}
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed

	var unready []string
	for _, cs := range st.ContainerStatuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	sort.Strings(unready)

	setCondition(&st, corev1.PodReadyToStartContainers, !terminal, "", "", now)
	initReason := ""
	if !initialized {
		initReason = "ContainersNotInitialized"
	}
	setCondition(&st, corev1.PodInitialized, initialized, initReason, "", now)
	switch {
	case terminal:
		setCondition(&st, corev1.ContainersReady, false, "PodCompleted", "", now)
		setCondition(&st, corev1.PodReady, false, "PodCompleted", "", now)
	case len(unready) > 0:
		msg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
		setCondition(&st, corev1.ContainersReady, false, "ContainersNotReady", msg, now)
		setCondition(&st, corev1.PodReady, false, "ContainersNotReady", msg, now)
	default:
		setCondition(&st, corev1.ContainersReady, true, "", "", now)
		// Ready needs every readiness gate's condition True, exactly like the real kubelet.
		if msg := unreadyGates(pod, &st); msg != "" {
			setCondition(&st, corev1.PodReady, false, "ReadinessGatesNotReady", msg, now)
		} else {
			setCondition(&st, corev1.PodReady, true, "", "", now)
		}
	}
	return st, requeue
}

// terminatedStatus is the final status of a pod that is being deleted: its containers were stopped
// (exit 137 after SIGKILL, or 0 for containers that had already completed), and the phase is
// terminal, as the kubelet reports since Kubernetes 1.27 before it removes the pod.
func terminatedStatus(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		return st
	}
	t := metav1.NewTime(now)
	allZero := len(st.ContainerStatuses) > 0
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		if cs.State.Terminated == nil {
			started := t
			if cs.State.Running != nil {
				started = cs.State.Running.StartedAt
			}
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "Error", StartedAt: started, FinishedAt: t, ContainerID: cs.ContainerID,
			}}
			cs.Ready, cs.Started = false, boolPtr(false)
		}
		if cs.State.Terminated.ExitCode != 0 {
			allZero = false
		}
	}
	st.Phase = corev1.PodFailed
	if allZero {
		st.Phase = corev1.PodSucceeded
	}
	setCondition(&st, corev1.PodReadyToStartContainers, false, "", "", t)
	setCondition(&st, corev1.ContainersReady, false, "PodCompleted", "", t)
	setCondition(&st, corev1.PodReady, false, "PodCompleted", "", t)
	return st
}

// containerStatuses returns one status per container of the spec, in spec order, starting from
// the existing ones, and lets play update each.
func containerStatuses(containers []corev1.Container, existing []corev1.ContainerStatus,
	play func(corev1.Container, *corev1.ContainerStatus) time.Duration) []corev1.ContainerStatus {
	if len(containers) == 0 {
		return nil
	}
	byName := make(map[string]corev1.ContainerStatus, len(existing))
	for _, cs := range existing {
		byName[cs.Name] = cs
	}
	out := make([]corev1.ContainerStatus, 0, len(containers))
	for _, c := range containers {
		cs, ok := byName[c.Name]
		if !ok {
			cs = corev1.ContainerStatus{
				Name:    c.Name,
				Image:   c.Image,
				ImageID: "fake://" + c.Image,
				Started: boolPtr(false),
			}
		}
		play(c, &cs)
		out = append(out, cs)
	}
	return out
}

// playContainer moves one app container forward: image failure, start, and the end of its script
// (with a restart when the pod's restartPolicy asks for one).
func playContainer(pod *corev1.Pod, c corev1.Container, cs *corev1.ContainerStatus, now metav1.Time) time.Duration {
	if strings.Contains(c.Image, imagePullFailureMarker) {
		setImagePullFailure(cs, c)
		return 0
	}
	switch {
	case cs.State.Terminated != nil:
		return 0 // finished for good; a restart would have put it back in Running
	case cs.State.Running == nil:
		setRunning(cs, now)
		return 0
	}
	s := parseScript(c.Command, c.Args)
	if !s.terminates || untilExit(pod, cs, now.Time) > 0 {
		return 0
	}
	last := corev1.ContainerStateTerminated{
		ExitCode:    s.exitCode,
		Reason:      "Completed",
		StartedAt:   cs.State.Running.StartedAt,
		FinishedAt:  now,
		ContainerID: cs.ContainerID,
	}
	if s.exitCode != 0 {
		last.Reason = "Error"
	}
	restart := pod.Spec.RestartPolicy == corev1.RestartPolicyAlways ||
		(pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure && s.exitCode != 0)
	if restart {
		cs.LastTerminationState = corev1.ContainerState{Terminated: &last}
		cs.RestartCount++
		cs.State = corev1.ContainerState{}
		setRunning(cs, now)
		return 0
	}
	cs.State = corev1.ContainerState{Terminated: &last}
	cs.Ready, cs.Started = false, boolPtr(false)
	return 0
}

// untilExit is how long a running container still has before its script ends (0: now or never).
func untilExit(pod *corev1.Pod, cs *corev1.ContainerStatus, now time.Time) time.Duration {
	if cs.State.Running == nil {
		return 0
	}
	for _, c := range pod.Spec.Containers {
		if c.Name != cs.Name {
			continue
		}
		s := parseScript(c.Command, c.Args)
		if !s.terminates {
			return 0
		}
		end := cs.State.Running.StartedAt.Add(max(s.runFor, minRunTime))
		if d := end.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func setRunning(cs *corev1.ContainerStatus, now metav1.Time) {
	if cs.State.Running != nil {
		return
	}
	cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	cs.ContainerID = fmt.Sprintf("fake://%s-%d", cs.Name, cs.RestartCount)
	// No probes are played: a running container is ready at once.
	cs.Ready, cs.Started = true, boolPtr(true)
}

func setImagePullFailure(cs *corev1.ContainerStatus, c corev1.Container) {
	cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
		Reason:  "ErrImagePull",
		Message: fmt.Sprintf("failed to pull image %q: not found (testcluster fake kubelet)", c.Image),
	}}
	cs.Ready, cs.Started = false, boolPtr(false)
}

// unreadyGates returns why the readiness gates are not all True ("" if they are), with the
// kubelet's own wording.
func unreadyGates(pod *corev1.Pod, st *corev1.PodStatus) string {
	var msgs []string
	for _, g := range pod.Spec.ReadinessGates {
		c := findCondition(st, g.ConditionType)
		switch {
		case c == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", g.ConditionType))
		case c.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", g.ConditionType, c.Status))
		}
	}
	return strings.Join(msgs, ", ")
}

func findCondition(st *corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition sets a kubelet-owned condition, moving lastTransitionTime only when the status flips.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, status bool, reason, msg string, now metav1.Time) {
	s := corev1.ConditionFalse
	if status {
		s = corev1.ConditionTrue
	}
	if c := findCondition(st, t); c != nil {
		if c.Status != s {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = s, reason, msg
		return
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{
		Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: now,
	})
}

func boolPtr(b bool) *bool { return &b }
