// Package auth owns the per-app tokens of the TOKENS variable and the
// ADMIN_TOKEN: parsing them, looking a presented token up in constant time,
// and deciding who may write to or read from which app.
//
// A Tokens value is immutable after Parse and safe for concurrent use.
package auth
