package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/slackapi"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// These tests run the loop on the real slack-go Socket Mode client against
// the emulator, and inject faults in the connection.

const (
	liveBotToken = "xoxb-socket-test"
	liveAppToken = "xapp-1-socket-test"
	liveWait     = 20 * time.Second
)

// liveBot is a Bot on a real Socket Mode client, connected to emu.
type liveBot struct {
	*Bot
	emu *slackemu.Server
}

// startLiveBot runs a bot whose connections are opened through the pacer
// set up by connect, with slack-go's ping timeout set to ping (0: the
// default). It stops when the test ends.
func startLiveBot(t *testing.T, emu *slackemu.Server, flows testFlows, connect slackapi.ConnectConfig, ping time.Duration, cfg testCfg) *liveBot {
	t.Helper()
	emu.SetBotToken(liveBotToken)
	emu.SetAppToken(liveAppToken)
	client := slack.New(liveBotToken, slack.OptionAPIURL(emu.APIURL()), slack.OptionAppLevelToken(liveAppToken),
		slack.OptionHTTPClient(&http.Client{Transport: slackapi.PaceConnections(nil, connect)}))
	var opts []socketmode.Option
	if ping > 0 {
		opts = append(opts, socketmode.OptionPingInterval(ping))
	}
	socket := socketmode.New(client, opts...)
	b := newTestBot(socket, socket.Events, flows, Identity{UserID: slackemu.BotUserID}, zap.NewNop(), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(liveWait):
			t.Errorf("the bot did not stop")
		}
	})
	return &liveBot{Bot: b, emu: emu}
}

// newEmu is an emulator closed when the test ends (after the bot stops:
// cleanups run last-in first-out).
func newEmu(t *testing.T) *slackemu.Server {
	emu := slackemu.New()
	t.Cleanup(emu.Close)
	return emu
}

// mention sends an app_mention in channel at ts and returns its envelope id.
func (lb *liveBot) mention(t *testing.T, channel, ts string) string {
	t.Helper()
	inner, _ := json.Marshal(map[string]any{
		"type": "app_mention", "user": "U1", "text": "<@" + slackemu.BotUserID + "> what is this?",
		"ts": ts, "event_ts": ts, "channel": channel,
	})
	env, err := lb.emu.SendEvent(inner, "")
	if err != nil {
		t.Fatalf("send mention: %v", err)
	}
	return env
}

// waitUntil polls cond until it holds, failing the test after liveWait.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// count is how many recorded flow calls start with prefix.
func (f *fakeFlows) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// answeredOnce sends a mention and checks that it is acked and runs its
// flow once. A second mention after it makes a late duplicate of the first
// visible: the loop handles envelopes in order.
func (lb *liveBot) answeredOnce(t *testing.T, flows *fakeFlows, channel string) {
	t.Helper()
	first := lb.mention(t, channel, "1700000001.000100")
	if _, err := lb.emu.WaitAck(first, liveWait); err != nil {
		t.Fatal(err)
	}
	lb.mention(t, channel, "1700000002.000100")
	waitUntil(t, "both mentions ran", func() bool { return flows.count("mention "+channel) >= 2 })
	if n := flows.count("mention " + channel + " 1700000001.000100"); n != 1 {
		t.Errorf("the mention after the reconnect ran %d times, want once", n)
	}
}

// fakeClock is the pacer's clock: a sleep advances it at once and is
// recorded. After hold sleeps the next one waits for release.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []time.Duration
	hold    int
	release chan struct{}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	held := len(c.sleeps) >= c.hold
	c.mu.Unlock()
	if held {
		select {
		case <-c.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// Slack may answer every hello with a disconnect. slack-go reconnects at
// once after a disconnect; the pacer must keep the opens bounded.
func TestDisconnectAfterEveryHelloIsRateBounded(t *testing.T) {
	t.Parallel()

	for _, reason := range []string{"refresh_requested", "warning", "too_many_websockets"} {
		t.Run(reason, func(t *testing.T) {
			t.Parallel()

			const opens = 8
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0), hold: opens, release: make(chan struct{})}
			emu := newEmu(t)
			emu.DisconnectAfterHello(reason)
			flows := &fakeFlows{}
			lb := startLiveBot(t, emu, flows, slackapi.ConnectConfig{
				MinGap: time.Second, MaxGap: 16 * time.Second, Healthy: time.Hour,
				Now: clock.Now, Sleep: clock.Sleep,
			}, 0, testCfg{Workers: 2})
			if _, err := emu.WaitCalls("apps.connections.open", opens, liveWait); err != nil {
				t.Fatal(err)
			}
			if err := emu.WaitConnects(opens, liveWait); err != nil {
				t.Fatalf("the bot stopped reconnecting: %v", err)
			}

			// On the pacer's clock: when each open went out.
			var at []time.Duration
			var elapsed time.Duration
			for _, d := range clock.recorded()[:opens] {
				elapsed += d
				at = append(at, elapsed)
			}
			for i := 2; i < len(at); i++ {
				gap, before := at[i]-at[i-1], at[i-1]-at[i-2]
				if gap < before || gap > 16*time.Second {
					t.Errorf("open %d came %v after the previous one, which came %v after its own: the wait must grow up to 16s", i, gap, before)
				}
			}
			// Opens in the first minute, counted: 0, 1, 3, 7, 15, 31 and 47 s.
			inMinute := 0
			for _, a := range at {
				if a < time.Minute {
					inMinute++
				}
			}
			if inMinute > 7 {
				t.Errorf("%d connections opened within a minute (at %v), want at most 7", inMinute, at)
			}

			// Slack stops disconnecting: the next connection stays and serves.
			emu.DisconnectAfterHello("")
			close(clock.release)
			if err := emu.WaitConnects(opens+1, liveWait); err != nil {
				t.Fatal(err)
			}
			lb.answeredOnce(t, flows, "C1")
		})
	}
}

// A dropped connection ends with an error that slack-go sees; a half-open
// one just goes silent, and only the missing pings give it away.
func TestReconnectsAfterLostConnection(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		fault func(*slackemu.Server)
	}{
		{"dropped", (*slackemu.Server).DropConnections},
		{"half-open: no more pings, no more frames", (*slackemu.Server).SilenceConnections},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			emu := newEmu(t)
			emu.SetPingInterval(50 * time.Millisecond)
			flows := &fakeFlows{}
			lb := startLiveBot(t, emu, flows, slackapi.ConnectConfig{MinGap: time.Millisecond}, time.Second, testCfg{Workers: 2})
			if err := emu.WaitConnects(1, liveWait); err != nil {
				t.Fatal(err)
			}
			tt.fault(emu)
			if err := emu.WaitConnects(2, liveWait); err != nil {
				t.Fatalf("no new connection after the fault: %v", err)
			}
			lb.answeredOnce(t, flows, "C2")
		})
	}
}

func TestOpeningAConnectionFails(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		fault   func(*slackemu.Server)
		timeout time.Duration
		// minGap is the least time between the failed open and the next.
		minGap time.Duration
	}{
		{"429 with Retry-After: the retry waits for it", func(emu *slackemu.Server) {
			emu.Fail("apps.connections.open", 1, http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}}, `{"ok":false,"error":"ratelimited"}`)
		}, 0, 2 * time.Second},
		{"500", func(emu *slackemu.Server) {
			emu.Fail("apps.connections.open", 1, http.StatusInternalServerError, nil, `{"ok":false,"error":"fatal_error"}`)
		}, 0, 0},
		{"hangs: the call's deadline ends it", func(emu *slackemu.Server) {
			emu.Hang("apps.connections.open", 1)
		}, 300 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			emu := newEmu(t)
			tt.fault(emu)
			flows := &fakeFlows{}
			lb := startLiveBot(t, emu, flows, slackapi.ConnectConfig{Timeout: tt.timeout, MinGap: time.Millisecond}, 0, testCfg{Workers: 2})
			calls, err := emu.WaitCalls("apps.connections.open", 2, liveWait)
			if err != nil {
				t.Fatalf("no second try: %v", err)
			}
			if gap := calls[1].At.Sub(calls[0].At); gap < tt.minGap {
				t.Errorf("retried %v after the failure, want at least %v", gap, tt.minGap)
			}
			if err := emu.WaitConnects(1, liveWait); err != nil {
				t.Fatal(err)
			}
			lb.answeredOnce(t, flows, "C3")
		})
	}
}

// Frames slack-go cannot use are acked when they carry an envelope id, so
// that Slack does not send them again, and the loop goes on.
func TestBadEnvelopesAreAckedAndSkipped(t *testing.T) {
	t.Parallel()

	emu := newEmu(t)
	flows := &fakeFlows{}
	lb := startLiveBot(t, emu, flows, slackapi.ConnectConfig{}, 0, testCfg{Workers: 2})
	if err := emu.WaitConnects(1, liveWait); err != nil {
		t.Fatal(err)
	}
	frames := []struct {
		name, envelopeID, frame string
	}{
		{"not JSON", "", `{"envelope_id":"env-cut","type":"events_api","payl`},
		{"not an object", "", `["hello"]`},
		{"an unknown envelope type", "env-unknown", `{"envelope_id":"env-unknown","type":"brand_new_type","payload":{}}`},
		{"an event that is not an object", "env-bad-event", `{"envelope_id":"env-bad-event","type":"events_api","payload":{"type":"event_callback","event":"not an object"}}`},
		{"a slash command that is a string", "env-bad-slash", `{"envelope_id":"env-bad-slash","type":"slash_commands","payload":"oops"}`},
		{"an interaction that is a number", "env-bad-click", `{"envelope_id":"env-bad-click","type":"interactive","payload":42}`},
	}
	for _, f := range frames {
		if err := emu.SendRaw([]byte(f.frame)); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
	}
	lb.answeredOnce(t, flows, "C4")
	for _, f := range frames {
		if f.envelopeID == "" {
			continue
		}
		if _, err := emu.WaitAck(f.envelopeID, liveWait); err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
	}
	if n := flows.count(""); n != 2 {
		t.Errorf("%d flows ran: only the two good mentions run", n)
	}
	if n := emu.Connects(); n != 1 {
		t.Errorf("%d connections: a bad frame is no reason to reconnect", n)
	}
}
