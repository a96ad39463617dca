// Package queue runs admitted requests: a bounded pool of workers behind
// this process's own queue, and, with replicas, a Redis stream every
// replica's workers read, where each run holds a Lease on its request.
// The pool and the shared queue stay together: the shared queue reads
// only as many requests as the pool has free workers, and hands them to
// those workers directly.
package queue

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/settings"
)

// Config sizes the queue. Its settings carry their names in the
// environment and their defaults in their tags (cmd/visionbot reads them);
// start from DefaultConfig: the zero value of a field is its own setting
// (no queue, no grace), not a default.
type Config struct {
	Workers    int           `env:"WORKERS" envDefault:"16"`     // requests answered at once
	Queue      int           `env:"QUEUE_SIZE" envDefault:"256"` // requests waiting beyond those
	JobTimeout time.Duration `env:"JOB_TIMEOUT" envDefault:"3m"` // how long one request may run
	// ShutdownGrace is how long running requests may finish after a
	// shutdown begins; then they are told to ask again, or handed back
	// to the other replicas.
	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE" envDefault:"30s"`
	// ClaimAfter is how long a request held by a replica that stopped
	// renewing its lease (it crashed, hung or lost Redis) waits before
	// another replica takes it over. Each replica renews its leases three
	// times as often.
	ClaimAfter time.Duration `env:"JOB_CLAIM_AFTER" envDefault:"15s"`
	// Tries is how many runs a request of the shared queue gets before its
	// user is told it failed: each run ended by a crash is one; a hand-back
	// at a shutdown is none. Not a setting: DefaultConfig holds it.
	Tries int
	// MaxAge is how long a request may wait for its turn: past it, its
	// person gets a short notice instead of a late answer. In the shared
	// queue a request's age is its entry's (Redis's clock when it was
	// admitted), so a request taken over after a crash counts its
	// earlier runs too. 0: no bound.
	MaxAge time.Duration `env:"MAX_QUEUED_AGE" envDefault:"10m"`
}

// DefaultConfig is what the queue runs with unless configured otherwise:
// the settings' defaults from their tags, and the one thing that is no
// setting.
func DefaultConfig() Config {
	c := settings.Defaults[Config]()
	c.Tries = 3
	return c
}

// Problems says, variable by variable, what is out of range.
func (c Config) Problems() []string {
	var p []string
	for _, bad := range []struct {
		name string
		bad  bool
	}{
		{"WORKERS", c.Workers <= 0}, {"QUEUE_SIZE", c.Queue < 0},
		{"JOB_TIMEOUT", c.JobTimeout <= 0}, {"SHUTDOWN_GRACE", c.ShutdownGrace < 0},
	} {
		if bad.bad {
			p = append(p, bad.name+" must be positive")
		}
	}
	if c.ClaimAfter < time.Second {
		p = append(p, "JOB_CLAIM_AFTER must be at least 1s: replicas renew what they hold three times as often, and each renewal is a trip to Redis")
	}
	return p
}

// maxQueuedBytes bounds one request as the shared queue holds it: what it
// asks, whom it is from, and what the flows read of its files (a mention
// with ten photos and a question of 2,000 characters is about 13 KB).
// Redis holds every replica's queue, and a request beyond this is refused
// at admission, with one replica as with ten.
const maxQueuedBytes = 16 << 10

// oversized is the refusal of a request of n bytes in the queue.
func oversized(n int) error {
	return handlers.Refusal{Reason: handlers.RefusedOversized, Size: int64(n), Limit: maxQueuedBytes}
}

// Queue is where admission puts requests, and what runs them.
type Queue struct {
	cfg    Config
	log    *zap.Logger
	pool   *pool
	shared *sharedQueue // nil without replicas
}

// New is a queue running requests through flows; with replicas (nil for
// none) the requests go through Redis, for any replica to run.
func New(flows Flows, replicas *Replicas, log *zap.Logger, cfg Config) *Queue {
	q := &Queue{cfg: cfg, log: log, pool: newPool(flows, cfg.Workers, cfg.Queue, cfg.MaxAge, log)}
	if replicas != nil {
		q.shared = newSharedQueue(replicas, q.pool, log, cfg)
	}
	return q
}

// Start runs the workers, and with replicas the heartbeats and the reads
// of the shared queue, until Shutdown. Requests run on ctx: it should
// outlive the shutdown's grace, so that a shutdown does not cut an answer
// in half.
func (q *Queue) Start(ctx context.Context) {
	q.pool.start(ctx, q.cfg.JobTimeout)
	if q.shared != nil {
		q.shared.start(ctx)
	}
}

// Submit queues a request, or refuses it at once with a handlers.Refusal
// to tell its user: RefusedBusy when the queue is full, RefusedOversized
// when the request is larger than a queue holds (maxQueuedBytes). With
// replicas, a Redis that fails puts the request in this process's queue.
func (q *Queue) Submit(ctx context.Context, req handlers.Request) error {
	if q.shared != nil {
		return q.shared.submit(ctx, req)
	}
	// Measured as the shared queue would hold it: one bound, with or
	// without replicas. A request that can't be encoded asks nothing,
	// which its flow says.
	if payload, err := handlers.EncodeRequest(req); err == nil && len(payload) > maxQueuedBytes {
		return oversized(len(payload))
	}
	return q.pool.submit(ctx, req)
}

// Beside runs a short request (a modal that must open within Slack's three
// seconds, a vote, the Home tab) beside the workers, within its own
// bound; beyond it the request is dropped and logged.
func (q *Queue) Beside(what string, req handlers.Request) { q.pool.runBeside(what, req) }

// Notify runs a short notice to a user (busy, refused) on a few goroutines
// of its own; beyond their queue it is dropped and logged.
func (q *Queue) Notify(what string, notice func(context.Context)) { q.pool.notify(what, notice) }

// Load is how many requests run now and how many wait for a worker.
func (q *Queue) Load() (running, queued int) { return q.pool.load() }

// Shutdown reads no more requests, lets the queued and running ones finish
// within the grace, then ends the others: each tells its user to ask
// again, or, with other replicas alive, goes back to them. It returns once
// every request ended, and logs how.
func (q *Queue) Shutdown(ctx context.Context) {
	if q.shared != nil {
		q.shared.stopReading()
	}
	switch {
	case q.pool.shutdown(ctx, q.cfg.ShutdownGrace):
	case q.pool.handBack.Load():
		q.log.Info("shutdown grace ended with requests still running: they were handed back to the other replicas",
			zap.Duration("grace", q.cfg.ShutdownGrace))
	default:
		q.log.Warn("shutdown grace ended with requests still running: their users were told to ask again",
			zap.Duration("grace", q.cfg.ShutdownGrace))
	}
	if q.shared != nil {
		q.shared.close(ctx)
	}
}
