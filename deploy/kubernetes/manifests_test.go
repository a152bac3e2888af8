// Package kubernetes checks the manifests beside it: every document decodes strictly into the
// upstream Kubernetes API types (an unknown or misspelt field is an error, as the API server
// would reject or silently drop it), and the pod keeps the invariants the README promises.
// Its own module, so the Go client does not depend on k8s.io.
package kubernetes

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifests holds every decoded document of every *.yaml file here.
type manifests struct {
	deployments []appsv1.Deployment
	hpas        []autoscalingv2.HorizontalPodAutoscaler
	configMaps  []corev1.ConfigMap
}

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests here: %v", err)
	}
	var m manifests
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var meta metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			strict := func(into any) {
				if err := yaml.UnmarshalStrict(doc, into); err != nil {
					t.Fatalf("%s document %d (%s): %v", file, i, meta.Kind, err)
				}
			}
			switch meta.APIVersion + " " + meta.Kind {
			case "apps/v1 Deployment":
				var d appsv1.Deployment
				strict(&d)
				m.deployments = append(m.deployments, d)
			case "autoscaling/v2 HorizontalPodAutoscaler":
				var h autoscalingv2.HorizontalPodAutoscaler
				strict(&h)
				m.hpas = append(m.hpas, h)
			case "v1 ConfigMap":
				var c corev1.ConfigMap
				strict(&c)
				m.configMaps = append(m.configMaps, c)
			default:
				t.Fatalf("%s document %d: unexpected %s %s", file, i, meta.APIVersion, meta.Kind)
			}
		}
	}
	return m
}

func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 1, replicaz: 2}\n")
	if err := yaml.UnmarshalStrict(bad, &appsv1.Deployment{}); err == nil {
		t.Fatal("a misspelt field decoded without error: the strict decoder is not strict")
	}
}

func TestWorkerPodRunsFerrydAsANativeSidecar(t *testing.T) {
	m := load(t)
	if len(m.deployments) != 1 {
		t.Fatalf("want one Deployment, have %d", len(m.deployments))
	}
	d := m.deployments[0]
	pod := d.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "ferryd" {
		t.Fatalf("want exactly the ferryd init container, have %v", names(pod.InitContainers))
	}
	ferryd := pod.InitContainers[0]
	if ferryd.RestartPolicy == nil || *ferryd.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("ferryd must be a native sidecar: restartPolicy: Always")
	}
	if len(pod.Containers) == 0 {
		t.Fatal("no worker container")
	}

	// The socket: one emptyDir mounted by ferryd and every worker at the directory of the
	// socket path ferryd is given.
	socket := envValue(ferryd, "FERRYD_SOCKET")
	if socket == "" {
		t.Fatal("ferryd has no FERRYD_SOCKET")
	}
	vol := volumeMountedAt(t, pod, ferryd, filepath.Dir(socket))
	if v := volume(pod, vol); v == nil || v.EmptyDir == nil {
		t.Fatalf("the socket directory is not an emptyDir: %+v", v)
	}
	for _, c := range pod.Containers {
		if volumeMountedAt(t, pod, c, filepath.Dir(socket)) != vol {
			t.Errorf("container %s does not share ferryd's socket volume %s", c.Name, vol)
		}
		if !slices.Contains(c.Args, socket) && envValue(c, "FERRY_SOCKET") != socket {
			t.Errorf("container %s is not pointed at %s", c.Name, socket)
		}
	}

	// Probes: all three, each running `ferryd health`.
	for name, probe := range map[string]*corev1.Probe{
		"startup": ferryd.StartupProbe, "readiness": ferryd.ReadinessProbe, "liveness": ferryd.LivenessProbe,
	} {
		if probe == nil || probe.Exec == nil || len(probe.Exec.Command) < 2 ||
			probe.Exec.Command[0] != "ferryd" || probe.Exec.Command[1] != "health" {
			t.Errorf("%s probe must exec `ferryd health`: %+v", name, probe)
		}
	}

	// Resources on every container; ferryd's memory budget is derived from its own limit.
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
			if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
				t.Errorf("container %s: %s request %s and limit %s must be set, request <= limit", c.Name, r, req.String(), lim.String())
			}
		}
	}
	budgetFromLimit := false
	for _, e := range ferryd.Env {
		ref := e.ValueFrom
		if ref == nil || ref.ResourceFieldRef == nil {
			continue
		}
		if ref.ResourceFieldRef.Resource == "limits.memory" && ref.ResourceFieldRef.ContainerName == "ferryd" {
			ref := ref.ResourceFieldRef
			if !slices.ContainsFunc(ferryd.Args, func(a string) bool {
				return strings.HasPrefix(a, "--memory-budget=") && strings.Contains(a, "$("+e.Name+")")
			}) {
				t.Errorf("%s (from limits.memory) is not passed to --memory-budget", e.Name)
			}
			// The budget is half the limit: the divisor is 2Mi and the flag's unit MiB.
			if ref.Divisor.Cmp(resource.MustParse("2Mi")) != 0 {
				t.Errorf("divisor %s: want 2Mi (half the limit, in MiB)", ref.Divisor.String())
			}
			budgetFromLimit = true
		}
	}
	if !budgetFromLimit {
		t.Error("ferryd's memory budget is not derived from its memory limit")
	}

	// Security: non-root, seccomp RuntimeDefault; per container no escalation, read-only root,
	// no capabilities.
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Error("pod must run as a non-root user")
	}
	if sc == nil || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod must use seccomp RuntimeDefault")
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		s := c.SecurityContext
		if s == nil || s.AllowPrivilegeEscalation == nil || *s.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation must be false", c.Name)
		}
		if s == nil || s.ReadOnlyRootFilesystem == nil || !*s.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
		}
		if s == nil || s.Capabilities == nil || !slices.Contains(s.Capabilities.Drop, "ALL") || len(s.Capabilities.Add) > 0 {
			t.Errorf("container %s: must drop ALL capabilities and add none", c.Name)
		}
	}

	// Metrics: the scrape annotations name ferryd's metrics port, which it listens on.
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations missing: %v", ann)
	}
	port := ann["prometheus.io/port"]
	if !slices.ContainsFunc(ferryd.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" && itoa(p.ContainerPort) == port }) {
		t.Errorf("prometheus.io/port %q is not ferryd's metrics port %v", port, ferryd.Ports)
	}
	if !slices.ContainsFunc(ferryd.Args, func(a string) bool { return strings.HasPrefix(a, "--metrics-listen=") && strings.HasSuffix(a, ":"+port) }) {
		t.Errorf("ferryd does not listen for metrics on port %s: %v", port, ferryd.Args)
	}

	// The config file comes from a ConfigMap mounted read-only where --config points.
	for _, c := range m.configMaps {
		if _, ok := c.Data["ferryd.toml"]; !ok {
			t.Errorf("ConfigMap %s has no ferryd.toml", c.Name)
		}
	}
}

func TestWorkerScalesWithAnHPA(t *testing.T) {
	m := load(t)
	if len(m.hpas) != 1 {
		t.Fatalf("want one HorizontalPodAutoscaler, have %d", len(m.hpas))
	}
	h, d := m.hpas[0], m.deployments[0]
	ref := h.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Name {
		t.Errorf("HPA targets %+v, not Deployment %s", ref, d.Name)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
		t.Errorf("want 2 <= minReplicas <= maxReplicas, have %v..%d", h.Spec.MinReplicas, h.Spec.MaxReplicas)
	}
	if len(h.Spec.Metrics) == 0 {
		t.Fatal("HPA has no metric")
	}
	for _, metric := range h.Spec.Metrics {
		if cr := metric.ContainerResource; cr != nil && !slices.ContainsFunc(d.Spec.Template.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == cr.Container }) &&
			!slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == cr.Container }) {
			t.Errorf("HPA metric names container %s, which the pod does not have", cr.Container)
		}
	}
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func volume(pod corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

func volumeMountedAt(t *testing.T, pod corev1.PodSpec, c corev1.Container, dir string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.MountPath == dir {
			return m.Name
		}
	}
	t.Errorf("container %s mounts nothing at %s", c.Name, dir)
	return ""
}

func itoa(n int32) string {
	return strconv.Itoa(int(n))
}

