package gemini_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/handlers"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// sentOf is what the adapter sent in a recorded request.
func sentOf(t *testing.T, r geminiemu.Recorded) *geminiemu.Request {
	t.Helper()
	req, err := r.Request()
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// streamAs streams req with model and GEMINI_THINKING set, and returns
// what the emulator received.
func streamAs(t *testing.T, model, thinking string, req vision.Request) *geminiemu.Request {
	t.Helper()
	emu := geminiemu.New()
	defer emu.Close()
	emu.AddModel(model)
	c := newClient(t, emu, func(c *gemini.Config) { c.Model, c.Thinking = model, gemini.Thinking(thinking) })
	if _, err := c.Stream(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	return sentOf(t, emu.Requests()[0])
}

// budgetRequest is photoRequest with an answer budget.
func budgetRequest(tokens int) vision.Request {
	r := photoRequest()
	r.MaxOutputTokens = tokens
	return r
}

// maxOutputTokens is the answer's budget plus what GEMINI_THINKING lets
// thinking spend, which Gemini counts against the same limit.
func TestMaxOutputTokens(t *testing.T) {
	t.Parallel()

	tests := []struct {
		model, thinking string
		answer          int
		want            int // 0: none sent
	}{
		{"gemini-flash-latest", "low", 2048, 2048 + 1024},
		{"gemini-2.5-flash", "off", 2048, 2048},
		{"gemini-2.5-flash", "high", 8192, 8192 + 24576},
		{"gemini-3-flash-preview", "minimal", 1024, 1024 + 512},
		{"gemini-3-flash-preview", "high", 60000, 65536}, // Gemini's own limit
		{"gemini-2.0-flash", "low", 2048, 2048},          // no thinking
		{"gemini-2.5-flash", "low", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.model+"/"+tt.thinking, func(t *testing.T) {
			t.Parallel()
			if got := streamAs(t, tt.model, tt.thinking, budgetRequest(tt.answer)).GenerationConfig.MaxOutputTokens; got != tt.want {
				t.Errorf("maxOutputTokens = %d, want %d", got, tt.want)
			}
		})
	}
}

// sseContinuation is a one-event stream that stops with CONTINUATION and
// a token to resume from.
func sseContinuation(text, token string) geminiemu.Reply {
	b, err := json.Marshal(map[string]any{"candidates": []any{map[string]any{
		"content":           map[string]any{"parts": []any{map[string]any{"text": text}}, "role": "model"},
		"finishReason":      "CONTINUATION",
		"continuationToken": token, // bytes, base64 on the wire
	}}})
	if err != nil {
		panic(err)
	}
	return geminiemu.Reply{Body: append(append([]byte("data: "), b...), "\r\n\r\n"...)}
}

// An answer cut at the output limit is continued once, never more: by
// asking again (MAX_TOKENS) or by resuming with Gemini's token
// (CONTINUATION), never by genai's own unbounded automatic continuation.
func TestAtMostOneContinuation(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		replies    []geminiemu.Reply
		req        vision.Request
		edit       func(*gemini.Config)
		wantText   string
		wantKind   failure.Kind // -1: none
		wantDetail string
		wantCalls  int
		check      func(t *testing.T, reqs []geminiemu.Recorded)
	}{
		{name: "CONTINUATION resumes with its token", wantKind: -1, wantCalls: 2, wantText: "first half, second half",
			replies: []geminiemu.Reply{sseContinuation("first half, ", "dG9rZW4x"), {Text: "second half"}},
			req:     photoRequest(),
			check: func(t *testing.T, reqs []geminiemu.Recorded) {
				first, second := sentOf(t, reqs[0]), sentOf(t, reqs[1])
				if first.ContinuationToken != "" || second.ContinuationToken != "dG9rZW4x" || len(second.Contents) != len(first.Contents) {
					t.Errorf("tokens %q, %q, contents %d, %d: want the same request resumed with the token",
						first.ContinuationToken, second.ContinuationToken, len(first.Contents), len(second.Contents))
				}
			}},
		{name: "a second CONTINUATION is cut off", wantKind: failure.CutOff, wantDetail: "CONTINUATION", wantCalls: 2,
			wantText: "onetwo", req: photoRequest(),
			replies: []geminiemu.Reply{sseContinuation("one", "dDE="), sseContinuation("two", "dDI="), sseContinuation("three", "dDM="), {Text: "never asked"}}},
		{name: "the emulator's output limit, continued once", wantKind: failure.CutOff, wantDetail: "MAX_TOKENS", wantCalls: 2,
			req:  budgetRequest(11),
			edit: func(c *gemini.Config) { c.Model, c.Thinking = "gemini-2.5-flash", gemini.ThinkingOff },
			replies: []geminiemu.Reply{{Text: strings.Repeat("a", 100)}, {Text: strings.Repeat("b", 100)},
				{Text: "never asked"}},
			wantText: strings.Repeat("a", 40) + strings.Repeat("b", 40)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := geminiemu.New()
			defer emu.Close()
			emu.Script(tt.replies...)
			c := newClient(t, emu, tt.edit)
			var text strings.Builder
			_, err := c.Stream(context.Background(), tt.req, func(s string) { text.WriteString(s) })
			if text.String() != tt.wantText {
				t.Errorf("text = %q, want %q", text.String(), tt.wantText)
			}
			if tt.wantKind == -1 && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantKind != -1 && (failure.KindOf(err) != tt.wantKind || failure.DetailOf(err) != tt.wantDetail) {
				t.Errorf("err = %v, want %v %s", err, tt.wantKind, tt.wantDetail)
			}
			reqs := emu.Requests()
			if len(reqs) != tt.wantCalls {
				t.Fatalf("%d requests, want %d", len(reqs), tt.wantCalls)
			}
			if tt.check != nil {
				tt.check(t, reqs)
			}
		})
	}
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 720, 540))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Each use case's media resolution reaches the models that take one, and
// no other; the emulator counts the images by it.
func TestMediaResolutionPerUseCaseAndModel(t *testing.T) {
	t.Parallel()

	catalog, err := prompts.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	wire := map[vision.MediaResolution]string{
		vision.MediaResolutionLow: "MEDIA_RESOLUTION_LOW", vision.MediaResolutionMedium: "MEDIA_RESOLUTION_MEDIUM",
		vision.MediaResolutionHigh: "MEDIA_RESOLUTION_HIGH",
	}
	img := []vision.Image{{MIMEType: "image/png", Data: testPNG(t)}}
	for _, model := range []string{"gemini-flash-latest", "gemini-3-flash-preview", "gemini-2.5-flash", "gemini-2.0-flash", "gemma-3-27b-it"} {
		takes := model != "gemini-2.0-flash" && model != "gemma-3-27b-it"
		for _, uc := range catalog.All() {
			t.Run(model+"/"+uc.Name, func(t *testing.T) {
				t.Parallel()
				emu := geminiemu.New()
				defer emu.Close()
				emu.AddModel(model)
				c := newClient(t, emu, func(c *gemini.Config) { c.Model = model })
				usage, err := c.Stream(context.Background(), handlers.ModelRequest(uc, "", img), nil)
				if err != nil {
					t.Fatal(err)
				}
				want := ""
				if takes {
					want = wire[uc.MediaResolution]
				}
				if got := sentOf(t, emu.Requests()[0]).GenerationConfig.MediaResolution; got != want {
					t.Errorf("mediaResolution = %q, want %q", got, want)
				}
				text := uc.UserPrompt("")
				wantTokens := (len([]rune(uc.System))+3)/4 + (len([]rune(text))+3)/4 + geminiemu.ImageTokens(model, 720, 540, want)
				if usage.InputTokens != wantTokens {
					t.Errorf("input tokens %d, want %d", usage.InputTokens, wantTokens)
				}
			})
		}
	}
	t.Run("no images, no media resolution", func(t *testing.T) {
		t.Parallel()

		emu := geminiemu.New()
		defer emu.Close()
		c := newClient(t, emu, nil)
		req := vision.Request{Turns: []vision.Turn{{Role: vision.RoleUser, Text: "hi"}}, MediaResolution: vision.MediaResolutionHigh}
		if _, err := c.Stream(context.Background(), req, nil); err != nil {
			t.Fatal(err)
		}
		if got := sentOf(t, emu.Requests()[0]).GenerationConfig.MediaResolution; got != "" {
			t.Errorf("mediaResolution = %q for a text-only request", got)
		}
	})
}

// A setting the model refuses (a thinking level or budget, a media
// resolution) costs one retry without it, is logged once, and is left out
// of every request after.
func TestRefusedSettingsAreDroppedOnce(t *testing.T) {
	t.Parallel()

	const model = "gemini-3.7-flash"
	tests := []struct {
		name      string
		thinking  gemini.Thinking
		setup     func(*geminiemu.Server)
		wantCalls int // for the first request
		wantSent  []string
	}{
		{"thinking level", gemini.ThinkingOff, func(s *geminiemu.Server) { s.RejectThinkingLevel(model, "MINIMAL") },
			2, []string{"thinkingLevel MINIMAL"}},
		{"media resolution", gemini.ThinkingLow, func(s *geminiemu.Server) { s.RejectMediaResolution(model) },
			2, []string{"mediaResolution MEDIA_RESOLUTION_LOW"}},
		{"both", gemini.ThinkingOff, func(s *geminiemu.Server) {
			s.RejectThinkingLevel(model, "")
			s.RejectMediaResolution(model)
		}, 3, []string{"thinkingLevel MINIMAL", "mediaResolution MEDIA_RESOLUTION_LOW"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := geminiemu.New()
			defer emu.Close()
			emu.AddModel(model)
			tt.setup(emu)
			core, logs := observer.New(zapcore.WarnLevel)
			c := newClientWith(t, emu, gemini.Deps{Log: zap.New(core)}, func(c *gemini.Config) { c.Model, c.Thinking = model, tt.thinking })
			req := photoRequest()
			req.MediaResolution = vision.MediaResolutionLow
			for i := range 3 {
				var text strings.Builder
				if _, err := c.Stream(context.Background(), req, func(s string) { text.WriteString(s) }); err != nil || text.String() != "ok" {
					t.Fatalf("request %d: %q, %v", i, text.String(), err)
				}
			}
			reqs := emu.Requests()
			if len(reqs) != tt.wantCalls+2 {
				t.Errorf("%d calls for 3 requests, want %d: one retry per refused setting, then none", len(reqs), tt.wantCalls+2)
			}
			last := sentOf(t, reqs[len(reqs)-1])
			for _, s := range tt.wantSent {
				if strings.HasPrefix(s, "thinking") && last.GenerationConfig.ThinkingConfig != nil {
					t.Error("the refused thinking setting is still sent")
				}
				if strings.HasPrefix(s, "media") && last.GenerationConfig.MediaResolution != "" {
					t.Error("the refused media resolution is still sent")
				}
			}
			var got []string
			for _, r := range c.Refusals() {
				got = append(got, r.Sent)
				if r.Message == "" {
					t.Errorf("refusal %+v without Gemini's words", r)
				}
			}
			if !reflect.DeepEqual(got, tt.wantSent) {
				t.Errorf("Refusals() = %v, want %v", got, tt.wantSent)
			}
			if n := logs.FilterMessageSnippet("refused a setting").FilterField(zap.String("model", model)).Len(); n != len(tt.wantSent) {
				t.Errorf("%d warnings, want one per refused setting", n)
			}
		})
	}
}

// A 400 that names a setting the request did not send is no refusal to
// retry: it reaches the caller.
func TestUnsentSettingIsNotRetried(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	emu.AddModel("gemini-2.0-flash")
	emu.Script(geminiemu.Reply{Status: 400, Body: []byte(`{"error":{"code":400,"message":"Thinking is not supported for this model.","status":"INVALID_ARGUMENT"}}`)})
	c := newClient(t, emu, func(c *gemini.Config) { c.Model = "gemini-2.0-flash" }) // no thinking config sent
	_, err := c.Stream(context.Background(), photoRequest(), nil)
	if failure.KindOf(err) != failure.Internal || len(emu.Requests()) != 1 || len(c.Refusals()) != 0 {
		t.Errorf("err %v (%v), %d calls, refusals %v: want one call and the error", err, failure.KindOf(err), len(emu.Requests()), c.Refusals())
	}
}

// visionbot check asks once, with the settings the bot sends, and the
// client keeps what it learned.
func TestCheckSettings(t *testing.T) {
	t.Parallel()

	const model = "gemini-3.7-flash"
	tests := []struct {
		name     string
		setup    func(*geminiemu.Server)
		want     []string
		wantKind failure.Kind // -1: no error
	}{
		{"all taken", func(*geminiemu.Server) {}, nil, -1},
		{"thinking refused", func(s *geminiemu.Server) { s.RejectThinkingLevel(model, "MINIMAL") }, []string{"thinking setting"}, -1},
		{"media resolution refused", func(s *geminiemu.Server) { s.RejectMediaResolution(model) }, []string{"media resolution"}, -1},
		{"another failure", func(s *geminiemu.Server) { s.SetAPIKey("other") }, nil, failure.ModelAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			emu := geminiemu.New()
			defer emu.Close()
			emu.AddModel(model)
			tt.setup(emu)
			c := newClient(t, emu, func(c *gemini.Config) { c.Model, c.Thinking = model, gemini.ThinkingOff })
			refusals, err := c.CheckSettings(context.Background())
			if tt.wantKind == -1 && err != nil || tt.wantKind != -1 && failure.KindOf(err) != tt.wantKind {
				t.Fatalf("err = %v, want kind %v", err, tt.wantKind)
			}
			var got []string
			for _, r := range refusals {
				got = append(got, r.Setting)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("refusals %v, want %v", got, tt.want)
			}
			first := sentOf(t, emu.Requests()[0])
			if first.GenerationConfig.ThinkingConfig == nil || first.GenerationConfig.MediaResolution == "" || first.GenerationConfig.MaxOutputTokens == 0 {
				t.Errorf("the check sent %+v, want the bot's thinking, a media resolution and a small budget", first.GenerationConfig)
			}
			if tt.wantKind == -1 && len(emu.Requests()) != 1+len(tt.want) {
				t.Errorf("%d calls, want one and one more per refusal", len(emu.Requests()))
			}
		})
	}
}

// A request over Gemini's size limit is its own failure, never retried:
// the front end's 413, and the API's own 400 for an oversized payload.
func TestRequestTooLarge(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		setup func(*geminiemu.Server)
	}{
		{"413 from the front end", func(s *geminiemu.Server) { s.SetRequestLimit(100) }},
		{"400 payload size", func(s *geminiemu.Server) {
			s.Script(geminiemu.Reply{Status: 400, Body: []byte(`{"error":{"code":400,"message":"Request payload size exceeds the limit: 20971520 bytes.","status":"INVALID_ARGUMENT"}}`)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			emu := geminiemu.New()
			defer emu.Close()
			tt.setup(emu)
			c := newClient(t, emu, nil)
			_, err := c.Stream(context.Background(), photoRequest(), nil)
			if failure.KindOf(err) != failure.RequestTooLarge || len(emu.Requests()) != 1 {
				t.Errorf("err %v (%v) after %d calls, want RequestTooLarge after one", err, failure.KindOf(err), len(emu.Requests()))
			}
			if len(err.Error()) > 600 || strings.Contains(err.Error(), "\n") {
				t.Errorf("error text %d bytes: %q, want one short line", len(err.Error()), err)
			}
		})
	}
	// Measured with the encoder the request's JSON uses, not the 4/3 the
	// constant is written with: padding included, the budget's bytes leave
	// 1 MB of the limit for the JSON around them.
	if encoded := base64.StdEncoding.EncodedLen(gemini.InlineImageBudget); encoded+1_000_000 > gemini.InlineRequestLimit {
		t.Errorf("InlineImageBudget %d is %d bytes base64-encoded: over InlineRequestLimit %d with 1 MB for the JSON",
			gemini.InlineImageBudget, encoded, gemini.InlineRequestLimit)
	}
}

// A use case that asks for grounding gets Google Search only when the
// operator allows it, and the answer's sources come back with the host a
// reader should see, even behind Google's redirects.
func TestGrounding(t *testing.T) {
	t.Parallel()

	const redirect = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/AbF9wXHS4dq"
	sources := []geminiemu.Source{
		{URI: redirect + "1", Title: "accuweather.com"},
		{URI: "https://www.google.com/search?q=weather+in+London", Title: "Weather information for locality: London"},
		{URI: redirect + "1", Title: "accuweather.com"}, // a repeat
		{URI: redirect + "2", Title: "Opening hours and tickets"},
	}
	wantSources := []vision.Source{
		{URL: redirect + "1", Host: "accuweather.com", Title: "accuweather.com"},
		{URL: "https://www.google.com/search?q=weather+in+London", Host: "google.com", Title: "Weather information for locality: London"},
		{URL: redirect + "2", Host: "vertexaisearch.cloud.google.com", Title: "Opening hours and tickets"},
	}
	tests := []struct {
		operator, useCase bool
		wantSearch        bool
	}{
		{true, true, true},
		{false, true, false},
		{true, false, false},
	}
	for _, tt := range tests {
		emu := geminiemu.New()
		emu.Script(geminiemu.Reply{Text: "The Eiffel Tower opens at 9:30.", Sources: sources})
		c := newClient(t, emu, func(c *gemini.Config) { c.Grounding = gemini.Grounding(tt.operator) })
		req := photoRequest()
		req.Grounding = tt.useCase
		usage, err := c.Stream(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		tools := sentOf(t, emu.Requests()[0]).Tools
		emu.Close()
		searched := len(tools) == 1 && tools[0]["googleSearch"] != nil
		if searched != tt.wantSearch || (!tt.wantSearch && len(tools) != 0) {
			t.Errorf("operator %v, use case %v: tools %v, want google search %v", tt.operator, tt.useCase, tools, tt.wantSearch)
		}
		want := wantSources
		if !tt.wantSearch {
			want = nil
		}
		if !reflect.DeepEqual(usage.Sources, want) {
			t.Errorf("operator %v, use case %v: sources %+v, want %+v", tt.operator, tt.useCase, usage.Sources, want)
		}
	}
}

// Thinking is counted apart from the answer's text.
func TestThinkingTokens(t *testing.T) {
	t.Parallel()

	emu := geminiemu.New()
	defer emu.Close()
	emu.Script(geminiemu.Reply{Text: strings.Repeat("a", 40), Thought: strings.Repeat("t", 400)})
	c := newClient(t, emu, nil)
	usage, err := c.Stream(context.Background(), photoRequest(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if usage.OutputTokens != 11 || usage.ThinkingTokens != 101 || usage.InputTokens == 0 || usage.Total() != usage.InputTokens+112 {
		t.Errorf("usage %+v: want 11 output and 101 thinking tokens", usage)
	}
}
