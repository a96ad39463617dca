package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDeploymentFiles keeps the deployment examples in step with the code:
// the variables they set exist, the probes ask the paths the bot serves on
// the port METRICS_ADDR opens, and the image is built statically.
func TestDeploymentFiles(t *testing.T) {
	t.Parallel()

	vars, err := variables()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, v := range vars {
		known[v.Key] = true
	}

	t.Run("kubernetes.yaml", func(t *testing.T) {
		t.Parallel()

		data, err := os.ReadFile("../../deploy/kubernetes.yaml")
		if err != nil {
			t.Fatal(err)
		}
		type probe struct {
			HTTPGet struct {
				Path string `yaml:"path"`
				Port string `yaml:"port"`
			} `yaml:"httpGet"`
		}
		var deployment struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				Strategy struct {
					RollingUpdate struct {
						MaxUnavailable *int `yaml:"maxUnavailable"`
					} `yaml:"rollingUpdate"`
				} `yaml:"strategy"`
				Template struct {
					Spec struct {
						Containers []struct {
							Env []struct {
								Name      string `yaml:"name"`
								Value     string `yaml:"value"`
								ValueFrom *struct {
									SecretKeyRef struct {
										Name string `yaml:"name"`
									} `yaml:"secretKeyRef"`
								} `yaml:"valueFrom"`
							} `yaml:"env"`
							Ports []struct {
								Name          string `yaml:"name"`
								ContainerPort int    `yaml:"containerPort"`
							} `yaml:"ports"`
							Liveness  probe `yaml:"livenessProbe"`
							Readiness probe `yaml:"readinessProbe"`
							Resources struct {
								Requests map[string]string `yaml:"requests"`
							} `yaml:"resources"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if meta, _ := doc["metadata"].(map[string]any); doc["kind"] == "Deployment" && meta["name"] == "visionbot" {
				raw, _ := yaml.Marshal(doc)
				if err := yaml.Unmarshal(raw, &deployment); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The Redis that keeps the channels' settings keeps them on a
		// volume.
		for _, want := range []string{`"--appendonly", "yes"`, "kind: StatefulSet", "volumeClaimTemplates:"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("kubernetes.yaml lacks %s: Redis would lose the channels' settings", want)
			}
		}
		if deployment.Kind != "Deployment" || len(deployment.Spec.Template.Spec.Containers) != 1 {
			t.Fatalf("want one Deployment with one container: %+v", deployment)
		}
		c := deployment.Spec.Template.Spec.Containers[0]
		metricsPort, secrets := "", 0
		for _, e := range c.Env {
			if !known[e.Name] {
				t.Errorf("env %s is no visionbot setting", e.Name)
			}
			if e.ValueFrom != nil {
				secrets++
			}
			if e.Name == "METRICS_ADDR" {
				_, metricsPort, _ = net.SplitHostPort(e.Value)
			}
		}
		if secrets < 4 {
			t.Errorf("%d variables from the Secret, want the two Slack tokens, the Gemini key and REDIS_URL", secrets)
		}
		if u := deployment.Spec.Strategy.RollingUpdate.MaxUnavailable; u == nil || *u != 0 {
			t.Error("a rollout may stop an old replica before a new one is up: nobody to hand requests back to")
		}
		if len(c.Ports) != 1 || metricsPort != strconv.Itoa(c.Ports[0].ContainerPort) {
			t.Fatalf("METRICS_ADDR port %q and container ports %+v differ", metricsPort, c.Ports)
		}
		for name, p := range map[string]probe{"/healthz": c.Liveness, "/readyz": c.Readiness} {
			if p.HTTPGet.Path != name || p.HTTPGet.Port != c.Ports[0].Name {
				t.Errorf("probe %+v, want %s on port %s", p.HTTPGet, name, c.Ports[0].Name)
			}
		}
		if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" {
			t.Errorf("resource requests = %v", c.Resources.Requests)
		}
	})

	t.Run("visionbot.service", func(t *testing.T) {
		t.Parallel()

		data, err := os.ReadFile("../../deploy/visionbot.service")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"EnvironmentFile=", "ExecStart=/usr/local/bin/visionbot run", "NoNewPrivileges=yes", "DynamicUser=yes"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("the unit lacks %s", want)
			}
		}
		// Channels' settings outlive a restart in the unit's state folder.
		for _, want := range []string{"StateDirectory=visionbot", "Environment=SETTINGS_DB=/var/lib/visionbot/"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("the unit lacks %s", want)
			}
		}
		if strings.Contains(string(data), "Environment=SLACK") || strings.Contains(string(data), "Environment=GEMINI") {
			t.Error("the unit holds a secret itself: secrets go in the EnvironmentFile")
		}
	})

	t.Run("Dockerfile", func(t *testing.T) {
		t.Parallel()

		data, err := os.ReadFile("../../Dockerfile")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"FROM golang:1.26 AS build", "CGO_ENABLED=0", "./cmd/visionbot", "distroless/static", "USER nonroot",
			"ENV SETTINGS_DB=/var/lib/visionbot/settings.db", "VOLUME /var/lib/visionbot", "--chown=nonroot:nonroot"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("the Dockerfile lacks %q", want)
			}
		}
	})
}
