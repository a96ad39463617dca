package queue

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
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
	// epochKey names the queue in Redis (see sharedQueue.sync).
	epochKey = "jobs:epoch"
	// requestKeys ("jobs:request:<id>") hold, for each request's own id,
	// the entry that holds it, or ranHere: the idempotency keys of
	// admission (sharedQueue.resolve).
	requestKeys = "jobs:request:"
	// carriedKeys ("jobs:carried:<epoch>:<entry>") are the requests a
	// replica carries on, or answered a moment ago, when Redis lost them
	// (sharedQueue.sync): their admitters tell nobody they were lost.
	carriedKeys = "jobs:carried:"
)

// ranHere is what a request's key holds when the replica that admitted it
// runs it in its own queue.
const ranHere = "here"

// requestLife is how long a request's key says where it went: far longer
// than any enqueue may take to reach Redis after its reply was lost.
const requestLife = 10 * time.Minute

// handBackIdle is the idle time a request handed back at a shutdown is given:
// far beyond any JOB_CLAIM_AFTER, so that the next replica to look takes
// it at once.
const handBackIdle = 24 * time.Hour

// intactLua is whether the queue in Redis is the one of epoch: the epoch
// key names it, and the stream is there with its group. A Redis that lost
// its state (a restart without persistence, a flush, a stream deleted)
// fails it: its requests were not taken by another replica, they are
// gone.
const intactLua = `
local function has_group(stream, group)
  if redis.call('EXISTS', stream) == 0 then return false end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    for i = 1, #g, 2 do
      if g[i] == 'name' and g[i + 1] == group then return true end
    end
  end
  return false
end
local function intact(stream, group, epoch_key, epoch)
  return redis.call('GET', epoch_key) == epoch and has_group(stream, group)
end
`

// ownedLua is whether the group's pending list still gives entry id to
// consumer with the delivery count n: the fencing token of a run.
const ownedLua = `
local function owned(stream, group, consumer, id, n)
  local ok, p = pcall(redis.call, 'XPENDING', stream, group, id, id, 1)
  return ok and #p == 1 and p[1][2] == consumer and p[1][4] == tonumber(n)
end
`

// enqueueLua adds a request to the stream unless the unanswered ones fill
// what the live replicas take on. KEYS: the stream, the heartbeats, the
// epoch, the request's key; ARGV: the group, requests one replica takes
// on (workers and queue), a heartbeat's life in ms, the epoch, the
// request's id, the request, the key's life in ms. It answers {'queued',
// entry id}; {'known', where} when the request's key was set already (an
// enqueue sent again, or the admitter gave up on one whose reply was
// lost); {'busy'}; or {'lost'} when the queue is not the epoch's.
//
// Nothing is trimmed: an answered request is deleted from the stream
// when it is acknowledged, and the stream is bounded by refusing, never
// by dropping a request admitted and still to be answered (MAXLEN ~
// dropped the oldest unread ones once more replicas were alive than it
// reckoned with).
const enqueueLua = nowLua + intactLua + `
local known = redis.call('GET', KEYS[4])
if known then return {'known', known} end
if not intact(KEYS[1], ARGV[1], KEYS[3], ARGV[4]) then return {'lost'} end
local live = redis.call('ZCOUNT', KEYS[2], now_ms() - tonumber(ARGV[3]), '+inf')
if live < 1 then live = 1 end
if redis.call('XLEN', KEYS[1]) >= live * tonumber(ARGV[2]) then return {'busy'} end
local id = redis.call('XADD', KEYS[1], '*', 'req', ARGV[6], 'rid', ARGV[5], 'epoch', ARGV[4])
redis.call('SET', KEYS[4], id, 'PX', ARGV[7])
return {'queued', id}
`

// reserveLua settles where a request went whose enqueue's reply was lost:
// its key says the entry that holds it, or, when the enqueue never
// reached Redis, is set now to ranHere, so that an enqueue still on its
// way adds nothing. KEYS: the request's key; ARGV: its life in ms.
const reserveLua = `
if redis.call('SET', KEYS[1], '` + ranHere + `', 'PX', ARGV[1], 'NX') then return '` + ranHere + `' end
return redis.call('GET', KEYS[1]) or '` + ranHere + `'
`

// takeoverLua takes over requests whose replica stopped renewing them: those
// idle for JOB_CLAIM_AFTER. KEYS: the stream, the epoch; ARGV: the group,
// this consumer, the idle time in ms, the scan's cursor, how many (the
// free workers), the prefix of the requests' keys, the epoch. It answers
// the next cursor, then for each request taken its id, its fields, its
// delivery count, what an earlier run showed ("" for nothing) and how
// many times it was handed back; or {'lost'} when the queue is not the
// epoch's.
//
// It finds them with XPENDING and claims each with XCLAIM rather than
// XAUTOCLAIM, whose answer for an entry trimmed from the stream while
// pending differs by version: Redis 6.2 claims it and answers a nil in
// its place, without its id, so it could be neither acknowledged nor told
// from the others, and was claimed again at every scan; 7.0 drops it from
// the pending list and names it apart. Here an entry deleted while
// pending (by an operator, or trimmed by a version before this one) is
// found by its id (XRANGE answers nothing) and acknowledged, and XCLAIM
// only ever meets entries that exist, the same on both. XCLAIM takes
// min-idle 0: XPENDING, in the same script, already chose the idle ones.
// The next cursor is after the last entry found, exclusive (XPENDING's
// "(", 6.2 too), or 0-0 once the pending list was scanned to its end.
//
// A stream or group that is not there (a Redis that lost its state) is
// answered as lost rather than failed in XPENDING: a redis.call error in
// a script keeps its code (NOGROUP) in front only from Redis 7.0 on, and
// 6.2's "ERR Error running script …" would read as Redis failing.
const takeoverLua = intactLua + `
if not intact(KEYS[1], ARGV[1], KEYS[2], ARGV[7]) then return {'lost'} end
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5])
local out = {'0-0'}
if #pending >= tonumber(ARGV[5]) then
  out[1] = '(' .. pending[#pending][1]
end
for _, p in ipairs(pending) do
  local id = p[1]
  if #redis.call('XRANGE', KEYS[1], id, id) == 0 then
    -- Deleted while pending: nothing to run.
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
// a delivery (JUSTID). KEYS: the stream, the epoch; ARGV: the group, this
// consumer, then each request's id, delivery count and epoch. It answers
// 1 for each renewed, 0 for each another run owns, -1 for each of a queue
// Redis no longer has.
const renewLua = intactLua + ownedLua + `
local out = {}
local whole = {}
for i = 3, #ARGV, 3 do
  local epoch = ARGV[i + 2]
  if whole[epoch] == nil then whole[epoch] = intact(KEYS[1], ARGV[1], KEYS[2], epoch) end
  if not whole[epoch] then
    out[#out + 1] = -1
  elseif owned(KEYS[1], ARGV[1], ARGV[2], ARGV[i], ARGV[i + 1]) then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
`

// leaseLua is the check of recordLua, ackLua and handBackLua: -1 when the
// queue is not the run's epoch's, 0 when the run no longer owns its
// request. KEYS: the stream, the request's key, the epoch; ARGV: the
// group, the consumer, the id, the delivery count, the epoch.
const leaseLua = intactLua + ownedLua + `
if not intact(KEYS[1], ARGV[1], KEYS[3], ARGV[5]) then return -1 end
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
`

// recordLua keeps what a run's reply shows, when the run still owns its
// request. KEYS and ARGV as leaseLua's, then the message and its life in
// ms.
const recordLua = leaseLua + `
redis.call('HSET', KEYS[2], 'shown', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return 1
`

// ackLua ends an answered request: acknowledged, deleted from the stream,
// its key gone; only by the run that owns it. KEYS and ARGV as leaseLua's.
const ackLua = leaseLua + `
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
return 1
`

// handBackLua hands a request back at a shutdown: idle as if long forgotten,
// so that the next replica to look takes it, and counted as handed back,
// so that the take is not held against the request as a failed try.
// KEYS and ARGV as leaseLua's, then the idle time in ms and the key's
// life in ms.
const handBackLua = leaseLua + `
redis.call('HINCRBY', KEYS[2], 'handbacks', 1)
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[6], 'JUSTID')
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
// A Redis that loses its state is told apart from a takeover (sync), and
// the people whose requests it lost are told (watchAdmitted).
type sharedQueue struct {
	r          *Replicas
	pool       *pool
	log        *zap.Logger
	claimAfter time.Duration
	perReplica int           // unanswered requests one replica takes on: its workers and queue
	tries      int           // runs a request gets before its user is told it failed
	maxAge     time.Duration // how old a request may be when it is read; 0 for no bound

	// loops are the read loop and the heartbeats: start starts them,
	// each on the context of its Redis calls and with a stop of its own
	// (a stop lets a call under way finish), and close waits for both.
	// The read loop closes pool.direct, whose only sender it is, when it
	// ends.
	loops errgroup.Group
	// stopRead ends the read loop: no more requests are read. stopBeats
	// ends the heartbeats. Both are no-ops before start.
	stopRead, stopBeats context.CancelFunc

	// syncing makes one sync at a time: the read loop, the heartbeats and
	// admission may each find the queue gone at once.
	syncing sync.Mutex

	mu sync.Mutex
	// held are the requests this replica runs, renewed by each heartbeat;
	// and those it answered whose acknowledgement Redis has yet to take.
	held map[*Lease]bool // true: answered, to acknowledge
	// epoch is the queue's in Redis as this replica last learnt it; ""
	// before it did.
	epoch string
	// admitted are the requests this replica queued in Redis, by entry,
	// until it sees them acknowledged: whom to tell if Redis loses them.
	admitted map[string]*admittedRequest
	// acked are the requests this replica acknowledged a moment ago,
	// which their admitters may not have seen go yet (sync).
	acked []ackedRequest
}

// newSharedQueue is the shared queue of p, whose workers it hands the
// requests it reads.
func newSharedQueue(r *Replicas, p *pool, log *zap.Logger, cfg Config) *sharedQueue {
	q := &sharedQueue{
		r: r, pool: p, log: log, claimAfter: cfg.ClaimAfter, perReplica: max(cfg.Workers+cfg.Queue, 1), tries: cfg.Tries,
		maxAge:   cfg.MaxAge,
		stopRead: func() {}, stopBeats: func() {},
		held:     map[*Lease]bool{},
		admitted: map[string]*admittedRequest{},
	}
	p.shared, p.direct = q, make(chan entry)
	return q
}

func (q *sharedQueue) stream() string { return q.r.key(streamKey) }

// currentEpoch is the queue's epoch as this replica last learnt it.
func (q *sharedQueue) currentEpoch() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.epoch
}

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

// doubtWait bounds how long admission asks Redis where a request went
// whose enqueue's reply was lost, before it runs the request here.
const doubtWait = 5 * time.Second

// submit queues req in Redis, its response_url sealed, or refuses it
// (busy, oversized). When Redis fails the request runs in this process's
// queue: a replica answers whatever happens to Redis. When the enqueue's
// reply is lost (a timeout, a connection cut after it was sent), the
// request's own id, stored with the entry, says whether it is queued
// (resolve): a request is never run both here and from the stream.
func (q *sharedQueue) submit(ctx context.Context, req handlers.Request) error {
	id := newRequestID()
	sealed := req
	sealed.ResponseURL = q.r.seal(req.ResponseURL, id)
	payload, err := handlers.EncodeRequest(sealed)
	if err != nil {
		q.log.Error("a request could not be queued in Redis: it runs here", zap.Error(err))
		return q.pool.submit(ctx, req)
	}
	if len(payload) > maxQueuedBytes {
		return oversized(len(payload))
	}
	// A second try once the queue was made again in a new epoch; losing
	// it twice in a row is for the local queue.
	for range 2 {
		if !q.r.TryRedis() {
			return q.pool.submit(ctx, req)
		}
		epoch := q.currentEpoch()
		if epoch == "" {
			q.sync(ctx)
			if epoch = q.currentEpoch(); epoch == "" {
				return q.pool.submit(ctx, req)
			}
		}
		status, where, err := q.enqueue(ctx, id, epoch, payload)
		switch {
		case err != nil && maybeSent(err):
			return q.resolve(ctx, req, id, epoch, err)
		case err != nil:
			q.r.Failed(err)
			return q.pool.submit(ctx, req)
		case status == "busy":
			q.r.Worked()
			return handlers.Refusal{Reason: handlers.RefusedBusy}
		case status == "lost":
			q.sync(ctx)
			continue
		}
		q.r.Worked()
		if where == ranHere {
			return q.pool.submit(ctx, req)
		}
		q.remember(where, epoch, req.Origin)
		return nil
	}
	return q.pool.submit(ctx, req)
}

// enqueue runs enqueueLua: its status, and the entry (or ranHere) for
// "queued" and "known".
func (q *sharedQueue) enqueue(ctx context.Context, id, epoch string, payload []byte) (status, where string, err error) {
	ctx, cancel := context.WithTimeout(ctx, q.r.timeout)
	defer cancel()
	res, err := q.r.scripts.enqueue.Run(ctx, q.r.client,
		[]string{q.stream(), q.r.key("replicas"), q.r.key(epochKey), q.r.key(requestKeys + id)},
		workerGroup, q.perReplica, q.claimAfter.Milliseconds(), epoch, id, payload, requestLife.Milliseconds()).StringSlice()
	if err != nil {
		return "", "", fmt.Errorf("queue a request: %w", err)
	}
	if len(res) == 0 {
		return "", "", errors.New("queue a request: empty answer")
	}
	if len(res) > 1 {
		where = res[1]
	}
	return res[0], where, nil
}

// resolve settles a request whose enqueue may or may not have reached
// Redis (cause: its reply was lost). The request's key says: the entry
// that holds it, or, when the enqueue never arrived, ranHere, set now so
// that an enqueue still on its way adds nothing (reserveLua). While Redis
// does not answer it asks again, for doubtWait; then the request runs
// here, and may also run from the stream.
func (q *sharedQueue) resolve(ctx context.Context, req handlers.Request, id, epoch string, cause error) error {
	deadline := time.Now().Add(doubtWait)
	for {
		rctx, cancel := context.WithTimeout(ctx, q.r.timeout)
		where, err := q.r.scripts.reserve.Run(rctx, q.r.client, []string{q.r.key(requestKeys + id)}, requestLife.Milliseconds()).Text()
		cancel()
		switch {
		case err == nil && where == ranHere:
			q.r.Worked()
			q.log.Info("a request's enqueue was lost on its way to Redis: it runs here", zap.NamedError("lost", cause))
			return q.pool.submit(ctx, req)
		case err == nil:
			q.r.Worked()
			q.remember(where, epoch, req.Origin)
			return nil
		}
		if time.Now().After(deadline) || !pause(ctx, q.r.timeout) {
			q.r.Failed(fmt.Errorf("learn where a request went: %w", err))
			q.log.Warn("could not learn from Redis whether a request was queued: it runs here, and may run twice",
				zap.String("channel", req.Channel), zap.NamedError("enqueue", cause), zap.Error(err))
			return q.pool.submit(ctx, req)
		}
	}
}

// maybeSent reports whether a failed call may have reached Redis and been
// carried out, its reply lost: anything but an error Redis answered, a
// connection that was never made, or a call never sent.
func maybeSent(err error) bool {
	var reply redis.Error
	var op *net.OpError
	switch {
	case errors.As(err, &reply):
		return false
	case errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrClosed):
		return false
	case errors.As(err, &op) && op.Op == "dial":
		return false
	}
	return true
}

// newRequestID is a request's own id: the idempotency key of its
// admission, and what its answer's footer carries. Base32, so that it
// reads as itself in a block id.
func newRequestID() string { return rand.Text()[:16] }

// start learns the queue's epoch (making the stream and its group when
// Redis has none) and beats once, so that admission counts this replica
// at once, then keeps beating and reads requests for the pool's workers,
// calling Redis on ctx.
func (q *sharedQueue) start(ctx context.Context) {
	if q.r.TryRedis() {
		q.sync(ctx)
		if _, err := q.r.beat(ctx, q.claimAfter, q.stream(), workerGroup, q.r.key(epochKey)); err != nil {
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
	q.mu.Lock()
	n := len(q.admitted)
	q.mu.Unlock()
	if n > 0 {
		q.log.Info("stopped with requests it queued still unanswered: the other replicas answer them", zap.Int("requests", n))
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

// errLost is a read of a queue that Redis no longer has in the epoch this
// replica knows.
var errLost = errors.New("the queue is not the one this replica knows: Redis lost its state")

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
		if q.currentEpoch() == "" {
			q.sync(ctx)
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
			if isNoGroup(err) || errors.Is(err, errLost) {
				q.sync(ctx)
				continue
			}
			q.r.Failed(fmt.Errorf("read the queue: %w", err))
			pause(stop, q.r.RetryAfter())
			continue
		}
		q.r.Worked()
	}
}

// isNoGroup is Redis saying the stream or its group is not there: Redis
// names an error by the first word of its reply; go-redis gives a reply
// as a redis.Error, whose code HasErrorPrefix reads (after an "ERR " that
// KVRocks adds), and nothing else: not a network error, not a script's
// words.
func isNoGroup(err error) bool { return redis.HasErrorPrefix(err, "NOGROUP") }

// stored is a stream entry as admission wrote it.
type stored struct {
	id, request, epoch, payload string
}

// storedOf reads an entry's fields; an entry of a version before this
// one has no request id or epoch.
func storedOf(id string, field func(name string) string) stored {
	return stored{id: id, request: field("rid"), epoch: field("epoch"), payload: field("req")}
}

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
			st := storedOf(m.ID, func(name string) string { v, _ := m.Values[name].(string); return v })
			jobs = append(jobs, q.job(ctx, st, 1, "", 0, leased))
		}
	}
	return jobs, nil
}

// takeOver takes up to n requests that their replicas stopped renewing.
func (q *sharedQueue) takeOver(ctx context.Context, cursor string, n int) ([]entry, string, error) {
	leased := time.Now()
	rctx, cancel := context.WithTimeout(ctx, callTimeout(q.claimAfter))
	defer cancel()
	res, err := q.r.scripts.claim.Run(rctx, q.r.client, []string{q.stream(), q.r.key(epochKey)},
		workerGroup, q.r.name, q.claimAfter.Milliseconds(), cursor, n, q.r.key("job:"), q.currentEpoch()).Slice()
	if err != nil {
		return nil, cursor, err
	}
	if len(res) == 0 {
		return nil, "0-0", errors.New("take over requests: empty answer")
	}
	next, _ := res[0].(string)
	if next == "lost" {
		return nil, "0-0", errLost
	}
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
		st := storedOf(id, func(name string) string {
			for i := 0; i+1 < len(fields); i += 2 {
				if fields[i] == name {
					v, _ := fields[i+1].(string)
					return v
				}
			}
			return ""
		})
		jobs = append(jobs, q.job(ctx, st, deliveries, shown, handbacks, leased))
		q.log.Info("took over a request another replica stopped answering",
			zap.String("id", id), zap.Int64("deliveries", deliveries), zap.Int("handed_back", handbacks))
	}
	return jobs, next, nil
}

// admittedAt is when Redis added the entry id: its first part is Redis's
// clock in milliseconds.
func admittedAt(id string) (time.Time, bool) {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(n), true
}

// job is a request read from Redis, held by this replica from now on. One
// that its runs have failed tries times, or that waited past maxAge, is
// not run again: its user is told.
func (q *sharedQueue) job(ctx context.Context, st stored, deliveries int64, shown string, handbacks int, leased time.Time) entry {
	var left []byte
	if shown != "" {
		left = []byte(shown)
	}
	epoch := st.epoch
	if epoch != "" && epoch != q.currentEpoch() {
		// Read from a queue made anew since this replica last looked.
		q.sync(ctx)
	}
	if epoch == "" {
		epoch = q.currentEpoch()
	}
	c := newLease(q, st.id, st.request, epoch, deliveries, left, leased)
	j := entry{lease: c}
	req, err := handlers.DecodeRequest([]byte(st.payload))
	if err != nil {
		q.log.Error("a queued request could not be read: its user is told it failed", zap.String("id", st.id), zap.Error(err))
		j.giveUp = failure.Errorf("read the queued request", failure.Internal, "", err)
	}
	if req.ResponseURL, err = q.r.open(req.ResponseURL, st.request); err != nil {
		// Sealed with another bot token: it answers in its thread only.
		q.log.Warn("a queued request's private route back could not be read: it is answered without it", zap.String("id", st.id), zap.Error(err))
	}
	j.req = req
	c.origin = req.Origin
	q.mu.Lock()
	q.held[c] = false
	q.mu.Unlock()
	if at, ok := admittedAt(st.id); ok && j.giveUp == nil && q.maxAge > 0 && q.pool.now().Sub(at) > q.maxAge {
		q.log.Warn("a request waited longer than MAX_QUEUED_AGE: telling its user instead of answering late",
			zap.String("id", st.id), zap.Duration("max_age", q.maxAge))
		j.giveUp = tooOld(q.maxAge)
	}
	if tries := int(deliveries) - handbacks; tries > q.tries {
		q.log.Warn("a request failed every try: telling its user", zap.String("id", st.id), zap.Int("tries", tries-1))
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
// Redis on ctx, until stop ends (stop is of ctx). Each beat also learns
// whether Redis still has the queue this replica knows (sync), and
// follows the requests this replica admitted (watchAdmitted).
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
		epoch, err := q.r.beat(ctx, q.claimAfter, q.stream(), workerGroup, q.r.key(epochKey))
		if err != nil {
			q.r.Failed(err)
			q.extendAll(time.Now())
			continue
		}
		q.r.Worked()
		if epoch != q.currentEpoch() {
			q.sync(ctx)
		}
		q.renewAll(ctx)
		q.watchAdmitted(ctx)
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
// failed is acknowledged again. Requests carried on trust are not asked
// about: Redis no longer has them.
func (q *sharedQueue) renewAll(ctx context.Context) {
	q.mu.Lock()
	claims := make([]*Lease, 0, len(q.held))
	answered := map[*Lease]bool{}
	for c, done := range q.held {
		if c.isCarried() {
			continue
		}
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
	lost := false
	for i, c := range claims {
		switch {
		case owned[i] < 0:
			lost = true
		case owned[i] == 0:
			q.log.Warn("another replica took over a request this one was answering: this one writes nothing more for it", zap.String("id", c.id))
			c.letGo(failure.Errorf("renew the request", failure.HandedOver, "taken over by another replica", nil))
			q.forget(c)
		case answered[c]:
			q.settle(ctx, c)
		}
	}
	if lost {
		q.sync(ctx)
		q.settleCarried()
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
	switch {
	case owned[0] < 0:
		q.sync(ctx) // the run carries the request from now on
	case owned[0] == 0:
		c.letGo(failure.Errorf("renew the request", failure.HandedOver, "taken over by another replica", nil))
		return false
	}
	return true
}

// renewIn runs renewLua for claims and renews the lease of each that is
// still owned: 1 for those, 0 for those another run owns, -1 for those of
// a queue Redis no longer has.
func (q *sharedQueue) renewIn(ctx context.Context, claims []*Lease) ([]int64, error) {
	start := time.Now()
	args := make([]any, 0, 2+3*len(claims))
	args = append(args, workerGroup, q.r.name)
	for _, c := range claims {
		args = append(args, c.id, c.deliveries, c.epoch)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout(q.claimAfter))
	defer cancel()
	res, err := q.r.scripts.renew.Run(ctx, q.r.client, []string{q.stream(), q.r.key(epochKey)}, args...).Int64Slice()
	if err == nil && len(res) != len(claims) {
		err = errors.New("unexpected answer")
	}
	if err != nil {
		return nil, fmt.Errorf("renew the held requests: %w", err)
	}
	for i, c := range claims {
		if res[i] == 1 {
			c.renewed(start, true)
		}
	}
	return res, nil
}

// onLease runs one of the scripts of leaseLua for c, with extra ARGV
// after its own: 1 done, 0 the request is another run's, -1 Redis no
// longer has its queue.
func (q *sharedQueue) onLease(ctx context.Context, script *redis.Script, c *Lease, extra ...any) (int, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout(q.claimAfter))
	defer cancel()
	args := append([]any{workerGroup, q.r.name, c.id, c.deliveries, c.epoch}, extra...)
	return script.Run(ctx, q.r.client, []string{q.stream(), q.r.key("job:" + c.id), q.r.key(epochKey)}, args...).Int()
}

// record implements Lease.Record. When Redis fails, the run keeps its
// request, as at a renewal: a replica answers whatever happens to Redis.
func (q *sharedQueue) record(ctx context.Context, c *Lease, data []byte) {
	if c.isCarried() || !q.r.TryRedis() {
		return
	}
	n, err := q.onLease(ctx, q.r.scripts.record, c, data, q.keyLife().Milliseconds())
	switch {
	case err != nil:
		q.r.Failed(err)
	case n < 0:
		q.sync(ctx) // the run carries the request from now on
	case n == 0:
		c.letGo(failure.Errorf("record what the request shows", failure.HandedOver, "taken over by another replica", nil))
	}
}

// keyLife bounds how long what a request showed is kept: long after any
// run of it could end.
func (q *sharedQueue) keyLife() time.Duration { return 24 * time.Hour }

// finish ends this replica's hold once the run is over: an answered
// request is acknowledged, one handed back at a shutdown goes back to the
// queue, one taken over is only forgotten, and so is one carried on trust
// (Redis lost it: there is nothing to acknowledge). ctx is the one the
// request ran on; its calls to Redis are made even once it is cancelled
// (each is bounded): an answer given must be acknowledged.
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
	if c.isCarried() {
		q.answeredCarried(c)
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
	ctx, cancel := context.WithTimeout(ctx, callTimeout(q.claimAfter))
	defer cancel()
	n, err := q.onLease(ctx, q.r.scripts.ack, c)
	switch {
	case err != nil:
		q.r.Failed(fmt.Errorf("acknowledge request %s: %w", c.id, err))
		return
	case n < 0:
		// Redis lost the queue since the answer: the run carried it.
		q.sync(ctx)
		q.answeredCarried(c)
		return
	case n == 0:
		q.log.Warn("a request was taken over as its answer ended: the replica that took it replaces the answer", zap.String("id", c.id))
	default:
		q.mu.Lock()
		q.acked = append(q.acked, ackedRequest{id: c.id, epoch: c.epoch, at: time.Now()})
		if len(q.acked) > maxRemembered {
			q.acked = q.acked[1:]
		}
		q.mu.Unlock()
	}
	q.forget(c)
}

// settleCarried forgets the answered requests that Redis lost before
// their acknowledgement: they are carried now, and answered.
func (q *sharedQueue) settleCarried() {
	q.mu.Lock()
	var done []*Lease
	for c, answered := range q.held {
		if answered && c.isCarried() {
			done = append(done, c)
		}
	}
	q.mu.Unlock()
	for _, c := range done {
		q.answeredCarried(c)
	}
}

// answeredCarried forgets a request carried on trust once it ended.
func (q *sharedQueue) answeredCarried(c *Lease) {
	q.log.Info("answered a request Redis had lost meanwhile", zap.String("id", c.id))
	q.forget(c)
}

func (q *sharedQueue) handBack(ctx context.Context, c *Lease) error {
	n, err := q.onLease(ctx, q.r.scripts.handBack, c, handBackIdle.Milliseconds(), q.keyLife().Milliseconds())
	if err != nil {
		return fmt.Errorf("hand back request %s: %w", c.id, err)
	}
	if n < 0 {
		// Redis lost the queue: no other replica will find the request,
		// and its run ended without a word. Its user is told here (and,
		// as the request is still held, not by its admitter as well).
		q.sync(ctx)
		q.log.Warn("a request to hand back is one Redis lost: telling its user to ask again", zap.String("id", c.id))
		q.pool.tell(ctx, c.origin, failure.Errorf("shut down", failure.ShuttingDown, "", nil), nil)
	}
	return nil
}

func (q *sharedQueue) forget(c *Lease) {
	q.mu.Lock()
	delete(q.held, c)
	q.mu.Unlock()
	c.done()
}
