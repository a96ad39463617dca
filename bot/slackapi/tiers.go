package slackapi

import (
	"context"
	"sync"
	"time"
)

// tiers keeps the bot's calls to each Slack method within that method's
// rate tier for the workspace, counting the calls of the last minute. Calls
// that only make an answer appear sooner (stream appends, live edits,
// progress reactions) ask first and are coalesced or skipped when the
// minute is full; calls that deliver a final answer are always made, and
// live edits leave a reserve for them.
//
// Slack's tiers are per workspace, so replicas count their calls together
// in Redis (shared). When Redis fails, a replica keeps within its share:
// each limit divided by the replicas it last saw alive, and by two at
// least, since another may have started meanwhile; it never takes the
// whole tier for itself. Its own calls are always counted here too, so
// that its share knows the minute's calls it made through Redis.
type tiers struct {
	mu     sync.Mutex
	now    func() time.Time
	limits map[string]int
	calls  map[string][]time.Time // per method, the last minute's calls, oldest first
	shared SharedTiers            // nil: this process is the whole app
}

// SharedTiers counts the calls of every replica of the app against the
// tiers: Replicas, in Redis.
type SharedTiers interface {
	// Take records a call of each method and reports true when every one
	// has room beyond reserve in the last minute; it records nothing when
	// one has not. With limits nil it records the calls whatever the
	// budget. An error is a count not made. It asks on ctx, the
	// request's: a request that ended waits on no count.
	Take(ctx context.Context, limits map[string]int, reserve int, methods []string) (bool, error)
	// Count is how many replicas were alive when last seen; 0 for none.
	Count() int
}

// slackTiers are the per-minute rates of the methods the bot calls while
// answering (Slack's tiers: 2 is 20+, 3 is 50+, 4 is 100+ per minute).
func slackTiers() map[string]int {
	return map[string]int{
		"chat.startStream":  20, // Tier 2
		"chat.stopStream":   20, // Tier 2
		"chat.appendStream": 100,
		"chat.update":       50,
		"reactions.add":     50,
		"reactions.remove":  50,
		// Slack gives assistant.threads.setStatus "special" limits without
		// a number: it is held to Tier 3, with each status's clearing
		// reserved when it is set.
		"assistant.threads.setStatus":           50,
		"agents.sessions.setStatus":             50,  // Tier 3
		"assistant.threads.setSuggestedPrompts": 100, // Tier 4
		// An answer's code shared as files: one URL per file, one call to
		// share them.
		"files.getUploadURLExternal":   100, // Tier 4
		"files.completeUploadExternal": 100, // Tier 4
	}
}

// Live updates share a tier among every answer being written. The first
// words of an answer matter most, so only an answer's first append or edit
// may use the whole minute; later ones leave this much of it to answers
// that have shown nothing yet.
const (
	laterAppendReserve = 20 // a first append for each stream chat.startStream's tier allows
	laterEditReserve   = 25 // half of chat.update's minute
)

func newTiers(limits map[string]int, now func() time.Time) *tiers {
	return &tiers{now: now, limits: limits, calls: map[string][]time.Time{}}
}

// take records a call of each method (a method named twice, two calls)
// and reports true when every one of them has room in the last minute,
// beyond reserve calls kept back; it records nothing when one has not.
func (b *tiers) take(ctx context.Context, reserve int, methods ...string) bool {
	if b.shared != nil {
		ok, err := b.shared.Take(ctx, b.limits, reserve, methods)
		if err == nil {
			if ok {
				b.record(methods...)
			}
			return ok
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	share := b.share()
	for _, m := range methods {
		need := 0
		for _, o := range methods {
			if o == m {
				need++
			}
		}
		// The reserve shrinks with the share, so that a share still has
		// room for first words.
		if limit, ok := b.limits[m]; ok && len(b.recent(m, now))+need > (limit-reserve)/share {
			return false
		}
	}
	b.recordLocked(now, methods...)
	return true
}

// share is how many replicas this one shares the tiers with while it
// counts alone: 1 without replicas.
func (b *tiers) share() int {
	if b.shared == nil {
		return 1
	}
	return max(b.shared.Count(), 2)
}

// takeTwice records two calls of method when the minute has room for both:
// one now, and the one that will take down what it puts up (take counts a
// method named twice as two calls).
func (b *tiers) takeTwice(ctx context.Context, method string) bool {
	return b.take(ctx, 0, method, method)
}

// force records a call made whatever the tier: the final answer.
func (b *tiers) force(ctx context.Context, method string) {
	if b.shared != nil {
		_, _ = b.shared.Take(ctx, nil, 0, []string{method})
	}
	b.record(method)
}

func (b *tiers) record(methods ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recordLocked(b.now(), methods...)
}

func (b *tiers) recordLocked(now time.Time, methods ...string) {
	for _, m := range methods {
		b.calls[m] = append(b.recent(m, now), now)
	}
}

// recent drops the calls older than a minute and returns the rest.
func (b *tiers) recent(method string, now time.Time) []time.Time {
	calls := b.calls[method]
	i := 0
	for i < len(calls) && now.Sub(calls[i]) >= time.Minute {
		i++
	}
	calls = calls[i:]
	b.calls[method] = calls
	return calls
}
