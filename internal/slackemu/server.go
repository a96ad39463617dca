// Package slackemu is a local Slack emulator for tests. It serves, on
// 127.0.0.1, the parts of Slack that visionbot talks to, closely enough that
// the real slack-go client (Web API and Socket Mode) can be pointed at it with
// slack.OptionAPIURL(s.APIURL()):
//
//   - Socket Mode: apps.connections.open hands out a one-shot websocket URL;
//     the websocket sends hello and pings, carries envelopes built by the
//     test (SendEvent, SendSlashCommand, SendEnvelope, SendRaw) and records the
//     client's acks with their latency.
//   - Web API: auth, chat (including streaming), reactions, conversations
//     history/replies, files.info and views, with realistic state and error
//     codes. Every call is recorded and any method can be scripted to fail.
//   - Files: private file URLs that, like files.slack.com, need the bot token
//     and answer an HTML sign-in page instead of the bytes when it is missing,
//     with Slack's copies of videos, audio and PDFs at their own URLs (some
//     not ready yet), and bodies made as they are sent for large files;
//     and the external upload flow (files.getUploadURLExternal, the POST to
//     the upload URL, files.completeUploadExternal), recording each file.
//   - response_url endpoints that record what the bot posts to them.
//
// Everything is guarded by one mutex; waiters sleep on a channel that is
// closed whenever recorded state changes, so tests never poll.
package slackemu

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Identities of the emulated workspace and app. auth.test answers with these,
// envelopes carry them, and messages posted by the bot are attributed to them.
const (
	BotUserID = "UBOT"
	BotID     = "BBOT"
	TeamID    = "T1"
	User      = "visionbot"
	AppID     = "A1"
	TeamName  = "Visionbot Test"
	// TeamDomain is the workspace subdomain put in slash command payloads.
	TeamDomain = "visionbot-test"
	// VerificationToken is the legacy token Slack still puts in payloads.
	VerificationToken = "verification-token"
	// DefaultScopes is what X-OAuth-Scopes says until SetScopes is called:
	// every scope visionbot needs.
	DefaultScopes = "app_mentions:read,assistant:write,channels:history,channels:read,chat:write,commands,files:read,files:write,groups:history,groups:read,im:history,im:read,mpim:history,mpim:read,reactions:read,reactions:write,users:read"
)

// DefaultStreamTTL is how long a stream started with chat.startStream takes
// appends until SetStreamTTL changes it: Slack ends a stream after about
// five minutes.
const DefaultStreamTTL = 5 * time.Minute

// TriggerTTL is how long a trigger_id issued by the emulator can open a view,
// as on Slack (3 seconds).
const TriggerTTL = 3 * time.Second

// ErrNotConnected is returned when an envelope or frame is sent while no
// Socket Mode client is connected.
var ErrNotConnected = errors.New("slackemu: no socket mode client connected")

// Server is a running emulator. Create it with New and stop it with Close.
type Server struct {
	hs *httptest.Server

	closeOnce sync.Once
	done      chan struct{} // closed by Close: stops pingers and latency sleeps
	wg        sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every recorded change
	closed  bool

	// configuration
	botToken     string
	appToken     string
	scopes       string
	latency      time.Duration
	pingInterval time.Duration
	writeTimeout time.Duration
	// disconnectAfterHello is the reason of a disconnect frame sent right
	// after every hello; "" sends none.
	disconnectAfterHello string
	denyFiles            bool
	signInRedirect       bool
	streamTTL            time.Duration
	bandwidth            int // bytes per second of file downloads; 0 is unlimited
	triggerTTL           time.Duration
	onCall               func(Call)

	// socket mode
	// deliverToAll sends each envelope to every live connection instead
	// of the newest one: replicas that all get the same event.
	deliverToAll bool
	tickets      map[string]bool // not yet used
	issued       []string        // every ticket, for the tests that look for leaks
	conns        []*wsConn
	connects     int
	sentAt       map[string]time.Time
	acks         []Ack
	seq          int // counter for generated ids

	// web api
	methods  map[string]method
	calls    []Call
	fails    map[string][]*failScript
	handlers map[string]func(Call) any

	// workspace state
	left map[string]bool
	// deleted are channels that no longer exist: channel_not_found.
	deleted map[string]bool
	// admins are the workspace's admins (is_admin), owners its owners
	// (is_owner), as users.info says.
	admins, owners map[string]bool
	msgs           map[string][]*message
	ephemerals     map[string][]*message
	reactions      map[string][]string // channel+"/"+ts → names added by the bot
	lastTS         int64               // microseconds of the newest ts generated or seen
	files          map[string]*storedFile
	served         map[string]*servedFile // download path → content
	downloads      []Download
	views          map[string]map[string]any
	viewOrder      []string
	homes          map[string]string // user → home tab view id
	// userTeams are the users of other teams than TeamID (Slack Connect):
	// users.info answers with their team, and their events carry it.
	userTeams map[string]string
	// agents is the agent platform's state: loading statuses, sessions,
	// suggested prompts.
	agents    agentState
	triggers  map[string]*trigger
	responseN int
	responses []Response

	// uploads are the files between their upload URL and their
	// completion, by the key in their upload URL; uploaded the completed.
	uploads  map[string]*pendingUpload
	uploaded []Uploaded
}

// New starts an emulator on 127.0.0.1 with an ephemeral port.
func New() *Server {
	s := &Server{
		done:         make(chan struct{}),
		changed:      make(chan struct{}),
		scopes:       DefaultScopes,
		pingInterval: 5 * time.Second,
		writeTimeout: 30 * time.Second,
		streamTTL:    DefaultStreamTTL,
		triggerTTL:   TriggerTTL,
		methods:      methodTable(),
		tickets:      map[string]bool{},
		sentAt:       map[string]time.Time{},
		fails:        map[string][]*failScript{},
		handlers:     map[string]func(Call) any{},
		left:         map[string]bool{},
		deleted:      map[string]bool{},
		admins:       map[string]bool{},
		owners:       map[string]bool{},
		msgs:         map[string][]*message{},
		ephemerals:   map[string][]*message{},
		reactions:    map[string][]string{},
		files:        map[string]*storedFile{},
		served:       map[string]*servedFile{},
		views:        map[string]map[string]any{},
		homes:        map[string]string{},
		triggers:     map[string]*trigger{},
		userTeams:    map[string]string{},
		agents:       newAgentState(),
		uploads:      map[string]*pendingUpload{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.handleAPI)
	mux.HandleFunc("/link/", s.handleWebsocket)
	mux.HandleFunc("/files-pri/", s.handleDownload)
	mux.HandleFunc("/files-tmb/", s.handleDownload)
	mux.HandleFunc("/response/", s.handleResponse)
	mux.HandleFunc(uploadPrefix, s.handleUpload)
	mux.HandleFunc("/", s.handleRoot)
	s.hs = httptest.NewServer(mux)
	return s
}

// Close stops the emulator: it closes every websocket, stops the HTTP server
// (waiting for in-flight requests) and waits for its own goroutines. It is
// safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		conns := append([]*wsConn(nil), s.conns...)
		s.mu.Unlock()
		for _, c := range conns {
			c.shutdown(true)
		}
		// Hijacked websocket connections are not tracked by httptest, which
		// is why they are closed above before waiting for the rest.
		s.hs.Close()
		s.wg.Wait()
	})
}

// URL is the emulator's base URL, "http://127.0.0.1:PORT/".
func (s *Server) URL() string { return s.hs.URL + "/" }

// APIURL is the Web API base URL to give the bot (SLACK_API_URL), URL()+"api/".
func (s *Server) APIURL() string { return s.URL() + "api/" }

// SetBotToken makes the Web API and file downloads accept only this token.
// Until it is called, any token starting with "xoxb-" is accepted.
func (s *Server) SetBotToken(tok string) { s.locked(func() { s.botToken = tok }) }

// SetAppToken makes apps.connections.open accept only this token. Until it
// is called, any token starting with "xapp-" is accepted.
func (s *Server) SetAppToken(tok string) { s.locked(func() { s.appToken = tok }) }

// SetScopes sets the granted scopes (comma-separated), sent in the
// X-OAuth-Scopes header and enforced: a method whose scope is missing answers
// missing_scope, and downloads without files:read get the sign-in page.
func (s *Server) SetScopes(scopes string) { s.locked(func() { s.scopes = scopes }) }

// SetLatency adds d to every Web API call and file download.
func (s *Server) SetLatency(d time.Duration) { s.locked(func() { s.latency = d }) }

// SetTriggerTTL changes how long a trigger_id opens a view (TriggerTTL by
// default), for tests of a flow on a machine too busy to keep Slack's pace.
func (s *Server) SetTriggerTTL(d time.Duration) { s.locked(func() { s.triggerTTL = d }) }

// SetBandwidth paces file downloads to bytesPerSecond (0: unlimited), as a
// phone photo from Slack's file servers is not instant.
func (s *Server) SetBandwidth(bytesPerSecond int) { s.locked(func() { s.bandwidth = bytesPerSecond }) }

// OnCall registers f to see every Web API call once Slack has applied it
// (after the latency), for load runs that follow requests as they go. f
// runs on the request's goroutine, outside the server's lock.
func (s *Server) OnCall(f func(Call)) { s.locked(func() { s.onCall = f }) }

// SetPingInterval sets how often the websocket pings clients (default 5s;
// slack-go gives up after 30s without a ping). It applies to new connections.
func (s *Server) SetPingInterval(d time.Duration) { s.locked(func() { s.pingInterval = d }) }

// SetWriteTimeout bounds each frame sent to a client on connections opened
// from now on (default 30 s, as a starved test machine may not read for
// seconds).
func (s *Server) SetWriteTimeout(d time.Duration) { s.locked(func() { s.writeTimeout = d }) }

// SetStreamTTL sets how long a stream stays open (default DefaultStreamTTL).
// It applies to streams already open too: an older stream then answers
// appendStream and stopStream with message_not_in_streaming_state and keeps
// the text it had, as an ordinary message that chat.update can edit.
func (s *Server) SetStreamTTL(d time.Duration) { s.locked(func() { s.streamTTL = d }) }

// DenyFiles makes every file download answer the HTML sign-in page, as Slack
// does when the app lacks files:read.
func (s *Server) DenyFiles(deny bool) { s.locked(func() { s.denyFiles = deny }) }

// SetSignInRedirect makes refused downloads answer as files.slack.com really
// does: a 302 to "/?redir=<file path>", which serves the HTML sign-in page.
// By default the page is served directly with status 200.
func (s *Server) SetSignInRedirect(on bool) { s.locked(func() { s.signInRedirect = on }) }

// JoinChannel makes the bot a member of channel again.
func (s *Server) JoinChannel(channel string) { s.locked(func() { delete(s.left, channel) }) }

// LeaveChannel removes the bot from channel: reading or posting there then
// answers not_in_channel. The bot is a member of every channel by default.
func (s *Server) LeaveChannel(channel string) { s.locked(func() { s.left[channel] = true }) }

// DeleteChannel makes channel one that does not exist: every method that
// names it answers channel_not_found.
func (s *Server) DeleteChannel(channel string) { s.locked(func() { s.deleted[channel] = true }) }

// SetAdmin makes user an admin of the workspace (is_admin in users.info),
// and with owner also an owner (is_owner).
func (s *Server) SetAdmin(user string, owner bool) {
	s.locked(func() {
		s.admins[user] = true
		if owner {
			s.owners[user] = true
		}
	})
}

func (s *Server) locked(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// notify wakes every waiter; the caller holds s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond, evaluated under s.mu, holds, or timeout passes.
func (s *Server) waitFor(timeout time.Duration, cond func() bool) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-s.done:
			s.mu.Lock()
			ok = cond()
			s.mu.Unlock()
			return ok
		}
	}
}

// sleepLatency applies SetLatency, cut short by the request ending or Close.
func (s *Server) sleepLatency(ctx context.Context) {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-s.done:
	}
}

// nextID returns a process-unique counter value; the caller holds s.mu.
func (s *Server) nextID() int {
	s.seq++
	return s.seq
}

// hasScope reports whether scope is granted; the caller holds s.mu.
func (s *Server) hasScope(scope string) bool {
	for _, g := range strings.Split(s.scopes, ",") {
		if strings.TrimSpace(g) == scope {
			return true
		}
	}
	return false
}

// botTokenError checks a bot token the way Slack does and returns the error
// code, or "" when the token is good; the caller holds s.mu.
func (s *Server) botTokenError(tok string) string {
	switch {
	case tok == "":
		return "not_authed"
	case !strings.HasPrefix(tok, "xoxb-"), s.botToken != "" && tok != s.botToken:
		return "invalid_auth"
	}
	return ""
}

// appTokenError is botTokenError for app-level tokens.
func (s *Server) appTokenError(tok string) string {
	switch {
	case tok == "":
		return "not_authed"
	case !strings.HasPrefix(tok, "xapp-"), s.appToken != "" && tok != s.appToken:
		return "invalid_auth"
	}
	return ""
}

// handleRoot serves the sign-in page that refused downloads redirect to and
// a 404 for everything else.
func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" && r.URL.Query().Get("redir") != "" {
		writeSignIn(w)
		return
	}
	http.NotFound(w, r)
}

func errTimeout(what string, timeout time.Duration) error {
	return fmt.Errorf("slackemu: timed out after %v waiting for %s", timeout, what)
}
