package gemini

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/genai"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/vision"
)

// streamed is what one streamGenerateContent call produced.
type streamed struct {
	text   string // the answer's text of this call, thoughts excluded
	finish genai.FinishReason
	// resume is the token a CONTINUATION finish gave to resume from.
	resume []byte
	usage  vision.Usage
}

// streamOnce makes one streamGenerateContent call (genai retries its
// overloads before the first byte). A refusal, a block or an answer
// without text is an error; finish is left to the caller.
func (c *Client) streamOnce(ctx context.Context, op string, contents []*genai.Content, config *genai.GenerateContentConfig,
	hasImages bool, onText func(string)) (streamed, error) {
	var (
		out          streamed
		text         strings.Builder
		thoughts     int // characters of thought summaries
		blocked      genai.BlockedReason
		blockMessage string
		// counted: the usage came with or after the finish reason, where
		// Gemini puts its count of the answer. Before it, the chunks count
		// the prompt (the Gemini API) or nothing (Vertex AI), and at most
		// the thinking so far.
		counted bool
	)
	for resp, err := range c.genai.Models.GenerateContentStream(ctx, c.model, contents, config) {
		if err != nil {
			out.text = text.String()
			out.usage = uncounted(out.usage, counted, out.text, thoughts)
			return out, c.classify(ctx, op, err, hasImages)
		}
		if resp.ModelVersion != "" {
			out.usage.Model = resp.ModelVersion
		}
		if u := resp.UsageMetadata; u != nil {
			// Each chunk carries the counts so far, so the latest wins;
			// the answer's own count comes only with the finish reason
			// (see counted).
			// What a search tool fed the model is billed as input, so it
			// counts there; thinking is billed as output, and counted
			// apart from the answer's text.
			out.usage.InputTokens = int(u.PromptTokenCount + u.ToolUsePromptTokenCount)
			out.usage.OutputTokens = int(u.CandidatesTokenCount)
			out.usage.ThinkingTokens = int(u.ThoughtsTokenCount)
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
				if p != nil && p.Thought {
					thoughts += utf8.RuneCountInString(p.Text)
				}
				if p == nil || p.Thought || p.Text == "" {
					continue
				}
				text.WriteString(p.Text)
				onText(p.Text)
			}
		}
		if cand.FinishReason != "" && cand.FinishReason != genai.FinishReasonUnspecified {
			out.finish = cand.FinishReason
		}
		if len(cand.ContinuationToken) > 0 {
			out.resume = cand.ContinuationToken
		}
		// A stream gives the grounding metadata on its last chunk; any
		// chunk that carries some adds its sources.
		out.usage.Sources = sourcesOf(out.usage.Sources, cand.GroundingMetadata)
		if out.finish != "" && resp.UsageMetadata != nil {
			counted = true
		}
	}
	out.text = text.String()
	out.usage = uncounted(out.usage, counted, out.text, thoughts)

	switch {
	case blocked != "":
		var err error
		if blockMessage != "" {
			err = errors.New(scrub(blockMessage, c.apiKey))
		}
		return out, failure.Errorf(op, failure.Blocked, string(blocked), err)
	case blockedFinish(out.finish):
		// Even after streamed text: the model withdrew the answer, and the
		// caller decides whether to keep what was shown.
		return out, failure.Errorf(op, failure.Blocked, string(out.finish), nil)
	case out.text == "" && !cutFinish(out.finish):
		return out, failure.Errorf(op, failure.EmptyAnswer, string(out.finish), nil)
	}
	return out, nil
}

// charsPerToken is Google's rule of thumb for Gemini models: "a token is
// equivalent to about 4 characters" (ai.google.dev/gemini-api/docs/tokens).
// It is what a cut answer is charged by: on the recorded English answers
// it overcounts by a tenth to a fifth, which errs on the side of the
// allowances.
const charsPerToken = 4

// estimateTokens is text's tokens by charsPerToken, rounded up.
func estimateTokens(chars int) int { return (chars + charsPerToken - 1) / charsPerToken }

// uncounted is u for a call whose stream ended before Gemini counted its
// answer (counted false): the answer's text and the thought summaries
// shown are estimated, and the counts of the chunks read, if any, kept
// where they are more. The prompt's count stays as reported: the Gemini
// API gives it from the first chunk; Vertex AI, before its last, not at
// all. A call that produced nothing has nothing to estimate.
func uncounted(u vision.Usage, counted bool, text string, thoughtChars int) vision.Usage {
	chars := utf8.RuneCountInString(text)
	if counted || chars+thoughtChars == 0 {
		return u
	}
	u.OutputTokens = max(u.OutputTokens, estimateTokens(chars))
	u.ThinkingTokens = max(u.ThinkingTokens, estimateTokens(thoughtChars))
	u.Estimated = true
	return u
}

// addUsage counts one more call of the same request: each call is billed
// for its whole prompt and its own output.
func addUsage(total, part vision.Usage) vision.Usage {
	if part.Model != "" {
		total.Model = part.Model
	}
	total.InputTokens += part.InputTokens
	total.OutputTokens += part.OutputTokens
	total.ThinkingTokens += part.ThinkingTokens
	total.Estimated = total.Estimated || part.Estimated
	for _, s := range part.Sources {
		total.Sources = addSource(total.Sources, s)
	}
	return total
}

// quotaDelay is the wait a 429's RetryInfo asked for.
func quotaDelay(err error) (time.Duration, bool) {
	var ae *apiError
	if failure.KindOf(err) != failure.Quota || !errors.As(err, &ae) || ae.RetryDelay <= 0 {
		return 0, false
	}
	return ae.RetryDelay, true
}

// breaker stops calling Gemini once it rejected the key: every request
// would be refused the same way, each refusal costs the user a wait, and
// hammering the API with a revoked key helps nobody. After cooldown one
// request goes through again, to see whether an admin fixed it.
type breaker struct {
	cooldown time.Duration
	now      func() time.Time

	mu      sync.Mutex
	tripped time.Time // zero while calls go through
	cause   error
}

// check fails at once while the breaker is open. The first call after the
// cool-down goes through and re-arms the breaker, so that calls made
// while it is on its way still fail fast.
func (b *breaker) check(op string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tripped.IsZero() {
		return nil
	}
	now := b.now()
	if left := b.cooldown - now.Sub(b.tripped); left > 0 {
		return failure.Errorf(op, failure.ModelAuth, failure.DetailOf(b.cause),
			fmt.Errorf("not calling Gemini for another %s: %w", left.Round(time.Second), b.cause))
	}
	b.tripped = now
	return nil
}

func (b *breaker) trip(cause error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tripped, b.cause = b.now(), cause
}

func (b *breaker) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tripped, b.cause = time.Time{}, nil
}
