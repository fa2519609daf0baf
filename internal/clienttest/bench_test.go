package clienttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sfp-dev/sfp/internal/stacktest"
	"github.com/sfp-dev/sfp/pkg/client"
)

// BenchmarkDeploymentProgress measures a worker's progress report through
// the client (Deployments.Report: per-call postgrest-go client, transport,
// typed result) against the same HTTP PATCH sent with a bare net/http
// client through the same gateway, interleaved in chunks so both see the
// same machine load. Reported: ns per report for each and their ratio.
func BenchmarkDeploymentProgress(b *testing.B) {
	ctx := context.Background()
	s := stacktest.Shared()
	tm := newTeam(b)
	env, err := tm.member.Environments.Create(ctx, client.NewEnvironment{ProjectID: tm.project.ID, Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	worker, err := client.New(s.URL, s.ServiceKey)
	if err != nil {
		b.Fatal(err)
	}
	defer worker.Close()
	d1, err := worker.Deployments.Create(ctx, client.NewDeployment{EnvironmentID: env.ID})
	if err != nil {
		b.Fatal(err)
	}
	d2, err := worker.Deployments.Create(ctx, client.NewDeployment{EnvironmentID: env.ID})
	if err != nil {
		b.Fatal(err)
	}
	bare := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	patch := func(p int) error {
		body, _ := json.Marshal(map[string]any{"progress": p, "message": "step"})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, s.URL+"/rest/v1/deployments?id=eq."+d2.ID, bytes.NewReader(body))
		req.Header.Set("apikey", s.ServiceKey)
		req.Header.Set("Authorization", "Bearer "+s.ServiceKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Prefer", "return=representation")
		resp, err := bare.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var rows []client.Deployment
		if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil || resp.StatusCode != 200 || len(rows) != 1 {
			io.Copy(io.Discard, resp.Body)
			return fmt.Errorf("bare patch: %d %v", resp.StatusCode, err)
		}
		return nil
	}
	msg := "step"
	report := func(p int) error {
		_, err := worker.Deployments.Report(ctx, d1.ID, client.Progress{Progress: &p, Message: &msg})
		return err
	}
	for i := range 20 { // warm both paths
		if err := report(i); err != nil {
			b.Fatal(err)
		}
		if err := patch(i); err != nil {
			b.Fatal(err)
		}
	}
	var tClient, tBare time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; {
		chunk := min(10, b.N-i)
		start := time.Now()
		for j := range chunk {
			if err := report((i + j) % 100); err != nil {
				b.Fatal(err)
			}
		}
		tClient += time.Since(start)
		start = time.Now()
		for j := range chunk {
			if err := patch((i + j) % 100); err != nil {
				b.Fatal(err)
			}
		}
		tBare += time.Since(start)
		i += chunk
	}
	b.StopTimer()
	b.ReportMetric(float64(tClient.Nanoseconds())/float64(b.N), "client-ns/report")
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/patch")
	b.ReportMetric(float64(tClient)/float64(tBare), "client/bare")
	b.ReportMetric(0, "ns/op")
}
