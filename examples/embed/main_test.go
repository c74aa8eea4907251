package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fhirmap/validate"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
)

func TestRunLinksSyncsAndServesTheServiceRoutes(t *testing.T) {
	// The R5 schema compiles once per process (slow under -race on a busy
	// machine); the bound below is for the program's run.
	require.NoError(t, validate.Ready())
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, nil, &out))
	s := out.String()
	assert.Contains(t, s, "browser landed on /patients/42/linked: Your wearable is connected.")
	assert.Contains(t, s, `GET /patients/42/wearables: {"withings":"active"}`)
	m := regexp.MustCompile(`(?m)^  Observation\s+(\d+)$`).FindStringSubmatch(s)
	require.NotNil(t, m, s)
	n, _ := strconv.Atoi(m[1])
	assert.Positive(t, n)
	assert.Regexp(t, `(?m)^  DeviceAssociation\s+\d+$`, s)
}

func TestInHouseStoreIndexesLinks(t *testing.T) {
	st := &inHouseStore{Store: store.NewMemory(), wearables: map[string]map[string]ohx.LinkStatus{}}
	l := ohx.Link{ID: "l1", Provider: "withings", Patient: "Patient/1", Status: ohx.LinkPending}
	require.NoError(t, st.SaveLink(t.Context(), l))
	l.Status = ohx.LinkActive
	require.NoError(t, st.SaveLink(t.Context(), l))
	assert.Equal(t, map[string]ohx.LinkStatus{"withings": ohx.LinkActive}, st.patientWearables("Patient/1"))
	got, err := st.Link(t.Context(), "l1")
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkActive, got.Status)
}

func TestWorkerPoolRetriesOnlyRetryableFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	q := newWorkerPool(1, 3)
	var transient, permanent atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = q.Run(ctx, ohx.HandlerFunc(func(_ context.Context, j ohx.Job) error {
			if j.LinkID == "transient" {
				if transient.Add(1) < 2 {
					return &ohx.ProviderError{Provider: "p", Op: "o", Kind: ohx.KindTransient}
				}
				return nil
			}
			permanent.Add(1)
			return ohx.ErrPermanent
		}))
	}()
	for _, id := range []string{"transient", "permanent"} {
		_, err := q.Enqueue(ctx, ohx.Job{LinkID: id, Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, waitIdle(ctx, q))
	assert.Equal(t, int32(2), transient.Load(), "a transient failure runs again")
	assert.Equal(t, int32(1), permanent.Load(), "a permanent failure does not")
	cancel()
	<-done

	_, err := q.Enqueue(t.Context(), ohx.Job{Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	assert.Error(t, err, "a job without link is refused")
}
