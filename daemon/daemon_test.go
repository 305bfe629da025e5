package daemon_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/daemon"
)

// router is a sluiced started in-process on loopback ports.
type router struct {
	t    *testing.T
	d    *daemon.Daemon
	base string // http://127.0.0.1:port
	tcp  string
	udp  string
}

// start runs a daemon with the defaults, loopback ports and env overrides
// ("KEY=VALUE").
func start(t *testing.T, env ...string) *router {
	t.Helper()
	environ := append([]string{
		"PORT=0",
		"HTTP_HOST=127.0.0.1",
		"SYSLOG_TCP_ADDR=127.0.0.1:0",
		"SYSLOG_UDP_ADDR=127.0.0.1:0",
		"SHUTDOWN_TIMEOUT=5s",
	}, env...)
	cfg, err := config.Load(environ)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	specs, err := daemon.ParseDrains(cfg)
	if err != nil {
		t.Fatalf("drains: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	d, err := daemon.New(cfg, specs, log)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := d.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	r := &router{t: t, d: d, base: "http://" + d.HTTPAddr().String()}
	if a := d.SyslogTCPAddr(); a != nil {
		r.tcp = a.String()
	}
	if a := d.SyslogUDPAddr(); a != nil {
		r.udp = a.String()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return r
}

// sendTCP writes data on one new connection and closes it.
func (r *router) sendTCP(data string) {
	r.t.Helper()
	c, err := net.Dial("tcp", r.tcp)
	if err != nil {
		r.t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, data); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

func octet(msgs ...string) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%d %s", len(m), m)
	}
	return b.String()
}

// get does a GET with an optional token and returns status and body.
func (r *router) get(path, token string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *router) post(path, contentType, token string, body []byte, hdr ...string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest("POST", r.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.SetBasicAuth("", token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitLines polls the app's ring until it holds want lines (or fails at
// the deadline) and returns the message parts ("SOURCE[PROC]: MESSAGE").
func (r *router) waitLines(app, query string, want int) []string {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []string
	for {
		code, body := r.get("/apps/"+app+"/logs?num=100000"+query, "")
		if code != 200 {
			r.t.Fatalf("GET logs: %d %s", code, body)
		}
		got = stripTimes(body)
		if len(got) >= want {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("app %s: got %d lines, want %d:\n%s", app, len(got), want, strings.Join(got, "\n"))
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

// stripTimes drops the timestamp of every tail line, checking it is RFC
// 3339 with microseconds.
func stripTimes(body string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if l == "" {
			continue
		}
		ts, rest, _ := strings.Cut(l, " ")
		if _, err := time.Parse("2006-01-02T15:04:05.000000-07:00", ts); err != nil {
			out = append(out, "BADTIME "+l)
			continue
		}
		out = append(out, rest)
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines differ\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestSyslogTCPFramingsAndFormats(t *testing.T) {
	r := start(t)
	// Octet counting, RFC 5424, with an LF after each frame as many senders do.
	r.sendTCP(octet(
		"<190>1 2026-11-25T10:00:00.000001Z host web web.1 - - first\n",
		"<190>1 2026-11-25T10:00:00.000002Z host web web.2 - [ex@1 a=\"b\"] second",
	) + "\n" + octet("<190>1 2026-11-25T10:00:00.000003Z host web worker.1 - - third"))
	r.waitLines("web", "", 3) // connections are not ordered with each other
	// LF framing, RFC 3164.
	r.sendTCP("<34>Nov 25 10:00:04 host web[router]: fourth\n<34>Nov 25 10:00:05 host web: fifth\n")
	r.waitLines("web", "", 5)
	// LF framing, RFC 5424 without a timestamp.
	r.sendTCP("<190>1 - host web web.3 - - sixth\n")
	equal(t, r.waitLines("web", "", 6), []string{
		"app[web.1]: first", "app[web.2]: second", "app[worker.1]: third",
		"app[router]: fourth", "app: fifth", "app[web.3]: sixth",
	})
}

func TestSyslogUDP(t *testing.T) {
	r := start(t)
	c, err := net.Dial("udp", r.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// UDP may drop datagrams under load; send each one until it shows up.
	for i, m := range []string{
		"<190>1 2026-11-25T10:00:00Z host api api.1 - - over udp 5424\n",
		"<14>Nov 25 10:00:01 host api[7]: over udp 3164",
	} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := c.Write([]byte(m)); err != nil {
				t.Fatal(err)
			}
			_, body := r.get("/apps/api/logs", "")
			if len(stripTimes(body)) > i {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("datagram %d never arrived", i)
			}
			time.Sleep(200 * time.Millisecond) // resend interval for a lost datagram
		}
	}
	// A datagram re-sent while the first copy was on its way shows twice.
	var got []string
	for _, l := range r.waitLines("api", "", 2) {
		if len(got) == 0 || got[len(got)-1] != l {
			got = append(got, l)
		}
	}
	equal(t, got, []string{"app[api.1]: over udp 5424", "app[7]: over udp 3164"})
}

func TestHTTPFormats(t *testing.T) {
	r := start(t)
	frames := octet("<190>1 2026-11-25T10:00:00Z host h1 web.1 - - logplex one",
		"<190>1 2026-11-25T10:00:01Z host h1 web.2 - - logplex two")
	if code, body := r.post("/logs", "application/logplex-1", "", []byte(frames), "Logplex-Msg-Count", "2"); code != 204 {
		t.Fatalf("logplex: %d %s", code, body)
	}
	nd := `{"app":"h1","msg":"ndjson one","proc":"worker.1","time":"2026-11-25T10:00:02Z"}` + "\n" +
		`{"app":"h1","msg":"ndjson two","source":"router"}` + "\n"
	if code, body := r.post("/logs", "application/x-ndjson", "", []byte(nd)); code != 204 {
		t.Fatalf("ndjson: %d %s", code, body)
	}
	if code, body := r.post("/logs?app=h1&proc=run.1", "text/plain", "", []byte("text one\r\ntext two\n")); code != 204 {
		t.Fatalf("text: %d %s", code, body)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("gzip one\n"))
	zw.Close()
	if code, body := r.post("/logs?app=h1", "text/plain", "", gz.Bytes(), "Content-Encoding", "gzip"); code != 204 {
		t.Fatalf("gzip: %d %s", code, body)
	}
	equal(t, r.waitLines("h1", "", 7), []string{
		"app[web.1]: logplex one", "app[web.2]: logplex two",
		"app[worker.1]: ndjson one", "router: ndjson two",
		"app[run.1]: text one", "app[run.1]: text two",
		"app: gzip one",
	})
	// Filters search the whole ring.
	equal(t, r.waitLines("h1", "&ps=web", 2), []string{"app[web.1]: logplex one", "app[web.2]: logplex two"})
	equal(t, r.waitLines("h1", "&source=router", 1), []string{"router: ndjson two"})
	code, body := r.get("/apps/h1/logs?num=1&ps=web", "")
	if code != 200 || len(stripTimes(body)) != 1 || stripTimes(body)[0] != "app[web.2]: logplex two" {
		t.Fatalf("num=1&ps=web: %d %q", code, body)
	}
}

func TestOrderAcrossConcurrentConnections(t *testing.T) {
	r := start(t, "BUFFER_LINES=10000")
	const conns, per = 4, 2000
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", r.tcp)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			w := bufio.NewWriter(conn)
			for i := 0; i < per; i++ {
				app := []string{"oa", "ob"}[i%2]
				m := fmt.Sprintf("<190>1 2026-11-25T10:00:00Z h %s c%d - - %d", app, c, i)
				fmt.Fprintf(w, "%d %s", len(m), m)
			}
			w.Flush()
		}()
	}
	wg.Wait()
	for _, app := range []string{"oa", "ob"} {
		lines := r.waitLines(app, "", conns*per/2)
		last := map[string]int{}
		for _, l := range lines {
			var c string
			var i int
			if _, err := fmt.Sscanf(l, "app[%2s]: %d", &c, &i); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if prev, ok := last[c]; ok && i <= prev {
				t.Fatalf("app %s conn %s: %d after %d", app, c, i, prev)
			}
			last[c] = i
		}
		if len(last) != conns {
			t.Fatalf("app %s: lines from %d connections, want %d", app, len(last), conns)
		}
	}
}

func TestRingBounds(t *testing.T) {
	t.Run("lines", func(t *testing.T) {
		r := start(t, "BUFFER_LINES=5")
		var msgs []string
		for i := 0; i < 12; i++ {
			msgs = append(msgs, fmt.Sprintf("<190>1 - h rl p - - line %02d", i))
		}
		r.sendTCP(octet(msgs...))
		// wait for the last line, then the ring holds exactly the last 5.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, body := r.get("/apps/rl/logs?num=100", "")
			got := stripTimes(body)
			if len(got) > 0 && got[len(got)-1] == "app[p]: line 11" {
				equal(t, got, []string{"app[p]: line 07", "app[p]: line 08", "app[p]: line 09", "app[p]: line 10", "app[p]: line 11"})
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("never saw the last line: %q", got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		r := start(t, "BUFFER_BYTES=2KiB")
		var msgs []string
		text := strings.Repeat("x", 200)
		for i := 0; i < 50; i++ {
			msgs = append(msgs, fmt.Sprintf("<190>1 - h rb p - - %02d %s", i, text))
		}
		r.sendTCP(octet(msgs...))
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, body := r.get("/apps/rb/logs?num=1000", "")
			got := stripTimes(body)
			if len(got) > 0 && strings.HasPrefix(got[len(got)-1], "app[p]: 49 ") {
				if len(body) > 2048 || len(got) < 5 {
					t.Fatalf("ring holds %d lines, %d bytes; want at most 2 KiB and some lines", len(got), len(body))
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("never saw the last line")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestTokens(t *testing.T) {
	r := start(t, "TOKENS=t.web=web,t.router=web:router,t.api=api", "ADMIN_TOKEN=t.admin")
	// HTTP: a token writes its own app only.
	if code, _ := r.post("/logs?app=web", "text/plain", "t.web", []byte("mine\n")); code != 204 {
		t.Fatalf("own app: %d", code)
	}
	if code, _ := r.post("/logs?app=web", "text/plain", "t.router", []byte("from router\n")); code != 204 {
		t.Fatalf("router source: %d", code)
	}
	if code, _ := r.post("/logs?app=web", "text/plain", "t.api", []byte("intruder\n")); code != 403 {
		t.Fatalf("cross-app write: %d, want 403", code)
	}
	if code, _ := r.post("/logs?app=web", "text/plain", "", []byte("anon\n")); code != 401 {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code, _ := r.post("/logs?app=web", "text/plain", "t.nope", []byte("anon\n")); code != 401 {
		t.Fatalf("unknown token: %d, want 401", code)
	}
	// Syslog: APP-NAME carries the token; unknown tokens are dropped and counted.
	r.sendTCP(octet("<190>1 - h t.web web.1 - - via syslog", "<190>1 - h t.bogus web.1 - - dropped", "<190>1 - h t.api api.1 - - api line"))
	// Reads.
	waitFor(t, func() bool {
		code, body := r.get("/apps/web/logs", "t.web")
		return code == 200 && len(stripTimes(body)) == 3
	})
	_, body := r.get("/apps/web/logs", "t.web")
	equal(t, stripTimes(body), []string{"app: mine", "router: from router", "app[web.1]: via syslog"})
	if code, _ := r.get("/apps/web/logs", "t.api"); code != 403 {
		t.Fatalf("cross-app read: %d, want 403", code)
	}
	if code, _ := r.get("/apps/web/logs", ""); code != 401 {
		t.Fatalf("anonymous read: %d, want 401", code)
	}
	if code, body := r.get("/apps/api/logs", "t.admin"); code != 200 || len(stripTimes(body)) != 1 {
		t.Fatalf("admin read: %d %q", code, body)
	}
	waitFor(t, func() bool {
		return metric(t, r, `sluice_ingest_rejected_total{reason="unknown_token",transport="syslog_tcp"}`) == 1
	})
}

func TestBadInput(t *testing.T) {
	r := start(t, "MAX_MESSAGE_BYTES=1KiB", "MAX_BODY_BYTES=64KiB", "SYSLOG_IDLE_TIMEOUT=200ms")
	// A connection that sends nothing is closed and counted, and costs
	// nobody else anything.
	idle, err := net.Dial("tcp", r.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// Garbage around good messages on one TCP connection.
	long := strings.Repeat("y", 3000)
	r.sendTCP(octet("<190>1 - h bad p - - good 1") +
		"99999999999999999999 nonsense\n" +
		octet("<190>1 - h bad p - - good 2", "not syslog at all", "<190>1 - h bad p - - bad utf8 \xff\xfe", "<190>1 - h bad p - - "+long, "<190>1 - h bad p - - good 3"))
	// Text without a PRI goes to SYSLOG_DEFAULT_APP; bytes that are not
	// UTF-8 are read as Latin-1 (issue 9).
	got := r.waitLines("bad", "", 5)
	if len(got) != 5 || got[0] != "app[p]: good 1" || got[1] != "app[p]: good 2" || got[2] != "app[p]: bad utf8 ÿþ" || got[4] != "app[p]: good 3" {
		t.Fatalf("got %q", got)
	}
	if n := len(got[3]); n > 1024+len("app[p]: ")+1 || !strings.HasPrefix(got[3], "app[p]: yyy") {
		t.Fatalf("truncated line is %d bytes: %.40q", n, got[3])
	}
	if got := r.waitLines("syslog", "", 1); len(got) != 1 || got[0] != "app: not syslog at all" {
		t.Fatalf("default app got %q", got)
	}
	for _, reason := range []string{"bad_octet_count", "default_app", "latin1_converted", "truncated", "idle_timeout"} {
		waitFor(t, func() bool {
			return metric(t, r, `sluice_ingest_rejected_total{reason="`+reason+`",transport="syslog_tcp"}`) >= 1
		})
	}

	// HTTP: each bad body gets a 4xx with a reason.
	var trunc bytes.Buffer
	zw := gzip.NewWriter(&trunc)
	zw.Write(bytes.Repeat([]byte("line\n"), 1000))
	zw.Close()
	var bomb bytes.Buffer
	zw = gzip.NewWriter(&bomb)
	zw.Write(bytes.Repeat([]byte("a"), 1<<20))
	zw.Close()
	cases := []struct {
		name, ctype, path string
		body              []byte
		hdr               []string
		code              int
		reason            string
	}{
		{"empty body", "text/plain", "/logs?app=bad", nil, nil, 400, "empty"},
		{"bad json", "application/x-ndjson", "/logs", []byte("{\"app\":\"bad\",\"msg\":\"ok\"}\n{nope\n"), nil, 400, "line 2"},
		{"msg count", "application/logplex-1", "/logs", []byte(octet("<190>1 - h bad p - - x")), []string{"Logplex-Msg-Count", "3"}, 400, "count"},
		{"bad octets", "application/logplex-1", "/logs", []byte("12 <190>1 - h"), nil, 400, "frame 1"},
		{"truncated gzip", "text/plain", "/logs?app=bad", trunc.Bytes()[:trunc.Len()/2], []string{"Content-Encoding", "gzip"}, 400, "gzip"},
		{"gzip bomb", "text/plain", "/logs?app=bad", bomb.Bytes(), []string{"Content-Encoding", "gzip"}, 413, ""},
		{"media type", "image/png", "/logs", []byte("x"), nil, 415, ""},
		{"no app", "text/plain", "/logs", []byte("x\n"), nil, 400, "app"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := r.post(c.path, c.ctype, "", c.body, c.hdr...)
			if code != c.code || !strings.Contains(strings.ToLower(body), c.reason) {
				t.Fatalf("%d %q, want %d containing %q", code, body, c.code, c.reason)
			}
		})
	}
	// A body over MAX_BODY_BYTES is refused from its Content-Length alone,
	// before it is sent (a client still writing it may instead see the
	// connection close, as with any server that will not read it).
	c, err := net.Dial("tcp", strings.TrimPrefix(r.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /logs?app=bad HTTP/1.1\r\nHost: sluice\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", 80<<10)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 413") {
		t.Fatalf("too large: %q, %v", status, err)
	}

	// The idle connection was closed by the router.
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Fatalf("idle connection still open")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	r := start(t)
	if code, _ := r.get("/healthz", ""); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	r.sendTCP(octet("<190>1 - h m p - - x"))
	r.waitLines("m", "", 1)
	code, body := r.get("/metrics", "")
	if code != 200 {
		t.Fatalf("metrics %d", code)
	}
	for _, want := range []string{`sluice_ingest_messages_total{transport="syslog_tcp"} 1`, "sluice_buffer_apps", "sluice_tail_sessions"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metric returns the value of one exact series from /metrics, -1 if absent.
func metric(t *testing.T, r *router, series string) float64 {
	t.Helper()
	_, body := r.get("/metrics", "")
	for _, l := range strings.Split(body, "\n") {
		if name, val, ok := strings.Cut(l, " "); ok && name == series {
			var f float64
			fmt.Sscanf(val, "%g", &f)
			return f
		}
	}
	return -1
}

// buildBinaries builds sluice and sluiced once per test binary.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sluice-bin")
	if err != nil {
		return "", err
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/sluice", "./cmd/sluiced")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return dir, nil
})

func binaries(t *testing.T) string {
	t.Helper()
	dir, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSluiceLogsBinary(t *testing.T) {
	r := start(t)
	bin := binaries(t)
	r.sendTCP(octet("<190>1 - h cli web.1 - - before one", "<190>1 - h cli worker.1 - - before two"))
	r.waitLines("cli", "", 2)

	sluice := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin+"/sluice", args...)
		cmd.Env = append(os.Environ(), "SLUICE_URL="+r.base)
		return cmd
	}
	out, err := sluice(context.Background(), "logs", "--app", "cli", "--num", "5").Output()
	if err != nil {
		t.Fatalf("sluice logs: %v", err)
	}
	equal(t, stripTimes(string(out)), []string{"app[web.1]: before one", "app[worker.1]: before two"})
	out, err = sluice(context.Background(), "logs", "-a", "cli", "--ps", "worker").Output()
	if err != nil {
		t.Fatalf("sluice logs --ps: %v", err)
	}
	equal(t, stripTimes(string(out)), []string{"app[worker.1]: before two"})

	// --tail prints the backlog, then lines sent after it started.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := sluice(ctx, "logs", "--app", "cli", "--tail", "--num", "1")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var seen []string
	next := func() string {
		if !sc.Scan() {
			t.Fatalf("tail ended: %v (seen %q)", sc.Err(), seen)
		}
		l := stripTimes(sc.Text())[0]
		seen = append(seen, l)
		return l
	}
	if l := next(); l != "app[worker.1]: before two" {
		t.Fatalf("backlog line %q", l)
	}
	r.sendTCP(octet("<190>1 - h cli web.2 - - after one", "<190>1 - h cli web.2 - - after two"))
	if a, b := next(), next(); a != "app[web.2]: after one" || b != "app[web.2]: after two" {
		t.Fatalf("tail lines %q %q", a, b)
	}
}

func init() {
	// Binaries under test talk to the in-process router through SLUICE_URL,
	// which each test sets; make sure no developer's setting leaks in.
	os.Unsetenv("SLUICE_TOKEN")
}

// GET / serves the live tail page to browsers and the plain-text index to
// everyone else; /web/ always serves the page.
func TestIndexAndPage(t *testing.T) {
	r := start(t, "TOKENS=t.web=web")
	cases := []struct {
		path, accept, ctype, body string
	}{
		{"/", "", "text/plain; charset=utf-8", "sluice log router"},
		{"/", "*/*", "text/plain; charset=utf-8", "GET /apps/{app}/logs"},
		{"/", "text/html,application/xhtml+xml,*/*;q=0.8", "text/html; charset=utf-8", "<title>sluice"},
		{"/web/", "", "text/html; charset=utf-8", "<title>sluice"},
		{"/web/static/app.js", "", "text/javascript; charset=utf-8", "EventSource"},
	}
	for _, tc := range cases {
		t.Run(tc.path+" "+tc.accept, func(t *testing.T) {
			req, _ := http.NewRequest("GET", r.base+tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != tc.ctype || !strings.Contains(string(b), tc.body) {
				t.Fatalf("%d %q %.80q", res.StatusCode, res.Header.Get("Content-Type"), b)
			}
			if strings.HasPrefix(tc.ctype, "text/html") && !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
				t.Fatal("the page has no CSP")
			}
		})
	}
	// Before sign-in the page's API shows nothing of any app.
	if code, _ := r.get("/web/apps", ""); code != 401 {
		t.Fatalf("/web/apps before sign-in: %d", code)
	}
	if code, _ := r.get("/web/stream?app=web", ""); code != 401 {
		t.Fatalf("/web/stream before sign-in: %d", code)
	}
}
