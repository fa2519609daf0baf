// Command sfp runs and uses dedicated Supabase tenant stacks.
package main

import (
	"os"

	"github.com/sfp-dev/sfp/pkg/cli"
)

func main() { os.Exit(cli.Main()) }
