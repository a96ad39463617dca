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
// refusal says when the day ends. The day is the store's: a new one on
// the memory's clock starts every budget afresh (Redis's clock is Redis's:
// store's TestRedisDays checks its days).
func TestLedger(t *testing.T) {
	t.Parallel()

	stores := map[string]func(t *testing.T, now func() time.Time) Store{
		"memory": func(_ *testing.T, now func() time.Time) Store { return store.NewMemory(now) },
		"redis": func(t *testing.T, _ func() time.Time) Store {
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
			store := newStore(t, func() time.Time { return clock })
			l := NewLedger(store, Allowances{User: 1000, Channel: 1500, Workspace: 2500}, "T1", nil, zap.NewNop())
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
			if name == "redis" {
				return
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
	cfg.Ledger = NewLedger(store, Allowances{User: 100}, "T1", nil, zap.NewNop())
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
	cfg.Ledger = NewLedger(store, Allowances{Workspace: 100}, "T1", nil, zap.NewNop())
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

// ledgerBot is a bot whose admission checks l's allowances in st.
func ledgerBot(st Store, l *Ledger) *Bot {
	cfg := testConfig(1, 1)
	cfg.Store, cfg.Ledger = st, l
	return newTestBot(&fakeSocket{}, nil, &fakeFlows{}, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), cfg)
}

// refused reports whether b's admission refuses o's next request for an
// allowance.
func refused(ctx context.Context, b *Bot, o handlers.Origin) bool {
	verdict, _ := b.checkStore(ctx, nil, b.limitsOf(o), o)
	return verdict != admitted
}

// Replicas whose clocks disagree about the day near midnight still count
// the same day: the store's (Redis's clock, or the one process's), not
// each replica's, so that a person's spending is not split between two
// days' totals, each under the allowance.
func TestReplicasCountTheStoresDay(t *testing.T) {
	d := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	stores := map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store {
			return store.NewMemory(func() time.Time { return d.Add(12 * time.Hour) })
		},
		"redis": func(t *testing.T) Store {
			store.RouteRedisLogs(zap.NewNop())
			st, err := store.NewRedis(redistest.Start(t).URL(), zap.NewNop(), redisOptions(2*time.Second, 0))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			late := NewLedger(st, Allowances{User: 1000}, "T1", nil, zap.NewNop())
			late.now = func() time.Time { return d.Add(-time.Second) } // still yesterday
			early := NewLedger(st, Allowances{User: 1000}, "T1", nil, zap.NewNop())
			early.now = func() time.Time { return d.Add(time.Second) } // already today
			u1 := handlers.Origin{User: "U1", Channel: "C1", Team: "T1"}

			late.Spend(ctx, u1, 999)
			if refused(ctx, ledgerBot(st, early), u1) {
				t.Fatal("refused under the allowance")
			}
			early.Spend(ctx, u1, 1)
			for who, l := range map[string]*Ledger{"the replica behind": late, "the replica ahead": early} {
				if !refused(ctx, ledgerBot(st, l), u1) {
					t.Errorf("%s lets U1 ask again after 1000 tokens spent: the two clocks counted different days", who)
				}
			}
		})
	}
}

// fakeReplicas is what the ledger knows of the other replicas.
type fakeReplicas struct {
	down  bool
	count int
}

func (f fakeReplicas) IsDown() bool { return f.down }
func (f fakeReplicas) Count() int   { return f.count }

// While Redis is down each replica counts the allowances in its own
// memory, so each takes its share of them, as of Slack's tiers: the
// allowance divided by the replicas it last saw alive, and by two at
// least, since another may have started meanwhile.
func TestAllowancesAreSharedWhileRedisIsDown(t *testing.T) {
	tests := []struct {
		name     string
		replicas Replicas
		allowed  int64 // tokens spent before a request is refused
	}{
		{"one process", nil, 900},
		{"Redis answers", fakeReplicas{down: false, count: 3}, 900},
		{"Redis down, three replicas alive", fakeReplicas{down: true, count: 3}, 300},
		{"Redis down, this replica alone", fakeReplicas{down: true, count: 1}, 450},
		{"Redis down before any heartbeat", fakeReplicas{down: true, count: 0}, 450},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := store.NewMemory(time.Now)
			l := NewLedger(st, Allowances{User: 900, Channel: 1800, Workspace: 2700}, "T1", tt.replicas, zap.NewNop())
			b := ledgerBot(st, l)
			u1 := handlers.Origin{User: "U1", Channel: "C1", Team: "T1"}
			l.Spend(ctx, u1, int(tt.allowed-1))
			if refused(ctx, b, u1) {
				t.Fatalf("refused after %d tokens, want %d allowed", tt.allowed-1, tt.allowed)
			}
			l.Spend(ctx, u1, 1)
			if !refused(ctx, b, u1) {
				t.Errorf("let through after %d tokens, want refused", tt.allowed)
			}
		})
	}
}
