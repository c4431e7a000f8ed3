package loadgen

import (
	"bytes"
	"strings"
	"testing"
)

func TestReportPushStats(t *testing.T) {
	r := &Result{Scenario: "push", Mode: "closed-loop", Concurrency: 8, DurationS: 10, Successes: 100, Throughput: 10,
		Push: &PushStats{Devices: 1000, Active: 50, RSSBeforeMiB: 66, RSSAfterMiB: 102, RSSPerDeviceKiB: 38.8}}
	var text, md bytes.Buffer
	WriteText(&text, r)
	WriteMarkdownRow(&md, r)
	if !strings.Contains(text.String(), "1000 connected (50 taking approvals), server RSS 66 -> 102 MiB: 38.8 KiB per idle device") {
		t.Errorf("text report: %q", text.String())
	}
	if !strings.HasPrefix(md.String(), "| push (1000 devices connected; server RSS 66 -> 102 MiB: 38.8 KiB per idle device) | closed | 8 |") {
		t.Errorf("markdown row: %q", md.String())
	}
	r.Push.RSSPerDeviceKiB, r.Push.RSSBeforeMiB, r.Push.RSSAfterMiB = 0, 0, 0
	text.Reset()
	WriteText(&text, r)
	if !strings.Contains(text.String(), "server memory not sampled") {
		t.Errorf("text report without a pid: %q", text.String())
	}
	if _, err := New("ciba", Target{}); err != nil {
		t.Error(err)
	}
	if s, err := New("push", Target{}); err != nil || s.(*pushScenario).t.Devices != 1000 {
		t.Errorf("push: %v, want 1000 devices by default", err)
	}
}
