package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
)

// The shared queue's names in Redis, under the store's prefix.
const (
	streamKey   = "jobs"
	workerGroup = "workers"
)

// maxReplicas bounds how many replicas read one queue: Slack opens at most
// 10 Socket Mode connections per app. The stream is trimmed well beyond
// what that many replicas can hold (MAXLEN ~), so that trimming never
// takes a request that is still to be answered; answered ones are deleted
// at once.
const maxReplicas = 10

// handBackIdle is the idle time a request handed back at a shutdown is given:
// far beyond any JOB_CLAIM_AFTER, so that the next replica to look takes
// it at once.
const handBackIdle = 24 * time.Hour

// ownedLua is whether the group's pending list still gives entry id to
// consumer with the delivery count n: the fencing token of a run.
const ownedLua = `
local function owned(stream, group, consumer, id, n)
  local ok, p = pcall(redis.call, 'XPENDING', stream, group, id, id, 1)
  return ok and #p == 1 and p[1][2] == consumer and p[1][4] == tonumber(n)
end
`

// enqueueLua adds a request to the stream unless the unanswered ones fill
// what the live replicas take on. KEYS: the stream, the heartbeats; ARGV:
// the group, requests one replica takes on (workers and queue), a
// heartbeat's life in ms, the stream's MAXLEN, the request. It answers
// the entry's id, or nil when full.
const enqueueLua = nowLua + `
local live = redis.call('ZCOUNT', KEYS[2], now_ms() - tonumber(ARGV[3]), '+inf')
if live < 1 then live = 1 end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
elseif redis.call('XLEN', KEYS[1]) >= live * tonumber(ARGV[2]) then
  return false
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'req', ARGV[5])
`

// takeoverLua takes over requests whose replica stopped renewing them: those
// idle for JOB_CLAIM_AFTER. KEYS: the stream; ARGV: the group, this
// consumer, the idle time in ms, the scan's cursor, how many (the free
// workers), the prefix of the requests' keys. It answers the next cursor,
// then for each request taken its id, its fields, its delivery count, what
// an earlier run showed ("" for nothing) and how many times it was handed
// back.
//
// It finds them with XPENDING and claims each with XCLAIM rather than
// XAUTOCLAIM, whose answer for an entry trimmed from the stream while
// pending differs by version: Redis 6.2 claims it and answers a nil in
// its place, without its id, so it could be neither acknowledged nor told
// from the others, and was claimed again at every scan; 7.0 drops it from
// the pending list and names it apart. Here a trimmed entry is found by
// its id (XRANGE answers nothing) and acknowledged, and XCLAIM only ever
// meets entries that exist, the same on both. XCLAIM takes min-idle 0:
// XPENDING, in the same script, already chose the idle ones. The next
// cursor is after the last entry found, exclusive (XPENDING's "(", 6.2
// too), or 0-0 once the pending list was scanned to its end.
//
// A stream or group that is not there (a Redis restarted without
// persistence) has nothing to take over: the script answers so rather
// than fail in XPENDING, since a redis.call error in a script keeps its
// code (NOGROUP) in front only from Redis 7.0 on, and 6.2's "ERR Error
// running script …" would read as Redis failing. The read that follows,
// a plain XREADGROUP, gets NOGROUP on every version, and the queue makes
// the group again (isNoGroup).
const takeoverLua = `
local function has_group(stream, group)
  if redis.call('EXISTS', stream) == 0 then return false end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    for i = 1, #g, 2 do
      if g[i] == 'name' and g[i + 1] == group then return true end
    end
  end
  return false
end
if not has_group(KEYS[1], ARGV[1]) then return {'0-0'} end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5])
local out = {'0-0'}
if #pending >= tonumber(ARGV[5]) then
  out[1] = '(' .. pending[#pending][1]
end
for _, p in ipairs(pending) do
  local id = p[1]
  if #redis.call('XRANGE', KEYS[1], id, id) == 0 then
    -- Trimmed while pending: nothing to run.
    redis.call('XACK', KEYS[1], ARGV[1], id)
  else
    local e = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id)[1]
    local job = redis.call('HMGET', ARGV[6] .. id, 'shown', 'handbacks')
    -- XCLAIM counted this delivery.
    out[#out + 1] = {id, e[2], p[4] + 1, job[1] or '', job[2] or '0'}
  end
end
return out
`

// renewLua renews the runs that still own their requests: XCLAIM of an
// entry to its own consumer makes it busy again (idle 0) without counting
// a delivery (JUSTID). KEYS: the stream; ARGV: the group, this consumer,
// then each request's id and delivery count. It answers 1 or 0 for each.
const renewLua = ownedLua + `
local out = {}
for i = 3, #ARGV, 2 do
  if owned(KEYS[1], ARGV[1], ARGV[2], ARGV[i], ARGV[i + 1]) then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`

// recordLua keeps what a run's reply shows, when the run still owns its
// request. KEYS: the stream, the request's key; ARGV: the group, the
// consumer, the id, the delivery count, the message, its life in ms.
const recordLua = ownedLua + `
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
redis.call('HSET', KEYS[2], 'shown', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return 1
`

// ackLua ends an answered request: acknowledged, deleted from the stream,
// its key gone; only by the run that owns it. KEYS and ARGV as recordLua's
// first four.
const ackLua = ownedLua + `
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`

// handBackLua hands a request back at a shutdown: idle as if long forgotten,
// so that the next replica to look takes it, and counted as handed back,
// so that the take is not held against the request as a failed try.
// KEYS and ARGV as recordLua's first four, then the idle time in ms and
// the key's life in ms.
const handBackLua = ownedLua + `
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
redis.call('HINCRBY', KEYS[2], 'handbacks', 1)
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[5], 'JUSTID')
return 1
`

// sharedQueue is the queue of replicas: admission adds each request to a
// Redis stream; each replica reads, with its consumer in the group, only
// as many as it has free workers, and acknowledges a request once its
// answer is final. A replica that stops renewing its requests (it crashed,
// hung or was cut off) has them taken over by another after
// JOB_CLAIM_AFTER (takeoverLua); one that stops on purpose hands back what
// it could not finish within SHUTDOWN_GRACE. A request whose runs keep
// ending without an answer is answered with an error after a few tries.
type sharedQueue struct {
	r          *Replicas
	pool       *pool
	log        *zap.Logger
	claimAfter time.Duration
	perReplica int // unanswered requests one replica takes on: its workers and queue
	tries      int // runs a request gets before its user is told it failed

	// loops are the read loop and the heartbeats: start starts them,
	// each on the context of its Redis calls and with a stop of its own
	// (a stop lets a call under way finish), and close waits for both.
	// The read loop closes pool.direct, whose only sender it is, when it
	// ends.
	loops errgroup.Group
	// stopRead ends the read loop: no more requests are read. stopBeats
	// ends the heartbeats. Both are no-ops before start.
	stopRead, stopBeats context.CancelFunc

	mu sync.Mutex
	// held are the requests this replica runs, renewed by each heartbeat;
	// and those it answered whose acknowledgement Redis has yet to take.
	held map[*Lease]bool // true: answered, to acknowledge
}

// newSharedQueue is the shared queue of p, whose workers it hands the
// requests it reads.
func newSharedQueue(r *Replicas, p *pool, log *zap.Logger, cfg Config) *sharedQueue {
	q := &sharedQueue{
		r: r, pool: p, log: log, claimAfter: cfg.ClaimAfter, perReplica: max(cfg.Workers+cfg.Queue, 1), tries: cfg.Tries,
		stopRead: func() {}, stopBeats: func() {},
		held: map[*Lease]bool{},
	}
	p.shared, p.direct = q, make(chan entry)
	return q
}

func (q *sharedQueue) stream() string { return q.r.key(streamKey) }

// lease is how long a run may write to Slack after its last renewal: less
// than JOB_CLAIM_AFTER, the least time before another replica can take
// its request, by a margin for the renewal's own trip to Redis.
func (q *sharedQueue) lease() time.Duration { return q.claimAfter - q.claimAfter/5 }

// beatEvery is how often a replica beats and renews its requests: three
// times a lease, so that one late beat costs nothing.
func (q *sharedQueue) beatEvery() time.Duration { return q.claimAfter / 3 }

// scanEvery is how often a replica with free workers looks for requests
// to take over, and how long one read waits for new requests.
func (q *sharedQueue) scanEvery() time.Duration { return min(q.claimAfter/3, time.Second) }

// submit queues req in Redis. When Redis fails the request runs in this
// process's queue: a replica answers whatever happens to Redis.
func (q *sharedQueue) submit(ctx context.Context, req handlers.Request) bool {
	payload, err := handlers.EncodeRequest(req)
	if err != nil {
		q.log.Error("a request could not be queued in Redis: it runs here", zap.Error(err))
		return q.pool.submit(ctx, req)
	}
	if !q.r.TryRedis() {
		return q.pool.submit(ctx, req)
	}
	ctx, cancel := context.WithTimeout(ctx, q.r.timeout)
	defer cancel()
	err = q.r.scripts.enqueue.Run(ctx, q.r.client, []string{q.stream(), q.r.key("replicas")},
		workerGroup, q.perReplica, q.claimAfter.Milliseconds(), maxReplicas*q.perReplica, payload).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false
	case err != nil:
		q.r.Failed(err)
		return q.pool.submit(ctx, req)
	}
	q.r.Worked()
	return true
}

// start beats once, so that admission counts this replica at once, then
// keeps beating and reads requests for the pool's workers, calling Redis
// on ctx.
func (q *sharedQueue) start(ctx context.Context) {
	if q.r.TryRedis() {
		q.ensureGroup(ctx)
		if err := q.r.beat(ctx, q.claimAfter, q.stream(), workerGroup); err != nil {
			q.r.Failed(err)
		}
	}
	reading, stopRead := context.WithCancel(ctx)
	beating, stopBeats := context.WithCancel(ctx)
	q.stopRead, q.stopBeats = stopRead, stopBeats
	q.loops.Go(func() error {
		defer close(q.pool.direct)
		q.read(ctx, reading)
		return nil
	})
	q.loops.Go(func() error {
		q.heartbeats(ctx, beating)
		return nil
	})
}

// stopReading reads no more requests. A read under way is let finish, so
// that the requests Redis gave it are run, or handed back, rather than
// left to time out; the pool's workers run until it has (it closes
// pool.direct).
func (q *sharedQueue) stopReading() { q.stopRead() }

// close ends the heartbeats, once the pool has run its last request, and
// takes this replica out of the live ones.
func (q *sharedQueue) close(ctx context.Context) {
	q.stopRead() // if the shutdown did not already
	q.stopBeats()
	_ = q.loops.Wait()
	if !q.r.IsDown() {
		if err := q.r.leave(ctx, q.stream(), workerGroup); err != nil {
			q.log.Warn("could not leave the replicas in Redis: the others count this one alive for JOB_CLAIM_AFTER more", zap.Error(err))
		}
	}
}

// othersAlive reports whether another replica is alive to take over what
// this one hands back at a shutdown; false when Redis can't say.
func (q *sharedQueue) othersAlive(ctx context.Context) bool {
	n, err := q.r.others(ctx, q.claimAfter)
	if err != nil {
		q.log.Warn("could not ask Redis for other replicas: this one tells its users to ask again", zap.Error(err))
		return false
	}
	return n > 0
}

// pause waits d, or less when stop ends first; it reports whether to go
// on.
func pause(stop context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop.Done():
		return false
	}
}

// read takes requests for free workers: first those of replicas that
// stopped renewing them, then new ones, never more than the workers free
// at that moment, so that what this replica can't run now stays in Redis
// for the others. It calls Redis on ctx until stop ends (stop is of ctx).
func (q *sharedQueue) read(ctx, stop context.Context) {
	cursor := "0-0"
	var scanned time.Time
	for stop.Err() == nil {
		free := q.pool.free()
		if free == 0 {
			select {
			case <-q.pool.freed:
			case <-stop.Done():
			}
			continue
		}
		if !q.r.TryRedis() {
			pause(stop, q.r.RetryAfter())
			continue
		}
		var (
			jobs []entry
			err  error
		)
		if time.Since(scanned) >= q.scanEvery() {
			scanned = time.Now()
			jobs, cursor, err = q.takeOver(ctx, cursor, free)
		}
		if err == nil && len(jobs) < free {
			var fresh []entry
			fresh, err = q.readNew(ctx, free-len(jobs))
			jobs = append(jobs, fresh...)
		}
		for _, j := range jobs {
			q.dispatch(ctx, stop, j)
		}
		if err != nil && ctx.Err() == nil {
			if isNoGroup(err) {
				q.ensureGroup(ctx)
				continue
			}
			q.r.Failed(fmt.Errorf("read the queue: %w", err))
			pause(stop, q.r.RetryAfter())
			continue
		}
		q.r.Worked()
	}
}

// ensureGroup creates the stream and its group, when Redis lost them (a
// restart without persistence) or none was ever made.
func (q *sharedQueue) ensureGroup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout(q.claimAfter))
	defer cancel()
	err := q.r.client.XGroupCreateMkStream(ctx, q.stream(), workerGroup, "0").Err()
	if err != nil && !isBusyGroup(err) {
		q.r.Failed(fmt.Errorf("create the queue's group: %w", err))
	}
}

// isNoGroup is Redis saying the stream or its group is not there, and
// isBusyGroup that the group is there already. Redis names an error by
// the first word of its reply; go-redis gives a reply as a redis.Error,
// whose code HasErrorPrefix reads (after an "ERR " that KVRocks adds), and
// nothing else: not a network error, not a script's words.
func isNoGroup(err error) bool   { return redis.HasErrorPrefix(err, "NOGROUP") }
func isBusyGroup(err error) bool { return redis.HasErrorPrefix(err, "BUSYGROUP") }

// readNew reads up to n requests never delivered, waiting scanEvery for
// them at most.
func (q *sharedQueue) readNew(ctx context.Context, n int) ([]entry, error) {
	leased := time.Now()
	streams, err := q.r.client.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: workerGroup, Consumer: q.r.name, Streams: []string{q.stream(), ">"},
		Count: int64(n), Block: q.scanEvery(),
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var jobs []entry
	for _, s := range streams {
		for _, m := range s.Messages {
			payload, _ := m.Values["req"].(string)
			jobs = append(jobs, q.job(ctx, m.ID, payload, 1, "", 0, leased))
		}
	}
	return jobs, nil
}

// takeOver takes up to n requests that their replicas stopped renewing.
func (q *sharedQueue) takeOver(ctx context.Context, cursor string, n int) ([]entry, string, error) {
	leased := time.Now()
	rctx, cancel := context.WithTimeout(ctx, callTimeout(q.claimAfter))
	defer cancel()
	res, err := q.r.scripts.claim.Run(rctx, q.r.client, []string{q.stream()},
		workerGroup, q.r.name, q.claimAfter.Milliseconds(), cursor, n, q.r.key("job:")).Slice()
	if err != nil {
		return nil, cursor, err
	}
	if len(res) == 0 {
		return nil, "0-0", errors.New("take over requests: empty answer")
	}
	next, _ := res[0].(string)
	var jobs []entry
	for _, e := range res[1:] {
		f, _ := e.([]any)
		if len(f) != 5 {
			continue
		}
		id, _ := f[0].(string)
		fields, _ := f[1].([]any)
		deliveries, _ := f[2].(int64)
		shown, _ := f[3].(string)
		handbacks, _ := strconv.Atoi(fmt.Sprint(f[4]))
		payload := ""
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] == "req" {
				payload, _ = fields[i+1].(string)
			}
		}
		jobs = append(jobs, q.job(ctx, id, payload, deliveries, shown, handbacks, leased))
		q.log.Info("took over a request another replica stopped answering",
			zap.String("id", id), zap.Int64("deliveries", deliveries), zap.Int("handed_back", handbacks))
	}
	return jobs, next, nil
}

// job is a request read from Redis, held by this replica from now on. One
// that its runs have failed tries times is not run again: its user is
// told.
func (q *sharedQueue) job(ctx context.Context, id, payload string, deliveries int64, shown string, handbacks int, leased time.Time) entry {
	var left []byte
	if shown != "" {
		left = []byte(shown)
	}
	c := newLease(q, id, deliveries, left, leased)
	q.mu.Lock()
	q.held[c] = false
	q.mu.Unlock()
	j := entry{lease: c}
	req, err := handlers.DecodeRequest([]byte(payload))
	j.req = req
	if err != nil {
		q.log.Error("a queued request could not be read: its user is told it failed", zap.String("id", id), zap.Error(err))
		j.giveUp = failure.Errorf("read the queued request", failure.Internal, "", err)
	}
	if tries := int(deliveries) - handbacks; tries > q.tries {
		q.log.Warn("a request failed every try: telling its user", zap.String("id", id), zap.Int("tries", tries-1))
		j.giveUp = failure.Errorf("run the request", failure.TooManyTries, strconv.Itoa(tries-1), nil)
	}
	if j.giveUp != nil && left != nil && j.req.Thread == "" {
		// Where the earlier runs answered: their placeholder is replaced.
		// The record is the Slack adapter's (slackapi's shownMessage); its
		// channel and thread are all the queue reads of it.
		var where struct{ Channel, Thread string }
		if json.Unmarshal(left, &where) == nil {
			j.req.Channel, j.req.Thread = where.Channel, where.Thread
		}
	}
	return j
}

// dispatch hands a held request to the next free worker. Reading stopped
// (a shutdown began) while it waited: the request goes back to the queue
// at once, as no worker here will run it.
func (q *sharedQueue) dispatch(ctx, stop context.Context, j entry) {
	q.pool.handing.Add(1)
	select {
	case q.pool.direct <- j:
	case <-stop.Done():
		q.pool.handing.Add(-1)
		j.lease.handBack()
		q.finish(ctx, j.lease)
	}
}

// heartbeats beat and renew the held requests every beatEvery, calling
// Redis on ctx, until stop ends (stop is of ctx).
func (q *sharedQueue) heartbeats(ctx, stop context.Context) {
	tick := time.NewTicker(q.beatEvery())
	defer tick.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case <-tick.C:
		}
		if !q.r.TryRedis() {
			q.extendAll(time.Now())
			continue
		}
		if err := q.r.beat(ctx, q.claimAfter, q.stream(), workerGroup); err != nil {
			q.r.Failed(err)
			q.extendAll(time.Now())
			continue
		}
		q.r.Worked()
		q.renewAll(ctx)
	}
}

// extendAll keeps every run's hold while Redis does not answer: no other
// replica can take a request through a Redis that is down.
func (q *sharedQueue) extendAll(now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for c := range q.held {
		c.renewed(now, false)
	}
}

// renewAll renews the held requests in one round trip; a request another
// replica took is let go, and an answered one whose acknowledgement
// failed is acknowledged again.
func (q *sharedQueue) renewAll(ctx context.Context) {
	q.mu.Lock()
	claims := make([]*Lease, 0, len(q.held))
	answered := map[*Lease]bool{}
	for c, done := range q.held {
		claims = append(claims, c)
		answered[c] = done
	}
	q.mu.Unlock()
	if len(claims) == 0 {
		return
	}
	owned, err := q.renewIn(ctx, claims)
	if err != nil {
		q.r.Failed(err)
		q.extendAll(time.Now())
		return
	}
	for i, c := range claims {
		switch {
		case !owned[i]:
			q.log.Warn("another replica took over a request this one was answering: this one writes nothing more for it", zap.String("id", c.id))
			c.letGo(failure.Errorf("renew the request", failure.HandedOver, "taken over by another replica", nil))
			q.forget(c)
		case answered[c]:
			q.settle(ctx, c)
		}
	}
}

// renew renews one run's hold before a write that ends its request. It
// reports false only when Redis says the request is another run's.
func (q *sharedQueue) renew(ctx context.Context, c *Lease) bool {
	if !q.r.TryRedis() {
		c.renewed(time.Now(), false)
		return true
	}
	owned, err := q.renewIn(ctx, []*Lease{c})
	if err != nil {
		q.r.Failed(err)
		c.renewed(time.Now(), false)
		return true
	}
	q.r.Worked()
	if !owned[0] {
		c.letGo(failure.Errorf("renew the request", failure.HandedOver, "taken over by another replica", nil))
		return false
	}
	return true
}

// renewIn runs renewLua for claims and renews the lease of each that is
// still owned.
func (q *sharedQueue) renewIn(ctx context.Context, claims []*Lease) ([]bool, error) {
	start := time.Now()
	args := make([]any, 0, 2+2*len(claims))
	args = append(args, workerGroup, q.r.name)
	for _, c := range claims {
		args = append(args, c.id, c.deliveries)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout(q.claimAfter))
	defer cancel()
	res, err := q.r.scripts.renew.Run(ctx, q.r.client, []string{q.stream()}, args...).Int64Slice()
	if err == nil && len(res) != len(claims) {
		err = errors.New("unexpected answer")
	}
	if err != nil {
		return nil, fmt.Errorf("renew the held requests: %w", err)
	}
	owned := make([]bool, len(claims))
	for i, c := range claims {
		if owned[i] = res[i] == 1; owned[i] {
			c.renewed(start, true)
		}
	}
	return owned, nil
}

// record implements Lease.Record. When Redis fails, the run keeps its
// request, as at a renewal: a replica answers whatever happens to Redis.
func (q *sharedQueue) record(ctx context.Context, c *Lease, data []byte) {
	if !q.r.TryRedis() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout(q.claimAfter))
	defer cancel()
	n, err := q.r.scripts.record.Run(ctx, q.r.client, []string{q.stream(), q.r.key("job:" + c.id)},
		workerGroup, q.r.name, c.id, c.deliveries, data, q.keyLife().Milliseconds()).Int()
	if err != nil {
		q.r.Failed(err)
		return
	}
	if n != 1 {
		c.letGo(failure.Errorf("record what the request shows", failure.HandedOver, "taken over by another replica", nil))
	}
}

// keyLife bounds how long what a request showed is kept: long after any
// run of it could end.
func (q *sharedQueue) keyLife() time.Duration { return 24 * time.Hour }

// finish ends this replica's hold once the run is over: an answered
// request is acknowledged, one handed back at a shutdown goes back to the
// queue, one taken over is only forgotten. ctx is the one the request
// ran on; its calls to Redis are made even once it is cancelled (each
// is bounded): an answer given must be acknowledged.
func (q *sharedQueue) finish(ctx context.Context, c *Lease) {
	c.mu.Lock()
	handedBack := c.handedBack
	c.mu.Unlock()
	if c.lost.Err() != nil && !handedBack {
		q.forget(c)
		return
	}
	ctx = context.WithoutCancel(ctx)
	if handedBack {
		if err := q.handBack(ctx, c); err != nil {
			q.log.Warn("could not hand a request back: another replica takes it after JOB_CLAIM_AFTER", zap.String("id", c.id), zap.Error(err))
		}
		q.forget(c)
		return
	}
	q.mu.Lock()
	q.held[c] = true
	q.mu.Unlock()
	q.settle(ctx, c)
}

// settle acknowledges an answered request; when Redis fails, it stays
// held, renewed and acknowledged again with the next heartbeat.
func (q *sharedQueue) settle(ctx context.Context, c *Lease) {
	owned, err := q.ack(ctx, c)
	switch {
	case err != nil:
		q.r.Failed(err)
		return
	case !owned:
		q.log.Warn("a request was taken over as its answer ended: the replica that took it replaces the answer", zap.String("id", c.id))
	}
	q.forget(c)
}

func (q *sharedQueue) ack(ctx context.Context, c *Lease) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout(q.claimAfter))
	defer cancel()
	n, err := q.r.scripts.ack.Run(ctx, q.r.client, []string{q.stream(), q.r.key("job:" + c.id)},
		workerGroup, q.r.name, c.id, c.deliveries).Int()
	if err != nil {
		return false, fmt.Errorf("acknowledge request %s: %w", c.id, err)
	}
	return n == 1, nil
}

func (q *sharedQueue) handBack(ctx context.Context, c *Lease) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout(q.claimAfter))
	defer cancel()
	err := q.r.scripts.handBack.Run(ctx, q.r.client, []string{q.stream(), q.r.key("job:" + c.id)},
		workerGroup, q.r.name, c.id, c.deliveries, handBackIdle.Milliseconds(), q.keyLife().Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("hand back request %s: %w", c.id, err)
	}
	return nil
}

func (q *sharedQueue) forget(c *Lease) {
	q.mu.Lock()
	delete(q.held, c)
	q.mu.Unlock()
	c.done()
}
