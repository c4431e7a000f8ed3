package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// pushScenario is the ciba scenario's approval round trip with many more
// app devices connected: Target.Devices channels in all, the ones beyond
// the active users' idle (their users are never asked). It measures what
// the open channels cost the server: its resident memory before and after
// they connect, per device, and the round trip's latency with them open.
type pushScenario struct {
	*cibaScenario
	stats PushStats
}

// PushStats is what the push scenario measured of the connected devices.
type PushStats struct {
	// Devices is the number of channels open during the run: Active
	// devices take approvals, the rest stay idle.
	Devices int `json:"devices"`
	Active  int `json:"active"`
	// RSSBeforeMiB and RSSAfterMiB are the server's resident memory with
	// only the active devices, then with every device connected;
	// RSSPerDeviceKiB the difference per idle device. Zero when the
	// server's process is not known.
	RSSBeforeMiB    float64 `json:"rss_before_mib,omitempty"`
	RSSAfterMiB     float64 `json:"rss_after_mib,omitempty"`
	RSSPerDeviceKiB float64 `json:"rss_per_device_kib,omitempty"`
	// ConnectS is how long connecting the idle devices took, enrollment
	// included.
	ConnectS float64 `json:"connect_s"`
}

func (s *pushScenario) Setup(ctx context.Context, workers int) error {
	if err := s.cibaScenario.Setup(ctx, workers); err != nil {
		return err
	}
	active := len(s.devs)
	quiet := max(s.t.Devices-active, 0)
	s.stats = PushStats{Devices: active + quiet, Active: active}
	before := s.rss()
	start := time.Now()
	hc := &http.Client{Transport: s.t.Transport}
	s.quiet = make([]*benchDevice, 0, quiet)
	sem := make(chan struct{}, max(runtime.GOMAXPROCS(0)*2, 8))
	errs := make(chan error, quiet)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range quiet {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := s.enroll(ctx, s.devCtx, hc, fmt.Sprintf("bench-%s-idle-%d@example.com", s.run, i))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			s.quiet = append(s.quiet, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	s.stats.ConnectS = time.Since(start).Seconds()
	if before > 0 && quiet > 0 {
		time.Sleep(500 * time.Millisecond) // let the server settle
		after := s.rss()
		s.stats.RSSBeforeMiB, s.stats.RSSAfterMiB = before/(1<<20), after/(1<<20)
		s.stats.RSSPerDeviceKiB = (after - before) / 1024 / float64(quiet)
	}
	return nil
}

// rss is the server's resident memory in bytes; 0 when unknown.
func (s *pushScenario) rss() float64 {
	if s.t.PID == 0 {
		return 0
	}
	b, err := procRSS(s.t.PID)
	if err != nil {
		return 0
	}
	return float64(b)
}

func (s *pushScenario) pushStats() *PushStats { st := s.stats; return &st }
