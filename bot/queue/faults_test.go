package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/visionbot/visionbot/bot/slackapi"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/redistest"
)

// The faults of Redis and of the network between a replica and Redis that
// the shared queue tells apart from a takeover, and what each costs the
// people who asked: these run one at a time too (real leases).

// waitEpochOtherThan waits until r learnt an epoch of the queue other
// than old: it found the queue lost and made or met the new one.
func waitEpochOtherThan(t *testing.T, r *testReplica, old string) {
	t.Helper()
	deadline := time.Now().Add(sharedWait)
	for r.q.currentEpoch() == old {
		if time.Now().After(deadline) {
			t.Fatalf("%s never learnt that Redis lost the queue", r.name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onlyAdmitter makes r a replica that only admits: it reads nothing and
// its heartbeats are stopped, so that the test drives what it learns of
// Redis (sync) and of its requests (watchAdmitted) step by step.
func onlyAdmitter(r *testReplica) {
	r.q.stopRead()
	r.q.stopBeats()
	_ = r.q.loops.Wait()
}

// admitted is how many requests r remembers having queued.
func admitted(r *testReplica) int {
	r.q.mu.Lock()
	defer r.q.mu.Unlock()
	return len(r.q.admitted)
}

// settleAdmitted has r follow its requests until it remembers none: it
// told those it had to.
func settleAdmitted(t *testing.T, r *testReplica) {
	t.Helper()
	deadline := time.Now().Add(sharedWait)
	for admitted(r) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still remembers %d requests", r.name, admitted(r))
		}
		r.q.watchAdmitted(context.Background())
		time.Sleep(10 * time.Millisecond)
	}
}

// A Redis restarted without persistence under a replica is not a
// takeover: the request it runs is answered in full, in its thread, and
// the person whose request was waiting in the stream is told it was lost,
// in its own thread, rather than left waiting for nothing.
func TestRedisLosingTheQueueIsNoTakeover(t *testing.T) {
	srv, emu := redisAndSlack(t)
	cfg := sharedConfig(time.Second)
	cfg.Workers, cfg.Queue = 1, 1
	a := startReplica(t, srv, emu, "a", cfg, slackapi.StreamNative, "A's answer")
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	waitShown(t, emu, slackapi.StreamNative)
	submit(t, a, mention(emu, "C2")) // waits in Redis: a's one worker is busy
	old := a.q.currentEpoch()

	srv.Restart()
	// C1 runs on, gated; the first thing to end is C2's notice.
	if err := waitFinished(t, a); err != nil {
		t.Fatalf("the notice of the lost request: %v", err)
	}
	onlyAnswer(t, emu, "C2", "notice: "+failure.QueueLost.String())
	a.release()
	if err := waitFinished(t, a); err != nil {
		t.Fatalf("the answer of the request running through the loss: %v", err)
	}
	onlyAnswer(t, emu, "C1", "A's answer")
	if a.q.currentEpoch() == old {
		t.Error("the queue is still of the epoch Redis lost")
	}
	waitQueueEmpty(t, srv)
}

// The admitter of a request another replica runs through the loss tells
// nobody: the runner marked it in the new epoch, and answers it. So does
// the admitter of one answered a moment before the loss, whose
// acknowledgement it had not seen yet.
func TestALossTellsNobodyWhoseRequestIsAnswered(t *testing.T) {
	for _, answeredFirst := range []bool{false, true} {
		name := "running through the loss"
		if answeredFirst {
			name = "answered just before it"
		}
		t.Run(name, func(t *testing.T) {
			srv, emu := redisAndSlack(t)
			cfg := sharedConfig(time.Second)
			front := startReplica(t, srv, emu, "front", cfg, slackapi.StreamNative, "front's answer")
			onlyAdmitter(front)
			back := startReplica(t, srv, emu, "back", cfg, slackapi.StreamNative, "back's answer")
			submit(t, front, mention(emu, "C1"))
			waitStarted(t, back)
			waitShown(t, emu, slackapi.StreamNative)
			if answeredFirst {
				back.release()
				if err := waitFinished(t, back); err != nil {
					t.Fatalf("back's answer: %v", err)
				}
				waitQueueEmpty(t, srv)
			}
			if admitted(front) != 1 {
				t.Fatalf("front remembers %d requests, want the one it queued", admitted(front))
			}
			old := back.q.currentEpoch()

			srv.Restart()
			waitEpochOtherThan(t, back, old) // back marked what it runs or answered
			front.q.sync(context.Background())
			settleAdmitted(t, front)
			front.stop() // its notices, if any, are done
			if !answeredFirst {
				back.release()
				if err := waitFinished(t, back); err != nil {
					t.Fatalf("back's answer through the loss: %v", err)
				}
			}
			onlyAnswer(t, emu, "C1", "back's answer")
		})
	}
}

// replyLost is a hook that loses the reply of a replica's next run of one
// script: the script runs in Redis (or, with drop, never reaches it),
// and the replica gets a network error, as from a connection cut after
// the call was sent.
type replyLost struct {
	hash, src string
	drop      bool
	fired     atomic.Bool
	mu        sync.Mutex
	dropped   []any // the call dropped, to send late
}

func newReplyLost(src string, drop bool) *replyLost {
	return &replyLost{hash: redis.NewScript(src).Hash(), src: src, drop: drop}
}

func (h *replyLost) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *replyLost) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		mine := len(args) > 1 && (args[1] == h.hash || args[1] == h.src)
		if mine && h.drop && h.fired.CompareAndSwap(false, true) {
			h.mu.Lock()
			h.dropped = append([]any{"eval", h.src}, args[2:]...)
			h.mu.Unlock()
			err := &net.OpError{Op: "write", Net: "tcp", Err: os.ErrDeadlineExceeded}
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		if mine && !h.drop && err == nil && h.fired.CompareAndSwap(false, true) {
			err = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
			cmd.SetErr(err)
		}
		return err
	}
}

func (h *replyLost) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// An enqueue whose reply is lost runs its request once: from the stream
// when the enqueue reached Redis, here when it did not, and then an
// enqueue arriving late adds nothing.
func TestLostEnqueueReplyRunsTheRequestOnce(t *testing.T) {
	for _, reached := range []bool{true, false} {
		name := "the enqueue reached Redis"
		if !reached {
			name = "the enqueue never reached Redis"
		}
		t.Run(name, func(t *testing.T) {
			srv, emu := redisAndSlack(t)
			lost := newReplyLost(enqueueLua, !reached)
			a := startReplica(t, srv, emu, "a", sharedConfig(time.Second), slackapi.StreamOff, "A's answer", lost)
			a.release()
			submit(t, a, mention(emu, "C1"))
			waitStarted(t, a)
			if err := waitFinished(t, a); err != nil {
				t.Fatalf("a's answer: %v", err)
			}
			waitQueueEmpty(t, srv)
			if !reached {
				lost.mu.Lock()
				late := lost.dropped
				lost.mu.Unlock()
				if err := redistest.Client(t, srv.URL()).Do(context.Background(), late...).Err(); err != nil {
					t.Fatal(err)
				}
				if n := queueLen(t, srv); n != 0 {
					t.Fatalf("the late enqueue added %d requests to the stream", n)
				}
			}
			if a.q.r.IsDown() {
				t.Error("a lost reply, which Redis then explained, took Redis for down")
			}
			// Had the request been run here and queued too, the stream's
			// run would have come by now: the stream is empty, and only
			// its run empties it.
			select {
			case req := <-a.flows.started:
				t.Errorf("the request ran twice: %+v", req)
			default:
			}
			onlyAnswer(t, emu, "C1", "A's answer")
		})
	}
}

// A request that waited in the stream past MAX_QUEUED_AGE (here one dated
// 1970) gets a short notice in its thread, not a late answer.
func TestRequestQueuedTooLongGetsANotice(t *testing.T) {
	srv, emu := redisAndSlack(t)
	a := startReplica(t, srv, emu, "a", sharedConfig(time.Second), slackapi.StreamOff, "A's answer")
	a.release()
	payload, err := handlers.EncodeRequest(mention(emu, "C1"))
	if err != nil {
		t.Fatal(err)
	}
	err = redistest.Client(t, srv.URL()).XAdd(context.Background(), &redis.XAddArgs{
		Stream: "visionbot:" + streamKey, ID: "1-0", Values: map[string]any{"req": payload},
	}).Err()
	if err != nil {
		t.Fatal(err)
	}
	if err := waitFinished(t, a); err != nil {
		t.Fatalf("the notice: %v", err)
	}
	onlyAnswer(t, emu, "C1", "notice: "+failure.TooOld.String())
	waitQueueEmpty(t, srv)
	select {
	case req := <-a.flows.started:
		t.Errorf("the request ran: %+v", req)
	default:
	}
}

// With more live replicas than Slack's ten connections were thought to
// allow, the stream holds every request the live replicas take on, and
// refuses the next: nothing admitted is trimmed away unread.
func TestManyReplicasLoseNoAdmittedRequest(t *testing.T) {
	srv, emu := redisAndSlack(t)
	cfg := sharedConfig(time.Minute)
	cfg.Workers, cfg.Queue = 1, 9
	a := startReplica(t, srv, emu, "a", cfg, slackapi.StreamOff, "A's answer")
	onlyAdmitter(a)
	raw := redistest.Client(t, srv.URL())
	ctx := context.Background()
	now, err := raw.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	const replicas = 20
	for i := 1; i < replicas; i++ { // a's own beat is the twentieth
		if err := raw.ZAdd(ctx, "visionbot:replicas", redis.Z{Score: float64(now.UnixMilli()), Member: fmt.Sprintf("r%d", i)}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	req := mention(emu, "C1")
	for i := range replicas * 10 {
		if err := a.q.submit(ctx, req); err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
	}
	if n := queueLen(t, srv); n != replicas*10 {
		t.Fatalf("the stream holds %d of the %d requests admitted", n, replicas*10)
	}
	var why handlers.Refusal
	if err := a.q.submit(ctx, req); !errors.As(err, &why) || why.Reason != handlers.RefusedBusy {
		t.Errorf("a request beyond what the live replicas take on: %v, want it refused as busy", err)
	}
}

// photo is a file as Slack describes a phone photo: its URLs and six
// thumbnails.
func photo(i int) handlers.File {
	base := fmt.Sprintf("https://files.slack.com/files-tmb/T0123ABCD-F0123ABC%03d-0a1b2c3d4e/img_%04d", i, i)
	f := handlers.File{
		ID: fmt.Sprintf("F0123ABC%03d", i), Name: fmt.Sprintf("IMG_%04d.jpg", i), Mimetype: "image/jpeg", Filetype: "jpg", Size: 3 << 20,
		URLPrivate:  fmt.Sprintf("https://files.slack.com/files-pri/T0123ABCD-F0123ABC%03d/img_%04d.jpg", i, i),
		URLDownload: fmt.Sprintf("https://files.slack.com/files-pri/T0123ABCD-F0123ABC%03d/download/img_%04d.jpg", i, i),
		User:        "U0123ABCD", SharedIn: []string{"C0123ABCD"},
	}
	for _, side := range []int{1024, 960, 800, 720, 480, 360} {
		f.Thumbs = append(f.Thumbs, handlers.Thumb{URL: fmt.Sprintf("%s_%d.jpg", base, side), Width: side, Height: side * 3 / 4})
	}
	return f
}

// A request larger than the queue takes is refused at admission, as
// such, and takes no room in Redis, with replicas as without; a mention
// with ten photos and a question at its bound is well within it.
func TestOversizedRequestIsRefused(t *testing.T) {
	srv, emu := redisAndSlack(t)
	a := startReplica(t, srv, emu, "a", sharedConfig(time.Minute), slackapi.StreamOff, "A's answer")
	onlyAdmitter(a)
	local := New(newGatedFlows("never"), nil, a.pool.log, sharedConfig(time.Minute))

	huge := mention(emu, "C1")
	huge.Ask = handlers.Said{Text: strings.Repeat("<", 40000)}
	var files []handlers.File
	for i := range 10 {
		files = append(files, photo(i))
	}
	usual := mention(emu, "C2")
	usual.Ask = handlers.Said{Text: "recipe " + strings.Repeat("é", 2000), Files: files}

	for _, submit := range []struct {
		name string
		to   func(handlers.Request) error
	}{
		{"shared", func(r handlers.Request) error { return a.q.submit(context.Background(), r) }},
		{"local", func(r handlers.Request) error { return local.Submit(context.Background(), r) }},
	} {
		var why handlers.Refusal
		if err := submit.to(huge); !errors.As(err, &why) || why.Reason != handlers.RefusedOversized || why.Size <= why.Limit {
			t.Errorf("%s: a request of 40,000 characters: %v, want it refused as oversized", submit.name, err)
		}
		if err := submit.to(usual); err != nil {
			t.Errorf("%s: ten photos and a question of 2,000 characters refused: %v", submit.name, err)
		}
	}
	if n := queueLen(t, srv); n != 1 {
		t.Errorf("the stream holds %d requests, want the usual one", n)
	}
}

// The response_url a request carries (it posts as the app for 30 minutes)
// is not in Redis as such: the entry holds it sealed, and the replica
// that runs the request has it back.
func TestResponseURLIsSealedInRedis(t *testing.T) {
	srv, emu := redisAndSlack(t)
	a := startReplica(t, srv, emu, "a", sharedConfig(time.Minute), slackapi.StreamOff, "A's answer")
	const url = "https://hooks.slack.com/commands/T0123ABCD/1234567890/s3cr3tPathOfTheResponseURL"
	req := mention(emu, "C1")
	req.ResponseURL = url
	onlyAdmitter(a) // b runs it
	submit(t, a, req)
	entries, err := redistest.Client(t, srv.URL()).XRange(context.Background(), "visionbot:"+streamKey, "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("the stream holds %d entries (%v), want 1", len(entries), err)
	}
	for field, v := range entries[0].Values {
		if s, _ := v.(string); strings.Contains(s, "hooks.slack.com") || strings.Contains(s, "s3cr3tPath") {
			t.Errorf("the entry's %s holds the response_url: %s", field, s)
		}
	}
	b := startReplica(t, srv, emu, "b", sharedConfig(time.Minute), slackapi.StreamOff, "B's answer")
	b.release()
	if got := waitStarted(t, b); got.ResponseURL != url {
		t.Errorf("b ran the request with response_url %q, want it back", got.ResponseURL)
	}
	// One sealed under another bot token, or for another request, does
	// not open, and says nothing of it.
	other := NewReplicas(b.store.Link(), "other", []byte("xoxb-another-token"))
	defer other.Close()
	sealed := a.q.r.seal(url, "REQUEST1")
	for _, tt := range []struct {
		name string
		r    *Replicas
		req  string
	}{{"another token", other, "REQUEST1"}, {"another request", a.q.r, "REQUEST2"}} {
		if got, err := tt.r.open(sealed, tt.req); err == nil || got != "" || strings.Contains(err.Error(), "hooks") {
			t.Errorf("%s: opened as %q, %v", tt.name, got, err)
		}
	}
}

// failScript is a hook that fails a replica's runs of one script, while
// on, without sending them: a connection that could not be made.
type failScript struct {
	hash, src string
	on        atomic.Bool
}

func (h *failScript) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); h.on.Load() && len(args) > 1 && (args[1] == h.hash || args[1] == h.src) {
			err := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *failScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A replica that wrote its whole answer and died before Redis took the
// acknowledgement leaves a request that another takes over: that one
// finds the answer in the thread, by the request its footer names, and
// acknowledges it without writing a second one.
func TestTakeoverFindsTheAnswerAlreadyGiven(t *testing.T) {
	for _, mode := range []slackapi.StreamMode{slackapi.StreamOff, slackapi.StreamNative} {
		t.Run(string(mode), func(t *testing.T) {
			srv, emu := redisAndSlack(t)
			acks := &failScript{hash: redis.NewScript(ackLua).Hash(), src: ackLua}
			acks.on.Store(true)
			cfg := sharedConfig(time.Second)
			a := startReplica(t, srv, emu, "a", cfg, mode, "A's answer", acks)
			a.release()
			submit(t, a, mention(emu, "C1"))
			waitStarted(t, a)
			if err := waitFinished(t, a); err != nil {
				t.Fatalf("a's answer: %v", err)
			}
			a.crash(t)

			b := startReplica(t, srv, emu, "b", cfg, mode, "B's answer")
			b.release()
			waitStarted(t, b)
			if err := waitFinished(t, b); err != nil {
				t.Fatalf("b's run: %v", err)
			}
			waitQueueEmpty(t, srv)
			onlyAnswer(t, emu, "C1", "A's answer")
		})
	}
}

// A request of this process's own queue that waited past MAX_QUEUED_AGE
// for a worker gets a short notice, not a late answer.
func TestLocalRequestQueuedTooLongGetsANotice(t *testing.T) {
	flows := &noticedFlows{heldFlows: heldFlows{started: make(chan handlers.Request, 2), ended: make(chan error, 2), release: make(chan struct{})},
		noticed: make(chan error, 1)}
	cfg := DefaultConfig()
	cfg.Workers, cfg.Queue, cfg.MaxAge = 1, 1, 10*time.Minute
	q := New(flows, nil, zaptest.NewLogger(t), cfg)
	var clock atomic.Int64
	start := time.Now()
	q.pool.now = func() time.Time { return start.Add(time.Duration(clock.Load())) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q.Start(ctx)
	if err := q.Submit(ctx, handlers.Request{Origin: handlers.Origin{Channel: "C1"}, Ask: handlers.Said{}}); err != nil {
		t.Fatal(err)
	}
	receive(t, flows.started, "the first request never ran")
	if err := q.Submit(ctx, handlers.Request{Origin: handlers.Origin{Channel: "C2"}, Ask: handlers.Said{}}); err != nil {
		t.Fatal(err)
	}
	clock.Store(int64(cfg.MaxAge + time.Second))
	flows.release <- struct{}{}
	if err := receive(t, flows.noticed, "the request that waited too long got no notice"); failure.KindOf(err) != failure.TooOld {
		t.Errorf("its notice is of %v, want too_old", err)
	}
	select {
	case r := <-flows.started:
		t.Errorf("the request that waited too long ran: %+v", r)
	default:
	}
	q.Shutdown(context.Background())
}

// noticedFlows are heldFlows that say what their users are told.
type noticedFlows struct {
	heldFlows
	noticed chan error
}

func (f *noticedFlows) Interrupted(_ context.Context, _ handlers.Origin, cause error, _ *Lease) {
	f.noticed <- cause
}
