package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// ProofHeader carries a member's proof on a proxied request.
const ProofHeader = "Sluice-Cluster-Proof"

// maxSkew bounds the age of a proof.
const maxSkew = 30 * time.Second

// Sign returns the proof of method and uri at now.
func Sign(secret []byte, method, uri string, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return ts + "." + hex.EncodeToString(mac(secret, method, uri, ts))
}

// Verify reports whether proof is a fresh proof of method and uri.
func Verify(secret []byte, method, uri, proof string, now time.Time) bool {
	if len(secret) == 0 {
		return false
	}
	ts, sum, ok := strings.Cut(proof, ".")
	if !ok || len(ts) > 20 {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return false
	}
	got, err := hex.DecodeString(sum)
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(secret, method, uri, ts))
}

func mac(secret []byte, method, uri, ts string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(uri))
	h.Write([]byte{0})
	h.Write([]byte(ts))
	return h.Sum(nil)
}
