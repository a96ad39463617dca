// Package vision holds the few types that the flows (handlers), the model
// adapter (gemini) and the Slack adapter (bot) exchange. It is a leaf: it
// imports nothing of the project, so every side can depend on it without
// depending on each other.
package vision

import (
	"errors"
	"fmt"
)

// Image is one picture ready for the model: bytes that were sniffed, never a
// type that was merely declared.
type Image struct {
	MIMEType string
	Data     []byte
}

// Role says who spoke a turn of a conversation.
type Role string

const (
	RoleUser  Role = "user"
	RoleModel Role = "model"
)

// Turn is one message of a multi-turn conversation (a thread).
type Turn struct {
	Role   Role
	Text   string
	Images []Image
}

// Request is everything the model needs for one answer.
type Request struct {
	// System is the use case's system instruction.
	System string
	// Turns is the conversation, oldest first; the last one is the user's
	// current request (use-case prompt, question and images).
	Turns []Turn
}

// Usage is what the model reports it spent.
type Usage struct {
	Model        string
	InputTokens  int
	OutputTokens int
}

// Kind sorts failures into the few cases a user is told about differently.
// The one place that turns a Kind into words is handlers.userMessage.
type Kind int

const (
	KindInternal Kind = iota
	KindNoImage
	KindUnsupportedFile
	KindSVG
	KindTooLarge
	KindCorruptImage
	KindFilesScope      // Slack answered a download with its sign-in page: files:read is missing
	KindFileUnavailable // deleted, or not visible to the bot
	KindForeignHost     // a file URL outside Slack's hosts: the token is never sent there
	KindNotInChannel
	KindMissingScope
	KindBlocked     // the model refused: prompt blocked, safety, recitation, prohibited content
	KindEmptyAnswer // the model finished without text
	KindImageRejected
	KindModelAuth // bad, revoked or restricted API key; API not enabled
	KindUnknownModel
	KindQuota       // 429 RESOURCE_EXHAUSTED
	KindUnavailable // 5xx, overloaded
	KindTimeout
	KindBusy     // the bot's own queue is full
	KindStopping // the bot is shutting down before the request could finish
	// KindCutOff is an answer that stopped before its end: the stream
	// closed without a finish reason, or the output limit was still hit
	// after the bounded continuations.
	KindCutOff
	// KindSlackAuth is Slack refusing the bot token itself (invalid_auth,
	// token_revoked, account_inactive…): nothing the bot posts can get
	// through until an admin fixes SLACK_BOT_TOKEN.
	KindSlackAuth
	KindArchived // the channel is archived: nothing can be posted there
	// KindRateLimited is the bot's own per-user or per-channel rate
	// (Detail "user" or "channel"), not Slack's or Gemini's.
	KindRateLimited
	KindThreadCap       // the thread has as many of the bot's answers as one may get
	KindNotEnabled      // outside the operator's allow-lists
	KindQuestionTooLong // Detail: the question's length in characters
)

var kindNames = map[Kind]string{
	KindInternal: "internal", KindNoImage: "no_image", KindUnsupportedFile: "unsupported_file",
	KindSVG: "svg", KindTooLarge: "too_large", KindCorruptImage: "corrupt_image",
	KindFilesScope: "files_scope", KindFileUnavailable: "file_unavailable",
	KindForeignHost: "foreign_host", KindNotInChannel: "not_in_channel",
	KindMissingScope: "missing_scope", KindBlocked: "blocked", KindEmptyAnswer: "empty_answer",
	KindImageRejected: "image_rejected", KindModelAuth: "model_auth",
	KindUnknownModel: "unknown_model", KindQuota: "quota", KindUnavailable: "unavailable",
	KindTimeout: "timeout", KindBusy: "busy", KindStopping: "stopping", KindCutOff: "cut_off",
	KindSlackAuth: "slack_auth", KindArchived: "archived",
	KindRateLimited: "rate_limited", KindThreadCap: "thread_cap", KindNotEnabled: "not_enabled",
	KindQuestionTooLong: "question_too_long",
}

// String is the stable name used in logs and metrics.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
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

func (e *Error) Error() string {
	msg := e.Op
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Err == nil && e.Detail == "" {
		msg += ": " + e.Kind.String()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error; err may be nil.
func Errorf(op string, kind Kind, detail string, err error) *Error {
	return &Error{Op: op, Kind: kind, Detail: detail, Err: err}
}

// KindOf returns the Kind of the outermost *Error in err's chain, or
// KindInternal when there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// DetailOf returns the Detail of the outermost *Error in err's chain.
func DetailOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return ""
}
