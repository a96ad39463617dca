// Package failure is the vocabulary of what can go wrong with a request:
// a Kind for each case a user is told about differently, and an Error that
// carries the operation that failed, its Kind and a user-safe detail. The
// one place that turns a Kind into words is handlers' user message table.
//
// It is a leaf: it imports nothing of the project, so the flows, the Slack
// adapter and the model adapter all speak it without depending on each
// other.
package failure

import (
	"errors"
	"fmt"
	"strings"
)

// Kind sorts failures into the few cases a user is told about differently.
type Kind int

const (
	Internal Kind = iota

	// The input: what the user gave the bot.

	NoImage
	UnsupportedFile
	SVG
	TooLarge
	CorruptImage
	ForeignHost     // a file URL outside Slack's hosts: the token is never sent there
	QuestionTooLong // Detail: the question's length in characters
	// ExpiredRef is a suggested prompt's reference to a message, made for
	// this person and DM, picked after its lifetime.
	ExpiredRef
	// NotShared is a file from elsewhere (one an answer's footer names)
	// that Slack does not list as shared in the conversation answered in.
	NotShared
	// NotOffered is a use case the channel's settings do not offer there
	// (Detail: its name).
	NotOffered

	// Slack.

	FilesScope      // Slack answered a download with its sign-in page: files:read is missing
	FileUnavailable // deleted, or not visible to the bot
	NotInChannel
	MissingScope // Detail: the scope Slack said is needed
	// SlackAuth is Slack refusing the bot token itself (invalid_auth,
	// token_revoked…): nothing the bot posts gets through until an admin
	// fixes SLACK_BOT_TOKEN.
	SlackAuth
	Archived // the channel is archived: nothing can be posted there

	// Gemini.

	Blocked     // the model refused: prompt blocked, safety, recitation, prohibited content
	EmptyAnswer // the model finished without text
	ImageRejected
	ModelAuth // bad, revoked or restricted API key; API not enabled
	UnknownModel
	Quota       // 429 RESOURCE_EXHAUSTED
	Unavailable // 5xx, overloaded
	// RequestTooLarge is Gemini refusing a request body over its size
	// limit (413, or a 400 "Request payload size exceeds the limit").
	RequestTooLarge
	Timeout
	// CutOff is an answer that stopped before its end: the stream closed
	// without a finish reason (Detail ""), or the output limit was still
	// hit after the one continuation (Detail MAX_TOKENS or CONTINUATION).
	CutOff

	// The bot's own refusals and interruptions.

	Busy // the job queue is full
	// RateLimited is the bot's own per-user or per-channel rate (Detail
	// "user" or "channel"), not Slack's or Gemini's.
	RateLimited
	ThreadCap // the thread has as many of the bot's answers as one may get
	// OverAllowance is a daily token allowance spent (Detail "user", "channel"
	// or "workspace").
	OverAllowance
	NotEnabled   // outside the operator's allow-lists
	ShuttingDown // the bot is shutting down before the request could finish
	// JobTimeout is a request that ran longer than JOB_TIMEOUT allows.
	JobTimeout
	// Stopped is a request its person stopped with Slack's Stop button.
	Stopped
	// HandedOver is a request this replica let go of: another replica took
	// it over, or this one gave it back at a stop. Its user is told
	// nothing by this replica: the one that runs it now answers.
	HandedOver
	// TooManyTries is a request whose runs kept ending without an answer
	// (the replicas running it stopped on the way); Detail is how many.
	TooManyTries
	// QueueLost is a request the shared queue lost before it ran: Redis
	// lost what it held (a restart without persistence).
	QueueLost
	// TooOld is a request that waited in a queue longer than
	// MAX_QUEUED_AGE (Detail): a late answer helps nobody.
	TooOld
	// Oversized is a request too large to queue (its files' details and
	// its text over the queue's bound).
	Oversized
)

var names = map[Kind]string{
	Internal: "internal", NoImage: "no_image", UnsupportedFile: "unsupported_file",
	SVG: "svg", TooLarge: "too_large", CorruptImage: "corrupt_image",
	ForeignHost: "foreign_host", QuestionTooLong: "question_too_long", ExpiredRef: "expired_ref",
	NotShared: "not_shared", NotOffered: "not_offered",
	FilesScope: "files_scope", FileUnavailable: "file_unavailable",
	NotInChannel: "not_in_channel", MissingScope: "missing_scope",
	SlackAuth: "slack_auth", Archived: "archived",
	Blocked: "blocked", EmptyAnswer: "empty_answer", ImageRejected: "image_rejected",
	ModelAuth: "model_auth", UnknownModel: "unknown_model", Quota: "quota",
	Unavailable: "unavailable", RequestTooLarge: "request_too_large", Timeout: "timeout", CutOff: "cut_off",
	Busy: "busy", RateLimited: "rate_limited", ThreadCap: "thread_cap", OverAllowance: "over_budget",
	NotEnabled: "not_enabled", ShuttingDown: "shutting_down", JobTimeout: "job_timeout", Stopped: "stopped",
	HandedOver: "handed_over", TooManyTries: "too_many_tries", QueueLost: "queue_lost", TooOld: "too_old",
	Oversized: "oversized",
}

// String is the stable name used in logs and metrics.
func (k Kind) String() string {
	if s, ok := names[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a failure that knows which operation failed and which Kind of
// message the user should get. Detail is extra, user-safe context (a file
// type, a scope name, a reason the model gave); it never holds secrets.
type Error struct {
	Op     string
	Kind   Kind
	Detail string
	Err    error
}

// Error is "op: detail: err", each part left out when empty, and the
// Kind's name when neither detail nor err says anything. An Error without
// Op is one whose caller names the operation, with what it knows
// ("download file F123: " + "404 Not Found").
func (e *Error) Error() string {
	parts := make([]string, 0, 3)
	if e.Op != "" {
		parts = append(parts, e.Op)
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	if e.Err == nil && e.Detail == "" {
		parts = append(parts, e.Kind.String())
	}
	return strings.Join(parts, ": ")
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error; err may be nil.
func Errorf(op string, kind Kind, detail string, err error) *Error {
	return &Error{Op: op, Kind: kind, Detail: detail, Err: err}
}

// KindOf returns the Kind of the outermost *Error in err's chain, or
// Internal when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// DetailOf returns the Detail of the outermost *Error in err's chain.
func DetailOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return ""
}
