package slackemu

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Call is one recorded Web API request.
type Call struct {
	Method string
	// Params holds the form values (first value of each), or the top-level
	// fields of a JSON body: strings as-is, anything else as raw JSON.
	Params map[string]string
	// Token is the bearer token, or else the form's token field.
	Token string
	At    time.Time
}

type failScript struct {
	status int
	header http.Header
	body   string
	left   int // < 0: forever
	// hang holds the request open, answering nothing, until the client
	// gives up or the emulator closes.
	hang bool
	// applied runs the method before the scripted answer is given: Slack
	// did the work, and the client only saw the failure (a 5xx from a
	// proxy, a response lost on the way back).
	applied bool
}

// apiReq is a request being served: the recorded call plus the raw JSON
// fields, for methods (views.*) whose arguments are nested objects.
type apiReq struct {
	call Call
	json map[string]json.RawMessage
}

func (r *apiReq) param(k string) string { return r.call.Params[k] }

// apiError is a {"ok":false,...} answer.
type apiError map[string]any

func apiErr(code string) apiError { return apiError{"ok": false, "error": code} }

// okResp builds {"ok":true, k1:v1, ...}.
func okResp(kv ...any) map[string]any {
	m := map[string]any{"ok": true}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// method implements one Web API method; it runs with s.mu held and returns a
// value to encode as JSON with status 200 (apiError for Slack errors).
type method func(s *Server, r *apiReq) any

// methodTable maps Web API method names to their implementations.
func methodTable() map[string]method {
	return map[string]method{
		"apps.connections.open": (*Server).openConnection,
		"auth.test":             (*Server).authTest,
		"chat.postMessage":      (*Server).postMessage,
		"chat.postEphemeral":    (*Server).postEphemeral,
		"chat.update":           (*Server).updateMessage,
		"chat.delete":           (*Server).deleteMessage,
		"chat.startStream":      (*Server).startStream,
		"chat.appendStream":     (*Server).appendStream,
		"chat.stopStream":       (*Server).stopStream,
		"reactions.add":         (*Server).addReaction,
		"reactions.remove":      (*Server).removeReaction,
		"conversations.history": (*Server).history,
		"conversations.replies": (*Server).replies,
		"conversations.info":    (*Server).conversationInfo,
		"files.info":            (*Server).fileInfo,
		"views.open":            (*Server).viewsOpen,
		"views.push":            (*Server).viewsOpen,
		"views.update":          (*Server).viewsUpdate,
		"views.publish":         (*Server).viewsPublish,
		"users.info":            (*Server).userInfo,

		"assistant.threads.setStatus":           (*Server).setThreadStatus,
		"assistant.threads.setSuggestedPrompts": (*Server).setSuggestedPrompts,
		"agents.sessions.setStatus":             (*Server).setSessionStatus,

		"files.getUploadURLExternal":   (*Server).getUploadURL,
		"files.completeUploadExternal": (*Server).completeUpload,
	}
}

// scopeFor is the scope Slack requires for method; history and replies
// depend on the kind of conversation.
func scopeFor(method, channel string) string {
	switch method {
	case "chat.postMessage", "chat.postEphemeral", "chat.update", "chat.delete",
		"chat.startStream", "chat.appendStream", "chat.stopStream":
		return "chat:write"
	case "reactions.add", "reactions.remove":
		return "reactions:write"
	case "files.info":
		return "files:read"
	case "files.getUploadURLExternal", "files.completeUploadExternal":
		return "files:write"
	case "users.info":
		return "users:read"
	case "assistant.threads.setStatus", "agents.sessions.setStatus":
		return "chat:write"
	case "assistant.threads.setSuggestedPrompts":
		return "assistant:write"
	case "conversations.info":
		// The read scope of the kind of conversation.
		switch {
		case strings.HasPrefix(channel, "D"):
			return "im:read"
		case strings.HasPrefix(channel, "G"):
			return "groups:read"
		}
		return "channels:read"
	case "conversations.history", "conversations.replies":
		switch {
		case strings.HasPrefix(channel, "D"):
			return "im:history"
		case strings.HasPrefix(channel, "G"):
			return "groups:history"
		}
		return "channels:history"
	}
	return ""
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	call, raw := parseCall(r)
	s.sleepLatency(r.Context())
	call.At = time.Now() // when Slack applies it: after the round trip's latency

	s.mu.Lock()
	s.calls = append(s.calls, call)
	onCall := s.onCall
	s.notify()
	scopes := s.scopes
	var resp any
	var script *failScript
	if q := s.fails[call.Method]; len(q) > 0 {
		script = q[0]
		if script.left > 0 {
			script.left--
			if script.left == 0 {
				s.fails[call.Method] = q[1:]
			}
		}
		if m := s.methods[call.Method]; script.applied && m != nil {
			s.serveMethod(m, &apiReq{call: call, json: raw})
		}
	} else if h := s.handlers[call.Method]; h != nil {
		s.mu.Unlock()
		resp = h(call) // outside the lock: a custom handler may call back into s
		s.mu.Lock()
	} else if m := s.methods[call.Method]; m == nil {
		resp = apiErr("unknown_method")
	} else {
		resp = s.serveMethod(m, &apiReq{call: call, json: raw})
	}
	s.mu.Unlock()
	if onCall != nil {
		onCall(call)
	}

	// Slack reports the token's scopes on every Web API response.
	w.Header().Set("X-OAuth-Scopes", scopes)
	if script != nil && script.hang {
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		return
	}
	if script != nil {
		for k, vs := range script.header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
		w.WriteHeader(script.status)
		_, _ = io.WriteString(w, script.body)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// serveMethod runs the checks Slack makes before any method (token, scope)
// and then the method itself; the caller holds s.mu.
func (s *Server) serveMethod(m method, r *apiReq) any {
	if r.call.Method != "apps.connections.open" {
		if code := s.botTokenError(r.call.Token); code != "" {
			return apiErr(code)
		}
		if need := scopeFor(r.call.Method, r.param("channel")); need != "" && !s.hasScope(need) {
			return apiError{"ok": false, "error": "missing_scope", "needed": need, "provided": s.scopes}
		}
	}
	return m(s, r)
}

// parseCall reads the method, parameters and token of a Web API request the
// way Slack accepts them: form-encoded, multipart, query string or JSON.
func parseCall(r *http.Request) (Call, map[string]json.RawMessage) {
	call := Call{
		Method: strings.TrimPrefix(r.URL.Path, "/api/"),
		Params: map[string]string{},
		At:     time.Now(),
	}
	var raw map[string]json.RawMessage
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ctype {
	case "application/json":
		body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		_ = json.Unmarshal(body, &raw)
		for k, v := range raw {
			var str string
			if json.Unmarshal(v, &str) == nil {
				call.Params[k] = str
			} else {
				call.Params[k] = string(v)
			}
		}
		for k, vs := range r.URL.Query() {
			if _, ok := call.Params[k]; !ok && len(vs) > 0 {
				call.Params[k] = vs[0]
			}
		}
	case "multipart/form-data":
		_ = r.ParseMultipartForm(32 << 20)
		copyFirst(call.Params, r.Form)
	default:
		_ = r.ParseForm()
		copyFirst(call.Params, r.Form)
	}
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		call.Token = strings.TrimPrefix(auth, "Bearer ")
	} else {
		call.Token = call.Params["token"]
	}
	return call, raw
}

func copyFirst(dst map[string]string, src url.Values) {
	for k, vs := range src {
		if len(vs) > 0 {
			dst[k] = vs[0]
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(fmt.Sprintf(`{"ok":false,"error":"emulator_encoding_error","detail":%q}`, err.Error()))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Calls returns the recorded calls of method ("" = all), oldest first.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsLocked(method)
}

func (s *Server) callsLocked(method string) []Call {
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls waits until at least n calls of method ("" = any) were recorded
// and returns them all.
func (s *Server) WaitCalls(method string, n int, timeout time.Duration) ([]Call, error) {
	var got []Call
	if !s.waitFor(timeout, func() bool { got = s.callsLocked(method); return len(got) >= n }) {
		return got, errTimeout(fmt.Sprintf("%d %q calls (got %d)", n, method, len(got)), timeout)
	}
	return got, nil
}

// Fail scripts the answer of the next n calls of method (n <= 0: every
// following call): this status, these headers and this body instead of the
// normal behaviour. Scripts queue up in the order they were added. E.g. a rate
// limit: Fail("chat.postMessage", 1, 429, http.Header{"Retry-After": {"1"}},
// `{"ok":false,"error":"ratelimited"}`).
func (s *Server) Fail(method string, n int, status int, header http.Header, body string) {
	if n <= 0 {
		n = -1
	}
	s.locked(func() {
		s.fails[method] = append(s.fails[method], &failScript{status: status, header: header.Clone(), body: body, left: n})
	})
}

// Hang makes the next n calls of method (n <= 0: every following call) hang
// without an answer until the client gives up or the emulator closes, like
// a Slack endpoint that accepted the connection and went silent. It queues
// up with Fail's scripts.
func (s *Server) Hang(method string, n int) {
	if n <= 0 {
		n = -1
	}
	s.locked(func() { s.fails[method] = append(s.fails[method], &failScript{hang: true, left: n}) })
}

// FailAfterApplying is Fail for calls that Slack carried out before the
// failure reached the client: the next n calls of method (n <= 0: every
// following call) take effect, then answer status and body. A client that
// sends such a call again does it twice.
func (s *Server) FailAfterApplying(method string, n int, status int, body string) {
	if n <= 0 {
		n = -1
	}
	s.locked(func() {
		s.fails[method] = append(s.fails[method], &failScript{status: status, body: body, left: n, applied: true})
	})
}

// ClearFail drops every scripted answer of method.
func (s *Server) ClearFail(method string) { s.locked(func() { delete(s.fails, method) }) }

// Handle serves method with h, for methods the emulator does not implement.
// h's result is encoded as the JSON answer; it runs without the emulator's
// lock held. Fail scripts still take precedence.
func (s *Server) Handle(method string, h func(Call) any) {
	s.locked(func() { s.handlers[method] = h })
}

// SetUserTeam makes user a member of another team than TeamID, as a
// person in a Slack Connect channel is: users.info says so, and the
// events the emulator sends for them carry that team.
func (s *Server) SetUserTeam(user, team string) {
	s.locked(func() { s.userTeams[user] = team })
}

// teamOf is user's team; the caller holds s.mu.
func (s *Server) teamOf(user string) string {
	if team, ok := s.userTeams[user]; ok {
		return team
	}
	return TeamID
}

// userInfo is users.info: a user object with the user's team_id, as Slack
// answers for a member of the workspace or of a Slack Connect channel.
func (s *Server) userInfo(r *apiReq) any {
	id := r.param("user")
	if id == "" {
		return apiErr("invalid_arguments")
	}
	if !strings.HasPrefix(id, "U") && !strings.HasPrefix(id, "W") {
		return apiErr("user_not_found")
	}
	return okResp("user", map[string]any{
		"id": id, "team_id": s.teamOf(id), "name": strings.ToLower(id), "deleted": false, "is_bot": false,
		"is_admin": s.admins[id] || s.owners[id], "is_owner": s.owners[id], "is_primary_owner": false,
		"profile": map[string]any{"team": s.teamOf(id), "real_name": id, "display_name": id},
	})
}

// conversationInfo is conversations.info, as Slack answers the bot: the
// conversation with is_member; channel_not_found for one that does not
// exist, and for a private channel the bot is not in, which Slack does not
// show it.
func (s *Server) conversationInfo(r *apiReq) any {
	id := r.param("channel")
	if id == "" {
		return apiErr("invalid_arguments")
	}
	private := strings.HasPrefix(id, "G")
	if s.channelError(id) == "channel_not_found" || (private && s.left[id]) {
		return apiErr("channel_not_found")
	}
	im := strings.HasPrefix(id, "D")
	return okResp("channel", map[string]any{
		"id": id, "name": strings.ToLower(id), "is_channel": !im && !private, "is_group": private, "is_im": im,
		"is_private": private || im, "is_archived": false, "is_member": !s.left[id], "context_team_id": TeamID,
	})
}

func (s *Server) authTest(*apiReq) any {
	return okResp(
		"url", "https://"+TeamDomain+".slack.com/",
		"team", TeamName,
		"user", User,
		"team_id", TeamID,
		"user_id", BotUserID,
		"bot_id", BotID,
		"is_enterprise_install", false,
	)
}
