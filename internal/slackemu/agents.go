package slackemu

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Slack's agent platform, as the emulator checks it (docs.slack.dev,
// 2026): the loading status of a thread (assistant.threads.setStatus), an
// agent session's lifecycle (agents.sessions.setStatus, and chat.stopStream's
// session_status), suggested prompts (assistant.threads.setSuggestedPrompts)
// and the Stop button's event (agent_session_stopped).

// ThreadStatus is what a thread's loading indicator shows: its status and
// the loading messages Slack rotates through. Sets counts every
// assistant.threads.setStatus call for the thread, clearing ones included.
type ThreadStatus struct {
	Status   string
	Loading  []string
	Sets     int
	Clearing int // calls with an empty status
}

// Prompt is one suggested prompt.
type Prompt struct {
	Title   string `json:"title"`
	Message string `json:"message"`
}

// SuggestedPrompts are the prompts an app set for a conversation.
type SuggestedPrompts struct {
	Title   string
	Prompts []Prompt
}

// agentState is the emulator's memory of the agent platform; the server
// holds it under its lock.
type agentState struct {
	statuses map[string]*ThreadStatus    // channel/thread → loading status
	sessions map[string][]string         // channel/thread → every session status set, in order
	prompts  map[string]SuggestedPrompts // channel → prompts
}

func newAgentState() agentState {
	return agentState{statuses: map[string]*ThreadStatus{}, sessions: map[string][]string{}, prompts: map[string]SuggestedPrompts{}}
}

func threadKey(channel, thread string) string { return channel + "/" + thread }

// setThreadStatus is assistant.threads.setStatus: channel_id, thread_ts and
// status are required (an empty status clears the indicator); at most 10
// loading_messages, which slack-go sends comma-joined.
func (s *Server) setThreadStatus(r *apiReq) any {
	ch, thread := r.param("channel_id"), r.param("thread_ts")
	if _, has := r.call.Params["status"]; !has || ch == "" || thread == "" {
		return apiErr("invalid_arguments")
	}
	if code := s.channelError(ch); code != "" {
		return apiErr(code)
	}
	if s.find(ch, thread) == nil {
		return apiErr("invalid_thread_ts")
	}
	var loading []string
	if l := r.param("loading_messages"); l != "" {
		if err := json.Unmarshal([]byte(l), &loading); err != nil {
			loading = strings.Split(l, ",")
		}
	}
	if len(loading) > 10 {
		return apiErr("invalid_arguments")
	}
	st := s.agents.statuses[threadKey(ch, thread)]
	if st == nil {
		st = &ThreadStatus{}
		s.agents.statuses[threadKey(ch, thread)] = st
	}
	st.Status, st.Loading = r.param("status"), loading
	st.Sets++
	if st.Status == "" {
		st.Clearing++
	}
	s.notify()
	return okResp()
}

// clearStatusOnReply removes a thread's loading indicator when the bot
// posts in the thread, as Slack does; the caller holds s.mu.
func (s *Server) clearStatusOnReply(channel, thread string) {
	if st := s.agents.statuses[threadKey(channel, thread)]; st != nil {
		st.Status, st.Loading = "", nil
	}
}

// ThreadStatusOf is a thread's loading indicator now.
func (s *Server) ThreadStatusOf(channel, thread string) ThreadStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.agents.statuses[threadKey(channel, thread)]; st != nil {
		return *st
	}
	return ThreadStatus{}
}

// validSessionStatus are agents.sessions.setStatus's statuses.
func validSessionStatus(status string) bool {
	switch status {
	case "active", "processing", "suspended", "closed":
		return true
	}
	return false
}

// setSessionStatus is agents.sessions.setStatus: a valid status; a
// channel_id, which public channels require; a thread_ts, which a
// thread-based session requires. The bot's sessions are all in channel
// threads, so the emulator asks for both.
func (s *Server) setSessionStatus(r *apiReq) any {
	status, ch, thread := r.param("status"), r.param("channel_id"), r.param("thread_ts")
	if !validSessionStatus(status) {
		return apiErr("invalid_status")
	}
	if ch == "" || thread == "" {
		return apiErr("invalid_arguments")
	}
	if code := s.channelError(ch); code != "" {
		return apiErr(code)
	}
	if s.find(ch, thread) == nil {
		return apiErr("invalid_thread_ts")
	}
	key := threadKey(ch, thread)
	s.agents.sessions[key] = append(s.agents.sessions[key], status)
	s.notify()
	return okResp("status", status, "agent_status", status)
}

// SessionStatuses are the statuses a thread's agent session was given, in
// order; its last is the session's status now.
func (s *Server) SessionStatuses(channel, thread string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.agents.sessions[threadKey(channel, thread)]...)
}

// stopSession applies chat.stopStream's session_status (default active)
// to the session of the stream's thread, when there is one; the caller
// holds s.mu.
func (s *Server) stopSession(r *apiReq, m *message) apiError {
	status := r.param("session_status")
	if status == "" {
		status = "active"
	}
	if !validSessionStatus(status) {
		return apiErr("invalid_status")
	}
	key := threadKey(m.channel, m.threadTS())
	if _, ok := s.agents.sessions[key]; ok {
		s.agents.sessions[key] = append(s.agents.sessions[key], status)
	}
	return nil
}

// setSuggestedPrompts is assistant.threads.setSuggestedPrompts for an agent
// app: channel_id and 1 to 4 prompts, each with a title and a message. A
// thread_ts makes the call of an agent app fail silently, as Slack's docs
// say: the emulator answers ok and keeps nothing.
func (s *Server) setSuggestedPrompts(r *apiReq) any {
	ch := r.param("channel_id")
	if ch == "" {
		return apiErr("invalid_arguments")
	}
	if code := s.channelError(ch); code != "" {
		return apiErr(code)
	}
	var prompts []Prompt
	if err := json.Unmarshal([]byte(r.param("prompts")), &prompts); err != nil || len(prompts) == 0 || len(prompts) > 4 {
		return apiErr("invalid_arguments")
	}
	for _, p := range prompts {
		if p.Title == "" || p.Message == "" {
			return apiErr("invalid_arguments")
		}
	}
	if r.param("thread_ts") != "" {
		return okResp()
	}
	s.agents.prompts[ch] = SuggestedPrompts{Title: r.param("title"), Prompts: prompts}
	s.notify()
	return okResp()
}

// SuggestedPromptsOf are the prompts set for a conversation.
func (s *Server) SuggestedPromptsOf(channel string) SuggestedPrompts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agents.prompts[channel]
}

// SendAgentStop is a person clicking the Stop button of thread's agent
// session: Slack stops the bot's streams in the thread that are still open
// (StopStreams), and sends agent_session_stopped naming them. The
// session's status is left as it is: the app must move it on.
func (s *Server) SendAgentStop(channel, thread, user string) ([]string, error) {
	stopped := s.StopStreams(channel, thread)
	now := time.Now()
	inner, err := json.Marshal(map[string]any{
		"type": "agent_session_stopped", "channel": channel, "thread_ts": thread, "user": user,
		"streaming_message_ts": stopped, "event_ts": fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000),
	})
	if err != nil {
		return nil, err
	}
	_, err = s.SendEvent(inner, "")
	return stopped, err
}

// StopStreams stops the bot's open streams in a thread, as Slack does when
// a person clicks Stop, and returns their timestamps.
func (s *Server) StopStreams(channel, thread string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	stopped := []string{}
	for _, m := range s.msgs[channel] {
		if m.byBot && m.threadTS() == thread && s.live(m) {
			m.streaming = false
			stopped = append(stopped, m.ts)
		}
	}
	s.notify()
	return stopped
}

// checkContextActions applies the limits of a context_actions block (at
// most 5 elements, feedback buttons or icon buttons) and of its feedback
// buttons (both buttons, each with a plain_text text of at most 75
// characters and a value of at most 2000).
func checkContextActions(b map[string]any, i int) []string {
	var errs []string
	pointer := func(rest string) string { return fmt.Sprintf("[json-pointer:/blocks/%d%s]", i, rest) }
	elements, _ := b["elements"].([]any)
	if len(elements) == 0 || len(elements) > 5 {
		errs = append(errs, "[ERROR] must have 1 to 5 items "+pointer("/elements"))
	}
	for j, e := range elements {
		el, _ := e.(map[string]any)
		switch el["type"] {
		case "icon_button":
		case "feedback_buttons":
			for _, which := range []string{"positive_button", "negative_button"} {
				btn, _ := el[which].(map[string]any)
				text, _ := btn["text"].(map[string]any)
				label, _ := text["text"].(string)
				value, _ := btn["value"].(string)
				if btn == nil || text["type"] != "plain_text" || label == "" || utf8.RuneCountInString(label) > 75 ||
					value == "" || utf8.RuneCountInString(value) > 2000 {
					errs = append(errs, fmt.Sprintf("[ERROR] invalid %s %s", which, pointer(fmt.Sprintf("/elements/%d/%s", j, which))))
				}
			}
		default:
			errs = append(errs, fmt.Sprintf("[ERROR] unsupported element type %v %s", el["type"], pointer(fmt.Sprintf("/elements/%d", j))))
		}
	}
	return errs
}
