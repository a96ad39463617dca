// Package settings reads the defaults that a package's settings struct
// declares in its envDefault tags, so that each default is written once,
// beside its setting. cmd/visionbot reads the same structs from the
// environment with caarlos0/env.
package settings

import "github.com/caarlos0/env/v11"

// Defaults is T as an empty environment leaves it: each field with an
// envDefault tag holds that default, every other field its zero value. It
// panics when a default does not parse: a mistake in a tag, which the
// first test of T's package to ask for its defaults shows.
func Defaults[T any]() T {
	// An empty map, not nil: with no Environment, env reads this
	// process's own, and a default would depend on where it ran.
	return env.Must(env.ParseAsWithOptions[T](env.Options{Environment: map[string]string{}}))
}
