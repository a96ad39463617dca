package handlers

import (
	"encoding/json"
	"flag"
	"path/filepath"
	"testing"

	"github.com/visionbot/visionbot/internal/golden"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The texts people read about the bot, whole, with the built-in catalog:
// help, what happens to their photos (for each backend), the Home tab's
// content and the answer to /analyze without a photo. A change to any
// shows as a diff of its file under testdata (go test -update rewrites them).
func TestTextsGolden(t *testing.T) {
	t.Parallel()
	vertex := DefaultConfig()
	vertex.VertexAI, vertex.Backend = true, "Vertex AI (project p, europe-west4)"
	noReactions := DefaultConfig()
	noReactions.Reactions = Reactions{}
	flows := func(cfg Config) *Flows {
		return New(newFakeSlack().roles(), &fakeModel{}, mustCatalog(t), testLogger(), cfg, Deps{})
	}
	home := func(h *Flows) string {
		b, err := json.MarshalIndent(h.home(), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name string
		text string
	}{
		{"help", flows(DefaultConfig()).helpText()},
		{"help-without-reactions", flows(noReactions).helpText()},
		{"privacy-gemini-api", flows(DefaultConfig()).privacyText()},
		{"privacy-vertex-ai", flows(vertex).privacyText()},
		{"home", home(flows(DefaultConfig()))},
		{"no-recent-photo", flows(DefaultConfig()).noRecentPhotoText()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			golden.Check(t, filepath.Join("testdata", tt.name+".golden"), []byte(tt.text+"\n"), *update)
		})
	}
}
