package gemini_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/geminiemu"
)

// A connection that fails, before the answer or in the middle of it, is
// Gemini unavailable, told by the error genai hands on: a net.Error for
// the transport, io.ErrUnexpectedEOF for a body that ends before its
// declared length, never by its words.
func TestBrokenConnectionIsUnavailable(t *testing.T) {
	const chunk = `data: {"candidates":[{"content":{"parts":[{"text":"The first words"}],"role":"model"}}]}` + "\r\n\r\n"
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Declares more than it sends: net/http ends the connection
		// after the handler, and the client's read of the body fails.
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", "100000")
		_, _ = io.WriteString(w, chunk)
	}))
	defer cut.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()

	tests := []struct {
		name, baseURL, wantText string
		cause                   func(error) bool
	}{
		{"cut in the middle of the stream", cut.URL, "The first words",
			func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"nothing listening", closed, "",
			func(err error) bool { _, ok := errors.AsType[net.Error](err); return ok }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := gemini.DefaultConfig()
			cfg.APIKey, cfg.BaseURL, cfg.RetryDelay = testKey, tt.baseURL, 0
			c, err := gemini.New(context.Background(), cfg, gemini.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			_, err = c.Stream(context.Background(), photoRequest(), func(s string) { text.WriteString(s) })
			if failure.KindOf(err) != failure.Unavailable || !tt.cause(err) {
				t.Errorf("err = %v (kind %v), want Gemini unavailable, with genai's cause kept", err, failure.KindOf(err))
			}
			if text.String() != tt.wantText {
				t.Errorf("text = %q, want %q", text.String(), tt.wantText)
			}
		})
	}
}

// The setting a refusal names is read from Gemini's whole message, not
// from the part of it kept for the log: one named past that is still
// dropped and the request asked again without it.
func TestLongRefusalIsReadWhole(t *testing.T) {
	const model = "gemini-3.7-flash"
	emu := geminiemu.New()
	defer emu.Close()
	emu.AddModel(model)
	message := "Request contains an invalid argument. " + strings.Repeat("See the documentation for the request's fields. ", 10) +
		"Thinking level MINIMAL is not supported for this model."
	emu.Script(geminiemu.Reply{Status: 400, Body: []byte(`{"error":{"code":400,"message":"` + message + `","status":"INVALID_ARGUMENT"}}`)},
		geminiemu.Reply{Text: "ok"})
	c := newClient(t, emu, func(c *gemini.Config) { c.Model, c.Thinking = model, gemini.ThinkingOff })
	var text strings.Builder
	if _, err := c.Stream(context.Background(), photoRequest(), func(s string) { text.WriteString(s) }); err != nil || text.String() != "ok" {
		t.Fatalf("Stream = %q, %v; want the answer asked again without the setting", text.String(), err)
	}
	if r := c.Refusals(); len(r) != 1 || r[0].Setting != "thinking setting" {
		t.Errorf("Refusals() = %+v, want the thinking setting", r)
	}
}
