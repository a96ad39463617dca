package gemini_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"go.uber.org/goleak"

	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/vision"
)

// opencensus, pulled in by genai's auth dependency, starts a worker
// goroutine in its package init; it is not ours to stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// testKey looks like a real key and is the one the vertexai api-key fixture
// echoes in its DebugInfo, so leaks into error texts show up.
const testKey = "AIzv00G7VmUCUeC-5OglO3hcXM"

var jpeg = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00 not really a photo")

func photoRequest() vision.Request {
	return vision.Request{
		System: "You are a chef. Answer with a recipe.",
		Turns: []vision.Turn{{
			Role:   vision.RoleUser,
			Text:   "What can I cook with this?",
			Images: []vision.Image{{MIMEType: "image/jpeg", Data: jpeg}},
		}},
	}
}

func newClient(t *testing.T, emu *geminiemu.Server, edit func(*gemini.Config)) *gemini.Client {
	t.Helper()
	return newClientWith(t, emu, gemini.Deps{}, edit)
}

// newClientWith is newClient with deps.
func newClientWith(t *testing.T, emu *geminiemu.Server, deps gemini.Deps, edit func(*gemini.Config)) *gemini.Client {
	t.Helper()
	cfg := gemini.DefaultConfig()
	cfg.APIKey, cfg.BaseURL, cfg.RetryDelay = testKey, emu.URL(), time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	c, err := gemini.New(context.Background(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixtureText is the answer a fixture's SSE stream spells, thoughts
// excluded, read independently of the adapter.
func fixtureText(t *testing.T, rel string) string {
	t.Helper()
	return fixtureTextBefore(t, rel, -1)
}

// fixtureTextBefore is the text of a fixture's first events (each is one
// data: line in the recorded streams); events < 0 is all of them.
func fixtureTextBefore(t *testing.T, rel string, events int) string {
	t.Helper()
	b, err := os.ReadFile(geminiemu.FixturePath(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && events != 0 {
		data, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "data:")
		if !ok {
			continue
		}
		events--
		var chunk struct {
			Candidates []struct {
				Content struct {
					Parts []struct {
						Text    string `json:"text"`
						Thought bool   `json:"thought"`
					} `json:"parts"`
				} `json:"content"`
			} `json:"candidates"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, c := range chunk.Candidates {
			for _, p := range c.Content.Parts {
				if !p.Thought {
					sb.WriteString(p.Text)
				}
			}
		}
	}
	return sb.String()
}

// sseReply is a one-event stream of text ending with finish ("" for none).
func sseReply(text, finish string) geminiemu.Reply {
	cand := map[string]any{"content": map[string]any{"parts": []any{map[string]any{"text": text}}, "role": "model"}}
	if finish != "" {
		cand["finishReason"] = finish
	}
	b, err := json.Marshal(map[string]any{"candidates": []any{cand}})
	if err != nil {
		panic(err)
	}
	return geminiemu.Reply{Body: append(append([]byte("data: "), b...), "\r\n\r\n"...)}
}

// quotaReply is the recorded free-tier 429 with its RetryInfo set to delay.
func quotaReply(t *testing.T, delay string) geminiemu.Reply {
	r := geminiemu.FixtureReply(t, "errors/429_RESOURCE_EXHAUSTED.free_tier_quota_retryinfo.json")
	r.Body = bytes.Replace(r.Body, []byte(`"retryDelay": "48s"`), []byte(`"retryDelay": "`+delay+`"`), 1)
	if !bytes.Contains(r.Body, []byte(delay)) {
		t.Fatal("the 429 fixture has no retryDelay to replace")
	}
	return r
}

func TestStream(t *testing.T) {
	t.Parallel()

	fixture := func(rel string) func(*testing.T) []geminiemu.Reply {
		return func(t *testing.T) []geminiemu.Reply { return []geminiemu.Reply{geminiemu.FixtureReply(t, rel)} }
	}
	repeat := func(n int, rel string) func(*testing.T) []geminiemu.Reply {
		return func(t *testing.T) []geminiemu.Reply {
			var rs []geminiemu.Reply
			for range n {
				rs = append(rs, geminiemu.FixtureReply(t, rel))
			}
			return rs
		}
	}
	const ok = failure.Kind(-1) // success
	tests := []struct {
		name       string
		replies    func(*testing.T) []geminiemu.Reply
		edit       func(*gemini.Config)
		setup      func(*geminiemu.Server)
		wantText   string
		textOf     string // fixture whose text the deltas must spell
		wantKind   failure.Kind
		wantDetail string
		wantCalls  int // -1: at most one (a loaded machine may time out before the request lands)
		wantUsage  *vision.Usage
	}{
		{name: "success short", replies: fixture("googleai/streaming-success-basic-reply-short.txt"),
			wantText: "The capital of Wyoming is **Cheyenne**.\n", wantKind: ok, wantCalls: 1,
			wantUsage: &vision.Usage{Model: "gemini-2.0-flash", InputTokens: 7, OutputTokens: 10}},
		{name: "success long", replies: fixture("googleai/streaming-success-basic-reply-long.txt"),
			textOf: "googleai/streaming-success-basic-reply-long.txt", wantKind: ok, wantCalls: 1},
		{name: "success utf8", replies: fixture("vertexai/streaming-success-utf8.txt"),
			textOf: "vertexai/streaming-success-utf8.txt", wantKind: ok, wantCalls: 1},
		{name: "thought summaries skipped", replies: fixture("googleai/streaming-success-thinking-reply-thought-summary.txt"),
			textOf: "googleai/streaming-success-thinking-reply-thought-summary.txt", wantKind: ok, wantCalls: 1,
			wantUsage: &vision.Usage{Model: "gemini-2.5-flash", InputTokens: 10, OutputTokens: 48, ThinkingTokens: 540}},
		{name: "unknown finish enum keeps the text", replies: fixture("vertexai/streaming-failure-unknown-finish-enum.txt"),
			textOf: "vertexai/streaming-failure-unknown-finish-enum.txt", wantKind: ok, wantCalls: 1},
		{name: "max tokens continues", wantKind: ok, wantCalls: 2, wantText: "cut short",
			replies: func(*testing.T) []geminiemu.Reply {
				return []geminiemu.Reply{sseReply("cut sh", "MAX_TOKENS"), {Text: "ort"}}
			}},
		{name: "max tokens continues at most once", wantKind: failure.CutOff, wantDetail: "MAX_TOKENS", wantCalls: 2,
			wantText: "onetwo",
			replies: func(*testing.T) []geminiemu.Reply {
				return []geminiemu.Reply{sseReply("one", "MAX_TOKENS"), sseReply("two", "MAX_TOKENS"), {Text: "never asked"}}
			}},
		{name: "no finish reason is cut off", wantKind: failure.CutOff, wantCalls: 1, wantText: "half an ans",
			replies: func(*testing.T) []geminiemu.Reply { return []geminiemu.Reply{sseReply("half an ans", "")} }},
		{name: "emulator text reply", replies: func(*testing.T) []geminiemu.Reply { return []geminiemu.Reply{{Text: "a tasty omelette"}} },
			wantText: "a tasty omelette", wantKind: ok, wantCalls: 1},

		{name: "prompt blocked", replies: fixture("googleai/streaming-failure-prompt-blocked-safety.txt"),
			wantKind: failure.Blocked, wantDetail: "SAFETY", wantCalls: 1},
		{name: "prompt blocked with message", replies: fixture("vertexai/streaming-failure-prompt-blocked-safety-with-message.txt"),
			wantKind: failure.Blocked, wantDetail: "SAFETY", wantCalls: 1},
		{name: "finish SAFETY after text", replies: fixture("vertexai/streaming-failure-finish-reason-safety.txt"),
			wantText: "<redacted>", wantKind: failure.Blocked, wantDetail: "SAFETY", wantCalls: 1},
		{name: "finish MODEL_ARMOR after text withdraws it", wantText: "the start of", wantKind: failure.Blocked,
			wantDetail: "MODEL_ARMOR", wantCalls: 1,
			replies: func(*testing.T) []geminiemu.Reply { return []geminiemu.Reply{sseReply("the start of", "MODEL_ARMOR")} }},
		{name: "recitation", replies: fixture("googleai/streaming-failure-recitation-no-content.txt"),
			textOf: "googleai/streaming-failure-recitation-no-content.txt", wantKind: failure.Blocked, wantDetail: "RECITATION", wantCalls: 1},
		{name: "empty content", replies: fixture("vertexai/streaming-failure-empty-content.txt"),
			wantKind: failure.EmptyAnswer, wantCalls: 1},

		{name: "image rejected (googleai)", replies: fixture("googleai/streaming-failure-image-rejected.txt"),
			wantKind: failure.ImageRejected, wantCalls: 1},
		{name: "image rejected (vertexai)", replies: fixture("vertexai/unary-failure-image-rejected.json"),
			wantKind: failure.ImageRejected, wantCalls: 1},
		{name: "bad key (emulator check)", setup: func(s *geminiemu.Server) { s.SetAPIKey("the-right-key") },
			wantKind: failure.ModelAuth, wantCalls: 1},
		{name: "bad key (fixture echoing the key)", replies: fixture("vertexai/streaming-failure-api-key.txt"),
			wantKind: failure.ModelAuth, wantCalls: 1},
		{name: "API not enabled", replies: fixture("googleai/unary-failure-generativelanguage-api-not-enabled.json"),
			wantKind: failure.ModelAuth, wantDetail: "SERVICE_DISABLED", wantCalls: 1},
		{name: "location not supported", replies: fixture("vertexai/streaming-failure-http-error.txt"),
			wantKind: failure.ModelAuth, wantCalls: 1},
		{name: "unknown model", edit: func(c *gemini.Config) { c.Model = "gemini-5.0-flash" },
			wantKind: failure.UnknownModel, wantDetail: "gemini-5.0-flash", wantCalls: 1},
		{name: "429 quota is not retried", replies: repeat(3, "vertexai/unary-failure-quota-exceeded.json"),
			wantKind: failure.Quota, wantCalls: 1},
		{name: "429 free tier carries the retry delay", replies: fixture("errors/429_RESOURCE_EXHAUSTED.free_tier_quota_retryinfo.json"),
			wantKind: failure.Quota, wantDetail: "retry in 48s", wantCalls: 1},
		{name: "429 short", replies: fixture("errors/429_RESOURCE_EXHAUSTED.resource_exhausted_short.json"),
			wantKind: failure.Quota, wantCalls: 1},
		{name: "429 with a short RetryInfo is waited out", wantKind: ok, wantCalls: 2, wantText: "after the wait",
			replies: func(t *testing.T) []geminiemu.Reply {
				return []geminiemu.Reply{quotaReply(t, "0.01s"), {Text: "after the wait"}}
			}},
		{name: "429 retries are bounded", wantKind: failure.Quota, wantDetail: "retry in 0.01s", wantCalls: 3,
			replies: func(t *testing.T) []geminiemu.Reply {
				return []geminiemu.Reply{quotaReply(t, "0.01s"), quotaReply(t, "0.01s"), quotaReply(t, "0.01s"), {Text: "never asked"}}
			}},
		{name: "429 beyond MaxQuotaWait is not waited", wantKind: failure.Quota, wantDetail: "retry in 2s", wantCalls: 1,
			edit: func(c *gemini.Config) { c.MaxQuotaWait = time.Second },
			replies: func(t *testing.T) []geminiemu.Reply {
				return []geminiemu.Reply{quotaReply(t, "2s"), {Text: "never asked"}}
			}},
		{name: "429 then 503s: the two retries do not multiply", wantKind: failure.Unavailable, wantCalls: 1 + 3,
			replies: func(t *testing.T) []geminiemu.Reply {
				r := []geminiemu.Reply{quotaReply(t, "0.01s")}
				for range 5 {
					r = append(r, geminiemu.FixtureReply(t, "errors/503_UNAVAILABLE.model_overloaded.json"))
				}
				return r
			}},
		{name: "503 retried then unavailable", replies: repeat(4, "errors/503_UNAVAILABLE.model_overloaded.json"),
			wantKind: failure.Unavailable, wantCalls: 3},
		{name: "503 then success", wantKind: ok, wantCalls: 2, wantText: "The capital of Wyoming is **Cheyenne**.\n",
			replies: func(t *testing.T) []geminiemu.Reply {
				return []geminiemu.Reply{
					geminiemu.FixtureReply(t, "errors/503_UNAVAILABLE.model_overloaded.json"),
					geminiemu.FixtureReply(t, "googleai/streaming-success-basic-reply-short.txt"),
				}
			}},
		{name: "500 retried", wantKind: ok, wantCalls: 2, wantText: "fine now",
			replies: func(*testing.T) []geminiemu.Reply { return []geminiemu.Reply{{Status: 500}, {Text: "fine now"}} }},
		{name: "error mid stream", replies: fixture("vertexai/streaming-failure-error-mid-stream.txt"),
			wantText: "First Second ", wantKind: failure.Unavailable, wantCalls: 1},

		// Nothing has to arrive before the timeout: any short one will do.
		// (A stall after the first words: TestStalledStreamTimesOut.)
		{name: "hang times out", edit: func(c *gemini.Config) { c.Timeout = 100 * time.Millisecond },
			replies:  func(*testing.T) []geminiemu.Reply { return []geminiemu.Reply{{Hang: true}} },
			wantKind: failure.Timeout, wantCalls: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := geminiemu.New()
			defer emu.Close()
			if tt.setup != nil {
				tt.setup(emu)
			}
			if tt.replies != nil {
				emu.Script(tt.replies(t)...)
			}
			c := newClient(t, emu, tt.edit)

			var deltas []string
			usage, err := c.Stream(context.Background(), photoRequest(), func(s string) { deltas = append(deltas, s) })

			want := tt.wantText
			if tt.textOf != "" {
				want = fixtureText(t, tt.textOf)
			}
			if got := strings.Join(deltas, ""); got != want {
				t.Errorf("text = %q, want %q", got, want)
			}
			for _, d := range deltas {
				if d == "" {
					t.Error("empty delta")
				}
			}
			if tt.wantKind == ok {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else {
				var ve *failure.Error
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v (%T), want *failure.Error", err, err)
				}
				if ve.Kind != tt.wantKind || ve.Op != "gemini stream" {
					t.Errorf("err = %v: kind %v, want %v", err, ve.Kind, tt.wantKind)
				}
				if tt.wantDetail != "" && ve.Detail != tt.wantDetail {
					t.Errorf("detail = %q, want %q", ve.Detail, tt.wantDetail)
				}
				if strings.Contains(err.Error(), testKey) || strings.Contains(ve.Detail, testKey) {
					t.Errorf("error leaks the API key: %v", err)
				}
				if said, again, ok := saysTwice(err.Error()); ok {
					t.Errorf("error %q says %q, then %q again", err, said, again)
				}
			}
			if tt.wantUsage != nil && !reflect.DeepEqual(usage, *tt.wantUsage) {
				t.Errorf("usage = %+v, want %+v", usage, *tt.wantUsage)
			}
			if n := len(emu.Requests()); n != tt.wantCalls && (tt.wantCalls != -1 || n > 1) {
				t.Errorf("%d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

// A stream that stalls after its first words ends with failure.Timeout
// when Timeout has passed, keeping the words shown. The first chunk must
// land before the timeout, which takes milliseconds; on a machine so loaded
// that it did not, the test tries again with twice the timeout, so that it
// stays short where it can and never fails for the machine's speed alone.
func TestStalledStreamTimesOut(t *testing.T) {
	t.Parallel()
	const most = 8 * time.Second
	for timeout := 200 * time.Millisecond; ; timeout *= 2 {
		emu := geminiemu.New()
		r := geminiemu.FixtureReply(t, "googleai/streaming-success-basic-reply-short.txt")
		r.ChunkDelay = time.Minute // far beyond any timeout here: only the Timeout ends it
		emu.Script(r)
		c := newClient(t, emu, func(c *gemini.Config) { c.Timeout = timeout })
		var shown strings.Builder
		start := time.Now()
		_, err := c.Stream(context.Background(), photoRequest(), func(s string) { shown.WriteString(s) })
		took := time.Since(start)
		calls := len(emu.Requests())
		emu.Close()
		if shown.Len() == 0 && failure.KindOf(err) == failure.Timeout && timeout < most {
			t.Logf("no first chunk within %v: trying again with twice as long", timeout)
			continue
		}
		if got := shown.String(); got != "The" {
			t.Errorf("shown %q, want the first chunk %q", got, "The")
		}
		var fe *failure.Error
		if !errors.As(err, &fe) || fe.Kind != failure.Timeout || fe.Op != "gemini stream" {
			t.Errorf("err = %v, want a gemini stream failure.Timeout", err)
		}
		if took < timeout {
			t.Errorf("ended after %v, before its timeout of %v", took, timeout)
		}
		if calls != 1 {
			t.Errorf("%d requests, want 1: a stream that showed text is not retried", calls)
		}
		return
	}
}

func TestRequestBody(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, nil)

	req := photoRequest()
	png := []byte("\x89PNG\r\n\x1a\n second photo")
	req.Turns[0].Images = append(req.Turns[0].Images, vision.Image{MIMEType: "image/png", Data: png})
	req.Turns = append(req.Turns,
		vision.Turn{Role: vision.RoleModel, Text: "An omelette."},
		vision.Turn{Role: vision.RoleUser, Text: "and without eggs?"},
	)
	if _, err := c.Stream(context.Background(), req, func(string) {}); err != nil {
		t.Fatal(err)
	}
	reqs := emu.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "streamGenerateContent" || r.Query != "alt=sse" || r.Model != gemini.DefaultConfig().Model || r.APIKey != testKey {
		t.Errorf("recorded %s?%s model %s key %q", r.Path, r.Query, r.Model, r.APIKey)
	}
	body := sentOf(t, r)
	if si := body.SystemInstruction; si == nil || len(si.Parts) != 1 || si.Parts[0].Text != req.System {
		t.Errorf("systemInstruction = %+v", si)
	}
	if len(body.Contents) != 3 {
		t.Fatalf("contents = %+v", body.Contents)
	}
	first := body.Contents[0]
	if first.Role != "user" || len(first.Parts) != 3 {
		t.Fatalf("first turn = %+v", first)
	}
	for i, want := range []vision.Image{{MIMEType: "image/jpeg", Data: jpeg}, {MIMEType: "image/png", Data: png}} {
		got := first.Parts[i].InlineData
		if got == nil || got.MIMEType != want.MIMEType || got.Data != base64.StdEncoding.EncodeToString(want.Data) {
			t.Errorf("part %d = %+v, want inline %s", i, got, want.MIMEType)
		}
	}
	if first.Parts[2].Text != "What can I cook with this?" {
		t.Errorf("text part = %+v", first.Parts[2])
	}
	if body.Contents[1].Role != "model" || body.Contents[1].Parts[0].Text != "An omelette." ||
		body.Contents[2].Role != "user" || body.Contents[2].Parts[0].Text != "and without eggs?" {
		t.Errorf("history = %+v", body.Contents[1:])
	}
	tc := body.GenerationConfig.ThinkingConfig
	if tc == nil || tc.ThinkingBudget == nil || *tc.ThinkingBudget != 1024 || tc.ThinkingLevel != "" {
		t.Errorf("thinkingConfig = %+v, want budget 1024 for the alias", tc)
	}
}

func TestThinkingConfig(t *testing.T) {
	t.Parallel()

	tests := []struct {
		model, thinking string
		wantBudget      int // -1: no budget sent
		wantLevel       string
	}{
		{"gemini-flash-latest", "low", 1024, ""}, // the default
		{"gemini-2.5-flash", "low", 1024, ""},
		{"gemini-2.5-flash", "off", 0, ""},
		{"gemini-2.5-flash", "high", 24576, ""},
		{"gemini-2.5-pro", "off", 128, ""},
		{"gemini-3-flash-preview", "low", -1, "LOW"},
		{"gemini-3-flash-preview", "off", -1, "MINIMAL"},
		{"gemini-3-flash-preview", "medium", -1, "MEDIUM"},
		{"gemini-3-pro-preview", "minimal", -1, "LOW"},
	}
	for _, tt := range tests {
		t.Run(tt.model+"/"+tt.thinking, func(t *testing.T) {
			t.Parallel()
			tc := streamAs(t, tt.model, tt.thinking, photoRequest()).GenerationConfig.ThinkingConfig
			if tc == nil {
				t.Fatal("no thinkingConfig sent")
			}
			gotBudget := -1
			if tc.ThinkingBudget != nil {
				gotBudget = *tc.ThinkingBudget
			}
			if gotBudget != tt.wantBudget || tc.ThinkingLevel != tt.wantLevel {
				t.Errorf("budget %d level %q, want %d %q", gotBudget, tc.ThinkingLevel, tt.wantBudget, tt.wantLevel)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()

	for _, cfg := range []gemini.Config{
		{}, // no key, no Vertex
		{APIKey: "k", Settings: gemini.Settings{Thinking: "maximal"}}, // unknown level
		{VertexAI: true, Project: "p"},                                // no location
	} {
		if _, err := gemini.New(context.Background(), cfg, gemini.Deps{}); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestCheckModel(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		edit     func(*gemini.Config)
		setup    func(*geminiemu.Server)
		wantKind failure.Kind // -1: nil error
	}{
		{name: "known", wantKind: -1},
		{name: "unknown model", edit: func(c *gemini.Config) { c.Model = "gemini-5.0-flash" }, wantKind: failure.UnknownModel},
		{name: "bad key", setup: func(s *geminiemu.Server) { s.SetAPIKey("other") }, wantKind: failure.ModelAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			emu := geminiemu.New()
			defer emu.Close()
			if tt.setup != nil {
				tt.setup(emu)
			}
			c := newClient(t, emu, tt.edit)
			err := c.CheckModel(context.Background())
			if tt.wantKind == -1 {
				if err != nil {
					t.Fatal(err)
				}
			} else if failure.KindOf(err) != tt.wantKind {
				t.Errorf("err = %v, want kind %v", err, tt.wantKind)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the key: %v", err)
			}
			reqs := emu.Requests()
			if len(reqs) != 1 || reqs[0].Method != "get" {
				t.Errorf("requests = %+v", reqs)
			}
		})
	}
}

// staticToken stands in for Application Default Credentials, which a
// test machine does not have.
type staticToken string

func (s staticToken) Token(context.Context) (*auth.Token, error) {
	return &auth.Token{Value: string(s), Type: "Bearer"}, nil
}

func TestVertexAI(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	const token = "ya29.test-access-token"
	// The path production takes, with a token of the test's instead of
	// the machine's credentials: genai builds the authorizing client.
	creds := auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken(token)})
	c := newClientWith(t, emu, gemini.Deps{Credentials: creds}, func(c *gemini.Config) {
		c.APIKey = ""
		c.VertexAI, c.Project, c.Location = true, "my-proj", "us-central1"
		c.Model = "gemini-2.5-flash"
	})
	emu.Script(geminiemu.FixtureReply(t, "vertexai/streaming-success-utf8.txt"))
	var sb strings.Builder
	usage, err := c.Stream(context.Background(), photoRequest(), func(s string) { sb.WriteString(s) })
	if err != nil {
		t.Fatal(err)
	}
	if want := fixtureText(t, "vertexai/streaming-success-utf8.txt"); sb.String() != want {
		t.Errorf("text = %q, want %q", sb.String(), want)
	}
	if usage.Model != "gemini-2.5-flash" {
		t.Errorf("usage model = %q, want the configured model when the stream names none", usage.Model)
	}
	if err := c.CheckModel(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := emu.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %+v", reqs)
	}
	if want := "/v1beta1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent"; reqs[0].Path != want || reqs[0].APIKey != "" {
		t.Errorf("stream path %s key %q, want %s without key", reqs[0].Path, reqs[0].APIKey, want)
	}
	if want := "/v1beta1/publishers/google/models/gemini-2.5-flash"; reqs[1].Path != want {
		t.Errorf("get path %s, want %s", reqs[1].Path, want)
	}
	for _, r := range reqs {
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			t.Errorf("%s: Authorization = %q, want the credentials' bearer token", r.Method, got)
		}
	}
}

// vertexClient is a Vertex AI client of emu, with a token of the test's
// instead of the machine's credentials.
func vertexClient(t *testing.T, emu *geminiemu.Server, edit func(*gemini.Config)) *gemini.Client {
	t.Helper()
	deps := gemini.Deps{Credentials: auth.NewCredentials(&auth.CredentialsOptions{TokenProvider: staticToken("ya29.test")})}
	return newClientWith(t, emu, deps, func(c *gemini.Config) {
		c.APIKey = ""
		c.VertexAI, c.Project, c.Location = true, "my-proj", "us-central1"
		c.Model = "gemini-2.5-flash"
		if edit != nil {
			edit(c)
		}
	})
}

// everyCall makes each call the client has, a stream with a photo, the
// settings probe and the model check, and returns what emu received.
func everyCall(t *testing.T, emu *geminiemu.Server, c *gemini.Client) []geminiemu.Recorded {
	t.Helper()
	if _, err := c.Stream(context.Background(), photoRequest(), nil); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if _, err := c.CheckSettings(context.Background()); err != nil {
		t.Fatalf("check settings: %v", err)
	}
	if err := c.CheckModel(context.Background()); err != nil {
		t.Fatalf("check model: %v", err)
	}
	reqs := emu.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3: %+v", len(reqs), reqs)
	}
	return reqs
}

// The API version is the adapter's, not genai's default of the day:
// genai v1.78 moved the Gemini API's to v1, where the default model
// (gemini-flash-latest) does not exist.
func TestAPIVersionIsPinned(t *testing.T) {
	model := gemini.DefaultConfig().Model
	tests := []struct {
		name      string
		client    func(*testing.T, *geminiemu.Server) *gemini.Client
		wantPaths []string
	}{
		{"gemini api", func(t *testing.T, emu *geminiemu.Server) *gemini.Client { return newClient(t, emu, nil) }, []string{
			"/v1beta/models/" + model + ":streamGenerateContent",
			"/v1beta/models/" + model + ":generateContent",
			"/v1beta/models/" + model,
		}},
		{"vertex ai", func(t *testing.T, emu *geminiemu.Server) *gemini.Client { return vertexClient(t, emu, nil) }, []string{
			"/v1beta1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
			"/v1beta1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
			"/v1beta1/publishers/google/models/gemini-2.5-flash",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// genai reads this when no version is set in code; a pinned
			// version must win over it.
			t.Setenv("GOOGLE_GENAI_API_VERSION", "v1")
			emu := geminiemu.New()
			defer emu.Close()
			for i, r := range everyCall(t, emu, tt.client(t, emu)) {
				if r.Path != tt.wantPaths[i] {
					t.Errorf("%s went to %s, want %s", r.Method, r.Path, tt.wantPaths[i])
				}
			}
		})
	}
}

// What Google keeps: every request to the Gemini API says store: false
// (a project created on or after 2026-10-26 logs those that don't), or
// store: true when the operator wants the logs; a Vertex AI request has
// no store field, which Vertex AI refuses.
func TestStoreField(t *testing.T) {
	tests := []struct {
		name      string
		client    func(*testing.T, *geminiemu.Server) *gemini.Client
		wantStore string // the raw JSON of "store"; "" for none
	}{
		{"gemini api", func(t *testing.T, emu *geminiemu.Server) *gemini.Client { return newClient(t, emu, nil) }, "false"},
		{"gemini api with request logs", func(t *testing.T, emu *geminiemu.Server) *gemini.Client {
			return newClient(t, emu, func(c *gemini.Config) { c.RequestLogs = true })
		}, "true"},
		{"vertex ai", func(t *testing.T, emu *geminiemu.Server) *gemini.Client { return vertexClient(t, emu, nil) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := geminiemu.New()
			defer emu.Close()
			for _, r := range everyCall(t, emu, tt.client(t, emu)) {
				if r.Method == "get" {
					continue // models.get has no body
				}
				var body map[string]json.RawMessage
				if err := json.Unmarshal(r.Body, &body); err != nil {
					t.Fatalf("%s body: %v", r.Method, err)
				}
				store, sent := body["store"]
				switch {
				case tt.wantStore == "" && sent:
					t.Errorf("%s sent \"store\": %s, want no store field", r.Method, store)
				case tt.wantStore != "" && string(store) != tt.wantStore:
					t.Errorf("%s sent \"store\": %q, want %s", r.Method, store, tt.wantStore)
				}
			}
		})
	}
}

func TestRequestLogsAreAGeminiAPISetting(t *testing.T) {
	_, err := gemini.New(context.Background(), gemini.Config{VertexAI: true, Project: "p", Location: "l", Settings: gemini.Settings{RequestLogs: true, Model: "gemini-2.5-flash", Thinking: gemini.ThinkingLow}}, gemini.Deps{})
	if err == nil || !strings.Contains(err.Error(), "GEMINI_REQUEST_LOGS") {
		t.Errorf("New(Vertex AI with request logs) = %v, want an error naming GEMINI_REQUEST_LOGS", err)
	}
}

func TestCallerCancelIsNotATimeout(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	emu.Script(geminiemu.Reply{Hang: true})
	c := newClient(t, emu, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		if _, err := emu.WaitRequests(1, 5*time.Second); err == nil {
			cancel()
		}
	}()
	_, err := c.Stream(ctx, photoRequest(), func(string) {})
	cancel()
	if !errors.Is(err, context.Canceled) || failure.KindOf(err) == failure.Timeout {
		t.Errorf("err = %v (kind %v), want context.Canceled, not a timeout", err, failure.KindOf(err))
	}
}

func TestConcurrentStreams(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	emu.SetDefault(geminiemu.Reply{Text: "same answer for everyone", ChunkDelay: time.Millisecond})
	c := newClient(t, emu, nil)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			var sb strings.Builder
			if _, err := c.Stream(context.Background(), photoRequest(), func(s string) { sb.WriteString(s) }); err != nil {
				t.Error(err)
			}
			if sb.String() != "same answer for everyone" {
				t.Errorf("text = %q", sb.String())
			}
		})
	}
	wg.Wait()
}

func TestRejectedKeyStopsCallingGemini(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	emu.SetAPIKey("the-right-key")
	var mu sync.Mutex
	now := time.Unix(1700000000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	c := newClientWith(t, emu, gemini.Deps{Now: clock}, func(c *gemini.Config) { c.AuthCooldown = time.Minute })

	for i := range 5 {
		_, err := c.Stream(context.Background(), photoRequest(), nil)
		if failure.KindOf(err) != failure.ModelAuth {
			t.Fatalf("request %d: err = %v, want KindModelAuth", i, err)
		}
		if !strings.Contains(err.Error(), "GEMINI_API_KEY") || strings.Contains(err.Error(), testKey) {
			t.Errorf("request %d: error %q should say what to fix, without the key", i, err)
		}
	}
	if n := len(emu.Requests()); n != 1 {
		t.Fatalf("%d calls to Gemini for 5 requests with a rejected key, want 1", n)
	}

	advance(time.Minute) // the cool-down is over: one request tries again
	if _, err := c.Stream(context.Background(), photoRequest(), nil); failure.KindOf(err) != failure.ModelAuth {
		t.Fatalf("err = %v, want the key rejected again", err)
	}
	if _, err := c.Stream(context.Background(), photoRequest(), nil); failure.KindOf(err) != failure.ModelAuth {
		t.Fatalf("err = %v, want a fast failure", err)
	}
	if n := len(emu.Requests()); n != 2 {
		t.Fatalf("%d calls after the cool-down, want 2", n)
	}

	emu.SetAPIKey(testKey) // an admin fixed the key
	advance(time.Minute)
	for range 2 {
		if _, err := c.Stream(context.Background(), photoRequest(), nil); err != nil {
			t.Fatalf("after the fix: %v", err)
		}
	}
	if n := len(emu.Requests()); n != 4 {
		t.Errorf("%d calls, want every request to reach Gemini once the key works", n)
	}
}

func TestContinuationAsksToGoOn(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	emu.Script(sseReply("first half", "MAX_TOKENS"), geminiemu.Reply{Text: " second half"})
	c := newClient(t, emu, nil)
	usage, err := c.Stream(context.Background(), photoRequest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	reqs := emu.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	body := sentOf(t, reqs[1])
	n := len(body.Contents)
	if n != 3 || body.Contents[1].Role != "model" || body.Contents[1].Parts[0].Text != "first half" ||
		body.Contents[2].Role != "user" || !strings.Contains(body.Contents[2].Parts[0].Text, "Continue") {
		t.Errorf("continuation contents = %+v, want the photo turn, the partial answer, and a request to continue", body.Contents)
	}
	if usage.InputTokens == 0 {
		t.Errorf("usage = %+v, want the continuation's tokens counted", usage)
	}
}

// saysTwice finds a part of an error's text that the next part repeats
// ("400 INVALID_ARGUMENT: HTTP 400 INVALID_ARGUMENT: …").
func saysTwice(msg string) (said, again string, ok bool) {
	parts := strings.Split(msg, ": ")
	for i := 0; i+1 < len(parts); i++ {
		if p := strings.TrimSpace(parts[i]); p != "" && strings.Contains(parts[i+1], p) {
			return parts[i], parts[i+1], true
		}
	}
	return "", "", false
}
