package node

import (
	"sync"
	"time"
)

// cpuMonitorInterval is how often the CPU monitor samples the process's
// CPU time: Tahoe's CPUUsageMonitor.POLL_INTERVAL. Tests shorten it.
var cpuMonitorInterval = 60 * time.Second

// cpuHistory is how many intervals the longest average spans (Tahoe's
// HISTORY_LENGTH: 1, 5 and 15 minute averages).
const cpuHistory = 15

// cpuSample is the wall clock and the process's CPU time at one moment.
type cpuSample struct {
	wall time.Time
	cpu  time.Duration
}

// cpuMonitor is Tahoe's CPUUsageMonitor: it samples the CPU time the
// process has used (user and system, every thread) when it starts and
// then every interval, keeping the last cpuHistory+1 samples, and reports
// as cpu_monitor.1min_avg, 5min_avg and 15min_avg the fraction of one CPU
// used over the last 1, 5 and 15 intervals (each once that many
// intervals have passed), and as cpu_monitor.total the CPU seconds used
// since it started.
type cpuMonitor struct {
	cpu func() time.Duration // the process's CPU time
	now func() time.Time

	mu      sync.Mutex
	initial time.Duration
	samples []cpuSample // oldest first

	stop chan struct{}
	done chan struct{}
}

// newCPUMonitor returns a monitor reading the CPU time from cpu and the
// time from now, with its first sample taken; nothing runs until start.
func newCPUMonitor(cpu func() time.Duration, now func() time.Time) *cpuMonitor {
	m := &cpuMonitor{cpu: cpu, now: now, initial: cpu()}
	m.check()
	return m
}

// startCPUMonitor starts a monitor of this process sampling every
// cpuMonitorInterval, or returns nil where the system does not tell a
// process its CPU time (processCPUTime).
func startCPUMonitor() *cpuMonitor {
	if _, ok := processCPUTime(); !ok {
		return nil
	}
	m := newCPUMonitor(func() time.Duration { d, _ := processCPUTime(); return d }, time.Now)
	t := time.NewTicker(cpuMonitorInterval)
	m.start(t.C, t.Stop)
	return m
}

// start samples at every tick until close, then calls stopTicks.
func (m *cpuMonitor) start(ticks <-chan time.Time, stopTicks func()) {
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		defer stopTicks()
		for {
			select {
			case <-m.stop:
				return
			case <-ticks:
				m.check()
			}
		}
	}()
}

// close stops the sampling and waits for it to end. A nil monitor, or
// one never started, is fine.
func (m *cpuMonitor) close() {
	if m == nil || m.stop == nil {
		return
	}
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// check takes a sample (Tahoe's check).
func (m *cpuMonitor) check() {
	s := cpuSample{wall: m.now(), cpu: m.cpu()}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.samples) == cpuHistory+1 {
		m.samples = append(m.samples[:0], m.samples[1:]...)
	}
	m.samples = append(m.samples, s)
}

// stats returns the cpu_monitor.* gauges (Tahoe's get_stats); none for a
// nil monitor.
func (m *cpuMonitor) stats() map[string]float64 {
	out := map[string]float64{}
	if m == nil {
		return out
	}
	now := m.cpu()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range []struct {
		key string
		n   int
	}{{"cpu_monitor.1min_avg", 1}, {"cpu_monitor.5min_avg", 5}, {"cpu_monitor.15min_avg", 15}} {
		if len(m.samples) < a.n+1 {
			continue
		}
		last, first := m.samples[len(m.samples)-1], m.samples[len(m.samples)-1-a.n]
		wall := last.wall.Sub(first.wall).Seconds()
		if wall <= 0 {
			continue
		}
		out[a.key] = (last.cpu - first.cpu).Seconds() / wall
	}
	out["cpu_monitor.total"] = (now - m.initial).Seconds()
	return out
}
