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
