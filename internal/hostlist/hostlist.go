package hostlist

import (
	"net/url"
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
