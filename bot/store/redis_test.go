package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/redistest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// timeTravel is a store under test and how to move its clock: a fake
// clock for memory, and for Redis every key's expiry brought closer.
type timeTravel struct {
	store   admitter
	advance func(t *testing.T, d time.Duration)
}

func memoryTravel() timeTravel {
	clock := newFakeClock()
	return timeTravel{store: newMemory(maxMemoryKeys, clock.Now), advance: func(_ *testing.T, d time.Duration) { clock.Advance(d) }}
}

func redisTravel(t *testing.T) timeTravel {
	RouteRedisLogs(zap.NewNop())
	srv := redistest.Start(t)
	store, err := NewRedis(srv.URL(), zap.NewNop(), redisOptions(2*time.Second, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	raw := redistest.Client(t, srv.URL())
	return timeTravel{store: store, advance: func(t *testing.T, d time.Duration) {
		ctx := context.Background()
		keys, err := raw.Keys(ctx, "visionbot:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			ttl, err := raw.PTTL(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if left := ttl - d; left > 0 {
				raw.PExpire(ctx, k, left)
			} else {
				raw.Del(ctx, k)
			}
		}
	}}
}

// storeStep is one call to a store, after its clock moved on by advance.
// A Claim has keys; a Count has key and window.
type storeStep struct {
	name      string
	advance   time.Duration
	keys      []string
	ttl       time.Duration
	wantFresh bool
	key       string
	window    time.Duration
	wantN     int64
	wantReset time.Duration
}

func TestStoreSemantics(t *testing.T) {
	t.Parallel()

	stores := []struct {
		name string
		make func(t *testing.T) timeTravel
	}{
		{"memory", func(*testing.T) timeTravel { return memoryTravel() }},
		{"redis", redisTravel},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()

			tt := st.make(t)
			ctx := context.Background()
			for _, step := range storeSteps {
				tt.advance(t, step.advance)
				if step.keys != nil {
					fresh, err := tt.store.Remember(ctx, step.ttl, step.keys...)
					if err != nil {
						t.Fatalf("%s: %v", step.name, err)
					}
					if fresh != step.wantFresh {
						t.Errorf("%s: Claim = %v, want %v", step.name, fresh, step.wantFresh)
					}
					continue
				}
				n, reset, err := count(ctx, tt.store, step.key, step.window)
				if err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				// Redis's clock runs on while the test does: a little less
				// time left is the same answer.
				if n != step.wantN || reset > step.wantReset || reset < step.wantReset-time.Second {
					t.Errorf("%s: Count = %d, %v; want %d, %v", step.name, n, reset, step.wantN, step.wantReset)
				}
			}
		})
	}
}

// When Redis dies mid-run the store keeps working on memory, remembers
// what it saw through Redis, warns once, and goes back to Redis when it
// answers again.
func TestRedisStoreFallsBackAndRecovers(t *testing.T) {
	t.Parallel()

	RouteRedisLogs(zap.NewNop())
	srv := redistest.Start(t)
	core, logs := observer.New(zapcore.InfoLevel)
	store, err := NewRedis(srv.URL(), zap.New(core), redisOptions(time.Second, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	raw := redistest.Client(t, srv.URL())
	if _, err := store.Version(ctx); err != nil {
		t.Fatal(err)
	}
	remember := func(key string) bool {
		t.Helper()
		fresh, err := store.Remember(ctx, time.Hour, key)
		if err != nil {
			t.Fatalf("Claim %s: %v", key, err)
		}
		return fresh
	}

	if !remember("event:before") {
		t.Fatal("a first key is not fresh")
	}
	if n, _ := raw.Exists(ctx, "visionbot:event:before").Result(); n != 1 {
		t.Fatal("the key is not in Redis")
	}

	srv.Stop()
	if remember("event:before") {
		t.Error("with Redis gone, an event seen through it is fresh again")
	}
	if !remember("event:during") || remember("event:during") {
		t.Error("with Redis gone, keys are not kept in memory")
	}
	for range 3 {
		if n, _, err := count(ctx, store, "rate:user:U1", time.Minute); err != nil || n < 1 {
			t.Errorf("Count with Redis gone = %d, %v", n, err)
		}
	}
	if warnings := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("Redis failed").Len(); warnings != 1 {
		t.Errorf("%d warnings, want one for the whole outage", warnings)
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessageSnippet("Redis answers again").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the store did not go back to Redis; logs: %v", logs.All())
		}
		remember("event:probe")
	}
	if !remember("event:after") {
		t.Error("a new event after the recovery is not fresh")
	}
	if n, _ := raw.Exists(ctx, "visionbot:event:after").Result(); n != 1 {
		t.Error("after the recovery, keys are not in Redis")
	}
}

func TestRedisStoreStartsWithRedisDown(t *testing.T) {
	t.Parallel()

	RouteRedisLogs(zap.NewNop())
	srv := redistest.Start(t)
	srv.Stop()
	core, logs := observer.New(zapcore.InfoLevel)
	store, err := NewRedis(srv.URL(), zap.New(core), redisOptions(500*time.Millisecond, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Version(context.Background()); err == nil || !strings.Contains(err.Error(), srv.Addr()) {
		t.Fatalf("Version = %v, want an error naming the address", err)
	}
	for i := range 3 {
		if fresh, err := store.Remember(context.Background(), time.Minute, "event:E"); err != nil || fresh != (i == 0) {
			t.Errorf("Claim %d = %v, %v", i, fresh, err)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("logs = %v: the caller warns about a failed Ping, the store stays quiet until Redis answers", logs.All())
	}
}

func TestCheckRedisURL(t *testing.T) {
	t.Parallel()

	tests := []struct {
		url string
		ok  bool
	}{
		{"redis://localhost:6379/0", true},
		{"redis://:s3cret@redis.internal:6380/2", true},
		{"rediss://redis.example:6380", true},
		{"http://localhost:6379", false},
		{"redis://localhost:6379/notanumber", false},
		// Refused, with the password in them: the error must not show it.
		{"redis://:s3cret@redis:63 79/0", false},
		{"redis://:s3cret@redis:6379/zero", false},
	}
	for _, tt := range tests {
		err := CheckRedisURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckRedisURL(%q) = %v", tt.url, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// redisOptions are the bot's, with the timeout and, unless 0, the retry
// delay a test needs.
func redisOptions(timeout, retryAfter time.Duration) RedisOptions {
	o := DefaultRedisOptions()
	o.Timeout = timeout
	if retryAfter > 0 {
		o.RetryAfter = retryAfter
	}
	return o
}

// Admit is a request's whole check in one call: a duplicate counts
// nothing, a fresh request counts against every counter, in memory and in
// Redis alike.
func TestAdmitCountsOnlyFreshRequests(t *testing.T) {
	t.Parallel()

	for _, st := range []struct {
		name string
		make func(t *testing.T) timeTravel
	}{
		{"memory", func(*testing.T) timeTravel { return memoryTravel() }},
		{"redis", redisTravel},
	} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()

			store := st.make(t).store
			ctx := context.Background()
			counters := []Counter{{Key: "rate:user:U9", Window: time.Minute}, {Key: "thread:C1:1.0", Window: time.Hour}}
			steps := []struct {
				seen      []string
				wantFresh bool
				wantN     []int64
			}{
				{[]string{"event:EvA", "message:C1:1.1"}, true, []int64{1, 1}},
				{[]string{"event:EvA", "message:C1:1.1"}, false, nil}, // Slack's retry
				{[]string{"event:EvB", "message:C1:1.1"}, false, nil}, // the same message as another event
				{[]string{"event:EvC", "message:C1:1.2"}, true, []int64{2, 2}},
				{nil, true, []int64{3, 3}}, // nothing to tell it by: always fresh
			}
			for i, step := range steps {
				adm, err := store.Admit(ctx, time.Hour, step.seen, counters)
				if err != nil {
					t.Fatal(err)
				}
				var got []int64
				for _, c := range adm.Counts {
					got = append(got, c.N)
				}
				if adm.Fresh != step.wantFresh || fmt.Sprint(got) != fmt.Sprint(step.wantN) {
					t.Errorf("step %d: fresh %v, counts %v; want %v, %v", i, adm.Fresh, got, step.wantFresh, step.wantN)
				}
			}
		})
	}
}

// Replicas need XPENDING with IDLE: Redis 6.2 or later.
func TestRedisVersionSupported(t *testing.T) {
	t.Parallel()

	for v, want := range map[string]bool{
		"7.0.15": true, "6.2.0": true, "6.2": true, "10.0.1": true, "6.0.16": false, "5.0.7": false, "6": false, "": false, "6.x": false,
	} {
		if got := RedisVersionSupported(v); got != want {
			t.Errorf("RedisVersionSupported(%q) = %v, want %v", v, got, want)
		}
	}
}

// storeSteps are the semantics every Store has: the memory of one process
// and the Redis of replicas alike.
var storeSteps = []storeStep{
	{name: "a first delivery is fresh", keys: []string{"event:Ev1", "message:C1:1.1"}, ttl: 10 * time.Minute, wantFresh: true},
	{name: "Slack's retry of it is not", keys: []string{"event:Ev1", "message:C1:1.1"}, ttl: 10 * time.Minute},
	{name: "one key seen is enough", keys: []string{"event:Ev2", "message:C1:1.1"}, ttl: 10 * time.Minute},
	{name: "the new key of a stale delivery is recorded all the same", keys: []string{"event:Ev2"}, ttl: 10 * time.Minute},
	{name: "another message is fresh", keys: []string{"event:Ev3", "message:C1:1.2"}, ttl: 10 * time.Minute, wantFresh: true},
	{name: "9m59s later it is still known", advance: 9*time.Minute + 59*time.Second, keys: []string{"event:Ev3"}, ttl: 10 * time.Minute},
	{name: "remembering again does not extend the memory", advance: 2 * time.Second, keys: []string{"event:Ev3"}, ttl: 10 * time.Minute, wantFresh: true},
	{name: "a counter starts at 1 with the whole window", key: "rate:user:U1", window: time.Minute, wantN: 1, wantReset: time.Minute},
	{name: "it counts within the window", advance: 20 * time.Second, key: "rate:user:U1", window: time.Minute, wantN: 2, wantReset: 40 * time.Second},
	{name: "another counter is apart", key: "rate:user:U2", window: time.Minute, wantN: 1, wantReset: time.Minute},
	{name: "the window is fixed from the first hit", advance: 30 * time.Second, key: "rate:user:U1", window: time.Minute, wantN: 3, wantReset: 10 * time.Second},
	{name: "after the window a new one starts", advance: 10 * time.Second, key: "rate:user:U1", window: time.Minute, wantN: 1, wantReset: time.Minute},
}

// admitter is what the tests ask of both stores: the interface admission
// declares (bot.Store).
type admitter interface {
	Admit(ctx context.Context, ttl time.Duration, seen []string, counters []Counter) (Admission, error)
	Remember(ctx context.Context, ttl time.Duration, keys ...string) (bool, error)
	Spend(ctx context.Context, ttl time.Duration, n int64, keys ...string) error
}

// Redis names the allowances' days by its own clock, in a script: its
// utc_day must agree with Go's calendar, leap days and centuries
// included, over four centuries from 1900.
func TestRedisDays(t *testing.T) {
	srv := redistest.Start(t)
	raw := redistest.Client(t, srv.URL())
	ctx := context.Background()
	start := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	const days = 146097 // 400 years
	// Each day at a different second of it, so that the day's start, its
	// end and the seconds between all count.
	script := dayLua + `
local out = {}
for i = 0, tonumber(ARGV[2]) - 1 do
  out[#out + 1] = utc_day(tonumber(ARGV[1]) + i * 86400 + (i * 7919) % 86400)
end
return out`
	got, err := raw.Eval(ctx, script, nil, start.Unix(), days).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != days {
		t.Fatalf("%d days, want %d", len(got), days)
	}
	for i, day := range got {
		at := time.Unix(start.Unix()+int64(i)*86400+int64(i*7919%86400), 0)
		if want := utcDay(at); day != want {
			t.Fatalf("utc_day(%d) = %s, want %s", at.Unix(), day, want)
		}
	}
}

// Spend and Admit count an allowance on Redis's day, whatever the
// replica's clock: the key Redis holds names the day of Redis's TIME, and
// its count resets at Redis's midnight.
func TestRedisAllowancesAreOfRedisDay(t *testing.T) {
	RouteRedisLogs(zap.NewNop())
	srv := redistest.Start(t)
	st, err := NewRedis(srv.URL(), zap.NewNop(), redisOptions(2*time.Second, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	raw := redistest.Client(t, srv.URL())
	ctx := context.Background()
	for {
		before, err := raw.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Spend(ctx, time.Hour, 42, "spend:"+Today+":user:U1"); err != nil {
			t.Fatal(err)
		}
		adm, err := st.Admit(ctx, time.Minute, nil, []Counter{{Key: "spend:" + Today + ":user:U1", Read: true}})
		if err != nil {
			t.Fatal(err)
		}
		after, err := raw.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if utcDay(before) != utcDay(after) {
			continue // Redis's midnight passed meanwhile: again, on one day
		}
		n, err := raw.Get(ctx, "visionbot:spend:"+utcDay(after)+":user:U1").Int64()
		if err != nil || n != 42 {
			t.Errorf("Redis holds %d (%v) for %s, want 42 on Redis's day", n, err, utcDay(after))
		}
		if len(adm.Counts) != 1 || adm.Counts[0].N != 42 {
			t.Fatalf("admission read %+v, want 42", adm.Counts)
		}
		// Redis counts in whole milliseconds, rounded either way.
		if reset := adm.Counts[0].ResetIn; reset > untilMidnight(before)+time.Millisecond || reset < untilMidnight(after)-time.Millisecond {
			t.Errorf("resets in %v, want Redis's midnight, between %v and %v", reset, untilMidnight(after), untilMidnight(before))
		}
		return
	}
}
