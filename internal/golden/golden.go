// Package golden compares what a test renders with a file it keeps under
// testdata, and rewrites the file when asked: a change to a text or a
// payload people see then shows in review as a diff of that file.
//
// Each test package declares its own -update flag (a package's flags
// belong to its test binary, not to this package) and passes its value:
//
//	var update = flag.Bool("update", false, "rewrite golden files")
//
//	golden.Check(t, "testdata/help.golden", []byte(got), *update)
package golden

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// around is how many unchanged lines a diff shows around each change.
const around = 3

// Check compares got with the file at path. With update it writes got
// there instead (creating its folder). A difference, or a missing file,
// fails t with a line diff and the command that rewrites the file.
func Check(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: %v", err)
		}
		t.Logf("golden: wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("golden: %v\n(go test -run '%s' -update writes it)", err, t.Name())
		return
	}
	if bytes.Equal(want, got) {
		return
	}
	t.Errorf("golden: the output differs from %s (- the file, + now):\n%s\n(go test -run '%s' -update rewrites it, if the change is meant)",
		path, Diff(string(want), string(got)), t.Name())
}

// Diff is a line diff of want and got: "-" for a line only in want, "+"
// for a line only in got, and a few unchanged lines around each change;
// "" when they are equal. A missing final newline shows as its own line.
func Diff(want, got string) string {
	if want == got {
		return ""
	}
	a, b := lines(want), lines(got)
	ops := edits(a, b)
	// Show each change with its context; join changes whose context meets.
	show := make([]bool, len(ops))
	for i, op := range ops {
		if op.kind == ' ' {
			continue
		}
		for j := max(0, i-around); j <= min(len(ops)-1, i+around); j++ {
			show[j] = true
		}
	}
	var out strings.Builder
	for i, op := range ops {
		if !show[i] {
			if i > 0 && show[i-1] {
				out.WriteString("…\n")
			}
			continue
		}
		fmt.Fprintf(&out, "%c %s\n", op.kind, op.line)
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// lines splits s into lines, marking a last line without its newline.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	ls := strings.Split(s, "\n")
	if ls[len(ls)-1] == "" {
		return ls[:len(ls)-1]
	}
	ls[len(ls)-1] += " (no newline at the end)"
	return ls
}

type edit struct {
	kind byte // ' ', '-' or '+'
	line string
}

// edits is a shortest edit script from a to b, by the longest common
// subsequence of their lines: golden files are small, so the quadratic
// table is no cost.
func edits(a, b []string) []edit {
	// lcs[i][j] is the length of the longest common subsequence of a[i:]
	// and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []edit
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			ops = append(ops, edit{' ', a[i]})
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, edit{'-', a[i]})
			i++
		default:
			ops = append(ops, edit{'+', b[j]})
			j++
		}
	}
	return ops
}
