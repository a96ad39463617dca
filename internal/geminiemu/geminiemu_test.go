package geminiemu_test

// These tests drive the emulator with the real genai client, the only
// client it has to satisfy; production code reaches genai only through the
// gemini package.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"net/http"
	"os"
	"reflect"
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

// newClient is a Gemini API client of emu under v1beta, the version the
// gemini package pins (genai's default is v1 since v1.78).
func newClient(t *testing.T, emu *geminiemu.Server, key string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      key,
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  &http.Client{},
		HTTPOptions: genai.HTTPOptions{BaseURL: emu.URL(), APIVersion: "v1beta"},
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
	t.Parallel()

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
	t.Parallel()

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
	t.Parallel()

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
	t.Parallel()

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
			t.Parallel()

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
	t.Parallel()

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
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	// A caller-supplied HTTP client keeps genai from looking up Application
	// Default Credentials, which a test machine does not have.
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		Backend: genai.BackendVertexAI, Project: "proj", Location: "us-central1",
		HTTPClient: &http.Client{}, HTTPOptions: genai.HTTPOptions{BaseURL: emu.URL(), APIVersion: "v1beta1"},
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

// The emulator serves the API versions the real services do, and the
// -latest aliases only where the Gemini API has them (v1beta), so that a
// client whose default version moved fails here as it would on Google.
func TestAPIVersions(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	tests := []struct {
		vertex         bool
		version, model string
		wantErr        bool
		wantMessage    string // in the 404's message
		wantRoute      bool   // recorded with its method
	}{
		{version: "v1beta", model: "gemini-flash-latest", wantRoute: true},
		{version: "v1", model: "gemini-2.5-flash", wantRoute: true},
		{version: "v1", model: "gemini-flash-latest", wantErr: true, wantRoute: true,
			wantMessage: "models/gemini-flash-latest is not found for API version v1, or is not supported for generateContent"},
		{version: "v1beta1", model: "gemini-2.5-flash", wantErr: true, wantMessage: "Method not found."},
		{version: "v2", model: "gemini-2.5-flash", wantErr: true, wantMessage: "Method not found."},
		{vertex: true, version: "v1beta1", model: "gemini-2.5-flash", wantRoute: true},
		{vertex: true, version: "v1", model: "gemini-2.5-flash", wantRoute: true},
		{vertex: true, version: "v1beta1", model: "gemini-flash-latest", wantErr: true, wantRoute: true,
			wantMessage: "is not found for API version v1beta1"},
		{vertex: true, version: "v1beta", model: "gemini-2.5-flash", wantErr: true, wantMessage: "Method not found."},
	}
	for _, tt := range tests {
		name := "gemini/"
		if tt.vertex {
			name = "vertex/"
		}
		t.Run(name+tt.version+"/"+tt.model, func(t *testing.T) {
			cc := &genai.ClientConfig{
				APIKey: "k", Backend: genai.BackendGeminiAPI,
				HTTPClient: &http.Client{}, HTTPOptions: genai.HTTPOptions{BaseURL: emu.URL(), APIVersion: tt.version},
			}
			if tt.vertex {
				cc.APIKey, cc.Backend, cc.Project, cc.Location = "", genai.BackendVertexAI, "proj", "us-central1"
			}
			c, err := genai.NewClient(context.Background(), cc)
			if err != nil {
				t.Fatal(err)
			}
			before := len(emu.Requests())
			_, _, err = streamText(context.Background(), c, tt.model)
			if !tt.wantErr {
				if err != nil {
					t.Fatal(err)
				}
			} else if e := apiError(t, err); e.Code != 404 || e.Status != "NOT_FOUND" || !strings.Contains(e.Message, tt.wantMessage) {
				t.Errorf("error = %d %s %q, want 404 NOT_FOUND with %q", e.Code, e.Status, e.Message, tt.wantMessage)
			}
			reqs := emu.Requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d requests recorded, want 1", len(reqs))
			}
			r := reqs[0]
			if !strings.HasPrefix(r.Path, "/"+tt.version+"/") || r.Version != tt.version || r.Model != tt.model {
				t.Errorf("recorded %s as version %q model %q", r.Path, r.Version, r.Model)
			}
			if gotRoute := r.Method == "streamGenerateContent"; gotRoute != tt.wantRoute {
				t.Errorf("recorded method %q, want a route: %v", r.Method, tt.wantRoute)
			}
		})
	}
}

func TestDelaysAndHang(t *testing.T) {
	t.Parallel()

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
	t.Parallel()

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
	t.Parallel()

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
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	if _, err := emu.WaitRequests(1, 20*time.Millisecond); err == nil {
		t.Error("WaitRequests succeeded with no request")
	}
}

// The emulator's own error bodies must stay the recorded ones.
func TestBuiltInBodiesMatchFixtures(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	emu.SetAPIKey("right")
	for _, tt := range []struct {
		fixture, key, version, model string
		status                       int
	}{
		{"googleai/unary-failure-api-key.json", "wrong", "v1beta", "gemini-2.5-flash", 400},
		// The model and version the fixture was recorded with: the body
		// names those of the request.
		{"googleai/unary-failure-unknown-model.json", "right", "v1", "gemini-5.0-flash", 404},
	} {
		want, err := os.ReadFile(geminiemu.FixturePath(t, tt.fixture))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, emu.URL()+"/"+tt.version+"/models/"+tt.model+":generateContent", strings.NewReader("{}"))
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

// Gemini's documented image token rules, as the emulator counts them.
func TestImageTokens(t *testing.T) {
	t.Parallel()

	tests := []struct {
		model      string
		w, h       int
		resolution string
		want       int
	}{
		// Gemini 3: a fixed count per media resolution; none is high.
		{"gemini-3-flash-preview", 4032, 3024, "", 1120},
		{"gemini-3-flash-preview", 200, 200, "MEDIA_RESOLUTION_LOW", 280},
		{"gemini-3-flash-preview", 720, 540, "MEDIA_RESOLUTION_MEDIUM", 560},
		{"gemini-3-flash-preview", 720, 540, "MEDIA_RESOLUTION_HIGH", 1120},
		{"gemini-3.7-flash", 720, 540, "MEDIA_RESOLUTION_ULTRA_HIGH", 2240},
		{"gemini-flash-latest", 720, 540, "MEDIA_RESOLUTION_LOW", 280},
		// Gemini 2.x: 258 per 768x768 tile, one for a small image.
		{"gemini-2.5-flash", 384, 384, "", 258},
		{"gemini-2.5-flash", 720, 540, "", 258},
		{"gemini-2.5-flash", 1024, 768, "", 2 * 258},
		{"gemini-2.5-flash", 4032, 3024, "", 6 * 4 * 258},
		{"gemini-2.5-flash", 4032, 3024, "MEDIA_RESOLUTION_LOW", 64},
		{"gemini-2.5-flash", 4032, 3024, "MEDIA_RESOLUTION_MEDIUM", 256},
		{"gemini-2.5-flash", 4032, 3024, "MEDIA_RESOLUTION_HIGH", 256},
	}
	for _, tt := range tests {
		if got := geminiemu.ImageTokens(tt.model, tt.w, tt.h, tt.resolution); got != tt.want {
			t.Errorf("ImageTokens(%s, %dx%d, %q) = %d, want %d", tt.model, tt.w, tt.h, tt.resolution, got, tt.want)
		}
	}
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The usage a request gets counts its text and images as Gemini does, and
// its answer and thoughts as streamed.
func TestUsageFromTheRequest(t *testing.T) {
	t.Parallel()

	photo := pngOf(t, 1000, 800)
	system := strings.Repeat("s", 40) // 10 tokens
	prompt := strings.Repeat("p", 21) // 6 tokens
	tests := []struct {
		model      string
		resolution genai.MediaResolution
		wantPrompt int
	}{
		{"gemini-2.5-flash", "", 10 + 6 + 2*2*258},
		{"gemini-2.5-flash", genai.MediaResolutionLow, 10 + 6 + 64},
		{"gemini-3-flash-preview", "", 10 + 6 + 1120},
		{"gemini-3-flash-preview", genai.MediaResolutionMedium, 10 + 6 + 560},
	}
	for _, tt := range tests {
		t.Run(tt.model+"/"+string(tt.resolution), func(t *testing.T) {
			t.Parallel()

			emu := geminiemu.New()
			defer emu.Close()
			emu.Script(geminiemu.Reply{Text: strings.Repeat("a", 40), Thought: strings.Repeat("t", 80)})
			c := newClient(t, emu, "k")
			contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{
				genai.NewPartFromBytes(photo, "image/png"), genai.NewPartFromText(prompt)}, genai.RoleUser)}
			var last *genai.GenerateContentResponse
			var thought string
			for resp, err := range c.Models.GenerateContentStream(context.Background(), tt.model, contents, &genai.GenerateContentConfig{
				SystemInstruction: genai.NewContentFromText(system, genai.RoleUser), MediaResolution: tt.resolution,
			}) {
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range resp.Candidates[0].Content.Parts {
					if p.Thought {
						thought += p.Text
					}
				}
				last = resp
			}
			u := last.UsageMetadata
			if u.PromptTokenCount != int32(tt.wantPrompt) || u.CandidatesTokenCount != 11 || u.ThoughtsTokenCount != 21 {
				t.Errorf("usage prompt %d, candidates %d, thoughts %d; want %d, 11, 21",
					u.PromptTokenCount, u.CandidatesTokenCount, u.ThoughtsTokenCount, tt.wantPrompt)
			}
			if thought == "" {
				t.Error("no thought summary streamed")
			}
		})
	}
}

// maxOutputTokens cuts an answer as Gemini does, thinking spending it
// first, and ReadRequests(false) leaves the reply as scripted.
func TestOutputLimit(t *testing.T) {
	t.Parallel()

	text := strings.Repeat("word ", 40) // 200 characters: 51 tokens
	tests := []struct {
		name       string
		limit      int32
		thought    string
		read       bool
		wantFinish genai.FinishReason
		wantMaxLen int
	}{
		{"under the limit", 100, "", true, genai.FinishReasonStop, len(text)},
		{"over the limit", 20, "", true, genai.FinishReasonMaxTokens, 19 * 4},
		{"thinking spends it first", 30, strings.Repeat("t", 76), true, genai.FinishReasonMaxTokens, 10 * 4},
		{"thinking spends it all", 10, strings.Repeat("t", 400), true, genai.FinishReasonMaxTokens, 0},
		{"not read", 20, "", false, genai.FinishReasonStop, len(text)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			emu := geminiemu.New()
			defer emu.Close()
			emu.ReadRequests(tt.read)
			emu.Script(geminiemu.Reply{Text: text, Thought: tt.thought})
			c := newClient(t, emu, "k")
			var got strings.Builder
			var finish genai.FinishReason
			for resp, err := range c.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("hi"),
				&genai.GenerateContentConfig{MaxOutputTokens: tt.limit}) {
				if err != nil {
					t.Fatal(err)
				}
				got.WriteString(resp.Text())
				if f := resp.Candidates[0].FinishReason; f != "" {
					finish = f
				}
			}
			if finish != tt.wantFinish || got.Len() > tt.wantMaxLen || !strings.HasPrefix(text, got.String()) {
				t.Errorf("finish %s, %d characters; want %s and at most %d characters of the reply", finish, got.Len(), tt.wantFinish, tt.wantMaxLen)
			}
		})
	}
}

// A model refuses the thinking settings and media resolution it was told
// to, with Gemini's 400, before taking a scripted reply.
func TestRefusedSettings(t *testing.T) {
	t.Parallel()

	budget := func(n int32) *genai.ThinkingConfig { return &genai.ThinkingConfig{ThinkingBudget: &n} }
	tests := []struct {
		name     string
		setup    func(*geminiemu.Server)
		config   *genai.GenerateContentConfig
		wantCode int
		wantMsg  string
	}{
		{"level refused", func(s *geminiemu.Server) { s.RejectThinkingLevel("gemini-3.7-flash", "MINIMAL") },
			&genai.GenerateContentConfig{ThinkingConfig: &genai.ThinkingConfig{ThinkingLevel: genai.ThinkingLevelMinimal}},
			400, "Thinking level MINIMAL is not supported for this model"},
		{"another level taken", func(s *geminiemu.Server) { s.RejectThinkingLevel("gemini-3.7-flash", "MINIMAL") },
			&genai.GenerateContentConfig{ThinkingConfig: &genai.ThinkingConfig{ThinkingLevel: genai.ThinkingLevelLow}}, 0, ""},
		{"budget 0 refused", func(s *geminiemu.Server) { s.RejectThinkingBudget("gemini-3.7-flash", 0) },
			&genai.GenerateContentConfig{ThinkingConfig: budget(0)}, 400, "Budget 0 is invalid"},
		{"another budget taken", func(s *geminiemu.Server) { s.RejectThinkingBudget("gemini-3.7-flash", 0) },
			&genai.GenerateContentConfig{ThinkingConfig: budget(512)}, 0, ""},
		{"media resolution refused", func(s *geminiemu.Server) { s.RejectMediaResolution("gemini-3.7-flash") },
			&genai.GenerateContentConfig{MediaResolution: genai.MediaResolutionLow}, 400, "Media resolution is not enabled for models/gemini-3.7-flash"},
		{"no media resolution taken", func(s *geminiemu.Server) { s.RejectMediaResolution("gemini-3.7-flash") },
			&genai.GenerateContentConfig{}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			emu := geminiemu.New()
			defer emu.Close()
			emu.AddModel("gemini-3.7-flash")
			tt.setup(emu)
			emu.Script(geminiemu.Reply{Text: "scripted"})
			c := newClient(t, emu, "k")
			resp, err := c.Models.GenerateContent(context.Background(), "gemini-3.7-flash", genai.Text("hi"), tt.config)
			if tt.wantCode == 0 {
				if err != nil || resp.Text() != "scripted" {
					t.Fatalf("text %v, err %v", resp, err)
				}
				return
			}
			if e := apiError(t, err); e.Code != tt.wantCode || e.Status != "INVALID_ARGUMENT" || !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("error %v, want %d INVALID_ARGUMENT %q", e, tt.wantCode, tt.wantMsg)
			}
			// A refused request takes no reply from the script.
			if resp, err := c.Models.GenerateContent(context.Background(), "gemini-3.7-flash", genai.Text("hi"), nil); err != nil || resp.Text() != "scripted" {
				t.Errorf("after a refusal: %v, %v", resp, err)
			}
		})
	}
}

// A body over the limit gets the front end's 413, which is no JSON.
func TestRequestLimit(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	emu.SetRequestLimit(1000)
	c := newClient(t, emu, "k")
	_, err := c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text(strings.Repeat("x", 2000)), nil)
	if e := apiError(t, err); e.Code != 413 || !strings.Contains(e.Message, "too large") {
		t.Errorf("error %v, want 413 with the front end's page", e)
	}
	if _, err := c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", genai.Text("small"), nil); err != nil {
		t.Errorf("a small request: %v", err)
	}
}

// A grounded reply carries its sources on the last chunk, and only when
// the request turned Google Search on.
func TestGroundingMetadata(t *testing.T) {
	t.Parallel()

	sources := []geminiemu.Source{{URI: "https://example.com/a", Title: "example.com"}, {URI: "https://example.org/b", Title: "example.org"}}
	for _, search := range []bool{true, false} {
		emu := geminiemu.New()
		emu.Script(geminiemu.Reply{Text: "grounded answer", Sources: sources})
		c := newClient(t, emu, "k")
		config := &genai.GenerateContentConfig{}
		if search {
			config.Tools = []*genai.Tool{{GoogleSearch: &genai.GoogleSearch{}}}
		}
		var metas []*genai.GroundingMetadata
		var finishedWith *genai.GroundingMetadata
		for resp, err := range c.Models.GenerateContentStream(context.Background(), "gemini-2.5-flash", genai.Text("hi"), config) {
			if err != nil {
				t.Fatal(err)
			}
			cand := resp.Candidates[0]
			if cand.GroundingMetadata != nil {
				metas = append(metas, cand.GroundingMetadata)
			}
			if cand.FinishReason != "" {
				finishedWith = cand.GroundingMetadata
			}
		}
		emu.Close()
		if !search {
			if len(metas) != 0 {
				t.Errorf("grounding metadata without the search tool: %+v", metas)
			}
			continue
		}
		if len(metas) != 1 || finishedWith == nil || len(finishedWith.GroundingChunks) != 2 ||
			finishedWith.GroundingChunks[1].Web.URI != "https://example.org/b" || len(finishedWith.WebSearchQueries) == 0 {
			t.Errorf("grounding metadata %+v, want the two sources on the last chunk only", metas)
		}
	}
}

// usageShape is where a stream's chunks carry counts: which of the prompt
// and the answer's counts the chunks before the last carry, and the last.
type usageShape struct {
	before map[[2]bool]bool // {prompt counted, answer counted} of the chunks before the last
	last   [2]bool
}

func shapeOf(t *testing.T, c *genai.Client, model string) usageShape {
	t.Helper()
	var chunks []*genai.GenerateContentResponse
	for resp, err := range c.Models.GenerateContentStream(context.Background(), model, genai.Text("hi"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, resp)
	}
	if len(chunks) < 2 {
		t.Fatalf("%d chunks, want several", len(chunks))
	}
	counted := func(r *genai.GenerateContentResponse) [2]bool {
		u := r.UsageMetadata
		if u == nil {
			return [2]bool{}
		}
		return [2]bool{u.PromptTokenCount > 0, u.CandidatesTokenCount > 0}
	}
	s := usageShape{before: map[[2]bool]bool{}, last: counted(chunks[len(chunks)-1])}
	for _, r := range chunks[:len(chunks)-1] {
		s.before[counted(r)] = true
	}
	return s
}

// A streamed answer reports its usage as the recorded streams of each
// service do: the Gemini API counts the prompt on every chunk and the
// answer only on the last, Vertex AI counts nothing before the last. A
// client that read an answer's count before its end would be wrong on
// Google (a stream cut near its end has no count of its answer).
func TestStreamUsageAsRecorded(t *testing.T) {
	gemini := func(t *testing.T, emu *geminiemu.Server) *genai.Client { return newClient(t, emu, "k") }
	vertex := func(t *testing.T, emu *geminiemu.Server) *genai.Client {
		c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
			Backend: genai.BackendVertexAI, Project: "proj", Location: "us-central1",
			HTTPClient: &http.Client{}, HTTPOptions: genai.HTTPOptions{BaseURL: emu.URL(), APIVersion: "v1beta1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name     string
		client   func(*testing.T, *geminiemu.Server) *genai.Client
		recorded string
	}{
		{"Gemini API", gemini, "googleai/streaming-success-basic-reply-long.txt"},
		{"Gemini API, a short answer", gemini, "googleai/streaming-success-basic-reply-short.txt"},
		{"Vertex AI", vertex, "vertexai/streaming-success-basic-reply-long.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := geminiemu.New()
			defer emu.Close()
			c := tt.client(t, emu)
			emu.Script(geminiemu.FixtureReply(t, tt.recorded),
				geminiemu.Reply{Text: strings.Repeat("A long answer, in words. ", 20), Chunks: 6},
				geminiemu.Reply{Text: strings.Repeat("A long answer, in words. ", 20), Thought: "Thinking first.", Chunks: 6})
			want := shapeOf(t, c, "gemini-2.5-flash")
			for _, what := range []string{"an answer", "an answer with a thought summary"} {
				if got := shapeOf(t, c, "gemini-2.5-flash"); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: chunks count %+v, want %+v as recorded in %s", what, got, want, tt.recorded)
				}
			}
		})
	}
}

// HangAfter sends the start of a stream and stalls before its end, until
// the client gives up: what a Stop or a timeout near the end meets.
func TestHangAfter(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k")
	emu.Script(geminiemu.Reply{Text: "one two three four", Chunks: 4, HangAfter: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var text strings.Builder
	var last *genai.GenerateContentResponse
	var err error
	chunks := 0
	for resp, e := range c.Models.GenerateContentStream(ctx, "gemini-2.5-flash", genai.Text("hi"), nil) {
		if e != nil {
			err = e
			break
		}
		last = resp
		text.WriteString(resp.Text())
		if chunks++; chunks == 3 {
			if err := emu.WaitStalled(1, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			cancel()
		}
	}
	if err == nil || text.String() != "one two three" {
		t.Fatalf("text %q, err %v; want three chunks, then the cancel", text.String(), err)
	}
	if last.Candidates[0].FinishReason != "" || last.UsageMetadata.CandidatesTokenCount != 0 {
		t.Errorf("the last chunk read = %+v, want no finish and no count of the answer", last)
	}
}
