// Package hostlist parses the broker lists and topics of kafka:// URLs
// (BUS_URL and Kafka drains). Parse reads URLs whose authority names several hosts,
// kafka://a:9092,b,[::1]:9093/topic, which net/url refuses when a host but
// the last has a port and the last has none, or when one is an IPv6
// literal. It holds no state; its functions are safe for concurrent use.
package hostlist
