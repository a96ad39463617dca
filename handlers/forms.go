package handlers

import (
	"encoding/json"
	"fmt"
)

// FormKind is which modal the bot opens.
type FormKind int

const (
	// FormAnalyze asks for a use case and a question about a message's images.
	FormAnalyze FormKind = iota
	// FormUpload also asks for the image itself.
	FormUpload
	// FormNotice only tells the user something, such as that a message
	// holds no image.
	FormNotice
)

// Form is a modal, described without Slack's Block Kit: the adapter renders
// it and reads the submission back.
type Form struct {
	Kind     FormKind
	Notice   string // shown above the inputs, or alone in FormNotice
	Choices  []Choice
	UseCase  string // initially selected
	Question string // initial question
	MaxFiles int    // FormUpload: how many images may be attached
	// MaxQuestion bounds the question input, in characters; 0 for Slack's
	// own bound.
	MaxQuestion int
	// Metadata travels through Slack and comes back with the submission,
	// so that any replica can act on it.
	Metadata string
}

// Submission is a submitted Form.
type Submission struct {
	User     string
	Team     string
	UseCase  string
	Question string
	Files    []File // FormUpload: the images attached
	Metadata string
}

// formMeta is what a form carries to its submission.
type formMeta struct {
	Channel     string   `json:"c"`
	Thread      string   `json:"t,omitempty"` // where the answer goes; "" means a new message
	Message     string   `json:"m,omitempty"` // the message analyzed, for progress reactions
	Files       []string `json:"f,omitempty"`
	ResponseURL string   `json:"r,omitempty"` // for errors the thread can't take
}

// Slack allows 3000 characters of private_metadata.
const maxMetadata = 3000

func (m formMeta) encode() string {
	b, _ := json.Marshal(m) // strings and a slice of strings always encode
	if len(b) > maxMetadata && m.ResponseURL != "" {
		m.ResponseURL = ""
		b, _ = json.Marshal(m)
	}
	return string(b)
}

func decodeFormMeta(s string) (formMeta, error) {
	var m formMeta
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return formMeta{}, fmt.Errorf("read the form's metadata: %w", err)
	}
	if m.Channel == "" {
		return formMeta{}, fmt.Errorf("read the form's metadata: no channel")
	}
	return m, nil
}

// Home is the app's Home tab.
type Home struct {
	Intro    string
	UseCases []HomeUseCase
	HowTo    []string // lines that read the same in Markdown and mrkdwn
}

// HomeUseCase is one use case as the Home tab shows it.
type HomeUseCase struct {
	Name        string
	Aliases     []string
	Description string
	Example     string
	Default     bool
}

// Target is the channel and thread a submitted form's answer goes to ("",
// "" when its metadata can't be read): what the loop's allow-lists and
// limits look at before the form is queued. The thread is "" for an
// upload, whose thread does not exist yet.
func (sub Submission) Target() (channel, thread string) {
	meta, err := decodeFormMeta(sub.Metadata)
	if err != nil {
		return "", ""
	}
	return meta.Channel, meta.Thread
}
