package geminiemu_test

// These tests drive the emulator with the real genai client, the only
// client it has to satisfy; production code reaches genai only through the
// gemini package.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genai"

	"github.com/visionbot/visionbot/internal/geminiemu"
)

// opencensus, pulled in by genai's auth dependency, starts a worker
// goroutine in its package init; it is not ours to stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

func newClient(t *testing.T, emu *geminiemu.Server, key string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      key,
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  &http.Client{},
		HTTPOptions: genai.HTTPOptions{BaseURL: emu.URL()},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// streamText concatenates the text of every chunk and returns the first error.
func streamText(ctx context.Context, c *genai.Client, model string) (string, *genai.GenerateContentResponse, error) {
	var sb strings.Builder
	var last *genai.GenerateContentResponse
	for resp, err := range c.Models.GenerateContentStream(ctx, model, genai.Text("hi"), nil) {
		if err != nil {
			return sb.String(), last, err
		}
		last = resp
		sb.WriteString(resp.Text())
	}
	return sb.String(), last, nil
}

func apiError(t *testing.T, err error) genai.APIError {
	t.Helper()
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not a genai.APIError", err, err)
	}
	return apiErr
}

func TestDefaultStreamAndRecording(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k1")

	text, last, err := streamText(context.Background(), c, "gemini-2.5-flash")
	if err != nil {
		t.Fatal(err)
	}
	if text != "ok" {
		t.Errorf("text = %q, want ok", text)
	}
	if last.Candidates[0].FinishReason != genai.FinishReasonStop || last.UsageMetadata.CandidatesTokenCount == 0 {
		t.Errorf("last chunk = %+v, want STOP with usage", last.Candidates[0])
	}

	reqs, err := emu.WaitRequests(1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := reqs[0]
	if r.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || r.Query != "alt=sse" ||
		r.Method != "streamGenerateContent" || r.Model != "gemini-2.5-flash" || r.APIKey != "k1" {
		t.Errorf("recorded %+v", r)
	}
	if !bytes.Contains(r.Body, []byte(`"text":"hi"`)) {
		t.Errorf("body %s lacks the prompt", r.Body)
	}
}

func TestTextReplySplitsIntoChunks(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k")
	want := "The quick brown fox jumps over the lazy dog — ünïcödé ✓"
	emu.Script(geminiemu.Reply{Text: want})

	var chunks []string
	for resp, err := range c.Models.GenerateContentStream(context.Background(), "gemini-flash-latest", genai.Text("hi"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, resp.Text())
	}
	if len(chunks) != 3 || strings.Join(chunks, "") != want {
		t.Errorf("chunks = %q, want 3 chunks of %q", chunks, want)
	}
}

func TestUnary(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k")
	emu.Script(
		geminiemu.Reply{Text: "unary text"},
		geminiemu.FixtureReply(t, "googleai/unary-success-basic-reply-short.json"),
	)

	resp, err := c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("hi"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "unary text" || resp.ModelVersion != "gemini-2.5-flash" {
		t.Errorf("resp text %q model %q", resp.Text(), resp.ModelVersion)
	}

	resp, err = c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("hi"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() == "" || resp.UsageMetadata == nil || resp.UsageMetadata.PromptTokenCount == 0 {
		t.Errorf("fixture reply parsed as %+v", resp)
	}
	reqs := emu.Requests()
	if len(reqs) != 2 || reqs[0].Method != "generateContent" || reqs[0].Query != "" {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestFixtureStreams(t *testing.T) {
	tests := []struct {
		fixture  string
		wantText string
		wantCode int // APIError code; 0 = no error
	}{
		{"googleai/streaming-success-basic-reply-short.txt", "The capital of Wyoming is **Cheyenne**.\n", 0},
		{"vertexai/streaming-failure-error-mid-stream.txt", "First Second ", 499},
		{"googleai/streaming-failure-image-rejected.txt", "", 400},
		{"errors/503_UNAVAILABLE.model_overloaded.json", "", 503},
		{"vertexai/unary-failure-quota-exceeded.json", "", 429},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			emu := geminiemu.New()
			defer emu.Close()
			c := newClient(t, emu, "k")
			rep := geminiemu.FixtureReply(t, tt.fixture)
			if tt.wantCode != 0 && tt.wantCode != 499 && rep.Status != tt.wantCode {
				t.Errorf("FixtureReply status = %d, want %d", rep.Status, tt.wantCode)
			}
			emu.Script(rep)
			text, _, err := streamText(context.Background(), c, "gemini-2.5-flash")
			if text != tt.wantText {
				t.Errorf("text = %q, want %q", text, tt.wantText)
			}
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := apiError(t, err).Code; got != tt.wantCode {
				t.Errorf("code = %d, want %d", got, tt.wantCode)
			}
		})
	}
}

func TestAPIKeyAndUnknownModel(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	emu.SetAPIKey("right")
	emu.Script(geminiemu.Reply{Text: "must stay queued"})

	_, _, err := streamText(context.Background(), newClient(t, emu, "wrong"), "gemini-2.5-flash")
	if e := apiError(t, err); e.Code != 400 || !strings.Contains(e.Message, "API key not valid") {
		t.Errorf("bad key: %v", e)
	}

	good := newClient(t, emu, "right")
	_, err = good.Models.Get(context.Background(), "gemini-5.0-flash", nil)
	if e := apiError(t, err); e.Code != 404 || e.Status != "NOT_FOUND" {
		t.Errorf("unknown model get: %v", e)
	}
	emu.AddModel("gemini-5.0-flash")
	m, err := good.Models.Get(context.Background(), "gemini-5.0-flash", nil)
	if err != nil || m.Name != "models/gemini-5.0-flash" {
		t.Fatalf("get after AddModel: %+v, %v", m, err)
	}
	// Rejected requests do not consume the script.
	if text, _, err := streamText(context.Background(), good, "gemini-5.0-flash"); err != nil || text != "must stay queued" {
		t.Errorf("text %q, err %v", text, err)
	}
}

func TestVertexPaths(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	// A caller-supplied HTTP client keeps genai from looking up Application
	// Default Credentials, which a test machine does not have.
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		Backend: genai.BackendVertexAI, Project: "proj", Location: "us-central1",
		HTTPClient: &http.Client{}, HTTPOptions: genai.HTTPOptions{BaseURL: emu.URL()},
	})
	if err != nil {
		t.Fatal(err)
	}
	emu.Script(geminiemu.FixtureReply(t, "vertexai/streaming-success-utf8.txt"))
	text, _, err := streamText(context.Background(), c, "gemini-3-flash-preview")
	if err != nil || !strings.HasPrefix(text, "秋风瑟瑟") {
		t.Fatalf("text %q, err %v", text, err)
	}
	m, err := c.Models.Get(context.Background(), "gemini-3-flash-preview", nil)
	if err != nil || m.Name != "publishers/google/models/gemini-3-flash-preview" {
		t.Fatalf("get: %+v, %v", m, err)
	}
	reqs := emu.Requests()
	if got := reqs[0].Path; got != "/v1beta1/projects/proj/locations/us-central1/publishers/google/models/gemini-3-flash-preview:streamGenerateContent" {
		t.Errorf("stream path %s", got)
	}
	if got := reqs[1].Path; got != "/v1beta1/publishers/google/models/gemini-3-flash-preview" || reqs[1].Method != "get" {
		t.Errorf("get path %s method %s", got, reqs[1].Method)
	}
}

func TestDelaysAndHang(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k")

	emu.Script(geminiemu.Reply{Text: "abc", Delay: 50 * time.Millisecond, ChunkDelay: 30 * time.Millisecond})
	start := time.Now()
	var arrivals []time.Duration
	for _, err := range c.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("hi"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		arrivals = append(arrivals, time.Since(start))
	}
	// Only lower bounds: a loaded machine delays the reader, which can
	// then find several chunks waiting at once, but the server cannot send
	// before its delays have passed.
	if len(arrivals) != 3 || arrivals[0] < 50*time.Millisecond || arrivals[2] < 110*time.Millisecond {
		t.Errorf("arrivals %v: want 3 chunks, the first after ≥50ms, the last after ≥110ms", arrivals)
	}

	emu.Script(geminiemu.Reply{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := streamText(ctx, c, "gemini-2.5-flash")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: err = %v, want deadline exceeded", err)
	}
}

func TestCloseEndsHungRequests(t *testing.T) {
	emu := geminiemu.New()
	c := newClient(t, emu, "k")
	emu.SetDefault(geminiemu.Reply{Hang: true})

	errs := make(chan error, 1)
	go func() {
		_, _, err := streamText(context.Background(), c, "gemini-2.5-flash")
		errs <- err
	}()
	if _, err := emu.WaitRequests(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { emu.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a hung request")
	}
	if err := <-errs; err == nil {
		t.Error("a hung request ended without error at Close")
	}
}

func TestConcurrentScript(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k")
	const n = 16
	for range n {
		emu.Script(geminiemu.Reply{Text: "scripted"})
	}
	var wg sync.WaitGroup
	texts := make(chan string, n+1)
	for range n + 1 {
		wg.Go(func() {
			text, _, err := streamText(context.Background(), c, "gemini-2.5-flash")
			if err != nil {
				t.Error(err)
			}
			texts <- text
		})
	}
	wg.Wait()
	close(texts)
	count := map[string]int{}
	for s := range texts {
		count[s]++
	}
	if count["scripted"] != n || count["ok"] != 1 {
		t.Errorf("replies %v: want %d scripted and 1 default", count, n)
	}
	if reqs, err := emu.WaitRequests(n+1, time.Second); err != nil || len(reqs) != n+1 {
		t.Errorf("WaitRequests: %d, %v", len(reqs), err)
	}
}

func TestWaitRequestsTimesOut(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	if _, err := emu.WaitRequests(1, 20*time.Millisecond); err == nil {
		t.Error("WaitRequests succeeded with no request")
	}
}

// The emulator's own error bodies must stay the recorded ones.
func TestBuiltInBodiesMatchFixtures(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	emu.SetAPIKey("right")
	for _, tt := range []struct {
		fixture, key, model string
		status              int
	}{
		{"googleai/unary-failure-api-key.json", "wrong", "gemini-2.5-flash", 400},
		{"googleai/unary-failure-unknown-model.json", "right", "no-such-model", 404},
	} {
		want, err := os.ReadFile(geminiemu.FixturePath(t, tt.fixture))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, emu.URL()+"/v1beta/models/"+tt.model+":generateContent", strings.NewReader("{}"))
		req.Header.Set("x-goog-api-key", tt.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, _ = got.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: status %d, body equal %v", tt.fixture, resp.StatusCode, bytes.Equal(got.Bytes(), want))
		}
		if !json.Valid(got.Bytes()) {
			t.Errorf("%s: invalid JSON", tt.fixture)
		}
	}
}
