package bench

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/visionbot/visionbot/internal/slackemu"
)

// tracker follows every request through the Slack calls the bot makes:
// when its first text became visible, and when its answer was final.
type tracker struct {
	slack *slackemu.Server

	mu      sync.Mutex
	sent    map[string]time.Time // thread ts → when the event was sent
	visible map[string]time.Time
	// sign is when the first sign of work (the thread's loading status, or
	// a reaction on the message) became visible.
	sign map[string]time.Time
	// held are the requests whose first visible text was their final
	// answer: posted whole, with nothing shown while it was written.
	held  map[string]bool
	final map[string]time.Time // when the final answer was applied
	done  map[string]chan struct{}
	calls map[string][]time.Time // method → when Slack applied each call
}

func newTracker(s *slackemu.Server) *tracker {
	return &tracker{
		slack: s, sent: map[string]time.Time{}, visible: map[string]time.Time{}, sign: map[string]time.Time{}, held: map[string]bool{},
		final: map[string]time.Time{}, done: map[string]chan struct{}{}, calls: map[string][]time.Time{},
	}
}

// expect registers a request before its event is sent.
func (t *tracker) expect(thread string, sent time.Time) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent[thread] = sent
	ch := make(chan struct{})
	t.done[thread] = ch
	return ch
}

// onCall sees each Web API call once Slack applied it.
func (t *tracker) onCall(c slackemu.Call) {
	thread := c.Params["thread_ts"]
	if thread == "" && c.Params["ts"] != "" {
		if m := t.slack.Message(c.Params["channel"], c.Params["ts"]); m != nil {
			thread, _ = m["thread_ts"].(string)
		}
	}
	shows, sign := false, false
	switch c.Method {
	case "assistant.threads.setStatus":
		sign = c.Params["status"] != ""
	case "reactions.add":
		// The bench's requests are top-level mentions: the message is the
		// thread.
		thread, sign = c.Params["timestamp"], true
	case "chat.startStream", "chat.appendStream", "chat.stopStream":
		shows = c.Params["markdown_text"] != ""
	case "chat.postMessage", "chat.update":
		text := c.Params["text"]
		shows = text != "" && !strings.Contains(text, "Looking at your photo")
	}
	// The feedback buttons go under the final answer only.
	final := isFinal(c.Params["blocks"])

	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls[c.Method] = append(t.calls[c.Method], c.At)
	if _, ok := t.sent[thread]; !ok {
		return
	}
	if _, seen := t.sign[thread]; sign && !seen {
		t.sign[thread] = c.At
	}
	if _, seen := t.visible[thread]; shows && !seen {
		t.visible[thread] = c.At
		t.held[thread] = final
	}
	if _, seen := t.final[thread]; final && !seen {
		t.final[thread] = c.At
	}
	if ch := t.done[thread]; final && ch != nil {
		close(ch)
		delete(t.done, thread)
	}
}

// firstText is how long a request waited for its first visible text, and
// whether that text was its whole final answer (held to the end).
func (t *tracker) firstText(thread string) (wait time.Duration, held, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.visible[thread]
	if !ok {
		return 0, false, false
	}
	return v.Sub(t.sent[thread]), t.held[thread], true
}

// firstSign is how long a request waited for the first sign that the bot
// was on it.
func (t *tracker) firstSign(thread string) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.sign[thread]
	if !ok {
		return 0, false
	}
	return v.Sub(t.sent[thread]), true
}

// perMinute is, for each method, the most calls made in any 60 seconds.
func (t *tracker) perMinute() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for method, at := range t.calls {
		at = slices.Clone(at)
		slices.SortFunc(at, time.Time.Compare) // concurrent calls may be recorded a little out of order
		most, lo := 0, 0
		for hi := range at {
			for at[hi].Sub(at[lo]) >= time.Minute {
				lo++
			}
			most = max(most, hi-lo+1)
		}
		out[method] = most
	}
	return out
}

// finalAt is when a request's final answer was applied, if it was.
func (t *tracker) finalAt(thread string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.final[thread]
	return at, ok
}

// sentAt is when a request's event was sent.
func (t *tracker) sentAt(thread string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent[thread]
}

// pending is how many requests have no final answer yet.
func (t *tracker) pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.done)
}

// isFinal reports whether a message's blocks are a final answer's: the
// footer, with its native feedback buttons, goes under the final answer
// only.
func isFinal(blocks string) bool { return strings.Contains(blocks, `"context_actions"`) }
