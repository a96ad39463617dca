package slackmd

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		mark string
		want string
	}{
		{"hello", 10, "…", "hello"},
		{"hello", 5, "…", "hello"},
		{"hello world", 8, "…", "hello…"}, // "…" is three bytes
		{"hello", 3, "", "hel"},
		{"héllo", 2, "", "h"}, // é is two bytes: not cut in half
		{"héllo", 3, "", "hé"},
		{"日本", 4, "", "日"},
		{"日本", 2, "", ""},
		{"hello", 2, "…", ""},
		{"hello", 3, "…", "…"},
	}
	for _, tt := range tests {
		if got := Cut(tt.s, tt.max, tt.mark); got != tt.want {
			t.Errorf("Cut(%q, %d, %q) = %q, want %q", tt.s, tt.max, tt.mark, got, tt.want)
		}
	}
}

func TestCutChars(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"Healthy?", 8, "Healthy?"},
		{"Healthy?", 5, "Heal…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"🥗 Salad", 3, "🥗 …"},
		{"ab", 1, "…"},
	}
	for _, tt := range tests {
		if got := CutChars(tt.s, tt.max, "…"); got != tt.want || utf8.RuneCountInString(got) > tt.max {
			t.Errorf("CutChars(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestNotification(t *testing.T) {
	long := strings.Repeat("é", 2000) // 4000 bytes
	if got := Notification(long); len(got) > notificationLimit+len("…") || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("Notification of %d bytes: %d bytes, ends %q", len(long), len(got), got[len(got)-6:])
	}
	if got := Notification("short"); got != "short" {
		t.Errorf("Notification(short) = %q", got)
	}
}
