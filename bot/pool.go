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
)

// maxOverflow bounds the short jobs run beside the workers (modals that
// must open within Slack's three seconds, Home tabs, votes): under a flood
// even these must not grow without limit.
const maxOverflow = 32

// Notices ("busy, try again") wait in a queue of their own, served by a
// few goroutines: a flood of requests beyond the job queue must get one
// each, not lose them to a bound on what runs at once.
const (
	noticeQueue   = 1024
	noticeWorkers = 4
)

// noticeTimeout bounds telling a user that their request ended without
// an answer; the job's own context may be gone by then.
const noticeTimeout = 15 * time.Second

// job is one request's work, and how to tell its user that it ended
// without an answer.
type job struct {
	run func(context.Context)
	// interrupted tells the user why the job ended without its answer;
	// nil for jobs with nobody to tell.
	interrupted func(context.Context, handlers.Interruption)

	// ended is set once, by whoever ends the job first: the job itself
	// when it returns, or the stop that gives up on it. A user is told at
	// most once, and not after the job answered.
	ended atomic.Bool
}

// pool runs jobs on a fixed number of workers behind a bounded queue, so
// that the Socket Mode loop never waits for a job and acks at once.
type pool struct {
	workers  int
	jobs     chan *job
	notices  chan func(context.Context)
	overflow chan struct{}
	log      *zap.Logger
	running  atomic.Int64

	ctx      context.Context
	timeout  time.Duration
	wg       sync.WaitGroup // workers, short jobs, notices
	told     sync.WaitGroup // users being told at stop
	stopping atomic.Bool
	stopped  sync.Once

	mu     sync.Mutex
	active map[*job]struct{} // jobs running now
}

func newPool(workers, queue int, log *zap.Logger) *pool {
	return &pool{
		workers:  workers,
		jobs:     make(chan *job, queue),
		notices:  make(chan func(context.Context), noticeQueue),
		overflow: make(chan struct{}, maxOverflow),
		log:      log,
		active:   map[*job]struct{}{},
	}
}

func (p *pool) start(ctx context.Context, timeout time.Duration) {
	p.ctx, p.timeout = ctx, timeout
	for range p.workers {
		p.wg.Go(func() {
			for j := range p.jobs {
				if p.stopping.Load() {
					// Still queued when the grace ended: too late to start.
					p.interrupt(j, handlers.InterruptedByStop)
					continue
				}
				p.runJob(j)
			}
		})
	}
	for range noticeWorkers {
		p.wg.Go(func() {
			for notice := range p.notices {
				p.run(notice)
			}
		})
	}
}

// trySubmit queues run, or reports false at once when workers and queue
// are all taken. interrupted, if not nil, tells the user when the job
// cannot give its answer: it panicked, or the bot stopped first.
func (p *pool) trySubmit(run func(context.Context), interrupted func(context.Context, handlers.Interruption)) bool {
	select {
	case p.jobs <- &job{run: run, interrupted: interrupted}:
		return true
	default:
	}
	return false
}

// notify queues a short notice to a user ("busy, try again"); beyond the
// notice queue it is dropped and logged.
func (p *pool) notify(what string, notice func(context.Context)) {
	select {
	case p.notices <- notice:
	default:
		p.log.Error("too many notices at once: one was dropped", zap.String("notice", what))
	}
}

// runBeside runs a short job (a modal to open) beside the workers, within
// its own bound; beyond it the job is dropped and logged.
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

// runJob runs a request's job; a panic tells its user, and only then is
// the job over.
func (p *pool) runJob(j *job) {
	p.mu.Lock()
	p.active[j] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.active, j)
		p.mu.Unlock()
	}()
	if panicked := p.run(j.run); panicked {
		p.interrupt(j, handlers.InterruptedByFault)
		return
	}
	j.claim() // answered: nobody is to be told otherwise
}

// run runs one job under its deadline and reports whether it panicked: a
// panic ends the job, not the bot.
func (p *pool) run(job func(context.Context)) (panicked bool) {
	p.running.Add(1)
	defer p.running.Add(-1)
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("job panicked", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
			panicked = true
		}
	}()
	job(ctx)
	return false
}

// interrupt tells j's user, once, why j ended without an answer. It runs
// on a context of its own: the job's may be cancelled already.
func (p *pool) interrupt(j *job, why handlers.Interruption) {
	if j.claim() {
		p.tell(j, why)
	}
}

// claim ends j for whoever calls it first, and reports whether that was
// the caller: only the one who ends a job may tell its user.
func (j *job) claim() bool { return j.ended.CompareAndSwap(false, true) }

// tell tells j's user why j ended without its answer; the caller claimed j.
func (p *pool) tell(j *job, why handlers.Interruption) {
	if j.interrupted == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), noticeTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("telling a user failed with a panic", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
		}
	}()
	j.interrupted(ctx, why)
}

// stop takes no more jobs and lets the queued and running ones finish. It
// reports whether they did within grace; if not, cancel (the jobs'
// context) is called, and the users of the jobs still running or queued
// are told to ask again before stop returns.
func (p *pool) stop(grace time.Duration, cancel context.CancelFunc) bool {
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

	// From here a worker that takes a queued job tells its user instead.
	p.stopping.Store(true)
	// Running jobs are claimed before they are cancelled: a cancelled job
	// returns at once, and had it ended itself first its user would never
	// hear that it was cut. Cancelled before the telling, so that a job
	// can't post its answer after its user was told to ask again.
	p.mu.Lock()
	unfinished := make([]*job, 0, len(p.active))
	for j := range p.active {
		if j.claim() {
			unfinished = append(unfinished, j)
		}
	}
	p.mu.Unlock()
	cancel()
	for j := range p.jobs {
		if j.claim() {
			unfinished = append(unfinished, j)
		}
	}
	for _, j := range unfinished {
		p.told.Go(func() { p.tell(j, handlers.InterruptedByStop) })
	}
	p.told.Wait()
	// The cancelled jobs return soon; waiting for them (a little) keeps
	// their goroutines from outliving Run.
	select {
	case <-done:
	case <-time.After(noticeTimeout):
		p.log.Warn("jobs still running after they were cancelled")
	}
	return false
}
