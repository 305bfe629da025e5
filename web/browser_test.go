package web_test

// The page in a real browser: Debian's headless Chromium, driven by
// chromedp, against a real sluiced started in-process, lines sent over
// syslog TCP. `make test` installs Chromium (scripts/debian-deps.sh); the
// test skips without it unless CI is set.
//
// SLUICE_SCREENSHOTS=DIR writes the page's screenshots to DIR (the README's
// come from `SLUICE_SCREENSHOTS=$PWD/docs/screenshots go test -run Browser ./web/`).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/config"
	"github.com/sluice-logs/sluice/daemon"
	"github.com/sluice-logs/sluice/internal/eventually"
)

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "chromium-headless-shell", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (make test installs it with scripts/debian-deps.sh chromium)")
	}
	t.Skip("chromium is not installed: run `bash scripts/debian-deps.sh chromium` (CI fails here instead)")
	return ""
}

// sluiced is a daemon started in-process.
type sluiced struct {
	d    *daemon.Daemon
	base string
	tcp  string
}

func startDaemon(t *testing.T, port int, env ...string) *sluiced {
	t.Helper()
	cfg, err := config.Load(append([]string{
		"PORT=" + strconv.Itoa(port), "SYSLOG_TCP_ADDR=127.0.0.1:0", "SYSLOG_UDP_ADDR=", "SHUTDOWN_TIMEOUT=5s",
	}, env...))
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(d.HTTPAddr().String())
	return &sluiced{d: d, base: "http://127.0.0.1:" + p, tcp: d.SyslogTCPAddr().String()}
}

func (s *sluiced) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.d.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// send writes RFC 5424 messages over one syslog TCP connection
// (octet-counted); token is the APP-NAME, as for every syslog sender.
func (s *sluiced) send(t *testing.T, token, proc string, texts ...string) {
	t.Helper()
	c, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	for _, x := range texts {
		m := fmt.Sprintf("<190>1 - host %s %s - - %s", token, proc, x)
		fmt.Fprintf(&b, "%d %s", len(m), m)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
}

// browser is one headless Chromium tab with the flags a closed network
// needs (without them it waits on lookups).
func browser(t *testing.T) (context.Context, *dialogs) {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 720),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	d := &dialogs{}
	go func() {
		for ev, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			d.add(ev.Message)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx, d
}

// dialogs records every alert the page opens: there must be none.
type dialogs struct {
	mu  sync.Mutex
	msg []string
}

func (d *dialogs) add(m string) { d.mu.Lock(); d.msg = append(d.msg, m); d.mu.Unlock() }
func (d *dialogs) check(t *testing.T) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.msg) > 0 {
		t.Fatalf("the page opened dialogs: %q", d.msg)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until expr is true in the page. It asks at most every 25 ms:
// each question runs on the page's main thread, and asking every 2 ms would
// be a load of its own.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	var last time.Time
	eventually.Within(t, 30*time.Second, what, func() bool {
		if time.Since(last) < 25*time.Millisecond {
			return false
		}
		last = time.Now()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		return err == nil && v
	})
}

// shown is the page's drawn lines, without their timestamps.
func shown(t *testing.T, ctx context.Context) []string {
	t.Helper()
	var out []string
	for _, l := range eval[[]string](t, ctx, `sluiceTail.lines()`) {
		if _, rest, ok := strings.Cut(l, " "); ok {
			l = rest
		}
		out = append(out, l)
	}
	return out
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// setInput types v into an input as a person would (select all, type).
func setInput(t *testing.T, ctx context.Context, id, v string) {
	t.Helper()
	eval[bool](t, ctx, fmt.Sprintf(`(() => { const i = document.getElementById(%q); i.value = %q; i.dispatchEvent(new Event('input')); return true })()`, id, v))
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SLUICE_SCREENSHOTS")
	if dir == "" {
		return
	}
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBrowser(t *testing.T) {
	ctx, dlg := browser(t)
	env := []string{"TOKENS=t.web=web,t.api=api", "ADMIN_TOKEN=t.admin", "TAIL_BUFFER=100000"}
	s := startDaemon(t, 0, env...)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.stop(t)
		}
	})
	s.send(t, "t.api", "api.1", "api secret line")
	s.send(t, "t.web", "web.1", "web line before sign-in")

	t.Run("wrong token shows nothing", func(t *testing.T) {
		do(t, ctx,
			chromedp.Navigate(s.base+"/"),
			chromedp.WaitVisible(chromedp.ID("token")),
			chromedp.SendKeys(chromedp.ID("token"), "t.wrong"),
			chromedp.Click(chromedp.CSS("#signin-form button")),
		)
		waitJS(t, ctx, "the page says the token is wrong", `document.getElementById('signin-error').textContent === 'Wrong token.'`)
		if eval[bool](t, ctx, `document.body.innerText.includes('secret') || document.body.innerText.includes('before sign-in') || document.getElementById('app-list').children.length > 0`) {
			t.Fatal("app data visible before sign-in")
		}
		c, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.base + "/web/"}})
		if err != nil || len(c.Cookies) != 0 {
			t.Fatalf("cookies after a wrong token: %v %v", c.Cookies, err)
		}
		if eval[string](t, ctx, `location.href`) != s.base+"/" {
			t.Fatal("the token went into the URL")
		}
		screenshot(t, ctx, "signin.png")
	})

	t.Run("sign in", func(t *testing.T) {
		do(t, ctx,
			chromedp.SendKeys(chromedp.ID("token"), "t.web"),
			chromedp.Click(chromedp.CSS("#signin-form button")),
		)
		waitJS(t, ctx, "the stream is live", `document.getElementById('status').textContent === 'live · web'`)
		waitJS(t, ctx, "the backlog is drawn", `sluiceTail.lines().length === 1`)
		c, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.base + "/web/"}})
		if err != nil || len(c.Cookies) != 1 {
			t.Fatalf("cookies: %v %v", c.Cookies, err)
		}
		ck := c.Cookies[0]
		if !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteStrict || strings.Contains(ck.Value, "t.web") {
			t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, no token", ck)
		}
		if eval[string](t, ctx, `document.cookie`) != "" {
			t.Fatal("the session cookie is readable from script")
		}
		if strings.Contains(eval[string](t, ctx, `location.href`), "t.web") {
			t.Fatal("the token is in the URL")
		}
		if eval[bool](t, ctx, `document.body.innerText.includes('api secret')`) {
			t.Fatal("an app token sees another app")
		}
	})

	t.Run("lines in order, hostile lines as text", func(t *testing.T) {
		var texts, want []string
		want = append(want, "app[web.1]: web line before sign-in")
		for i := range 40 {
			texts = append(texts, fmt.Sprintf("line %02d", i))
		}
		texts = append(texts,
			"<script>alert(1)</script>",
			`<img src=x onerror="alert(2)">`,
			"\x1b[31mred\x1b[0m bell\x07",
		)
		s.send(t, "t.web", "web.1", texts...)
		for _, x := range texts {
			// The router escapes control characters on every read path.
			want = append(want, "app[web.1]: "+string(sluice.AppendDisplay(nil, x)))
		}
		waitJS(t, ctx, "every line drawn", fmt.Sprintf(`sluiceTail.lines().length === %d`, len(want)))
		got := shown(t, ctx)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if n := eval[int](t, ctx, `document.querySelectorAll('#log script, #log img, #log [onerror]').length`); n != 0 {
			t.Fatalf("log text became %d elements", n)
		}
		if !eval[bool](t, ctx, `[...document.querySelectorAll('#log .msg')].some(m => m.textContent === '<script>alert(1)</script>')`) {
			t.Fatal("the script line is not shown as text")
		}
		if !eval[bool](t, ctx, `[...document.querySelectorAll('#log .msg')].some(m => m.textContent === '\\x1b[31mred\\x1b[0m bell\\x07')`) {
			t.Fatal("ESC and BEL are not shown escaped")
		}
		dlg.check(t)
	})

	t.Run("filters", func(t *testing.T) {
		s.send(t, "t.web", "web.2", "from web two")
		s.send(t, "t.web", "worker.1", "from the worker")
		waitJS(t, ctx, "new processes drawn", `sluiceTail.lines().some(l => l.includes('from the worker'))`)
		cases := []struct {
			id, v string
			want  []string // suffixes of every shown line
		}{
			{"f-ps", "worker", []string{"app[worker.1]: from the worker"}},
			{"f-ps", "web.2", []string{"app[web.2]: from web two"}},
			{"f-ps", "we", nil},
			{"f-text", "LINE 3", []string{"app[web.1]: line 30", "app[web.1]: line 31", "app[web.1]: line 32", "app[web.1]: line 33",
				"app[web.1]: line 34", "app[web.1]: line 35", "app[web.1]: line 36", "app[web.1]: line 37", "app[web.1]: line 38", "app[web.1]: line 39"}},
			{"f-source", "router", nil},
		}
		for _, tc := range cases {
			t.Run(tc.id+"="+tc.v, func(t *testing.T) {
				setInput(t, ctx, tc.id, tc.v)
				got := shown(t, ctx)
				setInput(t, ctx, tc.id, "")
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("shown %q, want %q", got, tc.want)
				}
			})
		}
		setInput(t, ctx, "f-ps", "web")
		if n := len(shown(t, ctx)); n != 45 {
			t.Fatalf("ps=web shows %d lines, want 45 (web.1 and web.2)", n)
		}
		if h := eval[string](t, ctx, `location.hash`); h != "#app=web&ps=web" {
			t.Fatalf("permalink %q", h)
		}
		screenshot(t, ctx, "filter.png")
		setInput(t, ctx, "f-ps", "")
	})

	t.Run("pause and resume lose nothing", func(t *testing.T) {
		before := len(shown(t, ctx))
		do(t, ctx, chromedp.Click(chromedp.ID("pause")))
		var texts []string
		for i := range 30 {
			texts = append(texts, fmt.Sprintf("paused %02d", i))
		}
		s.send(t, "t.web", "web.1", texts...)
		waitJS(t, ctx, "the paused counter", `document.getElementById('paused-count').textContent === '30 new while paused'`)
		if n := len(shown(t, ctx)); n != before {
			t.Fatalf("%d lines drawn while paused, want %d", n, before)
		}
		screenshot(t, ctx, "paused.png")
		do(t, ctx, chromedp.Click(chromedp.ID("pause")))
		waitJS(t, ctx, "every paused line drawn", fmt.Sprintf(`sluiceTail.lines().length === %d`, before+30))
		got := shown(t, ctx)[before:]
		for i, l := range got {
			if l != "app[web.1]: "+texts[i] {
				t.Fatalf("line %d after resume: %q", i, l)
			}
		}
	})

	t.Run("copy a line", func(t *testing.T) {
		eval[bool](t, ctx, `(() => { window.copied = null; navigator.clipboard.writeText = (s) => { window.copied = s; return Promise.resolve() }; return true })()`)
		// Hover the last row (its copy button appears), click the button.
		eval[bool](t, ctx, `(() => { const r = document.querySelector('#log .row:last-child'); r.dispatchEvent(new MouseEvent('mouseover', {bubbles: true})); document.querySelector('#log .copy').click(); return true })()`)
		waitJS(t, ctx, "the line copied", `window.copied !== null && window.copied.endsWith('app[web.1]: paused 29')`)
	})

	t.Run("reconnect after a restart", func(t *testing.T) {
		before := len(shown(t, ctx))
		_, port, _ := net.SplitHostPort(s.d.HTTPAddr().String())
		s.stop(t)
		stopped = true
		waitJS(t, ctx, "the page notices", `document.getElementById('status').textContent !== 'live · web'`)
		p, _ := strconv.Atoi(port)
		s = startDaemon(t, p, env...) // same TOKENS: the session cookie still holds
		stopped = false
		waitJS(t, ctx, "the stream is live again", `document.getElementById('status').textContent === 'live · web'`)
		s.send(t, "t.web", "web.1", "after restart 1", "after restart 2")
		waitJS(t, ctx, "new lines drawn", `sluiceTail.lines().some(l => l.endsWith('after restart 2'))`)
		got := shown(t, ctx)
		seen := map[string]bool{}
		for _, l := range got {
			if seen[l] && !strings.HasPrefix(l, "— ") {
				t.Fatalf("line repeated after reconnect: %q", l)
			}
			seen[l] = true
		}
		if len(got) != before+3 { // the reconnect marker and two lines
			t.Fatalf("%d lines after the restart, want %d: %q", len(got), before+3, got[before:])
		}
	})

	t.Run("admin sees every app with sparklines", func(t *testing.T) {
		do(t, ctx, chromedp.Click(chromedp.ID("signout")))
		waitJS(t, ctx, "signed out", `!document.getElementById('signin').hidden && document.getElementById('app-list').children.length === 0`)
		s.send(t, "t.api", "api.1", "api after restart")
		do(t, ctx,
			chromedp.SendKeys(chromedp.ID("token"), "t.admin"),
			chromedp.Click(chromedp.CSS("#signin-form button")),
		)
		waitJS(t, ctx, "both apps listed", `document.getElementById('app-list').children.length === 2`)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // a few seconds of traffic for the sparklines
			defer wg.Done()
			for i := range 8 {
				s.send(t, "t.web", "web.1", strings.Repeat(fmt.Sprintf("burst %d ", i), 3))
				s.send(t, "t.api", "api.1", "api tick")
				time.Sleep(500 * time.Millisecond) // traffic shape for the sparklines, not synchronisation
			}
		}()
		wg.Wait()
		waitJS(t, ctx, "a rate shown", `[...document.querySelectorAll('#app-list .rate')].some(r => r.textContent !== '0.0 lines/s')`)
		do(t, ctx, chromedp.Click(chromedp.CSS("#app-list li:last-child")))
		waitJS(t, ctx, "the web app's stream", `document.getElementById('status').textContent === 'live · web' && sluiceTail.lines().some(l => l.includes('burst 7'))`)
		screenshot(t, ctx, "tail.png")
		dlg.check(t)
	})

	t.Run("5000 lines per second", func(t *testing.T) {
		// The page measures its longest frame while sluiced gets 10,000
		// lines in 2 s; the DOM stays capped.
		eval[bool](t, ctx, `(() => { window.gap = 0; let last = performance.now(); const f = (now) => { window.gap = Math.max(window.gap, now - last); last = now; if (!window.stopGap) requestAnimationFrame(f) }; requestAnimationFrame(f); return true })()`)
		start := time.Now()
		for i := range 20 {
			texts := make([]string, 500)
			for j := range texts {
				texts[j] = fmt.Sprintf("load %d.%03d some text of a typical length for a request log line path=/x status=200", i, j)
			}
			s.send(t, "t.web", "web.1", texts...)
			if d := time.Until(start.Add(time.Duration(i+1) * 100 * time.Millisecond)); d > 0 {
				time.Sleep(d) // pacing the load to 5,000 lines/s
			}
		}
		waitJS(t, ctx, "the last line drawn", `(document.getElementById('log').lastElementChild?.textContent || '').includes('load 19.499')`)
		took := time.Since(start)
		gap := eval[float64](t, ctx, `(() => { window.stopGap = true; return window.gap })()`)
		rows := eval[int](t, ctx, `document.getElementById('log').childElementCount`)
		st := eval[map[string]float64](t, ctx, `sluiceTail.stats()`)
		t.Logf("10,000 lines at 5,000/s: last drawn after %v, longest frame %.0f ms (longest draw %.1f ms, longest batch parse %.1f ms), %d rows in the DOM",
			took.Round(time.Millisecond), gap, st["draw"], st["parse"], rows)
		if rows > 2000 {
			t.Fatalf("%d rows: the DOM cap is 2000", rows)
		}
		// Wall-clock bounds are loose: the test machine is shared, and a
		// starved renderer misses frames whatever the page does.
		if gap > 10_000 || st["draw"] > 2000 {
			t.Fatalf("the page froze: longest frame %.0f ms, longest draw %.0f ms", gap, st["draw"])
		}
	})
}
