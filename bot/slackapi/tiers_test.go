package slackapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/queue"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/redistest"
)

func TestBudget(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	clock := time.Unix(1700000000, 0)
	b := newTiers(map[string]int{"a": 3, "b": 1}, func() time.Time { return clock })
	steps := []struct {
		name    string
		advance time.Duration
		do      func() bool
		want    bool
	}{
		{"first call", 0, func() bool { return b.take(ctx, 0, "a") }, true},
		{"second call", 0, func() bool { return b.take(ctx, 0, "a") }, true},
		{"a reserve of one keeps the third back", 0, func() bool { return b.take(ctx, 1, "a") }, false},
		{"without reserve the third fits", 0, func() bool { return b.take(ctx, 0, "a") }, true},
		{"the fourth is over the tier", 0, func() bool { return b.take(ctx, 0, "a") }, false},
		{"both or neither: b has room, a has not", 0, func() bool { return b.take(ctx, 0, "b", "a") }, false},
		{"so b was not recorded", 0, func() bool { return b.take(ctx, 0, "b") }, true},
		{"a method without a tier always fits", 0, func() bool { return b.take(ctx, 0, "c") }, true},
		{"a minute later the calls have aged out", time.Minute, func() bool { return b.take(ctx, 0, "a") }, true},
		{"forced calls count", 0, func() bool { b.force(ctx, "a"); b.force(ctx, "a"); return b.take(ctx, 0, "a") }, false},
		{"a minute on, a method named twice is two calls", time.Minute, func() bool { return b.take(ctx, 0, "a", "a") }, true},
		{"and they count as two", 0, func() bool { return b.take(ctx, 0, "a", "a") }, false},
		{"so the one left still fits", 0, func() bool { return b.take(ctx, 0, "a") }, true},
	}
	for _, s := range steps {
		clock = clock.Add(s.advance)
		if got := s.do(); got != s.want {
			t.Fatalf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
}

func TestStreamsBeyondTheTierFallBackToEdits(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	api.stream = filled(StreamConfig{Mode: StreamNative, Interval: 10 * time.Millisecond})
	api.tiers = newTiers(map[string]int{"chat.startStream": 1, "chat.stopStream": 1, "chat.update": 50}, time.Now)
	ctx := context.Background()
	for i, thread := range []string{"1700000000.000100", "1700000000.000200"} {
		r := api.For(Unleased{}).OpenReply(ctx, handlers.Thread{Channel: "C1", TS: thread, User: "U1", Team: "T1"})
		// The first opens a stream, the second (over the tier) a placeholder.
		opened := "chat.startStream"
		if i == 1 {
			opened = "chat.postMessage"
		}
		if _, err := emu.WaitCalls(opened, 1, 10*time.Second); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		r.Append("Hello")
		if err := r.Finish(ctx, "Hello there.", nil); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	if n := len(emu.Calls("chat.startStream")); n != 1 {
		t.Errorf("chat.startStream called %d times, the tier allows 1", n)
	}
	posted := emu.Posted("C1")
	if len(posted) != 2 {
		t.Fatalf("posted %d messages, want 2", len(posted))
	}
	for _, p := range posted {
		if p.Markdown() != "Hello there." {
			t.Errorf("message %s shows %q", p.TS, p.Markdown())
		}
	}
}

// Every reaction the bot adds reserves its removal, so that taking :eyes:
// off never goes over reactions.remove's tier, and a reaction that could
// not be added is not removed either.
func TestReactionsStayWithinTheirTiers(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	clock := time.Unix(1700000000, 0)
	now := func() time.Time { return clock }
	api.now = now
	api.tiers = newTiers(map[string]int{"reactions.add": 2, "reactions.remove": 2}, now)
	ctx := context.Background()
	ts := []string{emu.AddMessage("C1", map[string]any{"text": "a"}), emu.AddMessage("C1", map[string]any{"text": "b"}),
		emu.AddMessage("C1", map[string]any{"text": "c"})}
	steps := []struct {
		name    string
		advance time.Duration
		call    func() error
		skipped bool
	}{
		{"the first :eyes:", 0, func() error { return api.For(Unleased{}).AddReaction(ctx, "C1", ts[0], "eyes") }, false},
		{"the second :eyes:", 0, func() error { return api.For(Unleased{}).AddReaction(ctx, "C1", ts[1], "eyes") }, false},
		{"a third add is over the tier", 0, func() error { return api.For(Unleased{}).AddReaction(ctx, "C1", ts[2], "eyes") }, true},
		{"removing a reserved reaction needs no room", 0, func() error { return api.For(Unleased{}).RemoveReaction(ctx, "C1", ts[0], "eyes") }, false},
		{"nor does the other", 0, func() error { return api.For(Unleased{}).RemoveReaction(ctx, "C1", ts[1], "eyes") }, false},
		{"a reservation is used once", 0, func() error { return api.For(Unleased{}).RemoveReaction(ctx, "C1", ts[1], "eyes") }, true},
		{"an unreserved removal needs room", 0, func() error { return api.For(Unleased{}).RemoveReaction(ctx, "C1", ts[2], "eyes") }, true},
		{"a minute later the tier has room again", time.Minute, func() error { return api.For(Unleased{}).AddReaction(ctx, "C1", ts[2], "eyes") }, false},
		{"and a reservation older than the window is gone", 2 * time.Minute, func() error { return api.For(Unleased{}).RemoveReaction(ctx, "C1", ts[2], "eyes") }, false},
	}
	for _, s := range steps {
		clock = clock.Add(s.advance)
		err := s.call()
		if got := errors.Is(err, handlers.ErrNotShown); got != s.skipped {
			t.Fatalf("%s: err = %v, want skipped %v", s.name, err, s.skipped)
		}
		if err != nil && !s.skipped {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if adds, removes := len(emu.Calls("reactions.add")), len(emu.Calls("reactions.remove")); adds != 3 || removes != 3 {
		t.Errorf("Slack saw %d adds and %d removals, want 3 and 3", adds, removes)
	}
}

// A placeholder books its final edit when it is posted, and only an
// answer's first edit may use the whole minute: however many answers run,
// chat.update stays within its tier, and an answer that found no room is
// posted whole.
func TestEditsStayWithinTheirTier(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	api.stream = filled(StreamConfig{Mode: StreamUpdate, Interval: 10 * time.Millisecond})
	api.tiers = newTiers(map[string]int{"chat.update": 3}, time.Now)
	ctx := context.Background()
	threads := []string{"1700000000.000100", "1700000000.000200", "1700000000.000300"}
	var replies []handlers.Reply
	open := func(i int) handlers.Reply {
		r := api.For(Unleased{}).OpenReply(ctx, handlers.Thread{Channel: "C1", TS: threads[i], User: "U1", Team: "T1"})
		replies = append(replies, r)
		return r
	}
	a := open(0)
	if _, err := emu.WaitCalls("chat.postMessage", 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	a.Append("First words of A")
	if _, err := emu.WaitCalls("chat.update", 1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b := open(1) // books the last edit of the minute: its first words wait
	if _, err := emu.WaitCalls("chat.postMessage", 2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b.Append("First words of B")
	open(2) // no room for a final edit: no placeholder
	for i, r := range replies {
		if err := r.Finish(ctx, fmt.Sprintf("Answer %d.", i), nil); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	if n := len(emu.Calls("chat.update")); n > 3 {
		t.Errorf("chat.update called %d times, the tier allows 3", n)
	}
	posted := emu.Posted("C1")
	if len(posted) != 3 {
		t.Fatalf("posted %d messages, want 3", len(posted))
	}
	for i, p := range posted {
		if want := fmt.Sprintf("Answer %d.", i); p.Markdown() != want {
			t.Errorf("message %d shows %q, want %q", i, p.Markdown(), want)
		}
	}
}

// sharedBudget is a replica's budget counting in srv's Redis, as
// API.ShareTiers makes it.
func sharedBudget(t *testing.T, srv *redistest.Server, name string) (*tiers, *queue.Replicas) {
	t.Helper()
	store.RouteRedisLogs(zap.NewNop())
	store, err := store.NewRedis(srv.URL(), zap.NewNop(), store.DefaultRedisOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	r := queue.NewReplicas(store.Link(), name, []byte("xoxb-tiers-test"))
	t.Cleanup(func() { _ = r.Close() })
	b := newTiers(slackTiers(), time.Now)
	b.shared = r
	return b, r
}

// Slack's tiers are the workspace's: three replicas taking at once get the
// tier between them, never more, and a final answer one replica forces
// counts for the others.
func TestSharedTiersAcrossReplicas(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	srv := redistest.Start(t)
	budgets := make([]*tiers, 3)
	for i := range budgets {
		budgets[i], _ = sharedBudget(t, srv, fmt.Sprintf("r%d", i))
	}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for _, b := range budgets {
		wg.Go(func() {
			for range 15 {
				if b.take(ctx, 0, "chat.startStream", "chat.stopStream") {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if tier := int64(slackTiers()["chat.startStream"]); granted.Load() != tier {
		t.Errorf("the replicas started %d streams in a minute, want Tier 2's %d", granted.Load(), tier)
	}
	for range slackTiers()["chat.update"] - laterEditReserve {
		budgets[0].force(ctx, "chat.update")
	}
	if budgets[1].take(ctx, laterEditReserve, "chat.update") {
		t.Error("a later edit took the reserve the other replica's final edits used up")
	}
	if !budgets[2].take(ctx, 0, "chat.update") {
		t.Error("a first edit found no room left in the tier")
	}
}

// When Redis fails, a replica counts alone within its share: the tier
// divided by the replicas it last saw alive, by two at least, counting
// the calls it made through Redis in that minute.
func TestSharedTiersFallBackToAShare(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	srv := redistest.Start(t)
	// How many replicas each last saw alive is the queue's to count
	// (queue.Replicas, tested there); here it is given.
	seenThree, r := sharedBudget(t, srv, "r0")
	seenThree.shared = liveCount{r, 3}
	alone, r := sharedBudget(t, srv, "alone")
	alone.shared = liveCount{r, 1}
	for range 10 {
		if !alone.take(ctx, 0, "chat.update") {
			t.Fatal("a take through Redis was refused")
		}
	}
	srv.Stop()
	takes := func(b *tiers) int {
		n := 0
		for range 60 {
			if b.take(ctx, 0, "chat.update") {
				n++
			}
		}
		return n
	}
	if got := takes(seenThree); got != 50/3 {
		t.Errorf("a replica that saw three took %d edits alone, want a third of 50, %d", got, 50/3)
	}
	if got := takes(alone); got != 50/2-10 {
		t.Errorf("a replica that saw itself alone took %d more edits, want half of 50 less the 10 it made, %d", got, 50/2-10)
	}
}

// liveCount is shared tiers whose replicas last seen alive are n.
type liveCount struct {
	SharedTiers
	n int
}

func (l liveCount) Count() int { return l.n }

// A loading status and a "processing" session each book the call that
// takes them down: within the tier, nothing the bot puts up is left up for
// want of room, and what finds no room is skipped, not queued.
func TestAgentCallsStayWithinTheirTiers(t *testing.T) {
	t.Parallel()

	api, emu := newTestAPI(t)
	api.tiers = newTiers(map[string]int{"assistant.threads.setStatus": 4, "agents.sessions.setStatus": 4}, time.Now)
	ctx := context.Background()
	ts := []string{emu.AddMessage("C1", map[string]any{"text": "a"}), emu.AddMessage("C1", map[string]any{"text": "b"}),
		emu.AddMessage("C1", map[string]any{"text": "c"})}
	status := func(i int, s string) func() error {
		return func() error { return api.For(Unleased{}).SetStatus(ctx, "C1", ts[i], s, []string{"Reading…"}) }
	}
	session := func(i int, s string) func() error {
		return func() error { return api.For(Unleased{}).SetSession(ctx, "C1", ts[i], s) }
	}
	steps := []struct {
		name    string
		call    func() error
		skipped bool
	}{
		{"the first status, and its clearing booked", status(0, "is looking…"), false},
		{"the second", status(1, "is looking…"), false},
		{"a third status is over the tier", status(2, "is looking…"), true},
		{"clearing a booked status needs no room", status(0, ""), false},
		{"nor does the other", status(1, ""), false},
		{"a status never set has no clearing booked", status(2, ""), true},
		{"the first session processing", session(0, "processing"), false},
		{"the second", session(1, "processing"), false},
		{"a third is over the tier", session(2, "processing"), true},
		{"its end is booked", session(0, "active"), false},
		{"and the other's", session(1, "active"), false},
		{"a booking is used once", session(1, "active"), true},
	}
	for _, s := range steps {
		err := s.call()
		if got := errors.Is(err, handlers.ErrNotShown); got != s.skipped {
			t.Fatalf("%s: err = %v, want skipped %v", s.name, err, s.skipped)
		}
		if err != nil && !s.skipped {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if st, se := len(emu.Calls("assistant.threads.setStatus")), len(emu.Calls("agents.sessions.setStatus")); st != 4 || se != 4 {
		t.Errorf("Slack saw %d setStatus and %d sessions.setStatus calls, want 4 and 4", st, se)
	}
}

// A tier check asks Redis on the request's context: one for a request
// that ended counts nothing there, and is not taken for Redis failing.
func TestSharedTiersAskOnTheRequestsContext(t *testing.T) {
	srv := redistest.Start(t)
	b, r := sharedBudget(t, srv, "r0")
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	b.take(ended, 0, "chat.update")
	n, err := redistest.Client(t, srv.URL()).ZCard(context.Background(), "visionbot:tier:chat.update").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("Redis counts %d chat.update calls of a request that had ended, want none", n)
	}
	if r.IsDown() {
		t.Error("a request that ended made its replica take Redis for failed")
	}
	if !b.take(context.Background(), 0, "chat.update") || r.IsDown() {
		t.Error("the next request's check did not go through Redis")
	}
}
