package gemini_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/internal/vision"
)

// cannedStream answers every call at once with a short SSE answer, after
// reading the request's body: what is left to measure is the client's own
// work on a request and its answer.
type cannedStream struct{}

const cannedSSE = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"An omelette.\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":300,\"candidatesTokenCount\":4}}\r\n\r\n"

func (cannedStream) RoundTrip(req *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, req.Body)
	req.Body.Close()
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"text/event-stream"}},
		Body: io.NopCloser(strings.NewReader(cannedSSE)), Request: req,
	}, nil
}

// BenchmarkStreamPhoto is the client's CPU and memory for one question
// about a 96 KB photo, the size of Slack's 720-px thumbnail of a phone
// photo: with the network and the model taken away, what the bot itself
// spends on each request to Gemini.
func BenchmarkStreamPhoto(b *testing.B) {
	cfg := gemini.DefaultConfig()
	cfg.APIKey, cfg.BaseURL = testKey, "http://gemini.invalid"
	c, err := gemini.New(context.Background(), cfg, gemini.Deps{HTTPClient: &http.Client{Transport: cannedStream{}}})
	if err != nil {
		b.Fatal(err)
	}
	photo := make([]byte, 96<<10)
	_, _ = rand.Read(photo) // incompressible, like JPEG data
	req := vision.Request{System: "You are a chef.", Turns: []vision.Turn{{Role: vision.RoleUser,
		Text: "What can I cook with this?", Images: []vision.Image{{MIMEType: "image/jpeg", Data: photo}}}}}
	var text bytes.Buffer
	b.ReportAllocs()
	b.SetBytes(int64(len(photo)))
	for b.Loop() {
		text.Reset()
		if _, err := c.Stream(context.Background(), req, func(s string) { text.WriteString(s) }); err != nil {
			b.Fatal(err)
		}
	}
	if text.String() != "An omelette." {
		b.Fatalf("answer = %q", text.String())
	}
}
