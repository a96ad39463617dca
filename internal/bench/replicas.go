package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/redistest"
)

// Replicas is what the replica stage measured: three bot processes on one
// Slack, sharing a real redis-server the bench starts.
type Replicas struct {
	Replicas     int     `json:"replicas"`
	ClaimAfterMS float64 `json:"job_claim_after_ms"`
	// CallsPerMinute is, for each method, the most calls the replicas made
	// together in any 60 seconds of the stage: the workspace's figure,
	// which Slack's tiers bound.
	CallsPerMinute map[string]int `json:"slack_calls_max_per_minute_workspace"`
	OpenLoop       Figures        `json:"open_loop_20_per_s"`
	OpenOutcome    Outcome        `json:"open_loop_outcome"`
	Kill           Outcome        `json:"kill_9_one_replica_holding_requests"`
	Rolling        Outcome        `json:"rolling_restart_under_load"`
}

// Outcome is how the requests of one run ended, read from the threads.
type Outcome struct {
	Requests int `json:"requests"`
	// Once are the threads that end with exactly one message of the bot,
	// its final answer.
	Once     int `json:"answered_exactly_once"`
	Lost     int `json:"lost"`    // no final answer
	Doubled  int `json:"doubled"` // more than one message of the bot
	AskAgain int `json:"told_to_ask_again"`
	// OpenStreams are streams the bot left open in the run's channels.
	OpenStreams int `json:"streams_left_open"`
	// TakenOver counts the requests a replica took over from another (a
	// dead one, or one that handed them back at its stop), from the logs.
	TakenOver int `json:"taken_over"`
	// TakenOverWaitMS is, for the requests the killed replica held, the
	// wait from the event to the final answer (p50, p99).
	TakenOverWaitMS [2]float64 `json:"taken_over_wait_p50_p99_ms,omitempty"`
	Held            int        `json:"held_by_the_killed_replica,omitempty"`
}

// claimAfter is JOB_CLAIM_AFTER in the replica stage: short, so that the
// stage is quick; a takeover waits at least this long.
const claimAfter = 5 * time.Second

// cluster is the replicas: the emulators of env (its own bot unused), a
// redis-server, and the bot processes, each with a Gemini emulator of its
// own, so that the bench knows which replica asked about which request.
type cluster struct {
	*env
	binary string
	lat    Latency
	redis  *redistest.Server
	dir    string
	bots   []*replica
}

// replica is one bot process.
type replica struct {
	cmd    *exec.Cmd
	gemini *geminiemu.Server
	logs   *logCounter
	exited chan struct{}
}

// tookOver is what a replica logs when it takes over a request another
// replica held (bot/sharedqueue.go).
const tookOver = "took over a request another replica stopped answering"

// logCounter keeps a bot's last log lines, and counts those that say a
// replica took over a request.
type logCounter struct {
	tailBuffer
	mu    sync.Mutex
	count map[string]int
}

func (l *logCounter) Write(p []byte) (int, error) {
	l.mu.Lock()
	for _, s := range []string{tookOver, "connected to Slack"} {
		l.count[s] += bytes.Count(p, []byte(s))
	}
	l.mu.Unlock()
	return l.tailBuffer.Write(p)
}

func (l *logCounter) seen(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count[s]
}

func startCluster(binary string, lat Latency, photos photoSet, n int) (*cluster, error) {
	dir, err := os.MkdirTemp("", "visionbench-redis-")
	if err != nil {
		return nil, err
	}
	c := &cluster{env: newEnv(lat, photos, false), binary: binary, lat: lat, dir: dir}
	if c.redis, err = redistest.Launch(dir); err != nil {
		c.close()
		return nil, err
	}
	for range n {
		if _, err := c.addReplica(); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// addReplica starts one more bot process and waits for its Socket Mode
// connection: Slack sends new events to the newest.
func (c *cluster) addReplica() (*replica, error) {
	g := newGemini(c.lat)
	vars := botVars(c.slack, g)
	vars["REDIS_URL"] = c.redis.URL()
	vars["JOB_CLAIM_AFTER"] = claimAfter.String()
	vars["LOG_LEVEL"] = "info"
	r := &replica{gemini: g, logs: &logCounter{count: map[string]int{}}, exited: make(chan struct{})}
	cmd, err := startBot(c.binary, vars, r.logs)
	if err != nil {
		g.Close()
		return nil, err
	}
	r.cmd = cmd
	go func() { _ = cmd.Wait(); close(r.exited) }()
	c.bots = append(c.bots, r)
	if !waitUntil(context.Background(), func() bool { return r.logs.seen("connected to Slack") > 0 }, 30*time.Second) {
		return nil, fmt.Errorf("a replica did not connect:\n%s", r.logs.String())
	}
	return r, nil
}

// stop ends a replica with SIGTERM, as a rolling restart does.
func (r *replica) stop() {
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// kill ends a replica with SIGKILL: no shutdown path at all.
func (r *replica) kill() {
	_ = r.cmd.Process.Kill()
	<-r.exited
}

func (c *cluster) close() {
	for _, r := range c.bots {
		r.stop()
		r.gemini.Close()
	}
	c.env.close()
	if c.redis != nil {
		c.redis.Stop()
	}
	_ = os.RemoveAll(c.dir)
}

// takenOver is how many requests the replicas say they took over.
func (c *cluster) takenOver() int {
	n := 0
	for _, r := range c.bots {
		n += r.logs.seen(tookOver)
	}
	return n
}

// asked is how many questions the replicas' Gemini emulators got.
func (c *cluster) asked() int {
	n := 0
	for _, r := range c.bots {
		n += len(requestSizes(&env{gemini: r.gemini}))
	}
	return n
}

// replicaStage runs three replicas: an open loop, for the workspace's
// Slack calls per minute; a kill -9 of a replica holding requests; a
// rolling restart under load.
func replicaStage(ctx context.Context, opt Options, photos photoSet, say func(string, ...any)) (Replicas, error) {
	res := Replicas{Replicas: 3, ClaimAfterMS: ms(claimAfter)}
	c, err := startCluster(opt.Binary, realistic, photos, res.Replicas)
	if err != nil {
		return res, err
	}
	defer c.close()
	scale := func(n int) int {
		if opt.Quick {
			return max(n/4, 4)
		}
		return n
	}

	say("3 replicas: open loop, 20 requests per second, realistic latency")
	d := 10 * time.Second
	if opt.Quick {
		d = 3 * time.Second
	}
	before := c.takenOver()
	r, err := c.openLoop(ctx, 20, d)
	if err != nil {
		return res, fmt.Errorf("open loop: %w\n%s", err, c.tails())
	}
	r.Injected = injected(realistic, len(photos.thumb720))
	res.OpenLoop = figures(r)
	res.OpenOutcome = c.outcome(r.Threads)
	res.OpenOutcome.TakenOver = c.takenOver() - before

	say("3 replicas: kill -9 of the one holding most requests")
	if res.Kill, err = c.killOne(ctx, scale(30)); err != nil {
		return res, fmt.Errorf("kill: %w\n%s", err, c.tails())
	}

	say("3 replicas: rolling restart under load")
	if res.Rolling, err = c.rollingRestart(ctx, scale(120)); err != nil {
		return res, fmt.Errorf("rolling restart: %w\n%s", err, c.tails())
	}
	res.CallsPerMinute = c.track.perMinute()
	return res, nil
}

// threadsOf are the threads of n requests sent from base (env.request's
// numbering).
func threadsOf(base int64, n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("%d.%06d", base+int64(i/1_000_000), i%1_000_000)
	}
	return out
}

// sendAll sends n requests from base at once and returns their threads.
func (c *cluster) sendAll(n int, base int64) ([]string, error) {
	threads := make([]string, n)
	for i := range n {
		thread, _, err := c.request(i, base)
		if err != nil {
			return nil, err
		}
		threads[i] = thread
	}
	return threads, nil
}

// waitFinal waits until every thread has its final answer.
func (c *cluster) waitFinal(ctx context.Context, threads []string) error {
	if !waitUntil(ctx, func() bool { return c.track.pending() == 0 }, 2*time.Minute) {
		return fmt.Errorf("%d of %d requests got no final answer", c.track.pending(), len(threads))
	}
	return nil
}

// killOne sends n requests, waits until the replicas are asking Gemini
// about all of them, and kills the replica that holds most with SIGKILL;
// the others must take its requests over and answer each once.
func (c *cluster) killOne(ctx context.Context, n int) (Outcome, error) {
	for _, r := range c.bots {
		r.gemini.DropBodies(false)
	}
	asked, before := c.asked(), c.takenOver()
	base := time.Now().Unix() - 30000
	threads, err := c.sendAll(n, base)
	if err != nil {
		return Outcome{}, err
	}
	if !waitUntil(ctx, func() bool { return c.asked() >= asked+n }, time.Minute) {
		return Outcome{}, fmt.Errorf("the replicas asked Gemini %d questions of %d", c.asked()-asked, n)
	}
	var victim *replica
	most := -1
	for _, r := range c.bots {
		select {
		case <-r.exited:
			continue
		default:
		}
		if k := len(r.gemini.Requests()); k > most {
			victim, most = r, k
		}
	}
	held := map[string]bool{}
	requestNumber := regexp.MustCompile(`request (\d+)\)`)
	for _, req := range victim.gemini.Requests() {
		if m := requestNumber.FindSubmatch(req.Body); m != nil {
			i, _ := strconv.Atoi(string(m[1]))
			if i < n {
				held[threads[i]] = true
			}
		}
	}
	victim.kill()
	for t := range held {
		if _, final := c.track.finalAt(t); final {
			delete(held, t) // answered before the kill
		}
	}
	if err := c.waitFinal(ctx, threads); err != nil {
		return Outcome{}, err
	}
	out := c.outcome(threads)
	out.TakenOver, out.Held = c.takenOver()-before, len(held)
	var waits []time.Duration
	for t := range held {
		if at, ok := c.track.finalAt(t); ok {
			waits = append(waits, at.Sub(c.track.sentAt(t)))
		}
	}
	out.TakenOverWaitMS = [2]float64{ms(percentile(waits, 50)), ms(percentile(waits, 99))}
	for _, r := range c.bots {
		r.gemini.DropBodies(true)
	}
	// Back to three, for the rolling restart.
	if _, err := c.addReplica(); err != nil {
		return out, err
	}
	return out, nil
}

// rollingRestart sends n requests at 5 a second and meanwhile restarts the
// live replicas one by one, as a Deployment with maxSurge 1 and
// maxUnavailable 0 does: a new one first, then SIGTERM to an old one,
// whose SHUTDOWN_GRACE (2 s) is shorter than an answer, so that it must
// hand requests back.
func (c *cluster) rollingRestart(ctx context.Context, n int) (Outcome, error) {
	var live []*replica
	for _, r := range c.bots {
		select {
		case <-r.exited:
		default:
			live = append(live, r)
		}
	}
	before := c.takenOver()
	base := time.Now().Unix() - 40000
	const rate = 5
	sent := make(chan error, 1)
	threads := threadsOf(base, n)
	go func() {
		start := time.Now()
		for i := range n {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
			if _, _, err := c.request(i, base); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	every := time.Duration(n/rate) * time.Second / time.Duration(len(live)+1)
	for _, old := range live {
		time.Sleep(every)
		if _, err := c.addReplica(); err != nil {
			return Outcome{}, err
		}
		old.stop()
	}
	if err := <-sent; err != nil {
		return Outcome{}, err
	}
	if err := c.waitFinal(ctx, threads); err != nil {
		return Outcome{}, err
	}
	out := c.outcome(threads)
	out.TakenOver = c.takenOver() - before
	return out, nil
}

// outcome reads how each thread ended: the bot's messages in it, whether
// one is a final answer (its footer), whether one tells the user to ask
// again; and the streams left open in the channels.
func (c *cluster) outcome(threads []string) Outcome {
	want := map[string]bool{}
	for _, t := range threads {
		want[t] = true
	}
	perThread := map[string][]string{} // thread → the texts of the bot's messages
	finals := map[string]int{}
	out := Outcome{Requests: len(threads)}
	for i := range channels {
		channel := fmt.Sprintf("CBENCH%02d", i)
		for _, p := range c.slack.Posted(channel) {
			if !want[p.ThreadTS] {
				continue
			}
			text := p.Text + string(p.Blocks)
			perThread[p.ThreadTS] = append(perThread[p.ThreadTS], text)
			if isFinal(string(p.Blocks)) {
				finals[p.ThreadTS]++
			}
			if strings.Contains(text, "restarting") {
				out.AskAgain++
			}
		}
		out.OpenStreams += len(c.slack.OpenStreams(channel))
	}
	for _, t := range threads {
		msgs := perThread[t]
		switch {
		case finals[t] == 0:
			out.Lost++
		case len(msgs) > 1:
			out.Doubled++
		default:
			out.Once++
		}
	}
	return out
}

// tails are the replicas' last log lines, for an error.
func (c *cluster) tails() string {
	var b strings.Builder
	for i, r := range c.bots {
		fmt.Fprintf(&b, "replica %d:\n%s\n", i, r.logs.String())
	}
	return b.String()
}
