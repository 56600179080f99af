// Package kubelet is the fake kubelet of testcluster: it "runs" the pods bound to the fake nodes by
// writing the pod status a real kubelet would write, so that the real controllers (ReplicaSet,
// Deployment, Job, EndpointSlice, ...) see pods become Running, Ready, Succeeded or Failed.
//
// There is no container runtime. What a container does is read from its spec: see script.go for
// `sleep N` / `exit K`, and status.go for image-pull failures and readiness gates.
package kubelet

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Kubelet plays the pods of a set of fake nodes.
type Kubelet struct {
	client  kubernetes.Interface
	hostIPs map[string]string // node name -> node InternalIP
	pods    corelisters.PodLister
	synced  cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	factory informers.SharedInformerFactory

	ipMu   sync.Mutex
	nextIP netip.Addr
	ipNet  netip.Prefix
}

// New creates a fake kubelet for the given nodes (name -> InternalIP) that hands out pod IPs from
// podCIDR. The addresses are labels only: nothing ever connects to them.
func New(client kubernetes.Interface, hostIPs map[string]string, podCIDR string) (*Kubelet, error) {
	prefix, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return nil, err
	}
	// Watch only pods that are bound to a node: unscheduled pods are the scheduler's business.
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermNotEqualSelector("spec.nodeName", "").String()
		}))
	podInformer := factory.Core().V1().Pods()
	k := &Kubelet{
		client:  client,
		hostIPs: hostIPs,
		pods:    podInformer.Lister(),
		synced:  podInformer.Informer().HasSynced,
		// Per-item backoff only: conflicts are normal (tests and controllers write pods too) and must
		// be retried quickly even when thousands of pods are in flight.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 5*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "fake-kubelet"}),
		factory: factory,
		ipNet:   prefix.Masked(),
		nextIP:  prefix.Masked().Addr().Next(),
	}
	enqueue := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err == nil {
			k.queue.Add(key)
		}
	}
	_, err = podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Run plays pods with the given number of workers until ctx ends.
func (k *Kubelet) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer k.queue.ShutDown()
	k.factory.Start(ctx.Done())
	defer k.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), k.synced) {
		return fmt.Errorf("fake kubelet: pod cache did not sync")
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	k.queue.ShutDown()
	wg.Wait()
	return nil
}

func (k *Kubelet) processNext(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	requeue, err := k.sync(ctx, key)
	switch {
	case err != nil:
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			klog.V(2).InfoS("fake kubelet: retrying pod", "pod", key, "err", err)
		}
		k.queue.AddRateLimited(key)
	default:
		k.queue.Forget(key)
		if requeue > 0 {
			k.queue.AddAfter(key, requeue)
		}
	}
	return true
}

// sync brings one pod's status to what the kubelet would report now. It returns when to look at
// the pod again if it changes by itself (a script that ends later).
func (k *Kubelet) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := k.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	hostIP, ours := k.hostIPs[pod.Spec.NodeName]
	if !ours {
		return 0, nil
	}
	if pod.DeletionTimestamp != nil {
		return 0, k.finishDeletion(ctx, pod)
	}
	status, requeue := desiredStatus(pod, podEnv{now: time.Now(), hostIP: hostIP, podIP: k.allocateIP})
	if apiequality.Semantic.DeepEqual(status, pod.Status) {
		return requeue, nil
	}
	updated := pod.DeepCopy()
	updated.Status = status
	// The update carries the cached resourceVersion: if a test or controller wrote the pod in the
	// meantime we get a conflict and retry from the newer pod instead of overwriting it.
	if _, err := k.client.CoreV1().Pods(ns).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return 0, err
	}
	return requeue, nil
}

// finishDeletion does what a kubelet does for a pod marked for deletion: stop its containers, report
// the terminal status, and remove the pod with grace period 0. Without it pods would stay
// Terminating forever, and neither scale-down nor namespace deletion would finish.
func (k *Kubelet) finishDeletion(ctx context.Context, pod *corev1.Pod) error {
	if pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds == 0 {
		return nil // already removed from the kubelet's point of view; waiting for finalizers
	}
	final := terminatedStatus(pod, time.Now())
	if !apiequality.Semantic.DeepEqual(final, pod.Status) {
		updated := pod.DeepCopy()
		updated.Status = final
		if _, err := k.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	zero := int64(0)
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone already, or a new pod of the same name
	}
	return err
}

// allocateIP hands out the next address of the pod CIDR, wrapping around at its end. Wrapping could
// only reuse an address after ~65k pods, long after the earlier owner is gone in any test.
func (k *Kubelet) allocateIP() string {
	k.ipMu.Lock()
	defer k.ipMu.Unlock()
	ip := k.nextIP
	next := ip.Next()
	if !k.ipNet.Contains(next) || !next.IsValid() {
		next = k.ipNet.Addr().Next()
	}
	k.nextIP = next
	return ip.String()
}
