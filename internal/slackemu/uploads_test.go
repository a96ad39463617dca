package slackemu

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// apiForm calls method with form values the way any client may, past
// slack-go's own checks of the arguments, and returns Slack's error code
// ("" for ok).
func apiForm(t *testing.T, s *Server, method string, values url.Values) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.APIURL()+method, strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+botToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !got.OK && got.Error == "" {
		t.Fatalf("%s answered ok:false without an error", method)
	}
	return got.Error
}

// uploadTo posts data to an upload URL as raw bytes, with auth as its
// Authorization header when not "", and returns the status.
func uploadTo(t *testing.T, uploadURL string, data []byte, auth string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, uploadURL, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestUploadArguments(t *testing.T) {
	t.Parallel()

	s, _ := newEmu(t)
	tests := []struct {
		name   string
		method string
		values url.Values
		want   string
	}{
		{"no filename", "files.getUploadURLExternal", url.Values{"length": {"10"}}, "missing_argument"},
		{"no length", "files.getUploadURLExternal", url.Values{"filename": {"a.txt"}}, "missing_argument"},
		{"a length of 0", "files.getUploadURLExternal", url.Values{"filename": {"a.txt"}, "length": {"0"}}, "missing_argument"},
		{"a length that is no number", "files.getUploadURLExternal", url.Values{"filename": {"a.txt"}, "length": {"ten"}}, "invalid_arguments"},
		{"both", "files.getUploadURLExternal", url.Values{"filename": {"a.txt"}, "length": {"10"}}, ""},
		{"no files", "files.completeUploadExternal", url.Values{"channel_id": {"C1"}}, "invalid_arguments"},
		{"files not an array", "files.completeUploadExternal", url.Values{"files": {`{"id":"F1"}`}}, "invalid_arguments"},
		{"an unknown file", "files.completeUploadExternal", url.Values{"files": {`[{"id":"FNOPE"}]`}}, "file_not_found"},
	}
	for _, tt := range tests {
		// One after the other: the cases share one emulator.
		t.Run(tt.name, func(t *testing.T) {
			if got := apiForm(t, s, tt.method, tt.values); got != tt.want {
				t.Errorf("%s(%v) = %q, want %q", tt.method, tt.values, got, tt.want)
			}
		})
	}
	s.SetScopes(strings.ReplaceAll(DefaultScopes, ",files:write", ""))
	for _, method := range []string{"files.getUploadURLExternal", "files.completeUploadExternal"} {
		if got := apiForm(t, s, method, url.Values{"filename": {"a.txt"}, "length": {"1"}, "files": {`[{"id":"F1"}]`}}); got != "missing_scope" {
			t.Errorf("%s without files:write = %q, want missing_scope", method, got)
		}
	}
}

// The whole flow through slack-go: a snippet shared in a thread, as Slack
// keeps it and shows it.
func TestUploadFlow(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	ctx := context.Background()
	root := s.AddMessage("C1", map[string]any{"user": "U1", "text": "photo"})
	code := []byte("<button>OK</button>\n")

	up, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
		FileName: "visionbot-code.html", FileSize: len(code), SnippetType: "html"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(up.UploadURL, s.URL()+"upload/v1/") || !strings.HasPrefix(up.FileID, "F") {
		t.Fatalf("upload URL %q, file %q", up.UploadURL, up.FileID)
	}
	complete := func() error {
		_, err := api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
			Files: []slack.FileSummary{{ID: up.FileID, Title: "Code"}}, Channel: "C1", ThreadTimestamp: root})
		return err
	}
	if err := complete(); err == nil || err.Error() != "file_not_found" {
		t.Errorf("completed before its bytes came: %v, want file_not_found", err)
	}
	if got := uploadTo(t, up.UploadURL, code[:5], ""); got != http.StatusBadRequest {
		t.Errorf("fewer bytes than the length given: %d, want 400", got)
	}
	if got := uploadTo(t, up.UploadURL, code, ""); got != http.StatusOK {
		t.Fatalf("upload: %d", got)
	}
	if got := uploadTo(t, up.UploadURL, code, ""); got != http.StatusNotFound {
		t.Errorf("the upload URL used twice: %d, want 404", got)
	}
	if err := complete(); err != nil {
		t.Fatal(err)
	}
	if err := complete(); err == nil {
		t.Error("an upload completed twice")
	}

	files, err := s.WaitUploads(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	f := files[0]
	if f.ID != up.FileID || f.Name != "visionbot-code.html" || f.Title != "Code" || f.SnippetType != "html" ||
		f.Filetype != "html" || !bytes.Equal(f.Content, code) || f.Auth != "" || f.Channel != "C1" || f.ThreadTS != root {
		t.Errorf("uploaded %+v", f)
	}
	posted := s.Posted("C1")
	if len(posted) != 1 || posted[0].TS != f.TS || posted[0].ThreadTS != root || len(posted[0].Files) != 1 || posted[0].Files[0] != f.ID {
		t.Errorf("the thread shows %+v, want the file's message", posted)
	}
	thread, _, _, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: root})
	if err != nil || len(thread) != 2 || len(thread[1].Files) != 1 || thread[1].Files[0].Name != "visionbot-code.html" || thread[1].BotID != BotID {
		t.Errorf("conversations.replies = %+v, %v", thread, err)
	}
}

// slack-go's own helper sends the bot token with the bytes, which Slack's
// docs do not ask for: the emulator records it, for tests that forbid it.
func TestUploadRecordsAuthorization(t *testing.T) {
	t.Parallel()

	s, api := newEmu(t)
	_, err := api.UploadFileContext(context.Background(), slack.UploadFileParameters{
		Filename: "notes.txt", FileSize: 3, Content: "abc", Channel: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	files := s.Uploads()
	if len(files) != 1 || files[0].Auth != "Bearer "+botToken || string(files[0].Content) != "abc" || files[0].Filetype != "text" {
		t.Errorf("uploads = %+v", files)
	}
}
