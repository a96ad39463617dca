package queue

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/visionbot/visionbot/bot/store"
)

// Replicas is what the replicas of one Slack app share through Redis
// beyond seen events and limits: the queue of admitted requests (a Redis
// stream read by one consumer group, one consumer per replica), the
// replicas' heartbeats, and the count of calls against Slack's rate tiers,
// which are the workspace's, not a process's. Build it on the RedisStore,
// whose connections and health it shares, and give it to Config.Replicas
// and API.ShareTiers.
//
// It needs Redis 6.2 or later (XPENDING's IDLE filter and exclusive
// ranges, with which its queue finds what to take over), a single
// server, not a cluster: its scripts touch the keys of the requests they
// find.
type Replicas struct {
	client  *redis.Client
	prefix  string
	timeout time.Duration
	*store.Health
	name string
	// live is how many replicas, this one included, had a fresh heartbeat
	// at this one's last; 0 before the first.
	live    atomic.Int64
	seq     atomic.Uint64 // makes each recorded Slack call a member of its own
	scripts replicaScripts
	// sealer seals what a queued request holds of its response_url
	// (seal.go).
	sealer cipher.AEAD
}

// replicaScripts are the Lua scripts the replicas run, each one round trip
// that reads and writes what it needs atomically.
type replicaScripts struct {
	beat, others, leave, tier                    *redis.Script
	enqueue, claim, renew, record, ack, handBack *redis.Script
	epoch, reserve, pending                      *redis.Script
}

func newReplicaScripts() replicaScripts {
	return replicaScripts{
		beat: redis.NewScript(beatLua), others: redis.NewScript(othersLua), leave: redis.NewScript(leaveLua),
		tier: redis.NewScript(tierLua), enqueue: redis.NewScript(enqueueLua), claim: redis.NewScript(takeoverLua),
		renew: redis.NewScript(renewLua), record: redis.NewScript(recordLua), ack: redis.NewScript(ackLua),
		handBack: redis.NewScript(handBackLua), epoch: redis.NewScript(epochLua), reserve: redis.NewScript(reserveLua),
		pending: redis.NewScript(pendingLua),
	}
}

// NewReplicas shares store's Redis with the other replicas; name tells
// this replica from them (its consumer in the stream's group): unique
// per process, such as the host name and a random suffix. originKey seals
// the response_url of each request queued in Redis: every replica must
// have the same, and Redis must not (cmd/visionbot derives it from the
// bot token); it may not be empty.
//
// Its connections are its own, to the same server as the store's: a
// renewal or a heartbeat may take longer than an admission's 200 ms
// before Redis counts as failed (see sharedQueue.callTimeout), since a
// replica that takes a slow Redis for a dead one keeps its requests on
// trust. Close them with Close.
func NewReplicas(link store.Link, name string, originKey []byte) *Replicas {
	o := link.Options
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = maxRedisCall, maxRedisCall, maxRedisCall
	return &Replicas{
		client: redis.NewClient(&o), prefix: link.Prefix, timeout: link.Timeout, Health: link.Health,
		name: name, scripts: newReplicaScripts(), sealer: newSealer(originKey),
	}
}

// maxRedisCall bounds any one call of the replicas to Redis; each call's
// own context bounds it further.
const maxRedisCall = time.Second

// Close closes the replicas' connections to Redis.
func (r *Replicas) Close() error { return r.client.Close() }

// Name is this replica's name among the others.
func (r *Replicas) Name() string { return r.name }

func (r *Replicas) key(name string) string { return r.prefix + name }

// Count is how many replicas were alive at the last heartbeat, for the
// share of Slack's tiers a replica takes alone when Redis fails.
func (r *Replicas) Count() int { return int(r.live.Load()) }

// Redis's clock, in milliseconds, for every script that judges time, so
// that the replicas' own clocks never disagree about who is alive or
// which minute a call belongs to.
const nowLua = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// beatLua records this replica's heartbeat and returns how many
// replicas are alive, and the queue's epoch ("" for none: see
// sharedQueue.sync). KEYS: the heartbeats (a sorted set of names scored
// by their last beat), the stream, the epoch; ARGV: this replica's name,
// how long a beat lasts in ms, the group. Consumers of the group that are not alive
// and hold no request are forgotten, so that restarts do not pile them up
// (a live replica whose consumer this removes gets a new one with its
// next read).
const beatLua = nowLua + `
local now = now_ms()
local life = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - life)
redis.call('PEXPIRE', KEYS[1], life * 10)
if redis.call('EXISTS', KEYS[2]) == 1 then
  local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[2], ARGV[3])
  if ok then
    for _, c in ipairs(consumers) do
      local f = {}
      for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
      if f['pending'] == 0 and f['idle'] > life and not redis.call('ZSCORE', KEYS[1], f['name']) then
        redis.call('XGROUP', 'DELCONSUMER', KEYS[2], ARGV[3], f['name'])
      end
    end
  end
end
return {redis.call('ZCARD', KEYS[1]), redis.call('GET', KEYS[3]) or ''}
`

// othersLua counts the replicas other than ARGV[1] alive within
// ARGV[2] ms. KEYS: the heartbeats.
const othersLua = nowLua + `
local n = redis.call('ZCOUNT', KEYS[1], now_ms() - tonumber(ARGV[2]), '+inf')
local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])
if mine and tonumber(mine) >= now_ms() - tonumber(ARGV[2]) then n = n - 1 end
return n
`

// leaveLua takes this replica out of the heartbeats, and out of the
// group when it holds no request. KEYS: the heartbeats, the stream; ARGV:
// the name, the group.
const leaveLua = `
redis.call('ZREM', KEYS[1], ARGV[1])
local ok, held = pcall(redis.call, 'XPENDING', KEYS[2], ARGV[2], '-', '+', 1, ARGV[1])
if ok and #held == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[2], ARGV[2], ARGV[1])
end
return 1
`

// callTimeout bounds a heartbeat, a renewal, a takeover or an
// acknowledgement, when a claim lives claimAfter: a fifth of it (the
// margin its lease leaves), within 200 ms and a second. An admission's
// call, which holds up a person's request, keeps the store's timeout.
func callTimeout(claimAfter time.Duration) time.Duration {
	return min(max(claimAfter/5, 200*time.Millisecond), maxRedisCall)
}

// beat records a heartbeat; life is how long it counts this replica
// alive. It answers the queue's epoch, kept at epochKey.
func (r *Replicas) beat(ctx context.Context, life time.Duration, stream, group, epochKey string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout(life))
	defer cancel()
	res, err := r.scripts.beat.Run(ctx, r.client, []string{r.key("replicas"), stream, epochKey}, r.name, life.Milliseconds(), group).Slice()
	if err == nil && len(res) != 2 {
		err = errors.New("unexpected answer")
	}
	if err != nil {
		return "", fmt.Errorf("heartbeat: %w", err)
	}
	n, _ := res[0].(int64)
	epoch, _ := res[1].(string)
	r.live.Store(n)
	return epoch, nil
}

// others is how many other replicas are alive.
func (r *Replicas) others(ctx context.Context, life time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout(life))
	defer cancel()
	n, err := r.scripts.others.Run(ctx, r.client, []string{r.key("replicas")}, r.name, life.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("count the other replicas: %w", err)
	}
	return n, nil
}

// leave takes this replica out of the heartbeats at its end.
func (r *Replicas) leave(ctx context.Context, stream, group string) error {
	ctx, cancel := context.WithTimeout(ctx, maxRedisCall)
	defer cancel()
	if err := r.scripts.leave.Run(ctx, r.client, []string{r.key("replicas"), stream}, r.name, group).Err(); err != nil {
		return fmt.Errorf("leave the replicas: %w", err)
	}
	return nil
}

// tierLua is budget.take for the workspace: one sorted set per method
// holds the last minute's calls of every replica, scored by Redis's
// clock. KEYS: the methods' sets; ARGV: the reserve, this call's member
// name, then each method's limit ("" for a call recorded whatever the
// budget). A method named twice is two calls. It records every method and
// answers 1 when each has room beyond the reserve, else records nothing
// and answers 0.
const tierLua = nowLua + `
local now = now_ms()
local reserve = tonumber(ARGV[1])
local need = {}
for i, k in ipairs(KEYS) do need[k] = (need[k] or 0) + 1 end
for i, k in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - 60000)
  local limit = tonumber(ARGV[2 + i])
  if limit and redis.call('ZCARD', k) + need[k] > limit - reserve then return 0 end
end
for i, k in ipairs(KEYS) do
  redis.call('ZADD', k, now, ARGV[2] .. ':' .. i)
  redis.call('PEXPIRE', k, 61000)
end
return 1
`

// errRedisDown is a call not made because Redis failed a moment ago.
var errRedisDown = errors.New("not asked: Redis failed a moment ago")

// Take implements slackapi.SharedTiers: limits nil records the calls
// whatever the budget. It asks on ctx, the request's, within the store's
// timeout: a request that ends (a Stop, a shutdown) cuts it short, and is
// not taken for Redis failing.
func (r *Replicas) Take(ctx context.Context, limits map[string]int, reserve int, methods []string) (bool, error) {
	if !r.TryRedis() {
		return false, errRedisDown
	}
	keys := make([]string, len(methods))
	args := make([]any, 0, 2+len(methods))
	args = append(args, reserve, r.name+":"+strconv.FormatUint(r.seq.Add(1), 36))
	for i, m := range methods {
		keys[i] = r.key("tier:" + m)
		limit := ""
		if l, ok := limits[m]; ok {
			limit = strconv.Itoa(l)
		}
		args = append(args, limit)
	}
	rctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	ok, err := r.scripts.tier.Run(rctx, r.client, keys, args...).Int()
	if err != nil {
		if ctx.Err() == nil {
			r.Failed(err)
		}
		return false, fmt.Errorf("count the calls against Slack's tiers: %w", err)
	}
	r.Worked()
	return ok == 1, nil
}
