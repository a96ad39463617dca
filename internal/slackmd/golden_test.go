package slackmd

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what the code makes now")

// goldenLimit is the part size the golden files are split at: small, so
// that a few lines make several parts.
const goldenLimit = 160

// Every testdata/*.md is something the model may write; its .golden file
// is what is posted of it: the safety pass, then the split of that into
// messages of goldenLimit bytes, each part under a line that says which.
// Neither may hide where a link leads. After a deliberate change, see the
// difference with git diff after go test ./internal/slackmd -update.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.md"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata/*.md: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			said, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			safe := Safe(string(said))
			parts := Split(safe, goldenLimit, AllParts)
			for i, text := range append([]string{safe}, parts...) {
				if hidden := hiddenLinks(text); len(hidden) > 0 {
					t.Errorf("text %d hides where %q leads:\n%s", i, hidden, text)
				}
			}
			got := golden(safe, parts)
			path := strings.TrimSuffix(in, ".md") + ".golden"
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./internal/slackmd -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from what is posted now:\n%s", path, got)
			}
		})
	}
}

// golden writes what is posted of an answer, for a person to read.
func golden(safe string, parts []string) string {
	var b strings.Builder
	b.WriteString("======== Safe ========\n" + safe + "\n")
	for i, p := range parts {
		fmt.Fprintf(&b, "======== Split at %d bytes: part %d of %d, %d bytes ========\n%s\n", goldenLimit, i+1, len(parts), len(p), p)
	}
	return b.String()
}
