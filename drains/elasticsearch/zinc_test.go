package elasticsearch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests that need a real Elasticsearch-protocol server use the cluster
// at ELASTICSEARCH_URL (http(s)://user:password@host:port) when it is set,
// and otherwise one ZincSearch process per test binary: the binary at
// SLUICE_ZINCSEARCH_BIN, else the one scripts/zincsearch.sh builds into the
// cache (the script is run once if the binary is missing). It listens on a
// free loopback port with a temporary data directory and is stopped by
// TestMain.

// esServer is the real server under test.
type esServer struct {
	url        *url.URL // base URL of the ES API, without user info
	user, pass string
	run        string // unique per test binary run: index names start with it
	zinc       bool
	proc       *zincProc
}

// zincProc is a running ZincSearch.
type zincProc struct {
	cmd     *exec.Cmd
	dir     string
	logPath string
	exited  chan struct{} // closed when cmd.Wait returned
	waitErr error
}

var (
	serverOnce sync.Once
	server     *esServer
	serverErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil && server.proc != nil {
		server.proc.stop()
	}
	os.Exit(code)
}

// realServer returns the shared server, starting it on first use.
func realServer(t testing.TB) *esServer {
	t.Helper()
	if testing.Short() {
		t.Skip("needs an Elasticsearch-protocol server; skipped in -short mode")
	}
	serverOnce.Do(func() { server, serverErr = startServer() })
	if serverErr != nil {
		t.Fatalf("elasticsearch test server: %v", serverErr)
	}
	return server
}

func startServer() (*esServer, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	run := "sluicetest-" + hex.EncodeToString(b[:])
	if raw := os.Getenv("ELASTICSEARCH_URL"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("ELASTICSEARCH_URL: %w", err)
		}
		s := &esServer{run: run}
		if u.User != nil {
			s.user = u.User.Username()
			s.pass, _ = u.User.Password()
		}
		u.User = nil
		u.Path = strings.TrimRight(u.Path, "/")
		s.url = u
		return s, nil
	}
	bin, err := zincBinary()
	if err != nil {
		return nil, err
	}
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	s := &esServer{
		url:  &url.URL{Scheme: "http", Host: addr, Path: "/es"},
		user: "admin", pass: "Sluice#" + hex.EncodeToString(b[:]),
		run: run, zinc: true,
	}
	s.proc, err = startZinc(bin, addr, s.user, s.pass)
	if err != nil {
		return nil, err
	}
	if err := s.waitReady(); err != nil {
		s.proc.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.proc.logTail())
	}
	return s, nil
}

// zincBinary finds or builds the ZincSearch binary.
func zincBinary() (string, error) {
	if bin := os.Getenv("SLUICE_ZINCSEARCH_BIN"); bin != "" {
		return bin, nil
	}
	cache := os.Getenv("SLUICE_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the zincsearch cache: %w", err)
		}
		cache = filepath.Join(home, ".cache", "sluice")
	}
	bin := filepath.Join(cache, "zincsearch", "bin", "zincsearch")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "zincsearch.sh"))
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SLUICE_CACHE="+cache)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build zincsearch with %s: %w\n%s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// zincEnv is the environment ZincSearch runs with here (the bench and the
// README use the same): loopback only, no telemetry or error reporting to
// the internet, one shard per index, no fsync per write.
func zincEnv(addr, dataDir, user, pass string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{
		"ZINC_SERVER_ADDRESS=" + host,
		"ZINC_SERVER_PORT=" + port,
		"ZINC_DATA_PATH=" + dataDir,
		"ZINC_FIRST_ADMIN_USER=" + user,
		"ZINC_FIRST_ADMIN_PASSWORD=" + pass,
		"ZINC_TELEMETRY=false",
		"ZINC_SENTRY=false",
		"ZINC_PROFILER=false",
		"ZINC_SHARD_NUM=1",
		"ZINC_WAL_REDOLOG_NO_SYNC=true",
		"GIN_MODE=release",
	}
}

func startZinc(bin, addr, user, pass string) (*zincProc, error) {
	dir, err := os.MkdirTemp("", "sluice-zinc-")
	if err != nil {
		return nil, err
	}
	p := &zincProc{dir: dir, logPath: filepath.Join(dir, "zinc.log"), exited: make(chan struct{})}
	logf, err := os.Create(p.logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	env = append(env, zincEnv(addr, filepath.Join(dir, "data"), user, pass)...)
	p.cmd = exec.Command(bin)
	p.cmd.Env = env
	p.cmd.Dir = dir // Zinc reads a .env file from its working directory
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { // owned by p: stop waits for it
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	return p, nil
}

// stop ends Zinc (SIGTERM, then SIGKILL after a grace period), waits for
// it and removes its data.
func (p *zincProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	os.RemoveAll(p.dir)
}

func (p *zincProc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "zincsearch log:\n" + string(b)
}

// waitReady polls the server until it answers.
func (s *esServer) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url.String()+"/", nil)
		req.SetBasicAuth(s.user, s.pass)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /: %s", res.Status)
		}
		lastErr = err
		select {
		case <-s.proc.exited:
			if s.proc.waitErr != nil {
				return fmt.Errorf("zincsearch exited: %w", s.proc.waitErr)
			}
			return errors.New("zincsearch exited with status 0")
		case <-ctx.Done():
			return fmt.Errorf("zincsearch at %s not ready: %w", s.url, lastErr)
		case <-tick.C:
		}
	}
}

// config returns a drain config for the server with the given index
// pattern (which should start with s.run) and op.
func (s *esServer) config(index, op string) Config {
	u := *s.url
	return Config{URL: &u, User: s.user, Password: s.pass, Index: index, Op: op}
}

// hit is one search result.
type hit struct {
	Index  string         `json:"_index"`
	ID     string         `json:"_id"`
	Source map[string]any `json:"_source"`
}

// search returns up to size documents of the indexes matching target,
// oldest @timestamp first. A target matching no index gives no hits.
func (s *esServer) search(ctx context.Context, target string, size int) ([]hit, error) {
	body := fmt.Sprintf(`{"query":{"match_all":{}},"size":%d,"sort":[{"@timestamp":{"order":"asc"}}]}`, size)
	q := url.Values{"ignore_unavailable": {"true"}, "allow_no_indices": {"true"}}
	if s.zinc {
		q = nil
	}
	u := s.url.String() + "/" + target + "/_search"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(s.user, s.pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		// Zinc answers a target without an index with an error.
		if s := string(b); strings.Contains(s, "no index found") || strings.Contains(s, "does not exist") || strings.Contains(s, "index_not_found") {
			return nil, nil
		}
		return nil, fmt.Errorf("search %s: %d %s", target, res.StatusCode, b)
	}
	var r struct {
		Hits struct {
			Hits []hit `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("search %s: %w", target, err)
	}
	return r.Hits.Hits, nil
}

// searchUntil polls search until it returns at least want hits.
func (s *esServer) searchUntil(t testing.TB, target string, want int) []hit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		hits, err := s.search(ctx, target, max(want, 100))
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("search: %v", err)
		}
		if len(hits) >= want {
			return hits
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s has %d of %d documents after 30s", target, len(hits), want)
		case <-tick.C:
		}
	}
}
