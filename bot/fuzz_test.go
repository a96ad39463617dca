package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"
)

// socketEvent turns one raw Socket Mode frame into the Event the loop
// receives, as slack-go v0.35.0's (*socketmode.Client).parseEvent does
// (unexported there): a frame it cannot parse arrives as an
// ErrorBadMessage carrying the raw bytes.
func socketEvent(frame []byte) socketmode.Event {
	bad := func(err error) socketmode.Event {
		return socketmode.Event{Type: socketmode.EventTypeErrorBadMessage,
			Data: &socketmode.ErrorBadMessage{Cause: err, Message: json.RawMessage(frame)}}
	}
	req := &socketmode.Request{}
	if err := json.Unmarshal(frame, req); err != nil {
		return bad(err)
	}
	switch req.Type {
	case socketmode.RequestTypeHello:
		return socketmode.Event{Type: socketmode.EventTypeHello, Request: req}
	case socketmode.RequestTypeDisconnect:
		return socketmode.Event{Type: socketmode.EventTypeDisconnect, Request: req}
	case socketmode.RequestTypeEventsAPI:
		ev, err := slackevents.ParseEvent(req.Payload, slackevents.OptionNoVerifyToken())
		if err != nil {
			return bad(err)
		}
		return socketmode.Event{Type: socketmode.EventTypeEventsAPI, Data: ev, Request: req}
	case socketmode.RequestTypeSlashCommands:
		var cmd slack.SlashCommand
		if err := json.Unmarshal(req.Payload, &cmd); err != nil {
			return bad(err)
		}
		return socketmode.Event{Type: socketmode.EventTypeSlashCommand, Data: cmd, Request: req}
	case socketmode.RequestTypeInteractive:
		var cb slack.InteractionCallback
		if err := json.Unmarshal(req.Payload, &cb); err != nil {
			return bad(err)
		}
		return socketmode.Event{Type: socketmode.EventTypeInteractive, Data: cb, Request: req}
	}
	return bad(fmt.Errorf("unsupported type %q", req.Type))
}

// envelopeSeeds are real frames: the Socket Mode fixtures as they are, and
// every Events API and interactive payload fixture wrapped in an envelope.
func envelopeSeeds(f *testing.F) [][]byte {
	f.Helper()
	root := filepath.Join("..", "internal", "fixtures", "data", "slack")
	var seeds [][]byte
	for _, dir := range []struct{ name, envelope string }{
		{"socketmode", ""}, {"events", "events_api"}, {"interactive", "interactive"},
	} {
		paths, err := filepath.Glob(filepath.Join(root, dir.name, "*.json"))
		if err != nil || len(paths) == 0 {
			f.Fatalf("no fixtures in %s: %v", dir.name, err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			if dir.envelope != "" {
				data = fmt.Appendf(nil, `{"envelope_id":"env-%s","type":%q,"accepts_response_payload":false,"payload":%s}`,
					filepath.Base(p), dir.envelope, data)
			}
			seeds = append(seeds, data)
		}
	}
	return append(seeds,
		[]byte(`{"envelope_id":"bad-1","type":"events_api","payload":{"type":"event_callback","event":"not an object"}}`),
		[]byte(`{"envelope_id":"bad-2","type":"interactive","payload":{"type":"block_actions","actions":[{"action_id":"rerun","block_id":"%%%"}]}}`),
		[]byte(`{"envelope_id":"bad-3","type":"slash_commands","payload":[]}`),
		[]byte(`{"envelope_id":"bad-4","type":"mystery"}`),
		[]byte(`not json`),
	)
}

// FuzzEnvelope sends arbitrary frames through the loop's routing: none may
// panic, and every request envelope with an id is acked exactly once,
// whatever its payload holds (Slack redelivers what is not acked).
func FuzzEnvelope(f *testing.F) {
	for _, seed := range envelopeSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		socket, flows := &fakeSocket{}, &fakeFlows{}
		b := New(socket, nil, flows, Identity{UserID: "UBOT", BotID: "BBOT"}, zap.NewNop(), testConfig(2, 4))
		b.pool.start(context.Background(), time.Minute)
		deliver(b, socketEvent(frame))
		b.pool.stop(10 * time.Second)

		var env struct {
			EnvelopeID string `json:"envelope_id"`
			Type       string `json:"type"`
		}
		if json.Unmarshal(frame, &env) != nil || env.EnvelopeID == "" {
			return
		}
		request := env.Type == "events_api" || env.Type == "slash_commands" || env.Type == "interactive"
		if request && len(socket.acks) != 1 {
			t.Errorf("envelope %q of type %s acked %d times, want once", env.EnvelopeID, env.Type, len(socket.acks))
		}
		if len(socket.acks) > 1 {
			t.Errorf("envelope %q acked %d times", env.EnvelopeID, len(socket.acks))
		}
	})
}

// FuzzSplitMarkdown splits arbitrary answers at arbitrary limits: every
// part fits, none ends inside a code block but the last, the split stops
// at the parts asked for, and every part takes its share of the answer
// (what a part reopens a code block with is bounded, whatever the model
// wrote), so an answer of n bytes is a few n/limit parts at most.
func FuzzSplitMarkdown(f *testing.F) {
	long := strings.Repeat("abcdefghij", 300)
	for _, seed := range []string{
		"hello",
		strings.Repeat("para one two three\n\n", 20),
		"Intro\n\n```go\n" + strings.Repeat("fmt.Println(\"x\")\n", 20) + "```\n\nOutro",
		"```" + long + "\ncode\n```",
		"```" + strings.Repeat("go ", 500) + "\nx\n```",
		strings.Repeat("`", 2000) + "\nx",
		"````python title=x\n" + strings.Repeat("é", 500) + "\n````",
		"   ```c++\n" + strings.Repeat("int x;\n", 100),
		strings.Repeat("```\n", 300),
	} {
		f.Add(seed, uint16(100), uint8(0))
		f.Add(seed, uint16(1000), uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, limitSeed uint16, mostSeed uint8) {
		// From the least limit that keeps fences (see splitMarkdown) up.
		limit := 64 + int(limitSeed)%4096
		most := allParts
		if mostSeed > 0 {
			most = int(mostSeed) % 8
		}
		all := splitMarkdown(s, limit, allParts)
		// Each part but the last takes more than half of what is left
		// of its room once a fence is reopened and kept room to close.
		share := (limit - (maxFenceRun + maxFenceTag + 1) - (1 + maxFenceRun)) / 2
		if bound := len(s)/share + 1; len(all) > bound {
			t.Fatalf("%d parts for %d bytes at %d, want at most %d", len(all), len(s), limit, bound)
		}
		for i, p := range all {
			if len(p) > limit {
				t.Errorf("part %d has %d bytes, over %d", i, len(p), limit)
			}
			if utf8.ValidString(s) && !utf8.ValidString(p) {
				t.Errorf("part %d is not valid UTF-8", i)
			}
			if _, open := openFence(p); open && i < len(all)-1 {
				t.Errorf("part %d ends inside a code block: %q", i, p)
			}
		}
		parts := splitMarkdown(s, limit, most)
		if want := min(len(all), max(most, 1)); len(parts) != want {
			t.Fatalf("%d parts at most %d, want %d", len(parts), most, want)
		}
		if !slices.Equal(parts, all[:len(parts)]) {
			t.Error("the parts are not the first parts of the whole split")
		}
	})
}
