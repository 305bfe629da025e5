package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Grant is what a token allows: writing to and reading from one app, with
// the given source name on what it writes.
type Grant struct {
	App    string
	Source string // "app" unless the token says otherwise (t.def=web:router)
	Admin  bool   // ADMIN_TOKEN: may read every app, writes nothing
}

// Tokens is the set of configured tokens. The zero value (and nil) means the
// router is open: every request is allowed.
type Tokens struct {
	// byHash maps sha256(token) to its grant. Looking up by hash keeps the
	// lookup's timing independent of how much of a token matches; the final
	// comparison is constant-time as well.
	byHash map[[32]byte]entry
	admin  [32]byte
	hasAdm bool
}

type entry struct {
	token string
	grant Grant
}

// Parse reads a TOKENS value ("t.abc=web,t.def=web:router") and an
// ADMIN_TOKEN value. Both may be empty. The errors name the bad entry but
// never print a token in full.
func Parse(tokens, admin string) (*Tokens, error) {
	t := &Tokens{byHash: make(map[[32]byte]entry)}
	var errs []error
	for i, item := range strings.Split(tokens, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		tok, grant, ok := strings.Cut(item, "=")
		tok = strings.TrimSpace(tok)
		if !ok || tok == "" {
			errs = append(errs, fmt.Errorf("TOKENS entry %d: want token=app[:source]", i+1))
			continue
		}
		app, source, _ := strings.Cut(strings.TrimSpace(grant), ":")
		if source == "" {
			source = "app"
		}
		if !ValidName(app) {
			errs = append(errs, fmt.Errorf("TOKENS entry %d (%s): invalid app name %q", i+1, Redact(tok), app))
			continue
		}
		if !ValidName(source) {
			errs = append(errs, fmt.Errorf("TOKENS entry %d (%s): invalid source name %q", i+1, Redact(tok), source))
			continue
		}
		h := sha256.Sum256([]byte(tok))
		if _, dup := t.byHash[h]; dup {
			errs = append(errs, fmt.Errorf("TOKENS entry %d (%s): token listed twice", i+1, Redact(tok)))
			continue
		}
		t.byHash[h] = entry{token: tok, grant: Grant{App: app, Source: source}}
	}
	if admin != "" {
		t.admin = sha256.Sum256([]byte(admin))
		t.hasAdm = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Enabled reports whether any token is configured. Without tokens the router
// is open.
func (t *Tokens) Enabled() bool {
	return t != nil && (len(t.byHash) > 0 || t.hasAdm)
}

// Lookup returns the grant of a presented token.
func (t *Tokens) Lookup(token string) (Grant, bool) {
	if t == nil || token == "" {
		return Grant{}, false
	}
	h := sha256.Sum256([]byte(token))
	if t.hasAdm && subtle.ConstantTimeCompare(h[:], t.admin[:]) == 1 {
		return Grant{Admin: true}, true
	}
	e, ok := t.byHash[h]
	if !ok || subtle.ConstantTimeCompare([]byte(e.token), []byte(token)) != 1 {
		return Grant{}, false
	}
	return e.grant, true
}

// Authorize looks up the token an HTTP Authorization header value carries
// (see FromAuthorization). It returns the token and its grant, or ok false
// when the header has no token or an unknown one. Every HTTP route that
// authenticates goes through it.
func (t *Tokens) Authorize(header string) (token string, g Grant, ok bool) {
	token, ok = FromAuthorization(header)
	if !ok {
		return "", Grant{}, false
	}
	g, ok = t.Lookup(token)
	return token, g, ok
}

// CanRead reports whether the grant may read app.
func (g Grant) CanRead(app string) bool { return g.Admin || g.App == app }

// CanWrite reports whether the grant may write to app.
func (g Grant) CanWrite(app string) bool { return !g.Admin && g.App == app }

// FromAuthorization extracts the token from an HTTP Authorization header
// value: "Bearer <token>" or Basic auth whose password is the token
// (Logplex style; the user name is ignored).
func FromAuthorization(h string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return rest, rest != ""
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", false
		}
		_, pass, ok := strings.Cut(string(raw), ":")
		return pass, ok && pass != ""
	}
	return "", false
}

// Redact shows the first characters of a token, enough to tell tokens apart
// in an error, never the whole token.
func Redact(tok string) string {
	if len(tok) <= 4 {
		return "****"
	}
	return tok[:3] + "****"
}

// ValidName reports whether s may be an app or source name: 1 to 48
// printable US-ASCII characters without space, '[', ']', '/', '?', '#' or
// '%' (the RFC 5424 APP-NAME rules, and safe in a URL path), and not "."
// or "..": a path segment that HTTP clients and servers remove (RFC 3986
// dot segments), so GET /apps/{app}/logs could never read such an app
// back. Every other valid name reads back, path-escaped or not. It runs
// once per ingested message, so it is a table lookup per byte.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 48 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte[s[i]] {
			return false
		}
	}
	return true
}

var nameByte = func() (t [256]bool) {
	for c := 33; c <= 126; c++ {
		t[c] = true
	}
	for _, c := range "[]/?#%" {
		t[c] = false
	}
	return t
}()

// Sum is the SHA-256 of a token: what a web session cookie carries instead
// of the token itself.
func Sum(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// LookupSum returns the grant of the token whose Sum is sum. A token's sum
// is as good as the token to whoever holds it: callers keep sums secret
// (the web package only puts one in a MAC-signed, HttpOnly cookie).
func (t *Tokens) LookupSum(sum [32]byte) (Grant, bool) {
	if t == nil {
		return Grant{}, false
	}
	if t.hasAdm && subtle.ConstantTimeCompare(sum[:], t.admin[:]) == 1 {
		return Grant{Admin: true}, true
	}
	e, ok := t.byHash[sum]
	if !ok {
		return Grant{}, false
	}
	return e.grant, true
}

// Fingerprint is a digest of every configured token and grant: secret as
// they are, and different as soon as any of them changes. The web package
// derives its cookie-signing key from it, so sessions survive a restart
// with the same TOKENS and die when a token is removed or changed.
func (t *Tokens) Fingerprint() [32]byte {
	h := sha256.New()
	if t == nil {
		return [32]byte(h.Sum(nil))
	}
	keys := make([][32]byte, 0, len(t.byHash))
	for k := range t.byHash {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	for _, k := range keys {
		g := t.byHash[k].grant
		h.Write(k[:])
		fmt.Fprintf(h, "%d:%s:%d:%s;", len(g.App), g.App, len(g.Source), g.Source)
	}
	if t.hasAdm {
		h.Write([]byte("admin"))
		h.Write(t.admin[:])
	}
	return [32]byte(h.Sum(nil))
}
