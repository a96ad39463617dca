package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/visionbot/visionbot/prompts"
)

// loadCatalog is the built-in use cases, with those of the operator's
// folder (PROMPTS_DIR) added or put in their place. A bad file stops the
// start with its name and what is wrong with it.
func loadCatalog(dir string) (*prompts.Catalog, error) {
	catalog, err := prompts.Builtin()
	if err != nil {
		return nil, fmt.Errorf("load use cases: %w", err)
	}
	if dir == "" {
		return catalog, nil
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, usageError{fmt.Errorf("PROMPTS_DIR %s is not a folder: set it to the folder that holds your use-case .yaml files", dir)}
	}
	custom, err := prompts.Load(os.DirFS(dir))
	if err != nil {
		return nil, usageError{fmt.Errorf("PROMPTS_DIR %s: %w", dir, err)}
	}
	if len(custom) == 0 {
		return nil, usageError{fmt.Errorf("PROMPTS_DIR %s holds no .yaml or .yml file: put use-case files there (README.md, Custom use cases), or unset it", dir)}
	}
	merged, err := catalog.With(custom)
	if err != nil {
		return nil, usageError{fmt.Errorf("PROMPTS_DIR %s: %w", dir, err)}
	}
	return merged, nil
}

// loadUseCases is the bot's catalog, which every reaction trigger must
// name a use case of.
func loadUseCases(cfg config) (*prompts.Catalog, error) {
	catalog, err := loadCatalog(cfg.Prompts.Dir)
	if err != nil {
		return nil, err
	}
	var problems []error
	for _, emoji := range slices.Sorted(maps.Keys(cfg.Flows.Reactions)) {
		if name := cfg.Flows.Reactions[emoji]; !has(catalog, name) {
			problems = append(problems, fmt.Errorf("REACTION_TRIGGERS maps :%s: to %q, which is no use case: use one of %s", emoji, name, catalog.UsageHint()))
		}
	}
	if len(problems) > 0 {
		return nil, usageError{errors.Join(problems...)}
	}
	return catalog, nil
}

// describeCatalog sums a catalog up in one line.
func describeCatalog(c *prompts.Catalog) string {
	var custom []string
	for _, uc := range c.All() {
		if uc.Source != "built-in" {
			custom = append(custom, uc.Name+" ("+uc.Source+")")
		}
	}
	s := fmt.Sprintf("%d use cases, %s by default", len(c.All()), c.Default().Name)
	if len(custom) > 0 {
		s += "; from PROMPTS_DIR: " + strings.Join(custom, ", ")
	}
	return s
}

// listUseCases is visionbot usecases.
func listUseCases(getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv, ".env", partPrompts)
	if err != nil {
		return err
	}
	catalog, err := loadCatalog(cfg.Prompts.Dir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USE CASE\tALIASES\tFROM\tDESCRIPTION")
	for _, uc := range catalog.All() {
		name, aliases := uc.Name, strings.Join(uc.Aliases, ", ")
		if uc.Default {
			name += " (default)"
		}
		if aliases == "" {
			aliases = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, aliases, uc.Source, uc.Description)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write the list: %w", err)
	}
	fmt.Fprintln(stdout, "\nThe first word of a request picks a use case by name or alias; without one, the default answers.")
	return nil
}

// has says whether the catalog has a use case of that name or alias.
func has(c *prompts.Catalog, name string) bool {
	_, ok := c.Lookup(name)
	return ok
}
