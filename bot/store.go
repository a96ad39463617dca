package bot

import (
	"context"
	"sync"
	"time"
)

// Store is the memory behind the loop's filters: the events it has seen
// and the counters of its limits. In one process memoryStore is enough;
// several replicas share a RedisStore, so that an event Slack delivers to
// two of them is answered once and a limit counts every replica's answers.
type Store interface {
	// Claim records keys for ttl and reports whether none of them was
	// recorded already. A key already recorded keeps its first expiry.
	Claim(ctx context.Context, ttl time.Duration, keys ...string) (bool, error)
	// Count adds one to key's counter and returns the new count and how
	// long until the counter resets. A counter lives window from its
	// first hit (a fixed window).
	Count(ctx context.Context, key string, window time.Duration) (n int64, resetIn time.Duration, err error)
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

// newMemoryStore returns an empty store holding at most max keys (0 for
// maxMemoryKeys); now may be a fake clock.
func newMemoryStore(max int, now func() time.Time) *memoryStore {
	if max <= 0 {
		max = maxMemoryKeys
	}
	if now == nil {
		now = time.Now
	}
	return &memoryStore{now: now, max: max, entries: make(map[string]memoryEntry), lastPrune: now()}
}

// Claim implements Store.
func (s *memoryStore) Claim(_ context.Context, ttl time.Duration, keys ...string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	fresh := true
	for _, k := range keys {
		if _, ok := s.live(k, now); ok {
			fresh = false
			continue
		}
		s.insert(k, memoryEntry{n: 1, until: now.Add(ttl)})
	}
	return fresh, nil
}

// Count implements Store.
func (s *memoryStore) Count(_ context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	e, ok := s.live(key, now)
	if !ok {
		e = memoryEntry{n: 1, until: now.Add(window)}
		s.insert(key, e)
		return e.n, window, nil
	}
	e.n++
	s.entries[key] = e
	return e.n, e.until.Sub(now), nil
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
