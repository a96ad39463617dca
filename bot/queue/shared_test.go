package queue

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/slack-go/slack"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/visionbot/visionbot/bot/slackapi"
	"github.com/visionbot/visionbot/bot/store"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/redistest"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// These tests run replicas of the shared queue in this process, each with
// its own Redis connections, workers and Slack API, against one real
// redis-server and one Slack emulator. A replica "crashes" by losing its
// heartbeats and its reads at once, without its shutdown path, its runs
// left hanging where they were: what kill -9 leaves in Redis and in Slack,
// while the test keeps the goroutines to wake them later as a slow replica
// that comes back after its requests were taken over. (The bench kills
// real processes with SIGKILL: docs/benchmarks.md, replicas.)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// They run one at a time, without t.Parallel: each holds real one-second
// leases, which a CPU starved by other tests would let expire.

// sharedWait bounds every wait of these tests: a deadline for a stuck
// test, never a measure of how fast a takeover is.
const sharedWait = 15 * time.Second

// gatedFlows answers each request through the real reply writer: it opens
// the reply, shows its first words, and finishes with its answer once its
// gate opens; a run cut by its context ends with a notice naming the
// cause's kind, as the handlers' runs do.
type gatedFlows struct {
	api      *slackapi.API
	answer   string
	gate     chan struct{}
	started  chan handlers.Request
	finished chan error // what each Finish, Fail or notice returned
}

func newGatedFlows(answer string) *gatedFlows {
	return &gatedFlows{answer: answer, gate: make(chan struct{}), started: make(chan handlers.Request, 16), finished: make(chan error, 16)}
}

func (f *gatedFlows) Run(ctx context.Context, r handlers.Request, lease *Lease) {
	f.started <- r
	reply := f.api.For(lease).OpenReply(ctx, handlers.Thread{Channel: r.Channel, TS: r.Thread, User: r.User, Team: r.Team})
	reply.Append("First words of " + f.answer)
	select {
	case <-f.gate:
		reply.Append(" and more of " + f.answer)
		f.finished <- reply.Finish(ctx, f.answer, &handlers.Footer{Ref: handlers.AnswerRef{Thread: r.Thread, UseCase: "describe"}})
	case <-ctx.Done():
		f.finished <- reply.Fail(ctx, "notice: "+failure.KindOf(context.Cause(ctx)).String())
	}
}

func (f *gatedFlows) Interrupted(ctx context.Context, o handlers.Origin, cause error, lease *Lease) {
	f.finished <- f.api.For(lease).PostReply(ctx, o.Channel, o.Thread, "notice: "+failure.KindOf(cause).String())
}

// testReplica is one replica of the shared queue.
type testReplica struct {
	name  string
	store *store.Redis
	q     *sharedQueue
	pool  *pool
	flows *gatedFlows
	stop  func() // its shutdown path, once
	// stopJobs cancels the context its runs and loops were started on.
	stopJobs context.CancelFunc
}

// sharedConfig is a replica's configuration in these tests: a takeover
// after claimAfter, two workers.
func sharedConfig(claimAfter time.Duration) Config {
	cfg := DefaultConfig()
	cfg.Workers, cfg.Queue, cfg.ClaimAfter, cfg.JobTimeout = 2, 2, claimAfter, time.Minute
	return cfg
}

// testToken is the bot token of the Slack emulator in these tests.
const testToken = "xoxb-queue-test"

// apiOn is a Slack adapter on emu whose answers show in mode, updated
// every 10 ms: one per replica, as each process has its own.
func apiOn(emu *slackemu.Server, mode slackapi.StreamMode) *slackapi.API {
	client := slack.New(testToken, slack.OptionAPIURL(emu.APIURL()))
	u, _ := url.Parse(emu.URL())
	files := slackapi.NewDownloader(&http.Client{Timeout: 10 * time.Second}, testToken, []string{u.Scheme + "://" + u.Host})
	stream := slackapi.DefaultStreamConfig()
	stream.Mode, stream.Interval = mode, 10*time.Millisecond
	return slackapi.New(client, files, &http.Client{Timeout: 10 * time.Second}, stream)
}

// startReplica starts a replica reading srv's queue; mode is how its
// replies show, hooks see its calls to Redis for the queue. It stops at the test's end, through its shutdown path
// unless it crashed.
func startReplica(t *testing.T, srv *redistest.Server, emu *slackemu.Server, name string, cfg Config, mode slackapi.StreamMode, answer string, hooks ...redis.Hook) *testReplica {
	t.Helper()
	store.RouteRedisLogs(zap.NewNop())
	log := zaptest.NewLogger(t).Named(name)
	// A generous deadline for admission's calls: a CPU starved by the
	// other tests must not read as Redis failing, or a request meant for
	// the stream runs in the replica instead.
	opts := store.DefaultRedisOptions()
	opts.Timeout = 2 * time.Second
	store, err := store.NewRedis(srv.URL(), log, opts)
	if err != nil {
		t.Fatal(err)
	}
	flows := newGatedFlows(answer)
	flows.api = apiOn(emu, mode)
	p := newPool(flows, cfg.Workers, cfg.Queue, cfg.MaxAge, log)
	replicas := NewReplicas(store.Link(), name, []byte(testToken))
	for _, h := range hooks {
		replicas.client.AddHook(h)
	}
	q := newSharedQueue(replicas, p, log, cfg)
	ctx, stopJobs := context.WithCancel(context.Background())
	p.start(ctx, cfg.JobTimeout)
	q.start(ctx)
	r := &testReplica{name: name, store: store, q: q, pool: p, flows: flows, stopJobs: stopJobs}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			q.stopReading()
			p.shutdown(ctx, 0)
			q.close(ctx)
			stopJobs()
			_ = replicas.Close()
			_ = store.Close()
		})
	}
	t.Cleanup(func() {
		r.release()
		r.stop()
	})
	return r
}

// release opens the gate: the replica's runs finish.
func (r *testReplica) release() {
	select {
	case <-r.flows.gate:
	default:
		close(r.flows.gate)
	}
}

// crash stops the replica's heartbeats and reads at once, without its
// shutdown path: its requests stay its own in Redis, unrenewed, and its
// runs hang until release.
func (r *testReplica) crash(t *testing.T) {
	t.Helper()
	r.q.stopRead()
	r.q.stopBeats()
	_ = r.q.loops.Wait()
	r.stop = func() {
		// What is left of it at the test's end: its workers, which end
		// once their runs do.
		r.pool.shutdown(context.Background(), sharedWait)
		r.stopJobs()
		_ = r.q.r.Close()
		_ = r.store.Close()
	}
}

// redisAndSlack are the Redis and the Slack the replicas of a test share.
func redisAndSlack(t *testing.T) (*redistest.Server, *slackemu.Server) {
	t.Helper()
	srv := redistest.Start(t)
	emu := slackemu.New()
	t.Cleanup(emu.Close)
	emu.SetBotToken(testToken)
	return srv, emu
}

// mention is a request whose answer goes in a new thread of channel.
func mention(emu *slackemu.Server, channel string) handlers.Request {
	root := emu.AddMessage(channel, map[string]any{"user": "U1", "text": "a photo"})
	return handlers.Request{
		Origin: handlers.Origin{Trigger: handlers.TriggerMention, Channel: channel, Thread: root, Message: root, User: "U1", Team: slackemu.TeamID},
		Ask:    handlers.Said{Text: "describe"},
	}
}

func submit(t *testing.T, r *testReplica, req handlers.Request) {
	t.Helper()
	if err := r.q.submit(context.Background(), req); err != nil {
		t.Fatalf("the shared queue refused the request: %v", err)
	}
}

func waitStarted(t *testing.T, r *testReplica) handlers.Request {
	t.Helper()
	return receive(t, r.flows.started, r.name+" never ran the request")
}

func waitFinished(t *testing.T, r *testReplica) error {
	t.Helper()
	return receive(t, r.flows.finished, r.name+" never finished the request")
}

// receive waits for the next value on ch; failing names what never came.
func receive[T any](t *testing.T, ch <-chan T, failing string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(sharedWait):
		t.Fatal(failing)
		var zero T
		return zero
	}
}

// waitShown waits until the thread shows something of the answer being
// written: a stream's first append, or a placeholder's edit.
func waitShown(t *testing.T, emu *slackemu.Server, mode slackapi.StreamMode) {
	t.Helper()
	method := "chat.appendStream"
	if mode == slackapi.StreamUpdate {
		method = "chat.update"
	}
	if _, err := emu.WaitCalls(method, 1, sharedWait); err != nil {
		t.Fatal(err)
	}
}

// onlyAnswer checks that channel holds exactly one message of the bot,
// showing want, with no stream left open.
func onlyAnswer(t *testing.T, emu *slackemu.Server, channel, want string) slackemu.Posted {
	t.Helper()
	posted := emu.Posted(channel)
	if open := emu.OpenStreams(channel); len(open) > 0 {
		t.Errorf("streams left open: %v", open)
	}
	if len(posted) != 1 {
		for _, p := range posted {
			t.Logf("posted %s: %q", p.TS, p.Markdown())
		}
		t.Fatalf("%d messages of the bot in %s, want the one answer", len(posted), channel)
	}
	if got := posted[0].Markdown(); got != want {
		t.Errorf("the thread shows %q, want %q", got, want)
	}
	return posted[0]
}

// queueLen is how many requests the stream still holds.
func queueLen(t *testing.T, srv *redistest.Server) int64 {
	t.Helper()
	n, err := redistest.Client(t, srv.URL()).XLen(context.Background(), "visionbot:"+streamKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitQueueEmpty(t *testing.T, srv *redistest.Server) {
	t.Helper()
	deadline := time.Now().Add(sharedWait)
	for queueLen(t, srv) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still in the queue", queueLen(t, srv))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// crashWithAnswerOnScreen starts replica a, has it answer a mention in
// C1 in mode until its first words show, and crashes it there; the
// request's takeover waits a second.
func crashWithAnswerOnScreen(t *testing.T, mode slackapi.StreamMode) (*redistest.Server, *slackemu.Server, *testReplica, handlers.Request, Config) {
	t.Helper()
	srv, emu := redisAndSlack(t)
	cfg := sharedConfig(time.Second)
	a := startReplica(t, srv, emu, "a", cfg, mode, "A's answer")
	req := mention(emu, "C1")
	submit(t, a, req)
	waitStarted(t, a)
	waitShown(t, emu, mode)
	a.crash(t)
	return srv, emu, a, req, cfg
}

// A replica crashes with an answer on screen; another takes the request
// over after JOB_CLAIM_AFTER and answers it in the same message: the
// stream the dead one left open is stopped, or its placeholder edited,
// and the thread ends with exactly one answer.
func TestCrashedReplicasRequestIsTakenOver(t *testing.T) {
	for _, mode := range []slackapi.StreamMode{slackapi.StreamNative, slackapi.StreamUpdate} {
		t.Run(string(mode), func(t *testing.T) {

			srv, emu, _, req, cfg := crashWithAnswerOnScreen(t, mode)
			left := shownTS(t, emu, "C1")

			b := startReplica(t, srv, emu, "b", cfg, mode, "B's answer")
			if got := waitStarted(t, b); got.Thread != req.Thread {
				t.Fatalf("b ran %+v", got)
			}
			// While b writes, the message a left shows b's words: a stream
			// a left open was stopped first, or Slack would refuse the edits.
			waitText(t, emu, "C1", left, "First words of B's answer")
			if open := emu.OpenStreams("C1"); len(open) > 0 {
				t.Errorf("a's stream is still open while b writes: %v", open)
			}
			b.release()
			if err := waitFinished(t, b); err != nil {
				t.Fatalf("b's answer: %v", err)
			}
			answer := onlyAnswer(t, emu, "C1", "B's answer")
			if answer.TS != left {
				t.Errorf("the answer is message %s, want the one a left, %s", answer.TS, left)
			}
			if mode == slackapi.StreamNative && len(emu.Calls("chat.stopStream")) == 0 {
				t.Error("b never stopped the stream a left open")
			}
			waitQueueEmpty(t, srv)
		})
	}
}

// waitText waits until message ts of channel shows text.
func waitText(t *testing.T, emu *slackemu.Server, channel, ts, text string) {
	t.Helper()
	deadline := time.Now().Add(sharedWait)
	for {
		m := emu.Message(channel, ts)
		shown := fmt.Sprint(m["text"], m["blocks"])
		if strings.Contains(shown, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s shows %q, never %q", ts, shown, text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shownTS is the message the bot shows in channel: its open stream, or
// else its one message.
func shownTS(t *testing.T, emu *slackemu.Server, channel string) string {
	t.Helper()
	if open := emu.OpenStreams(channel); len(open) == 1 {
		return open[0]
	}
	posted := emu.Posted(channel)
	if len(posted) != 1 {
		t.Fatalf("%d messages in %s, want the one being written", len(posted), channel)
	}
	return posted[0].TS
}

// A slow replica (stalled, cut off from Redis) wakes up after its request
// was taken over and goes on as if nothing happened: it appends, then
// finishes. Its lease has ended and Redis says the request is another
// run's, so it writes nothing, and the answer of the replica that took it
// over stays the only one.
func TestSlowReplicaWritesNothingAfterTakeover(t *testing.T) {
	for _, mode := range []slackapi.StreamMode{slackapi.StreamNative, slackapi.StreamUpdate} {
		t.Run(string(mode), func(t *testing.T) {

			srv, emu, a, _, cfg := crashWithAnswerOnScreen(t, mode)

			b := startReplica(t, srv, emu, "b", cfg, mode, "B's answer")
			b.release()
			waitStarted(t, b)
			if err := waitFinished(t, b); err != nil {
				t.Fatalf("b's answer: %v", err)
			}
			before := len(emu.Calls(""))

			a.release()
			err := waitFinished(t, a)
			if failure.KindOf(err) != failure.HandedOver {
				t.Errorf("a's late Finish = %v, want it refused as handed over", err)
			}
			if calls := emu.Calls(""); len(calls) != before {
				for _, c := range calls[before:] {
					t.Logf("a called %s %v", c.Method, c.Params)
				}
				t.Errorf("a made %d calls to Slack after its request was taken over", len(calls)-before)
			}
			onlyAnswer(t, emu, "C1", "B's answer")
			waitQueueEmpty(t, srv)
		})
	}
}

// A deploy: SIGTERM reaches a replica with a request it can't finish
// within SHUTDOWN_GRACE. Another replica is alive, so the request is
// handed back at once (well before JOB_CLAIM_AFTER), its user is told
// nothing by the replica that stops, and the other answers it in the
// message the first one opened.
func TestStopHandsRequestsBackToTheOthers(t *testing.T) {
	srv, emu := redisAndSlack(t)
	// Far beyond the test's waits: only a hand-back can be this quick.
	cfg := sharedConfig(time.Minute)
	a := startReplica(t, srv, emu, "a", cfg, slackapi.StreamNative, "A's answer")
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	waitShown(t, emu, slackapi.StreamNative)
	b := startReplica(t, srv, emu, "b", cfg, slackapi.StreamNative, "B's answer")
	b.release()

	a.stop()
	if err := waitFinished(t, a); failure.KindOf(err) != failure.HandedOver {
		t.Errorf("a's run ended with %v, want it handed over without a notice", err)
	}
	waitStarted(t, b)
	if err := waitFinished(t, b); err != nil {
		t.Fatalf("b's answer: %v", err)
	}
	onlyAnswer(t, emu, "C1", "B's answer")
	waitQueueEmpty(t, srv)
}

// The last replica standing has no one to hand its requests to: their
// users are told to ask again, in the message each answer was in, and the
// requests are done with.
func TestLastReplicaTellsItsUsers(t *testing.T) {
	srv, emu := redisAndSlack(t)
	a := startReplica(t, srv, emu, "a", sharedConfig(time.Minute), slackapi.StreamNative, "A's answer")
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	waitShown(t, emu, slackapi.StreamNative)
	a.stop()
	if err := waitFinished(t, a); err != nil {
		t.Fatalf("the notice: %v", err)
	}
	onlyAnswer(t, emu, "C1", "notice: "+failure.ShuttingDown.String())
	if n := queueLen(t, srv); n != 0 {
		t.Errorf("%d requests left in the queue", n)
	}
}

// A request whose every run ends with its replica (a poison request) is
// run Tries times, then its user gets one notice, in place of what the
// runs showed, and the request is done with: never a loop.
func TestPoisonRequestGetsOneNoticeAfterItsTries(t *testing.T) {
	srv, emu := redisAndSlack(t)
	cfg := sharedConfig(time.Second)
	cfg.Tries = 2
	first := startReplica(t, srv, emu, "r0", cfg, slackapi.StreamUpdate, "never")
	submit(t, first, mention(emu, "C1"))
	replicas := []*testReplica{first}
	for i := range cfg.Tries {
		r := replicas[i]
		waitStarted(t, r)
		r.crash(t)
		replicas = append(replicas, startReplica(t, srv, emu, fmt.Sprintf("r%d", i+1), cfg, slackapi.StreamUpdate, "never"))
	}
	last := replicas[len(replicas)-1]
	if err := waitFinished(t, last); err != nil {
		t.Fatalf("the notice: %v", err)
	}
	select {
	case req := <-last.flows.started:
		t.Errorf("the request ran a third time: %+v", req)
	default:
	}
	onlyAnswer(t, emu, "C1", "notice: "+failure.TooManyTries.String())
	waitQueueEmpty(t, srv)
}

// Admission refuses what the live replicas can't take on (their workers
// and queues, counted in Redis), and when Redis is down a request runs in
// the replica that admitted it.
func TestSharedQueueBoundsAndFallsBack(t *testing.T) {
	srv, emu := redisAndSlack(t)
	cfg := sharedConfig(time.Minute)
	cfg.Workers, cfg.Queue = 1, 1
	a := startReplica(t, srv, emu, "a", cfg, slackapi.StreamOff, "A's answer")
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	submit(t, a, mention(emu, "C2")) // waits in Redis: a has no free worker
	var why handlers.Refusal
	if err := a.q.submit(context.Background(), mention(emu, "C3")); !errors.As(err, &why) || why.Reason != handlers.RefusedBusy {
		t.Errorf("a third request beyond one replica's worker and queue: %v, want it refused as busy", err)
	}
	if n := queueLen(t, srv); n != 2 {
		t.Errorf("the queue holds %d requests, want 2", n)
	}

	srv.Stop()
	if err := a.q.submit(context.Background(), mention(emu, "C4")); err != nil {
		t.Errorf("with Redis down, a request was refused instead of queued here: %v", err)
	}
	a.release()
	waitFinished(t, a)
	req := waitStarted(t, a) // the one queued here while Redis was down
	if req.Channel != "C4" {
		t.Errorf("ran %s, want C4's request from this replica's own queue", req.Channel)
	}
}

// threePartAnswer is an answer the thread takes in three messages (the
// most one answer fills by default): its Finish makes at least three
// calls to Slack.
func threePartAnswer() string {
	var paragraphs []string
	for _, part := range []string{"one", "two", "three"} {
		paragraphs = append(paragraphs, "Part "+part+": "+strings.Repeat("words of the answer ", 12000/25))
	}
	return strings.Join(paragraphs, "\n\n")
}

// A Finish longer than one lease (a slow Slack, an answer in several
// messages) goes on to its end while the heartbeats renew the request:
// the lease is followed, not read once as the Finish starts, and the
// request is acknowledged once the answer is whole.
func TestFinishOutlastsOneLeaseWhileRenewed(t *testing.T) {
	srv, emu := redisAndSlack(t)
	answer := threePartAnswer()
	parts := strings.Split(answer, "\n\n") // each fits one message, two do not
	if len(parts) != 3 {
		t.Fatalf("the answer is %d parts, want 3", len(parts))
	}
	a := startReplica(t, srv, emu, "a", sharedConfig(time.Second), slackapi.StreamNative, answer)
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	waitShown(t, emu, slackapi.StreamNative)

	// Each of the Finish's three calls or more takes half a lease.
	emu.SetLatency(a.q.lease() / 2)
	start := time.Now()
	a.release()
	if err := waitFinished(t, a); err != nil {
		t.Fatalf("the Finish: %v", err)
	}
	if took := time.Since(start); took <= a.q.lease() {
		t.Fatalf("the Finish took %v, within one lease (%v): this test shows nothing", took, a.q.lease())
	}
	posted := emu.Posted("C1")
	if len(posted) != len(parts) {
		t.Fatalf("%d messages in the thread, want the answer's %d parts", len(posted), len(parts))
	}
	for i, p := range posted {
		if p.Markdown() != parts[i] {
			t.Errorf("message %d shows %.40q…, want part %d, %.40q…", i, p.Markdown(), i, parts[i])
		}
	}
	waitQueueEmpty(t, srv)
}

// A replica whose renewals stop while its Finish is under way (it is cut
// off from Redis, or stalls) is cut at the end of its lease: its Finish
// reports the request handed over, the request is not acknowledged, and
// another replica takes it over and answers it.
func TestFinishCutWhenRenewalsStopIsNotAcknowledged(t *testing.T) {
	srv, emu := redisAndSlack(t)
	cfg := sharedConfig(time.Second)
	a := startReplica(t, srv, emu, "a", cfg, slackapi.StreamNative, "A's answer")
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	waitShown(t, emu, slackapi.StreamNative)

	// The Finish's first call gets no answer: only the end of a's lease
	// can end it. Then a's heartbeats stop.
	emu.Hang("chat.stopStream", 1)
	a.release()
	if _, err := emu.WaitCalls("chat.stopStream", 1, sharedWait); err != nil {
		t.Fatal(err)
	}
	a.crash(t)
	err := waitFinished(t, a)
	if failure.KindOf(err) != failure.HandedOver {
		t.Errorf("a's cut Finish = %v, want it handed over", err)
	}

	b := startReplica(t, srv, emu, "b", cfg, slackapi.StreamNative, "B's answer")
	b.release()
	waitStarted(t, b)
	if err := waitFinished(t, b); err != nil {
		t.Fatalf("b's answer: %v", err)
	}
	onlyAnswer(t, emu, "C1", "B's answer")
	waitQueueEmpty(t, srv)
}

// heldLease is the lease of the one request r holds.
func heldLease(t *testing.T, r *testReplica) *Lease {
	t.Helper()
	r.q.mu.Lock()
	defer r.q.mu.Unlock()
	if len(r.q.held) != 1 {
		t.Fatalf("%s holds %d requests, want 1", r.name, len(r.q.held))
	}
	for c := range r.q.held {
		return c
	}
	return nil
}

// A run that records what its reply shows and hears from Redis that the
// request is another run's lets it go there, as a renewal would: it
// writes nothing more, and its run ends handed over.
func TestRecordLetsGoOfARequestTakenOver(t *testing.T) {
	srv, emu := redisAndSlack(t)
	a := startReplica(t, srv, emu, "a", sharedConfig(time.Minute), slackapi.StreamOff, "A's answer")
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	c := heldLease(t, a)

	// Another replica's run takes the request, as after a takeover.
	ctx := context.Background()
	err := redistest.Client(t, srv.URL()).XClaim(ctx, &redis.XClaimArgs{
		Stream: "visionbot:" + streamKey, Group: workerGroup, Consumer: "b", Messages: []string{c.id},
	}).Err()
	if err != nil {
		t.Fatal(err)
	}
	c.Record(ctx, []byte(`{"channel":"C1","thread":"1.1","ts":"1.2"}`))
	if c.lost.Err() == nil {
		t.Fatal("the run still holds a request Redis gives to another")
	}
	if err := waitFinished(t, a); failure.KindOf(err) != failure.HandedOver {
		t.Errorf("a's run ended with %v, want it handed over", err)
	}
	if posted := emu.Posted("C1"); len(posted) != 0 {
		t.Errorf("a wrote %d messages for a request it let go", len(posted))
	}
}

// A request trimmed from the stream while a dead replica held it has
// nothing left to run: the replica that scans for it acknowledges it,
// once, instead of claiming it at every scan, and the live request
// beside it is still taken over and answered. (Redis 6.2's XAUTOCLAIM
// answers a nil without the id for such an entry: claimLua does not
// depend on how a version answers that.)
func TestTrimmedPendingRequestIsDropped(t *testing.T) {
	srv, emu := redisAndSlack(t)
	ctx := context.Background()
	raw := redistest.Client(t, srv.URL())
	stream := "visionbot:" + streamKey
	if err := raw.XGroupCreateMkStream(ctx, stream, workerGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, channel := range []string{"C1", "C2"} {
		payload, err := handlers.EncodeRequest(mention(emu, channel))
		if err != nil {
			t.Fatal(err)
		}
		id, err := raw.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: map[string]any{"req": payload}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// A replica that died holding both; then the first is trimmed.
	if err := raw.XReadGroup(ctx, &redis.XReadGroupArgs{Group: workerGroup, Consumer: "dead", Streams: []string{stream, ">"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := raw.XDel(ctx, stream, ids[0]).Err(); err != nil {
		t.Fatal(err)
	}

	b := startReplica(t, srv, emu, "b", sharedConfig(time.Second), slackapi.StreamOff, "B's answer")
	b.release()
	if got := waitStarted(t, b); got.Channel != "C2" {
		t.Fatalf("b ran %s's request, want C2's, the one still in the stream", got.Channel)
	}
	if err := waitFinished(t, b); err != nil {
		t.Fatalf("b's answer: %v", err)
	}
	onlyAnswer(t, emu, "C2", "B's answer")
	deadline := time.Now().Add(sharedWait)
	for {
		pending, err := raw.XPending(ctx, stream, workerGroup).Result()
		if err != nil {
			t.Fatal(err)
		}
		if pending.Count == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still pending, from %s to %s: the trimmed one was never dropped", pending.Count, pending.Lower, pending.Higher)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case req := <-b.flows.started:
		t.Errorf("b ran a second request: %+v", req)
	default:
	}
}

// scriptRuns counts how many times a replica runs one Lua script.
type scriptRuns struct {
	hash, src string
	n         atomic.Int64
}

func newScriptRuns(src string) *scriptRuns {
	return &scriptRuns{hash: redis.NewScript(src).Hash(), src: src}
}

func (s *scriptRuns) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *scriptRuns) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) > 1 && (args[1] == s.hash || args[1] == s.src) {
			s.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (s *scriptRuns) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// An answer that ends within the lease Redis confirmed makes no trip to
// Redis before its final writes: no other replica can take the request
// before that lease ends.
func TestFinishWithinAConfirmedLeaseAsksNoRenewal(t *testing.T) {
	srv, emu := redisAndSlack(t)
	renewals := newScriptRuns(renewLua)
	// The heartbeats renew every 20 s, long after this test.
	a := startReplica(t, srv, emu, "a", sharedConfig(time.Minute), slackapi.StreamNative, "A's answer", renewals)
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	waitShown(t, emu, slackapi.StreamNative)
	a.release()
	if err := waitFinished(t, a); err != nil {
		t.Fatalf("a's answer: %v", err)
	}
	onlyAnswer(t, emu, "C1", "A's answer")
	waitQueueEmpty(t, srv)
	if n := renewals.n.Load(); n != 0 {
		t.Errorf("%d renewals for an answer within its lease, want none", n)
	}
}

// Past the lease Redis confirmed (its lease was extended on trust while
// Redis did not answer), a final write asks Redis first, and finds there
// a request another replica took meanwhile.
func TestFencePastTheConfirmedLeaseAsksRedis(t *testing.T) {
	srv, emu := redisAndSlack(t)
	a := startReplica(t, srv, emu, "a", sharedConfig(time.Minute), slackapi.StreamOff, "A's answer")
	submit(t, a, mention(emu, "C1"))
	waitStarted(t, a)
	c := heldLease(t, a)
	// As if Redis stopped answering a for a while: its lease went on on
	// trust, past the one Redis last confirmed.
	c.mu.Lock()
	c.confirmed = time.Now()
	c.mu.Unlock()
	c.renewed(time.Now(), false)
	// Meanwhile another replica took the request.
	ctx := context.Background()
	err := redistest.Client(t, srv.URL()).XClaim(ctx, &redis.XClaimArgs{
		Stream: "visionbot:" + streamKey, Group: workerGroup, Consumer: "b", Messages: []string{c.id},
	}).Err()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.fence(ctx); failure.KindOf(err) != failure.HandedOver {
		t.Errorf("fence = %v, want the request handed over", err)
	}
}

// Redis's reply that the queue's group is not there, as go-redis gives it
// from a real redis-server, is told by its code: a wrapped one too, and
// never an error that only says the word.
func TestNoGroupIsToldByItsCode(t *testing.T) {
	srv := redistest.Start(t)
	raw := redistest.Client(t, srv.URL())
	ctx := context.Background()
	noGroup := raw.XReadGroup(ctx, &redis.XReadGroupArgs{Group: workerGroup, Consumer: "c", Streams: []string{"s", ">"}}).Err()
	if err := raw.XGroupCreateMkStream(ctx, "s", workerGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	busy := raw.XGroupCreateMkStream(ctx, "s", workerGroup, "0").Err()
	tests := []struct {
		name    string
		err     error
		noGroup bool
	}{
		{"XREADGROUP of a group that is not there", noGroup, true},
		{"the same, wrapped", fmt.Errorf("read the queue: %w", noGroup), true},
		{"XGROUP CREATE of a group that is there", busy, false},
		{"an error that only says the word", errors.New("NOGROUP"), false},
		{"no error", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isNoGroup(tt.err); got != tt.noGroup {
				t.Errorf("isNoGroup(%v) = %v, want %v", tt.err, got, tt.noGroup)
			}
		})
	}
}

// A replica whose queue's group is there already (another replica made
// it) starts without taking Redis for failed.
func TestSecondReplicaFindsTheGroupThere(t *testing.T) {
	srv, emu := redisAndSlack(t)
	startReplica(t, srv, emu, "a", sharedConfig(time.Minute), slackapi.StreamOff, "A's answer")
	b := startReplica(t, srv, emu, "b", sharedConfig(time.Minute), slackapi.StreamOff, "B's answer")
	if b.q.r.IsDown() {
		t.Error("b took the group a made for Redis failing")
	}
}

// The queue lost in Redis (its group destroyed, or a Redis restarted
// without persistence) is made again, empty, in a new epoch, by the
// replicas reading it or queueing into it, and a request admitted since
// is read and answered.
func TestLostQueueIsMadeAgain(t *testing.T) {
	tests := []struct {
		name string
		lose func(t *testing.T, srv *redistest.Server)
	}{
		{"group destroyed", func(t *testing.T, srv *redistest.Server) {
			if err := redistest.Client(t, srv.URL()).XGroupDestroy(context.Background(), "visionbot:"+streamKey, workerGroup).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"Redis restarted empty", func(t *testing.T, srv *redistest.Server) { srv.Restart() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, emu := redisAndSlack(t)
			a := startReplica(t, srv, emu, "a", sharedConfig(time.Second), slackapi.StreamOff, "A's answer")
			a.release()
			before := a.q.currentEpoch()
			tt.lose(t, srv)
			submit(t, a, mention(emu, "C1"))
			if got := waitStarted(t, a); got.Channel != "C1" {
				t.Fatalf("a ran %s's request, want C1's", got.Channel)
			}
			if err := waitFinished(t, a); err != nil {
				t.Fatalf("a's answer: %v", err)
			}
			onlyAnswer(t, emu, "C1", "A's answer")
			waitQueueEmpty(t, srv)
			if a.q.currentEpoch() == before {
				t.Errorf("the queue made again is still of epoch %s", before)
			}
		})
	}
}
