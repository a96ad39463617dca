package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// asks is the wire form of an Ask: one field per kind, the one set holding
// the Ask. Each kind's into sets its own field, so the field list is the
// list of kinds, and JSON follows from the types.
type asks struct {
	Said           *Said           `json:"said,omitempty"`
	Command        *Command        `json:"command,omitempty"`
	ShortcutOn     *ShortcutOn     `json:"shortcut_on,omitempty"`
	Submission     *Submission     `json:"submission,omitempty"`
	Rerun          *Rerun          `json:"rerun,omitempty"`
	Vote           *Vote           `json:"vote,omitempty"`
	WhatWasWrong   *WhatWasWrong   `json:"what_was_wrong,omitempty"`
	MessagesOpened *MessagesOpened `json:"messages_opened,omitempty"`
	Viewing        *Viewing        `json:"viewing,omitempty"`
	Reacted        *Reacted        `json:"reacted,omitempty"`
	HomeOpened     *HomeOpened     `json:"home_opened,omitempty"`
	SettingsAsked  *SettingsAsked  `json:"settings_asked,omitempty"`
	SettingsSaved  *SettingsSaved  `json:"settings_saved,omitempty"`
}

// one is the Ask w holds: its one field set, nil for none.
func (w asks) one() Ask {
	v := reflect.ValueOf(w)
	for i := range v.NumField() {
		if f := v.Field(i); !f.IsNil() {
			return f.Elem().Interface().(Ask)
		}
	}
	return nil
}

// wireRequest is a Request as the shared queue holds it.
type wireRequest struct {
	Origin Origin `json:"origin"`
	Ask    asks   `json:"ask"`
}

// ErrUnknownAsk is a queued request whose Ask this replica does not know:
// one a newer replica queued. Its Origin still says whom to tell.
var ErrUnknownAsk = errors.New("it asks for something this version does not know")

// EncodeRequest is req as the shared queue holds it.
func EncodeRequest(req Request) ([]byte, error) {
	if req.Ask == nil {
		return nil, errors.New("encode a request: it asks nothing")
	}
	var w wireRequest
	w.Origin = req.Origin
	req.Ask.into(&w.Ask)
	// Text as it is: json.Marshal's \u003c for each < and > would make a
	// question of them six times its size in the queue.
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encode a request: %w", err)
	}
	return bytes.TrimSuffix(data.Bytes(), []byte("\n")), nil
}

// DecodeRequest reads a request EncodeRequest wrote. When only its Ask
// can't be read, the Request still has its Origin, and the error is
// ErrUnknownAsk or says what was wrong.
func DecodeRequest(data []byte) (Request, error) {
	var w wireRequest
	if err := json.Unmarshal(data, &w); err != nil {
		var o struct {
			Origin Origin `json:"origin"`
		}
		_ = json.Unmarshal(data, &o) // best effort: whom to tell
		return Request{Origin: o.Origin}, fmt.Errorf("decode a queued request: %w", err)
	}
	ask := w.Ask.one()
	if ask == nil {
		return Request{Origin: w.Origin}, fmt.Errorf("decode a queued request: %w", ErrUnknownAsk)
	}
	return Request{Origin: w.Origin, Ask: ask}, nil
}

// wireFile is a File as the shared queue holds it: what the flows read of
// a file that came with a request, and no more, since every queued byte
// counts against the queue's bound. Of the original's two URLs only the
// one downloaded is kept (imageChoices prefers url_private_download), and
// the conversations a file is shared in are left out: the flows trust
// only those files.info gives (mayShow), which they ask for themselves.
// The names are File's, so that replicas of the version before, which
// wrote and read File whole, and this one read each other's requests
// during a deploy.
type wireFile struct {
	ID          string
	Name        string  `json:",omitempty"`
	Mimetype    string  `json:",omitempty"`
	Filetype    string  `json:",omitempty"`
	Size        int64   `json:",omitempty"`
	URLPrivate  string  `json:",omitempty"`
	URLDownload string  `json:",omitempty"`
	Thumbs      []Thumb `json:",omitempty"`
	Access      string  `json:",omitempty"`
	User        string  `json:",omitempty"`
	// What a video, an audio clip or a PDF carries besides (bot/blocks
	// reads them from Slack's file object), for the flows that pick the
	// copy to download and bound the request before it is spent.
	Display            string            `json:",omitempty"`
	Clip               string            `json:",omitempty"`
	Duration           time.Duration     `json:",omitempty"`
	Transcodes         map[string]string `json:",omitempty"`
	PDFThumb           Thumb             `json:",omitzero"`
	VideoThumb         Thumb             `json:",omitzero"`
	Transcript         string            `json:",omitempty"`
	TranscriptStatus   string            `json:",omitempty"`
	TranscriptComplete bool              `json:",omitempty"`
}

// MarshalJSON writes f in its wire form (wireFile).
func (f File) MarshalJSON() ([]byte, error) {
	w := wireFile{ID: f.ID, Name: f.Name, Mimetype: f.Mimetype, Filetype: f.Filetype, Size: f.Size,
		URLDownload: f.URLDownload, Thumbs: f.Thumbs, Access: f.Access, User: f.User,
		Display: f.Display, Clip: f.Clip, Duration: f.Duration, Transcodes: f.Transcodes, PDFThumb: f.PDFThumb,
		VideoThumb: f.VideoThumb, Transcript: f.Transcript, TranscriptStatus: f.TranscriptStatus,
		TranscriptComplete: f.TranscriptComplete}
	if w.URLDownload == "" {
		w.URLPrivate = f.URLPrivate
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads f's wire form.
func (f *File) UnmarshalJSON(data []byte) error {
	var w wireFile
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*f = File{ID: w.ID, Name: w.Name, Mimetype: w.Mimetype, Filetype: w.Filetype, Size: w.Size,
		URLPrivate: w.URLPrivate, URLDownload: w.URLDownload, Thumbs: w.Thumbs, Access: w.Access, User: w.User,
		Display: w.Display, Clip: w.Clip, Duration: w.Duration, Transcodes: w.Transcodes, PDFThumb: w.PDFThumb,
		VideoThumb: w.VideoThumb, Transcript: w.Transcript, TranscriptStatus: w.TranscriptStatus,
		TranscriptComplete: w.TranscriptComplete}
	return nil
}
