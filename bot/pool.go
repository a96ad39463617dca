package bot

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
)

// maxBeside bounds the short jobs run beside the workers (modals that must
// open within Slack's three seconds, Home tabs, votes): under a flood even
// these must not grow without limit.
const maxBeside = 32

// Notices ("busy, try again", refusals) wait in a queue of their own,
// served by a few goroutines: a flood of requests beyond the job queue
// must get one each, not lose them to a bound on what runs at once.
const (
	noticeQueue   = 1024
	noticeWorkers = 4
)

// noticeTimeout bounds telling a user about a request the pool never ran,
// and how long a stop waits for cancelled jobs to tell their users.
const noticeTimeout = 15 * time.Second

// runner is what the pool runs: the flows.
type runner interface {
	Run(ctx context.Context, r handlers.Request)
	Interrupted(ctx context.Context, o handlers.Origin, cause error)
}

// pool runs requests on a fixed number of workers behind a bounded queue,
// so that admission never waits for an answer. A running request ends
// itself, with its answer or a notice; the pool tells the users only of
// the requests it could not run.
type pool struct {
	flows   runner
	workers int
	jobs    chan handlers.Request
	notices chan func(context.Context)
	beside  chan struct{}
	log     *zap.Logger
	running atomic.Int64

	ctx     context.Context
	timeout time.Duration
	wg      sync.WaitGroup // workers, short jobs, notices
	// stopping is set once the shutdown grace has passed: queued requests
	// are then told to ask again instead of run.
	stopping atomic.Bool
	stopped  sync.Once

	mu sync.Mutex
	// cancels are the running requests' cancel functions: a stop past its
	// grace ends them with failure.Stopping as the cause.
	cancels map[*context.CancelCauseFunc]struct{}
}

func newPool(flows runner, workers, queue int, log *zap.Logger) *pool {
	return &pool{
		flows:   flows,
		workers: workers,
		jobs:    make(chan handlers.Request, queue),
		notices: make(chan func(context.Context), noticeQueue),
		beside:  make(chan struct{}, maxBeside),
		log:     log,
		cancels: map[*context.CancelCauseFunc]struct{}{},
	}
}

// start runs the workers. Requests run on ctx, each within timeout.
func (p *pool) start(ctx context.Context, timeout time.Duration) {
	p.ctx, p.timeout = ctx, timeout
	for range p.workers {
		p.wg.Go(func() {
			for req := range p.jobs {
				if p.stopping.Load() {
					// Still queued when the grace ended: too late to start.
					p.interrupt(req.Origin, failure.Errorf("stop", failure.Stopping, "", nil))
					continue
				}
				p.run(req)
			}
		})
	}
	for range noticeWorkers {
		p.wg.Go(func() {
			for notice := range p.notices {
				p.notice(notice)
			}
		})
	}
}

// trySubmit queues a request, or reports false at once when workers and
// queue are all taken.
func (p *pool) trySubmit(req handlers.Request) bool {
	select {
	case p.jobs <- req:
		return true
	default:
		return false
	}
}

// runBeside runs a short request beside the workers, within its own
// bound; beyond it the request is dropped and logged.
func (p *pool) runBeside(what string, req handlers.Request) {
	select {
	case p.beside <- struct{}{}:
	default:
		p.log.Error("too many short jobs at once: one was dropped", zap.String("job", what))
		return
	}
	p.wg.Go(func() {
		defer func() { <-p.beside }()
		p.run(req)
	})
}

// notify queues a short notice to a user; beyond the notice queue it is
// dropped and logged.
func (p *pool) notify(what string, notice func(context.Context)) {
	select {
	case p.notices <- notice:
	default:
		p.log.Error("too many notices at once: one was dropped", zap.String("notice", what))
	}
}

// load is how many requests run now and how many wait for a worker.
func (p *pool) load() (running, queued int) {
	return int(p.running.Load()), len(p.jobs)
}

// run runs one request within the job timeout, on a context the pool can
// cancel with a cause: the request then tells its user why it ended. A
// panic that the flows let through ends the request, not the bot.
func (p *pool) run(req handlers.Request) {
	p.running.Add(1)
	defer p.running.Add(-1)
	ctx, cancel := context.WithCancelCause(p.ctx)
	defer cancel(nil)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, p.timeout,
		failure.Errorf("run the request", failure.JobTimeout, p.timeout.String(), nil))
	defer cancelTimeout()
	p.mu.Lock()
	p.cancels[&cancel] = struct{}{}
	p.mu.Unlock()
	if p.stopping.Load() {
		// Taken from the queue just as a stop gave up waiting: it missed
		// the cancelling, so it cancels itself.
		cancel(failure.Errorf("stop", failure.Stopping, "", nil))
	}
	defer func() {
		p.mu.Lock()
		delete(p.cancels, &cancel)
		p.mu.Unlock()
	}()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("job panicked", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
			p.interrupt(req.Origin, failure.Errorf("run the request", failure.Internal, "panicked", nil))
		}
	}()
	p.flows.Run(ctx, req)
}

// interrupt tells a request's user that it ended without its answer.
func (p *pool) interrupt(o handlers.Origin, cause error) {
	p.notice(func(ctx context.Context) { p.flows.Interrupted(ctx, o, cause) })
}

// notice runs a notice on a context of its own, bounded: the pool's may be
// cancelled already.
func (p *pool) notice(notice func(context.Context)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), noticeTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("telling a user failed with a panic", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
		}
	}()
	notice(ctx)
}

// stop takes no more requests and lets the queued and running ones finish.
// It reports whether they did within grace. If not, the running ones are
// cancelled with failure.Stopping as the cause, so that each tells its
// user to ask again through its own reply, and the queued ones are told
// so by the workers; stop waits a little for that telling.
func (p *pool) stop(grace time.Duration) bool {
	p.stopped.Do(func() {
		close(p.jobs)
		close(p.notices)
	})
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
	}

	p.stopping.Store(true)
	stopping := failure.Errorf("stop", failure.Stopping, "", nil)
	p.mu.Lock()
	for cancel := range p.cancels {
		(*cancel)(stopping)
	}
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(2 * noticeTimeout):
		p.log.Warn("requests still running after they were told to stop")
	}
	return false
}
