package bot

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
)

// payloadSocket records each ack with its payload, as JSON ("" for none).
type payloadSocket struct {
	mu   sync.Mutex
	acks []string
}

func (s *payloadSocket) RunContext(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

func (s *payloadSocket) Ack(req socketmode.Request, payload ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	body := ""
	if len(payload) > 0 {
		raw, _ := json.Marshal(payload[0])
		body = string(raw)
	}
	s.acks = append(s.acks, req.EnvelopeID+" "+body)
	return nil
}

// decodeCase is the decode table's row of that name.
func decodeRow(t *testing.T, name string) decodeCase {
	t.Helper()
	for _, c := range decodeCases() {
		if strings.HasPrefix(c.name, name) {
			return c
		}
	}
	t.Fatalf("no decode case %q", name)
	return decodeCase{}
}

// A settings modal's mistakes go back in the ack of its submission, which
// Slack shows beside the inputs, and nothing runs; a good one is acked
// bare and saved once, however often Slack delivers it.
func TestSettingsModalIsAnsweredInItsAck(t *testing.T) {
	socket, flows := &payloadSocket{}, &fakeFlows{}
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), testConfig(1, 4))
	b.queue.Start(context.Background())
	bad := decodeRow(t, "the settings modal with a mistake")
	good := decodeRow(t, "the settings modal saved")
	deliver(b, fixtureFrame(t, bad.fixture, bad.edit))
	for _, envelope := range []string{"env-a", "env-b"} { // a redelivery, or a second replica's copy
		evt := fixtureFrame(t, good.fixture, good.edit)
		evt.Request.EnvelopeID = envelope
		deliver(b, evt)
	}
	b.queue.Shutdown(context.Background())

	if len(socket.acks) != 3 {
		t.Fatalf("acks %q", socket.acks)
	}
	if !strings.Contains(socket.acks[0], `"response_action":"errors"`) || !strings.Contains(socket.acks[0], `"setting_brief":"The brief is 501 characters`) {
		t.Errorf("the mistake's ack: %s", socket.acks[0])
	}
	if socket.acks[1] != "env-a " || socket.acks[2] != "env-b " {
		t.Errorf("a good submission's acks carry a payload: %q", socket.acks[1:])
	}
	if len(flows.calls) != 1 || !strings.HasPrefix(flows.calls[0], "handlers.SettingsSaved C1") {
		t.Errorf("flows %q, want the save once", flows.calls)
	}
}

// fixedChannels are settings that never change.
type fixedChannels map[string]handlers.ChannelSettings

func (c fixedChannels) Settings(_ context.Context, channel string) (handlers.ChannelSettings, error) {
	return c[channel], nil
}

// countingStore counts admission's calls to the store.
type countingStore struct {
	*store.Memory
	mu    sync.Mutex
	calls int
}

func (s *countingStore) Admit(ctx context.Context, ttl time.Duration, seen []string, counters []store.Counter) (store.Admission, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return s.Memory.Admit(ctx, ttl, seen, counters)
}

// A channel that turned its reaction triggers off gets no answer to one,
// and the reaction costs the store nothing: it counts against no limit.
func TestReactionTriggersOffInAChannel(t *testing.T) {
	off := false
	for _, tt := range []struct {
		channel   string
		wantFlows int
	}{{"C1", 1}, {"COFF", 0}} {
		t.Run(tt.channel, func(t *testing.T) {
			socket, flows := &fakeSocket{}, &fakeFlows{}
			cfg := testConfig(1, 4)
			db := &countingStore{Memory: store.NewMemory(nil)}
			cfg.Store = db
			cfg.Channels = fixedChannels{"COFF": {Members: handlers.ChannelValues{Reactions: &off}}}
			b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT"}, zap.NewNop(), cfg)
			b.queue.Start(context.Background())
			deliver(b, fixtureFrame(t, "events/message_im.slack-web.json", func(m map[string]any) {
				clear(m)
				m["type"], m["user"], m["reaction"] = "reaction_added", "U1", "fork_and_knife"
				m["item"] = map[string]any{"type": "message", "channel": tt.channel, "ts": "1.000100"}
			}))
			b.queue.Shutdown(context.Background())
			if len(flows.calls) != tt.wantFlows || db.calls != tt.wantFlows {
				t.Errorf("flows %q, store calls %d; want %d of each", flows.calls, db.calls, tt.wantFlows)
			}
		})
	}
}

// A channel's own daily allowance, within the operator's cap: the members'
// under the cap holds, one over it gives way to the cap, a channel with
// none gets the operator's; and a channel is charged even with no
// allowance of its own yet, so that one set during the day counts the
// day's spending.
func TestChannelAllowances(t *testing.T) {
	ctx := context.Background()
	tokens := func(n int64) *int64 { return &n }
	db := store.NewMemory(time.Now)
	channels := fixedChannels{
		"COWN":  {Members: handlers.ChannelValues{DailyTokens: tokens(100)}},
		"COVER": {Members: handlers.ChannelValues{DailyTokens: tokens(5000)}},
		"CFILE": {Operator: handlers.ChannelRules{Values: handlers.ChannelValues{DailyTokens: tokens(50)}}},
	}
	l := NewLedger(db, Allowances{Channel: 1000}, "T1", nil, zap.NewNop()).WithChannels(channels)
	cfg := testConfig(1, 1)
	cfg.Store, cfg.Ledger = db, l
	b := newTestBot(&fakeSocket{}, nil, &fakeFlows{}, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
	refused := func(channel string) bool {
		o := handlers.Origin{User: "U1", Channel: channel, Team: "T1"}
		verdict, why := b.checkStore(ctx, nil, b.limitsOf(o), o)
		return verdict != admitted && why.Reason == handlers.RefusedChannelAllowance
	}
	for channel, max := range map[string]int{"COWN": 100, "COVER": 1000, "CFILE": 50, "CNONE": 1000} {
		l.Spend(ctx, handlers.Origin{User: "U1", Channel: channel, Team: "T1"}, max-1)
		if refused(channel) {
			t.Errorf("%s refused under its allowance of %d", channel, max)
		}
		l.Spend(ctx, handlers.Origin{User: "U1", Channel: channel, Team: "T1"}, 1)
		if !refused(channel) {
			t.Errorf("%s not refused at its allowance of %d", channel, max)
		}
	}

	// No operator allowance at all: a channel's own still counts, and
	// what it spent before it set one.
	db = store.NewMemory(time.Now)
	later := fixedChannels{}
	l = NewLedger(db, Allowances{}, "T1", nil, zap.NewNop()).WithChannels(later)
	cfg.Store, cfg.Ledger = db, l
	b = newTestBot(&fakeSocket{}, nil, &fakeFlows{}, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
	l.Spend(ctx, handlers.Origin{User: "U1", Channel: "C1", Team: "T1"}, 300)
	if refused("C1") {
		t.Error("refused with no allowance anywhere")
	}
	later["C1"] = handlers.ChannelSettings{Members: handlers.ChannelValues{DailyTokens: tokens(300)}}
	if !refused("C1") {
		t.Error("an allowance set in the day does not count the day's spending")
	}
}
