// Package bench is visionbot's load harness: it runs the real bot binary
// (real slack-go and genai clients) against the emulators with injected
// latencies, and measures what the bot itself adds on top of them.
package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Options configures a benchmark run.
type Options struct {
	Binary     string    // the visionbot binary to run
	Quick      bool      // fewer requests: a smoke run, not figures to publish
	ProfileDir string    // where to save CPU and allocation profiles under load ("" for none)
	Progress   io.Writer // one line per stage
	// Loads runs just these loads of the load stage ("realistic/32"); empty
	// runs them all.
	Loads []string
	// Only runs just the named stages (acks, load, memory, open) of our
	// mode, with no pass-through, or tokens (which measures both), or
	// replicas (three bot processes sharing Redis): for a quick look at
	// one figure while working on it. Empty runs everything.
	Only []string
}

// runs reports whether stage is part of this run.
func (o Options) runs(stage string) bool {
	return len(o.Only) == 0 || slices.Contains(o.Only, stage)
}

// Realistic latencies: a Slack round trip, a phone photo's thumbnail over
// a good link, Gemini Flash's first token and pace.
var realistic = Latency{SlackRTT: 60 * time.Millisecond, Bandwidth: 10 << 20, TTFT: 600 * time.Millisecond, TokensPerSec: 80}

// Results is everything a run measured, as written to JSON.
type Results struct {
	Machine     Machine         `json:"machine"`
	Realistic   Latency         `json:"realistic_latency"`
	Ours        Mode            `json:"ours"`
	PassThrough Mode            `json:"pass_through"`
	Tiers       map[string]Tier `json:"slack_tiers"`
	// Tokens is one analysis per use case, ours and pass-through, for
	// each model's accounting.
	Tokens []TokenRow `json:"tokens_per_analysis"`
	// Replicas are three bot processes sharing a redis-server; nil when
	// the stage did not run.
	Replicas *Replicas `json:"replicas,omitempty"`
}

// Machine is where the run happened.
type Machine struct {
	CPUs   int    `json:"cpus"`
	CPU    string `json:"cpu"`
	Go     string `json:"go"`
	OS     string `json:"os"`
	Date   string `json:"date"`
	Quick  bool   `json:"quick"`
	Binary string `json:"binary"`
	// IdleTimerLateMS is how late a 10 ms sleep wakes (p50, p99) on this
	// machine with nothing running: its noise floor.
	IdleTimerLateMS [2]float64 `json:"idle_timer_lateness_p50_p99_ms"`
}

// Mode is the figures of one way of running the bot.
type Mode struct {
	AckStalledMS   [2]float64 `json:"ack_p50_p99_ms_128_in_flight_gemini_stalled"`
	AckTimerLateMS [2]float64 `json:"ack_run_timer_lateness_p50_p99_ms"`
	// The same acks in two groups: the 128 whose jobs were starting, and
	// the 200 that came while those jobs waited on Gemini.
	AckStartingMS     [2]float64         `json:"ack_p50_p99_ms_first_128"`
	AckWhileStalledMS [2]float64         `json:"ack_p50_p99_ms_200_while_stalled"`
	FirstText         map[string]Figures `json:"first_text_by_load"`
	Throughput        float64            `json:"analyses_per_s_zero_latency"`
	MemPerRequest     int64              `json:"memory_per_in_flight_request_bytes"`
	PeakRSS           int64              `json:"peak_rss_bytes_128_in_flight"`
	GeminiBytes       int                `json:"bytes_to_gemini_per_photo"`
	CallsPerMinute    map[string]int     `json:"slack_calls_max_per_minute"`
	Goroutines        [2]int             `json:"goroutines_before_after"`
	OpenLoop          Figures            `json:"open_loop_20_per_s"`
}

// Figures is the wait for first visible text under one load, and the
// bot's overhead on it (the wait minus the injected latencies).
type Figures struct {
	Requests    int        `json:"requests"`
	FirstTextMS [2]float64 `json:"first_text_p50_p99_ms"`
	OverheadMS  [2]float64 `json:"overhead_p50_p99_ms"`
	// LiveOverheadMS is the overhead of the answers shown while they were
	// written; Held counts those the tier budget posted whole at the end,
	// whose first text came with the last word.
	LiveOverheadMS [2]float64 `json:"overhead_p50_p99_ms_answers_shown_while_written"`
	Held           int        `json:"answers_held_to_the_end"`
	// FirstSignMS is the wait from the event to the first sign of work
	// (the thread's loading status, or a reaction); Signs counts the
	// requests that showed one.
	FirstSignMS [2]float64 `json:"first_sign_of_work_p50_p99_ms"`
	Signs       int        `json:"requests_with_a_sign_of_work"`
	InjectedMS  float64    `json:"injected_ms"`
	PerSecond   float64    `json:"completed_per_s"`
	TimerLateMS [2]float64 `json:"timer_lateness_p50_p99_ms"` // the machine's, during the run
	Reconnects  int        `json:"reconnects"`
}

// Tier is Slack's documented rate for a method, per workspace and app.
type Tier struct {
	Name      string `json:"tier"`
	PerMinute int    `json:"per_minute"`
}

// slackTiers are the tiers of the methods the bot calls while answering
// (docs.slack.dev, "Rate limits"); chat.postMessage is "special": about
// one per second per channel, so its bound here is the channels' total.
func slackTiers() map[string]Tier {
	return map[string]Tier{
		"chat.startStream":      {"Tier 2", 20},
		"chat.stopStream":       {"Tier 2", 20},
		"chat.appendStream":     {"Tier 4", 100},
		"chat.update":           {"Tier 3", 50},
		"chat.postMessage":      {"special (1/s per channel)", 60 * channels},
		"reactions.add":         {"Tier 3", 50},
		"reactions.remove":      {"Tier 3", 50},
		"conversations.replies": {"Tier 3", 50},
		"files.info":            {"Tier 4", 100},
		// assistant.threads.setStatus has "special" limits with no number
		// published: the bot holds it to Tier 3, and so does this check.
		"assistant.threads.setStatus": {"special, held to Tier 3", 50},
		"agents.sessions.setStatus":   {"Tier 3", 50},
		// A cut code answer's files.
		"files.getUploadURLExternal":   {"Tier 4", 100},
		"files.completeUploadExternal": {"Tier 4", 100},
	}
}

// Run measures both modes and returns the results.
func Run(ctx context.Context, opt Options) (*Results, error) {
	say := func(format string, a ...any) {
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, format+"\n", a...)
		}
	}
	bin, err := filepath.Abs(opt.Binary) // the bot runs in another folder
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", opt.Binary, err)
	}
	opt.Binary = bin
	say("drawing a 12-megapixel photo and Slack's thumbnails…")
	photos, err := makePhotos()
	if err != nil {
		return nil, err
	}
	say("photo: original %s, thumb_1024 %s, thumb_720 %s", kb(len(photos.original)), kb(len(photos.thumb1024)), kb(len(photos.thumb720)))
	res := &Results{Machine: machine(opt), Realistic: realistic, Tiers: slackTiers()}
	say("measuring how late this machine wakes a sleeper, idle…")
	res.Machine.IdleTimerLateMS = measureLateness(5 * time.Second)
	say("idle timer lateness p50 / p99: %.2f / %.2f ms", res.Machine.IdleTimerLateMS[0], res.Machine.IdleTimerLateMS[1])
	for _, pass := range []bool{false, true} {
		if pass && len(opt.Only) > 0 {
			break
		}
		name := "ours"
		if pass {
			name = "pass-through"
		}
		m, err := runMode(ctx, opt, photos, pass, func(format string, a ...any) { say(name+": "+format, a...) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if pass {
			res.PassThrough = m
		} else {
			res.Ours = m
		}
	}
	if opt.runs("tokens") {
		rows, err := tokenStage(ctx, opt, photos, func(format string, a ...any) { say("tokens: "+format, a...) })
		if err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		res.Tokens = rows
	}
	if opt.runs("replicas") {
		r, err := replicaStage(ctx, opt, photos, func(format string, a ...any) { say(format, a...) })
		if err != nil {
			return nil, fmt.Errorf("replicas: %w", err)
		}
		res.Replicas = &r
	}
	return res, nil
}

func runMode(ctx context.Context, opt Options, photos photoSet, pass bool, say func(string, ...any)) (Mode, error) {
	m := Mode{FirstText: map[string]Figures{}, CallsPerMinute: map[string]int{}}
	if !pass && opt.runs("acks") {
		say("acks with 128 in flight and Gemini stalled")
		if err := ackStage(ctx, opt, photos, &m); err != nil {
			return m, err
		}
	}
	if opt.runs("load") {
		if err := loadStage(ctx, opt, photos, pass, say, &m); err != nil {
			return m, err
		}
	}
	if opt.runs("memory") {
		if err := memoryStage(ctx, opt, photos, pass, &m); err != nil {
			return m, err
		}
	}
	if !pass && opt.runs("open") {
		say("open loop, 20 requests per second, realistic latency")
		if err := openStage(ctx, opt, photos, &m); err != nil {
			return m, err
		}
	}
	return m, nil
}

// profileDuringLoad takes a CPU profile while the load runs, then the
// allocations, from the bot's /debug/pprof.
func (e *env) profileDuringLoad(ctx context.Context, dir string, say func(string, ...any)) func() {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		say("profile: %v", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.profile(ctx, "/debug/pprof/profile?seconds=8", filepath.Join(dir, "cpu.pprof")); err != nil {
			say("cpu profile: %v", err)
		}
	}()
	return func() {
		<-done
		if err := e.profile(ctx, "/debug/pprof/allocs", filepath.Join(dir, "allocs.pprof")); err != nil {
			say("allocs profile: %v", err)
		}
	}
}

// injected is the part of a first text's wait the emulators add: the
// download's round trip and transfer, Gemini's first token, and the round
// trip of the Slack call that shows it.
func injected(lat Latency, imageBytes int) time.Duration {
	d := 2*lat.SlackRTT + lat.TTFT
	if lat.Bandwidth > 0 {
		d += time.Duration(float64(imageBytes) / float64(lat.Bandwidth) * float64(time.Second))
	}
	return d
}

func figures(r loadResult) Figures {
	o, live := overheads(r.FirstText, r.Injected), overheads(r.Live, r.Injected)
	return Figures{
		Requests:       r.Completed,
		FirstTextMS:    [2]float64{ms(percentile(r.FirstText, 50)), ms(percentile(r.FirstText, 99))},
		OverheadMS:     [2]float64{ms(percentile(o, 50)), ms(percentile(o, 99))},
		LiveOverheadMS: [2]float64{ms(percentile(live, 50)), ms(percentile(live, 99))},
		Held:           r.Held,
		FirstSignMS:    [2]float64{ms(percentile(r.Sign, 50)), ms(percentile(r.Sign, 99))},
		Signs:          len(r.Sign),
		InjectedMS:     ms(r.Injected),
		PerSecond:      float64(r.Completed) / r.Elapsed.Seconds(),
		TimerLateMS:    r.Late,
		Reconnects:     r.Reconnects,
	}
}

// streams counts the answers Gemini was asked for, leaving out the start's
// check of the model and its settings.
func (e *env) streams() int {
	n := 0
	for _, r := range e.gemini.Requests() {
		if r.Method == "streamGenerateContent" {
			n++
		}
	}
	return n
}

func requestSizes(e *env) []int {
	var out []int
	for _, r := range e.gemini.Requests() {
		if r.Method == "streamGenerateContent" {
			out = append(out, r.Size)
		}
	}
	return out
}

func waitUntil(ctx context.Context, cond func() bool, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func machine(opt Options) Machine {
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return Machine{
		CPUs: runtime.NumCPU(), CPU: cpu, Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Date: time.Now().UTC().Format("2006-01-02"), Quick: opt.Quick, Binary: opt.Binary,
	}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func kb(n int) string { return fmt.Sprintf("%.0f KB", float64(n)/1024) }

// loadStage measures the time to first visible text under closed loops of
// 1 to 128 requests in flight, with no latency and with realistic latency.
func loadStage(ctx context.Context, opt Options, photos photoSet, pass bool, say func(string, ...any), m *Mode) error {
	scale := func(n int) int {
		if opt.Quick {
			return max(n/4, 4)
		}
		return n
	}
	loads := []int{1, 8, 32, 128}
	if pass {
		loads = []int{32}
	}
	for _, lat := range []struct {
		name string
		lat  Latency
	}{{"zero", Latency{}}, {"realistic", realistic}} {
		for _, conc := range loads {
			if len(opt.Loads) > 0 && !slices.Contains(opt.Loads, fmt.Sprintf("%s/%d", lat.name, conc)) {
				continue
			}
			total := scale(max(2*conc, 24))
			say("%d in flight, %s latency, %d requests", conc, lat.name, total)
			e, err := startEnv(opt.Binary, lat.lat, photos, pass, nil)
			if err != nil {
				return err
			}
			before := e.goroutines(ctx)
			r, err := e.closedLoop(ctx, conc, total)
			if err != nil {
				e.close()
				return fmt.Errorf("%d in flight, %s latency: %w\nthe bot's last log lines:\n%s", conc, lat.name, err, e.stderr)
			}
			r.Injected = injected(lat.lat, len(photos.thumb720))
			m.FirstText[fmt.Sprintf("%s/%d", lat.name, conc)] = figures(r)
			for method, n := range e.track.perMinute() {
				m.CallsPerMinute[method] = max(m.CallsPerMinute[method], n)
			}
			if lat.name == "zero" && conc == max(loads[len(loads)-1], 32) {
				m.Throughput = float64(r.Completed) / r.Elapsed.Seconds()
			}
			if sizes := requestSizes(e); len(sizes) > 0 {
				m.GeminiBytes = slices.Max(sizes)
			}
			if conc == loads[len(loads)-1] && lat.name == "realistic" {
				// The bot closes idle HTTP connections after 30 s: until
				// then each holds two goroutines, which are no leak.
				waitUntil(ctx, func() bool { return e.goroutines(ctx) <= before }, 45*time.Second)
				m.Goroutines = [2]int{before, e.goroutines(ctx)}
			}
			e.close()
		}
	}

	if opt.ProfileDir != "" && !pass && (len(opt.Loads) == 0 || slices.Contains(opt.Loads, "zero/128")) {
		return profileStage(ctx, opt, photos, say)
	}
	return nil
}

// profileStage takes the CPU and allocation profiles in a run of its own:
// 2048 requests at 128 in flight with no latency keep the bot busy for
// most of the profile's 8 s, so that it shows the work, not the wait. Its
// figures are not reported: posting 800 answers a second is far beyond
// what Slack lets a workspace post (about one message a second per
// channel), so the run is a measure of CPU only.
func profileStage(ctx context.Context, opt Options, photos photoSet, say func(string, ...any)) error {
	total := 2048
	if opt.Quick {
		total = 256
	}
	say("profile: 128 in flight, zero latency, %d requests", total)
	e, err := startEnv(opt.Binary, Latency{}, photos, false, nil)
	if err != nil {
		return err
	}
	defer e.close()
	stopProfile := e.profileDuringLoad(ctx, opt.ProfileDir, say)
	_, err = e.closedLoop(ctx, 128, total)
	stopProfile()
	if err != nil {
		return fmt.Errorf("profile run: %w\nthe bot's last log lines:\n%s", err, e.stderr)
	}
	return nil
}

// memoryStage measures the bot's memory with 128 requests holding their
// image while Gemini waits.
func memoryStage(ctx context.Context, opt Options, photos photoSet, pass bool, m *Mode) error {
	slow := realistic
	slow.TTFT = 8 * time.Second
	e, err := startEnv(opt.Binary, slow, photos, pass, nil)
	if err != nil {
		return err
	}
	idle, _ := e.rss()
	base := time.Now().Unix() - 14400
	for i := range 128 {
		if _, _, err := e.request(i, base); err != nil {
			e.close()
			return err
		}
	}
	waitUntil(ctx, func() bool { return e.streams() >= 128 }, time.Minute)
	held, _ := e.rss()
	m.MemPerRequest = (held - idle) / 128
	waitUntil(ctx, func() bool { return e.track.pending() == 0 }, 2*time.Minute)
	_, m.PeakRSS = e.rss()
	e.close()

	return nil
}

// openStage sends 20 requests per second whatever the answers do.
func openStage(ctx context.Context, opt Options, photos photoSet, m *Mode) error {
	e, err := startEnv(opt.Binary, realistic, photos, false, nil)
	if err != nil {
		return err
	}
	d := 10 * time.Second
	if opt.Quick {
		d = 3 * time.Second
	}
	r, err := e.openLoop(ctx, 20, d)
	e.close()
	if err != nil {
		return fmt.Errorf("open loop: %w", err)
	}
	r.Injected = injected(realistic, len(photos.thumb720))
	m.OpenLoop = figures(r)
	return nil
}

// ackStage times the acks of 128 requests whose jobs then wait on a
// stalled Gemini, and of 200 more events that arrive meanwhile.
func ackStage(ctx context.Context, opt Options, photos photoSet, m *Mode) error {
	e, err := startEnv(opt.Binary, Latency{}, photos, false, nil)
	if err != nil {
		return err
	}
	e.gemini.SetDefault(hangReply())
	probe := startLatenessProbe()
	defer probe.finish() // on the error paths; finish is idempotent
	base := time.Now().Unix() - 10800
	for i := range 128 {
		if _, _, err := e.request(i, base); err != nil {
			e.close()
			return err
		}
	}
	waitUntil(ctx, func() bool { return e.streams() >= 128 }, time.Minute)
	// Slack delivers at most 30 000 events an hour to a workspace's app
	// (about 8 a second); these come at 200 a second, 25 times that. Sent
	// back to back instead, they would time how fast slack-go parses a
	// queue of envelopes (about 0.1 ms each), not how long one waits.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := 128; i < 328; i++ {
		<-tick.C
		if _, _, err := e.request(i, base); err != nil {
			e.close()
			return err
		}
	}
	waitUntil(ctx, func() bool { return len(e.slack.Acks()) >= 328 }, time.Minute)
	var acks []time.Duration
	for _, a := range e.slack.Acks() {
		acks = append(acks, a.Latency())
	}
	m.AckStalledMS = [2]float64{ms(percentile(acks, 50)), ms(percentile(acks, 99))}
	// The first 128 come back to back and race the start of their own jobs
	// (downloads, encoding); the 200 later ones arrive while those jobs
	// wait: the case the target names.
	if len(acks) >= 328 {
		m.AckStartingMS = [2]float64{ms(percentile(acks[:128], 50)), ms(percentile(acks[:128], 99))}
		m.AckWhileStalledMS = [2]float64{ms(percentile(acks[128:], 50)), ms(percentile(acks[128:], 99))}
	}
	m.AckTimerLateMS = probe.finish()
	e.close()
	return nil
}
