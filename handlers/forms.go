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
	// Kinds are the kinds of file FormUpload's picker takes besides
	// images, once the flows read them: "pdf", "video", "audio". None
	// takes images only.
	Kinds []string
	// MaxQuestion bounds the question input, in characters; 0 for Slack's
	// own bound.
	MaxQuestion int
	// Metadata travels through Slack and comes back with the submission,
	// so that any replica can act on it.
	Metadata string
}

// FormTarget is what a form carries through Slack to its submission, so
// that any replica can act on it: where the answer goes.
type FormTarget struct {
	Channel     string   `json:"c"`
	Thread      string   `json:"t,omitempty"` // where the answer goes; "" means a new message
	Message     string   `json:"m,omitempty"` // the message analyzed, for progress reactions
	Files       []string `json:"f,omitempty"`
	ResponseURL string   `json:"r,omitempty"` // for errors the thread can't take
}

// Slack allows 3000 characters of private_metadata.
const maxMetadata = 3000

// Encode writes the target as a form's private_metadata. Without room for
// the response_url, it goes: a form's errors then go to the thread.
func (t FormTarget) Encode() string {
	b, _ := json.Marshal(t) // strings and a slice of strings always encode
	if len(b) > maxMetadata && t.ResponseURL != "" {
		t.ResponseURL = ""
		b, _ = json.Marshal(t)
	}
	return string(b)
}

// ReadFormTarget reads a form's private_metadata written by Encode.
func ReadFormTarget(metadata string) (FormTarget, error) {
	var t FormTarget
	if err := json.Unmarshal([]byte(metadata), &t); err != nil {
		return FormTarget{}, fmt.Errorf("read the form's metadata: %w", err)
	}
	if t.Channel == "" {
		return FormTarget{}, fmt.Errorf("read the form's metadata: no channel")
	}
	return t, nil
}

// Home is the app's Home tab.
type Home struct {
	Intro    string
	Privacy  string // what happens to people's photos
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
