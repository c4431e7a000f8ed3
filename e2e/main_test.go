package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries built once for all tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "assent-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "github.com/assent-auth/assent/cmd/assentd", "github.com/assent-auth/assent/cmd/assent")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	bin = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running assentd.
type server struct {
	t    *testing.T
	data string
	addr string
	url  string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer runs assentd on data, on a free loopback port, and waits
// until it is ready.
func startServer(t *testing.T, data string, extra ...string) *server {
	t.Helper()
	return startServerOn(t, data, freeAddr(t), extra...)
}

// startServerWithConfig writes conf to assent.yaml in dir and runs
// assentd with it on dir/data, as startServer does.
func startServerWithConfig(t *testing.T, dir, conf string) *server {
	t.Helper()
	cfg := filepath.Join(dir, "assent.yaml")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServer(t, filepath.Join(dir, "data"), "-config", cfg)
}

// createUser creates the user email with password pw through the CLI.
func (s *server) createUser(email, pw string) {
	s.t.Helper()
	if out, errOut, code := s.cli(pw+"\n", "user", "create", "--email", email, "--password-stdin"); code != 0 {
		s.t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
}

// startServerOn runs assentd listening on addr with the given extra flags
// and waits until it is ready; stopping it is left to the test's cleanup.
func startServerOn(t *testing.T, data, addr string, extra ...string) *server {
	t.Helper()
	s := &server{t: t, data: data, addr: addr, url: "http://" + addr, log: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(filepath.Join(bin, "assentd"), append([]string{"-addr", addr, "-data", data}, extra...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			t.Fatalf("assentd exited early: %v\n%s", err, s.log.String())
		default:
		}
		if resp, err := http.Get(s.url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("assentd not ready in time\n%s", s.log.String())
	return nil
}

// stop sends SIGTERM and returns the exit error; safe to call twice.
func (s *server) stop() error {
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case err = <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		err = <-s.done
		s.t.Errorf("assentd did not stop on SIGTERM\n%s", s.log.String())
	}
	s.cmd = nil
	return err
}

// cli runs the assent CLI against s and returns stdout, stderr and the
// exit code.
func (s *server) cli(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "assent"), args...)
	cmd.Env = append(os.Environ(), "ASSENT_SERVER="+s.url)
	cmd.Dir = filepath.Dir(s.data) // so ./data/admin.token is the default
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}
