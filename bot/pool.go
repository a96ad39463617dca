package bot

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// maxOverflow bounds the short jobs run beside the workers ("busy, try
// again" replies, modals that must open within Slack's three seconds):
// under a flood even these must not grow without limit.
const maxOverflow = 32

// pool runs jobs on a fixed number of workers behind a bounded queue, so
// that the Socket Mode loop never waits for a job and acks at once.
type pool struct {
	workers  int
	jobs     chan func(context.Context)
	overflow chan struct{}
	log      *zap.Logger
	running  atomic.Int64

	ctx     context.Context
	timeout time.Duration
	wg      sync.WaitGroup
	stopped sync.Once
}

func newPool(workers, queue int, log *zap.Logger) *pool {
	return &pool{
		workers:  workers,
		jobs:     make(chan func(context.Context), queue),
		overflow: make(chan struct{}, maxOverflow),
		log:      log,
	}
}

func (p *pool) start(ctx context.Context, timeout time.Duration) {
	p.ctx, p.timeout = ctx, timeout
	for range p.workers {
		p.wg.Go(func() {
			for job := range p.jobs {
				p.run(job)
			}
		})
	}
}

// trySubmit queues job, or reports false at once when workers and queue
// are all taken.
func (p *pool) trySubmit(job func(context.Context)) bool {
	select {
	case p.jobs <- job:
		return true
	default:
	}
	return false
}

// runBeside runs a short job (a "busy" reply, a modal to open) beside the
// workers, within its own bound; beyond it the job is dropped and logged.
func (p *pool) runBeside(what string, job func(context.Context)) {
	select {
	case p.overflow <- struct{}{}:
	default:
		p.log.Error("too many short jobs at once: one was dropped", zap.String("job", what))
		return
	}
	p.wg.Go(func() {
		defer func() { <-p.overflow }()
		p.run(job)
	})
}

// load is how many jobs run now and how many wait for a worker.
func (p *pool) load() (running, queued int) {
	return int(p.running.Load()), len(p.jobs)
}

// run runs one job under its deadline; a panic ends the job, not the bot.
func (p *pool) run(job func(context.Context)) {
	p.running.Add(1)
	defer p.running.Add(-1)
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("job panicked", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
		}
	}()
	job(ctx)
}

// stop takes no more jobs, lets the queued and running ones finish, and
// reports whether they did within grace.
func (p *pool) stop(grace time.Duration) bool {
	p.stopped.Do(func() { close(p.jobs) })
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(grace):
		return false
	}
}
