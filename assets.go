// Package sfp carries the repository-root files the sfp binary needs at run
// time: docker-compose.yml and kong.yml. The docker runtime writes them into
// each docker tenant's directory, and the embedded gateway reads the same
// kong.yml, so one file drives both runtimes and an installed binary needs
// no checkout.
package sfp

import (
	"embed"
	"io/fs"
)

// File names at the repository root.
const (
	ComposeFileName = "docker-compose.yml"
	KongFileName    = "kong.yml"
)

//go:embed docker-compose.yml kong.yml
var files embed.FS

// ComposeFile returns docker-compose.yml: the docker runtime's compose
// project (a copy; callers may modify it).
func ComposeFile() []byte { return read(ComposeFileName) }

// KongConfig returns kong.yml: the gateway's declarative configuration, with
// $VARS still to substitute (a copy).
func KongConfig() []byte { return read(KongFileName) }

func read(name string) []byte {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		panic("sfp: " + err.Error()) // both files are embedded at build time
	}
	return b
}
