package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/slackemu"
)

// localFiles writes files into a temporary folder and returns their paths
// by name.
func localFiles(t *testing.T, files map[string][]byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, data := range files {
		paths[name] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[name], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// runCommand runs visionbot with args and only env set, and returns what
// it printed and its exit status.
func runCommand(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err = run(ctx, append([]string{"visionbot"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	if err != nil {
		code = exitCode(err)
	}
	return out.String(), errOut.String(), code, err
}

func TestAnalyze(t *testing.T) {
	t.Parallel()

	files := localFiles(t, map[string][]byte{
		"pasta.png": slackemu.MakePNG(32, 24),
		"menu.pdf":  []byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
		"empty.jpg": nil,
		// 0.6 MB: two are over MAX_REQUEST_MB=1.
		"shot.png": append(slackemu.MakePNG(32, 24), make([]byte, 600<<10)...),
	})
	const answer = "## Pasta\n\nBoil the water, then cook the pasta."
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		// wantOut is the whole of stdout; wantErr are parts of stderr and of
		// the returned error together.
		wantOut string
		wantErr []string
		setup   func(g *geminiemu.Server) // before the scripted answer
		check   func(t *testing.T, g *geminiemu.Server)
	}{
		{
			name:    "an answer streams to stdout, usage to stderr, with no Slack settings",
			args:    []string{"analyze", "-use-case", "recipe", files["pasta.png"], "-q", "for two"},
			wantOut: answer + "\n",
			wantErr: []string{"recipe", "gemini-flash-latest", "tokens in", "out", "thinking"},
			check: func(t *testing.T, g *geminiemu.Server) {
				req := lastStream(t, g)
				if !strings.Contains(strings.ToLower(req.SystemInstruction.Parts[0].Text), "recipe") {
					t.Error("the recipe use case did not reach Gemini")
				}
				parts := req.Contents[0].Parts
				if len(req.Contents) != 1 || parts[0].InlineData == nil || parts[0].InlineData.MIMEType != "image/png" ||
					!strings.Contains(parts[len(parts)-1].Text, "for two") {
					t.Errorf("request = %+v, want the image, then the prompt with the question", req.Contents)
				}
			},
		},
		{
			name:    "the question's first word picks the use case, as in Slack",
			args:    []string{"analyze", "-q", "nutrition per portion?", files["pasta.png"]},
			wantOut: answer + "\n",
			wantErr: []string{"nutrition"},
			check: func(t *testing.T, g *geminiemu.Server) {
				if sys := lastStream(t, g).SystemInstruction.Parts[0].Text; !strings.Contains(strings.ToLower(sys), "nutrition") {
					t.Errorf("system instruction = %.80q…, want the nutrition use case", sys)
				}
			},
		},
		{
			name:    "with GROUNDING=on a grounded use case ends with its sources",
			args:    []string{"analyze", "-use-case", "guide", files["pasta.png"]},
			env:     map[string]string{"GROUNDING": "on"},
			setup:   func(g *geminiemu.Server) { g.Script(geminiemu.Reply{Text: answer, Sources: groundingSources}) },
			wantOut: answer + "\n\nSources: [example.com](https://example.com/tower)\n",
			check: func(t *testing.T, g *geminiemu.Server) {
				if !bytes.Contains(g.Requests()[0].Body, []byte(`"googleSearch"`)) {
					t.Error("no Google Search tool in the request")
				}
			},
		},
		{
			name:    "without GROUNDING the same use case does not search",
			args:    []string{"analyze", "-use-case", "guide", files["pasta.png"]},
			setup:   func(g *geminiemu.Server) { g.Script(geminiemu.Reply{Text: answer, Sources: groundingSources}) },
			wantOut: answer + "\n",
			check: func(t *testing.T, g *geminiemu.Server) {
				if bytes.Contains(g.Requests()[0].Body, []byte(`"googleSearch"`)) {
					t.Error("the Google Search tool was sent with GROUNDING unset")
				}
			},
		},
		{
			name: "a thinking level the model refuses is dropped and said",
			args: []string{"analyze", files["pasta.png"]},
			env:  map[string]string{"GEMINI_MODEL": "gemini-3.7-flash", "GEMINI_THINKING": "off"},
			setup: func(g *geminiemu.Server) {
				g.AddModel("gemini-3.7-flash")
				g.RejectThinkingLevel("gemini-3.7-flash", "MINIMAL")
			},
			wantOut: answer + "\n",
			wantErr: []string{"note: gemini-3.7-flash refused thinkingLevel MINIMAL", "Thinking level MINIMAL is not supported", "GEMINI_THINKING"},
		},
		{
			name:     "a PDF is refused, naming the file",
			args:     []string{"analyze", files["menu.pdf"]},
			wantCode: 1,
			wantErr:  []string{"menu.pdf", "a PDF", "JPEG, PNG"},
		},
		{
			name:     "an empty file",
			args:     []string{"analyze", files["empty.jpg"]},
			wantCode: 1,
			wantErr:  []string{"empty.jpg", "empty file"},
		},
		{
			name:     "a file that does not exist",
			args:     []string{"analyze", filepath.Join(t.TempDir(), "nowhere.jpg")},
			wantCode: 1,
			wantErr:  []string{"nowhere.jpg", "no such file"},
		},
		{
			name:     "no image",
			args:     []string{"analyze", "-q", "what is this?"},
			wantCode: 2,
			wantErr:  []string{"at least one image"},
		},
		{
			name:     "an unknown use case",
			args:     []string{"analyze", "-use-case", "poetry", files["pasta.png"]},
			wantCode: 2,
			wantErr:  []string{`no use case "poetry"`, "recipe"},
		},
		{
			name:     "an unknown flag",
			args:     []string{"analyze", "-x", files["pasta.png"]},
			wantCode: 2,
			wantErr:  []string{"-x"},
		},
		{
			name:     "more images than MAX_IMAGES",
			args:     []string{"analyze", files["pasta.png"], files["pasta.png"]},
			env:      map[string]string{"MAX_IMAGES": "1"},
			wantCode: 2,
			wantErr:  []string{"MAX_IMAGES=1"},
		},
		{
			name:     "images over MAX_REQUEST_MB together: said before Gemini is called",
			args:     []string{"analyze", "-use-case", "code", files["shot.png"], files["shot.png"]},
			env:      map[string]string{"MAX_REQUEST_MB": "1"},
			wantCode: 2,
			wantErr:  []string{"1.2 MB", "MAX_REQUEST_MB=1"},
			check: func(t *testing.T, g *geminiemu.Server) {
				for _, r := range g.Requests() {
					if r.Method == "streamGenerateContent" {
						t.Error("Gemini was called")
					}
				}
			},
		},
		{
			name:     "no Gemini credentials",
			args:     []string{"analyze", files["pasta.png"]},
			env:      map[string]string{"GEMINI_API_KEY": ""},
			wantCode: 2,
			wantErr:  []string{"GEMINI_API_KEY is not set"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			g := geminiemu.New()
			defer g.Close()
			g.SetAPIKey(testAPIKey)
			if tt.setup != nil {
				tt.setup(g)
			}
			g.Script(geminiemu.Reply{Text: answer})
			env := map[string]string{"GEMINI_API_KEY": testAPIKey, "GOOGLE_GEMINI_BASE_URL": g.URL(),
				// Broken Slack and bot settings: analyze reads none of them.
				"SLACK_BOT_TOKEN": "not-a-token", "WORKERS": "many", "LOG_LEVEL": "loud"}
			for k, v := range tt.env {
				env[k] = v
			}
			stdout, stderr, code, err := runCommand(t, env, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit status %d, want %d (error %v, stderr %q)", code, tt.wantCode, err, stderr)
			}
			if tt.wantOut != "" && stdout != tt.wantOut {
				t.Errorf("stdout = %q, want %q", stdout, tt.wantOut)
			}
			said := stderr
			if err != nil {
				said += err.Error()
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(said, w) {
					t.Errorf("stderr and error lack %q:\n%s", w, said)
				}
			}
			if strings.Contains(stdout+said, testAPIKey) {
				t.Error("the API key was printed")
			}
			if tt.check != nil {
				tt.check(t, g)
			}
		})
	}
}

// groundingSources are the pages a scripted grounded answer cites.
var groundingSources = []geminiemu.Source{{URI: "https://example.com/tower", Title: "example.com"}}

// lastStream is the body of the last answer Gemini was asked for.
func lastStream(t *testing.T, g *geminiemu.Server) *geminiemu.Request {
	t.Helper()
	reqs := streamRequests(t, g)
	if len(reqs) == 0 || reqs[len(reqs)-1].SystemInstruction == nil || len(reqs[len(reqs)-1].SystemInstruction.Parts) == 0 {
		t.Fatalf("no answer was asked of Gemini: %+v", g.Requests())
	}
	return reqs[len(reqs)-1]
}
