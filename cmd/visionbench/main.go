// Command visionbench runs visionbot's benchmark (make bench): the real bot
// binary against the local Slack and Gemini emulators, with injected
// latencies, and prints the table of docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/visionbot/visionbot/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "visionbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	binary := fs.String("bin", "bin/visionbot", "the visionbot binary to measure")
	out := fs.String("json", "bench/results.json", "where to write the raw results")
	quick := fs.Bool("quick", false, "fewer requests: a smoke run")
	profiles := fs.String("pprof", "", "a folder for CPU and allocation profiles taken under load")
	loads := fs.String("loads", "", "with -only load: just these loads, comma-separated, such as realistic/32,zero/32")
	only := fs.String("only", "", "run just these stages, comma-separated: acks, load, memory, open (our mode only), tokens (ours and pass-through), replicas (three bot processes sharing Redis)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	for _, stage := range splitList(*only) {
		if !slices.Contains([]string{"acks", "load", "memory", "open", "tokens", "replicas"}, stage) {
			return fmt.Errorf("-only: unknown stage %q: the stages are acks, load, memory, open, tokens and replicas", stage)
		}
	}
	res, err := bench.Run(ctx, bench.Options{Binary: *binary, Quick: *quick, ProfileDir: *profiles, Progress: stderr,
		Only: splitList(*only), Loads: splitList(*loads)})
	if err != nil {
		return err
	}
	bench.WriteTable(stdout, res)
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if dir := filepath.Dir(*out); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	}
	if err := os.WriteFile(*out, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Fprintf(stdout, "\nRaw results: %s\n", *out)
	return nil
}

// splitList reads "a, b" as [a b]; "" as none.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
