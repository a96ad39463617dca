// Package store is what admission remembers: the events the bot has seen,
// the counters of its limits and the day's token allowances, in this
// process's memory (Memory) or, for replicas, in Redis (Redis), which
// falls back to memory while Redis does not answer. It knows nothing of
// Slack: keys and counters are strings and numbers.
package store

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Counter is one limit a request counts against: a counter that lives
// Window from its first hit (a fixed window). A counter to Read is only
// read, not added to: a daily token allowance, which Spend adds to when the
// request ends. Its Key names its day with Today, and its count resets at
// the end of that day: both by the store's clock (Window is not used).
type Counter struct {
	Key    string
	Window time.Duration
	Read   bool
}

// Today stands for the day in the key of a daily token allowance
// ("spend:{day}:user:U1"): the store puts in its own UTC day (2026-12-02),
// by its own clock, Redis's for replicas. A replica's clock may be off by
// a second or more from another's; if each named the day itself, near
// midnight one would charge a person's tokens to a day the other no longer
// reads.
const Today = "{day}"

// utcDay is the UTC day t falls in, as allowance keys name it.
func utcDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// untilMidnight is how long until the UTC day of t ends.
func untilMidnight(t time.Time) time.Duration {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC).Sub(t)
}

// ofDay is key with its Today put in.
func ofDay(key string, now time.Time) string { return strings.Replace(key, Today, utcDay(now), 1) }

// Admission is what the store says of a request.
type Admission struct {
	// Fresh is false when one of the seen keys was recorded already.
	Fresh bool
	// Counts are the counters after this request, in the order asked;
	// nil when it was no fresh request.
	Counts []Count
}

// Count is a counter's value and how long until it resets.
type Count struct {
	N       int64
	ResetIn time.Duration
}

// maxMemoryKeys bounds Memory: a flood of distinct events must not
// grow the process without end. 100 000 keys are a few MB, and far more
// than Slack delivers to one app within the dedupe window.
const maxMemoryKeys = 100_000

// Memory is the store of one process.
type Memory struct {
	mu      sync.Mutex
	now     func() time.Time
	max     int
	entries map[string]memoryEntry
	// order holds keys in insertion order, so that a full store forgets its
	// oldest keys first. It may hold keys already pruned; prune compacts it.
	order     []orderedKey
	lastPrune time.Time
}

type memoryEntry struct {
	n     int64
	until time.Time
}

type orderedKey struct {
	key   string
	until time.Time // identifies the entry the key was inserted with
}

// NewMemory is the store of one process, for a bot without Redis.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return newMemory(maxMemoryKeys, now)
}

// newMemory returns an empty store holding at most max keys; now may
// be a fake clock.
func newMemory(max int, now func() time.Time) *Memory {
	return &Memory{now: now, max: max, entries: make(map[string]memoryEntry), lastPrune: now()}
}

// Remember implements bot.Store.
func (s *Memory) Remember(_ context.Context, ttl time.Duration, keys ...string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	return s.remember(now, ttl, keys), nil
}

// remember records the keys not yet recorded and reports whether that was
// all of them; the caller holds mu.
func (s *Memory) remember(now time.Time, ttl time.Duration, keys []string) bool {
	fresh := true
	for _, k := range keys {
		if _, ok := s.live(k, now); ok {
			fresh = false
			continue
		}
		s.insert(k, memoryEntry{n: 1, until: now.Add(ttl)})
	}
	return fresh
}

// Admit implements bot.Store.
func (s *Memory) Admit(_ context.Context, ttl time.Duration, seen []string, counters []Counter) (Admission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	if !s.remember(now, ttl, seen) {
		return Admission{}, nil
	}
	counts := make([]Count, len(counters))
	for i, c := range counters {
		if c.Read {
			e, _ := s.live(ofDay(c.Key, now), now)
			counts[i] = Count{N: e.n, ResetIn: untilMidnight(now)}
			continue
		}
		counts[i] = s.count(now, c.Key, c.Window)
	}
	return Admission{Fresh: true, Counts: counts}, nil
}

// count adds one to key's counter; the caller holds mu.
func (s *Memory) count(now time.Time, key string, window time.Duration) Count {
	e, ok := s.live(key, now)
	if !ok {
		e = memoryEntry{n: 1, until: now.Add(window)}
		s.insert(key, e)
		return Count{N: e.n, ResetIn: window}
	}
	e.n++
	s.entries[key] = e
	return Count{N: e.n, ResetIn: e.until.Sub(now)}
}

// Spend implements bot.Store: n is added to each key's total of today
// (Today in a key is the store's day).
func (s *Memory) Spend(_ context.Context, ttl time.Duration, n int64, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	for _, k := range keys {
		k = ofDay(k, now)
		if e, ok := s.live(k, now); ok {
			e.n += n
			s.entries[k] = e
			continue
		}
		s.insert(k, memoryEntry{n: n, until: now.Add(ttl)})
	}
	return nil
}

// Len is how many keys the store holds, for the test of its bound.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *Memory) live(key string, now time.Time) (memoryEntry, bool) {
	e, ok := s.entries[key]
	if !ok || !now.Before(e.until) {
		return memoryEntry{}, false
	}
	return e, true
}

// insert adds a new key, forgetting the oldest ones when the store is full.
func (s *Memory) insert(key string, e memoryEntry) {
	for len(s.entries) >= s.max && len(s.order) > 0 {
		old := s.order[0]
		s.order = s.order[1:]
		if cur, ok := s.entries[old.key]; ok && cur.until.Equal(old.until) {
			delete(s.entries, old.key)
		}
	}
	s.entries[key] = e
	s.order = append(s.order, orderedKey{key: key, until: e.until})
}

// prune drops expired keys at most once a minute, so that the cost stays
// off most calls, and compacts the insertion order with them.
func (s *Memory) prune(now time.Time) {
	if now.Sub(s.lastPrune) < time.Minute {
		return
	}
	s.lastPrune = now
	kept := s.order[:0]
	for _, o := range s.order {
		cur, ok := s.entries[o.key]
		switch {
		case !ok || !cur.until.Equal(o.until):
			// pruned before, or replaced by a newer entry with its own place
		case !now.Before(cur.until):
			delete(s.entries, o.key)
		default:
			kept = append(kept, o)
		}
	}
	clear(s.order[len(kept):])
	s.order = kept
}
