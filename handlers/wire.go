package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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
	data, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode a request: %w", err)
	}
	return data, nil
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
