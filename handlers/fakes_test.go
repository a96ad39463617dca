package handlers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/prompts"
)

// fakeSlack records every call the flows make and answers from its maps.
type fakeSlack struct {
	mu        sync.Mutex
	replies   []reply
	responses []string
	reactions []string // "+eyes 1.000100" / "-eyes 1.000100"
	// skipped are the emoji whose AddReaction Slack's budget skips.
	skipped    map[string]bool
	downloaded []string
	fileInfos  []string

	history     []Message
	historyErr  error
	thread      []Message
	repliesErr  error
	files       map[string]File // files.info
	data        map[string][]byte
	downloadErr map[string]error
	postErr     error
	// snippetsErr is Finish's answer once the answer is in the thread: a
	// *SnippetsNotShared when its files could not follow it.
	snippetsErr error

	opened   []*fakeReply
	posted   []reply            // top-level messages
	messages map[string]Message // by ts, for Message
	read     []string           // the ts of every message read with Message
	forms    []Form
	formErr  error
	// settingsForms are the settings modals opened.
	settingsForms []SettingsForm
	homes         map[string]Home

	agent     []string            // status and session calls, in order
	prompts   map[string][]Prompt // suggested prompts by channel
	downvoted []Downvoted
}

// reply is a message the bot left in a thread: an answer or a notice.
type reply struct {
	channel, thread, text string
	footer                *Footer
}

// fakeReply records how an answer was written.
type fakeReply struct {
	s        *fakeSlack
	to       Thread
	appended []string
	done     int // Finish and Fail calls
	// endedOn is the error of the context Finish or Fail was given:
	// nil when it could still make its calls.
	endedOn error
	// snippets are what Finish was given to share as files.
	snippets []Snippet
}

func (f *fakeSlack) OpenReply(_ context.Context, to Thread) Reply {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &fakeReply{s: f, to: to}
	f.opened = append(f.opened, r)
	return r
}

func (r *fakeReply) Append(text string) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.appended = append(r.appended, text)
}

func (r *fakeReply) Finish(ctx context.Context, markdown string, footer *Footer, snippets ...Snippet) error {
	r.s.mu.Lock()
	r.snippets = snippets
	r.s.mu.Unlock()
	if err := r.end(ctx, markdown, footer); err != nil {
		return err
	}
	return r.s.snippetsErr
}

func (r *fakeReply) Fail(ctx context.Context, notice string) error {
	return r.end(ctx, notice, nil)
}

// Stopped records the shown text with the note under it, as the reply
// writer keeps it.
func (r *fakeReply) Stopped(ctx context.Context, note string) error {
	r.s.mu.Lock()
	shown := strings.Join(r.appended, "")
	r.s.mu.Unlock()
	if shown != "" {
		note = shown + "\n\n" + note
	}
	return r.end(ctx, note, nil)
}

func (r *fakeReply) end(ctx context.Context, text string, footer *Footer) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.done++
	r.endedOn = ctx.Err()
	if r.s.postErr != nil {
		return r.s.postErr
	}
	r.s.replies = append(r.s.replies, reply{r.to.Channel, r.to.TS, text, footer})
	return nil
}

func (f *fakeSlack) PostMessage(_ context.Context, channel, markdown string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.postErr != nil {
		return "", f.postErr
	}
	ts := fmt.Sprintf("1700000999.%06d", len(f.posted)+1)
	f.posted = append(f.posted, reply{channel: channel, thread: ts, text: markdown})
	return ts, nil
}

func (f *fakeSlack) Message(_ context.Context, _, ts string) (Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read = append(f.read, ts)
	m, ok := f.messages[ts]
	if !ok {
		return Message{}, failure.Errorf("conversations.replies", failure.FileUnavailable, "", nil)
	}
	return m, nil
}

func (f *fakeSlack) OpenForm(_ context.Context, _ string, form Form) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.formErr != nil {
		return f.formErr
	}
	f.forms = append(f.forms, form)
	return nil
}

func (f *fakeSlack) PublishHome(_ context.Context, user string, home Home) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.homes[user] = home
	return nil
}

func (f *fakeSlack) AddReaction(_ context.Context, _, ts, emoji string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.skipped[emoji] {
		return ErrNotShown
	}
	f.reactions = append(f.reactions, "+"+emoji+" "+ts)
	return nil
}

func (f *fakeSlack) RemoveReaction(_ context.Context, _, ts, emoji string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reactions = append(f.reactions, "-"+emoji+" "+ts)
	return nil
}

func (f *fakeSlack) PostReply(_ context.Context, channel, thread, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.postErr != nil {
		return f.postErr
	}
	f.replies = append(f.replies, reply{channel: channel, thread: thread, text: text})
	return nil
}

func (f *fakeSlack) Respond(_ context.Context, _, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responses = append(f.responses, text)
	return nil
}

func (f *fakeSlack) History(_ context.Context, _ string, _ time.Time, _ int) ([]Message, error) {
	return f.history, f.historyErr
}

// Replies keeps to the bound asked: the root, then the newest messages
// before the one at before.
func (f *fakeSlack) Replies(_ context.Context, _, thread, before string, newest int) ([]Message, error) {
	var root, replies []Message
	for _, m := range f.thread {
		switch {
		case m.TS == thread:
			root = append(root, m)
		case before == "" || tsBefore(m.TS, before):
			replies = append(replies, m)
		}
	}
	replies = replies[max(0, len(replies)-newest):]
	return append(root, replies...), f.repliesErr
}

func (f *fakeSlack) FileInfo(_ context.Context, id string) (File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fileInfos = append(f.fileInfos, id)
	file, ok := f.files[id]
	if !ok {
		return File{}, failure.Errorf("files.info", failure.FileUnavailable, "", nil)
	}
	return file, nil
}

func (f *fakeSlack) Download(_ context.Context, url string, _ int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downloaded = append(f.downloaded, url)
	if err := f.downloadErr[url]; err != nil {
		return nil, err
	}
	data, ok := f.data[url]
	if !ok {
		return nil, failure.Errorf("download", failure.FileUnavailable, "404", nil)
	}
	return data, nil
}

// fakeModel streams its chunks, then returns err. With started set, it
// then waits for its context to end, as a stalled Gemini would, after
// closing started.
type fakeModel struct {
	mu      sync.Mutex
	chunks  []string
	err     error
	got     []vision.Request
	started chan struct{}
	panics  bool
	// usage replaces the usage the fake reports, when set.
	usage *vision.Usage
}

func (m *fakeModel) Stream(ctx context.Context, req vision.Request, onText func(string)) (vision.Usage, error) {
	m.mu.Lock()
	m.got = append(m.got, req)
	m.mu.Unlock()
	for _, c := range m.chunks {
		onText(c)
	}
	if m.panics {
		panic("the model adapter has a bug")
	}
	if m.started != nil {
		close(m.started)
		<-ctx.Done()
		var cut vision.Usage // what the adapter says of a cut stream
		if m.usage != nil {
			cut = *m.usage
		}
		return cut, failure.Errorf("gemini stream", failure.Internal, "", ctx.Err())
	}
	if m.usage != nil {
		return *m.usage, m.err
	}
	return vision.Usage{Model: "fake-model", InputTokens: 10, OutputTokens: 5, ThinkingTokens: 3}, m.err
}

func newTestFlows(t *testing.T, s *fakeSlack, m *fakeModel) *Flows {
	t.Helper()
	catalog, err := prompts.Builtin()
	if err != nil {
		t.Fatalf("load catalog: %v", err)
	}
	now := func() time.Time { return time.Unix(1700000000, 0) }
	cfg := DefaultConfig()
	// The tests of the flows check the reactions too: they stay available.
	cfg.ProgressReactions = true
	return New(s.roles(), m, catalog, zap.NewNop(), cfg, Deps{Now: now})
}

// photo is a Slack image file with the thumbnails Slack makes for a phone
// photo; its URLs are keyed by id.
func photo(id string) File {
	base := "https://files.slack.com/files-pri/T1-" + id
	return File{
		ID: id, Name: id + ".jpg", Mimetype: "image/jpeg", Filetype: "jpg", Size: 3 << 20,
		URLPrivate: base + "/photo.jpg", URLDownload: base + "/download/photo.jpg",
		Thumbs: []Thumb{
			{URL: thumbURL(id, 1024), Width: 1024, Height: 768},
			{URL: thumbURL(id, 720), Width: 720, Height: 540},
			{URL: thumbURL(id, 480), Width: 480, Height: 360},
		},
	}
}

// sharedIn is f as files.info says it, shared in those conversations.
func sharedIn(f File, conversations ...string) File {
	f.SharedIn = conversations
	return f
}

// uploadedBy is f uploaded by user.
func uploadedBy(f File, user string) File {
	f.User = user
	return f
}

func thumbURL(id string, size int) string {
	return fmt.Sprintf("https://files.slack.com/files-tmb/T1-%s-abc/photo_%d.jpg", id, size)
}

func newFakeSlack() *fakeSlack {
	return &fakeSlack{data: map[string][]byte{}, messages: map[string]Message{}, homes: map[string]Home{}, prompts: map[string][]Prompt{}}
}

func mustCatalog(t testing.TB) *prompts.Catalog {
	t.Helper()
	c, err := prompts.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testLogger() *zap.Logger { return zap.NewNop() }

// roles is the fake in every role the flows declare.
func (f *fakeSlack) roles() Slack {
	return Slack{Reader: f, Files: f, Poster: f, Reactor: f, Views: f, Agent: f}
}

// SetStatus records "status channel/thread text" ("" clears).
func (f *fakeSlack) SetStatus(_ context.Context, channel, thread, status string, loading []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.skipped["status"] && status != "" {
		return ErrNotShown
	}
	f.agent = append(f.agent, fmt.Sprintf("status %s/%s %q %d", channel, thread, status, len(loading)))
	return nil
}

func (f *fakeSlack) SetSession(_ context.Context, channel, thread, status string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.agent = append(f.agent, fmt.Sprintf("session %s/%s %s", channel, thread, status))
	return nil
}

func (f *fakeSlack) SuggestPrompts(_ context.Context, channel, title string, prompts []Prompt) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prompts[channel] = prompts
	return nil
}

func (f *fakeSlack) RespondDownvoted(_ context.Context, _ string, d Downvoted) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downvoted = append(f.downvoted, d)
	return nil
}
