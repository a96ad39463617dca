package handlers

import "context"

// Thread is where an answer goes.
type Thread struct {
	Channel string
	TS      string // the thread's root
	// User and Team are who asked: Slack shows a message streamed into a
	// channel to them, and drops it when the stream stops without them.
	User string
	Team string
}

// Reply is one answer being written into a thread while the model writes
// it. The writer decides how the text reaches Slack (streamed, updated in
// place, or posted whole at the end) and batches what it sends.
type Reply interface {
	// Append adds text as the model writes it. It does not wait for Slack.
	Append(text string)
	// Finish makes the thread show exactly markdown, the whole answer, with
	// the footer (nil for none) under its last part.
	Finish(ctx context.Context, markdown string, footer *Footer) error
	// Fail replaces whatever was shown so far with notice.
	Fail(ctx context.Context, notice string) error
	// Stopped ends an answer its person stopped: what was shown stays, a
	// stream Slack stopped is not written to again, and note says so.
	Stopped(ctx context.Context, note string) error
}

// Footer goes under a final answer: the "Try another use case" menu and
// the feedback buttons. It carries what the answer was about, so that any
// replica can act on a click without state of its own.
type Footer struct {
	Ref     AnswerRef
	Choices []Choice // the use cases the menu offers
}

// AnswerRef is what an answer was about: its use case and its image files.
// The bot writes it under each answer; the Slack adapter reads it back
// from the bot's messages (Message.Answer) and from clicks.
type AnswerRef struct {
	UseCase string
	Files   []string // file IDs
	// Thread is the answer's thread, where a rerun from a private
	// follow-up answers; "" where the click itself says it.
	Thread string
}

// Downvoted is the private follow-up to a 👎: the other use cases to try on
// the same images, and a line to say what was wrong.
type Downvoted struct {
	Text    string
	Ref     AnswerRef
	Choices []Choice // the use cases to try instead
}

// Choice is one use case in a menu.
type Choice struct {
	Name  string
	Label string
}
