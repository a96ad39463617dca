package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/visionbot/visionbot/internal/testimage"
	"github.com/visionbot/visionbot/internal/vision"
)

// A model request asks for what its use case's file says: the answer's
// budget, how finely to look at the images, and whether to search.
func TestModelRequestCarriesTheUseCaseSettings(t *testing.T) {
	t.Parallel()

	catalog := mustCatalog(t)
	img := []vision.Image{{MIMEType: "image/jpeg", Data: testimage.JPEG(t)}}
	for _, uc := range catalog.All() {
		t.Run(uc.Name, func(t *testing.T) {
			t.Parallel()

			req := ModelRequest(uc, "a question", img, vision.Turn{Role: vision.RoleModel, Text: "earlier"})
			if req.MaxOutputTokens != uc.MaxOutputTokens || req.MaxOutputTokens <= 0 {
				t.Errorf("MaxOutputTokens = %d, want the use case's %d", req.MaxOutputTokens, uc.MaxOutputTokens)
			}
			if req.MediaResolution != uc.MediaResolution || req.Grounding != uc.Grounding {
				t.Errorf("media resolution %q, grounding %v; want the use case's %q, %v",
					req.MediaResolution, req.Grounding, uc.MediaResolution, uc.Grounding)
			}
			if len(req.Turns) != 2 || req.System != uc.System {
				t.Errorf("turns %d, system %q: the conversation is lost", len(req.Turns), req.System)
			}
		})
	}
}

// The request's log line says what the answer cost: input, output and
// thinking tokens apart.
func TestLogLineCarriesTokens(t *testing.T) {
	t.Parallel()

	s, m := newFakeSlack(), &fakeModel{chunks: []string{"Pasta."}}
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	core, logs := observer.New(zap.InfoLevel)
	now := func() time.Time { return time.Unix(1700000000, 0) }
	New(s.roles(), m, mustCatalog(t), zap.New(core), DefaultConfig(), Deps{Now: now}).
		Run(context.Background(), mention(Message{Channel: "C1", TS: "1.1", User: "U1", Text: "recipe", Files: []File{photo("F1")}}))
	lines := logs.FilterMessage("request").All()
	if len(lines) != 1 {
		t.Fatalf("%d request lines, want 1", len(lines))
	}
	fields := lines[0].ContextMap()
	for key, want := range map[string]int64{"tokens_in": 10, "tokens_out": 5, "tokens_thinking": 3} {
		if got, ok := fields[key].(int64); !ok || got != want {
			t.Errorf("%s = %v, want %d", key, fields[key], want)
		}
	}
}

// A grounded answer ends with its sources, each link showing its host; an
// answer without sources gets no such line.
func TestGroundedAnswerEndsWithItsSources(t *testing.T) {
	t.Parallel()

	sources := []vision.Source{
		{URL: "https://vertexaisearch.cloud.google.com/grounding-api-redirect/Ab1", Host: "accuweather.com"},
		{URL: "https://en.wikipedia.org/wiki/Eiffel_Tower_(Paris)", Host: "en.wikipedia.org"},
	}
	const sourcesNote = "\n\nSources: [accuweather.com](https://vertexaisearch.cloud.google.com/grounding-api-redirect/Ab1), " +
		"[en.wikipedia.org](https://en.wikipedia.org/wiki/Eiffel_Tower_%28Paris%29)"
	tests := []struct {
		name    string
		said    string
		sources []vision.Source
		want    string // the end of the answer
	}{
		{"sources", "The tower opens at 9:30.", sources, "The tower opens at 9:30." + sourcesNote},
		{"none", "The tower opens at 9:30.", nil, "The tower opens at 9:30."},
		// The sources are the bot's: their links lead through Google's
		// redirect and show the site it names; only the model's own link
		// is rewritten to show where it goes.
		{"a link of the model's", "Tickets on [the official site](https://evil.example/tickets).", sources,
			"Tickets on the official site ([evil.example](https://evil.example/tickets))." + sourcesNote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			m := &fakeModel{chunks: []string{tt.said}, usage: &vision.Usage{Model: "fake", Sources: tt.sources}}
			newTestFlows(t, s, m).Run(context.Background(),
				mention(Message{Channel: "C1", TS: "1.1", User: "U1", Text: "guide", Files: []File{photo("F1")}}))
			if len(s.replies) != 1 || !strings.HasSuffix(s.replies[0].text, tt.want) {
				t.Errorf("replies %+v, want one ending %q", s.replies, tt.want)
			}
		})
	}
}
