package slackmd

import (
	"slices"
	"testing"
)

// The one fence rule, CommonMark's, as CodeBlocks reads it.
func TestCodeBlocks(t *testing.T) {
	tests := []struct {
		name, md string
		want     []Block
	}{
		{"backticks with a language", "```Go title=x\nx := 1\n```", []Block{{"go", "x := 1\n"}}},
		{"tildes", "~~~\nx\n~~~", []Block{{"", "x\n"}}},
		{"three spaces in", "   ```\nx\n   ```", []Block{{"", "x\n"}}},
		{"four spaces in is no fence", "    ```\nx\n    ```", nil},
		{"closed only by the same character", "~~~\n```\nx\n~~~", []Block{{"", "```\nx\n"}}},
		{"closed only by as many or more", "````\n```\nx\n`````", []Block{{"", "```\nx\n"}}},
		{"a closing fence has nothing after it", "```\n``` x\nx\n```", []Block{{"", "``` x\nx\n"}}},
		{"an indented inner fence is code", "```\n    ```\nx\n```", []Block{{"", "    ```\nx\n"}}},
		{"a backtick info string has no backtick", "``` a`b\nx\n```\ny\n```", []Block{{"", "y\n"}}},
		{"a tilde info string may", "~~~ a`b\nx\n~~~", []Block{{"a`b", "x\n"}}},
		{"unclosed runs to the end", "```sh\nls", []Block{{"sh", "ls\n"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CodeBlocks(tt.md); !slices.Equal(got, tt.want) {
				t.Errorf("CodeBlocks(%q) = %q, want %q", tt.md, got, tt.want)
			}
		})
	}
}
