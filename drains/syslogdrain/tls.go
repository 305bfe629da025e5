package syslogdrain

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/sluice-logs/sluice"
)

// l14Every is how often one app gets an L14 line while the handshakes
// keep failing (the Worker retries much more often).
const l14Every = time.Minute

// dialTLS connects to a syslog+tls:// receiver and completes the
// handshake, verifying the certificate unless insecure=1.
func (d *Drain) dialTLS(ctx context.Context) (net.Conn, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if d.cfg.TLSConfig != nil {
		cfg = d.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = d.host
	}
	if d.cfg.Insecure {
		cfg.InsecureSkipVerify = true
	}
	dialer := tls.Dialer{NetDialer: &net.Dialer{KeepAlive: 30 * time.Second}, Config: cfg}
	return dialer.DialContext(ctx, "tcp", d.cfg.Addr)
}

// certError reports whether err is a failed certificate validation: ours
// of the receiver's certificate, or the receiver's alert about ours.
func certError(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		uaerr x509.UnknownAuthorityError
		herr  x509.HostnameError
		cerr  x509.CertificateInvalidError
		aerr  tls.AlertError
	)
	switch {
	case errors.As(err, &verr), errors.As(err, &uaerr), errors.As(err, &herr), errors.As(err, &cerr):
		return true
	case errors.As(err, &aerr):
		// bad_certificate (42) … unknown_ca (48), certificate_required (116)
		return (aerr >= 42 && aerr <= 48) || aerr == 116
	}
	return false
}

// reportL14 puts Logplex's certificate validation line into the stream of
// each app of batch, at most once per l14Every per app.
func (d *Drain) reportL14(err error, batch []sluice.Message) {
	if d.cfg.Transport != TLS || d.cfg.Notify == nil || !certError(err) {
		return
	}
	now := time.Now()
	text := ""
	for i := range batch {
		app := batch[i].App
		if last, ok := d.lastL14[app]; ok && now.Sub(last) < l14Every {
			continue
		}
		if text == "" {
			text = L14(cause(err), d.cfg.Redacted)
			d.log.Warn("syslog+tls drain: certificate validation failed", "url", d.cfg.Redacted, "err", err)
		}
		d.lastL14[app] = now
		d.cfg.Notify(sluice.Message{
			Time:     now,
			App:      app,
			Source:   "sluice",
			Proc:     "drain." + d.cfg.Name,
			Text:     text,
			Facility: sluice.DefaultFacility,
			Severity: 4, // warning, as Logplex
		})
	}
	if len(d.lastL14) > 10000 {
		clear(d.lastL14)
	}
}

// cause is the innermost error's text, what Logplex printed as the alert.
func cause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// L14 returns the text of Logplex's in-band certificate validation error,
// word for word: Error L14 (certificate validation): error="…" uri="…".
func L14(why, uri string) string {
	q := func(s string) string {
		s = strconv.Quote(s)
		return s[1 : len(s)-1]
	}
	return `Error L14 (certificate validation): error="` + q(why) + `" uri="` + q(uri) + `"`
}
