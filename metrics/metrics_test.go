package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/visionbot/visionbot/bot"
	"github.com/visionbot/visionbot/handlers"
)

var (
	_ handlers.Observer = (*Metrics)(nil)
	_ bot.Observer      = (*Metrics)(nil)
)

type fakeJobs struct{ running, queued int }

func (f fakeJobs) Jobs() (int, int) { return f.running, f.queued }

type fakeVotes map[string]handlers.VoteCount

func (f fakeVotes) Votes() map[string]handlers.VoteCount { return f }

func TestMetrics(t *testing.T) {
	t.Parallel()

	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WatchJobs(fakeJobs{running: 3, queued: 2}); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchVotes(fakeVotes{"recipe": {Up: 2, Down: 1}}); err != nil {
		t.Fatal(err)
	}
	m.RequestDone(handlers.Figures{Trigger: handlers.TriggerMention, UseCase: "recipe", Outcome: "ok",
		Download: 200 * time.Millisecond, FirstToken: 1500 * time.Millisecond, Model: 2 * time.Second, Total: 3 * time.Second,
		TokensIn: 300, TokensOut: 120, TokensThinking: 45})
	m.RequestDone(handlers.Figures{Trigger: handlers.TriggerSlash, UseCase: "describe", Outcome: "quota",
		ModelError: "quota", Model: time.Second, Total: time.Second, TokensIn: 20})
	m.RequestDone(handlers.Figures{Trigger: handlers.TriggerMention, UseCase: "recipe", Outcome: "stopped",
		Model: time.Second, Total: time.Second, TokensIn: 300, TokensOut: 2000, TokensEstimated: true})
	m.RequestDone(handlers.Figures{Trigger: handlers.TriggerMention, UseCase: "describe", Outcome: "help", Total: time.Millisecond})
	m.Acked(2 * time.Millisecond)
	m.SlackError("chat.postMessage", "not_in_channel")
	m.SlackError("chat.postMessage", "not_in_channel")

	tests := []struct {
		metric string
		want   string
	}{
		{"visionbot_requests_total", `
# HELP visionbot_requests_total Requests that ended, by what started them, use case and outcome (ok, help, or the kind of failure).
# TYPE visionbot_requests_total counter
visionbot_requests_total{outcome="help",trigger="mention",use_case="describe"} 1
visionbot_requests_total{outcome="ok",trigger="mention",use_case="recipe"} 1
visionbot_requests_total{outcome="quota",trigger="slash",use_case="describe"} 1
visionbot_requests_total{outcome="stopped",trigger="mention",use_case="recipe"} 1
`},
		{"visionbot_gemini_tokens_total", `
# HELP visionbot_gemini_tokens_total Tokens Gemini reported, by use case, kind (input: prompt and images; output: the answer's text; thinking: billed as output) and count (reported: Gemini's; estimated: from the text of an answer cut before Gemini counted it).
# TYPE visionbot_gemini_tokens_total counter
visionbot_gemini_tokens_total{count="estimated",kind="output",use_case="recipe"} 2000
visionbot_gemini_tokens_total{count="reported",kind="input",use_case="describe"} 20
visionbot_gemini_tokens_total{count="reported",kind="input",use_case="recipe"} 600
visionbot_gemini_tokens_total{count="reported",kind="output",use_case="recipe"} 120
visionbot_gemini_tokens_total{count="reported",kind="thinking",use_case="recipe"} 45
`},
		{"visionbot_gemini_errors_total", `
# HELP visionbot_gemini_errors_total Gemini calls that failed, by kind (quota, unavailable, timeout, blocked, model_auth, …).
# TYPE visionbot_gemini_errors_total counter
visionbot_gemini_errors_total{code="quota"} 1
`},
		{"visionbot_slack_errors_total", `
# HELP visionbot_slack_errors_total Slack Web API calls that failed, by method and Slack's error code (http_NNN for another status, transport when no answer came).
# TYPE visionbot_slack_errors_total counter
visionbot_slack_errors_total{code="not_in_channel",method="chat.postMessage"} 2
`},
		{"visionbot_jobs_in_flight", `
# HELP visionbot_jobs_in_flight Requests being answered now.
# TYPE visionbot_jobs_in_flight gauge
visionbot_jobs_in_flight 3
`},
		{"visionbot_jobs_queued", `
# HELP visionbot_jobs_queued Requests waiting for a worker (QUEUE_SIZE bounds them).
# TYPE visionbot_jobs_queued gauge
visionbot_jobs_queued 2
`},
		{"visionbot_feedback_votes", `
# HELP visionbot_feedback_votes Feedback on answers since the start: each person's latest vote on each answer, by use case and vote (up, down).
# TYPE visionbot_feedback_votes gauge
visionbot_feedback_votes{use_case="recipe",vote="down"} 1
visionbot_feedback_votes{use_case="recipe",vote="up"} 2
`},
	}
	for _, tt := range tests {
		t.Run(tt.metric, func(t *testing.T) {
			t.Parallel()

			if err := testutil.GatherAndCompare(reg, strings.NewReader(tt.want), tt.metric); err != nil {
				t.Error(err)
			}
		})
	}

	counts := []struct {
		histogram string
		want      int // observations: only the requests that reached the step
	}{
		{"visionbot_ack_duration_seconds", 1},
		{"visionbot_download_duration_seconds", 1},
		{"visionbot_first_token_seconds", 1},
		{"visionbot_request_duration_seconds", 3},
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		var got uint64
		for _, mf := range families {
			if mf.GetName() == c.histogram {
				got = mf.GetMetric()[0].GetHistogram().GetSampleCount()
			}
		}
		if got != uint64(c.want) {
			t.Errorf("%s has %d observations, want %d", c.histogram, got, c.want)
		}
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()

	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	srv := httptest.NewServer(Handler(reg, ready.Load))
	defer srv.Close()

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		name     string
		before   func()
		path     string
		wantCode int
		want     string
	}{
		{"metrics", nil, "/metrics", 200, "go_goroutines"},
		{"alive", nil, "/healthz", 200, "ok"},
		{"not ready without a connection", nil, "/readyz", 503, "Socket Mode"},
		{"ready once connected", func() { ready.Store(true) }, "/readyz", 200, "ready"},
		{"goroutine dump", nil, "/debug/pprof/goroutine?debug=1", 200, "goroutine profile"},
		{"pprof index", nil, "/debug/pprof/", 200, "heap"},
		{"nothing else", nil, "/", 404, ""},
	}
	for _, tt := range tests {
		// In order, one after the other: a step may change what the next sees.
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			code, body := get(tt.path)
			if code != tt.wantCode || !strings.Contains(body, tt.want) {
				t.Errorf("GET %s = %d %q, want %d with %q", tt.path, code, body[:min(len(body), 200)], tt.wantCode, tt.want)
			}
		})
	}
}
