// Package gemini is the model adapter: it turns a vision.Request into a
// streamed Gemini answer. It is the only package of the project that imports
// google.golang.org/genai, so SDK types and SDK errors stop here; callers get
// text deltas, a vision.Usage and *vision.Error values.
package gemini

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/auth"
	"google.golang.org/genai"

	"github.com/visionbot/visionbot/internal/vision"
)

const (
	// DefaultModel follows Google's newest Flash model without a redeploy.
	DefaultModel = "gemini-flash-latest"
	// DefaultThinking favours latency: the bot answers people waiting in a
	// Slack thread, and photo questions rarely need long reasoning.
	DefaultThinking = "low"
	// DefaultTimeout bounds one whole call, retries included.
	DefaultTimeout = 90 * time.Second
	// DefaultRetryDelay is the first backoff after a retryable failure.
	DefaultRetryDelay = time.Second

	// maxAttempts counts the first try. Three attempts ride out a brief
	// overload without keeping a user waiting for minutes.
	maxAttempts = 3
)

// Config says which backend and model to use.
type Config struct {
	// APIKey selects the Gemini API backend (GEMINI_API_KEY).
	APIKey string
	// VertexAI selects the Vertex AI backend with Project and Location,
	// authenticated with Credentials, or else with Application Default
	// Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login, the
	// metadata server of a Google Cloud machine).
	VertexAI          bool
	Project, Location string
	// Credentials replaces Application Default Credentials for Vertex AI;
	// production leaves it nil, tests give a static token.
	Credentials *auth.Credentials
	// BaseURL overrides the API host (GOOGLE_GEMINI_BASE_URL); tests point
	// it at internal/geminiemu.
	BaseURL string
	// Model defaults to DefaultModel.
	Model string
	// Thinking is "off", "minimal", "low", "medium" or "high"; default "low".
	Thinking string
	// Timeout bounds one whole call, retries included; default 90s. A
	// stalled stream ends with KindTimeout.
	Timeout time.Duration
	// RetryDelay is the first backoff between attempts (doubling after
	// that); default 1s. Tests make it tiny.
	RetryDelay time.Duration
	// HTTPClient is optional. With VertexAI it is used as is, so it must add
	// credentials itself; leave it nil to have Credentials (or ADC) used.
	HTTPClient *http.Client
}

// Client answers requests with one configured model. It is safe for
// concurrent use.
type Client struct {
	genai    *genai.Client
	model    string
	thinking *genai.ThinkingConfig
	timeout  time.Duration
	// apiKey is kept only to scrub it from error texts.
	apiKey string
}

// New checks cfg and builds a client; it makes no network call (see
// CheckModel).
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Model == "" {
		cfg.Model = DefaultModel
	}
	if cfg.Thinking == "" {
		cfg.Thinking = DefaultThinking
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	thinking, err := thinkingConfig(cfg.Model, cfg.Thinking)
	if err != nil {
		return nil, err
	}

	cc := &genai.ClientConfig{
		HTTPClient: cfg.HTTPClient,
		HTTPOptions: genai.HTTPOptions{
			BaseURL:      cfg.BaseURL,
			RetryOptions: retryOptions(cfg.RetryDelay),
		},
	}
	if cfg.VertexAI {
		if cfg.Project == "" || cfg.Location == "" {
			return nil, errors.New("gemini: Vertex AI needs a project and a location (GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION)")
		}
		cc.Backend, cc.Project, cc.Location = genai.BackendVertexAI, cfg.Project, cfg.Location
		cc.Credentials = cfg.Credentials
	} else {
		if cfg.APIKey == "" {
			return nil, errors.New("gemini: an API key is required (GEMINI_API_KEY), or use Vertex AI")
		}
		cc.Backend, cc.APIKey = genai.BackendGeminiAPI, cfg.APIKey
	}
	gc, err := genai.NewClient(ctx, cc)
	if err != nil {
		// genai prints its whole ClientConfig, API key included, into
		// some of its errors.
		return nil, fmt.Errorf("gemini: %s", scrub(err.Error(), cfg.APIKey))
	}
	return &Client{genai: gc, model: cfg.Model, thinking: thinking, timeout: cfg.Timeout, apiKey: cfg.APIKey}, nil
}

// Model is the configured model name.
func (c *Client) Model() string { return c.model }

// retryOptions hands retries to genai rather than looping here: its retry
// wraps the HTTP round trip and looks only at the response status, so it
// applies to streamGenerateContent too but only before the first byte of
// the SSE body is read. A retry therefore never repeats text the caller
// has already shown; a stream that fails midway is reported, not replayed.
//
// Retried: 408 and 500/502/503/504 (overload, transient backend faults)
// and transport errors, 3 attempts in all with exponential backoff from
// delay plus a little jitter so that many jobs that failed together do not
// return together. Not retried: 429. Gemini's quota errors are per minute
// or per day and carry a RetryInfo of tens of seconds, which genai cannot
// read; retrying within a second or two only spends more of the same quota
// and delays the "quota reached" message the user should get at once.
// The caller's Timeout bounds the whole sequence.
func retryOptions(delay time.Duration) *genai.HTTPRetryOptions {
	attempts := int32(maxAttempts)
	initial := delay.Seconds()
	maxDelay := 8 * initial
	expBase := 2.0
	jitter := initial / 4
	return &genai.HTTPRetryOptions{
		Attempts:        &attempts,
		InitialDelay:    &initial,
		MaxDelay:        &maxDelay,
		ExpBase:         &expBase,
		Jitter:          &jitter,
		HTTPStatusCodes: []int32{408, 500, 502, 503, 504},
	}
}

// Stream sends req with streamGenerateContent and calls onText with each
// text delta as it arrives (thought summaries are skipped). It returns the
// usage reported so far, and a *vision.Error when the model failed, refused
// or said nothing. onText is called from the calling goroutine.
func (c *Client) Stream(ctx context.Context, req vision.Request, onText func(string)) (vision.Usage, error) {
	const op = "gemini stream"
	usage := vision.Usage{Model: c.model}
	if onText == nil {
		onText = func(string) {}
	}
	contents, hasImages := toContents(req.Turns)
	if len(contents) == 0 {
		return usage, vision.Errorf(op, vision.KindInternal, "", errors.New("request has no content"))
	}
	config := &genai.GenerateContentConfig{}
	if req.System != "" {
		config.SystemInstruction = genai.NewContentFromText(req.System, genai.RoleUser)
	}
	if c.thinking != nil {
		// A copy per call: genai marshals the config it is given, and a
		// shared pointer would tie concurrent calls together.
		t := *c.thinking
		config.ThinkingConfig = &t
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var (
		gotText      bool
		finish       genai.FinishReason
		blocked      genai.BlockedReason
		blockMessage string
	)
	for resp, err := range c.genai.Models.GenerateContentStream(ctx, c.model, contents, config) {
		if err != nil {
			return usage, c.classify(ctx, op, err, hasImages)
		}
		if resp.ModelVersion != "" {
			usage.Model = resp.ModelVersion
		}
		if u := resp.UsageMetadata; u != nil {
			// Each chunk carries the running total, so the latest wins.
			// Thinking tokens are billed as output, so they count here.
			usage.InputTokens = int(u.PromptTokenCount)
			usage.OutputTokens = int(u.CandidatesTokenCount + u.ThoughtsTokenCount)
		}
		if pf := resp.PromptFeedback; pf != nil && pf.BlockReason != "" {
			blocked, blockMessage = pf.BlockReason, pf.BlockReasonMessage
		}
		if len(resp.Candidates) == 0 || resp.Candidates[0] == nil {
			continue
		}
		cand := resp.Candidates[0]
		if cand.Content != nil {
			for _, p := range cand.Content.Parts {
				if p == nil || p.Thought || p.Text == "" {
					continue
				}
				gotText = true
				onText(p.Text)
			}
		}
		if cand.FinishReason != "" && cand.FinishReason != genai.FinishReasonUnspecified {
			finish = cand.FinishReason
		}
	}

	switch {
	case blocked != "":
		var err error
		if blockMessage != "" {
			err = errors.New(scrub(blockMessage, c.apiKey))
		}
		return usage, vision.Errorf(op, vision.KindBlocked, string(blocked), err)
	case blockedFinish(finish):
		// Even after streamed text: the model withdrew the answer, and the
		// caller decides whether to keep what was shown.
		return usage, vision.Errorf(op, vision.KindBlocked, string(finish), nil)
	case !gotText:
		return usage, vision.Errorf(op, vision.KindEmptyAnswer, string(finish), nil)
	}
	// STOP, MAX_TOKENS (a truncated answer is still an answer) and reasons
	// this code does not know yet all end with the text the user has seen.
	return usage, nil
}

// blockedFinish reports the finish reasons by which the model refused or
// withdrew its answer.
func blockedFinish(r genai.FinishReason) bool {
	switch r {
	case genai.FinishReasonSafety, genai.FinishReasonRecitation, genai.FinishReasonBlocklist,
		genai.FinishReasonProhibitedContent, genai.FinishReasonSPII, genai.FinishReasonImageSafety,
		genai.FinishReasonImageProhibitedContent, genai.FinishReasonImageRecitation:
		return true
	}
	return false
}

// toContents maps the conversation to genai contents. Images go before the
// text of their turn, which is the order Google recommends for prompts
// about an image.
func toContents(turns []vision.Turn) (contents []*genai.Content, hasImages bool) {
	for _, t := range turns {
		var parts []*genai.Part
		for _, img := range t.Images {
			parts = append(parts, genai.NewPartFromBytes(img.Data, img.MIMEType))
			hasImages = true
		}
		if t.Text != "" {
			parts = append(parts, genai.NewPartFromText(t.Text))
		}
		if len(parts) == 0 {
			continue
		}
		var role genai.Role = genai.RoleUser
		if t.Role == vision.RoleModel {
			role = genai.RoleModel
		}
		contents = append(contents, genai.NewContentFromParts(parts, role))
	}
	return contents, hasImages
}

// CheckModel calls models.get for the configured model, so a wrong model
// name or key shows at startup rather than on the first photo. It returns
// nil or a *vision.Error (KindUnknownModel, KindModelAuth, …).
func (c *Client) CheckModel(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.genai.Models.Get(ctx, c.model, nil); err != nil {
		return c.classify(ctx, "gemini check model", err, false)
	}
	return nil
}
