// Package open turns DRAIN_<NAME> URLs into running drains: Parse validates
// a URL without dialing (the scheme picks the kind with a plain switch:
// http/https, kafka, elasticsearch), New builds the kind's Drain and its
// drains.Worker. Every error names DRAIN_<NAME> and shows the URL only
// redacted.
//
// Parse and New are pure functions of their arguments and safe for
// concurrent use.
package open
