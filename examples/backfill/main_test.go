package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fhirmap/validate"

	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

func TestRunBackfillsDayByDayIdempotently(t *testing.T) {
	// The R5 schema compiles once per process (slow under -race on a busy
	// machine); the bound below is for the program's run.
	require.NoError(t, validate.Ready())
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	srv := fhirtest.NewServer()
	t.Cleanup(srv.Close)
	args := []string{"-days", "3", "-until", "2026-11-20T00:00:00Z", "-fhir", srv.URL, "-requests-per-minute", "60000",
		"-types", "body-weight,blood-pressure,steps"} // the intraday heart rate is slow under -race

	var out bytes.Buffer
	require.NoError(t, run(ctx, args, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	assert.True(t, strings.HasPrefix(lines[0], "[1/3] 2026-11-17: "), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "[2/3] 2026-11-18: "), lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "[3/3] 2026-11-19: "), lines[2])
	assert.Contains(t, lines[3], "0 rejected")
	observations := srv.Count("Observation")
	require.Positive(t, observations)
	assert.Contains(t, lines[3], "done: 3 days, ")

	// A second run over the same days writes the same resources again,
	// never duplicates: ids are deterministic.
	out.Reset()
	require.NoError(t, run(ctx, args, &out))
	assert.Equal(t, observations, srv.Count("Observation"))
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-days", "0"},
		{"-types", "heart-rate,no-such-type"},
		{"-until", "yesterday"},
		{"-requests-per-minute", "0"},
	} {
		var out bytes.Buffer
		assert.Error(t, run(t.Context(), args, &out), args)
	}
}
