package handlers

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/testimage"
)

// recordingObserver keeps every request's figures.
type recordingObserver struct {
	mu  sync.Mutex
	got []Figures
}

func (o *recordingObserver) RequestDone(f Figures) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, f)
}

func TestObserverGetsEachRequestsFigures(t *testing.T) {
	t.Parallel()

	jpegData := testimage.JPEG(t)
	tests := []struct {
		name  string
		msg   Message
		setup func(s *fakeSlack, m *fakeModel)
		check func(t *testing.T, f Figures)
	}{
		{
			name: "an answer: use case, tokens, first token, download",
			msg:  Message{Channel: "C1", TS: "1.1", User: "U1", Text: "recipe", Files: []File{photo("F1")}},
			setup: func(s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.chunks = []string{"Pasta", " al dente."}
			},
			check: func(t *testing.T, f Figures) {
				if f.Trigger != TriggerMention || f.UseCase != "recipe" || f.Outcome != "ok" || f.ModelError != "" {
					t.Errorf("figures = %+v", f)
				}
				if f.TokensIn != 10 || f.TokensOut != 5 || f.TokensThinking != 3 || f.ImageBytes != len(jpegData) {
					t.Errorf("tokens %d/%d/%d, image bytes %d: want the model's usage and the image's size",
						f.TokensIn, f.TokensOut, f.TokensThinking, f.ImageBytes)
				}
				if f.FirstToken <= 0 {
					t.Error("no time to first token although the model wrote text")
				}
			},
		},
		{
			name: "the model fails: its error kind",
			msg:  Message{Channel: "C1", TS: "1.1", User: "U1", Text: "describe", Files: []File{photo("F1")}},
			setup: func(s *fakeSlack, m *fakeModel) {
				s.data[thumbURL("F1", 720)] = jpegData
				m.err = failure.Errorf("gemini stream", failure.Quota, "", nil)
			},
			check: func(t *testing.T, f Figures) {
				if f.Outcome != "quota" || f.ModelError != "quota" || f.FirstToken != 0 {
					t.Errorf("figures = %+v, want outcome and model error quota, no first token", f)
				}
			},
		},
		{
			name: "help: no model",
			msg:  Message{Channel: "C1", TS: "1.1", User: "U1", Text: "help"},
			check: func(t *testing.T, f Figures) {
				if f.Outcome != "help" || f.ModelError != "" || f.TokensIn != 0 {
					t.Errorf("figures = %+v", f)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s, m := newFakeSlack(), &fakeModel{}
			if tt.setup != nil {
				tt.setup(s, m)
			}
			obs := &recordingObserver{}
			now := func() time.Time { return time.Unix(1700000000, 0) }
			New(s.roles(), m, mustCatalog(t), testLogger(), DefaultConfig(), Deps{Observer: obs, Now: now}).Run(context.Background(), mention(tt.msg))
			if len(obs.got) != 1 {
				t.Fatalf("observer called %d times, want once", len(obs.got))
			}
			tt.check(t, obs.got[0])
		})
	}
}
