package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// nodeName is the name of the i-th fake node (1-based).
func nodeName(i int) string {
	return fmt.Sprintf("testcluster-node-%d", i)
}

// ensureNode creates (or re-uses) a fake Node and marks it Ready through the status subresource,
// the way a kubelet registers itself. Allocatable is generous so that scale tests with thousands of
// pods fit on one node; there are no taints, and with no node-lifecycle controller running the node
// never needs heartbeats to stay Ready.
func ensureNode(ctx context.Context, client kubernetes.Interface, name, ip string) error {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"kubernetes.io/hostname":           name,
				"kubernetes.io/os":                 "linux",
				"kubernetes.io/arch":               "amd64",
				"node.kubernetes.io/instance-type": "testcluster",
				"type":                             "testcluster",
			},
		},
	}
	got, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		got, err = client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("create node %s: %w", name, err)
	}

	now := metav1.Now()
	// Pods: room for the scale bench's 10,000 one-replica Rollouts and the pods still going
	// away from their last update (at exactly 10,000 the last one was left Unschedulable).
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("1000"),
		corev1.ResourceMemory:           resource.MustParse("1Ti"),
		corev1.ResourcePods:             resource.MustParse("20000"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
	}
	got.Status = corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "testcluster fake kubelet is ready", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", LastHeartbeatTime: now, LastTransitionTime: now},
			{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", LastHeartbeatTime: now, LastTransitionTime: now},
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: ip},
			{Type: corev1.NodeHostName, Address: name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               name,
			SystemUUID:              name,
			BootID:                  name,
			KernelVersion:           "testcluster",
			OSImage:                 "testcluster fake node",
			ContainerRuntimeVersion: "fake://1.0.0",
			KubeletVersion:          "testcluster",
			KubeProxyVersion:        "testcluster",
			OperatingSystem:         "linux",
			Architecture:            "amd64",
		},
	}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("set status of node %s: %w", name, err)
	}
	return nil
}
