package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
)

// ChangesChannel is the Redis channel every save is published on, as
// "channel version".
const ChangesChannel = "settings"

// saveScript is a save in one round trip, all or nothing: it reads the
// channel's hash, sets the fields changed, who and when, counts the
// version up and tells every replica. KEYS[1] is the hash; ARGV are the
// channel to publish on, the channel's ID, who, when, then field and value
// pairs. It answers the hash before and after.
const saveScript = `
local before = redis.call('HGETALL', KEYS[1])
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'by', ARGV[3], 'at', ARGV[4])
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. version)
return {before, redis.call('HGETALL', KEYS[1])}
`

// NewRedis keeps channel settings in the Redis the store's link names,
// one hash per channel, for replicas: a save there reaches every replica
// at once (publish and subscribe), which drops what it remembered of the
// channel. It falls back and comes back with the rest of the replica
// (link.Health); while Redis does not answer, what was read last is used,
// and saving is refused. Close stops it.
func NewRedis(link store.Link, file *File, log *zap.Logger, opts Options) *Channels {
	o := link.Options
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = link.Timeout, link.Timeout, link.Timeout
	ctx, stop := context.WithCancel(context.Background())
	s := &redisStore{client: redis.NewClient(&o), prefix: link.Prefix, health: link.Health,
		saveLua: redis.NewScript(saveScript), stop: stop}
	c := newChannels(file, s, log, opts)
	s.wg.Go(func() { s.listen(ctx, c, log) })
	return c
}

type redisStore struct {
	client  *redis.Client
	prefix  string
	health  *store.Health
	saveLua *redis.Script
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// errRedisDown is a call not made: Redis failed lately, and the replica
// answers alone until it answers again.
var errRedisDown = errors.New("redis does not answer: kept to this replica's memory")

func (s *redisStore) key(channel string) string { return s.prefix + "channel:" + channel }

func (s *redisStore) load(ctx context.Context, channel string) (Record, error) {
	if !s.health.TryRedis() {
		return Record{}, errRedisDown
	}
	fields, err := s.client.HGetAll(ctx, s.key(channel)).Result()
	if err != nil {
		s.health.Failed(err)
		return Record{}, fmt.Errorf("HGETALL: %w", err)
	}
	s.health.Worked()
	return recordOf(fields)
}

func (s *redisStore) save(ctx context.Context, channel string, change handlers.ChannelValues, by string, at time.Time) (before, after Record, err error) {
	if !s.health.TryRedis() {
		return Record{}, Record{}, errRedisDown
	}
	args := []any{s.prefix + ChangesChannel, channel, by, at.Format(time.RFC3339Nano)}
	fields, err := fieldsOf(change)
	if err != nil {
		return Record{}, Record{}, err
	}
	for _, f := range fields {
		args = append(args, f[0], f[1])
	}
	res, err := s.saveLua.Run(ctx, s.client, []string{s.key(channel)}, args...).Slice()
	if err != nil {
		s.health.Failed(err)
		return Record{}, Record{}, fmt.Errorf("save script: %w", err)
	}
	s.health.Worked()
	if len(res) != 2 {
		return Record{}, Record{}, errors.New("save script: unexpected answer")
	}
	if before, err = recordOf(pairs(res[0])); err != nil {
		return Record{}, Record{}, err
	}
	after, err = recordOf(pairs(res[1]))
	return before, after, err
}

// listen drops what the replica remembers of a channel another replica
// saved, until ctx ends; at each (re)subscription, of every channel, since
// words published while it was away are lost.
func (s *redisStore) listen(ctx context.Context, c *Channels, log *zap.Logger) {
	sub := s.client.Subscribe(ctx, s.prefix+ChangesChannel)
	defer func() { _ = sub.Close() }()
	msgs := sub.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" {
					c.changed("", 0)
				}
			case *redis.Message:
				channel, v, _ := strings.Cut(m.Payload, " ")
				version, err := strconv.ParseInt(v, 10, 64)
				if err != nil || channel == "" {
					log.Warn("a word of a settings change that can't be read", zap.String("payload", m.Payload))
					continue
				}
				log.Debug("a channel's settings changed on another replica", zap.String("channel", channel), zap.Int64("version", version))
				c.changed(channel, version)
			}
		}
	}
}

func (s *redisStore) close() error {
	s.stop()
	s.wg.Wait()
	return s.client.Close()
}

// The hash's fields besides the settings, each its own field: a save
// sets only the fields it changes, so two saves at once keep both.
const (
	fieldVersion = "version"
	fieldBy      = "by"
	fieldAt      = "at"
)

// fieldsOf are the hash fields a change sets, each value as JSON.
func fieldsOf(change handlers.ChannelValues) ([][2]string, error) {
	var out [][2]string
	add := func(s handlers.Setting, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", s, err)
		}
		out = append(out, [2]string{string(s), string(data)})
		return nil
	}
	var err error
	for _, s := range change.Set() {
		switch s {
		case handlers.SettingDefault:
			err = add(s, *change.Default)
		case handlers.SettingUseCases:
			err = add(s, *change.UseCases)
		case handlers.SettingBrief:
			err = add(s, *change.Brief)
		case handlers.SettingReactions:
			err = add(s, *change.Reactions)
		case handlers.SettingDailyTokens:
			err = add(s, *change.DailyTokens)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// recordOf reads a channel's hash.
func recordOf(fields map[string]string) (Record, error) {
	var rec Record
	v := &rec.Values
	for k, raw := range fields {
		var err error
		switch k {
		case fieldVersion:
			rec.Version, err = strconv.ParseInt(raw, 10, 64)
		case fieldBy:
			rec.By = raw
		case fieldAt:
			rec.At, err = time.Parse(time.RFC3339Nano, raw)
		case string(handlers.SettingDefault):
			err = json.Unmarshal([]byte(raw), &v.Default)
		case string(handlers.SettingUseCases):
			err = json.Unmarshal([]byte(raw), &v.UseCases)
		case string(handlers.SettingBrief):
			err = json.Unmarshal([]byte(raw), &v.Brief)
		case string(handlers.SettingReactions):
			err = json.Unmarshal([]byte(raw), &v.Reactions)
		case string(handlers.SettingDailyTokens):
			err = json.Unmarshal([]byte(raw), &v.DailyTokens)
		}
		// A field of a newer version is left for it.
		if err != nil {
			return Record{}, fmt.Errorf("read the field %s of a channel's settings: %w", k, err)
		}
	}
	return rec, nil
}

// pairs reads HGETALL's flat answer from a script.
func pairs(v any) map[string]string {
	list, _ := v.([]any)
	out := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		k, _ := list[i].(string)
		val, _ := list[i+1].(string)
		out[k] = val
	}
	return out
}
