package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProcStats is a process's CPU and memory over the measured window, read
// from /proc (Linux only; elsewhere nothing is reported).
type ProcStats struct {
	PID int `json:"pid"`
	// CPUSeconds is user plus system CPU time used in the window;
	// CPUCores is that divided by the window's wall time.
	CPUSeconds float64 `json:"cpu_s"`
	CPUCores   float64 `json:"cpu_cores"`
	// RSSMiB is the resident memory at the end; RSSMaxMiB the largest
	// sample (every 200 ms).
	RSSMiB    float64 `json:"rss_mib"`
	RSSMaxMiB float64 `json:"rss_max_mib"`
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procCPU returns a process's user plus system CPU time; pid 0 is this
// process.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// plain. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed stat")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procRSS returns a process's resident set size in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(procPath(pid, "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS")
}

func procPath(pid int, name string) string {
	if pid == 0 {
		return "/proc/self/" + name
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + name
}

// ListenerPID finds the process listening on the TCP port (on any local
// address) by matching the socket's inode from /proc/net/tcp{,6} with the
// processes' open files. It sees only processes this user may inspect.
func ListenerPID(port int) (int, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(p) != port {
				continue
			}
			inodes["socket:["+fs[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return 0, fmt.Errorf("nothing listens on port %d here", port)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd")
	for _, dir := range procs {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && inodes[l] {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("the process listening on port %d is not visible to this user", port)
}

// sampler measures the server's (pid) and this process's CPU over the
// measured window and the server's resident memory.
type sampler struct {
	pid int

	mu                sync.Mutex
	began             time.Time
	cpu0, self0       time.Duration
	ok                bool
	rssMax, rssLatest int64
}

func newSampler(pid int) *sampler { return &sampler{pid: pid} }

func (s *sampler) begin(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.began = now
	self, err := procCPU(0)
	if err != nil {
		return
	}
	s.self0, s.ok = self, true
	if s.pid != 0 {
		s.cpu0, _ = procCPU(s.pid)
	}
}

func (s *sampler) sampleRSS() {
	if s.pid == 0 {
		return
	}
	rss, err := procRSS(s.pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.rssMax, s.rssLatest = max(s.rssMax, rss), rss
	s.mu.Unlock()
}

func (s *sampler) result(end time.Time) (server, self *ProcStats) {
	s.sampleRSS()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ok {
		return nil, nil
	}
	wall := end.Sub(s.began).Seconds()
	if wall <= 0 {
		return nil, nil
	}
	if c, err := procCPU(0); err == nil {
		d := (c - s.self0).Seconds()
		self = &ProcStats{PID: os.Getpid(), CPUSeconds: d, CPUCores: d / wall}
	}
	if s.pid != 0 {
		if c, err := procCPU(s.pid); err == nil {
			d := (c - s.cpu0).Seconds()
			server = &ProcStats{PID: s.pid, CPUSeconds: d, CPUCores: d / wall,
				RSSMiB: float64(s.rssLatest) / (1 << 20), RSSMaxMiB: float64(s.rssMax) / (1 << 20)}
		}
	}
	return server, self
}
