package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
)

// Lease is a replica's time-bounded right to write one request's answer:
// the stream entry Redis delivered to it, and the fencing token that says this run is
// still the one that owns the request. The token is Redis's own record of
// the delivery: the consumer the group's pending list names for the entry
// and the entry's delivery count, which XREADGROUP sets to 1 and every
// takeover (XCLAIM, in takeoverLua) raises by one. A run that was taken over,
// or a slow one that wakes up after another replica took its request,
// finds another consumer or another count there.
//
// Every call the request makes to Slack runs within the lease (the Slack
// adapter asks it for each write: slackapi.Lease):
// a call is sent only before the lease ends, and a lease renewed in Redis
// ends before another replica can take the request over (takeoverLua takes
// only an entry idle for JOB_CLAIM_AFTER, and each renewal makes it busy
// again). So a replica that stalled, or whose heartbeats stopped, writes
// nothing over the answer of the replica that took its request. One cut
// off from Redis is another matter: while Redis does not answer it, its
// leases are extended on trust (extendAll), as a replica answers whatever
// happens to Redis and nobody takes a request through a Redis that is
// down. When the other replicas still reach that Redis, one of them takes
// the request over after JOB_CLAIM_AFTER, and both write in the thread:
// the price of not stopping when Redis does. The writes that end a
// request (the final text, a notice) first renew the lease in Redis
// (fence) unless Redis confirmed the one they run in, so that a run that
// lost its request learns it there and writes nothing.
//
// A Redis that lost its state (a restart without persistence) is another
// matter again: it no longer knows the request, so no other replica can
// take it over, and the run carries it to its end on trust (carry): it
// renews nothing, records nothing, and acknowledges nothing.
//
// A nil *Lease is the lease of a request of this process's own queue: it
// bounds nothing, and records nothing.
type Lease struct {
	q          *sharedQueue
	id         string // the stream entry
	deliveries int64  // the entry's delivery count when this run got it
	// request is the request's own id (the queue's idempotency key), which
	// its answer's footer carries; epoch is the queue's in Redis when the
	// entry was read (see sharedQueue.sync).
	request, epoch string
	// origin is whom the request is from, for the one notice the queue
	// itself may owe them (a request that could not be handed back).
	origin handlers.Origin
	// left is what an earlier run of the request showed in Slack, as the
	// Slack adapter recorded it, for this run's reply to take over: nil
	// when there is nothing to replace.
	left []byte

	lost context.Context // done once this run let the request go
	lose context.CancelCauseFunc
	mu   sync.Mutex
	// until is the lease: no Slack call starts after it. The lease ending
	// is an event, not a deadline each call reads once: expiry, armed at
	// until and moved on by each renewal, lets the request go, so that a
	// write longer than one lease goes on while the heartbeats renew it,
	// and stops, with the lease lost, once they no longer do.
	until time.Time
	// confirmed is the end of the last lease Redis confirmed: its read
	// or a renewal that found the request this run's. Before it, no other
	// replica can have taken the request. until may run past it, when
	// leases are extended on trust while Redis does not answer.
	confirmed  time.Time
	expiry     *time.Timer             // nil once the lease is done with
	cancel     context.CancelCauseFunc // the run's, once it started
	handedBack bool                    // at a shutdown: the request goes back to the queue
	// carried: Redis lost its state, and with it the request; the run
	// answers it on trust, its lease no longer ending.
	carried bool
}

// errHandedOver is what a run that let its request go gets from every call
// to Slack: nothing more is written for it by this replica.
func errHandedOver() error {
	return failure.Errorf("write to Slack", failure.HandedOver, "", nil)
}

// errLeaseEnded is why a run whose lease ended without a renewal let its
// request go: another replica may take it from JOB_CLAIM_AFTER on.
func errLeaseEnded() error {
	return failure.Errorf("renew the request", failure.HandedOver, "its lease ended without a renewal", nil)
}

func newLease(q *sharedQueue, id, request, epoch string, deliveries int64, left []byte, leased time.Time) *Lease {
	c := &Lease{q: q, id: id, request: request, epoch: epoch, deliveries: deliveries, left: left}
	c.lost, c.lose = context.WithCancelCause(context.Background())
	c.until = leased.Add(q.lease())
	c.confirmed = c.until
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expiry = time.AfterFunc(time.Until(c.until), c.expire)
	return c
}

// expire lets the request go once its lease has ended; a renewal that
// came while the timer fired moves it on instead.
func (c *Lease) expire() {
	c.mu.Lock()
	if c.carried {
		c.mu.Unlock()
		return
	}
	if left := time.Until(c.until); left > 0 {
		if c.expiry != nil {
			c.expiry.Reset(left)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.lose(errLeaseEnded())
}

// done stops the lease's timer once the queue forgot the lease.
func (c *Lease) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
		c.expiry = nil
	}
}

// Bound is ctx ending, with the lease's cause, when the request is let go,
// its lease ending without a renewal included: a call made on it is not
// sent once another replica may own the request, and one under way is
// cut. It follows the renewals, so a write may outlast any one lease. On
// a nil Lease it is ctx.
func (c *Lease) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if c == nil {
		return ctx, func() {}
	}
	c.mu.Lock()
	ended := !c.carried && !time.Now().Before(c.until)
	c.mu.Unlock()
	if ended {
		// The timer may be late (a stalled process wakes up): the call
		// must not start past the lease all the same.
		c.lose(errLeaseEnded())
	}
	ctx, cancel := context.WithCancelCause(ctx)
	if c.lost.Err() != nil {
		// At once, not on AfterFunc's goroutine: no call may start.
		cancel(context.Cause(c.lost))
		return ctx, func() { cancel(nil) }
	}
	stop := context.AfterFunc(c.lost, func() { cancel(context.Cause(c.lost)) })
	return ctx, func() { stop(); cancel(nil) }
}

// Cause is err, led by why the request was let go when it was: a write
// cut because another replica may own the request reports that
// (failure.HandedOver), not a bare "context canceled".
func (c *Lease) Cause(err error) error {
	if c == nil || err == nil || c.lost.Err() == nil {
		return err
	}
	why := context.Cause(c.lost)
	if errors.Is(err, why) {
		return err
	}
	return fmt.Errorf("%w: %w", why, err)
}

// fence reports errHandedOver when the request is no longer this run's.
// Within a lease Redis confirmed, it is, with no trip to Redis: another
// replica can take the request only once it was idle for JOB_CLAIM_AFTER
// since the renewal, longer than the lease, and bound cuts the write
// when the lease ends. Past that (a lease extended on trust while Redis
// did not answer, or a run that stalled), fence renews in Redis, so that
// a run that lost its request learns it there. When Redis does not
// answer, the run keeps its request: no other replica can take it
// through a Redis that is down, and a replica must answer whatever
// happens to Redis.
func (c *Lease) fence(ctx context.Context) error {
	if c == nil {
		return nil
	}
	if c.lost.Err() != nil {
		return errHandedOver()
	}
	c.mu.Lock()
	sure := c.carried || time.Now().Before(c.confirmed)
	c.mu.Unlock()
	if sure {
		return nil
	}
	if !c.q.renew(ctx, c) {
		return errHandedOver()
	}
	return nil
}

// renewed extends the lease from start, when a renewal was sent, and
// moves its expiry on; inRedis says Redis confirmed the renewal, rather
// than the lease being extended on trust while Redis does not answer. A
// lease already lost stays lost: its lease ended, and another replica may
// have taken the request since.
func (c *Lease) renewed(start time.Time, inRedis bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	until := start.Add(c.q.lease())
	if inRedis && until.After(c.confirmed) {
		c.confirmed = until
	}
	if until.After(c.until) {
		c.until = until
		if c.expiry != nil && c.lost.Err() == nil {
			c.expiry.Reset(time.Until(until))
		}
	}
}

// carry keeps the request this run's to its end: Redis lost its state, and
// the request with it, so no other replica can take it over, and there is
// nothing left to renew, record or acknowledge in Redis. A run that had
// let the request go already stays so.
func (c *Lease) carry() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.carried = true
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

// isCarried reports whether the run carries its request on trust (carry).
func (c *Lease) isCarried() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.carried
}

// started is called by the worker with the run's cancel function, so that
// a request taken over ends its run.
func (c *Lease) started(cancel context.CancelCauseFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cancel = cancel
}

// letGo ends this run's hold: no Slack call is made for it from now on,
// and the run, if it started, ends with cause.
func (c *Lease) letGo(cause error) {
	c.lose(cause)
	c.mu.Lock()
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

// handBack lets the request go at a shutdown: the run ends without a word to
// its user, and once it has, the request goes back to the queue for
// another replica, which takes over what this one showed.
func (c *Lease) handBack() {
	c.mu.Lock()
	c.handedBack = true
	c.mu.Unlock()
	c.letGo(failure.Errorf("shut down", failure.HandedOver, "handed back to another replica", nil))
}

// TakeLeft returns what an earlier run of the request recorded, once, when
// match says it is the asking reply's: that reply takes it over. It is nil
// on a nil Lease.
func (c *Lease) TakeLeft(match func(shown []byte) bool) []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	left := c.left
	if left == nil || !match(left) {
		return nil
	}
	c.left = nil
	return left
}

// Request implements slackapi.Lease: the request's id, and whether an
// earlier run of it may have written its answer (this is not its first
// delivery: a takeover, or a take after a hand-back). On a nil Lease it
// is "" and false.
func (c *Lease) Request() (id string, again bool) {
	if c == nil {
		return "", false
	}
	return c.request, c.deliveries > 1
}

// Record keeps in Redis what the request's reply shows, for a run that
// may take it over. When Redis says the request is no longer this run's,
// the run lets it go, as at a renewal.
func (c *Lease) Record(ctx context.Context, shown []byte) {
	if c == nil {
		return
	}
	c.q.record(ctx, c, shown)
}

// Fenced is ctx for a write that ends the request (its final text, a
// notice): the request checked to be this run's (fence), and ctx bounded
// by its lease. It fails with errHandedOver when the request is another
// run's.
func (c *Lease) Fenced(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := c.fence(ctx); err != nil {
		return ctx, func() {}, err
	}
	ctx, cancel := c.Bound(ctx)
	return ctx, cancel, nil
}
