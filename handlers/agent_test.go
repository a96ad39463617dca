package handlers

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/testimage"
)

// fakeStops records whose requests in which threads are watched
// ("C1/1700000000.000100/U1") and lets a test press Stop as that person.
type fakeStops struct {
	mu       sync.Mutex
	watching map[string]func()
	watched  []string
}

func (f *fakeStops) Watch(channel, thread, user string, stop func()) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.watching == nil {
		f.watching = map[string]func(){}
	}
	key := channel + "/" + thread + "/" + user
	f.watching[key] = stop
	f.watched = append(f.watched, key)
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.watching, key)
	}
}

func (f *fakeStops) press(key string) bool {
	f.mu.Lock()
	stop, ok := f.watching[key]
	f.mu.Unlock()
	if ok {
		stop()
	}
	return ok
}

// While a request runs, its thread shows the use case's loading messages
// and its agent session is "processing" (Slack's Stop button); both are
// taken down at every ending, failures included, and only what was put up.
func TestStatusAndSessionShowWhileARequestRuns(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		setup       func(s *fakeSlack, m *fakeModel)
		wantReply   string
		skipped     bool
		wantClearAt bool
	}{
		{name: "an answer", wantReply: "Pasta.", wantClearAt: true},
		{name: "a failure", setup: func(s *fakeSlack, m *fakeModel) {
			m.err = failure.Errorf("gemini stream", failure.Unavailable, "503", nil)
		}, wantReply: "overloaded", wantClearAt: true},
		{name: "a status skipped under Slack's tiers is not cleared", setup: func(s *fakeSlack, m *fakeModel) {
			s.skipped = map[string]bool{"status": true}
		}, wantReply: "Pasta.", skipped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			m := &fakeModel{chunks: []string{"Pasta."}}
			if tt.setup != nil {
				tt.setup(s, m)
			}
			h := newTestFlows(t, s, m)
			h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: "recipe", Files: []File{photo("F1")}}))
			if len(s.replies) != 1 || !strings.Contains(s.replies[0].text, tt.wantReply) {
				t.Fatalf("replies = %+v", s.replies)
			}
			recipe, _ := h.catalog.Lookup("recipe")
			want := []string{"session C1/1700000000.000100 processing", "session C1/1700000000.000100 active"}
			if !tt.skipped {
				want = append(want, "status C1/1700000000.000100 \"is looking at your photo…\" 3", "status C1/1700000000.000100 \"\" 0")
			}
			if got := slices.Sorted(slices.Values(s.agent)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("agent calls = %q, want %q", s.agent, want)
			}
			if len(recipe.Loading) != 3 {
				t.Errorf("recipe has %d loading messages, the test expects 3", len(recipe.Loading))
			}
		})
	}
}

// A person's Stop cancels the request answering in the thread: the model
// call ends at once, what was written stays with a note under it, and the
// session leaves "processing".
func TestStopEndsTheAnswerAndKeepsWhatWasWritten(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	m := &fakeModel{chunks: []string{"The first words"}, started: make(chan struct{})}
	stops := &fakeStops{}
	cfg := DefaultConfig()
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{Stops: stops})
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}}))
	}()
	<-m.started
	if stops.press("C1/1700000000.000100/U2") {
		t.Fatal("another person's Stop reached the request")
	}
	if !stops.press("C1/1700000000.000100/U1") {
		t.Fatalf("no request of U1 watched the thread; watched %v", stops.watched)
	}
	<-done
	if len(s.replies) != 1 || s.replies[0].text != "The first words\n\n_Stopped._" {
		t.Errorf("replies = %+v, want what was written, then the note", s.replies)
	}
	if last := s.agent[len(s.agent)-1]; !strings.Contains(strings.Join(s.agent, ","), "session C1/1700000000.000100 active") {
		t.Errorf("agent calls = %q (last %q): the session must leave processing", s.agent, last)
	}
	if stops.press("C1/1700000000.000100/U1") {
		t.Error("the ended request still watches the thread")
	}
}

// A 👎 gets a private follow-up offering the other use cases on the same
// images, in the answer's thread, and a line to say what was wrong, which
// is logged with the use case.
func TestThumbsDownOffersAnotherUseCaseAndALine(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	core, logs := observer.New(zap.InfoLevel)
	h := New(s.roles(), &fakeModel{}, mustCatalog(t), zap.New(core), DefaultConfig(), Deps{})
	ref := AnswerRef{UseCase: "recipe", Files: []string{"F1"}, Thread: "1700000000.000100"}
	h.Run(context.Background(), voteBy("U1", "https://hooks.slack.com/r", false, ref))
	if len(s.downvoted) != 1 {
		t.Fatalf("private follow-ups = %+v, want one", s.downvoted)
	}
	d := s.downvoted[0]
	if d.Ref.Thread != ref.Thread || slices.ContainsFunc(d.Choices, func(c Choice) bool { return c.Name == "recipe" }) ||
		len(d.Choices) != len(h.catalog.All())-1 {
		t.Errorf("follow-up = %+v, want the other use cases, in the answer's thread", d)
	}
	h.Run(context.Background(), Request{Origin: Origin{Trigger: TriggerFeedback, Channel: "C1", User: "U1", ResponseURL: "https://hooks.slack.com/r2"},
		Ask: WhatWasWrong{Text: "  it thought\nthe pasta was rice ", Ref: ref}})
	entries := logs.FilterMessage("feedback: what was wrong").All()
	if len(entries) != 1 || entries[0].ContextMap()["use_case"] != "recipe" || entries[0].ContextMap()["what"] != "it thought the pasta was rice" {
		t.Errorf("logged %+v", entries)
	}
	if got := h.Votes()["recipe"]; got.Down != 1 {
		t.Errorf("votes = %+v", got)
	}
}

// The Messages tab offers the catalog's suggestions; picking one without a
// photo gets a one-line ask, and the next photo in that thread is answered
// with that use case.
func TestMessagesTabSuggestionsAndThePhotoThatFollows(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	m := &fakeModel{chunks: []string{"A recipe."}}
	cfg := DefaultConfig()
	cfg.BotUserID = "UBOT"
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{})

	h.Run(context.Background(), Request{Origin: Origin{Trigger: TriggerMessages, Channel: "D1", User: "U1"}, Ask: MessagesOpened{}})
	prompts := s.prompts["D1"]
	if len(prompts) == 0 || len(prompts) > 4 || !slices.ContainsFunc(prompts, func(p Prompt) bool {
		return p.Title == "Turn a food photo into a recipe" && p.Message == "recipe"
	}) {
		t.Fatalf("prompts = %+v", prompts)
	}

	h.Run(context.Background(), dm(Message{Channel: "D1", TS: "1700000000.000100", User: "U1", Text: "recipe"}))
	if len(s.replies) != 1 || s.replies[0].thread != "1700000000.000100" || !strings.Contains(s.replies[0].text, "Send me the photo") {
		t.Fatalf("replies = %+v, want an ask for the photo", s.replies)
	}
	s.thread = []Message{
		{TS: "1700000000.000100", User: "U1", Text: "recipe"},
		{TS: "1700000000.000200", User: "UBOT", BotID: "BBOT", Text: s.replies[0].text},
	}
	h.Run(context.Background(), dm(Message{Channel: "D1", TS: "1700000000.000300", ThreadTS: "1700000000.000100", User: "U1",
		Files: []File{photo("F1")}}))
	recipe, _ := h.catalog.Lookup("recipe")
	if len(m.got) != 1 || m.got[0].System != recipe.System {
		t.Fatalf("model calls = %d; want the photo answered as a recipe", len(m.got))
	}
}

// Where the person looks at a message with a photo, the prompts offer that
// photo's use cases; picking one answers about that message in the DM. A
// reference the bot did not sign for this person is not read.
func TestPromptsForThePhotoBeingViewed(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
	s.messages["1700000000.000500"] = Message{Channel: "C7", TS: "1700000000.000500", User: "U2", Files: []File{photo("F1")}}
	m := &fakeModel{chunks: []string{"Carbonara."}}
	cfg := DefaultConfig()
	cfg.RefKey = []byte("a test key")
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{})

	h.Run(context.Background(), Request{Origin: Origin{Trigger: TriggerMessages, Channel: "D1", User: "U1"},
		Ask: Viewing{Channel: "C7", TS: "1700000000.000500"}})
	prompts := s.prompts["D1"]
	i := slices.IndexFunc(prompts, func(p Prompt) bool { return strings.HasPrefix(p.Message, "recipe ") })
	if i < 0 || !strings.Contains(prompts[i].Title, "viewing") {
		t.Fatalf("prompts = %+v, want the photo's use cases", prompts)
	}
	// Slack sends the link back between angle brackets.
	picked := strings.Replace(prompts[i].Message, "https://", "<https://", 1)
	picked = strings.Replace(picked, " #", "> #", 1)

	tests := []struct {
		name, user, text string
		wantModel        bool
	}{
		{"the person it was made for", "U1", picked, true},
		{"another person with the same text", "U3", picked, false},
		{"a forged signature", "U1", strings.Replace(picked, "#", "#0", 1)[:len(picked)], false},
	}
	for _, tt := range tests {
		// One after the other: the cases share the handler and its fakes.
		t.Run(tt.name, func(t *testing.T) {
			s.replies, m.got = nil, nil
			h.Run(context.Background(), dm(Message{Channel: "D1", TS: "1700000000.000900", User: tt.user, Text: tt.text}))
			if got := len(m.got) == 1; got != tt.wantModel {
				t.Fatalf("answered about the message: %v, want %v; replies %+v", got, tt.wantModel, s.replies)
			}
			if tt.wantModel {
				recipe, _ := h.catalog.Lookup("recipe")
				if m.got[0].System != recipe.System || len(s.replies) != 1 || s.replies[0].thread != "1700000000.000900" {
					t.Errorf("replies = %+v", s.replies)
				}
			}
		})
	}
}

// A follow-up sends the asker's photos posted in the thread after the
// first one too, newest first, with the new message's own, at most
// MaxImages.
func TestFollowUpSeesTheThreadsNewerPhotos(t *testing.T) {
	t.Parallel()

	s := newFakeSlack()
	for i, id := range []string{"F1", "F2", "F3", "F4", "F5"} {
		s.data[thumbURL(id, 720)] = testimage.PNG(t, 8+i, 8) // each its own bytes, to tell the order
	}
	s.thread = []Message{
		{TS: "1700000000.000100", User: "U1", Text: "recipe", Files: []File{photo("F1")}},
		{TS: "1700000000.000200", User: "UBOT", BotID: "BBOT", Text: "A recipe.", Answer: &AnswerRef{UseCase: "recipe", Files: []string{"F1"}}},
		{TS: "1700000000.000300", User: "U1", Files: []File{photo("F2"), photo("F3")}},
		{TS: "1700000000.000400", User: "U1", Files: []File{photo("F4")}},
	}
	m := &fakeModel{chunks: []string{"And this one is…"}}
	cfg := DefaultConfig()
	cfg.BotUserID = "UBOT"
	h := New(s.roles(), m, mustCatalog(t), testLogger(), cfg, Deps{})
	h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000500", ThreadTS: "1700000000.000100", User: "U1",
		Text: "and this one?", Files: []File{photo("F5")}}))
	if len(m.got) != 1 {
		t.Fatalf("model calls = %d, replies %+v", len(m.got), s.replies)
	}
	if n := len(m.got[0].Turns[0].Images); n != cfg.MaxImages {
		t.Errorf("sent %d images, want MaxImages (%d)", n, cfg.MaxImages)
	}
	wantOrder := []string{thumbURL("F5", 720), thumbURL("F4", 720), thumbURL("F2", 720), thumbURL("F3", 720)}
	if got := slices.Sorted(slices.Values(s.downloaded)); !slices.Equal(got, slices.Sorted(slices.Values(wantOrder))) {
		t.Errorf("downloaded %v, want the newest %d: %v", s.downloaded, cfg.MaxImages, wantOrder)
	}
	for i, img := range m.got[0].Turns[0].Images {
		if i < len(wantOrder) && !bytes.Equal(img.Data, s.data[wantOrder[i]]) {
			t.Errorf("image %d is not %s: the model gets them newest first", i, wantOrder[i])
		}
	}
	if recipe, _ := h.catalog.Lookup("recipe"); m.got[0].System != recipe.System {
		t.Error("the follow-up left the thread's use case")
	}
}

// Help and the Home tab say what happens to people's photos, and what the
// bot's logs note.
func TestHelpAndHomeSayWhatHappensToPhotos(t *testing.T) {
	t.Parallel()

	for _, vertex := range []bool{false, true} {
		s := newFakeSlack()
		cfg := DefaultConfig()
		cfg.VertexAI = vertex
		if vertex {
			cfg.Backend = "Vertex AI (project p, europe-west4)"
		}
		h := New(s.roles(), &fakeModel{}, mustCatalog(t), testLogger(), cfg, Deps{})
		h.Run(context.Background(), homeOf("U1"))
		for _, text := range []string{h.helpText(), s.homes["U1"].Privacy} {
			for _, want := range []string{cfg.Backend, "I keep none of them myself", "My logs, kept by whoever runs me",
				"your Slack user ID", "never your questions, my answers or your images",
				"a line you write after a 👎 is logged with its use case, without your ID, cut to 300 characters",
				"a follow-up in a thread sends your own messages there, my answers and the photos they were about, never what others wrote"} {
				if !strings.Contains(text, want) {
					t.Errorf("vertex %v: %q lacks %q", vertex, text, want)
				}
			}
			terms := "ai.google.dev/gemini-api/terms"
			if vertex {
				terms = "cloud.google.com/terms"
			}
			if !strings.Contains(text, terms) {
				t.Errorf("vertex %v: %q does not link %s", vertex, text, terms)
			}
		}
	}
}

// The privacy text says what Google keeps, as the bot is configured: the
// Gemini API's request logs off (store: false) or on, its abuse logs and
// its free tier, a grounded answer's 30 days, Vertex AI's terms.
func TestPrivacySaysWhatGoogleKeeps(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(*Config)
		want, lacks []string
	}{
		{"gemini api", func(*Config) {},
			[]string{"I ask Google not to keep them in the app's request logs", "up to 55 days to detect abuse", "free tier"},
			[]string{"turned on Gemini request logs", "30 days"}},
		{"gemini api with request logs", func(c *Config) { c.RequestLogs = true },
			[]string{"turned on Gemini request logs: Google keeps each request (your photos, your questions, your earlier messages and my answers in the thread) and its answer for up to 55 days",
				"up to 55 days to detect abuse"},
			[]string{"not to keep them"}},
		{"grounding", func(c *Config) { c.Grounding = true },
			[]string{"When an answer searches Google (`guide`), Google keeps that request and answer for 30 days"}, nil},
		{"vertex ai", func(c *Config) {
			c.VertexAI, c.Backend, c.Grounding = true, "Vertex AI (project p, europe-west4)", true
		},
			[]string{"Vertex AI (project p, europe-west4)", "doesn't train its models on them", "cloud.google.com/terms"},
			[]string{"request logs", "free tier", "ai.google.dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeSlack()
			cfg := DefaultConfig()
			tt.edit(&cfg)
			h := New(s.roles(), &fakeModel{}, mustCatalog(t), testLogger(), cfg, Deps{})
			h.Run(context.Background(), homeOf("U1"))
			for _, text := range []string{h.helpText(), s.homes["U1"].Privacy} {
				for _, w := range tt.want {
					if !strings.Contains(text, w) {
						t.Errorf("%q lacks %q", text, w)
					}
				}
				for _, l := range tt.lacks {
					if strings.Contains(text, l) {
						t.Errorf("%q has %q", text, l)
					}
				}
			}
		})
	}
}

// fakeTicker is a clock the test ticks: a tick is received when Tick
// returns, so a second Tick returns only once the first one's refresh is
// done. stopped is closed when the ticks are stopped.
type fakeTicker struct {
	every   time.Duration
	ticks   chan time.Time
	stopped chan struct{}
}

func newFakeTicker() *fakeTicker {
	return &fakeTicker{ticks: make(chan time.Time), stopped: make(chan struct{})}
}

func (f *fakeTicker) start(d time.Duration) (<-chan time.Time, func()) {
	f.every = d
	return f.ticks, sync.OnceFunc(func() { close(f.stopped) })
}

// tick ticks once, and reports false when nothing listened before the
// ticks stopped.
func (f *fakeTicker) tick(t *testing.T) bool {
	t.Helper()
	select {
	case f.ticks <- time.Time{}:
		return true
	case <-f.stopped:
		return false
	}
}

// statusSets counts the calls that put a thread's loading status up.
func statusSets(s *fakeSlack) (sets, clears int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.agent {
		switch {
		case strings.HasPrefix(c, "status ") && strings.Contains(c, `"is looking at your photo…"`):
			sets++
		case strings.HasPrefix(c, "status ") && strings.Contains(c, `""`):
			clears++
		}
	}
	return sets, clears
}

// Slack removes a thread's loading status after two minutes without a
// message, and a request may take longer before its first words: the
// status is set again every 90 seconds until the answer shows text, each
// time as a courtesy the tiers may skip, and the refreshes stop at every
// ending.
func TestStatusIsRefreshedUntilTheAnswerShows(t *testing.T) {
	tests := []struct {
		name string
		// chunks the model writes before it waits to be stopped.
		chunks    []string
		skipped   bool // Slack's tier has no room for the status
		ticks     int  // ticks the refresher takes
		wantSets  int
		wantClear int
	}{
		{name: "no words yet: refreshed at each tick", ticks: 3, wantSets: 4, wantClear: 1},
		{name: "the first words end the refreshes", chunks: []string{"The first words"}, ticks: 0, wantSets: 1, wantClear: 1},
		{name: "refreshes the tier skips are no failure", skipped: true, ticks: 2, wantSets: 0, wantClear: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			if tt.skipped {
				s.skipped = map[string]bool{"status": true}
			}
			m := &fakeModel{chunks: tt.chunks, started: make(chan struct{})}
			stops := &fakeStops{}
			cfg := DefaultConfig()
			core, logs := observer.New(zap.WarnLevel)
			h := New(s.roles(), m, mustCatalog(t), zap.New(core), cfg, Deps{Stops: stops})
			ticker := newFakeTicker()
			h.ticker = ticker.start
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Files: []File{photo("F1")}}))
			}()
			<-m.started
			for i := range tt.ticks {
				if !ticker.tick(t) {
					t.Fatalf("tick %d: the refreshes stopped while the answer showed nothing", i+1)
				}
			}
			if tt.ticks == 0 {
				// The words were shown before the model waited: the
				// refresher is gone, or going, without a tick. (The
				// timer only bounds a failure.)
				select {
				case <-ticker.stopped:
				case <-time.After(10 * time.Second):
					t.Fatal("the answer shows its first words and its status is still refreshed")
				}
			}
			if !stops.press("C1/1700000000.000100/U1") {
				t.Fatalf("no request watched the thread")
			}
			<-done
			select {
			case <-ticker.stopped:
			default:
				t.Error("the request ended and its status is still refreshed")
			}
			if ticker.every != statusRefresh || statusRefresh >= 2*time.Minute {
				t.Errorf("refreshed every %v, want statusRefresh (%v), under Slack's two minutes", ticker.every, statusRefresh)
			}
			if sets, clears := statusSets(s); sets != tt.wantSets || clears != tt.wantClear {
				t.Errorf("status set %d times and cleared %d, want %d and %d; calls %q", sets, clears, tt.wantSets, tt.wantClear, s.agent)
			}
			if n := logs.Len(); n != 0 {
				t.Errorf("logged %d warnings, want none: %v", n, logs.All())
			}
		})
	}
}

// However a request ends, its status stops being refreshed by the time it
// has: an answer, the model's failure, a failed download.
func TestStatusRefreshStopsAtEveryEnding(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *fakeSlack, m *fakeModel)
	}{
		{"an answer", func(s *fakeSlack, m *fakeModel) { m.chunks = []string{"Pasta."} }},
		{"the model fails before any words", func(s *fakeSlack, m *fakeModel) {
			m.err = failure.Errorf("gemini stream", failure.Unavailable, "503", nil)
		}},
		{"the photo cannot be read", func(s *fakeSlack, m *fakeModel) { delete(s.data, thumbURL("F1", 720)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeSlack()
			s.data[thumbURL("F1", 720)] = testimage.JPEG(t)
			m := &fakeModel{}
			tt.setup(s, m)
			h := newTestFlows(t, s, m)
			ticker := newFakeTicker()
			h.ticker = ticker.start
			h.Run(context.Background(), mention(Message{Channel: "C1", TS: "1700000000.000100", User: "U1", Text: "recipe", Files: []File{photo("F1")}}))
			select {
			case <-ticker.stopped:
			default:
				t.Error("the request ended and its status is still refreshed")
			}
		})
	}
}
