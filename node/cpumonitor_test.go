package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs/client"
)

// fakeCPU is a process whose CPU time and wall clock the test moves.
type fakeCPU struct {
	wall time.Time
	cpu  time.Duration
}

func (f *fakeCPU) now() time.Time         { return f.wall }
func (f *fakeCPU) used() time.Duration    { return f.cpu }
func (f *fakeCPU) pass(wall, cpu float64) { f.wall = f.wall.Add(secs(wall)); f.cpu += secs(cpu) }
func secs(s float64) time.Duration        { return time.Duration(s * float64(time.Second)) }

// TestCPUMonitorAverages checks the monitor's numbers against Tahoe's
// CPUUsageMonitor: a sample at the start and one each interval; the N
// minute average is the CPU time over the wall time between the last
// sample and the one N samples before it, reported once there is one; the
// total is the CPU time since the start, whenever asked.
func TestCPUMonitorAverages(t *testing.T) {
	f := &fakeCPU{wall: time.Unix(1_700_000_000, 0), cpu: 5 * time.Second}
	m := newCPUMonitor(f.used, f.now)
	near := func(key string, got map[string]float64, want float64) {
		t.Helper()
		v, ok := got[key]
		if !ok {
			t.Errorf("no %s in %v", key, got)
		} else if math.Abs(v-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", key, v, want)
		}
	}
	absent := func(key string, got map[string]float64) {
		t.Helper()
		if v, ok := got[key]; ok {
			t.Errorf("%s = %v before enough samples", key, v)
		}
	}

	f.pass(10, 2) // between samples: only the total moves
	st := m.stats()
	near("cpu_monitor.total", st, 2)
	absent("cpu_monitor.1min_avg", st)
	if len(st) != 1 {
		t.Errorf("stats %v", st)
	}

	// The first interval (60 s from the start sample): 30 s of CPU.
	f.pass(50, 28)
	m.check()
	st = m.stats()
	near("cpu_monitor.1min_avg", st, 0.5)
	absent("cpu_monitor.5min_avg", st)
	near("cpu_monitor.total", st, 30)

	// Four more intervals at 6 s of CPU a minute: 5 minutes in all.
	for range 4 {
		f.pass(60, 6)
		m.check()
	}
	st = m.stats()
	near("cpu_monitor.1min_avg", st, 0.1)
	near("cpu_monitor.5min_avg", st, (30.0+4*6)/300)
	absent("cpu_monitor.15min_avg", st)

	// Ten more at 12 s: 15 minutes, the first with the start sample.
	for range 10 {
		f.pass(60, 12)
		m.check()
	}
	st = m.stats()
	near("cpu_monitor.1min_avg", st, 0.2)
	near("cpu_monitor.5min_avg", st, 0.2)
	near("cpu_monitor.15min_avg", st, (30.0+4*6+10*12)/900)
	near("cpu_monitor.total", st, 30+4*6+10*12)

	// One more, idle: the start sample drops out of the window.
	f.pass(60, 0)
	m.check()
	st = m.stats()
	near("cpu_monitor.1min_avg", st, 0)
	near("cpu_monitor.15min_avg", st, (4*6+10*12)/900.0)
	if len(m.samples) != cpuHistory+1 {
		t.Errorf("%d samples kept, want %d", len(m.samples), cpuHistory+1)
	}
}

// TestCPUMonitorRuns: a started monitor samples at each tick and stops
// on close; a nil monitor (no CPU time on this system) reports nothing.
func TestCPUMonitorRuns(t *testing.T) {
	f := &fakeCPU{wall: time.Unix(1_700_000_000, 0)}
	var mu sync.Mutex // f is shared with the monitor's goroutine
	m := newCPUMonitor(
		func() time.Duration { mu.Lock(); defer mu.Unlock(); return f.used() },
		func() time.Time { mu.Lock(); defer mu.Unlock(); return f.now() })
	ticks := make(chan time.Time)
	stopped := make(chan struct{})
	m.start(ticks, func() { close(stopped) })
	samples := func() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.samples) }
	for i := range 5 {
		mu.Lock()
		f.pass(60, 3)
		mu.Unlock()
		ticks <- time.Time{}
		for samples() != i+2 {
			time.Sleep(time.Millisecond)
		}
	}
	if v := m.stats()["cpu_monitor.5min_avg"]; math.Abs(v-0.05) > 1e-9 {
		t.Errorf("after 5 ticks: %v", m.stats())
	}
	m.close()
	<-stopped
	m.close()

	var none *cpuMonitor
	if st := none.stats(); len(st) != 0 {
		t.Errorf("a nil monitor reports %v", st)
	}
	none.close()

	if _, ok := processCPUTime(); ok {
		real := startCPUMonitor()
		defer real.close()
		if _, ok := real.stats()["cpu_monitor.total"]; !ok {
			t.Errorf("the process's monitor reports %v", real.stats())
		}
	}
}

// TestStatisticsStorageCountersAndCPU: after an upload and a download
// through it, a storage node's /statistics?t=json holds Tahoe's storage server
// counters and latencies, and the CPU monitor's figures (with a short
// interval, so that the 1 minute average need not take a minute).
func TestStatisticsStorageCountersAndCPU(t *testing.T) {
	if _, ok := processCPUTime(); !ok {
		t.Skip("no CPU time for a process on this system")
	}
	defer func(d time.Duration) { cpuMonitorInterval = d }(cpuMonitorInterval)
	cpuMonitorInterval = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "store")
	if err := Create(dir, CreateOptions{WebPort: "tcp:0:interface=127.0.0.1", Hostname: "127.0.0.1", SharesHappy: 1}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	n, err := Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	// A client of the storage node, closed before it.
	entry, err := ServerEntry(dir)
	if err != nil {
		t.Fatal(err)
	}
	clientDir := filepath.Join(t.TempDir(), "client")
	if err := Create(clientDir, CreateOptions{Kind: KindClient, WebPort: "none", SharesNeeded: 1, SharesHappy: 1, SharesTotal: 2}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, clientDir)
	if err := os.WriteFile(filepath.Join(clientDir, "private", "servers.yaml"), []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := OpenClient(ctx, clientDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	u, err := os.ReadFile(filepath.Join(dir, NodeURLFile))
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(string(u))
	do := func(method, path string, body io.Reader) []byte {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %s %v: %.200s", method, path, resp.Status, err, b)
		}
		return b
	}
	type statistics struct {
		Counters map[string]int64    `json:"counters"`
		Stats    map[string]*float64 `json:"stats"`
	}
	get := func() statistics {
		t.Helper()
		var st statistics
		if err := json.Unmarshal(do(http.MethodGet, "statistics?t=json", nil), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}

	st := get()
	for k := range st.Counters {
		if strings.HasPrefix(k, "storage_server.") && !strings.HasPrefix(k, "storage_server.lease_checker.") &&
			k != "storage_server.corrupt_containers" && k != "storage_server.quarantined_shares" {
			t.Errorf("a fresh node counts %s", k)
		}
	}

	// The first upload waits for the storage node to connect.
	data := strings.Repeat("counted by the storage server\n", 3000)
	up, err := cl.Upload(ctx, strings.NewReader(data), int64(len(data)), client.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := cl.OpenFile(ctx, up.Cap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteRange(ctx, io.Discard, 0, -1); err != nil {
		t.Fatal(err)
	}

	st = get()
	for _, k := range []string{"allocate", "write", "close", "bytes_added", "get", "read"} {
		if st.Counters["storage_server."+k] <= 0 {
			t.Errorf("storage_server.%s = %d after an upload and a download (counters %v)", k, st.Counters["storage_server."+k], st.Counters)
		}
	}
	if st.Counters["storage_server.bytes_added"] < 90_000 {
		t.Errorf("storage_server.bytes_added = %d for a 90 kB file", st.Counters["storage_server.bytes_added"])
	}
	for _, k := range []string{"allocate", "write", "close", "get", "read"} {
		v := st.Stats["storage_server.latencies."+k+".samplesize"]
		if v == nil || int64(*v) != min(st.Counters["storage_server."+k], 1000) {
			t.Errorf("storage_server.latencies.%s.samplesize = %v for %d counted", k, v, st.Counters["storage_server."+k])
		}
		if _, ok := st.Stats["storage_server.latencies."+k+".99_9_percentile"]; !ok {
			t.Errorf("no storage_server.latencies.%s.99_9_percentile", k)
		}
	}
	if v := st.Stats["cpu_monitor.total"]; v == nil || *v < 0 {
		t.Errorf("cpu_monitor.total = %v", v)
	}
	for st.Stats["cpu_monitor.1min_avg"] == nil {
		if ctx.Err() != nil {
			t.Fatalf("no cpu_monitor.1min_avg after two intervals: %v", st.Stats)
		}
		time.Sleep(10 * time.Millisecond)
		st = get()
	}
	if v := *st.Stats["cpu_monitor.1min_avg"]; v < 0 || math.IsNaN(v) {
		t.Errorf("cpu_monitor.1min_avg = %v", v)
	}

	om := string(do(http.MethodGet, "statistics?t=openmetrics", nil))
	for _, line := range []string{"\ntahoe_counters_storage_server_allocate ", "\ntahoe_stats_cpu_monitor_total ",
		"\ntahoe_stats_storage_server_latencies_write_samplesize ", "\ntahoe_stats_storage_server_latencies_close{quantile=\"0.500\"} "} {
		if !strings.Contains(om, line) {
			t.Errorf("no %q in the OpenMetrics statistics:\n%s", line[1:], om)
		}
	}
	if html := string(do(http.MethodGet, "statistics", nil)); !strings.Contains(html, "storage_server.latencies.allocate.samplesize") {
		t.Errorf("the statistics page does not show the storage latencies")
	}
}
