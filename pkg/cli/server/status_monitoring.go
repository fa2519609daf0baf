package server

import (
	"bytes"
	"context"
	"encoding/json"

	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/runtime"
)

// clearScreen moves the cursor home and clears the terminal, so each
// --watch frame replaces the last.
const clearScreen = "\x1b[H\x1b[2J"

// watchStatus redraws the status every opts.Interval until ctx ends: on a
// terminal a whole screen each time, else (or with --json) one frame
// after another.
func watchStatus(ctx context.Context, opts *StatusOptions, status func(context.Context) (*runtime.Status, error)) error {
	if opts.Interval <= 0 {
		return cmdutil.FlagErrorf("--interval: %s must be positive", opts.Interval)
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for {
		st, err := status(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := drawFrame(opts, st); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func drawFrame(opts *StatusOptions, st *runtime.Status) error {
	w := opts.IO.Out
	if opts.JSON {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var frame bytes.Buffer
	if opts.IO.IsStdoutTTY() {
		frame.WriteString(clearScreen)
	}
	fmt.Fprintf(&frame, "%s  (every %s; Ctrl-C to stop)\n\n", time.Now().Format(time.TimeOnly), opts.Interval)
	if err := printStatus(&frame, st); err != nil {
		return err
	}
	if !opts.IO.IsStdoutTTY() {
		frame.WriteString("\n")
	}
	_, err := w.Write(frame.Bytes())
	return err
}

// printMonitoring writes readiness and a summary of the figures: the ones
// an operator looks at first, by area, as /metrics has them.
func printMonitoring(w io.Writer, m *runtime.Monitoring) {
	if m == nil {
		return
	}
	fmt.Fprintf(w, "\nMonitoring: %s\n", m.URL)
	if m.Error != "" && len(m.Checks) == 0 {
		fmt.Fprintf(w, "Ready:    unknown (%s)\n", m.Error)
		return
	}
	var checks []string
	for _, c := range m.Checks {
		s := c.Name + " ok"
		if !c.OK {
			s = c.Name + ": " + c.Detail
		}
		checks = append(checks, s)
	}
	ready := "no"
	if m.Ready {
		ready = "yes"
	}
	fmt.Fprintf(w, "Ready:    %s (%s)\n", ready, strings.Join(checks, "; "))
	if m.Error != "" {
		fmt.Fprintf(w, "Metrics:  %s\n", m.Error)
		return
	}
	f := figures(m.Metrics)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Requests:\t%s\n", f.byLabel("sfp_http_requests_total", "service", "code"))
	fmt.Fprintf(tw, "REST:\treads %s (shared %s), writes %s, failed %s\n",
		f.get("sfp_rest_transactions_total", "access", "read", "result", "ok"), f.get("sfp_rest_shared_reads_total"),
		f.get("sfp_rest_transactions_total", "access", "write", "result", "ok"), f.get("sfp_rest_transactions_total", "result", "error"))
	fmt.Fprintf(tw, "Pools:\t%s\n", f.pools())
	fmt.Fprintf(tw, "Auth:\t%s\n", f.byLabel("sfp_auth_events_total", "event"))
	fmt.Fprintf(tw, "Realtime:\t%s sockets, %s channels, %s joins, %s sent, %s refused, lag %s B / %ss, slot retains %s B\n",
		f.get("sfp_realtime_sockets"), f.get("sfp_realtime_channels"), f.get("sfp_realtime_joins_total"),
		f.get("sfp_realtime_messages_sent_total"), f.get("sfp_realtime_refusals_total"),
		f.get("sfp_realtime_replication_lag_bytes"), f.get("sfp_realtime_replication_last_lag_seconds"),
		f.get("sfp_realtime_slot_retained_wal_bytes"))
	fmt.Fprintf(tw, "Realtime lag:\t%ss behind (bound %ss), %s changes skipped, %s channel notices\n",
		f.get("sfp_realtime_dispatch_behind_seconds"), f.get("sfp_realtime_max_dispatch_lag_seconds"),
		f.get("sfp_realtime_changes_dropped_total"), f.get("sfp_realtime_lag_notices_total"))
	fmt.Fprintf(tw, "Postgres:\tup %s, restarts %s, schema %s, migrations applied at start %s\n",
		f.get("sfp_postgres_up"), f.get("sfp_postgres_restarts_total"), f.get("sfp_schema_version"), f.get("sfp_migrations_applied_total"))
	tw.Flush()
}

// sampleSet looks figures up by name and labels.
type sampleSet []runtime.Sample

func figures(s []runtime.Sample) sampleSet { return sampleSet(s) }

// sum adds the series of name whose labels include want.
func (s sampleSet) sum(name string, want ...string) (float64, bool) {
	v, found := 0.0, false
	for _, x := range s {
		if x.Name != name || !labelsMatch(x.Labels, want) {
			continue
		}
		v += x.Value
		found = true
	}
	return v, found
}

func labelsMatch(l map[string]string, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if l[want[i]] != want[i+1] {
			return false
		}
	}
	return true
}

func (s sampleSet) get(name string, want ...string) string {
	v, ok := s.sum(name, want...)
	if !ok {
		return "-"
	}
	return formatFigure(v)
}

// byLabel sums name by the values of its labels ("rest-v1 2xx 12"),
// leaving out zeros.
func (s sampleSet) byLabel(name string, labels ...string) string {
	sums := map[string]float64{}
	for _, x := range s {
		if x.Name != name || x.Value == 0 {
			continue
		}
		var key []string
		for _, l := range labels {
			key = append(key, x.Labels[l])
		}
		sums[strings.Join(key, " ")] += x.Value
	}
	if len(sums) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+" "+formatFigure(sums[k]))
	}
	return strings.Join(parts, ", ")
}

// pools says "rest 2/24 in use, 3 idle, 0 waits" for each pool.
func (s sampleSet) pools() string {
	var names []string
	for _, x := range s {
		if x.Name == "sfp_postgres_pool_max_connections" {
			names = append(names, x.Labels["pool"])
		}
	}
	sort.Strings(names)
	var parts []string
	for _, p := range names {
		parts = append(parts, fmt.Sprintf("%s %s/%s in use, %s idle, %s waits", p,
			s.get("sfp_postgres_pool_connections", "pool", p, "state", "in_use"), s.get("sfp_postgres_pool_max_connections", "pool", p),
			s.get("sfp_postgres_pool_connections", "pool", p, "state", "idle"), s.get("sfp_postgres_pool_acquire_waits_total", "pool", p)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// formatFigure prints integers without a fraction and others with three
// significant decimals.
func formatFigure(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3f", v)
}
