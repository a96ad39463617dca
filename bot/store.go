package bot

import (
	"context"
	"sync"
	"time"
)

// Store is the memory behind admission: the events the bot has seen and
// the counters of its limits. In one process memoryStore is enough;
// several replicas share a RedisStore, so that an event Slack delivers to
// two of them is answered once and a limit counts every replica's answers.
type Store interface {
	// Admit is one request's whole check, in one call (one round trip to
	// Redis): it records the seen keys for ttl and, when none of them was
	// recorded already, adds one to each counter. A key already recorded
	// keeps its first expiry; a duplicate counts nothing.
	Admit(ctx context.Context, ttl time.Duration, seen []string, counters []Counter) (Admission, error)
	// Claim records keys for ttl and reports whether none of them was
	// recorded already.
	Claim(ctx context.Context, ttl time.Duration, keys ...string) (bool, error)
	// Spend adds n to each key's total; a key lives ttl from its first
	// spend.
	Spend(ctx context.Context, ttl time.Duration, n int64, keys ...string) error
}

// Counter is one limit a request counts against: a counter that lives
// Window from its first hit (a fixed window). A counter to Read is only
// read, not added to: a daily token budget, which Spend adds to when the
// request ends.
type Counter struct {
	Key    string
	Window time.Duration
	Read   bool
}

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

// maxMemoryKeys bounds memoryStore: a flood of distinct events must not
// grow the process without end. 100 000 keys are a few MB, and far more
// than Slack delivers to one app within the dedupe window.
const maxMemoryKeys = 100_000

// memoryStore is the Store of one process.
type memoryStore struct {
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

// NewMemoryStore is the store of one process, for a bot without Redis.
func NewMemoryStore() Store { return newMemoryStore(maxMemoryKeys, time.Now) }

// newMemoryStore returns an empty store holding at most max keys; now may
// be a fake clock.
func newMemoryStore(max int, now func() time.Time) *memoryStore {
	return &memoryStore{now: now, max: max, entries: make(map[string]memoryEntry), lastPrune: now()}
}

// Claim implements Store.
func (s *memoryStore) Claim(_ context.Context, ttl time.Duration, keys ...string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	return s.claim(now, ttl, keys), nil
}

// claim records the keys not yet recorded and reports whether that was
// all of them; the caller holds mu.
func (s *memoryStore) claim(now time.Time, ttl time.Duration, keys []string) bool {
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

// Admit implements Store.
func (s *memoryStore) Admit(_ context.Context, ttl time.Duration, seen []string, counters []Counter) (Admission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	if !s.claim(now, ttl, seen) {
		return Admission{}, nil
	}
	counts := make([]Count, len(counters))
	for i, c := range counters {
		if c.Read {
			e, _ := s.live(c.Key, now)
			counts[i] = Count{N: e.n, ResetIn: max(e.until.Sub(now), 0)}
			continue
		}
		counts[i] = s.count(now, c.Key, c.Window)
	}
	return Admission{Fresh: true, Counts: counts}, nil
}

// count adds one to key's counter; the caller holds mu.
func (s *memoryStore) count(now time.Time, key string, window time.Duration) Count {
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

// Spend implements Store.
func (s *memoryStore) Spend(_ context.Context, ttl time.Duration, n int64, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	for _, k := range keys {
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
func (s *memoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

func (s *memoryStore) live(key string, now time.Time) (memoryEntry, bool) {
	e, ok := s.entries[key]
	if !ok || !now.Before(e.until) {
		return memoryEntry{}, false
	}
	return e, true
}

// insert adds a new key, forgetting the oldest ones when the store is full.
func (s *memoryStore) insert(key string, e memoryEntry) {
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
func (s *memoryStore) prune(now time.Time) {
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
