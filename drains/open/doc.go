// Package open turns DRAIN_<NAME> URLs into running drains: Parse
// validates a URL without dialing, New builds the kind's Drain and its
// drains.Worker, NewDrain the Drain alone. Every error names DRAIN_<NAME>
// and shows the URL only redacted.
//
// # The table of kinds
//
// The URL scheme picks the kind from one table, kinds in open.go. A row
// names the kind (drains.Status.Kind), its schemes, the kind package's
// ParseURL (which validates the URL and the parameters that
// drains.ParseOptions left, without dialing, and reports a parameter given
// twice or unknown as an error naming it), a function that makes the
// Drain from the parsed Config, and the kind's own defaults of the common
// options (Kafka's larger batch). Adding a kind is adding one row:
//
//	row(KindSyslog, []string{"syslog", "syslog+tls"}, syslogdrain.ParseURL,
//		func(spec Spec, c syslogdrain.Config, log *slog.Logger) (drains.Drain, error) {
//			return syslogdrain.New(c, spec.Options, log)
//		}, drains.Options{}),
//
// plus its Kind constant; the error for an unknown scheme lists the
// schemes from the table. Kind packages share the value rules through
// config.ParseBool and config.ParseSize (booleans are 1|0|true|false).
//
// Parse, New and NewDrain are pure functions of their arguments and safe
// for concurrent use.
package open
