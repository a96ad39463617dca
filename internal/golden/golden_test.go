package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	numbered := func(from, to int, edit map[int]string) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			if s, ok := edit[i]; ok {
				if s != "" {
					b.WriteString(s + "\n")
				}
				continue
			}
			fmt.Fprintf(&b, "line %d\n", i)
		}
		return b.String()
	}
	tests := []struct {
		name, want, got, diff string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"a changed line", "a\nb\nc\n", "a\nB\nc\n", "  a\n- b\n+ B\n  c"},
		{"a line added at the end", "a\n", "a\nb\n", "  a\n+ b"},
		{"a line removed at the start", "a\nb\n", "b\n", "- a\n  b"},
		{"from nothing", "", "a\n", "+ a"},
		{"a lost final newline", "a\nb\n", "a\nb", "  a\n- b\n+ b (no newline at the end)"},
		{"far apart changes keep their own context", numbered(1, 20, nil), numbered(1, 20, map[int]string{2: "two", 18: ""}),
			"  line 1\n- line 2\n+ two\n  line 3\n  line 4\n  line 5\n…\n  line 15\n  line 16\n  line 17\n- line 18\n  line 19\n  line 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Diff(tt.want, tt.got); got != tt.diff {
				t.Errorf("Diff =\n%s\nwant\n%s", got, tt.diff)
			}
		})
	}
}

// recorder is a testing.TB that keeps what Check reports instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Logf(string, ...any) {}

func TestCheck(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "testdata", "x.golden")

	missing := &recorder{TB: t}
	Check(missing, path, []byte("one\n"), false)
	if len(missing.errors) != 1 || !strings.Contains(missing.errors[0], "-update") {
		t.Errorf("a missing file reported %q, want one error saying how to write it", missing.errors)
	}

	Check(t, path, []byte("one\ntwo\n"), true)
	if b, err := os.ReadFile(path); err != nil || string(b) != "one\ntwo\n" {
		t.Fatalf("update wrote %q, %v", b, err)
	}
	Check(t, path, []byte("one\ntwo\n"), false) // the same: passes

	differs := &recorder{TB: t}
	Check(differs, path, []byte("one\nthree\n"), false)
	if len(differs.errors) != 1 || !strings.Contains(differs.errors[0], "- two\n+ three") {
		t.Errorf("a difference reported %q, want the line diff", differs.errors)
	}
}
