// Package clienttest holds the tests of pkg/client that need a running
// tenant (internal/stacktest). They live in the main module because
// pkg/client is a module of its own: its tests may only use what its few
// dependencies provide, so programs importing it do not inherit the
// server's.
package clienttest
