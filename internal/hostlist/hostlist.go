package hostlist

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Parse is url.Parse, except that an authority whose host part holds a
// comma is not parsed by net/url: u.Host is that list exactly as written
// (split it on commas), the user info, path and query are parsed as usual.
func Parse(raw string) (*url.URL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return url.Parse(raw)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	at := strings.LastIndexByte(auth, '@')
	hosts := auth[at+1:]
	if !strings.Contains(hosts, ",") {
		return url.Parse(raw)
	}
	u, err := url.Parse(scheme + "://" + auth[:at+1] + "hosts" + rest[end:])
	if err != nil {
		return nil, err
	}
	u.Host = hosts
	return u, nil
}

// Addr checks one host of such a list and returns it as host:port, with
// defaultPort when it names none ("[::1]" is an IPv6 literal without one).
func Addr(b, defaultPort string) (string, error) {
	if b == "" {
		return "", errors.New("empty address")
	}
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		host, port = b, defaultPort
		if len(b) > 2 && b[0] == '[' && b[len(b)-1] == ']' {
			host = b[1 : len(b)-1] // an IPv6 literal without a port
		}
		if strings.ContainsAny(host, "[]") || host == b && strings.Contains(host, ":") {
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

// Topic applies Kafka's topic name rules, those of the path of a kafka://
// URL: 1 to 249 characters of [a-zA-Z0-9._-], not "." or "..".
func Topic(t string) error {
	switch {
	case t == "":
		return errors.New("missing: want kafka://host:port/topic")
	case len(t) > 249:
		return errors.New("longer than 249 characters")
	case t == "." || t == "..":
		return errors.New("not a valid topic name")
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errors.New("may only contain letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}
