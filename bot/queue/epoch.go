package queue

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
)

// A Redis restarted without persistence (or flushed, or whose stream was
// deleted) loses the queue: the requests waiting in it, and the pending
// list that says who runs what. Without more, a replica running one of
// them took the empty pending list for a takeover and let its answer go,
// and the requests waiting vanished with no word to anyone. So the queue
// has an epoch: a random name, written in Redis when the stream and its
// group are made, carried by every entry and checked by every script.
// A replica that finds another epoch, or none, or no group, knows Redis
// lost the queue rather than that another replica took a request:
//
//   - what it runs, it carries to the end on trust (Lease.carry): nobody
//     else can take those requests, since Redis no longer has them;
//   - what it admitted and has not seen acknowledged (remember), it
//     tells the people of, once the replicas running any of them have had
//     time to say so (watchAdmitted): each marks what it carries, and
//     what it acknowledged a moment ago, in the new epoch (sync).
//
// Redis with persistence (docs/operations.md, Replicas) loses none of it.

// maxRemembered bounds what a replica remembers of the requests it
// admitted and of those it acknowledged a moment ago.
const maxRemembered = 10_000

// markLife is how long a mark of a request carried through a loss lasts:
// far longer than any admitter waits for it.
const markLife = time.Hour

// admittedRequest is a request this replica queued in Redis and has not
// seen acknowledged yet.
type admittedRequest struct {
	origin handlers.Origin
	epoch  string
	// lost is when this replica learnt that Redis lost the request's
	// queue; zero while it has not.
	lost time.Time
}

// ackedRequest is a request this replica acknowledged: its admitter may
// not have seen it go yet.
type ackedRequest struct {
	id, epoch string
	at        time.Time
}

// epochLua learns the queue's epoch, making the stream and its group in a
// new epoch when Redis has none of them, or not all: what is left of a
// lost queue is deleted, so that a new epoch always starts empty. A queue
// of a version before epochs (a stream and its group, no epoch) is kept
// as it is, named by a new epoch. When the replica's epoch is not the one
// it finds, Redis lost the replica's queue: the requests it carries on, or
// acknowledged a moment ago, are marked for their admitters. KEYS: the
// epoch, the stream; ARGV: the group, the replica's epoch ("" for none
// yet), a new epoch, the marks' prefix, their life in ms, then the
// entries to mark. It answers the epoch.
const epochLua = intactLua + `
local cur = redis.call('GET', KEYS[1])
local has = has_group(KEYS[2], ARGV[1])
if not (cur and has) then
  if cur or not has then
    redis.call('DEL', KEYS[2])
    redis.call('XGROUP', 'CREATE', KEYS[2], ARGV[1], '0', 'MKSTREAM')
  end
  cur = ARGV[3]
  redis.call('SET', KEYS[1], cur)
end
if ARGV[2] ~= '' and ARGV[2] ~= cur then
  for i = 6, #ARGV do
    redis.call('SET', ARGV[4] .. ARGV[2] .. ':' .. ARGV[i], 1, 'PX', ARGV[5])
  end
end
return cur
`

// pendingLua says which of the entries a replica admitted are still in
// the stream: 1 for each still there, 0 for each acknowledged; {-1} when
// the queue is not of the epoch. KEYS: the stream, the epoch; ARGV: the
// epoch, then the entries.
const pendingLua = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {-1} end
local out = {}
for i = 2, #ARGV do
  out[#out + 1] = #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i], 'COUNT', 1)
end
return out
`

// sync learns the queue's epoch from Redis (epochLua). When it is not the
// one this replica knew, Redis lost the queue: the requests this replica
// runs are carried on trust, those it admitted are to be told of
// (watchAdmitted), and both those it runs and those it acknowledged a
// moment ago are marked for their admitters, in the same script.
func (q *sharedQueue) sync(ctx context.Context) {
	q.syncing.Lock()
	defer q.syncing.Unlock()
	q.mu.Lock()
	known := q.epoch
	args := []any{workerGroup, known, rand.Text(), q.r.key(carriedKeys), markLife.Milliseconds()}
	for c := range q.held {
		if c.epoch == known {
			args = append(args, c.id)
		}
	}
	for _, a := range q.acked {
		if a.epoch == known {
			args = append(args, a.id)
		}
	}
	q.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout(q.claimAfter))
	defer cancel()
	epoch, err := q.r.scripts.epoch.Run(ctx, q.r.client, []string{q.r.key(epochKey), q.stream()}, args...).Text()
	if err != nil {
		q.r.Failed(fmt.Errorf("learn the queue's epoch: %w", err))
		return
	}
	now := time.Now()
	q.mu.Lock()
	q.epoch = epoch
	var carried, admitted int
	if known != "" && known != epoch {
		for c := range q.held {
			if c.epoch != epoch {
				c.carry()
				carried++
			}
		}
		for _, a := range q.admitted {
			if a.epoch != epoch && a.lost.IsZero() {
				a.lost = now
				admitted++
			}
		}
		q.acked = nil
	}
	q.mu.Unlock()
	if known != "" && known != epoch {
		q.log.Warn("Redis lost the queue (restarted without persistence, or flushed): "+
			"this replica answers what it runs on trust, and tells the people whose requests it queued and nobody runs",
			zap.Int("running", carried), zap.Int("queued_here", admitted))
	}
}

// remember keeps whom a request this replica queued is from, until it sees
// the request acknowledged (watchAdmitted); beyond maxRemembered, a
// request is queued without it.
func (q *sharedQueue) remember(id, epoch string, o handlers.Origin) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.admitted) >= maxRemembered {
		q.log.Warn("too many requests queued and unanswered to remember: if Redis loses this one, nobody is told",
			zap.String("id", id))
		return
	}
	q.admitted[id] = &admittedRequest{origin: o, epoch: epoch}
}

// lostGrace is how long a replica that learnt of a loss waits before it
// tells the people whose requests were lost: every replica running one of
// them marks it with its next heartbeat that reaches Redis, within a
// third of JOB_CLAIM_AFTER, or once Redis is tried again after a failed
// call.
func (q *sharedQueue) lostGrace() time.Duration { return q.claimAfter + q.r.RetryAfter() }

// watchAdmitted follows the requests this replica admitted, at each
// heartbeat: those acknowledged are forgotten; those Redis lost are, once
// lostGrace passed, told of, unless a replica marked them as carried on
// or answered. It drops, too, the memory of acknowledgements older than
// JOB_CLAIM_AFTER: their admitters saw them go by now.
func (q *sharedQueue) watchAdmitted(ctx context.Context) {
	now := time.Now()
	q.mu.Lock()
	epoch := q.epoch
	var waiting []any
	var due []string
	for id, a := range q.admitted {
		switch {
		case a.epoch == epoch && a.lost.IsZero():
			waiting = append(waiting, id)
		case !a.lost.IsZero() && now.Sub(a.lost) >= q.lostGrace():
			due = append(due, id)
		}
	}
	kept := q.acked[:0]
	for _, a := range q.acked {
		if now.Sub(a.at) < q.claimAfter {
			kept = append(kept, a)
		}
	}
	q.acked = kept
	q.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout(q.claimAfter))
	defer cancel()
	if len(waiting) > 0 {
		res, err := q.r.scripts.pending.Run(ctx, q.r.client, []string{q.stream(), q.r.key(epochKey)},
			append([]any{epoch}, waiting...)...).Int64Slice()
		switch {
		case err != nil:
			q.r.Failed(fmt.Errorf("follow the requests queued here: %w", err))
			return
		case len(res) == 1 && res[0] < 0:
			q.sync(ctx)
		case len(res) == len(waiting):
			q.mu.Lock()
			for i, id := range waiting {
				if res[i] == 0 {
					delete(q.admitted, id.(string))
				}
			}
			q.mu.Unlock()
		}
	}
	if len(due) > 0 {
		q.tellLost(ctx, due)
	}
}

// tellLost tells the people of the requests due, which Redis lost, unless
// a replica marked them as carried on or answered.
func (q *sharedQueue) tellLost(ctx context.Context, due []string) {
	q.mu.Lock()
	ids := make([]string, 0, len(due))
	keys := make([]string, 0, len(due))
	for _, id := range due {
		if a := q.admitted[id]; a != nil {
			ids = append(ids, id)
			keys = append(keys, q.r.key(carriedKeys+a.epoch+":"+id))
		}
	}
	q.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	marks, err := q.r.client.MGet(ctx, keys...).Result()
	if err == nil && len(marks) != len(keys) {
		err = errors.New("unexpected answer")
	}
	if err != nil {
		// They stay due, for the next heartbeat.
		q.r.Failed(fmt.Errorf("read which lost requests are carried on: %w", err))
		return
	}
	var told []handlers.Origin
	q.mu.Lock()
	for i, id := range ids {
		if a := q.admitted[id]; a != nil && marks[i] == nil {
			told = append(told, a.origin)
		}
		delete(q.admitted, id)
	}
	q.mu.Unlock()
	for _, o := range told {
		q.log.Warn("Redis lost a request queued here before any replica ran it: telling its user", zap.String("channel", o.Channel))
		q.pool.notify("lost", func(ctx context.Context) {
			q.pool.flows.Interrupted(ctx, o, failure.Errorf("queue the request", failure.QueueLost, "", nil), nil)
		})
	}
}
