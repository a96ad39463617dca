package settings

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/redistest"
)

func ptr[T any](v T) *T { return &v }

// testCatalog knows the built-in names, and "chef" as recipe's alias.
func testCatalog(word string) (string, bool) {
	switch word {
	case "describe", "recipe", "nutrition", "code":
		return word, true
	case "chef":
		return "recipe", true
	}
	return "", false
}

// The operator's file: what it sets for a channel, and each kind of
// mistake named with its line.
func TestParseFile(t *testing.T) {
	good := `
defaults:
  reactions: off
  locked: [daily_tokens]
  editors: admins
channels:
  C0KITCHEN:
    name: "#kitchen"
    default: chef
    use_cases: [recipe, nutrition]
    brief: A professional kitchen. Metric units.
    daily_tokens: 2_000_000
    locked: [brief]
    editors: [U1, W2]
  G0LEGACY:
    use_cases: all
`
	f, err := ParseFile("channels.yaml", []byte(good), testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	k := f.Rules("C0KITCHEN")
	if *k.Values.Default != "recipe" || !slices.Equal(*k.Values.UseCases, []string{"nutrition", "recipe"}) ||
		*k.Values.Brief != "A professional kitchen. Metric units." || *k.Values.Reactions || *k.Values.DailyTokens != 2_000_000 {
		t.Errorf("kitchen's values: %+v", k.Values)
	}
	if !slices.Equal(k.Locked, []handlers.Setting{handlers.SettingDailyTokens, handlers.SettingBrief}) ||
		!slices.Equal(k.Editors.Users, []string{"U1", "W2"}) || k.Editors.Admins {
		t.Errorf("kitchen's locks and editors: %+v %+v", k.Locked, k.Editors)
	}
	if other := f.Rules("C0OTHER"); other.Values.Reactions == nil || *other.Values.Reactions || !other.Editors.Admins ||
		other.Values.Default != nil {
		t.Errorf("a channel the file does not name gets the defaults: %+v", other)
	}
	if g := f.Rules("G0LEGACY"); g.Values.UseCases == nil || len(*g.Values.UseCases) != 0 {
		t.Errorf("use_cases: all is every use case: %+v", g.Values)
	}
	if got := f.Channels(); len(got) != 2 || got[0] != (FileChannel{"C0KITCHEN", 7}) || got[1].ID != "G0LEGACY" {
		t.Errorf("channels %+v", got)
	}

	bad := []struct{ name, file, want string }{
		{"a channel's name for its ID", "channels:\n  kitchen:\n    default: recipe\n", `line 2: "kitchen" is not a channel ID`},
		{"a DM", "channels:\n  D0123:\n    default: recipe\n", `line 2: "D0123" is not a channel ID`},
		{"an unknown use case", "channels:\n  C1X:\n    use_cases: [recipe, wine]\n", `line 3: there is no use case "wine"`},
		{"a default the channel does not offer", "channels:\n  C1X:\n    default: code\n    use_cases: [recipe]\n", "line 2: channel C1X: its default, code, is not one of its use_cases"},
		{"a default the defaults' list does not offer", "defaults:\n  use_cases: [recipe]\nchannels:\n  C1X:\n    default: code\n", "line 4: channel C1X: its default, code"},
		{"a brief too long", "channels:\n  C1X:\n    brief: " + strings.Repeat("a", handlers.MaxBrief+1) + "\n", "line 3: brief: 501 characters"},
		{"reactions of a third kind", "channels:\n  C1X:\n    reactions: sometimes\n", "line 3: reactions: is on or off"},
		{"negative tokens", "channels:\n  C1X:\n    daily_tokens: -5\n", "line 3: daily_tokens: is a number"},
		{"a lock of no setting", "channels:\n  C1X:\n    locked: [brief, colour]\n", `line 3: "colour" is not a setting`},
		{"editors by name", "channels:\n  C1X:\n    editors: [alice]\n", `line 3: "alice" is not a user ID`},
		{"an unknown key", "channels:\n  C1X:\n    defualt: recipe\n", `line 3: unknown key "defualt"`},
		{"a channel twice", "channels:\n  C1X:\n    brief: a\n  C1X:\n    brief: b\n", `line 4: "C1X" is already given on line 2`},
		{"an unknown top-level key", "channel:\n  C1X: {}\n", `line 1: unknown key "channel"`},
		{"not YAML", "channels: [\n", "yaml: line"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("channels.yaml", []byte(tt.file), testCatalog)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "channels.yaml: ") {
				t.Errorf("error %v, want one naming the file and %q", err, tt.want)
			}
		})
	}
}

// opener opens a Channels on a store kept across reopens: the bbolt file,
// or Redis.
type opener struct {
	name string
	open func(t *testing.T, opts Options) *Channels
}

func openers(t *testing.T) []opener {
	path := filepath.Join(t.TempDir(), "settings.db")
	srv := redistest.Start(t)
	return []opener{
		{"bbolt", func(t *testing.T, opts Options) *Channels {
			c, err := OpenBolt(path, nil, zap.NewNop(), opts)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}},
		{"redis", func(t *testing.T, opts Options) *Channels { return redisChannels(t, srv, opts) }},
	}
}

func redisChannels(t *testing.T, srv *redistest.Server, opts Options) *Channels {
	t.Helper()
	store.RouteRedisLogs(zap.NewNop())
	db, err := store.NewRedis(srv.URL(), zap.NewNop(), store.RedisOptions{Timeout: 2 * time.Second, RetryAfter: time.Second, Prefix: "visionbot:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return NewRedis(db.Link(), nil, zap.NewNop(), opts)
}

// Both stores keep a save whole, merge two saves of different settings,
// let the later of two saves of one setting win, and keep it all across a
// restart.
func TestStoresKeepSaves(t *testing.T) {
	ctx := context.Background()
	for _, o := range openers(t) {
		t.Run(o.name, func(t *testing.T) {
			c := o.open(t, DefaultOptions())
			if s, err := c.Settings(ctx, "C1"); err != nil || s.Version != 0 || len(s.Members.Set()) != 0 {
				t.Fatalf("a channel no one saved: %+v, %v", s, err)
			}
			before, after, err := c.Save(ctx, "C1", handlers.ChannelValues{Default: ptr("recipe"), UseCases: &[]string{"nutrition", "recipe"}}, "U1")
			if err != nil {
				t.Fatal(err)
			}
			if before.Version != 0 || after.Version != 1 || *after.Members.Default != "recipe" || after.ChangedBy != "U1" {
				t.Errorf("first save: before %+v, after %+v", before, after)
			}
			// Two people at once: a brief and reactions, and the same
			// brief twice. Each save is whole; the later brief wins.
			var wg sync.WaitGroup
			for i, change := range []handlers.ChannelValues{{Brief: ptr("first")}, {Reactions: ptr(false)}} {
				wg.Go(func() {
					if _, _, err := c.Save(ctx, "C1", change, "U"+strconv.Itoa(i+2)); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if _, _, err := c.Save(ctx, "C1", handlers.ChannelValues{Brief: ptr("second")}, "U4"); err != nil {
				t.Fatal(err)
			}
			check := func(c *Channels, when string) {
				t.Helper()
				s, err := c.Settings(ctx, "C1")
				if err != nil {
					t.Fatal(err)
				}
				m := s.Members
				if s.Version != 4 || s.ChangedBy != "U4" || *m.Default != "recipe" || len(*m.UseCases) != 2 || *m.Brief != "second" ||
					*m.Reactions || m.DailyTokens != nil || s.ChangedAt.IsZero() {
					t.Errorf("%s: %+v %+v", when, s, m)
				}
			}
			check(c, "after the saves")
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			reopened := o.open(t, DefaultOptions())
			defer func() { _ = reopened.Close() }()
			check(reopened, "after a restart")
		})
	}
}

// Two replicas on one Redis: a change saved through one is what the other
// uses on its next read, although it had read the channel before; and
// reading, once read, asks Redis nothing.
func TestReplicasSeeEachOthersSaves(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	dropped := make(chan string, 16)
	watch := Options{TTL: time.Hour, Invalidated: func(channel string) { dropped <- channel }}
	a := redisChannels(t, srv, Options{TTL: time.Hour})
	b := redisChannels(t, srv, watch)
	defer func() { _ = a.Close(); _ = b.Close() }()
	waitDropped(t, dropped, "") // b is subscribed

	raw := redistest.Client(t, srv.URL())
	reads := func() int64 {
		stats, err := raw.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := strings.Cut(stats, "cmdstat_hgetall:calls=")
		if !ok {
			return 0
		}
		n, _ := strconv.ParseInt(after[:strings.IndexByte(after, ',')], 10, 64)
		return n
	}
	for range 50 {
		if s, err := b.Settings(ctx, "C1"); err != nil || s.Members.Default != nil {
			t.Fatalf("before the save: %+v, %v", s, err)
		}
	}
	if n := reads(); n != 1 {
		t.Errorf("50 reads of one channel asked Redis %d times, want 1", n)
	}
	if _, _, err := a.Save(ctx, "C1", handlers.ChannelValues{Default: ptr("code"), Brief: ptr("UI reviews.")}, "U1"); err != nil {
		t.Fatal(err)
	}
	waitDropped(t, dropped, "C1")
	s, err := b.Settings(ctx, "C1")
	if err != nil || s.Members.Default == nil || *s.Members.Default != "code" || *s.Members.Brief != "UI reviews." || s.Version != 1 {
		t.Errorf("the other replica reads %+v, %v", s.Members, err)
	}
	// The saving replica knows its own save: the word of it that comes
	// back drops nothing, and its next read asks nothing.
	n := reads()
	if s, err := a.Settings(ctx, "C1"); err != nil || *s.Members.Default != "code" {
		t.Errorf("the saving replica reads %+v, %v", s.Members, err)
	}
	if reads() != n {
		t.Error("the saving replica asked Redis again for what it saved")
	}
}

func waitDropped(t *testing.T, dropped <-chan string, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-dropped:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("no replica dropped %q", want)
		}
	}
}

// While Redis does not answer, a replica uses what it read last, past its
// time, and refuses to save: half a save, kept by one replica only, would
// make replicas disagree.
func TestRedisDownKeepsWhatWasRead(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	clock := time.Now()
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	dropped := make(chan string, 16)
	c := redisChannels(t, srv, Options{TTL: time.Minute, Now: now, Invalidated: func(channel string) { dropped <- channel }})
	defer func() { _ = c.Close() }()
	waitDropped(t, dropped, "") // subscribed: what it reads from here on is kept
	if _, _, err := c.Save(ctx, "C1", handlers.ChannelValues{Reactions: ptr(false)}, "U1"); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	mu.Lock()
	clock = clock.Add(time.Hour)
	mu.Unlock()
	s, err := c.Settings(ctx, "C1")
	if err != nil || s.ReactionsOn() {
		t.Errorf("with Redis down: %+v, %v", s.Members, err)
	}
	if _, err := c.Settings(ctx, "C2"); err == nil {
		t.Error("a channel never read, with Redis down, reads without an error")
	}
	if _, _, err := c.Save(ctx, "C1", handlers.ChannelValues{Reactions: ptr(true)}, "U1"); err == nil {
		t.Error("a save with Redis down succeeded")
	}
}

// One process at a time holds the embedded store: a second is told why
// instead of waiting for ever.
func TestBoltIsHeldByOneProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deep", "settings.db")
	first, err := OpenBolt(path, nil, zap.NewNop(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Close() }()
	if _, err := OpenBolt(path, nil, zap.NewNop(), Options{LockTimeout: 50 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "another visionbot") {
		t.Errorf("a second open: %v", err)
	}
}

// BenchmarkCachedRead is what reading a channel's settings costs a
// request once the replica has read them: no call, a lookup in memory.
func BenchmarkCachedRead(b *testing.B) {
	c, err := OpenBolt(filepath.Join(b.TempDir(), "s.db"), nil, zap.NewNop(), DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	ctx := context.Background()
	if _, _, err := c.Save(ctx, "C1", handlers.ChannelValues{Default: ptr("recipe"), Brief: ptr("Kitchen.")}, "U1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Settings(ctx, "C1"); err != nil {
			b.Fatal(err)
		}
	}
}
