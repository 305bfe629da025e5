// Package metrics owns the Prometheus collectors that more than one package
// updates, registered once on a registry the daemon passes in. Packages that
// own a metric alone register it themselves on the same registry.
//
// All collectors are safe for concurrent use.
package metrics
