package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/zap"
)

// RedisOptions tune a Redis.
type RedisOptions struct {
	// Timeout bounds each call to Redis: admission waits for it before it
	// queues a request.
	Timeout time.Duration
	// RetryAfter is how long the store keeps to its memory after Redis
	// failed, before it tries Redis again.
	RetryAfter time.Duration
	// Prefix starts every key.
	Prefix string
}

// DefaultRedisOptions are what the bot runs with.
func DefaultRedisOptions() RedisOptions {
	return RedisOptions{Timeout: 200 * time.Millisecond, RetryAfter: time.Second, Prefix: "visionbot:"}
}

// Redis is the store that replicas share: an event that Slack
// delivers to two of them is answered by one, and the limits count every
// replica's requests. When Redis fails it falls back to this process's
// memory, warns once, and goes back to Redis when Redis answers again: a
// replica must answer whatever happens to Redis. What it remembers and counts
// in Redis it also keeps in memory, so that a fallback still knows the
// events this replica saw.
type Redis struct {
	client *redis.Client
	opts   RedisOptions
	memory *Memory
	*Health
	admitLua, spendLua *redis.Script
}

// Health is whether Redis answers, for every use of it in a replica: the
// store, the job queue, the heartbeats and the shared tiers fall back to
// this process together, and come back together, with one warning.
type Health struct {
	log        *zap.Logger
	addr       string
	retryAfter time.Duration
	now        func() time.Time
	mu         sync.Mutex
	down       bool      // Redis failed; this process answers alone until retryAt
	retryAt    time.Time // when to try Redis again
}

// dayLua names the UTC day by Redis's clock, for the keys of the daily
// token allowances (Today), so that every replica charges and reads the
// same day whatever its own clock says. Redis's Lua has no date library:
// utc_day turns the days since 1970-01-01 into a proleptic Gregorian
// date, counting in 400-year eras of 146097 days that start on March 1st
// (so that a leap day ends its year); TestRedisDays checks it against Go
// over four centuries. The day's key is made in the script, not named in
// KEYS: like the queue's scripts, this needs one server, not a cluster.
const dayLua = `
local function utc_day(secs)
  local days = math.floor(secs / 86400) + 719468 -- since 0000-03-01
  local era = math.floor(days / 146097)
  local doe = days - era * 146097 -- day of the era, 0 to 146096
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100)) -- from March 1st
  local mp = math.floor((5 * doy + 2) / 153) -- month from March, 0 to 11
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400
  if month <= 2 then year = year + 1 end
  return string.format('%04d-%02d-%02d', year, month, day)
end
-- today is Redis's UTC day and the milliseconds until it ends.
local function today()
  local t = redis.call('TIME')
  local secs = tonumber(t[1])
  local left = (86400 - secs % 86400) * 1000 - math.floor(tonumber(t[2]) / 1000)
  return utc_day(secs), left
end
-- of_day is an allowance's key with its day put in.
local function of_day(key, day)
  return (string.gsub(key, '{day}', day, 1))
end
`

// admitScript is Store.Admit in one round trip. KEYS are the seen keys,
// then the counters; ARGV[1] is how many seen keys there are, ARGV[2] their
// ttl in milliseconds, then each counter's window (-1 for a counter only
// read). It answers {0} for a duplicate, else {1, n1, ms1, n2, ms2, …}:
// each counter's count and the milliseconds until it resets. A counter
// without an expiry (a new one, or one left by a crash between two calls)
// gets its window; one only read, a daily allowance, is read for Redis's
// day (0 when absent) and resets at Redis's midnight.
const admitScript = dayLua + `
local seen = tonumber(ARGV[1])
local fresh = true
for i = 1, seen do
  if not redis.call('SET', KEYS[i], 1, 'PX', ARGV[2], 'NX') then fresh = false end
end
if not fresh then return {0} end
local out = {1}
local day, left
for i = seen + 1, #KEYS do
  local window = tonumber(ARGV[2 + i - seen])
  if window < 0 then
    if not day then day, left = today() end
    out[#out + 1] = tonumber(redis.call('GET', of_day(KEYS[i], day)) or '0')
    out[#out + 1] = left
  else
    local n = redis.call('INCR', KEYS[i])
    local ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], window)
      ttl = window
    end
    out[#out + 1] = n
    out[#out + 1] = ttl
  end
end
return out
`

// spendScript is Store.Spend in one round trip: ARGV[1] is the ttl in
// milliseconds, ARGV[2] the tokens; each of KEYS, for Redis's day, is made
// with that ttl (SET NX: EXPIRE NX would need Redis 7), then added to.
const spendScript = dayLua + `
local day = today()
for _, k in ipairs(KEYS) do
  local key = of_day(k, day)
  redis.call('SET', key, 0, 'PX', ARGV[1], 'NX')
  redis.call('INCRBY', key, ARGV[2])
end
return 1
`

// CheckRedisURL reports whether raw is a Redis URL the store can use,
// without connecting. Its error never holds the URL's password.
func CheckRedisURL(raw string) error {
	_, err := parseRedisURL(raw)
	return err
}

// parseRedisURL is redis.ParseURL with an error that does not hold the
// URL: net/url's errors quote the whole of it, password included.
func parseRedisURL(raw string) (*redis.Options, error) {
	o, err := redis.ParseURL(raw)
	var ue *url.Error
	if errors.As(err, &ue) {
		return nil, errors.New("it does not parse as a URL (a password with @, : or / in it must be percent-encoded)")
	}
	return o, err
}

// NewRedis returns a store on the Redis server url names
// (redis://[:password@]host:port/db, or rediss:// for TLS). It does not
// connect: see Ping.
func NewRedis(rawURL string, log *zap.Logger, opts RedisOptions) (*Redis, error) {
	o, err := parseRedisURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = opts.Timeout, opts.Timeout, opts.Timeout
	o.ContextTimeoutEnabled = true
	// A failed call falls back to memory at once; retrying it would only
	// hold the loop longer.
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &Redis{
		client: redis.NewClient(o), opts: opts,
		memory:   newMemory(maxMemoryKeys, time.Now),
		Health:   &Health{log: log, addr: o.Addr, retryAfter: opts.RetryAfter, now: time.Now},
		admitLua: redis.NewScript(admitScript),
		spendLua: redis.NewScript(spendScript),
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
func (s *Redis) Addr() string { return s.addr }

// MinRedisVersion is the oldest Redis replicas can share: their queue
// finds a dead replica's requests with XPENDING … IDLE, new in 6.2.
const MinRedisVersion = "6.2.0"

// ErrRedisAuth is Redis refusing the password REDIS_URL gave (or asking
// for one it did not give).
var ErrRedisAuth = errors.New("it refused the password")

// Version asks Redis for its version, which also proves that it answers
// and takes the password. When Redis does not answer, the store starts on
// its memory (without a warning of its own: the caller says it). An error never holds the password: Redis's
// refusals do not repeat it, and the address is host:port.
func (s *Redis) Version(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	info, err := s.client.InfoMap(ctx, "server").Result()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.down, s.retryAt = true, s.now().Add(s.retryAfter)
		if refusesPassword(err) {
			return "", fmt.Errorf("ask Redis at %s for its version: %w (%w)", s.addr, ErrRedisAuth, err)
		}
		return "", fmt.Errorf("ask Redis at %s for its version: %w", s.addr, err)
	}
	s.down = false
	version := info["Server"]["redis_version"]
	if version == "" {
		return "", fmt.Errorf("ask Redis at %s for its version: its INFO has no redis_version", s.addr)
	}
	return version, nil
}

// passwordRefusals are the AUTH command's refusals of code ERR: Redis
// before 6 ("invalid password", and "Client sent AUTH, but no password is
// set" for a password it does not ask for) and Redis 6 and later's AUTH
// <password> to a server without one (go-redis sends AUTH when HELLO is
// refused). Their words are all that tells them from other ERR replies.
var passwordRefusals = []string{
	"invalid password",
	"Client sent AUTH, but no password is set",
	"AUTH <password> called without any password configured",
}

// refusesPassword reports whether err is Redis refusing the password
// REDIS_URL gave, or asking for one it did not give. Only a server reply
// (a redis.Error) counts, never a network error's text: go-redis types
// NOAUTH and WRONGPASS (redis.IsAuthError, which would read any error's
// text but is given the reply only), and redis.HasErrorPrefix reads the
// others.
func refusesPassword(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	if redis.IsAuthError(reply) {
		return true
	}
	for _, said := range passwordRefusals {
		if redis.HasErrorPrefix(err, said) {
			return true
		}
	}
	return false
}

// RedisVersionSupported reports whether Redis version v (such as 7.0.15)
// is MinRedisVersion or later.
func RedisVersionSupported(v string) bool {
	have, want := strings.Split(v, "."), strings.Split(MinRedisVersion, ".")
	for i := range want {
		h := 0 // "6.2" is 6.2.0
		if i < len(have) {
			var err error
			if h, err = strconv.Atoi(have[i]); err != nil {
				return false
			}
		}
		w, _ := strconv.Atoi(want[i])
		if h != w {
			return h > w
		}
	}
	return true
}

// Close closes the connections to Redis.
func (s *Redis) Close() error { return s.client.Close() }

// Remember implements bot.Store.
func (s *Redis) Remember(ctx context.Context, ttl time.Duration, keys ...string) (bool, error) {
	if !s.TryRedis() {
		return s.memory.Remember(ctx, ttl, keys...)
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
		s.Failed(err)
		return s.memory.Remember(ctx, ttl, keys...)
	}
	s.Worked()
	_, _ = s.memory.Remember(ctx, ttl, keys...)
	fresh := true
	for _, c := range cmds {
		if set, ok := c.(*redis.BoolCmd); !ok || !set.Val() {
			fresh = false
		}
	}
	return fresh, nil
}

// Admit implements bot.Store.
func (s *Redis) Admit(ctx context.Context, ttl time.Duration, seen []string, counters []Counter) (Admission, error) {
	if !s.TryRedis() {
		return s.memory.Admit(ctx, ttl, seen, counters)
	}
	keys := make([]string, 0, len(seen)+len(counters))
	args := make([]any, 0, 2+len(counters))
	args = append(args, len(seen), ttl.Milliseconds())
	for _, k := range seen {
		keys = append(keys, s.opts.Prefix+k)
	}
	for _, c := range counters {
		keys = append(keys, s.opts.Prefix+c.Key)
		window := c.Window.Milliseconds()
		if c.Read {
			window = -1
		}
		args = append(args, window)
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	res, err := s.admitLua.Run(rctx, s.client, keys, args...).Int64Slice()
	if err == nil && (len(res) == 0 || (res[0] == 1 && len(res) != 1+2*len(counters))) {
		err = errors.New("admit script: unexpected answer")
	}
	if err != nil {
		s.Failed(err)
		return s.memory.Admit(ctx, ttl, seen, counters)
	}
	s.Worked()
	// Kept in memory too, so that a fallback still knows what this
	// replica saw and counted.
	_, _ = s.memory.Admit(ctx, ttl, seen, counters)
	if res[0] == 0 {
		return Admission{}, nil
	}
	counts := make([]Count, len(counters))
	for i := range counters {
		counts[i] = Count{N: res[1+2*i], ResetIn: time.Duration(res[2+2*i]) * time.Millisecond}
	}
	return Admission{Fresh: true, Counts: counts}, nil
}

// Spend implements bot.Store in one round trip (spendScript): n is added
// to each key's total of Redis's day.
func (s *Redis) Spend(ctx context.Context, ttl time.Duration, n int64, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	// Kept in memory too, so that a fallback still knows what this
	// replica spent.
	_ = s.memory.Spend(ctx, ttl, n, keys...)
	if !s.TryRedis() {
		return nil
	}
	prefixed := make([]string, len(keys))
	for i, k := range keys {
		prefixed[i] = s.opts.Prefix + k
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := s.spendLua.Run(rctx, s.client, prefixed, ttl.Milliseconds(), n).Err(); err != nil {
		s.Failed(err)
		return nil
	}
	s.Worked()
	return nil
}

// tryRedis says whether this call goes to Redis: always while it works;
// after a failure, one call per RetryAfter, to see whether it is back.
func (h *Health) TryRedis() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down {
		return true
	}
	now := h.now()
	if now.Before(h.retryAt) {
		return false
	}
	h.retryAt = now.Add(h.retryAfter)
	return true
}

// failed switches to this process alone, warning only when Redis was up
// until now.
func (h *Health) Failed(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.retryAt = h.now().Add(h.retryAfter)
	if h.down {
		return
	}
	h.down = true
	h.log.Warn("Redis failed: seen events, limits, queued requests and Slack's rate tiers are kept in this process, "+
		"not shared with other replicas, until it answers again",
		zap.String("redis", h.addr), zap.Error(err))
}

// worked goes back to Redis after a failure.
func (h *Health) Worked() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.down {
		return
	}
	h.down = false
	h.log.Info("Redis answers again: seen events, limits, queued requests and Slack's rate tiers are shared with the other replicas",
		zap.String("redis", h.addr))
}

// isDown reports whether Redis failed and has not answered since.
func (h *Health) IsDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down
}

// StopsChannel is the Redis channel Stops are published on.
const StopsChannel = "stops"

// PublishStop tells every replica of user's Stop in a thread.
func (s *Redis) PublishStop(ctx context.Context, channel, thread, user string) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := s.client.Publish(ctx, s.opts.Prefix+StopsChannel, stopMessage(channel, thread, user)).Err(); err != nil {
		return fmt.Errorf("publish a Stop to Redis at %s: %w", s.addr, err)
	}
	return nil
}

// SubscribeStops calls stop for each Stop any replica publishes, until ctx
// ends. The client reconnects a dropped subscription on its own.
func (s *Redis) SubscribeStops(ctx context.Context, stop func(channel, thread, user string)) {
	sub := s.client.Subscribe(ctx, s.opts.Prefix+StopsChannel)
	defer func() { _ = sub.Close() }()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			if channel, thread, user, ok := parseStopMessage(m.Payload); ok {
				stop(channel, thread, user)
			}
		}
	}
}

// RetryAfter is how long a replica answers alone after Redis failed
// before it tries Redis again.
func (h *Health) RetryAfter() time.Duration { return h.retryAfter }

// Link is what the replicas' own connections to the store's Redis are
// made from: the same server, keys under the same prefix, and one Health,
// so that the store, the queue and the tiers fall back and come back
// together.
type Link struct {
	Options redis.Options
	Prefix  string
	// Timeout bounds an admission's call to Redis.
	Timeout time.Duration
	Health  *Health
}

// Link is how replicas reach this store's Redis.
func (s *Redis) Link() Link {
	return Link{Options: *s.client.Options(), Prefix: s.opts.Prefix, Timeout: s.opts.Timeout, Health: s.Health}
}

// stopMessage is a Stop on the relay: "channel thread user".
func stopMessage(channel, thread, user string) string { return channel + " " + thread + " " + user }

// parseStopMessage reads a Stop off the relay. One that names no person
// (an earlier version's "channel thread", during a rolling deploy) is
// dropped: a Stop ends only its person's requests.
func parseStopMessage(m string) (channel, thread, user string, ok bool) {
	parts := strings.Split(m, " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
