package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
)

// RedisOptions tune a RedisStore; the zero value is what the bot runs with.
type RedisOptions struct {
	// Timeout bounds each call to Redis (default 200ms): the loop waits
	// for it before the next envelope.
	Timeout time.Duration
	// RetryAfter is how long the store keeps to its memory after Redis
	// failed, before it tries Redis again (default 1s).
	RetryAfter time.Duration
	// Prefix starts every key (default "visionbot:").
	Prefix string
}

// RedisStore is the Store that replicas share: an event that Slack
// delivers to two of them is claimed by one, and the limits count every
// replica's requests. When Redis fails it falls back to this process's
// memory, warns once, and goes back to Redis when Redis answers again: a
// replica must answer whatever happens to Redis. What it claims and counts
// in Redis it also keeps in memory, so that a fallback still knows the
// events this replica saw.
type RedisStore struct {
	client   *redis.Client
	addr     string
	opts     RedisOptions
	memory   *memoryStore
	log      *zap.Logger
	now      func() time.Time
	mu       sync.Mutex
	down     bool      // Redis failed; memory answers until retryAt
	retryAt  time.Time // when to try Redis again
	countLua *redis.Script
}

// countScript adds one to a counter and returns it with the milliseconds
// until it resets. A counter without an expiry (a new one, or one left by
// a crash between two calls) gets the window.
const countScript = `
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`

// CheckRedisURL reports whether url is a Redis URL the store can use,
// without connecting. Its error never holds the URL's password.
func CheckRedisURL(url string) error {
	_, err := redis.ParseURL(url)
	return err
}

// NewRedisStore returns a store on the Redis server url names
// (redis://[:password@]host:port/db, or rediss:// for TLS). It does not
// connect: see Ping.
func NewRedisStore(url string, log *zap.Logger, opts RedisOptions) (*RedisStore, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 200 * time.Millisecond
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.Prefix == "" {
		opts.Prefix = "visionbot:"
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	o.ContextTimeoutEnabled = true
	// A failed call falls back to memory at once; retrying it would only
	// hold the loop longer.
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &RedisStore{
		client: redis.NewClient(o), addr: o.Addr, opts: opts, log: log, now: time.Now,
		memory: newMemoryStore(0, time.Now), countLua: redis.NewScript(countScript),
	}, nil
}

// RouteRedisLogs sends what the Redis client logs (a failed dial, a
// dropped connection) to log at debug level, instead of raw lines on
// stderr among the bot's JSON: the store says what matters itself. The
// client's logger is one for the process, so main calls this once.
func RouteRedisLogs(log *zap.Logger) {
	redis.SetLogger(redisLogger{log})
}

type redisLogger struct{ log *zap.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("redis client: " + fmt.Sprintf(format, v...))
}

// Addr is the Redis server's host:port, for logs: the URL may hold a
// password.
func (s *RedisStore) Addr() string { return s.addr }

// Ping checks that Redis answers. When it does not, the store starts on
// its memory (without a warning of its own: the caller says it).
func (s *RedisStore) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	err := s.client.Ping(ctx).Err()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.down, s.retryAt = true, s.now().Add(s.opts.RetryAfter)
		return fmt.Errorf("ping Redis at %s: %w", s.addr, err)
	}
	s.down = false
	return nil
}

// Close closes the connections to Redis.
func (s *RedisStore) Close() error { return s.client.Close() }

// Claim implements Store.
func (s *RedisStore) Claim(ctx context.Context, ttl time.Duration, keys ...string) (bool, error) {
	if !s.tryRedis() {
		return s.memory.Claim(ctx, ttl, keys...)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	cmds, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.SetNX(ctx, s.opts.Prefix+k, 1, ttl)
		}
		return nil
	})
	if err != nil {
		s.failed(err)
		return s.memory.Claim(ctx, ttl, keys...)
	}
	s.worked()
	_, _ = s.memory.Claim(ctx, ttl, keys...)
	fresh := true
	for _, c := range cmds {
		if set, ok := c.(*redis.BoolCmd); !ok || !set.Val() {
			fresh = false
		}
	}
	return fresh, nil
}

// Count implements Store.
func (s *RedisStore) Count(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if !s.tryRedis() {
		return s.memory.Count(ctx, key, window)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	res, err := s.countLua.Run(ctx, s.client, []string{s.opts.Prefix + key}, window.Milliseconds()).Int64Slice()
	if err == nil && len(res) != 2 {
		err = errors.New("count script: unexpected answer")
	}
	if err != nil {
		s.failed(err)
		return s.memory.Count(ctx, key, window)
	}
	s.worked()
	_, _, _ = s.memory.Count(ctx, key, window)
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}

// tryRedis says whether this call goes to Redis: always while it works;
// after a failure, one call per RetryAfter, to see whether it is back.
func (s *RedisStore) tryRedis() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		return true
	}
	now := s.now()
	if now.Before(s.retryAt) {
		return false
	}
	s.retryAt = now.Add(s.opts.RetryAfter)
	return true
}

// failed switches to memory, warning only when Redis was up until now.
func (s *RedisStore) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAt = s.now().Add(s.opts.RetryAfter)
	if s.down {
		return
	}
	s.down = true
	s.log.Warn("Redis failed: seen events and limits are kept in this process's memory, not shared with other replicas, until it answers again",
		zap.String("redis", s.addr), zap.Error(err))
}

// worked goes back to Redis after a failure.
func (s *RedisStore) worked() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down {
		return
	}
	s.down = false
	s.log.Info("Redis answers again: seen events and limits are shared with the other replicas", zap.String("redis", s.addr))
}
