package handlers

import (
	"testing"

	"github.com/visionbot/visionbot/internal/vision"
)

// A model request asks for what its use case's file says: the answer's
// budget, how finely to look at the images, and whether to search.
func TestModelRequestCarriesTheUseCaseSettings(t *testing.T) {
	catalog := mustCatalog(t)
	img := []vision.Image{{MIMEType: "image/jpeg", Data: testJPEG(t)}}
	for _, uc := range catalog.All() {
		t.Run(uc.Name, func(t *testing.T) {
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
