package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of metis and of Go it was built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			version, commit := "(unknown)", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				version = bi.Main.Version // "(devel)" for go run and go build in a checkout
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						commit = s.Value
					}
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "metis   %s\n", version)
			if commit != "" {
				fmt.Fprintf(out, "commit  %s\n", commit)
			}
			fmt.Fprintf(out, "go      %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
