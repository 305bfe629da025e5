package open_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-logs/sluice/drains"
	"github.com/sluice-logs/sluice/drains/open"
)

// FuzzParse feeds Parse arbitrary drain URLs: it never panics, a URL it
// accepts builds a Drain without dialing (and closes), and neither its
// error nor Spec.Redacted ever prints the URL's password, user name, the
// path after its first segment, or the value of a credential-like query
// parameter (when that text occurs nowhere else in the URL).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"https://u:pw@logs.example.com/in?apps=web,api&policy=block",
		"http://TOKENTOKEN@127.0.0.1:8080/inputs/TOKENTOKEN/tag?api_key=KEYKEY&public_path=0",
		"kafka://u:pw@b1:9092,b2:9092/logs?batch=100&compression=zstd",
		"elasticsearch://u:pw@es:9200/base/SECRETPATH?index=logs-{app}-{2006.01.02}&op=create",
		"syslog+tls://logs.example.com:6514?drain_token=d.1&insecure=1",
		"udpsyslog://[::1]:514?max_datagram=1024",
		"http://u:pa%20ss@h:bad/%zz",
		"https://h/a%2Fb/c?public_path=1&token=t",
		"HTTP://H:0/?queue=0&batch=-1&flush=1y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		spec, err := open.Parse("fuzz", raw)
		printed := spec.Redacted
		if err != nil {
			printed = err.Error()
		}
		u, perr := url.Parse(strings.TrimSpace(raw))
		if perr == nil {
			var secrets []string
			if u.User != nil {
				secrets = append(secrets, u.User.Username())
				if pw, ok := u.User.Password(); ok {
					secrets = append(secrets, pw)
				}
			}
			// A Kafka URL's path is its topic, public and checked by the
			// kind (its error names an invalid topic, "a/b" included).
			if !publicPath(u) && !strings.EqualFold(u.Scheme, "kafka") {
				if _, rest, ok := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/"); ok {
					secrets = append(secrets, strings.Trim(rest, "/"))
				}
			}
			for k, vs := range u.Query() {
				if isCredential(k) {
					secrets = append(secrets, vs...)
				}
			}
			first, _, _ := strings.Cut(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
			shown := strings.ToLower("fuzz " + u.Scheme + " " + u.Host + " xxxxx " + first)
			for _, s := range secrets {
				if len(s) < 6 || strings.Count(raw, s) > 1 || strings.Contains(shown, strings.ToLower(s)) {
					continue // too short to tell from other text, or not only a secret
				}
				if strings.Contains(printed, s) {
					t.Fatalf("Parse(%q) printed the secret %q: %s", raw, s, printed)
				}
			}
		}
		if err != nil {
			return
		}
		d, err := open.NewDrain(spec, nil)
		if err != nil {
			return // a kind may refuse what Parse's check let through
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = d.Close(ctx)
	})
}

func publicPath(u *url.URL) bool {
	v := u.Query().Get(drains.PublicPathParam)
	return v == "1" || strings.EqualFold(v, "true")
}

func isCredential(name string) bool {
	name = strings.ToLower(name)
	for _, s := range []string{"token", "key", "secret", "pass", "sig", "auth", "credential"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}
