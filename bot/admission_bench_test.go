package bot

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/settings"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/redistest"
)

// nullQueue takes every request and runs none: the benchmark times
// admission alone.
type nullQueue struct{}

func (nullQueue) Start(context.Context)                          {}
func (nullQueue) Submit(context.Context, handlers.Request) error { return nil }
func (nullQueue) Beside(string, handlers.Request)                {}
func (nullQueue) Notify(string, func(context.Context))           {}
func (nullQueue) Load() (int, int)                               { return 0, 0 }
func (nullQueue) Shutdown(context.Context)                       {}

// BenchmarkAdmission times one mention's admission (decode, the
// allow-lists, the store's one call with the day's allowances, the queue)
// without channel settings and with them, as serve wires them: the
// ledger reading each channel's allowance, from the replica's memory once
// read. go test -run - -bench Admission ./bot/
func BenchmarkAdmission(b *testing.B) {
	for _, backend := range []string{"memory and bbolt", "redis"} {
		for _, withSettings := range []bool{false, true} {
			name := backend + "/without settings"
			if withSettings {
				name = backend + "/with settings"
			}
			b.Run(name, func(b *testing.B) {
				var db Store = store.NewMemory(time.Now)
				var channels *settings.Channels
				calls := func() int64 { return 0 }
				if backend == "redis" {
					store.RouteRedisLogs(zap.NewNop())
					srv := redistest.Start(b)
					calls = redisCalls(b, srv.URL())
					r, err := store.NewRedis(srv.URL(), zap.NewNop(), store.DefaultRedisOptions())
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = r.Close() })
					db = r
					if withSettings {
						channels = settings.NewRedis(r.Link(), nil, zap.NewNop(), settings.DefaultOptions())
					}
				} else if withSettings {
					var err error
					channels, err = settings.OpenBolt(filepath.Join(b.TempDir(), "s.db"), nil, zap.NewNop(), settings.DefaultOptions())
					if err != nil {
						b.Fatal(err)
					}
				}
				deps := Deps{Store: db}
				ledger := NewLedger(db, Allowances{}, "T1", nil, zap.NewNop())
				if channels != nil {
					b.Cleanup(func() { _ = channels.Close() })
					ledger.WithChannels(channels)
					deps.Channels = channels
				}
				deps.Ledger = ledger
				bot := New(&fakeSocket{}, nil, &fakeFlows{}, nullQueue{}, Identity{UserID: "UBOT", TeamID: "T1"}, zap.NewNop(), DefaultConfig(), deps)
				ctx := context.Background()
				before := calls()
				b.ResetTimer()
				for i := range b.N {
					bot.admit(ctx, decoded{
						req: handlers.Request{Origin: handlers.Origin{Trigger: handlers.TriggerMention, Channel: "C" + strconv.Itoa(i%16),
							Thread: "1.1", Message: "1.1", User: "U" + strconv.Itoa(i%200), Team: "T1"}, Ask: handlers.Said{Text: "hi"}},
						seen: []string{"event:" + strconv.Itoa(i)},
					})
				}
				b.StopTimer()
				if backend == "redis" {
					b.ReportMetric(float64(calls()-before)/float64(b.N), "round-trips/op")
				}
			})
		}
	}
}

// redisCalls counts the commands a client sent Redis (INFO
// commandstats): the scripts (EVALSHA, or EVAL the first time) and
// HGETALL, the channel settings' read; the commands a script runs inside
// Redis are no round trip.
func redisCalls(b *testing.B, url string) func() int64 {
	raw := redistest.Client(b, url)
	return func() int64 {
		stats, err := raw.Info(context.Background(), "commandstats").Result()
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, line := range strings.Split(stats, "\n") {
			name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
			if !ok || (name != "evalsha" && name != "eval" && name != "hgetall") {
				continue
			}
			c, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			n += c
		}
		return n
	}
}
