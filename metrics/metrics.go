// Package metrics turns what the flows and the Slack side report into
// Prometheus metrics, and serves them with the health checks and pprof on
// a private HTTP handler. It implements handlers.Observer and bot.Observer;
// neither of those packages imports Prometheus.
package metrics

import (
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/visionbot/visionbot/handlers"
)

// Metrics records what visionbot does. Its methods are safe for concurrent
// use.
type Metrics struct {
	reg prometheus.Registerer

	requests     *prometheus.CounterVec
	ack          prometheus.Histogram
	download     prometheus.Histogram
	firstToken   prometheus.Histogram
	total        prometheus.Histogram
	tokens       *prometheus.CounterVec
	slackErrors  *prometheus.CounterVec
	geminiErrors *prometheus.CounterVec
	allowances   *prometheus.CounterVec
}

// New registers visionbot's metrics, and the Go runtime's and the
// process's, on reg: a registry of the caller's, never the global default,
// so that nothing else in the process adds to what is served.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "visionbot_requests_total",
			Help: "Requests that ended, by what started them, use case and outcome (ok, help, or the kind of failure).",
		}, []string{"trigger", "use_case", "outcome"}),
		ack: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "visionbot_ack_duration_seconds",
			Help:    "Time from a Socket Mode envelope reaching the bot to its ack.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5},
		}),
		download: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "visionbot_download_duration_seconds",
			Help:    "Time to download a request's images from Slack, all at once.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		firstToken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "visionbot_first_token_seconds",
			Help:    "Time from a request's start to Gemini's first text (download plus Gemini's time to first token).",
			Buckets: []float64{.1, .25, .5, 1, 2, 3, 5, 8, 13, 20, 30, 60},
		}),
		total: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "visionbot_request_duration_seconds",
			Help:    "Time from a request's start to its end, for requests that asked Gemini.",
			Buckets: []float64{.25, .5, 1, 2, 5, 10, 20, 30, 60, 120, 180},
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "visionbot_gemini_tokens_total",
			Help: "Tokens Gemini reported, by use case, kind (input: prompt and images; output: the answer's text; thinking: billed as output) and count (reported: Gemini's; estimated: from the text of an answer cut before Gemini counted it).",
		}, []string{"use_case", "kind", "count"}),
		slackErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "visionbot_slack_errors_total",
			Help: "Slack Web API calls that failed, by method and Slack's error code (http_NNN for another status, transport when no answer came).",
		}, []string{"method", "code"}),
		allowances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "visionbot_budget_refusals_total",
			Help: "Requests refused because a daily token allowance was spent, by budget (user, channel, workspace).",
		}, []string{"budget"}),
		geminiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "visionbot_gemini_errors_total",
			Help: "Gemini calls that failed, by kind (quota, unavailable, timeout, blocked, model_auth, …).",
		}, []string{"code"}),
	}
	for _, c := range []prometheus.Collector{
		m.requests, m.ack, m.download, m.firstToken, m.total, m.tokens, m.slackErrors, m.geminiErrors, m.allowances,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// RequestDone implements handlers.Observer.
func (m *Metrics) RequestDone(f handlers.Figures) {
	m.requests.WithLabelValues(string(f.Trigger), f.UseCase, f.Outcome).Inc()
	if f.Download > 0 {
		m.download.Observe(f.Download.Seconds())
	}
	if f.FirstToken > 0 {
		m.firstToken.Observe(f.FirstToken.Seconds())
	}
	// Help texts and refusals before the model would drown the latency of
	// answers in replies that take milliseconds.
	if f.Model > 0 {
		m.total.Observe(f.Total.Seconds())
	}
	// The prompt's count is always Gemini's; an answer cut before Gemini
	// counted it has its output estimated.
	output := "reported"
	if f.TokensEstimated {
		output = "estimated"
	}
	for _, t := range []struct {
		kind, count string
		n           int
	}{{"input", "reported", f.TokensIn}, {"output", output, f.TokensOut}, {"thinking", output, f.TokensThinking}} {
		if t.n > 0 {
			m.tokens.WithLabelValues(f.UseCase, t.kind, t.count).Add(float64(t.n))
		}
	}
	if f.ModelError != "" {
		m.geminiErrors.WithLabelValues(f.ModelError).Inc()
	}
}

// Acked implements bot.Observer.
func (m *Metrics) Acked(took time.Duration) {
	m.ack.Observe(took.Seconds())
}

// SlackError implements bot.Observer.
func (m *Metrics) SlackError(method, code string) {
	m.slackErrors.WithLabelValues(method, code).Inc()
}

// AllowanceRefused implements bot.Observer.
func (m *Metrics) AllowanceRefused(which string) {
	m.allowances.WithLabelValues(which).Inc()
}

// jobCounter is the bot's pool, read at each scrape.
type jobCounter interface {
	Jobs() (running, queued int)
}

// WatchJobs serves the pool's load as gauges read at each scrape, so that
// the loop pays nothing for them.
func (m *Metrics) WatchJobs(jobs jobCounter) error {
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "visionbot_jobs_in_flight",
		Help: "Requests being answered now.",
	}, func() float64 { running, _ := jobs.Jobs(); return float64(running) })
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "visionbot_jobs_queued",
		Help: "Requests waiting for a worker (QUEUE_SIZE bounds them).",
	}, func() float64 { _, queued := jobs.Jobs(); return float64(queued) })
	for _, c := range []prometheus.Collector{inFlight, queued} {
		if err := m.reg.Register(c); err != nil {
			return fmt.Errorf("register job gauges: %w", err)
		}
	}
	return nil
}

// voteCounter is the handlers' feedback count, read at each scrape.
type voteCounter interface {
	Votes() map[string]handlers.VoteCount
}

// WatchVotes serves the feedback counted by the handlers.
func (m *Metrics) WatchVotes(votes voteCounter) error {
	c := voteCollector{votes: votes, desc: prometheus.NewDesc("visionbot_feedback_votes",
		"Feedback on answers since the start: each person's latest vote on each answer, by use case and vote (up, down).",
		[]string{"use_case", "vote"}, nil)}
	if err := m.reg.Register(c); err != nil {
		return fmt.Errorf("register feedback votes: %w", err)
	}
	return nil
}

// voteCollector reads the handlers' own count rather than keeping a second.
type voteCollector struct {
	votes voteCounter
	desc  *prometheus.Desc
}

func (c voteCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c voteCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.votes.Votes()
	names := make([]string, 0, len(counts))
	for uc := range counts {
		names = append(names, uc)
	}
	slices.Sort(names)
	for _, uc := range names {
		// A gauge: a person's later vote on an answer replaces their
		// earlier one, so a count may go down.
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[uc].Up), uc, "up")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[uc].Down), uc, "down")
	}
}
