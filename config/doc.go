// Package config reads every setting of sluiced from the environment
// (twelve-factor, factor III), applies the defaults, and validates the
// result, reporting every problem at once and naming the variable and the
// value. The README's configuration table is the user-facing copy of Vars;
// keep them in step.
//
// A Config is a plain value: build it once at startup and pass it down.
package config
