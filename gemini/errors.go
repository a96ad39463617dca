package gemini

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/genai"

	"github.com/visionbot/visionbot/internal/failure"
)

// apiError is what survives of a genai.APIError: code, status, the
// ErrorInfo reason and the message, with the API key scrubbed. The details
// themselves are dropped because Google's DebugInfo can echo the key
// ("Invalid API key: …") and the Help links are not for Slack users.
type apiError struct {
	Code    int
	Status  string
	Reason  string
	Message string
	// RetryDelay is a 429's RetryInfo: how long the quota stays used up.
	RetryDelay time.Duration
	// Fix tells the operator what to change, for errors only they can fix.
	Fix string
	// said is what the words of Google's message and details tell.
	said said
}

// Error is the code, the status and the message; the reason is the
// failure's detail (apiErrorKind), said once there.
func (e *apiError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.Code)
	if e.Status != "" {
		s += " " + e.Status
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Fix != "" {
		s += " (" + e.Fix + ")"
	}
	return s
}

// scrubbedError hides the API key from an error's text while keeping the
// chain for errors.Is (context.DeadlineExceeded, net errors).
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrub(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// classify turns any failure of a call into a *failure.Error. ctx is the
// call's own context, so its deadline is the configured Timeout.
func (c *Client) classify(ctx context.Context, op string, err error, hasImages bool) *failure.Error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return failure.Errorf(op, failure.Timeout, fmt.Sprintf("no answer within %s", c.timeout), ctxErr)
		}
		// The caller gave up (shutdown): not the model's fault, and
		// errors.Is(err, context.Canceled) still holds.
		return failure.Errorf(op, failure.Internal, "", ctxErr)
	}

	var ae genai.APIError
	var aePtr *genai.APIError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &aePtr) && aePtr != nil:
		ae = *aePtr
	default:
		safe := &scrubbedError{msg: scrub(err.Error(), c.apiKey), err: err}
		// A transport failure is a net.Error (net/http's *url.Error, a
		// dial's *net.OpError); a connection that ends mid-answer is
		// io.ErrUnexpectedEOF, which genai hands on unwrapped from the
		// body's reader (its stream's bufio.Scanner, or io.ReadAll of a
		// unary answer).
		var netErr net.Error
		if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) {
			return failure.Errorf(op, failure.Unavailable, "connection failed", safe)
		}
		return failure.Errorf(op, failure.Internal, "", safe)
	}

	e := &apiError{Code: ae.Code, Status: ae.Status, Reason: detailString(ae.Details, "ErrorInfo", "reason"),
		Message: shorten(scrub(ae.Message, c.apiKey)), said: readMessage(ae.Message, ae.Details)}
	kind, detail := c.apiErrorKind(e, ae.Details, hasImages)
	switch kind {
	case failure.Quota:
		if d, err := time.ParseDuration(detailString(ae.Details, "RetryInfo", "retryDelay")); err == nil {
			e.RetryDelay = d
		}
	case failure.ModelAuth:
		e.Fix = "fix: set a valid GEMINI_API_KEY with the Generative Language API enabled, or fix the Vertex AI " +
			"credentials, then restart; calls to Gemini pause meanwhile"
	}
	return failure.Errorf(op, kind, scrub(detail, c.apiKey), e)
}

// apiErrorKind maps an API error to the message the user gets, and a
// detail that the error's own text (its code, status and message) does
// not say already: Google's ErrorInfo reason, unless the kind has a
// detail of its own.
func (c *Client) apiErrorKind(e *apiError, details []map[string]any, hasImages bool) (failure.Kind, string) {
	switch {
	case e.Reason == "API_KEY_INVALID" || e.Reason == "API_KEY_SERVICE_BLOCKED" || e.said.apiKey:
		return failure.ModelAuth, "API key not valid"
	case e.Code == http.StatusRequestEntityTooLarge || (e.Code == 400 && e.said.payloadTooLarge):
		// Google's front end answers a body over its limit with a 413 and
		// an HTML page; the API itself with 400 INVALID_ARGUMENT "Request
		// payload size exceeds the limit: N bytes." (seen in
		// google-gemini/deprecated-generative-ai-android#26 and
		// MaKTaiL/gemini-srt-translator#63). Either way the request, not
		// the image or the account, must change.
		return failure.RequestTooLarge, e.Reason
	case e.Code == 401 || e.Code == 403:
		return failure.ModelAuth, e.Reason
	case e.Code == 404:
		return failure.UnknownModel, c.model
	case e.Code == 429:
		// RetryInfo tells how long the quota stays exhausted; the user
		// message can pass it on.
		if d := detailString(details, "RetryInfo", "retryDelay"); d != "" {
			return failure.Quota, "retry in " + d
		}
		return failure.Quota, e.Reason
	case e.Code == 408 || e.Code == 499 || e.Code == 500 || e.Code == 502 || e.Code == 503 || e.Code == 504:
		// 499 CANCELLED arrives mid-stream when the backend drops the
		// generation: as transient as an overload.
		return failure.Unavailable, e.Reason
	case e.Code == 400 && e.Status == "FAILED_PRECONDITION":
		// "User location is not supported", billing not set up: the
		// account, not the request, must change.
		return failure.ModelAuth, e.Reason
	case e.Code == 400 && (e.said.thinking || e.said.mediaResolution):
		// The model refused a setting of the configuration (thinking,
		// media resolution), not the image: Stream retries without it, so
		// this is left only when the retry failed too.
		return failure.Internal, "setting refused"
	case e.Code == 400 && (hasImages || e.said.image):
		// Gemini answers an image it cannot decode with a bare
		// "Request contains an invalid argument." (see the image-rejected
		// fixtures); the bot's requests are otherwise fixed text, so the
		// image is by far the likeliest culprit.
		return failure.ImageRejected, e.Reason
	}
	return failure.Internal, e.Reason
}

// maxMessage bounds an error message kept for the log: a 413 comes with a
// whole HTML page.
const maxMessage = 300

// shorten makes an error message fit a log line: one line, at most
// maxMessage bytes and an ellipsis (a rune cut in two is dropped).
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxMessage {
		return s
	}
	return strings.ToValidUTF8(s[:maxMessage], "") + "…"
}

// said is what only the words of an API error tell: Google gives a
// machine-readable reason (ErrorInfo's, such as API_KEY_INVALID or
// SERVICE_DISABLED) for a few refusals, and none for these. Which setting
// a 400 INVALID_ARGUMENT refuses, that a body was over the size limit,
// that an image was what failed, are in its message or its debug details
// only. readMessage is the one place that reads them.
type said struct {
	// apiKey: "API key not valid. Please pass a valid API key." (a
	// Vertex AI answer carries no ErrorInfo for it).
	apiKey bool
	// payloadTooLarge: "Request payload size exceeds the limit: N bytes."
	payloadTooLarge bool
	// image: "Unable to process input image", or a detail such as
	// "photos.thumbnailer … Source image 0 too short", "Unsupported MIME
	// type".
	image bool
	// thinking and mediaResolution name the setting refused: "Thinking
	// level MINIMAL is not supported for this model.", "Unable to submit
	// request because Thinking can't be disabled for this model. Remove
	// 'thinking_config.thinking_budget' from your request", "The thinking
	// budget (52428) is invalid.", "Media resolution is not enabled for
	// models/gemma-3-27b-it" (vercel/ai#18986, earendil-works/pi#9455,
	// langchain-google#972, simonw/llm-gemini#116).
	thinking, mediaResolution bool
}

func readMessage(message string, details []map[string]any) said {
	lower := strings.ToLower(message)
	s := said{
		apiKey:          strings.Contains(message, "API key"),
		payloadTooLarge: strings.Contains(lower, "payload size exceeds"),
		thinking:        strings.Contains(lower, "thinking"),
		mediaResolution: strings.Contains(lower, "media resolution") || strings.Contains(lower, "media_resolution") ||
			strings.Contains(lower, "mediaresolution"),
	}
	texts := []string{lower}
	for _, d := range details {
		if t, ok := d["detail"].(string); ok {
			texts = append(texts, strings.ToLower(t))
		}
	}
	for _, t := range texts {
		if strings.Contains(t, "image") || strings.Contains(t, "mime") || strings.Contains(t, "thumbnailer") {
			s.image = true
		}
	}
	return s
}

// detailString returns field of the first google.rpc detail whose @type
// ends with typeSuffix.
func detailString(details []map[string]any, typeSuffix, field string) string {
	for _, d := range details {
		if t, _ := d["@type"].(string); strings.HasSuffix(t, "."+typeSuffix) {
			if s, ok := d[field].(string); ok {
				return s
			}
		}
	}
	return ""
}
