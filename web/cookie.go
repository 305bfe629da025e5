package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/sluice-logs/sluice/auth"
)

// cookieCodec signs and checks session cookies. A cookie is
// base64url(version ‖ expiry ‖ SHA-256 of the token ‖ HMAC-SHA256 of the
// rest): 1+8+32+32 bytes. Its key is derived from the configured tokens.
type cookieCodec struct {
	tokens *auth.Tokens
	key    [32]byte
	ttl    time.Duration
}

const (
	cookieVersion = 1
	cookieRaw     = 1 + 8 + 32 + 32
)

func newCookieCodec(t *auth.Tokens, ttl time.Duration) cookieCodec {
	fp := t.Fingerprint()
	mac := hmac.New(sha256.New, fp[:])
	mac.Write([]byte("sluice web session v1"))
	return cookieCodec{tokens: t, key: [32]byte(mac.Sum(nil)), ttl: ttl}
}

func (c cookieCodec) encode(sum [32]byte, now time.Time) string {
	var b [cookieRaw]byte
	b[0] = cookieVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(now.Add(c.ttl).Unix()))
	copy(b[9:41], sum[:])
	mac := hmac.New(sha256.New, c.key[:])
	mac.Write(b[:41])
	copy(b[41:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decode checks a cookie and returns the grant of its token, still
// configured, if the cookie is unexpired and its MAC right.
func (c cookieCodec) decode(v []byte, now time.Time) (auth.Grant, bool) {
	var b [cookieRaw]byte
	if base64.RawURLEncoding.DecodedLen(len(v)) != cookieRaw {
		return auth.Grant{}, false
	}
	if n, err := base64.RawURLEncoding.Decode(b[:], v); err != nil || n != cookieRaw || b[0] != cookieVersion {
		return auth.Grant{}, false
	}
	mac := hmac.New(sha256.New, c.key[:])
	mac.Write(b[:41])
	if !hmac.Equal(mac.Sum(nil), b[41:]) {
		return auth.Grant{}, false
	}
	if exp := int64(binary.BigEndian.Uint64(b[1:9])); now.Unix() >= exp {
		return auth.Grant{}, false
	}
	return c.tokens.LookupSum([32]byte(b[9:41]))
}
