// Package sources builds the ingest sources the configuration turns on, the
// way drains/open builds drains: Specs reads config.Config into a list of
// Spec (plain data: which kind, which address, which variable set it, the
// limits), and New turns one Spec and the shared ingest.Deps into an
// ingest.Source. The kind is picked with a plain switch.
//
// The package has no state; its functions are safe for concurrent use.
package sources
