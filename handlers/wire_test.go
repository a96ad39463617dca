package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// fill sets every field of v, recursively, to a value that is not its
// zero: a field the wire form dropped would come back empty.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x-" + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// Every kind of Ask, every field filled, crosses the shared queue as it
// is. The kinds are the fields of asks, so a new kind is tested here
// the moment it can be an Ask.
func TestEveryAskRoundTrips(t *testing.T) {
	t.Parallel()

	var origin Origin
	fill(reflect.ValueOf(&origin).Elem())
	kinds := reflect.TypeFor[asks]()
	for i := range kinds.NumField() {
		kind := kinds.Field(i).Type.Elem()
		t.Run(kind.Name(), func(t *testing.T) {
			t.Parallel()

			v := reflect.New(kind).Elem()
			fill(v)
			ask, ok := v.Interface().(Ask)
			if !ok {
				t.Fatalf("%s has a field in asks but is no Ask", kind)
			}
			req := Request{Origin: origin, Ask: ask}
			data, err := EncodeRequest(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeRequest(data)
			if err != nil {
				t.Fatal(err)
			}
			w := reflect.New(kind).Elem()
			fill(w)
			keptOfFiles(w)
			want := Request{Origin: origin, Ask: w.Interface().(Ask)}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%#v\ncame back as %#v", want, got)
			}
		})
	}
}

// keptOfFiles makes each File in v what the queue keeps of it (wireFile):
// every field but the conversations it is shared in, and one URL of the
// original.
func keptOfFiles(v reflect.Value) {
	if f, ok := v.Addr().Interface().(*File); ok {
		f.SharedIn = nil
		if f.URLDownload != "" {
			f.URLPrivate = ""
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				keptOfFiles(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			keptOfFiles(v.Index(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			keptOfFiles(v.Elem())
		}
	}
}

// The queue keeps of a file what the flows read of it, under File's own
// names (so that the version before reads it too), and text as it is.
func TestQueuedFilesKeepWhatTheFlowsRead(t *testing.T) {
	t.Parallel()

	thumb := Thumb{URL: "https://files.slack.com/files-tmb/T1-F1-a/p_720.jpg", Width: 720, Height: 540}
	tests := []struct {
		name       string
		file, want File
	}{
		{"both URLs: the one downloaded",
			File{ID: "F1", Name: "p.jpg", URLPrivate: "https://files.slack.com/p", URLDownload: "https://files.slack.com/d", Thumbs: []Thumb{thumb}, SharedIn: []string{"C1"}},
			File{ID: "F1", Name: "p.jpg", URLDownload: "https://files.slack.com/d", Thumbs: []Thumb{thumb}}},
		{"only url_private",
			File{ID: "F2", URLPrivate: "https://files.slack.com/p", Mimetype: "image/png", Filetype: "png", Size: 9, User: "U1"},
			File{ID: "F2", URLPrivate: "https://files.slack.com/p", Mimetype: "image/png", Filetype: "png", Size: 9, User: "U1"}},
		{"a Slack Connect stub", File{ID: "F3", Access: "check_file_info"}, File{ID: "F3", Access: "check_file_info"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			data, err := EncodeRequest(Request{Ask: Said{Text: "<b> & <i>", Files: []File{tt.file}}})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte("SharedIn")) || bytes.Contains(data, []byte(`\u003c`)) {
				t.Errorf("queued as %s", data)
			}
			got, err := DecodeRequest(data)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Said{Text: "<b> & <i>", Files: []File{tt.want}}); !reflect.DeepEqual(got.Ask, want) {
				t.Errorf("came back as %#v, want %#v", got.Ask, want)
			}
			// The version before reads File whole, by its field names.
			var before struct {
				Ask struct {
					Said struct {
						Files []struct{ ID, URLPrivate, URLDownload, Access string }
					}
				} `json:"ask"`
			}
			if err := json.Unmarshal(data, &before); err != nil || len(before.Ask.Said.Files) != 1 || before.Ask.Said.Files[0].ID != tt.want.ID ||
				before.Ask.Said.Files[0].URLDownload != tt.want.URLDownload || before.Ask.Said.Files[0].URLPrivate != tt.want.URLPrivate {
				t.Errorf("the version before reads %+v (%v) of %s", before.Ask.Said.Files, err, data)
			}
		})
	}
}

// A request whose Ask this version does not know (a newer replica's)
// still says whom to tell.
func TestUnknownAskKeepsItsOrigin(t *testing.T) {
	t.Parallel()

	got, err := DecodeRequest([]byte(`{"origin":{"Channel":"C1","Thread":"1.2"},"ask":{"a_kind_from_the_future":{}}}`))
	if !errors.Is(err, ErrUnknownAsk) {
		t.Errorf("err = %v, want ErrUnknownAsk", err)
	}
	if got.Channel != "C1" || got.Thread != "1.2" {
		t.Errorf("origin = %+v, want C1 1.2", got.Origin)
	}
	if _, err := DecodeRequest([]byte(`not json`)); err == nil {
		t.Error("garbage decoded")
	}
}
