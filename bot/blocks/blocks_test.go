package blocks

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/visionbot/visionbot/handlers"
)

func TestFooterRoundTrip(t *testing.T) {
	t.Parallel()

	footer := &handlers.Footer{
		Ref:     handlers.AnswerRef{Thread: "1700000000.000100", UseCase: "recipe", Files: []string{"F1", "F2"}},
		Choices: []handlers.Choice{{Name: "describe", Label: "describe: " + strings.Repeat("long ", 30)}, {Name: "recipe", Label: "recipe"}},
	}
	render := func() (string, slack.Msg) {
		t.Helper()
		raw, err := json.Marshal(map[string]any{"type": "message", "ts": "1.2", "blocks": Footer(footer, "")})
		if err != nil {
			t.Fatal(err)
		}
		var msg slack.Msg
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatal(err)
		}
		return string(raw), msg
	}
	s, msg := render()
	got := RefOf(msg.Blocks)
	if got == nil || got.UseCase != "recipe" || got.Thread != footer.Ref.Thread || !slices.Equal(got.Files, []string{"F1", "F2"}) {
		t.Fatalf("read back %+v", got)
	}
	if strings.Contains(s, `"value":"recipe"`) {
		t.Error("the menu offers the use case the answer already used")
	}
	for _, want := range []string{ActionRerun, "Try another use case", `"type":"context_actions"`, `"type":"feedback_buttons"`,
		`"action_id":"` + ActionFeedback + `"`, `"value":"up"`, `"value":"down"`} {
		if !strings.Contains(s, want) {
			t.Errorf("footer lacks %q: %s", want, s)
		}
	}
	// Slack wants new block ids for every version of a message, and the
	// two blocks of one footer differ too.
	ids := map[string]bool{}
	for range 3 {
		_, msg := render()
		for _, b := range msg.Blocks.BlockSet {
			if ids[b.ID()] {
				t.Errorf("block_id %q used twice", b.ID())
			}
			ids[b.ID()] = true
		}
	}
	if len(ids) != 6 {
		t.Errorf("%d block ids in three renderings of two blocks", len(ids))
	}

	many := handlers.AnswerRef{UseCase: "describe"}
	for range 40 {
		many.Files = append(many.Files, "F0123456789")
	}
	if id := EncodeRef(many); len(id) > maxBlockID {
		t.Errorf("block_id of %d characters, Slack allows %d", len(id), maxBlockID)
	}
}

// Block ids the bot reads back: its own, those of older answers (vb1),
// and anything else, which is not the bot's.
func TestDecodeRef(t *testing.T) {
	t.Parallel()

	tests := []struct {
		id   string
		want *handlers.AnswerRef
	}{
		{"vb2|ABCDEFGH|1700000000.000100|recipe|F1,F2", &handlers.AnswerRef{Thread: "1700000000.000100", UseCase: "recipe", Files: []string{"F1", "F2"}}},
		{"vb2|ABCDEFGH||describe|", &handlers.AnswerRef{UseCase: "describe"}},
		{"vb1|nutrition|F9", &handlers.AnswerRef{UseCase: "nutrition", Files: []string{"F9"}}},
		{"vb2|ABCDEFGH|1.2|", nil},
		{"vb2|ABCDEFGH|1.2||F1", nil},
		{"vb1|", nil},
		{"vb-wait|XYZ", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got, ok := DecodeRef(tt.id)
		if ok != (tt.want != nil) {
			t.Errorf("DecodeRef(%q) ok = %v", tt.id, ok)
			continue
		}
		if ok && (got.Thread != tt.want.Thread || got.UseCase != tt.want.UseCase || !slices.Equal(got.Files, tt.want.Files)) {
			t.Errorf("DecodeRef(%q) = %+v, want %+v", tt.id, got, *tt.want)
		}
	}
}

func TestFormsRender(t *testing.T) {
	t.Parallel()

	choices := []handlers.Choice{{Name: "describe", Label: "describe"}, {Name: "code", Label: "code"}}
	tests := []struct {
		form handlers.Form
		want []string
		lack []string
	}{
		{handlers.Form{Kind: handlers.FormAnalyze, Choices: choices, UseCase: "code", Metadata: "m1", MaxQuestion: 500},
			[]string{`"max_length":500`, `"callback_id":"analyze"`, `"private_metadata":"m1"`, `"initial_option":{"text":{"type":"plain_text","text":"code","emoji":false},"value":"code"}`, InputQuestion, `"submit"`},
			[]string{"file_input"}},
		{handlers.Form{Kind: handlers.FormUpload, Choices: choices, UseCase: "describe", Question: "in Go", MaxFiles: 4},
			[]string{`"max_length":3000`, "file_input", `"max_files":4`, `"initial_value":"in Go"`, `"heic"`, `"text":"Image"`},
			// Until the flows take other media, the picker takes images only.
			[]string{`"pdf"`, `"mp4"`, `"m4a"`, `"webm"`}},
		{handlers.Form{Kind: handlers.FormUpload, Choices: choices, Kinds: []string{"pdf"}},
			[]string{`"heic"`, `"pdf"`, `"text":"File"`},
			[]string{`"mp4"`, `"m4a"`}},
		{handlers.Form{Kind: handlers.FormUpload, Choices: choices, Kinds: []string{"video", "audio"}},
			[]string{`"heic"`, `"mov"`, `"mp3"`, `"aac"`},
			[]string{`"pdf"`}},
		{handlers.Form{Kind: handlers.FormNotice, Notice: "no image here"},
			[]string{"no image here"},
			[]string{`"submit"`, InputUseCase}},
	}
	for _, tt := range tests {
		raw, err := json.Marshal(Form(tt.form))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("form %d lacks %s: %s", tt.form.Kind, w, raw)
			}
		}
		for _, l := range tt.lack {
			if strings.Contains(string(raw), l) {
				t.Errorf("form %d has %s: %s", tt.form.Kind, l, raw)
			}
		}
	}
}

// The footer names the request its answer is of, where a run that takes
// the request over finds it, and the reference reads as it did; a footer
// of no request, an older one or another app's block names none.
func TestFooterNamesItsRequest(t *testing.T) {
	t.Parallel()

	ref := handlers.AnswerRef{Thread: "1700000000.000100", UseCase: "recipe", Files: []string{"F1"}}
	read := func(blocks []slack.Block) (string, *handlers.AnswerRef) {
		t.Helper()
		raw, err := json.Marshal(map[string]any{"type": "message", "ts": "1.2", "blocks": blocks})
		if err != nil {
			t.Fatal(err)
		}
		var msg slack.Msg
		if err := json.Unmarshal(raw, &msg); err != nil {
			t.Fatal(err)
		}
		return RequestOf(msg.Blocks), RefOf(msg.Blocks)
	}
	tests := []struct {
		name    string
		blocks  []slack.Block
		request string
	}{
		{"a request's answer", Footer(&handlers.Footer{Ref: ref}, "REQUEST234567ABC"), "REQUEST234567ABC"},
		{"an answer of no request", Footer(&handlers.Footer{Ref: ref}, ""), ""},
		{"an older footer", []slack.Block{slack.NewContextActionsBlock("vb1|recipe|F1")}, ""},
		{"another app's block", []slack.Block{slack.NewContextActionsBlock("vb2x.REQ|1.2|recipe|")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			request, got := read(tt.blocks)
			if request != tt.request {
				t.Errorf("RequestOf = %q, want %q", request, tt.request)
			}
			if tt.request != "" && (got == nil || got.UseCase != "recipe" || got.Thread != ref.Thread) {
				t.Errorf("the reference reads back as %+v", got)
			}
		})
	}
}
