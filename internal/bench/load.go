package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/visionbot/visionbot/internal/slackemu"
)

// channels spreads requests like a workspace does: Slack limits posting
// per channel as well as per workspace.
const channels = 16

// loadResult is what one load run measured.
type loadResult struct {
	Requests  int             `json:"requests"`
	Completed int             `json:"completed"`
	Elapsed   time.Duration   `json:"elapsed_ns"`
	FirstText []time.Duration `json:"-"`
	// Sign are the waits for the first sign of work: a status or a
	// reaction.
	Sign []time.Duration `json:"-"`
	// Live are the waits of the answers shown while they were written;
	// Held counts those posted whole at the end.
	Live []time.Duration `json:"-"`
	Held int             `json:"held"`
	// Threads are the requests' threads, in the order sent.
	Threads    []string      `json:"-"`
	Injected   time.Duration `json:"injected_ns"`               // the part of the first text's wait the emulators add
	Late       [2]float64    `json:"timer_lateness_p50_p99_ms"` // the machine's, during the run
	Reconnects int           `json:"reconnects"`
}

// request sends request i as a mention with the photo, and returns the
// thread where its answer goes.
func (e *env) request(i int, base int64) (thread string, done <-chan struct{}, err error) {
	// The question names the request, so that the replica stage knows
	// from a Gemini request which replica asked about which request.
	return e.requestAs(i, base, fmt.Sprintf("recipe (request %d)", i))
}

// requestAs is request with the words after the mention, such as a use
// case's name.
func (e *env) requestAs(i int, base int64, words string) (thread string, done <-chan struct{}, err error) {
	thread = fmt.Sprintf("%d.%06d", base+int64(i/1_000_000), i%1_000_000)
	channel, user, text := fmt.Sprintf("CBENCH%02d", i%channels), fmt.Sprintf("U%03d", i%200), "<@"+slackemu.BotUserID+"> "+words
	inner, _ := json.Marshal(map[string]any{
		"type": "app_mention", "user": user, "text": text,
		"ts": thread, "event_ts": thread, "channel": channel, "files": []any{e.file},
	})
	// The message is in the channel before Slack tells the bot, as in
	// Slack: the thread's status needs it.
	e.slack.AddMessage(channel, map[string]any{"user": user, "text": text, "ts": thread, "files": []any{e.file}})
	done = e.track.expect(thread, time.Now())
	_, err = e.slack.SendEvent(inner, "")
	if errors.Is(err, slackemu.ErrNotConnected) {
		// The bot is reconnecting (slack-go does when pings come late on a
		// starved machine): Slack would hold the event for the new
		// connection, so the bench does too. The table reports reconnects.
		if err = e.slack.WaitConnected(30 * time.Second); err == nil {
			done = e.track.expect(thread, time.Now())
			_, err = e.slack.SendEvent(inner, "")
		}
	}
	return thread, done, err
}

// closedLoop keeps conc requests in flight until total have been answered.
func (e *env) closedLoop(ctx context.Context, conc, total int) (loadResult, error) {
	base := time.Now().Unix() - 3600
	var next atomic.Int64
	var mu sync.Mutex
	res := loadResult{Requests: total}
	var firstErr error
	probe, connects := startLatenessProbe(), e.slack.Connects()
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total || ctx.Err() != nil {
					return
				}
				thread, done, err := e.request(i, base)
				if err == nil {
					select {
					case <-done:
					case <-time.After(2 * time.Minute):
						err = fmt.Errorf("request %d got no final answer", i)
					case <-ctx.Done():
						err = ctx.Err()
					}
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					res.Completed++
					if d, held, ok := e.track.firstText(thread); ok {
						res.add(d, held)
					}
					if d, ok := e.track.firstSign(thread); ok {
						res.Sign = append(res.Sign, d)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Late, res.Reconnects = probe.finish(), e.slack.Connects()-connects
	return res, firstErr
}

// openLoop sends requests at rate per second for d, whatever the answers
// do, and waits for them all.
func (e *env) openLoop(ctx context.Context, rate float64, d time.Duration) (res loadResult, err error) {
	base := time.Now().Unix() - 7200
	total := int(rate * d.Seconds())
	res = loadResult{Requests: total}
	probe, connects := startLatenessProbe(), e.slack.Connects()
	defer func() { res.Late, res.Reconnects = probe.finish(), e.slack.Connects()-connects }()
	threads := make([]string, 0, total)
	dones := make([]<-chan struct{}, 0, total)
	start := time.Now()
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		thread, done, err := e.request(i, base)
		if err != nil {
			return res, err
		}
		threads, dones = append(threads, thread), append(dones, done)
	}
	res.Threads = threads
	for i, done := range dones {
		select {
		case <-done:
			res.Completed++
			if d, held, ok := e.track.firstText(threads[i]); ok {
				res.add(d, held)
			}
			if d, ok := e.track.firstSign(threads[i]); ok {
				res.Sign = append(res.Sign, d)
			}
		case <-time.After(2 * time.Minute):
			return res, fmt.Errorf("request %d got no final answer", i)
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// percentile is the p-th percentile (0..100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// overheads subtracts the injected latency from each first-text wait.
func overheads(waits []time.Duration, injected time.Duration) []time.Duration {
	out := make([]time.Duration, 0, len(waits))
	for _, d := range waits {
		out = append(out, d-injected)
	}
	return out
}

// add records one request's wait for its first visible text.
func (r *loadResult) add(wait time.Duration, held bool) {
	r.FirstText = append(r.FirstText, wait)
	if held {
		r.Held++
	} else {
		r.Live = append(r.Live, wait)
	}
}
