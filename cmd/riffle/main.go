// Command riffle runs stream jobs and administers riffle's embedded log.
// Run `riffle help` for the commands.
package main

import (
	"os"

	"github.com/riffle-streams/riffle/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
