package handlers

import (
	"maps"
	"testing"
)

// A size is configured in whole megabytes and kept in bytes; anything
// else is refused with what it should be.
func TestSizeReadsWholeMegabytes(t *testing.T) {
	tests := []struct {
		text string
		want Size
		ok   bool
	}{
		{"20", 20 << 20, true},
		{" 13 ", 13 << 20, true},
		{"0", 0, true},
		{"1.5", 0, false},
		{"20MB", 0, false},
		{"", 0, false},
		{"9000000000000", 0, false}, // more bytes than an int64 holds
	}
	for _, tt := range tests {
		var got Size
		err := got.UnmarshalText([]byte(tt.text))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d, ok %v", tt.text, got, err, tt.want, tt.ok)
		}
	}
}

// The defaults are read from the settings' tags: the reaction triggers,
// in the one string README shows too, and the image limits in bytes.
func TestDefaultsComeFromTheTags(t *testing.T) {
	want := Reactions{
		"fork_and_knife": "recipe", "mag": "describe", "apple": "healthy", "bar_chart": "nutrition",
		"computer": "code", "world_map": "guide", "art": "doodle",
	}
	if got := DefaultReactions(); !maps.Equal(got, want) {
		t.Errorf("DefaultReactions = %v, want %v", got, want)
	}
	cfg := DefaultConfig()
	if cfg.MaxImages != 4 || cfg.MaxFileBytes != 20<<20 || cfg.MaxRequestBytes != 13<<20 || cfg.MaxQuestion != 2000 {
		t.Errorf("DefaultConfig's limits = %+v, %+v", cfg.ImageLimits, cfg.Settings)
	}
}
