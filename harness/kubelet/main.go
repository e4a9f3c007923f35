// pg-kubelet-harness: the kubelet's own code, as a judge for priorityguard's simulator.
//
// Built by scripts/kubelet-harness from the k8s.io/kubernetes Go module of the same version as
// the test binaries; never committed with upstream code. Reads one JSON document on stdin and
// writes one JSON document on stdout:
//
//	pg-kubelet-harness oom       {"cases":[{"pod":POD,"init":false,"index":0,"memoryCapacity":N}]}
//	                             -> {"values":[ADJ, ...]}
//	pg-kubelet-harness eviction  {"scenarios":[{"pressure":"memory|nodefs|pid","pods":[{"pod":POD,"usage":N}]}]}
//	                             -> {"orders":[{"evicted":["ns/name", ...],"left":["ns/name", ...]}]}
//
// oom calls pkg/kubelet/qos.GetContainerOOMScoreAdjust for the container at `index` of the
// pod's containers (or init containers). eviction builds a real eviction manager
// (pkg/kubelet/eviction.NewManager) with a hard threshold on the scenario's signal, a summary
// provider that always reports the node past that threshold and each pod's `usage` (memory
// working set, container writable layer bytes, or process count), and runs the manager's
// synchronize round again and again, removing the pod it evicted each time, until it evicts
// nothing more: `evicted` is the kubelet's eviction order, `left` the pods it refused to evict.
// Feature gates are the defaults of the Kubernetes version the harness is built from.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/kubernetes/pkg/kubelet/eviction"
	"k8s.io/kubernetes/pkg/kubelet/qos"
	"k8s.io/utils/clock"
)

type oomCase struct {
	Pod            v1.Pod `json:"pod"`
	Init           bool   `json:"init"`
	Index          int    `json:"index"`
	MemoryCapacity int64  `json:"memoryCapacity"`
}

type scenarioPod struct {
	Pod   v1.Pod `json:"pod"`
	Usage uint64 `json:"usage"`
}

type scenario struct {
	Pressure string        `json:"pressure"`
	Pods     []scenarioPod `json:"pods"`
}

type order struct {
	Evicted []string `json:"evicted"`
	Left    []string `json:"left"`
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: pg-kubelet-harness oom|eviction < input.json")
	}
	dec := json.NewDecoder(os.Stdin)
	dec.DisallowUnknownFields()
	var out any
	switch os.Args[1] {
	case "oom":
		var in struct {
			Cases []oomCase `json:"cases"`
		}
		if err := dec.Decode(&in); err != nil {
			fail("oom input: %v", err)
		}
		values := make([]int, len(in.Cases))
		for i := range in.Cases {
			c := &in.Cases[i]
			list := c.Pod.Spec.Containers
			if c.Init {
				list = c.Pod.Spec.InitContainers
			}
			if c.Index < 0 || c.Index >= len(list) {
				fail("oom case %d: no container %d", i, c.Index)
			}
			values[i] = qos.GetContainerOOMScoreAdjust(&c.Pod, &list[c.Index], c.MemoryCapacity)
		}
		out = map[string][]int{"values": values}
	case "eviction":
		var in struct {
			Scenarios []scenario `json:"scenarios"`
		}
		if err := dec.Decode(&in); err != nil {
			fail("eviction input: %v", err)
		}
		orders := make([]order, len(in.Scenarios))
		for i := range in.Scenarios {
			o, err := evictionOrder(&in.Scenarios[i])
			if err != nil {
				fail("eviction scenario %d: %v", i, err)
			}
			orders[i] = o
		}
		out = map[string][]order{"orders": orders}
	default:
		fail("unknown mode %q (oom or eviction)", os.Args[1])
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("writing output: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pg-kubelet-harness: "+format+"\n", args...)
	os.Exit(2)
}

func key(p *v1.Pod) string { return p.Namespace + "/" + p.Name }

// The node's state: always past the scenario's hard threshold.
const (
	memoryCapacity = 64 << 30
	diskCapacity   = 1 << 40
	maxPID         = 1 << 22
)

// summary is the stats summary provider: the node under pressure, each pod's usage as given.
type summary struct {
	pressure string
	pods     []scenarioPod
	// Calls so far: each summary is stamped one second after the previous one, so the
	// manager always sees fresh stats (it acts only on thresholds whose stats were updated).
	calls int
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *summary) Get(context.Context, bool) (*statsapi.Summary, error) {
	s.calls++
	now := metav1.NewTime(epoch.Add(time.Duration(s.calls) * time.Second))
	zero, memUsed := uint64(0), uint64(memoryCapacity)
	diskCap, diskUsed := uint64(diskCapacity), uint64(diskCapacity)
	maxPID, running := int64(maxPID), int64(maxPID)
	node := statsapi.NodeStats{
		NodeName: "node",
		Memory:   &statsapi.MemoryStats{Time: now, AvailableBytes: &zero, WorkingSetBytes: &memUsed},
		Fs:       &statsapi.FsStats{Time: now, AvailableBytes: &zero, CapacityBytes: &diskCap, UsedBytes: &diskUsed},
		Rlimit:   &statsapi.RlimitStats{Time: now, MaxPID: &maxPID, NumOfRunningProcesses: &running},
	}
	out := &statsapi.Summary{Node: node}
	for i := range s.pods {
		p := &s.pods[i]
		usage := p.Usage
		ps := statsapi.PodStats{
			PodRef:    statsapi.PodReference{Name: p.Pod.Name, Namespace: p.Pod.Namespace, UID: string(p.Pod.UID)},
			StartTime: now,
		}
		zero := uint64(0)
		switch s.pressure {
		case "memory":
			ps.Memory = &statsapi.MemoryStats{Time: now, WorkingSetBytes: &usage}
		case "nodefs":
			// All of the pod's local storage in its first container's writable layer; the
			// other containers' layers and logs are empty.
			for j, c := range p.Pod.Spec.Containers {
				used := zero
				if j == 0 {
					used = usage
				}
				ps.Containers = append(ps.Containers, statsapi.ContainerStats{
					Name:   c.Name,
					Rootfs: &statsapi.FsStats{Time: now, UsedBytes: &used},
					Logs:   &statsapi.FsStats{Time: now, UsedBytes: &zero},
				})
			}
		case "pid":
			ps.ProcessStats = &statsapi.ProcessStats{ProcessCount: &usage}
		}
		out.Pods = append(out.Pods, ps)
	}
	return out, nil
}

func (s *summary) GetCPUAndMemoryStats(ctx context.Context) (*statsapi.Summary, error) {
	return s.Get(ctx, false)
}

// One root filesystem: no dedicated image or container filesystem.
type disks struct{}

func (disks) HasDedicatedImageFs(context.Context) (bool, error)     { return false, nil }
func (disks) HasDedicatedContainerFs(context.Context) (bool, error) { return false, nil }

// Node-level reclaim (image and container garbage collection) frees nothing.
type gc struct{}

func (gc) DeleteUnusedImages(context.Context) error        { return nil }
func (gc) DeleteAllUnusedContainers(context.Context) error { return nil }

var signals = map[string]string{
	"memory": "memory.available",
	"nodefs": "nodefs.available",
	"pid":    "pid.available",
}

// instantClock is the manager's clock: real time, but the pod-cleanup ticker that
// waitForPodsCleanup polls on fires at once and its 30 s timeout never, so each eviction is
// followed by the next housekeeping round without waiting.
type instantClock struct{ clock.RealClock }

type firedTicker struct{ c chan time.Time }

func (t firedTicker) C() <-chan time.Time { return t.c }
func (firedTicker) Stop()                 {}

type idleTimer struct{}

func (idleTimer) C() <-chan time.Time      { return nil }
func (idleTimer) Stop() bool               { return true }
func (idleTimer) Reset(time.Duration) bool { return true }

func (instantClock) NewTicker(time.Duration) clock.Ticker {
	c := make(chan time.Time, 1)
	c <- time.Now()
	return firedTicker{c}
}

func (instantClock) NewTimer(time.Duration) clock.Timer { return idleTimer{} }

// evictionOrder runs the manager's own control loop (Start) and follows it round by round:
// each round begins with a call of podFunc, which the harness answers with the pods still
// active; a round that evicts a pod calls kill; a round that starts without a kill since the
// previous one means the manager found nothing (more) it may evict, and the loop is left
// blocked in podFunc for good.
func evictionOrder(s *scenario) (order, error) {
	signal, ok := signals[s.Pressure]
	if !ok {
		return order{}, fmt.Errorf("unknown pressure %q", s.Pressure)
	}
	thresholds, err := eviction.ParseThresholdConfig(nil, map[string]string{signal: "1%"}, nil, nil, nil)
	if err != nil {
		return order{}, err
	}
	active := make([]*v1.Pod, 0, len(s.Pods))
	for i := range s.Pods {
		p := &s.Pods[i].Pod
		if p.UID == "" {
			p.UID = types.UID(key(p))
		}
		active = append(active, p)
	}
	rounds := make(chan struct{})
	proceed := make(chan []*v1.Pod)
	kills := make(chan *v1.Pod)
	kill := func(pod *v1.Pod, _ bool, _ *int64, _ func(*v1.PodStatus)) error {
		kills <- pod
		return nil
	}
	podFunc := func() []*v1.Pod {
		rounds <- struct{}{}
		return <-proceed
	}
	config := eviction.Config{
		PressureTransitionPeriod: 5 * time.Minute,
		MaxPodGracePeriodSeconds: 30,
		Thresholds:               thresholds,
	}
	provider := &summary{pressure: s.Pressure, pods: s.Pods}
	manager, _ := eviction.NewManager(provider, config, kill, gc{}, gc{}, &record.FakeRecorder{},
		&v1.ObjectReference{Kind: "Node", Name: "node"}, instantClock{}, true)
	ctx := klog.NewContext(context.Background(), logr.Discard())
	cleanedUp := func(*v1.Pod) bool { return true }
	manager.Start(ctx, disks{}, podFunc, cleanedUp, time.Millisecond)
	var o order
	<-rounds
	for {
		// The kubelet hands the manager a fresh slice each round; the manager sorts it in place.
		proceed <- append([]*v1.Pod(nil), active...)
		select {
		case killed := <-kills:
			o.Evicted = append(o.Evicted, key(killed))
			rest := active[:0]
			for _, p := range active {
				if p != killed {
					rest = append(rest, p)
				}
			}
			active = rest
			<-rounds
		case <-rounds:
			for _, p := range active {
				o.Left = append(o.Left, key(p))
			}
			return o, nil
		}
	}
}
