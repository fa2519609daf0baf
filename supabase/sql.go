// Package supabase carries the project's SQL inside the sfp binary, so a
// tenant can be created or upgraded from the binary alone.
//
//   - Migrations holds supabase/migrations: the tenant schema, in the
//     Supabase CLI's <14 digits>_<name>.sql format. Both runtimes apply it.
//   - Platform holds supabase/platform: what the supabase/postgres image,
//     GoTrue and Vault create on their own. Only the embedded runtime applies
//     it, once per cluster, before the migrations.
package supabase

import (
	"embed"
	"io/fs"
)

//go:embed migrations platform
var files embed.FS

// Migrations returns the tenant migrations as a file system whose root holds
// the <version>_<name>.sql files.
func Migrations() fs.FS { return mustSub("migrations") }

// Platform returns the embedded-runtime platform SQL as a file system whose
// root holds the NN_<name>.sql files, applied in lexical order.
func Platform() fs.FS { return mustSub("platform") }

func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
