package geminiemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/visionbot/visionbot/internal/media"

	// The image formats whose size the token accounting reads; another
	// format counts as one 768x768 tile.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
)

// This file is the emulator's model of what Gemini does with a request's
// contents: the settings it refuses, the output limit it applies, the
// grounding it reports, and how it counts tokens. The counts are a model
// of Gemini's accounting, from Google's documented rules, not Gemini's
// own tokenizer:
//
//   - Text: about 4 characters a token ("For Gemini models, a token is
//     equivalent to about 4 characters", ai.google.dev/gemini-api/docs/tokens),
//     rounded up per text part.
//   - Images on Gemini 3 models: a fixed count per image for each media
//     resolution, whatever its size: low 280, medium 560, high 1120, ultra
//     high 2240 (per part only); with none set, images get high's 1120
//     ("Media resolution", ai.google.dev/gemini-api/docs/media-resolution,
//     Token counts; Vertex AI's "Image understanding" page gives Gemini 3's
//     "Default resolution tokens: 1120").
//   - Images on Gemini 2.x models, with no media resolution: 258 tokens
//     for an image whose sides are both at most 384 pixels, otherwise 258
//     per 768x768 tile it is cut into ("Understand and count tokens",
//     ai.google.dev/gemini-api/docs/tokens; the same rule in Firebase's
//     "Supported input files and requirements"). With one: low 64, medium
//     256, high 256 (genai's MediaResolution type, from the API's own
//     description of the field).
//   - "-latest" aliases are taken for the Gemini 3 models they lead to.
//   - Video (an uploaded file, or inline), as internal/media probed it:
//     1 frame a second; a frame 258 tokens on Gemini 2.x (66 at media
//     resolution low), 70 on Gemini 3 (280 at high); the sound track 32
//     tokens a second; the timestamps 7 a second ("Video understanding",
//     ai.google.dev/gemini-api/docs/video-understanding: "approximately
//     300 tokens per second of video at default media resolution, or 100
//     tokens per second at low"; Vertex AI's page for the 7).
//   - Audio: 32 tokens a second ("Audio understanding",
//     ai.google.dev/gemini-api/docs/audio).
//   - PDF: 258 tokens a page on Gemini 2.x ("Document understanding",
//     ai.google.dev/gemini-api/docs/document-processing); on Gemini 3 a
//     page at its media resolution, 280 low, 560 medium and by default,
//     1120 high; at most 1000 pages.
//   - Output: the answer's text and the thought summaries streamed, at
//     about 4 characters a token (outputTokens).
//
// And the inline limits: a request body over GeminiAPIInlineLimit, and an
// inline PDF over PDFInlineLimit, get the front end's 413.

// The Gemini API's documented inline limits: "Inline Data < 100MB" (base64
// included; ai.google.dev/gemini-api/docs/video-understanding), and "PDFs
// are limited to 50MB" inline (ai.google.dev/gemini-api/docs/file-input-methods).
// What Gemini answers an inline PDF over its limit is not documented; the
// emulator answers the front end's 413.
const (
	GeminiAPIInlineLimit = 100_000_000
	PDFInlineLimit       = 50_000_000
)

// Request is the part of a generate call's body the emulator reads, and
// what tests check of what a client sent.
type Request struct {
	Contents          []Turn `json:"contents"`
	SystemInstruction *Turn  `json:"systemInstruction"`
	GenerationConfig  struct {
		MaxOutputTokens int    `json:"maxOutputTokens"` // 0: none sent
		MediaResolution string `json:"mediaResolution"`
		ThinkingConfig  *struct {
			ThinkingBudget *int   `json:"thinkingBudget"`
			ThinkingLevel  string `json:"thinkingLevel"`
		} `json:"thinkingConfig"`
	} `json:"generationConfig"`
	Tools             []map[string]json.RawMessage `json:"tools"`
	ContinuationToken string                       `json:"continuationToken"` // base64
	// files is what the uploaded files of fileData parts are, by URI.
	files map[string]media.Info
}

// Turn is one content of a request: a role and its parts.
type Turn struct {
	Role  string `json:"role"`
	Parts []struct {
		Text       string `json:"text"`
		InlineData *struct {
			MIMEType string `json:"mimeType"`
			Data     string `json:"data"`
		} `json:"inlineData"`
		FileData *struct {
			MIMEType string `json:"mimeType"`
			FileURI  string `json:"fileUri"`
		} `json:"fileData"`
		MediaResolution *struct {
			Level string `json:"level"`
		} `json:"mediaResolution"`
	} `json:"parts"`
}

// Request reads what a recorded generate call asked for; it fails on a
// body that is not a request (or was dropped: DropBodies).
func (r Recorded) Request() (*Request, error) {
	var req Request
	if err := json.Unmarshal(r.Body, &req); err != nil {
		return nil, fmt.Errorf("geminiemu: read the %s request: %w", r.Method, err)
	}
	return &req, nil
}

// parseRequest reads a generate call's body; a body that is no request
// (a test's own bytes) reads as an empty one.
func parseRequest(body []byte) *Request {
	var r Request
	if json.Unmarshal(body, &r) != nil {
		return &Request{}
	}
	return &r
}

// searches reports whether the request turned Google Search grounding on.
func (r *Request) searches() bool {
	for _, tool := range r.Tools {
		if _, ok := tool["googleSearch"]; ok {
			return true
		}
		if _, ok := tool["google_search"]; ok {
			return true
		}
	}
	return false
}

// promptTokens counts the request's input by the rules above.
func promptTokens(model string, r *Request) int {
	n := 0
	turns := r.Contents
	if r.SystemInstruction != nil {
		turns = append([]Turn{*r.SystemInstruction}, turns...)
	}
	for _, t := range turns {
		for _, p := range t.Parts {
			if p.Text != "" {
				n += textTokens(p.Text)
			}
			level := r.GenerationConfig.MediaResolution
			if p.MediaResolution != nil && p.MediaResolution.Level != "" {
				level = p.MediaResolution.Level
			}
			switch {
			case p.FileData != nil:
				n += MediaTokens(model, r.files[p.FileData.FileURI], level)
			case p.InlineData != nil && strings.HasPrefix(p.InlineData.MIMEType, "image/"):
				w, h := imageSize(p.InlineData.Data)
				n += ImageTokens(model, w, h, level)
			case p.InlineData != nil:
				n += MediaTokens(model, probeInline(p.InlineData.Data), level)
			}
		}
	}
	return max(n, 1)
}

// MediaTokens is the emulator's count of a video, an audio clip or a PDF,
// as internal/media probed it, sent to model at a media resolution
// (Gemini's enum name, "" for none): the rules at the top of this file.
// An image counts as one of 768×768.
func MediaTokens(model string, info media.Info, mediaResolution string) int {
	level := strings.TrimPrefix(mediaResolution, "MEDIA_RESOLUTION_")
	g3 := generation3(model)
	secs := int(math.Ceil(info.Duration.Seconds()))
	switch info.Kind {
	case media.KindVideo:
		frame := 258
		switch {
		case g3 && level == "HIGH":
			frame = 280
		case g3:
			frame = 70
		case level == "LOW":
			frame = 66
		}
		n := secs * (frame + 7)
		if info.Audio {
			n += secs * 32
		}
		return n
	case media.KindAudio:
		return secs * 32
	case media.KindDocument:
		page := 258
		if g3 {
			page = map[string]int{"LOW": 280, "HIGH": 1120}[level]
			if page == 0 {
				page = 560
			}
		}
		return min(info.Pages, 1000) * page
	}
	return ImageTokens(model, 768, 768, mediaResolution)
}

// probeInline probes an inline part's base64 bytes.
func probeInline(b64 string) media.Info {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return media.Info{}
	}
	info, _ := media.Probe(bytes.NewReader(data))
	return info
}

// largestPDF is the decoded size of the request's largest inline PDF.
func (r *Request) largestPDF() int {
	n := 0
	for _, t := range r.Contents {
		for _, p := range t.Parts {
			if p.InlineData != nil && p.InlineData.MIMEType == "application/pdf" {
				n = max(n, base64.StdEncoding.DecodedLen(len(p.InlineData.Data)))
			}
		}
	}
	return n
}

// textTokens is about 4 characters a token, rounded up.
func textTokens(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

// imageSize reads a base64 image's dimensions; 768x768 when its format is
// not one the emulator decodes.
func imageSize(b64 string) (w, h int) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err == nil {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
			return cfg.Width, cfg.Height
		}
	}
	return 768, 768
}

// ImageTokens is the emulator's count of one w×h image sent to model at
// a media resolution (Gemini's enum name, "" for none): the rules at the
// top of this file.
func ImageTokens(model string, w, h int, mediaResolution string) int {
	level := strings.TrimPrefix(mediaResolution, "MEDIA_RESOLUTION_")
	if generation3(model) {
		switch level {
		case "LOW":
			return 280
		case "MEDIUM":
			return 560
		case "ULTRA_HIGH":
			return 2240
		default: // HIGH, and the default for images
			return 1120
		}
	}
	switch level {
	case "LOW":
		return 64
	case "MEDIUM", "HIGH":
		return 256
	}
	if w <= 384 && h <= 384 {
		return 258
	}
	tiles := ((w + 767) / 768) * ((h + 767) / 768)
	return tiles * 258
}

// generation3 reports whether model counts images as Gemini 3 does.
func generation3(model string) bool {
	name := path.Base(model)
	rest, ok := strings.CutPrefix(name, "gemini-")
	if !ok {
		return false
	}
	if strings.HasSuffix(name, "-latest") {
		return true
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end <= 0 {
		return false
	}
	major, err := strconv.Atoi(rest[:end])
	return err == nil && major >= 3
}

// refusal is a setting a model refuses, and the message Gemini gives.
type refusal struct {
	thinkingLevel  string // "MINIMAL"; "" with budget nil: any thinking config
	thinkingBudget *int
	media          bool
}

// refuses returns the 400 message Gemini answers when r asks model for
// something it refuses, or "".
func (f refusal) refuses(model string, r *Request) string {
	gc := r.GenerationConfig
	switch {
	case f.media:
		if gc.MediaResolution != "" {
			return "Media resolution is not enabled for models/" + model
		}
		for _, t := range r.Contents {
			for _, p := range t.Parts {
				if p.MediaResolution != nil {
					return "Media resolution is not enabled for models/" + model
				}
			}
		}
	case gc.ThinkingConfig == nil:
	case f.thinkingBudget != nil:
		if b := gc.ThinkingConfig.ThinkingBudget; b != nil && *b == *f.thinkingBudget {
			if *b == 0 {
				return "Budget 0 is invalid. This model only works in thinking mode."
			}
			return fmt.Sprintf("The thinking budget (%d) is invalid.", *b)
		}
	case f.thinkingLevel == "" || strings.EqualFold(gc.ThinkingConfig.ThinkingLevel, f.thinkingLevel):
		level := gc.ThinkingConfig.ThinkingLevel
		if level == "" {
			return "Thinking is not supported for this model."
		}
		return "Thinking level " + level + " is not supported for this model. Please retry with other thinking level."
	}
	return ""
}

// requestTooLargeBody is the shape of the page Google's front end answers
// a request body over its limit with (HTTP 413), not JSON.
const requestTooLargeBody = `<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <title>Error 413 (Request Entity Too Large)!!1</title>
  <p><b>413.</b> <ins>That’s an error.</ins>
  <p>Your client issued a request that was too large.
  <ins>That’s all we know.</ins>
`

// Source is one web page a grounded reply cites.
type Source struct {
	URI   string
	Title string
}

type wireGroundingChunk struct {
	Web struct {
		URI   string `json:"uri"`
		Title string `json:"title,omitempty"`
	} `json:"web"`
}

type wireGrounding struct {
	GroundingChunks  []wireGroundingChunk `json:"groundingChunks"`
	WebSearchQueries []string             `json:"webSearchQueries"`
}

func grounding(sources []Source) *wireGrounding {
	g := &wireGrounding{WebSearchQueries: []string{"visionbot emulator query"}}
	for _, s := range sources {
		var c wireGroundingChunk
		c.Web.URI, c.Web.Title = s.URI, s.Title
		g.GroundingChunks = append(g.GroundingChunks, c)
	}
	return g
}

// answerSpec is what a Text reply becomes for one request.
type answerSpec struct {
	text, thought string
	finish        string
	usage         wireUsage
	grounding     *wireGrounding
}

// shape applies the request to a Text reply: the output limit (thinking
// spends it first, as on Gemini), the counts, and the grounding.
func shape(model string, rep Reply, r *Request) answerSpec {
	spec := answerSpec{text: rep.Text, thought: rep.Thought, finish: "STOP"}
	if limit := r.GenerationConfig.MaxOutputTokens; limit > 0 {
		if t := outputTokens(spec.thought); t > limit {
			spec.thought = cutToTokens(spec.thought, limit)
		}
		left := limit - outputTokens(spec.thought)
		if outputTokens(spec.text) > left {
			spec.text, spec.finish = cutToTokens(spec.text, left), "MAX_TOKENS"
		}
	}
	spec.usage = wireUsage{
		PromptTokenCount:     promptTokens(model, r),
		CandidatesTokenCount: outputTokens(spec.text),
		ThoughtsTokenCount:   outputTokens(spec.thought),
	}
	spec.usage.TotalTokenCount = spec.usage.PromptTokenCount + spec.usage.CandidatesTokenCount + spec.usage.ThoughtsTokenCount
	if len(rep.Sources) > 0 && r.searches() {
		spec.grounding = grounding(rep.Sources)
	}
	return spec
}

// cutToTokens keeps the start of s that outputTokens counts as at most n.
func cutToTokens(s string, n int) string {
	keep := max(n-1, 0) * 4
	runes := []rune(s)
	if len(runes) <= keep {
		return s
	}
	return string(runes[:keep])
}
