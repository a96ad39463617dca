package gemini

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/genai"

	"github.com/visionbot/visionbot/internal/vision"
)

const (
	// InlineRequestLimit is the largest request body, inline images
	// base64-encoded included, that this adapter counts on Gemini taking:
	// 20 MB. Google documented "If your total request, including files and
	// instructions, exceeds 20MB, use the File API" for years, and the
	// Vertex AI in Firebase docs still say "the maximum total request size
	// is 20 MB. You get an HTTP 413 error if a request is too large"
	// (firebase.google.com/docs/vertex-ai/input-file-requirements). The
	// Gemini API raised its inline limit to 100 MB in January 2026 (blog.google,
	// "Increased file size limits and expanded inputs support in Gemini
	// API": "from 20MB to 100MB (base64 encoded, with varying limits based
	// on data types)"), but Vertex AI still takes at most 7 MB per inline
	// image (cloud.google.com, "Image understanding"), and a proxy in front
	// of either may hold the old figure: 20 MB is what every path takes.
	// Written in decimal megabytes, the smaller reading of "20 MB".
	InlineRequestLimit = 20_000_000
	// InlineImageBudget is how many image bytes fit in one request under
	// InlineRequestLimit: base64 writes 4 bytes for every 3, and 1 MB is
	// left for the JSON around them (prompts, a thread's earlier turns, the
	// configuration). A default for the bound on a request's images
	// (MAX_REQUEST_MB) belongs under it.
	InlineImageBudget = (InlineRequestLimit - 1_000_000) / 4 * 3
)

// requestConfig is the configuration of one request: what the use case
// asks for, less the settings this model refused.
//
// Nothing in genai repeats a request behind this adapter's back:
//   - genai's GenerateContentStream continues an answer that ends with
//     finish reason CONTINUATION by sending the whole request again with
//     its continuation token, with no bound (AutomaticContinuation
//     defaults to true; genai's continuation.go). A misbehaving stream
//     took 31 requests for one answer that way. It is turned off here:
//     Stream resumes such an answer itself, at most maxContinuations
//     times. With it off, genai's stream reconnects are off too
//     (canResumeStream needs it on).
//   - genai's own retries are the ones retryOptions configures: 408 and
//     5xx, only before the first byte of the answer.
//   - The Go SDK has no automatic function calling (the Python and
//     JavaScript SDKs do); this adapter declares no functions anyway.
//
// Every request carries the client's store field (store: false unless
// RequestLogs), the settings probe and continuations too: a Gemini API
// project created on or after 2026-10-26 logs every generateContent
// request that does not say store: false.
func (c *Client) requestConfig(req vision.Request, images inlineImages) *genai.GenerateContentConfig {
	config := &genai.GenerateContentConfig{AutomaticContinuation: genai.Ptr(false), Store: c.store}
	if len(images) > 0 {
		config.HTTPOptions = &genai.HTTPOptions{ExtrasRequestProvider: images.fill}
	}
	if req.System != "" {
		config.SystemInstruction = genai.NewContentFromText(req.System, genai.RoleUser)
	}
	config.MaxOutputTokens = c.maxOutputTokens(req.MaxOutputTokens)
	if c.thinking != nil && !c.refused.has(settingThinking) {
		// A copy per call: genai marshals the config it is given, and a
		// shared pointer would tie concurrent calls together.
		t := *c.thinking
		config.ThinkingConfig = &t
	}
	if mr, ok := mediaResolution(req.MediaResolution); ok && (len(images) > 0 || hasFiles(req)) &&
		acceptsMediaResolution(c.model) && !c.refused.has(settingMediaResolution) {
		config.MediaResolution = mr
	}
	if req.Grounding && c.grounding {
		config.Tools = []*genai.Tool{{GoogleSearch: &genai.GoogleSearch{}}}
	}
	return config
}

// maxOutputTokenLimit is the most maxOutputTokens current Flash and Pro
// models take (outputTokenLimit in models.get).
const maxOutputTokenLimit = 65536

// maxOutputTokens is the maxOutputTokens to send for an answer of answer
// tokens. Gemini counts thinking against maxOutputTokens (seen on 2.5 and
// 3: googleapis/python-genai#811 and #2062, "max_output_tokens caps
// thinking + output tokens combined"), so a budget sized for the answer
// alone would let thinking eat it and leave an empty answer: thinking's
// allowance for GEMINI_THINKING is added. 0 sends none.
func (c *Client) maxOutputTokens(answer int) int32 {
	if answer <= 0 {
		return 0
	}
	return int32(min(answer+c.thinkingAllowance, maxOutputTokenLimit))
}

// mediaResolution is Gemini's name for a use case's level, and false for
// none (the model's own). It goes in
// generationConfig.mediaResolution, which Google's "Media resolution" page
// (ai.google.dev/gemini-api/docs/media-resolution) documents as taken
// "globally for an entire generateContent request (all multimodal
// models)"; the per-part setting is for Gemini 3 only and adds nothing the
// bot needs (its extra level, ultra high, is per part only).
func mediaResolution(level vision.MediaResolution) (genai.MediaResolution, bool) {
	switch level {
	case vision.MediaResolutionLow:
		return genai.MediaResolutionLow, true
	case vision.MediaResolutionMedium:
		return genai.MediaResolutionMedium, true
	case vision.MediaResolutionHigh:
		return genai.MediaResolutionHigh, true
	}
	return "", false
}

// acceptsMediaResolution reports whether model is one the bot sends a
// media resolution to: Gemini 2.5 and later, and the aliases that follow
// the newest models. Gemma models answer it with "Media resolution is not
// enabled for models/gemma-3-27b-it" (simonw/llm-gemini#116), and Gemini
// 1.x and 2.0 predate the setting. A model that refuses it all the same is
// caught by the 400 it answers and asked again without it.
func acceptsMediaResolution(model string) bool {
	name := path.Base(model)
	if !strings.HasPrefix(name, "gemini-") {
		return false
	}
	switch major := majorVersion(name); {
	case major == 0: // gemini-flash-latest and the like
		return true
	case major == 2:
		return !strings.HasPrefix(name, "gemini-2.0")
	default:
		return major >= 3
	}
}

// setting is a part of the request a model may refuse while the rest of
// the request is fine.
type setting int

const (
	settingThinking setting = iota
	settingMediaResolution
)

func (s setting) String() string {
	if s == settingThinking {
		return "thinking setting"
	}
	return "media resolution"
}

// refusedSetting reports which setting of config a 400 INVALID_ARGUMENT
// refused, and what of it was sent: the setting its message names
// (readMessage), when config sent it.
func refusedSetting(err error, config *genai.GenerateContentConfig) (setting, string, bool) {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Code != 400 {
		return 0, "", false
	}
	switch {
	case config.ThinkingConfig != nil && ae.said.thinking:
		return settingThinking, describeThinking(config.ThinkingConfig), true
	case config.MediaResolution != "" && ae.said.mediaResolution:
		return settingMediaResolution, "mediaResolution " + string(config.MediaResolution), true
	}
	return 0, "", false
}

func describeThinking(t *genai.ThinkingConfig) string {
	if t.ThinkingLevel != "" {
		return "thinkingLevel " + string(t.ThinkingLevel)
	}
	if t.ThinkingBudget != nil {
		return fmt.Sprintf("thinkingBudget %d", *t.ThinkingBudget)
	}
	return "thinkingConfig"
}

// Refusal is a setting the configured model refused, which the client
// leaves out of every request since.
type Refusal struct {
	// Setting is "thinking setting" or "media resolution".
	Setting string
	// Sent is what was sent, as Gemini names it: "thinkingLevel MINIMAL".
	Sent string
	// Message is what Gemini answered, the key scrubbed.
	Message string
}

// refusals remembers the settings the client's model refused. A deploy
// whose GEMINI_THINKING a new model refuses keeps answering (without the
// setting), and says so in the log, once.
type refusals struct {
	model    string
	thinking Thinking
	log      *zap.Logger

	mu   sync.Mutex
	list []Refusal
	by   map[setting]bool
}

func (r *refusals) has(s setting) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.by[s]
}

// add records that the model refused s, and logs it the first time.
func (r *refusals) add(s setting, sent string, err error) {
	var ae *apiError
	msg := err.Error()
	if errors.As(err, &ae) {
		msg = ae.Message
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.by[s] {
		return
	}
	if r.by == nil {
		r.by = map[setting]bool{}
	}
	r.by[s] = true
	r.list = append(r.list, Refusal{Setting: s.String(), Sent: sent, Message: msg})
	fix := "requests go without it, at the model's own default"
	if s == settingThinking {
		fix += "; set GEMINI_THINKING to a level this model takes"
	}
	r.log.Warn("Gemini refused a setting: "+fix,
		zap.String("model", r.model), zap.String("setting", s.String()), zap.String("sent", sent),
		zap.String("gemini_thinking", string(r.thinking)), zap.String("gemini_said", msg))
}

// Refusals returns the settings the model refused so far.
func (c *Client) Refusals() []Refusal {
	c.refused.mu.Lock()
	defer c.refused.mu.Unlock()
	return append([]Refusal(nil), c.refused.list...)
}

// maxSources bounds the sources listed under an answer: a few are what a
// reader checks, and each is a line of the thread.
const maxSources = 5

// sourcesOf adds the web sources of a grounded answer to have, without
// repeats. The Gemini API's web.uri is a Google redirect
// (vertexaisearch.cloud.google.com/grounding-api-redirect/…) and its title
// is the source's domain ("accuweather.com", as in the
// unary-success-google-search-grounding fixture); Vertex AI also gives
// web.domain. Host is what a reader should see: the page's host, not the
// redirect's.
func sourcesOf(have []vision.Source, gm *genai.GroundingMetadata) []vision.Source {
	if gm == nil {
		return have
	}
	for _, chunk := range gm.GroundingChunks {
		if chunk == nil || chunk.Web == nil || chunk.Web.URI == "" || len(have) >= maxSources {
			continue
		}
		web := chunk.Web
		u, err := url.Parse(web.URI)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			continue
		}
		have = addSource(have, vision.Source{URL: web.URI, Host: sourceHost(u, web), Title: web.Title})
	}
	return have
}

// addSource adds s to have unless it is there already or have is full.
func addSource(have []vision.Source, s vision.Source) []vision.Source {
	if len(have) >= maxSources || slices.ContainsFunc(have, func(h vision.Source) bool { return h.URL == s.URL }) {
		return have
	}
	return append(have, s)
}

// groundingRedirectHost is the host of Google's redirects to grounding
// sources.
const groundingRedirectHost = "vertexaisearch.cloud.google.com"

// sourceHost is the host a source's link leads to in the end.
func sourceHost(u *url.URL, web *genai.GroundingChunkWeb) string {
	host := strings.TrimPrefix(u.Hostname(), "www.")
	if host != groundingRedirectHost {
		return host
	}
	for _, name := range []string{web.Domain, web.Title} {
		name = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "www.")
		if looksLikeHost(name) {
			return name
		}
	}
	return host
}

// looksLikeHost reports whether s is a plain host name such as
// "example.co.uk", not a page title.
func looksLikeHost(s string) bool {
	if !strings.Contains(s, ".") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '.' {
			return false
		}
	}
	return true
}

// CheckSettings sends the model one short text request with the settings
// the bot sends it (GEMINI_THINKING's, and a media resolution where the
// model should take one), so that a setting it refuses shows at start,
// and is left out of every request since, instead of costing the first
// photo a retry. It returns every refusal so far, and an error when the
// request failed for another reason. It costs a few tokens.
func (c *Client) CheckSettings(ctx context.Context) ([]Refusal, error) {
	const op = "gemini check settings"
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	contents := []*genai.Content{genai.NewContentFromText("Reply with the word OK.", genai.RoleUser)}
	// One attempt, and one more for each setting refused.
	for range 3 {
		config := c.requestConfig(vision.Request{MaxOutputTokens: 16}, nil)
		if acceptsMediaResolution(c.model) && !c.refused.has(settingMediaResolution) {
			config.MediaResolution = genai.MediaResolutionLow
		}
		_, err := c.genai.Models.GenerateContent(ctx, c.model, contents, config)
		if err == nil {
			break
		}
		ferr := c.classify(ctx, op, err, false)
		s, sent, ok := refusedSetting(ferr, config)
		if !ok {
			return c.Refusals(), ferr
		}
		c.refused.add(s, sent, ferr)
	}
	return c.Refusals(), nil
}
