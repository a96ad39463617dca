package queue

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
// served by a few goroutines: a flood of requests beyond the queue
// must get one each, not lose them to a bound on what runs at once.
const (
	noticeQueue   = 1024
	noticeWorkers = 4
)

// Flows are what the queue runs: each request's flow, and the notice to
// the user of a request that ended without its answer. Both write to
// Slack within lease, nil for a request of this process's own queue.
type Flows interface {
	Run(ctx context.Context, r handlers.Request, lease *Lease)
	Interrupted(ctx context.Context, o handlers.Origin, cause error, lease *Lease)
}

// entry is one request for a worker.
type entry struct {
	req handlers.Request
	// lease is this replica's hold on a request of the shared queue; nil
	// for one of this process's own queue.
	lease *Lease
	// giveUp, when set, is what the request's user is told instead of
	// running it: its runs kept failing, it could not be read, or it
	// waited too long.
	giveUp error
	// queued is when a request of this process's own queue was queued,
	// for its age (a request of the shared queue has its entry's).
	queued time.Time
}

// pool runs requests on a fixed number of workers behind a bounded queue,
// so that admission never waits for an answer. A running request ends
// itself, with its answer or a notice; the pool tells the users only of
// the requests it could not run.
type pool struct {
	flows   Flows
	workers int
	jobs    chan entry // this process's own queue
	// direct hands a request of the shared queue to a free worker; nil
	// without one. Its sender, the shared queue's read loop, closes it
	// when it ends.
	direct chan entry
	// slots are the workers at work: the shared queue reads no more
	// requests than there are free workers.
	slots chan struct{}
	freed chan struct{} // a slot was let go (capacity 1)
	// handing counts the requests the shared queue is handing to a worker
	// that has yet to take its slot: they are not free either.
	handing atomic.Int64
	notices chan func(context.Context)
	// noticesClosed is set, under noticesMu, once shutdown closed notices:
	// a notice the shared queue's heartbeats owe someone after that is
	// dropped and logged, not sent on a closed channel.
	noticesMu     sync.RWMutex
	noticesClosed bool
	// beside hands a short request to one of maxBeside goroutines that
	// run them; besideSlots counts those handed and not yet done, the
	// bound, so that a send to beside never waits.
	beside      chan entry
	besideSlots chan struct{}
	log         *zap.Logger
	running     atomic.Int64
	// shared is the queue of replicas the pool runs requests of, which
	// says at a shutdown whether another replica can take over what this one
	// can't finish; nil without one.
	shared *sharedQueue

	timeout time.Duration
	// maxAge is how long a request may wait for a worker (MAX_QUEUED_AGE);
	// 0 for no bound. now is the clock that tells.
	maxAge time.Duration
	now    func() time.Time
	// wg holds the goroutines start starts (workers, short jobs,
	// notices): they live on its context and end together once shutdown
	// closes their channels.
	wg sync.WaitGroup
	// shuttingDown is set once the shutdown grace has passed: queued requests
	// are then told to ask again instead of run.
	shuttingDown atomic.Bool
	// handBack is set with stopping when another replica is alive to take
	// over the requests of the shared queue this one can't finish.
	handBack atomic.Bool
	stopped  sync.Once

	mu sync.Mutex
	// cancels are the running requests' cancel functions, with their
	// claims: a shutdown past its grace ends them with failure.ShuttingDown as the
	// cause, or hands them back to the other replicas.
	cancels map[*context.CancelCauseFunc]*Lease
}

func newPool(flows Flows, workers, queue int, maxAge time.Duration, log *zap.Logger) *pool {
	return &pool{
		maxAge:      maxAge,
		now:         time.Now,
		flows:       flows,
		workers:     workers,
		jobs:        make(chan entry, queue),
		slots:       make(chan struct{}, workers),
		freed:       make(chan struct{}, 1),
		notices:     make(chan func(context.Context), noticeQueue),
		beside:      make(chan entry, maxBeside),
		besideSlots: make(chan struct{}, maxBeside),
		log:         log,
		cancels:     map[*context.CancelCauseFunc]*Lease{},
	}
}

// start runs the workers, the goroutines of short jobs and those of
// notices. Requests run on ctx, each within timeout.
func (p *pool) start(ctx context.Context, timeout time.Duration) {
	p.timeout = timeout
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
					p.runQueued(ctx, j)
				case j, ok := <-direct:
					if !ok {
						direct = nil
						continue
					}
					p.slots <- struct{}{}
					p.handing.Add(-1)
					p.runQueued(ctx, j)
				}
			}
		})
	}
	for range noticeWorkers {
		p.wg.Go(func() {
			for notice := range p.notices {
				p.notice(ctx, notice)
			}
		})
	}
	for range maxBeside {
		p.wg.Go(func() {
			for j := range p.beside {
				p.run(ctx, j)
				<-p.besideSlots
			}
		})
	}
}

// runQueued runs a request from a queue on this worker, which holds a
// slot for it, and lets the slot go.
func (p *pool) runQueued(ctx context.Context, j entry) {
	defer p.release()
	if p.shuttingDown.Load() && j.lease == nil {
		// Still queued when the grace ended: too late to start.
		p.tell(ctx, j.req.Origin, failure.Errorf("shut down", failure.ShuttingDown, "", nil), nil)
		return
	}
	if j.lease == nil && p.tooOld(j.queued) {
		p.log.Warn("a request waited longer than MAX_QUEUED_AGE for a worker: telling its user instead of answering late",
			zap.String("channel", j.req.Channel), zap.Duration("max_age", p.maxAge))
		p.tell(ctx, j.req.Origin, tooOld(p.maxAge), nil)
		return
	}
	p.run(ctx, j)
}

// tooOld reports whether a request queued at queued waited past maxAge.
func (p *pool) tooOld(queued time.Time) bool {
	return p.maxAge > 0 && !queued.IsZero() && p.now().Sub(queued) > p.maxAge
}

// tooOld is why a request that waited past maxAge is not answered.
func tooOld(maxAge time.Duration) error {
	return failure.Errorf("run the request", failure.TooOld, maxAge.String(), nil)
}

// release lets a worker's slot go, and says so to a reader waiting for one.
func (p *pool) release() {
	<-p.slots
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// submit queues a request, or refuses it at once (handlers.RefusedBusy)
// when workers and queue are all taken.
func (p *pool) submit(_ context.Context, req handlers.Request) error {
	select {
	case p.jobs <- entry{req: req, queued: p.now()}:
		return nil
	default:
		return handlers.Refusal{Reason: handlers.RefusedBusy}
	}
}

// free is how many workers have no request, for the shared queue's reads.
func (p *pool) free() int {
	return max(p.workers-len(p.slots)-len(p.jobs)-int(p.handing.Load()), 0)
}

// runBeside runs a short request beside the workers, within its own
// bound (on the goroutines start started for them); beyond it the
// request is dropped and logged.
func (p *pool) runBeside(what string, req handlers.Request) {
	select {
	case p.besideSlots <- struct{}{}:
		p.beside <- entry{req: req} // never waits: no more are handed than it holds
	default:
		p.log.Error("too many short jobs at once: one was dropped", zap.String("job", what))
	}
}

// notify queues a short notice to a user; beyond the notice queue it is
// dropped and logged.
func (p *pool) notify(what string, notice func(context.Context)) {
	p.noticesMu.RLock()
	defer p.noticesMu.RUnlock()
	if p.noticesClosed {
		p.log.Error("a notice came after the shutdown: it was dropped", zap.String("notice", what))
		return
	}
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
func (p *pool) run(ctx context.Context, j entry) {
	p.running.Add(1)
	defer p.running.Add(-1)
	if j.lease != nil {
		defer p.shared.finish(ctx, j.lease)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, p.timeout,
		failure.Errorf("run the request", failure.JobTimeout, p.timeout.String(), nil))
	defer cancelTimeout()
	if j.lease != nil {
		j.lease.started(cancel)
	}
	p.mu.Lock()
	p.cancels[&cancel] = j.lease
	p.mu.Unlock()
	if p.shuttingDown.Load() {
		// Taken from the queue just as a stop gave up waiting: it missed
		// the cancelling, so it cancels itself.
		p.cut(&cancel, j.lease)
	}
	defer func() {
		p.mu.Lock()
		delete(p.cancels, &cancel)
		p.mu.Unlock()
	}()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("request panicked", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
			p.tell(ctx, j.req.Origin, failure.Errorf("run the request", failure.Internal, "panicked", nil), j.lease)
		}
	}()
	if j.giveUp != nil {
		p.tell(ctx, j.req.Origin, j.giveUp, j.lease)
		return
	}
	p.flows.Run(ctx, j.req, j.lease)
}

// tell tells a request's user that it ended without its answer, on a
// bounded context of its own, within the request's lease: a notice for a
// request of the shared queue replaces what its runs showed.
func (p *pool) tell(ctx context.Context, o handlers.Origin, cause error, lease *Lease) {
	p.notice(ctx, func(ctx context.Context) { p.flows.Interrupted(ctx, o, cause, lease) })
}

// notice runs a notice on a context of its own, bounded: ctx, the
// request's or the pool's, may be cancelled already.
func (p *pool) notice(ctx context.Context, notice func(context.Context)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handlers.FinishTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			p.log.Error("telling a user failed with a panic", zap.String("panic", fmt.Sprint(v)), zap.ByteString("stack", debug.Stack()))
		}
	}()
	notice(ctx)
}

// cut ends a running request at a shutdown past the grace: a request of the
// shared queue goes back to another replica when one is alive, and its
// run ends without a word to its user (the replica that takes it over
// answers); any other is cancelled with failure.ShuttingDown, and its user is
// told to ask again.
func (p *pool) cut(cancel *context.CancelCauseFunc, c *Lease) {
	// A request carried on trust (Redis lost it) can't go back: no one
	// else would find it.
	if c != nil && p.handBack.Load() && !c.isCarried() {
		c.handBack()
		return
	}
	(*cancel)(failure.Errorf("shut down", failure.ShuttingDown, "", nil))
}

// shutdown takes no more requests and lets the queued and running ones finish.
// It reports whether they did within grace. If not, the running ones are
// cancelled with failure.ShuttingDown as the cause, so that each tells its
// user to ask again through its own reply, and the queued ones are told
// so by the workers; stop waits a little for that telling.
// ctx is the shutdown's own, for asking Redis whether another replica is
// alive; the shared queue's read loop closes direct when it ends.
func (p *pool) shutdown(ctx context.Context, grace time.Duration) bool {
	p.stopped.Do(func() {
		close(p.jobs)
		p.noticesMu.Lock()
		p.noticesClosed = true
		close(p.notices)
		p.noticesMu.Unlock()
		close(p.beside)
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

	p.handBack.Store(p.shared != nil && p.shared.othersAlive(ctx))
	p.shuttingDown.Store(true)
	p.mu.Lock()
	for cancel, c := range p.cancels {
		p.cut(cancel, c)
	}
	p.mu.Unlock()
	select {
	case <-done:
	case <-time.After(2 * handlers.FinishTimeout):
		p.log.Warn("requests still running after they were told to stop")
	}
	return false
}
