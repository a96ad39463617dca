package bot

import (
	"sync"
	"time"
)

// seenEvents remembers recent deliveries so that a retried or doubled event
// gets one answer. Slack retries for minutes; the memory lasts longer.
type seenEvents struct {
	mu        sync.Mutex
	ttl       time.Duration
	now       func() time.Time
	at        map[string]time.Time
	lastPrune time.Time
}

func newSeenEvents(ttl time.Duration, now func() time.Time) *seenEvents {
	return &seenEvents{ttl: ttl, now: now, at: make(map[string]time.Time), lastPrune: now()}
}

// first records keys and reports whether none of them was seen within the
// ttl. Empty keys (such as "event:" without an id) are ignored.
func (s *seenEvents) first(keys ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	fresh := true
	for _, k := range keys {
		if isEmptyKey(k) {
			continue
		}
		if t, ok := s.at[k]; ok && now.Sub(t) < s.ttl {
			fresh = false
		}
	}
	for _, k := range keys {
		if !isEmptyKey(k) {
			s.at[k] = now
		}
	}
	return fresh
}

// prune drops expired keys, at most once per ttl/4, so that the cost stays
// off the per-event path.
func (s *seenEvents) prune(now time.Time) {
	if now.Sub(s.lastPrune) < s.ttl/4 {
		return
	}
	s.lastPrune = now
	for k, t := range s.at {
		if now.Sub(t) >= s.ttl {
			delete(s.at, k)
		}
	}
}

func isEmptyKey(k string) bool {
	return k == "" || k[len(k)-1] == ':'
}
