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

// job is one request for a worker.
type job struct {
	req handlers.Request
	// claim is this replica's hold on a request of the shared queue; nil
	// for one of this process's own queue.
	claim *claim
	// giveUp, when set, is what the request's user is told instead of
	// running it: its runs kept failing, or it could not be read.
	giveUp error
}

// pool runs requests on a fixed number of workers behind a bounded queue,
// so that admission never waits for an answer. A running request ends
// itself, with its answer or a notice; the pool tells the users only of
// the requests it could not run.
type pool struct {
	flows   runner
	workers int
	jobs    chan job // this process's own queue
	// direct hands a request of the shared queue to a free worker.
	direct chan job
	// slots are the workers at work: the shared queue reads no more
	// requests than there are free workers.
	slots chan struct{}
	freed chan struct{} // a slot was let go (capacity 1)
	// handing counts the requests the shared queue is handing to a worker
	// that has yet to take its slot: they are not free either.
	handing atomic.Int64
	notices chan func(context.Context)
	beside  chan struct{}
	log     *zap.Logger
	running atomic.Int64
	// shared is the queue of replicas the pool runs requests of, which
	// says at a stop whether another replica can take over what this one
	// can't finish; nil without one.
	shared *sharedQueue

	ctx     context.Context
	timeout time.Duration
	wg      sync.WaitGroup // workers, short jobs, notices
	// stopping is set once the shutdown grace has passed: queued requests
	// are then told to ask again instead of run.
	stopping atomic.Bool
	// handBack is set with stopping when another replica is alive to take
	// over the requests of the shared queue this one can't finish.
	handBack atomic.Bool
	stopped  sync.Once

	mu sync.Mutex
	// cancels are the running requests' cancel functions, with their
	// claims: a stop past its grace ends them with failure.Stopping as the
	// cause, or hands them back to the other replicas.
	cancels map[*context.CancelCauseFunc]*claim
}

func newPool(flows runner, workers, queue int, log *zap.Logger) *pool {
	return &pool{
		flows:   flows,
		workers: workers,
		jobs:    make(chan job, queue),
		direct:  make(chan job),
		slots:   make(chan struct{}, workers),
		freed:   make(chan struct{}, 1),
		notices: make(chan func(context.Context), noticeQueue),
		beside:  make(chan struct{}, maxBeside),
		log:     log,
		cancels: map[*context.CancelCauseFunc]*claim{},
	}
}

// start runs the workers. Requests run on ctx, each within timeout.
func (p *pool) start(ctx context.Context, timeout time.Duration) {
	p.ctx, p.timeout = ctx, timeout
	for range p.workers {
		p.wg.Go(func() {
			jobs, direct := p.jobs, p.direct
			for jobs != nil || direct != nil {
				select {
				case j, ok := <-jobs:
					if !ok {
						jobs = nil
						continue
					}
					p.slots <- struct{}{} // never waits: one slot per worker
					p.runQueued(j)
				case j, ok := <-direct:
					if !ok {
						direct = nil
						continue
					}
					p.slots <- struct{}{}
					p.handing.Add(-1)
					p.runQueued(j)
				}
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

// runQueued runs a request from a queue on this worker, which holds a
// slot for it, and lets the slot go.
func (p *pool) runQueued(j job) {
	defer p.release()
	if p.stopping.Load() && j.claim == nil {
		// Still queued when the grace ended: too late to start.
		p.interrupt(j.req.Origin, failure.Errorf("stop", failure.Stopping, "", nil))
		return
	}
	p.run(j)
}

// release lets a worker's slot go, and says so to a reader waiting for one.
func (p *pool) release() {
	<-p.slots
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// submit implements queue: it queues a request, or reports false at once
// when workers and queue are all taken.
func (p *pool) submit(_ context.Context, req handlers.Request) bool {
	select {
	case p.jobs <- job{req: req}:
		return true
	default:
		return false
	}
}

// free is how many workers have no request, for the shared queue's reads.
func (p *pool) free() int {
	return max(p.workers-len(p.slots)-len(p.jobs)-int(p.handing.Load()), 0)
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
		p.run(job{req: req})
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
// panic that the flows let through ends the request, not the bot. A
// request of the shared queue runs with its claim, and is acknowledged
// or handed back once it ended.
func (p *pool) run(j job) {
	p.running.Add(1)
	defer p.running.Add(-1)
	if j.claim != nil {
		defer p.shared.finish(j.claim)
	}
	ctx, cancel := context.WithCancelCause(p.ctx)
	defer cancel(nil)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, p.timeout,
		failure.Errorf("run the request", failure.JobTimeout, p.timeout.String(), nil))
	defer cancelTimeout()
	if j.claim != nil {
		ctx = withClaim(ctx, j.claim)
		j.claim.started(cancel)
	}
	p.mu.Lock()
	p.cancels[&cancel] = j.claim
	p.mu.Unlock()
	if p.stopping.Load() {
		// Taken from the queue just as a stop gave up waiting: it missed
		// the cancelling, so it cancels itself.
		p.cut(&cancel, j.claim)
	}
	defer func() {
		p.mu.Lock()
		delete(p.cancels, &cancel)
		p.mu.Unlock()
	}()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("job panicked", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
			p.tell(ctx, j.req.Origin, failure.Errorf("run the request", failure.Internal, "panicked", nil))
		}
	}()
	if j.giveUp != nil {
		p.tell(ctx, j.req.Origin, j.giveUp)
		return
	}
	p.flows.Run(ctx, j.req)
}

// tell tells a request's user that it ended without its answer, on a
// bounded context of its own that keeps the request's claim: a notice for
// a request of the shared queue replaces what its runs showed.
func (p *pool) tell(jobCtx context.Context, o handlers.Origin, cause error) {
	p.notice(func(ctx context.Context) {
		if c := claimOf(jobCtx); c != nil {
			ctx = withClaim(ctx, c)
		}
		p.flows.Interrupted(ctx, o, cause)
	})
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

// cut ends a running request at a stop past the grace: a request of the
// shared queue goes back to another replica when one is alive, and its
// run ends without a word to its user (the replica that takes it over
// answers); any other is cancelled with failure.Stopping, and its user is
// told to ask again.
func (p *pool) cut(cancel *context.CancelCauseFunc, c *claim) {
	if c != nil && p.handBack.Load() {
		c.handBack()
		return
	}
	(*cancel)(failure.Errorf("stop", failure.Stopping, "", nil))
}

// stop takes no more requests and lets the queued and running ones finish.
// It reports whether they did within grace. If not, the running ones are
// cancelled with failure.Stopping as the cause, so that each tells its
// user to ask again through its own reply, and the queued ones are told
// so by the workers; stop waits a little for that telling.
func (p *pool) stop(grace time.Duration) bool {
	p.stopped.Do(func() {
		close(p.jobs)
		close(p.direct)
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

	p.handBack.Store(p.shared != nil && p.shared.othersAlive(p.ctx))
	p.stopping.Store(true)
	p.mu.Lock()
	for cancel, c := range p.cancels {
		p.cut(cancel, c)
	}
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(2 * noticeTimeout):
		p.log.Warn("requests still running after they were told to stop")
	}
	return false
}
