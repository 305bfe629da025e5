package elasticsearch

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/config"
)

// Bulk actions (the op parameter).
const (
	OpIndex  = "index"
	OpCreate = "create"
)

// DefaultIndex is the index pattern of a URL without index=: one index per
// app and UTC day.
const DefaultIndex = "logs-{app}-{2006.01.02}"

// DefaultPort is the port of a URL without one.
const DefaultPort = "9200"

// Config is an Elasticsearch drain's destination.
type Config struct {
	// URL is the cluster's base URL, http(s)://host:port[/base-path],
	// without user info.
	URL *url.URL
	// User and Password, when User is set, authenticate with HTTP basic
	// authentication.
	User, Password string
	// Index is the index pattern (see the package doc); DefaultIndex when
	// empty.
	Index string
	// Op is the bulk action, OpIndex (default when empty) or OpCreate.
	Op string
}

// ParseURL reads an elasticsearch:// drain URL. rest holds the query
// parameters left after the common drain options (drains.ParseOptions);
// parameters this drain does not know are an error naming them. Every
// problem is reported at once. ParseURL does not dial.
func ParseURL(u *url.URL, rest url.Values) (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if u.Scheme != "elasticsearch" {
		bad("scheme %q: want elasticsearch", u.Scheme)
	}
	host := u.Host
	if host == "" {
		bad("no host: want elasticsearch://[user:password@]host[:port][/base-path]")
	} else if addr, err := hostPort(host); err != nil {
		bad("host %q: %v", host, err)
	} else {
		host = addr
	}
	c := Config{Index: DefaultIndex, Op: OpIndex}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.User == "" {
			bad("user info without a user name")
		}
	}
	if u.Fragment != "" {
		bad("fragment %q: not allowed", u.Fragment)
	}
	scheme := "http"
	var unknown []string
	for k, vs := range rest {
		v := ""
		if len(vs) > 0 {
			v = vs[len(vs)-1]
		}
		if len(vs) > 1 {
			bad("%s %q: given more than once", k, strings.Join(vs, ","))
		}
		switch k {
		case "index":
			if _, err := compileIndex(v); err != nil {
				bad("index %q: %v", v, err)
			}
			c.Index = v
		case "op":
			switch v {
			case OpIndex, OpCreate:
				c.Op = v
			default:
				bad("op %q: want index or create", v)
			}
		case "tls":
			on, err := config.ParseBool(v)
			if err != nil {
				bad("tls %q: %v", v, err)
			}
			if on {
				scheme = "https"
			}
		default:
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		bad("unknown parameters %s (elasticsearch takes index, op, tls)", strings.Join(unknown, ", "))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("elasticsearch drain url: %w", err)
	}
	c.URL = &url.URL{Scheme: scheme, Host: host, Path: strings.TrimRight(u.Path, "/")}
	return c, nil
}

// validate checks a Config built by hand (ParseURL's result passes) and
// fills in the defaults.
func (c *Config) validate() error {
	var errs []error
	if c.URL == nil {
		return errors.New("no url")
	}
	if c.URL.Scheme != "http" && c.URL.Scheme != "https" {
		errs = append(errs, fmt.Errorf("url scheme %q: want http or https", c.URL.Scheme))
	}
	if c.URL.Host == "" {
		errs = append(errs, errors.New("url without a host"))
	}
	if c.URL.User != nil {
		errs = append(errs, errors.New("url with user info: set User and Password instead"))
	}
	if c.Index == "" {
		c.Index = DefaultIndex
	}
	if _, err := compileIndex(c.Index); err != nil {
		errs = append(errs, fmt.Errorf("index %q: %w", c.Index, err))
	}
	switch c.Op {
	case "":
		c.Op = OpIndex
	case OpIndex, OpCreate:
	default:
		errs = append(errs, fmt.Errorf("op %q: want index or create", c.Op))
	}
	return errors.Join(errs...)
}

func hostPort(h string) (string, error) {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: add the default one.
		host, port = strings.Trim(h, "[]"), DefaultPort
		if strings.ContainsAny(host, "[]:") && !strings.HasPrefix(h, "[") {
			return "", errors.New("want host:port")
		}
	}
	if host == "" {
		return "", errors.New("empty host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", errors.New("invalid port")
	}
	return net.JoinHostPort(host, port), nil
}

// indexPart is one piece of a compiled index pattern: literal text, the
// app ({app}) or a time layout ({2006.01.02}).
type indexPart struct {
	kind byte // 'l' literal, 'a' app, 't' time layout
	text string
	// perSecond: the layout's output changes at most once a second, so
	// its last output can be reused for messages of the same second.
	perSecond bool
}

// indexPattern is a compiled index pattern.
type indexPattern []indexPart

// forbiddenIndex are the characters Elasticsearch refuses in index names.
const forbiddenIndex = `\/*?"<>| ,#:`

// compileIndex parses an index pattern. Literal text must already be a
// valid index name part: lower case, none of forbiddenIndex, not starting
// with '-', '_' or '+'.
func compileIndex(p string) (indexPattern, error) {
	if p == "" {
		return nil, errors.New("empty")
	}
	if len(p) > 255 {
		return nil, errors.New("longer than 255 bytes")
	}
	var parts indexPattern
	rest := p
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		closeAt := strings.IndexByte(rest, '}')
		if open < 0 {
			if closeAt >= 0 {
				return nil, errors.New("'}' without '{'")
			}
			parts = append(parts, indexPart{kind: 'l', text: rest})
			break
		}
		if closeAt >= 0 && closeAt < open {
			return nil, errors.New("'}' without '{'")
		}
		if open > 0 {
			parts = append(parts, indexPart{kind: 'l', text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, errors.New("'{' without '}'")
		}
		field := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		switch {
		case field == "":
			return nil, errors.New("empty {}")
		case strings.ContainsRune(field, '{'):
			return nil, errors.New("nested '{'")
		case field == "app":
			parts = append(parts, indexPart{kind: 'a'})
		default:
			if !isTimeLayout(field) {
				return nil, fmt.Errorf("{%s}: want {app} or a Go time layout such as {2006.01.02}", field)
			}
			sec := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			perSecond := sec.Format(field) == sec.Add(time.Second-1).Format(field)
			parts = append(parts, indexPart{kind: 't', text: field, perSecond: perSecond})
		}
	}
	for _, part := range parts {
		if part.kind != 'l' {
			continue
		}
		if strings.ContainsAny(part.text, forbiddenIndex) {
			return nil, fmt.Errorf("%q: index names must not contain any of %s or a space", part.text, strings.ReplaceAll(forbiddenIndex, " ", ""))
		}
		if strings.ToLower(part.text) != part.text {
			return nil, fmt.Errorf("%q: index names must be lower case", part.text)
		}
	}
	if parts[0].kind == 'l' && strings.IndexAny(parts[0].text[:1], "-_+") == 0 {
		return nil, errors.New("index names must not start with '-', '_' or '+'")
	}
	return parts, nil
}

// isTimeLayout reports whether s formats a time differently from itself,
// that is, holds at least one layout element.
func isTimeLayout(s string) bool {
	t1 := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	t2 := time.Date(2011, 12, 13, 14, 15, 16, 0, time.UTC)
	return t1.Format(s) != t2.Format(s)
}

// indexCache keeps the formatted time parts of the last message's second,
// since the messages of a batch mostly share it.
type indexCache struct {
	sec   int64
	valid bool
	parts [][]byte // per pattern part; nil for parts that are not cached
}

// appendIndex appends the index of m. The app and the formatted time are
// made valid index name parts: ASCII letters are lowered, the characters
// Elasticsearch forbids and non-ASCII bytes become '_'. The result needs no
// JSON escaping. c may be nil.
func (p indexPattern) appendIndex(dst []byte, m *sluice.Message, c *indexCache) []byte {
	var sec int64
	if c != nil {
		if len(c.parts) != len(p) {
			c.parts = make([][]byte, len(p))
			c.valid = false
		}
		sec = m.Time.Unix()
		if c.valid && c.sec != sec {
			c.valid = false
		}
	}
	for i, part := range p {
		switch part.kind {
		case 'l':
			dst = append(dst, part.text...)
		case 'a':
			dst = appendIndexSafe(dst, m.App)
		case 't':
			if c != nil && c.valid && part.perSecond {
				dst = append(dst, c.parts[i]...)
				continue
			}
			start := len(dst)
			dst = m.Time.UTC().AppendFormat(dst, part.text)
			sanitizeIndex(dst[start:])
			if c != nil && part.perSecond {
				c.parts[i] = append(c.parts[i][:0], dst[start:]...)
			}
		}
	}
	if c != nil {
		c.sec, c.valid = sec, true
	}
	return dst
}

func appendIndexSafe(dst []byte, s string) []byte {
	start := len(dst)
	dst = append(dst, s...)
	sanitizeIndex(dst[start:])
	return dst
}

// indexByte maps every byte to what it becomes in an index name.
var indexByte = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c < 0x21 || c > 0x7e || strings.IndexByte(forbiddenIndex, c) >= 0:
			c = '_'
		}
		t[i] = c
	}
	return t
}()

func sanitizeIndex(b []byte) {
	for i, c := range b {
		b[i] = indexByte[c]
	}
}
