package settings

import (
	"testing"
	"time"
)

type sample struct {
	Wait  time.Duration `env:"SETTINGS_TEST_WAIT" envDefault:"3m"`
	Count int           `env:"SETTINGS_TEST_COUNT"`
	Inner struct {
		Name string `env:"SETTINGS_TEST_NAME" envDefault:"inner"`
	}
}

// The defaults are the tags', whatever this process's environment says.
func TestDefaultsIgnoreTheEnvironment(t *testing.T) {
	t.Setenv("SETTINGS_TEST_WAIT", "1s")
	t.Setenv("SETTINGS_TEST_COUNT", "7")
	t.Setenv("SETTINGS_TEST_NAME", "outer")
	got := Defaults[sample]()
	if got.Wait != 3*time.Minute || got.Count != 0 || got.Inner.Name != "inner" {
		t.Errorf("Defaults = %+v, want the tags' defaults and zero", got)
	}
}

// A default that does not parse is a mistake found at once.
func TestDefaultThatDoesNotParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Defaults did not panic")
		}
	}()
	Defaults[struct {
		N int `env:"SETTINGS_TEST_N" envDefault:"many"`
	}]()
}
