package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// opsAddr is where the bot said it serves metrics.
func (h *harness) opsAddr(t *testing.T) string {
	t.Helper()
	h.waitLog(t, 1, "serving metrics")
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(entry.Msg, "serving metrics") {
			return entry.Addr
		}
	}
	t.Fatal("no address in the log")
	return ""
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// sample finds the metric of a family with the given labels: a counter's
// or a gauge's value, a histogram's count of observations.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf, ok := families[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsAndHealth(t *testing.T) {
	t.Parallel()

	h := startBot(t, map[string]string{"METRICS_ADDR": "127.0.0.1:0", "STREAM_INTERVAL": "200ms"})
	base := "http://" + h.opsAddr(t)

	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	waitFor(t, func() bool { code, _ := httpGet(t, base+"/readyz"); return code == http.StatusOK },
		"/readyz says ready once Socket Mode is connected")

	// An answer whose stream Slack refuses, a request without an image, and
	// a vote on the answer.
	h.slack.Fail("chat.startStream", 1, http.StatusOK, nil, `{"ok":false,"error":"feature_not_enabled"}`)
	h.gemini.Script(geminiemu.Reply{Text: "A recipe for two."})
	const root = "1700000000.000100"
	mentionWithPhoto(t, h, root, "<@"+slackemu.BotUserID+"> recipe")
	h.waitLog(t, 1, `"use_case":"recipe"`, `"outcome":"ok"`)
	noImage, _ := json.Marshal(map[string]any{"type": "app_mention", "user": "U1", "channel": "C2",
		"text": "<@" + slackemu.BotUserID + "> describe", "ts": "1700000001.000100"})
	if _, err := h.slack.SendEvent(noImage, ""); err != nil {
		t.Fatal(err)
	}
	h.waitLog(t, 1, `"outcome":"no_image"`)
	var answer slackemu.Posted
	for _, p := range h.slack.Posted("C1") {
		if p.ThreadTS == root {
			answer = p
		}
	}
	h.voteUp(t, "C1", answer)
	h.waitLog(t, 1, `"msg":"feedback"`)

	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	tests := []struct {
		name   string
		labels map[string]string
		min    float64 // at least
		max    float64 // at most; 0: no bound
	}{
		{"visionbot_requests_total", map[string]string{"trigger": "mention", "use_case": "recipe", "outcome": "ok"}, 1, 1},
		{"visionbot_requests_total", map[string]string{"trigger": "mention", "use_case": "describe", "outcome": "no_image"}, 1, 1},
		{"visionbot_gemini_tokens_total", map[string]string{"use_case": "recipe", "kind": "input"}, 1, 0},
		{"visionbot_gemini_tokens_total", map[string]string{"use_case": "recipe", "kind": "output"}, 1, 0},
		{"visionbot_slack_errors_total", map[string]string{"method": "chat.startStream", "code": "feature_not_enabled"}, 1, 1},
		{"visionbot_feedback_votes", map[string]string{"use_case": "recipe", "vote": "up"}, 1, 1},
		{"visionbot_ack_duration_seconds", nil, 3, 0}, // two mentions and a click, at least
		{"visionbot_download_duration_seconds", nil, 1, 1},
		{"visionbot_first_token_seconds", nil, 1, 1},
		{"visionbot_request_duration_seconds", nil, 1, 1}, // the one request that asked Gemini
		{"visionbot_jobs_queued", nil, 0, 0},
		{"visionbot_jobs_in_flight", nil, 0, 0},
		{"go_goroutines", nil, 1, 0},
	}
	for _, tt := range tests {
		got, ok := sample(families, tt.name, tt.labels)
		switch {
		case !ok:
			t.Errorf("%s%v is not served", tt.name, tt.labels)
		case got < tt.min || (tt.max > 0 && got > tt.max):
			t.Errorf("%s%v = %v, want between %v and %v", tt.name, tt.labels, got, tt.min, tt.max)
		}
	}
	if _, ok := sample(families, "visionbot_gemini_errors_total", nil); ok {
		t.Error("Gemini errors counted, but Gemini failed nothing")
	}

	if code, body := httpGet(t, base+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("/debug/pprof/goroutine = %d %.80q", code, body)
	}
}
