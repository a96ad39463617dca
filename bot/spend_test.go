package bot

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/redistest"
)

func TestTokensFromText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want Tokens
		bad  bool
	}{
		{"off", 0, false},
		{"0", 0, false},
		{"2000000", 2_000_000, false},
		{"2_000_000", 2_000_000, false},
		{"2,000,000", 2_000_000, false},
		{" 500 ", 500, false},
		{"-1", 0, true},
		{"2M", 0, true},
		{"lots", 0, true},
	}
	for _, tt := range tests {
		var got Tokens
		err := got.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("%q: got %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// The budgets of a person, a channel and a workspace, in memory and in
// Redis: checked before a request, charged after it, per UTC day, and the
// refusal says when the day ends.
func TestLedger(t *testing.T) {
	t.Parallel()

	stores := map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return store.NewMemory(time.Now) },
		"redis": func(t *testing.T) Store {
			store.RouteRedisLogs(zap.NewNop())
			store, err := store.NewRedis(redistest.Start(t).URL(), zap.NewNop(), redisOptions(2*time.Second, 0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.Close() })
			return store
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			clock := time.Date(2026, 12, 2, 21, 0, 0, 0, time.UTC)
			store := newStore(t)
			l := NewLedger(store, Allowances{User: 1000, Channel: 1500, Workspace: 2500}, "T1", zap.NewNop())
			l.now = func() time.Time { return clock }
			cfg := testConfig(1, 1)
			cfg.Store, cfg.Ledger = store, l
			b := newTestBot(&fakeSocket{}, nil, &fakeFlows{}, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
			// check is admission's own check of the budgets: read in the
			// same call to the store as the rates.
			check := func(o handlers.Origin) *handlers.Refusal {
				verdict, why := b.checkStore(ctx, nil, b.limitsOf(o), o)
				if verdict == admitted {
					return nil
				}
				return &why
			}
			u1 := handlers.Origin{User: "U1", Channel: "C1", Team: "T1"}
			u2 := handlers.Origin{User: "U2", Channel: "C1"} // team unknown: the bot's own
			u3 := handlers.Origin{User: "U3", Channel: "C2", Team: "T1"}
			u4 := handlers.Origin{User: "U4", Channel: "C2", Team: "T1"}
			outsider := handlers.Origin{User: "UX", Channel: "C3", Team: "T9"}
			steps := []struct {
				name  string
				spend *handlers.Origin
				n     int
				check handlers.Origin
				want  handlers.RefusalReason // 0: let through
			}{
				{"a first request", nil, 0, u1, 0},
				{"under the person's budget", &u1, 999, u1, 0},
				{"at it", &u1, 1, u1, handlers.RefusedUserAllowance},
				{"another person in the channel", nil, 0, u2, 0},
				{"the channel's budget spent by two people", &u2, 500, u2, handlers.RefusedChannelAllowance},
				{"another channel of the workspace", &u3, 999, u3, 0},
				{"the workspace's budget spent (U2 counted in the bot's team)", &u4, 1, u4, handlers.RefusedWorkspaceAllowance},
				{"an outsider's workspace spends its own", nil, 0, outsider, 0},
			}
			for _, s := range steps {
				if s.spend != nil {
					l.Spend(ctx, *s.spend, s.n)
				}
				over := check(s.check)
				switch {
				case s.want == 0 && over != nil:
					t.Fatalf("%s: refused %+v", s.name, *over)
				case s.want != 0 && (over == nil || over.Reason != s.want):
					t.Fatalf("%s: got %+v, want refused with %v", s.name, over, s.want)
				case over != nil && over.RetryIn != 3*time.Hour:
					t.Errorf("%s: resets in %v, want 3h (midnight UTC)", s.name, over.RetryIn)
				}
			}
			// A new UTC day starts every budget afresh.
			clock = clock.Add(3*time.Hour + time.Second)
			for _, o := range []handlers.Origin{u1, u2, u3, u4} {
				if over := check(o); over != nil {
					t.Errorf("the next day, %s is refused: %+v", o.User, *over)
				}
			}
		})
	}
}

// Admission checks the budgets of requests that will ask Gemini: over
// one, the person is told once, then gets silence until it resets, and
// each refusal is counted by budget; a vote or the Home tab spends
// nothing and is not refused.
func TestAdmissionRefusesOverBudget(t *testing.T) {
	t.Parallel()

	socket, flows, obs := &fakeSocket{}, &fakeFlows{}, &recordingObserver{}
	cfg := testConfig(1, 8)
	store := store.NewMemory(time.Now)
	cfg.Store, cfg.Observer, cfg.Teams = store, obs, fakeTeams{}
	cfg.Ledger = NewLedger(store, Allowances{User: 100}, "T1", zap.NewNop())
	cfg.Ledger.Spend(context.Background(), handlers.Origin{User: "U1", Channel: "C1"}, 100)
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
	b.queue.Start(context.Background())
	deliver(b, mentionIn("Ev1", "C1", "U1", "1.000001", "").event(t, "env-1"))
	deliver(b, mentionIn("Ev2", "C1", "U1", "1.000002", "").event(t, "env-2"))
	deliver(b, mentionIn("Ev3", "C1", "U2", "1.000003", "").event(t, "env-3"))
	deliver(b, request{event: callback("T1", "Ev4", map[string]any{"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"})}.event(t, "env-4"))
	b.queue.Shutdown(context.Background())

	slices.Sort(flows.calls)
	want := []string{"home  ", "mention C1 1.000003", "user-budget(100 in …) C1 1.000001"}
	if len(flows.calls) != 3 || flows.calls[0] != want[0] || flows.calls[1] != want[1] ||
		!strings.HasPrefix(flows.calls[2], "user-budget(100 in ") || !strings.HasSuffix(flows.calls[2], ") C1 1.000001") {
		t.Errorf("flows = %q, want %q (the second request over budget in silence)", flows.calls, want)
	}
	if !slices.Equal(obs.budgets, []string{"user", "user"}) {
		t.Errorf("refusals counted %v, want two of the user's budget", obs.budgets)
	}
}

func redisOptions(timeout, retryAfter time.Duration) store.RedisOptions {
	o := store.DefaultRedisOptions()
	o.Timeout = timeout
	if retryAfter > 0 {
		o.RetryAfter = retryAfter
	}
	return o
}

// A Slack Connect person of another team spends their own team's
// allowance, never the bot's workspace's: where the event does not say
// their team (a reaction, a slash command) and the allow-lists don't need
// it (ALLOW_EXTERNAL_USERS), the ledger has it looked up.
func TestOutsidersSpendTheirOwnTeamsAllowance(t *testing.T) {
	socket, flows := &fakeSocket{}, &fakeFlows{}
	cfg := testConfig(1, 8)
	store := store.NewMemory(time.Now)
	cfg.Store, cfg.Teams, cfg.Access = store, fakeTeams{}, Access{External: true}
	cfg.Ledger = NewLedger(store, Allowances{Workspace: 100}, "T1", zap.NewNop())
	cfg.Ledger.Spend(context.Background(), handlers.Origin{User: "U1", Channel: "C1", Team: "T1"}, 100) // the home team's day is spent
	b := newTestBot(socket, nil, flows, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
	b.queue.Start(context.Background())
	deliver(b, reactionOn("Ev1", "C1", "UX1", "1.000001").event(t, "env-1"))
	deliver(b, slashIn("C1", "UX2", "T1").event(t, "env-2"))
	deliver(b, reactionOn("Ev3", "C1", "U2", "1.000003").event(t, "env-3"))
	b.queue.Shutdown(context.Background())

	slices.Sort(flows.calls)
	if len(flows.calls) != 3 || flows.calls[0] != "reaction C1 1.000001" || flows.calls[1] != "slash C1 " ||
		!strings.HasPrefix(flows.calls[2], "workspace-budget(100 in ") {
		t.Fatalf("flows = %q, want the outsiders answered and the home team's person refused", flows.calls)
	}
	for i, o := range flows.origin {
		if strings.HasPrefix(o.User, "UX") && o.Team != "T9" {
			t.Errorf("request %d of %s carries team %q, want T9: Spend charges the origin's team", i, o.User, o.Team)
		}
	}
}
