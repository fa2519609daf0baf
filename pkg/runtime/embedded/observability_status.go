package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/server/metrics"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// monitoringStatus reads the running tenant's admin listener: /ready and
// /metrics, parsed as Prometheus parses it. Nil when the tenant is not
// running or has no monitoring port.
func monitoringStatus(ctx context.Context, t *tenant.Tenant, running bool) *runtime.Monitoring {
	url := t.Config.Monitoring.URL()
	if !running || url == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	client := &http.Client{}
	m := &runtime.Monitoring{URL: url}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/ready", nil)
	resp, err := client.Do(req)
	if err != nil {
		m.Error = fmt.Sprintf("read %s/ready: %v", url, err)
		return m
	}
	var ready metrics.Readiness
	err = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if err != nil {
		m.Error = fmt.Sprintf("read %s/ready: %v", url, err)
		return m
	}
	m.Ready = ready.Ready
	for _, c := range ready.Checks {
		m.Checks = append(m.Checks, runtime.Check(c))
	}
	sc, err := metrics.Fetch(ctx, client, url+"/metrics")
	if err != nil {
		m.Error = err.Error()
		return m
	}
	for _, s := range sc.Samples() {
		m.Metrics = append(m.Metrics, runtime.Sample(s))
	}
	return m
}
