package auth

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	toks, err := Parse("t.abc=web, t.def=web:router,t.xyz=api", "t.admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tok          string
		ok           bool
		app, source  string
		admin        bool
		readWeb, wrW bool
	}{
		{"t.abc", true, "web", "app", false, true, true},
		{"t.def", true, "web", "router", false, true, true},
		{"t.xyz", true, "api", "app", false, false, false},
		{"t.admin", true, "", "", true, true, false},
		{"t.ab", false, "", "", false, false, false},
		{"", false, "", "", false, false, false},
	} {
		t.Run(c.tok, func(t *testing.T) {
			g, ok := toks.Lookup(c.tok)
			if ok != c.ok || g.App != c.app || g.Source != c.source || g.Admin != c.admin ||
				g.CanRead("web") != c.readWeb || g.CanWrite("web") != c.wrW {
				t.Fatalf("Lookup(%q) = %+v, %v", c.tok, g, ok)
			}
		})
	}
	if !toks.Enabled() {
		t.Fatal("not enabled")
	}
	var open *Tokens
	if open.Enabled() {
		t.Fatal("nil tokens enabled")
	}
}

func TestParseErrorsHideTokens(t *testing.T) {
	_, err := Parse("secret-token-1=,secret-token-2=we b,=x,secret-token-1=a,secret-token-1=b", "")
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Fatalf("error shows a token: %v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 4 {
		t.Fatalf("want 4 errors, got %d: %v", n, err)
	}
}

func TestFromAuthorization(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(":t.abc"))
	basicUser := "Basic " + base64.StdEncoding.EncodeToString([]byte("token:t.abc"))
	for _, c := range []struct{ h, want string }{
		{"Bearer t.abc", "t.abc"}, {"bearer  t.abc ", "t.abc"}, {basic, "t.abc"}, {basicUser, "t.abc"},
		{"Basic !!!", ""}, {"Digest x", ""}, {"", ""}, {"Bearer", ""},
	} {
		got, ok := FromAuthorization(c.h)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("FromAuthorization(%q) = %q, %v", c.h, got, ok)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"web", true}, {"my-app_2.prod", true}, {"a", true}, {strings.Repeat("x", 48), true},
		{"", false}, {strings.Repeat("x", 49), false}, {"we b", false}, {"a/b", false}, {"a[1]", false},
		{"a?b", false}, {"a#b", false}, {"100%", false}, {"tab\t", false}, {"ünï", false}, {"\x7f", false},
		{".", false}, {"..", false}, {"...", true}, {".a", true}, {"a..", true},
	} {
		if got := ValidName(c.s); got != c.ok {
			t.Errorf("ValidName(%q) = %v, want %v", c.s, got, c.ok)
		}
	}
}

func TestLookupSumAndFingerprint(t *testing.T) {
	a, err := Parse("t.abc=web,t.def=api:router", "adm")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse("t.def=api:router,t.abc=web", "adm")
	c, _ := Parse("t.abc=web,t.def=api", "adm")
	for _, tc := range []struct {
		token string
		ok    bool
		grant Grant
	}{
		{"t.abc", true, Grant{App: "web", Source: "app"}},
		{"t.def", true, Grant{App: "api", Source: "router"}},
		{"adm", true, Grant{Admin: true}},
		{"t.ab", false, Grant{}},
	} {
		t.Run(tc.token, func(t *testing.T) {
			g, ok := a.LookupSum(Sum(tc.token))
			if ok != tc.ok || g != tc.grant {
				t.Fatalf("LookupSum = %+v %v, want %+v %v", g, ok, tc.grant, tc.ok)
			}
		})
	}
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("the fingerprint depends on the order of TOKENS")
	}
	if a.Fingerprint() == c.Fingerprint() {
		t.Fatal("the fingerprint does not change with a grant")
	}
}
