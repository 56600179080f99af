package kubelet

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{
			NodeName:      "n",
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers:    containers,
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func env(now time.Time) podEnv {
	return podEnv{now: now, hostIP: "10.0.0.1", podIP: func() string { return "10.244.0.1" }}
}

func condition(st corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	if c := findCondition(&st, t); c != nil {
		return c.Status
	}
	return "missing"
}

// step applies the kubelet's desired status as the API server would store it (timestamps in seconds).
func step(t *testing.T, pod *corev1.Pod, now time.Time) time.Duration {
	t.Helper()
	st, requeue := desiredStatus(pod, env(now))
	pod.Status = st
	return requeue
}

func TestRunningAndReady(t *testing.T) {
	pod := testPod(corev1.Container{Name: "web", Image: "nginx"})
	step(t, pod, time.Now())
	if pod.Status.Phase != corev1.PodRunning || condition(pod.Status, corev1.PodReady) != corev1.ConditionTrue {
		t.Fatalf("want Running and Ready, got %s / %s", pod.Status.Phase, condition(pod.Status, corev1.PodReady))
	}
	if pod.Status.PodIP == "" || pod.Status.StartTime == nil || !pod.Status.ContainerStatuses[0].Ready {
		t.Fatalf("incomplete status: %+v", pod.Status)
	}
	// Stable: a second pass changes nothing, so the kubelet does not write again.
	before := pod.Status.DeepCopy()
	step(t, pod, time.Now().Add(time.Minute))
	if pod.Status.Conditions[0].LastTransitionTime != before.Conditions[0].LastTransitionTime {
		t.Fatalf("condition transition time moved without a change")
	}
}

func TestReadinessGate(t *testing.T) {
	pod := testPod(corev1.Container{Name: "web", Image: "nginx"})
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	step(t, pod, time.Now())
	if condition(pod.Status, corev1.PodReady) != corev1.ConditionFalse || condition(pod.Status, corev1.ContainersReady) != corev1.ConditionTrue {
		t.Fatalf("gate missing: want Ready False and ContainersReady True, got %+v", pod.Status.Conditions)
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: "example.com/gate", Status: corev1.ConditionFalse})
	step(t, pod, time.Now())
	if condition(pod.Status, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("gate False: want Ready False")
	}
	findCondition(&pod.Status, "example.com/gate").Status = corev1.ConditionTrue
	step(t, pod, time.Now())
	if condition(pod.Status, corev1.PodReady) != corev1.ConditionTrue {
		t.Fatalf("gate True: want Ready True, got %+v", pod.Status.Conditions)
	}
	if condition(pod.Status, "example.com/gate") != corev1.ConditionTrue {
		t.Fatalf("the gate's own condition must be left alone")
	}
}

func TestImagePullFailure(t *testing.T) {
	pod := testPod(corev1.Container{Name: "web", Image: "registry.example/does-not-exist:1"})
	for i := range 3 {
		step(t, pod, time.Now().Add(time.Duration(i)*time.Minute))
	}
	cs := pod.Status.ContainerStatuses[0]
	if pod.Status.Phase != corev1.PodPending || cs.State.Waiting == nil || cs.State.Waiting.Reason != "ErrImagePull" {
		t.Fatalf("want Pending with ErrImagePull, got %s %+v", pod.Status.Phase, cs.State)
	}
	if condition(pod.Status, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("want not Ready")
	}
}

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		script string
		policy corev1.RestartPolicy
		phase  corev1.PodPhase
		code   int32
	}{
		{"sleep 2 && exit 1", corev1.RestartPolicyNever, corev1.PodFailed, 1},
		{"sleep 2 && exit 0", corev1.RestartPolicyNever, corev1.PodSucceeded, 0},
		{"exit 0", corev1.RestartPolicyOnFailure, corev1.PodSucceeded, 0},
	} {
		t.Run(c.script, func(t *testing.T) {
			pod := testPod(corev1.Container{Name: "job", Image: "alpine", Command: []string{"sh", "-c", c.script}})
			pod.Spec.RestartPolicy = c.policy
			start := time.Now().Truncate(time.Second)
			step(t, pod, start)
			if pod.Status.Phase != corev1.PodRunning {
				t.Fatalf("want Running first, got %s", pod.Status.Phase)
			}
			requeue := step(t, pod, start.Add(500*time.Millisecond))
			if pod.Status.Phase != corev1.PodRunning || requeue <= 0 {
				t.Fatalf("want still Running with a requeue, got %s, %v", pod.Status.Phase, requeue)
			}
			step(t, pod, start.Add(3*time.Second))
			term := pod.Status.ContainerStatuses[0].State.Terminated
			if pod.Status.Phase != c.phase || term == nil || term.ExitCode != c.code {
				t.Fatalf("want %s with exit %d, got %s %+v", c.phase, c.code, pod.Status.Phase, pod.Status.ContainerStatuses[0].State)
			}
			if condition(pod.Status, corev1.PodReady) != corev1.ConditionFalse {
				t.Fatalf("a finished pod is not Ready")
			}
		})
	}
}

func TestRestartAlways(t *testing.T) {
	pod := testPod(corev1.Container{Name: "crash", Image: "alpine", Command: []string{"sh", "-c", "sleep 1; exit 2"}})
	start := time.Now().Truncate(time.Second)
	step(t, pod, start)
	step(t, pod, start.Add(2*time.Second))
	cs := pod.Status.ContainerStatuses[0]
	if pod.Status.Phase != corev1.PodRunning || cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil ||
		cs.LastTerminationState.Terminated.ExitCode != 2 {
		t.Fatalf("want a restart after exit 2, got %s %+v", pod.Status.Phase, cs)
	}
}

func TestTerminatedStatus(t *testing.T) {
	pod := testPod(corev1.Container{Name: "web", Image: "nginx"})
	step(t, pod, time.Now())
	st := terminatedStatus(pod, time.Now())
	if st.Phase != corev1.PodFailed || st.ContainerStatuses[0].State.Terminated.ExitCode != 137 {
		t.Fatalf("want Failed with exit 137, got %s %+v", st.Phase, st.ContainerStatuses[0].State)
	}
}
