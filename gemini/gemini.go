// Package gemini is the model adapter: it turns a vision.Request into a
// streamed Gemini answer. It is the only package of the project that imports
// google.golang.org/genai, so SDK types and SDK errors stop here; callers get
// text deltas, a vision.Usage and *failure.Error values.
package gemini

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/auth"
	"go.uber.org/zap"
	"google.golang.org/genai"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/settings"
	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/internal/wait"
)

// Settings are the model's settings an operator may change: each carries
// its name in the environment and its default in its tags (cmd/visionbot
// reads them).
type Settings struct {
	// Model is the newest Flash model by default, followed without a
	// redeploy.
	Model string `env:"GEMINI_MODEL" envDefault:"gemini-flash-latest"`
	// Thinking is low by default: latency first, since the bot answers
	// people waiting in a Slack thread, and photo questions rarely need
	// long reasoning.
	Thinking Thinking `env:"GEMINI_THINKING" envDefault:"low"`
	// Timeout bounds one whole call, retries included. A stalled stream
	// ends with failure.Timeout.
	Timeout time.Duration `env:"GEMINI_TIMEOUT" envDefault:"90s"`
	// Grounding lets use cases that ask for it ground their answers in
	// Google Search. Off by default: Google bills each grounded request
	// (or each search it runs) on top of the tokens, so the operator turns
	// it on knowingly.
	Grounding Grounding `env:"GROUNDING" envDefault:"off"`
	// RequestLogs sends store: true to the Gemini API instead of store:
	// false. Projects created on or after 2026-10-26 log generateContent
	// requests unless a request says store: false; older ones only when
	// logging was turned on. What people post is kept by Google no longer
	// than the API allows, so it is off by default. Vertex AI refuses the
	// field: it is never sent there, and New refuses RequestLogs with
	// VertexAI.
	RequestLogs RequestLogs `env:"GEMINI_REQUEST_LOGS" envDefault:"off"`
	// FileWait bounds the wait for an uploaded file to be processed:
	// past it, the upload is deleted and the request fails with
	// ErrFileNotActive. Gemini processes a short clip in seconds and an
	// hour of video in about a minute; past two, the person has waited
	// long enough.
	FileWait time.Duration `env:"GEMINI_FILE_WAIT" envDefault:"2m"`
}

// Problems says, variable by variable, what is out of range.
func (s Settings) Problems() []string {
	if s.Timeout <= 0 {
		return []string{"GEMINI_TIMEOUT must be positive"}
	}
	return nil
}

// DefaultConfig is the model and its settings unless configured
// otherwise: the settings' defaults from their tags, and the client's own.
// The backend and its credentials have no default.
func DefaultConfig() Config {
	return Config{
		Settings:   settings.Defaults[Settings](),
		RetryDelay: time.Second,
		// A per-minute quota often frees within seconds, a daily one never
		// within a Slack thread's patience.
		MaxQuotaWait: 15 * time.Second,
		// A rejected key does not fix itself: each call would only be
		// refused again.
		AuthCooldown: 5 * time.Minute,
		// Images and PDFs are ready when their upload ends, videos soon
		// after: the first look comes quickly, later ones less often.
		FilePoll: 250 * time.Millisecond,
	}
}

// onOff reads on or off (true and false too), for the switches that
// configuration parses once, where it is read.
func onOff(text []byte) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(string(text))) {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", text)
}

// Grounding is GROUNDING: on lets the use cases that ask for it ground
// their answers in Google Search; off never sends the search tool.
type Grounding bool

// UnmarshalText reads on or off (true and false too).
func (g *Grounding) UnmarshalText(text []byte) error {
	on, err := onOff(text)
	if err == nil {
		*g = Grounding(on)
	}
	return err
}

// RequestLogs is GEMINI_REQUEST_LOGS: on lets the Gemini API keep each
// request (its photos, questions, the thread's earlier turns) and its
// answer in the project's logs, which Google keeps up to 55 days and the
// project's members can read in Google AI Studio and share with Google;
// off sends store: false with every request, so that none is logged
// whatever the project's setting. Vertex AI takes no such field.
type RequestLogs bool

// UnmarshalText reads on or off (true and false too).
func (l *RequestLogs) UnmarshalText(text []byte) error {
	on, err := onOff(text)
	if err == nil {
		*l = RequestLogs(on)
	}
	return err
}

const (
	// maxAttempts counts the first try. Three attempts ride out a brief
	// overload without keeping a user waiting for minutes.
	maxAttempts = 3
	// maxQuotaRetries bounds the 429 retries of one request, each after
	// the delay Google asked for.
	maxQuotaRetries = 2
	// maxContinuations bounds how often an answer that stopped at the
	// output limit (MAX_TOKENS, or CONTINUATION with a token to resume
	// from) is asked to go on. Each one re-sends the whole request, images
	// included, and an answer that needs more than one more request is
	// longer than a Slack thread should take: after it, the answer is
	// failure.CutOff.
	maxContinuations = 1
	// continuePrompt asks the model to pick up a truncated answer.
	continuePrompt = "Continue your answer exactly where it stopped, without repeating anything."
)

// The API versions the adapter speaks, pinned here rather than left to
// genai, whose default is not part of its API: v1.78 moved the Gemini
// API's from v1beta to v1, where gemini-flash-latest (the default model),
// the other -latest aliases and some preview models do not exist, so a
// start with the default model would be refused as if its name were wrong.
// A version set in code also wins over GOOGLE_GENAI_API_VERSION, which
// genai reads from the process environment behind configuration's back.
const (
	// geminiAPIVersion is the Gemini Developer API's: v1beta serves every
	// model and alias, and every feature this adapter sends (thinking,
	// media resolution, Google Search grounding, store).
	geminiAPIVersion = "v1beta"
	// vertexAIVersion is Vertex AI's: v1beta1, what genai has always used
	// for Vertex AI (and still defaults to in v1.79).
	vertexAIVersion = "v1beta1"
)

// Config says which backend and model to use.
type Config struct {
	Settings
	// APIKey selects the Gemini API backend (GEMINI_API_KEY).
	APIKey string
	// VertexAI selects the Vertex AI backend with Project and Location,
	// authenticated with Deps.Credentials, or else with Application
	// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's login,
	// the metadata server of a Google Cloud machine).
	VertexAI          bool
	Project, Location string
	// BaseURL overrides the API host (GOOGLE_GEMINI_BASE_URL); tests point
	// it at internal/geminiemu.
	BaseURL string
	// FilePoll is the first pause between two looks at an uploaded file's
	// state; each later one is twice the one before, up to 16 times this.
	// Tests make it tiny.
	FilePoll time.Duration
	// RetryDelay is the first backoff between attempts (doubling after
	// that). Tests make it tiny.
	RetryDelay time.Duration
	// MaxQuotaWait is the longest 429 RetryInfo delay waited out (at most
	// twice) before the quota error reaches the user; 0 never waits.
	MaxQuotaWait time.Duration
	// AuthCooldown is how long calls fail at once, without reaching
	// Gemini, after Gemini rejected the key.
	AuthCooldown time.Duration
}

// Deps are what the client works with besides its configuration; each is
// optional.
type Deps struct {
	// HTTPClient carries the calls. With VertexAI it is used as is, so it
	// must add credentials itself; leave it nil to have Credentials (or
	// ADC) used.
	HTTPClient *http.Client
	// Credentials replaces Application Default Credentials for Vertex AI;
	// production leaves it nil, tests give a static token.
	Credentials *auth.Credentials
	// Log gets the few things an operator must know that no request's
	// failure shows, such as a setting the model refused; nil for none.
	Log *zap.Logger
	// Now is the clock of the cool-down; nil for time.Now.
	Now func() time.Time
}

// Client answers requests with one configured model. It is safe for
// concurrent use.
type Client struct {
	genai    *genai.Client
	model    string
	thinking *genai.ThinkingConfig
	// thinkingAllowance is what thinking may spend of maxOutputTokens,
	// which Gemini counts thinking against.
	thinkingAllowance int
	timeout           time.Duration
	grounding         bool
	// store is every request's store field: false (or true with
	// RequestLogs) on the Gemini API, nil (left out) on Vertex AI.
	store *bool
	// apiKey is kept only to scrub it from error texts.
	apiKey       string
	maxQuotaWait time.Duration
	breaker      *breaker
	// refused holds the settings this model refused, left out of every
	// later request.
	refused *refusals
	// vertex is the Vertex AI backend, which has no Files API.
	vertex             bool
	fileWait, filePoll time.Duration
	log                *zap.Logger
}

// New checks cfg and builds a client; it makes no network call (see
// CheckModel).
func New(ctx context.Context, cfg Config, deps Deps) (*Client, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	thinking, allowance, err := thinkingConfig(cfg.Model, cfg.Thinking)
	if err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	if cfg.FileWait <= 0 || cfg.FilePoll <= 0 {
		// A configuration built without DefaultConfig.
		d := DefaultConfig()
		cfg.FileWait, cfg.FilePoll = cmp.Or(max(cfg.FileWait, 0), d.FileWait), cmp.Or(max(cfg.FilePoll, 0), d.FilePoll)
	}

	cc := &genai.ClientConfig{
		HTTPClient: deps.HTTPClient,
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
		if cfg.RequestLogs {
			return nil, errors.New("gemini: request logs (GEMINI_REQUEST_LOGS) are a Gemini API setting; Vertex AI takes no store field")
		}
		cc.Credentials = deps.Credentials
		cc.HTTPOptions.APIVersion = vertexAIVersion
	} else {
		if cfg.APIKey == "" {
			return nil, errors.New("gemini: an API key is required (GEMINI_API_KEY), or use Vertex AI")
		}
		cc.Backend, cc.APIKey = genai.BackendGeminiAPI, cfg.APIKey
		cc.HTTPOptions.APIVersion = geminiAPIVersion
	}
	var store *bool // Vertex AI: genai refuses a request that sets it
	if !cfg.VertexAI {
		store = genai.Ptr(bool(cfg.RequestLogs))
	}
	gc, err := genai.NewClient(ctx, cc)
	if err != nil {
		// genai prints its whole ClientConfig, API key included, into
		// some of its errors.
		return nil, fmt.Errorf("gemini: %s", scrub(err.Error(), cfg.APIKey))
	}
	return &Client{
		genai: gc, model: cfg.Model, thinking: thinking, thinkingAllowance: allowance, timeout: cfg.Timeout,
		grounding: bool(cfg.Grounding), store: store, apiKey: cfg.APIKey, maxQuotaWait: cfg.MaxQuotaWait,
		breaker: &breaker{cooldown: cfg.AuthCooldown, now: deps.Now},
		refused: &refusals{model: cfg.Model, thinking: cfg.Thinking, log: deps.Log},
		vertex:  cfg.VertexAI, fileWait: cfg.FileWait, filePoll: cfg.FilePoll, log: deps.Log,
	}, nil
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
// usage (with a grounded answer's sources), Gemini's own count or, for a
// stream cut before Gemini counted its answer, an estimate from the text
// it produced (vision.Usage.Estimated), and a
// *failure.Error when the model failed, refused, said nothing or stopped
// short. onText is called from the calling goroutine.
//
// Around genai's own retries of overloads, Stream waits out a 429 whose
// RetryInfo asks for at most MaxQuotaWait (before any text was shown),
// asks an answer cut by the output limit to continue (at most
// maxContinuations times), retries once without a setting the model
// refused (a thinking setting, a media resolution), and stops calling
// Gemini for AuthCooldown once the key was rejected.
func (c *Client) Stream(ctx context.Context, req vision.Request, onText func(string)) (vision.Usage, error) {
	const op = "gemini stream"
	usage := vision.Usage{Model: c.model}
	if onText == nil {
		onText = func(string) {}
	}
	contents, images := c.toContents(req.Turns)
	// Gemini answers media it can't read with a bare 400: with media in
	// the request, that is the likeliest culprit.
	hasImages := len(images) > 0 || hasFiles(req)
	if len(contents) == 0 {
		return usage, failure.Errorf(op, failure.Internal, "", errors.New("request has no content"))
	}
	if err := c.breaker.check(op); err != nil {
		return usage, err
	}
	config := c.requestConfig(req, images)

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var shownAny bool
	quotaRetries, continuations := 0, 0
	retried := map[setting]bool{}
	for {
		part, err := c.streamOnce(ctx, op, contents, config, hasImages, func(s string) {
			shownAny = true
			onText(s)
		})
		usage = addUsage(usage, part.usage)
		if err != nil {
			if d, ok := quotaDelay(err); ok && !shownAny && quotaRetries < maxQuotaRetries && d <= c.maxQuotaWait {
				quotaRetries++
				if wait.For(ctx, d) == nil {
					continue
				}
				return usage, c.classify(ctx, op, ctx.Err(), hasImages)
			}
			if s, sent, ok := refusedSetting(err, config); ok && !shownAny && !retried[s] {
				retried[s] = true
				c.refused.add(s, sent, err)
				config = c.requestConfig(req, images)
				continue
			}
			if hasFiles(req) {
				err = fileRefusal(op, err)
			}
			if failure.KindOf(err) == failure.ModelAuth {
				c.breaker.trip(err)
			} else {
				c.breaker.reset()
			}
			return usage, err
		}
		c.breaker.reset()
		switch {
		case part.finish == genai.FinishReasonContinuation && len(part.resume) > 0 && continuations < maxContinuations:
			// Gemini stopped at its per-request limit and gave a token to
			// resume from: the same request again, with the token.
			continuations++
			next := *config
			next.ContinuationToken = part.resume
			config = &next
			continue
		case part.finish == genai.FinishReasonMaxTokens && continuations < maxContinuations:
			continuations++
			contents = append(contents,
				genai.NewContentFromText(part.text, genai.RoleModel),
				genai.NewContentFromText(continuePrompt, genai.RoleUser))
			continue
		case cutFinish(part.finish):
			return usage, failure.Errorf(op, failure.CutOff, string(part.finish),
				fmt.Errorf("still at the output limit after %d continuation(s)", continuations))
		case part.finish == "":
			// The stream closed cleanly but Gemini never said it was done:
			// a dropped connection, not a complete answer.
			return usage, failure.Errorf(op, failure.CutOff, "", errors.New("the stream ended without a finish reason"))
		}
		// STOP and reasons this code does not know yet end with the text
		// the user has seen.
		return usage, nil
	}
}

// cutFinish reports the finish reasons of an answer that stopped at an
// output limit before its end.
func cutFinish(r genai.FinishReason) bool {
	return r == genai.FinishReasonMaxTokens || r == genai.FinishReasonContinuation
}

// blockedFinish reports the finish reasons by which the model refused or
// withdrew its answer. genai v1.78 and v1.79.1 added three more that
// filter an answer: MODEL_ARMOR (a Model Armor template, Vertex AI),
// ESCALATION ("filtered by an escalation rule") and PUP_LIMITED_DISABLED
// (the account limited under the Prohibited Use Policy).
func blockedFinish(r genai.FinishReason) bool {
	switch r {
	case genai.FinishReasonSafety, genai.FinishReasonRecitation, genai.FinishReasonBlocklist,
		genai.FinishReasonProhibitedContent, genai.FinishReasonSPII, genai.FinishReasonImageSafety,
		genai.FinishReasonImageProhibitedContent, genai.FinishReasonImageRecitation,
		genai.FinishReasonModelArmor, genai.FinishReasonEscalation, genai.FinishReasonPupLimitedDisabled:
		return true
	}
	return false
}

// toContents maps the conversation to genai contents. Images and
// uploaded files go before the text of their turn, which is the order
// Google recommends for prompts about an image, a video or a PDF. Image
// parts carry no bytes: those are returned apart, base64-encoded, for
// inlineImages.fill to put in the request's body. A file is a fileData
// part: its URI and its type.
func (c *Client) toContents(turns []vision.Turn) (contents []*genai.Content, images inlineImages) {
	for _, t := range turns {
		var parts []*genai.Part
		for _, img := range t.Images {
			parts = append(parts, &genai.Part{InlineData: &genai.Blob{MIMEType: img.MIMEType}})
			images = append(images, base64.StdEncoding.EncodeToString(img.Data))
		}
		for _, f := range t.Files {
			parts = append(parts, genai.NewPartFromURI(f.URI, c.wireMIME(f.MIMEType)))
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
	return contents, images
}

// inlineImages are a request's images, base64-encoded, in the order of
// their parts. genai builds a request body by encoding the request to
// JSON, decoding that into maps and encoding the maps again: for a 128 KB
// image that was most of the bot's CPU time under load (make bench's
// profile: genai's deepMarshal 39%, the JSON scanning under it most of
// that). The image parts go through genai without their bytes, and fill
// sets each one's base64 text in the finished body, which is encoded once.
type inlineImages []string

// fill is genai's ExtrasRequestProvider: it gives each inlineData part of
// body, in order, its image's data.
func (imgs inlineImages) fill(body map[string]any) map[string]any {
	next := 0
	for _, content := range objects(body["contents"]) {
		for _, part := range objects(content["parts"]) {
			if blob, ok := part["inlineData"].(map[string]any); ok && next < len(imgs) {
				blob["data"] = imgs[next]
				next++
			}
		}
	}
	return body
}

// objects reads a list of JSON objects in genai's request maps, which hold
// them as []map[string]any or as []any depending on how they were built.
func objects(v any) []map[string]any {
	switch list := v.(type) {
	case []map[string]any:
		return list
	case []any:
		out := make([]map[string]any, 0, len(list))
		for _, item := range list {
			if m, ok := item.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// CheckModel calls models.get for the configured model, so a wrong model
// name or key shows at startup rather than on the first photo. It returns
// nil or a *failure.Error (KindUnknownModel, KindModelAuth, …).
func (c *Client) CheckModel(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.genai.Models.Get(ctx, c.model, nil); err != nil {
		return c.classify(ctx, "gemini check model", err, false)
	}
	return nil
}
