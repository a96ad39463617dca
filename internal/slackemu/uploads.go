package slackemu

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// Uploaded is a file the bot put into Slack with the external upload flow
// (files.getUploadURLExternal, a POST of its bytes to the upload URL,
// files.completeUploadExternal), as Slack keeps it.
type Uploaded struct {
	ID          string
	Name        string // the filename given to files.getUploadURLExternal
	Title       string // from completeUploadExternal's files[], else Name
	SnippetType string // snippet_type, "" when none was given
	Filetype    string // the file's type: snippet_type, else from Name's extension
	Content     []byte
	// Auth is the Authorization header of the POST that carried the bytes:
	// Slack's docs ask for none there.
	Auth string
	// Channel and ThreadTS are where completeUploadExternal shared it, and
	// TS the message that shows it; all "" while it is not shared.
	Channel, ThreadTS, TS string
}

// pendingUpload is an upload between files.getUploadURLExternal and
// files.completeUploadExternal.
type pendingUpload struct {
	file     Uploaded
	length   int
	received bool // its bytes were posted to the upload URL
}

// uploadPrefix is the path of upload URLs; Slack's are
// https://files.slack.com/upload/v1/….
const uploadPrefix = "/upload/v1/"

// getUploadURL is files.getUploadURLExternal: filename and length are
// required (Slack answers missing_argument, which its docs say a length of
// 0 gives too), and the answer is a one-use upload URL and the file's id.
// Slack documents no lifetime for the URL; this one lasts until it is used.
func (s *Server) getUploadURL(r *apiReq) any {
	name, length := r.param("filename"), r.param("length")
	if name == "" || length == "" || length == "0" {
		return apiErr("missing_argument")
	}
	n, err := strconv.Atoi(length)
	if err != nil || n < 0 {
		return apiErr("invalid_arguments")
	}
	id := fmt.Sprintf("F%010d", s.nextID())
	snippet := r.param("snippet_type")
	filetype := snippet
	if filetype == "" {
		filetype = "binary"
		if t, ok := fileTypes[strings.TrimPrefix(path.Ext(name), ".")]; ok {
			filetype = t[0]
		}
	}
	key := fmt.Sprintf("%s-%d", id, s.nextID())
	s.uploads[key] = &pendingUpload{
		file:   Uploaded{ID: id, Name: name, Title: name, SnippetType: snippet, Filetype: filetype},
		length: n,
	}
	return okResp("upload_url", s.hs.URL+uploadPrefix+key, "file_id", id)
}

// handleUpload takes a file's bytes at its upload URL, raw or as a
// multipart form (Slack's docs allow both), and answers 200 as Slack does
// when the upload succeeds. The bytes must be as many as the length given
// for the URL: a strictness of the emulator's, so that a client that
// declares one size and sends another is caught.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := uploadBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	up := s.uploads[strings.TrimPrefix(r.URL.Path, uploadPrefix)]
	switch {
	case up == nil || up.received:
		http.NotFound(w, r)
		return
	case len(body) != up.length:
		http.Error(w, fmt.Sprintf("%d bytes, but the upload URL was asked for %d", len(body), up.length), http.StatusBadRequest)
		return
	}
	up.received = true
	up.file.Content = body
	up.file.Auth = r.Header.Get("Authorization")
	s.notify()
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(body)))
}

// uploadBody is the file in an upload POST: its first file part when the
// body is a multipart form, else the body itself.
func uploadBody(r *http.Request) ([]byte, error) {
	body := io.LimitReader(r.Body, 64<<20)
	ctype, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype != "multipart/form-data" {
		return io.ReadAll(body)
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("multipart form without a file: %w", err)
		}
		if part.FileName() != "" {
			return io.ReadAll(part)
		}
	}
}

// completeUpload is files.completeUploadExternal: files (an array of
// {id, title}) is required; each must have had its bytes posted, and is
// completed once. With channel_id the files are shared in one message of
// the bot's, in thread_ts's thread when given, with initial_comment as its
// text. Slack does not document its errors for an unknown or incomplete
// file: the emulator answers file_not_found.
func (s *Server) completeUpload(r *apiReq) any {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(r.param("files")), &files); err != nil || len(files) == 0 {
		return apiErr("invalid_arguments")
	}
	keys := make([]string, len(files))
	for i, f := range files {
		for k, up := range s.uploads {
			if up.file.ID == f.ID && up.received {
				keys[i] = k
			}
		}
		if keys[i] == "" {
			return apiErr("file_not_found")
		}
	}
	ch := r.param("channel_id")
	if ch != "" {
		if code := s.channelError(ch); code != "" {
			return apiErr(code)
		}
	}
	done := make([]Uploaded, len(files))
	summaries := make([]any, len(files))
	for i, k := range keys {
		f := s.uploads[k].file
		delete(s.uploads, k)
		if files[i].Title != "" {
			f.Title = files[i].Title
		}
		done[i] = f
		summaries[i] = map[string]any{"id": f.ID, "title": f.Title}
	}
	if ch != "" {
		ts := s.newTS()
		fields := s.botFields(ch, ts, r)
		fields["text"] = r.param("initial_comment")
		fields["upload"] = true
		objects := make([]any, len(done))
		for i := range done {
			done[i].Channel, done[i].ThreadTS, done[i].TS = ch, r.param("thread_ts"), ts
			objects[i] = uploadedObject(done[i])
		}
		fields["files"] = objects
		s.store(&message{channel: ch, ts: ts, fields: fields, byBot: true, at: time.Now()})
	}
	s.uploaded = append(s.uploaded, done...)
	s.notify()
	return okResp("files", summaries)
}

// uploadedObject is the file object a shared upload shows in its message.
func uploadedObject(f Uploaded) map[string]any {
	mode := "hosted"
	if f.SnippetType != "" {
		mode = "snippet"
	}
	return map[string]any{
		"id": f.ID, "name": f.Name, "title": f.Title, "filetype": f.Filetype, "mode": mode,
		"size": len(f.Content), "user": BotUserID, "is_external": false,
	}
}

// Uploads returns the files the bot completed with
// files.completeUploadExternal, in order.
func (s *Server) Uploads() []Uploaded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Uploaded(nil), s.uploaded...)
}

// WaitUploads waits until at least n files were completed and returns them.
func (s *Server) WaitUploads(n int, timeout time.Duration) ([]Uploaded, error) {
	var got []Uploaded
	if !s.waitFor(timeout, func() bool { got = append([]Uploaded(nil), s.uploaded...); return len(got) >= n }) {
		return got, errTimeout(fmt.Sprintf("%d uploaded files (got %d)", n, len(got)), timeout)
	}
	return got, nil
}
