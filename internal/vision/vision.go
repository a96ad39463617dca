// Package vision is the model contract: the request the flows (handlers)
// give the model adapter (gemini), and what the adapter reports back. It is
// a leaf: it imports nothing of the project, so either side depends on it
// without depending on the other. What can go wrong is in package failure.
package vision

// Image is one picture ready for the model: bytes that were sniffed, never a
// type that was merely declared.
type Image struct {
	MIMEType string
	Data     []byte
}

// File is media the model reads from its own file store, where the adapter
// uploaded it (a video, a long recording, a PDF too large to send inline):
// a request refers to it by URI. It lives there until deleted, and the
// uploader deletes it once the answer no longer needs it.
type File struct {
	// Name is the store's name for the file ("files/abc-123"), for its
	// deletion.
	Name string
	// URI is how a request refers to it.
	URI string
	// MIMEType is the sniffed type it was uploaded as.
	MIMEType string
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
	// Files are uploaded media, read after Images and before Text.
	Files []File
}

// MediaResolution is how finely the model looks at images: each level
// costs more input tokens per image than the one before it. The zero value
// leaves the choice to the model.
type MediaResolution string

const (
	MediaResolutionDefault MediaResolution = ""
	MediaResolutionLow     MediaResolution = "low"
	MediaResolutionMedium  MediaResolution = "medium"
	MediaResolutionHigh    MediaResolution = "high"
)

// Request is everything the model needs for one answer.
type Request struct {
	// System is the use case's system instruction.
	System string
	// Turns is the conversation, oldest first; the last one is the user's
	// current request (use-case prompt, question and images).
	Turns []Turn
	// MaxOutputTokens bounds the answer's text, in tokens; 0 leaves it to
	// the model. The adapter adds what thinking may spend on top.
	MaxOutputTokens int
	// MediaResolution is what the use case needs to see in its images.
	MediaResolution MediaResolution
	// Grounding asks for an answer grounded in web search results, when
	// the operator allows it.
	Grounding bool
}

// Usage is what the model reports about an answer besides its text: what
// it spent, and the sources it drew on.
type Usage struct {
	Model string
	// InputTokens are the prompt's: text, images and earlier turns.
	InputTokens int
	// OutputTokens are the answer's text; ThinkingTokens what the model
	// spent thinking before and while it wrote (billed as output).
	OutputTokens   int
	ThinkingTokens int
	// Estimated says that OutputTokens and ThinkingTokens are not the
	// model's own count but an estimate from the text it produced: a
	// stream cut before its end (a Stop, a timeout, a dropped connection)
	// never got the count, which Gemini sends only with its last chunk.
	Estimated bool
	// Sources are the web pages a grounded answer drew on, in the order
	// the model gave them, without repeats.
	Sources []Source
}

// Total is every token of the answer: what a spend limit counts.
func (u Usage) Total() int { return u.InputTokens + u.OutputTokens + u.ThinkingTokens }

// Source is one web page a grounded answer drew on.
type Source struct {
	// URL is where the link goes: for Google Search grounding, often a
	// Google redirect to the page.
	URL string
	// Host is the page's own host, what a reader should see
	// ("example.com"), even when URL is a redirect.
	Host string
	// Title is the page's title, when the model gave one.
	Title string
}
