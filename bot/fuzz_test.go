package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
		b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT", BotID: "BBOT"}, zap.NewNop(), testConfig(2, 4))
		b.queue.Start(context.Background())
		deliver(b, socketEvent(frame))
		b.queue.Shutdown(context.Background())

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
