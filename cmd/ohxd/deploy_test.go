package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// k8sObject is the part of a Kubernetes object the checks read.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		ServiceSelector map[string]string `yaml:"-"`
		Template        struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []struct {
					Args    []string `yaml:"args"`
					EnvFrom []struct {
						ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
						SecretRef    *struct{ Name string } `yaml:"secretRef"`
					} `yaml:"envFrom"`
					LivenessProbe  probe `yaml:"livenessProbe"`
					ReadinessProbe probe `yaml:"readinessProbe"`
					Resources      struct {
						Requests map[string]string `yaml:"requests"`
						Limits   map[string]string `yaml:"limits"`
					} `yaml:"resources"`
					SecurityContext struct {
						ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
						AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
					} `yaml:"securityContext"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
	} `yaml:"httpGet"`
}

func readManifests(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob("../../deploy/k8s/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []k8sObject
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var raw map[string]any
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			if raw == nil {
				continue
			}
			b, err := yaml.Marshal(raw)
			require.NoError(t, err)
			var o k8sObject
			require.NoError(t, yaml.Unmarshal(b, &o), f)
			if o.Kind == "Service" {
				var svc struct {
					Spec struct {
						Selector map[string]string `yaml:"selector"`
					} `yaml:"spec"`
				}
				require.NoError(t, yaml.Unmarshal(b, &svc))
				o.Spec.ServiceSelector = svc.Spec.Selector
			}
			require.NotEmpty(t, o.Kind, "%s: a document without kind", f)
			out = append(out, o)
		}
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	objs := readManifests(t)
	known := map[string]bool{}
	for _, e := range envVars {
		known[e.Name] = true
	}
	byKind := map[string][]k8sObject{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	require.Len(t, byKind["ConfigMap"], 1)
	require.Len(t, byKind["Secret"], 1)
	require.Len(t, byKind["Service"], 1)
	require.Len(t, byKind["Deployment"], 2)
	require.Len(t, byKind["PodDisruptionBudget"], 2)

	for _, o := range []k8sObject{byKind["ConfigMap"][0], byKind["Secret"][0]} {
		vars := o.Data
		if o.Kind == "Secret" {
			vars = o.StringData
		}
		for k := range vars {
			assert.True(t, known[k], "%s %s sets %s, which ohxd does not read", o.Kind, o.Metadata.Name, k)
		}
	}
	secret := byKind["Secret"][0].StringData
	for _, k := range []string{"OHX_SECRET_KEYS", "OHX_API_KEYS", "OHX_WITHINGS_CLIENT_SECRET", "OHX_GOOGLE_CLIENT_SECRET", "OHX_DATABASE_URL"} {
		assert.Contains(t, secret, k, "secret")
		assert.NotContains(t, byKind["ConfigMap"][0].Data, k, "a secret in the ConfigMap")
	}

	modes := map[string]string{}
	for _, d := range byKind["Deployment"] {
		spec := d.Spec.Template.Spec
		require.Len(t, spec.Containers, 1, d.Metadata.Name)
		c := spec.Containers[0]
		require.NotEmpty(t, c.Args, d.Metadata.Name)
		assert.Equal(t, "serve", c.Args[0], d.Metadata.Name)
		// The arguments parse: with -h appended, serve stops at the help flag
		// (an unknown flag would be a different error).
		err := run(t.Context(), append(slices.Clone(c.Args), "-h"), io.Discard, io.Discard)
		assert.ErrorIs(t, err, flag.ErrHelp, "%s: args %v", d.Metadata.Name, c.Args)
		modes[strings.Join(c.Args[1:], " ")] = d.Spec.Template.Metadata.Labels["app.kubernetes.io/component"]
		assert.Equal(t, "/livez", c.LivenessProbe.HTTPGet.Path, d.Metadata.Name)
		assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, d.Metadata.Name)
		assert.NotEmpty(t, c.Resources.Requests["cpu"], d.Metadata.Name)
		assert.NotEmpty(t, c.Resources.Requests["memory"], d.Metadata.Name)
		assert.NotEmpty(t, c.Resources.Limits["memory"], d.Metadata.Name)
		require.NotNil(t, spec.SecurityContext.RunAsNonRoot, d.Metadata.Name)
		assert.True(t, *spec.SecurityContext.RunAsNonRoot, d.Metadata.Name)
		require.NotNil(t, c.SecurityContext.ReadOnlyRootFilesystem, d.Metadata.Name)
		assert.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, d.Metadata.Name)
		require.NotNil(t, c.SecurityContext.AllowPrivilegeEscalation, d.Metadata.Name)
		assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation, d.Metadata.Name)
		var refs []string
		for _, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				refs = append(refs, "configmap/"+e.ConfigMapRef.Name)
			}
			if e.SecretRef != nil {
				refs = append(refs, "secret/"+e.SecretRef.Name)
			}
		}
		assert.ElementsMatch(t, []string{"configmap/" + byKind["ConfigMap"][0].Metadata.Name, "secret/" + byKind["Secret"][0].Metadata.Name}, refs, d.Metadata.Name)
		for k, v := range d.Spec.Selector.MatchLabels {
			assert.Equal(t, v, d.Spec.Template.Metadata.Labels[k], "%s: selector does not match its pods", d.Metadata.Name)
		}
	}
	assert.Equal(t, map[string]string{"-api-only": "api", "-worker-only": "worker"}, modes)

	// The Service and each PodDisruptionBudget select pods of exactly one
	// Deployment; the Service the API's.
	selects := func(sel map[string]string) []string {
		var names []string
		for _, d := range byKind["Deployment"] {
			match := len(sel) > 0
			for k, v := range sel {
				match = match && d.Spec.Template.Metadata.Labels[k] == v
			}
			if match {
				names = append(names, d.Spec.Template.Metadata.Labels["app.kubernetes.io/component"])
			}
		}
		return names
	}
	assert.Equal(t, []string{"api"}, selects(byKind["Service"][0].Spec.ServiceSelector))
	var pdbs []string
	for _, p := range byKind["PodDisruptionBudget"] {
		got := selects(p.Spec.Selector.MatchLabels)
		require.Len(t, got, 1, p.Metadata.Name)
		pdbs = append(pdbs, got[0])
	}
	assert.ElementsMatch(t, []string{"api", "worker"}, pdbs)
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	df := string(data)
	for _, want := range []string{
		"FROM golang:1.26 AS build", "CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w -X main.version=${VERSION}"`,
		"./cmd/ohxd", "gcr.io/distroless/static", "USER 65532:65532", "EXPOSE 8080", `ENTRYPOINT ["/ohxd"]`, `CMD ["serve"]`,
	} {
		assert.Contains(t, df, want)
	}
	ignore, err := os.ReadFile("../../.dockerignore")
	require.NoError(t, err)
	for _, line := range strings.Split(string(ignore), "\n") {
		assert.False(t, strings.TrimSpace(line) == "go.mod" || strings.TrimSpace(line) == "go.sum" || strings.TrimSpace(line) == "cmd",
			".dockerignore drops %s, which the build needs", line)
	}
}
