package slackemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Posted is a message the bot posted (or an ephemeral it sent).
type Posted struct {
	Channel     string
	TS          string
	ThreadTS    string
	Text        string
	Blocks      json.RawMessage // nil when the message has none
	Attachments json.RawMessage // nil when the message has none
	Streamed    bool            // built with chat.startStream/appendStream/stopStream
	Files       []string        // the ids of the files it shares (files.completeUploadExternal)
	User        string          // ephemerals only: the user who sees it
	At          time.Time       // when it was posted (stream: when it started)
	// UnfurlLinks and UnfurlMedia say whether Slack would preview the
	// message's links to pages and to media: as its chat.postMessage's
	// unfurl_links and unfurl_media said, else by Slack's defaults for an
	// app's message (pages no, media yes). chat.update and the streaming
	// methods take no such arguments.
	UnfurlLinks bool
	UnfurlMedia bool
}

// message is a stored message. fields is the Slack message object as
// history returns it; nested values are never modified in place, so shallow
// copies can be encoded outside the lock.
type message struct {
	channel   string
	ts        string
	us        int64 // ts in microseconds, the sort key
	fields    map[string]any
	byBot     bool
	streaming bool // started and not stopped yet; see live for expiry
	streamed  bool
	user      string // ephemeral target
	at        time.Time

	unfurlLinks, unfurlMedia bool // see Posted

	// dropOnStop marks a stream started in a channel without its recipient:
	// Slack shows it while it streams and drops it when it stops.
	dropOnStop bool
}

func (m *message) str(k string) string {
	v, _ := m.fields[k].(string)
	return v
}

func (m *message) threadTS() string { return m.str("thread_ts") }

// isReply reports whether m is a reply inside a thread (not its root).
func (m *message) isReply() bool {
	t := m.threadTS()
	return t != "" && t != m.ts
}

func (m *message) posted() Posted {
	p := Posted{
		Channel: m.channel, TS: m.ts, ThreadTS: m.threadTS(), Text: m.str("text"),
		Streamed: m.streamed, User: m.user, At: m.at,
		UnfurlLinks: m.unfurlLinks, UnfurlMedia: m.unfurlMedia,
	}
	p.Blocks, _ = m.fields["blocks"].(json.RawMessage)
	p.Attachments, _ = m.fields["attachments"].(json.RawMessage)
	files, _ := m.fields["files"].([]any)
	for _, f := range files {
		if obj, ok := f.(map[string]any); ok {
			id, _ := obj["id"].(string)
			p.Files = append(p.Files, id)
		}
	}
	return p
}

// Markdown is what the message shows as Markdown: the text of its markdown
// blocks, or its text when it has none (a streamed message keeps its
// Markdown in text).
func (p Posted) Markdown() string {
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(p.Blocks, &blocks) != nil {
		return p.Text
	}
	var md strings.Builder
	found := false
	for _, b := range blocks {
		if b.Type == "markdown" {
			md.WriteString(b.Text)
			found = true
		}
	}
	if !found {
		return p.Text
	}
	return md.String()
}

// conversationID is the shape of channel, private channel and DM ids. Other
// strings are channels that do not exist.
var conversationID = regexp.MustCompile(`^[CDG][A-Z0-9]+$`)

// channelError is the error Slack gives for reading or writing channel, or ""
// when the bot may; the caller holds s.mu.
func (s *Server) channelError(channel string) string {
	switch {
	case !conversationID.MatchString(channel) || s.deleted[channel]:
		return "channel_not_found"
	case s.left[channel]:
		return "not_in_channel"
	}
	return ""
}

// parseTS turns "1700000000.000100" into microseconds.
func parseTS(ts string) (int64, bool) {
	sec, frac, _ := strings.Cut(ts, ".")
	if sec == "" || len(frac) > 6 {
		return 0, false
	}
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, false
	}
	var f int64
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil {
			return 0, false
		}
	}
	return s*1e6 + f, true
}

func formatTS(us int64) string { return fmt.Sprintf("%d.%06d", us/1e6, us%1e6) }

// newTS returns a ts strictly greater than any generated or stored so far,
// so the bot's messages always sort after what the test added.
func (s *Server) newTS() string {
	const start = 1700000000_000000
	if s.lastTS < start {
		s.lastTS = start
	}
	s.lastTS += 100
	return formatTS(s.lastTS)
}

// store inserts m in its channel in ts order, replacing a message with the
// same ts; the caller holds s.mu.
func (s *Server) store(m *message) {
	if us, ok := parseTS(m.ts); ok {
		m.us = us
		s.lastTS = max(s.lastTS, us)
	}
	list := s.msgs[m.channel]
	for i, old := range list {
		if old.ts == m.ts {
			list[i] = m
			s.notify()
			return
		}
	}
	i := sort.Search(len(list), func(i int) bool { return list[i].us > m.us })
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = m
	s.msgs[m.channel] = list
	s.notify()
}

func (s *Server) find(channel, ts string) *message {
	for _, m := range s.msgs[channel] {
		if m.ts == ts {
			return m
		}
	}
	return nil
}

func (s *Server) remove(channel, ts string) {
	list := s.msgs[channel]
	for i, m := range list {
		if m.ts == ts {
			s.msgs[channel] = append(list[:i:i], list[i+1:]...)
			s.notify()
			return
		}
	}
}

// AddMessage stores a message in channel, as a user would have posted it,
// for history and replies. msg is marshalled as Slack would (ts, user, text,
// thread_ts, files, ...); a missing ts is generated and type defaults to
// "message". It returns the message's ts.
func (s *Server) AddMessage(channel string, msg map[string]any) string {
	// A JSON round trip copies msg deeply and normalises its values.
	var fields map[string]any
	b, err := json.Marshal(msg)
	if err == nil {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		err = d.Decode(&fields)
	}
	if err != nil || fields == nil {
		panic(fmt.Sprintf("slackemu: AddMessage: message does not marshal to an object: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, _ := fields["ts"].(string)
	if ts == "" {
		ts = s.newTS()
		fields["ts"] = ts
	}
	if _, ok := fields["type"]; !ok {
		fields["type"] = "message"
	}
	s.store(&message{channel: channel, ts: ts, fields: fields, at: time.Now()})
	return ts
}

// Posted returns what the bot posted in channel and that still exists
// (chat.postMessage, and streamed messages once stopped or expired), oldest
// first, as updated by chat.update.
func (s *Server) Posted(channel string) []Posted {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Posted
	for _, m := range s.msgs[channel] {
		if m.byBot && !s.live(m) {
			out = append(out, m.posted())
		}
	}
	return out
}

// OpenStreams returns the ts of the bot's streams in channel that still
// take appends: an answer that ended, or a replica that died, must leave
// none behind.
func (s *Server) OpenStreams(channel string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs[channel] {
		if m.byBot && s.live(m) {
			out = append(out, m.ts)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages the bot sent in channel.
func (s *Server) Ephemerals(channel string) []Posted {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Posted
	for _, m := range s.ephemerals[channel] {
		out = append(out, m.posted())
	}
	return out
}

// Message returns a copy of the stored message object, as history would
// show it, or nil.
func (s *Server) Message(channel, ts string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.find(channel, ts); m != nil {
		return s.render(m)
	}
	return nil
}

// Reactions returns the reactions the bot has on channel/ts, in order added.
func (s *Server) Reactions(channel, ts string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reactions[channel+"/"+ts]...)
}

// botFields are the fields of a message posted with the bot token.
func (s *Server) botFields(channel, ts string, r *apiReq) map[string]any {
	f := map[string]any{
		"type":    "message",
		"user":    BotUserID,
		"bot_id":  BotID,
		"app_id":  AppID,
		"team":    TeamID,
		"ts":      ts,
		"text":    "",
		"channel": channel,
		"bot_profile": map[string]any{
			"id": BotID, "app_id": AppID, "name": User, "deleted": false,
			"team_id": TeamID, "updated": 1700000000,
			"icons": map[string]any{"image_36": "", "image_48": "", "image_72": ""},
		},
	}
	if t := r.param("thread_ts"); t != "" {
		f["thread_ts"] = t
		if root := s.find(channel, t); root != nil {
			if u := root.str("user"); u != "" {
				f["parent_user_id"] = u
			}
		}
	}
	return f
}

// messageContent validates and applies text, blocks and attachments to f,
// returning an error answer when Slack would refuse them.
func messageContent(f map[string]any, r *apiReq, requireSome bool) apiError {
	text, hasText := r.call.Params["text"]
	blocks, hasBlocks := r.call.Params["blocks"]
	atts, hasAtts := r.call.Params["attachments"]
	if requireSome && text == "" && (!hasBlocks || blocks == "" || blocks == "[]") && (!hasAtts || atts == "" || atts == "[]") {
		return apiErr("no_text")
	}
	if hasBlocks {
		raw, errs := checkBlocks(blocks)
		if raw == nil {
			e := apiErr("invalid_blocks")
			if len(errs) > 0 {
				e["response_metadata"] = map[string]any{"messages": errs}
			}
			return e
		}
		if string(raw) == "[]" {
			delete(f, "blocks")
		} else {
			f["blocks"] = raw
		}
	}
	if hasAtts && atts != "" {
		if !json.Valid([]byte(atts)) {
			return apiErr("invalid_attachments")
		}
		f["attachments"] = json.RawMessage(atts)
	}
	if hasText || requireSome {
		// Slack truncates text beyond 40,000 characters.
		if utf8.RuneCountInString(text) > 40000 {
			text = string([]rune(text)[:40000])
		}
		f["text"] = text
	}
	return nil
}

// checkBlocks applies the Block Kit limits a long answer is likely to hit:
// at most 50 blocks, section text up to 3000 characters, header text up to
// 150. It returns nil and Slack's error messages when the blocks are refused.
func checkBlocks(raw string) (json.RawMessage, []string) {
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, []string{"[ERROR] failed to parse blocks [json-pointer:/blocks]"}
	}
	var errs []string
	if len(blocks) > 50 {
		errs = append(errs, "[ERROR] no more than 50 items allowed [json-pointer:/blocks]")
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		if id, _ := b["block_id"].(string); id != "" {
			if utf8.RuneCountInString(id) > 255 {
				errs = append(errs, fmt.Sprintf("[ERROR] must be less than 256 characters [json-pointer:/blocks/%d/block_id]", i))
			}
			if ids[id] {
				errs = append(errs, fmt.Sprintf("[ERROR] duplicate block_id [json-pointer:/blocks/%d/block_id]", i))
			}
			ids[id] = true
		}
		if b["type"] == "context_actions" {
			errs = append(errs, checkContextActions(b, i)...)
		}
		limit := map[string]int{"section": 3000, "header": 150}[fmt.Sprint(b["type"])]
		t, _ := b["text"].(map[string]any)
		if s, _ := t["text"].(string); limit > 0 && utf8.RuneCountInString(s) > limit {
			errs = append(errs, fmt.Sprintf("[ERROR] must be less than %d characters [json-pointer:/blocks/%d/text/text]", limit+1, i))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return json.RawMessage(raw), nil
}

func (s *Server) postMessage(r *apiReq) any {
	ch := r.param("channel")
	if code := s.channelError(ch); code != "" {
		return apiErr(code)
	}
	ts := s.newTS()
	f := s.botFields(ch, ts, r)
	if e := messageContent(f, r, true); e != nil {
		return e
	}
	m := &message{channel: ch, ts: ts, fields: f, byBot: true, at: time.Now(),
		unfurlLinks: flag(r.param("unfurl_links"), false), unfurlMedia: flag(r.param("unfurl_media"), true)}
	s.store(m)
	if t := m.threadTS(); t != "" {
		s.clearStatusOnReply(ch, t)
	}
	return okResp("channel", ch, "ts", ts, "message", s.render(m))
}

// flag reads a boolean argument as Slack does ("true" or "1", "false" or
// "0"), or def when it is missing.
func flag(v string, def bool) bool {
	switch v {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	return def
}

func (s *Server) postEphemeral(r *apiReq) any {
	ch, user := r.param("channel"), r.param("user")
	if code := s.channelError(ch); code != "" {
		return apiErr(code)
	}
	if user == "" {
		return apiErr("user_not_in_channel")
	}
	ts := s.newTS()
	f := s.botFields(ch, ts, r)
	if e := messageContent(f, r, true); e != nil {
		return e
	}
	s.ephemerals[ch] = append(s.ephemerals[ch], &message{channel: ch, ts: ts, fields: f, byBot: true, user: user, at: time.Now()})
	s.notify()
	return okResp("message_ts", ts)
}

// ownMessage finds a message of the bot for update/delete/stream methods.
func (s *Server) ownMessage(r *apiReq, notMine string) (*message, apiError) {
	ch := r.param("channel")
	if code := s.channelError(ch); code != "" {
		return nil, apiErr(code)
	}
	m := s.find(ch, r.param("ts"))
	if m == nil {
		return nil, apiErr("message_not_found")
	}
	if !m.byBot {
		return nil, apiErr(notMine)
	}
	return m, nil
}

func (s *Server) updateMessage(r *apiReq) any {
	m, e := s.ownMessage(r, "cant_update_message")
	if e != nil {
		return e
	}
	if s.live(m) {
		// Slack documents chat.update for a stream that has ended (stopped,
		// or expired on its side), not for one still streaming: the
		// emulator refuses it, so that a writer that takes over another
		// process's stream must stop it first.
		return apiErr("cant_update_message")
	}
	f := cloneFields(m.fields)
	if e := messageContent(f, r, false); e != nil {
		return e
	}
	f["edited"] = map[string]any{"user": BotUserID, "ts": s.newTS()}
	m.fields = f
	s.notify()
	return okResp("channel", m.channel, "ts", m.ts, "text", m.str("text"), "message", s.render(m))
}

func (s *Server) deleteMessage(r *apiReq) any {
	m, e := s.ownMessage(r, "cant_delete_message")
	if e != nil {
		return e
	}
	s.remove(m.channel, m.ts)
	return okResp("channel", m.channel, "ts", m.ts)
}

// streamText is the markdown a streaming call adds: markdown_text, then any
// markdown_text chunks.
func streamText(r *apiReq) string {
	text := r.param("markdown_text")
	var chunks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if c := r.param("chunks"); c != "" && json.Unmarshal([]byte(c), &chunks) == nil {
		for _, ch := range chunks {
			if ch.Type == "markdown_text" {
				text += ch.Text
			}
		}
	}
	return text
}

func (s *Server) startStream(r *apiReq) any {
	ch := r.param("channel")
	if code := s.channelError(ch); code != "" {
		return apiErr(code)
	}
	if r.param("thread_ts") == "" {
		return apiErr("invalid_arguments") // streams live in threads
	}
	ts := s.newTS()
	f := s.botFields(ch, ts, r)
	f["text"] = streamText(r)
	// Slack accepts a channel stream without its recipient but only its
	// recipient would see it, so the message is gone once it stops.
	drop := !strings.HasPrefix(ch, "D") && (r.param("recipient_user_id") == "" || r.param("recipient_team_id") == "")
	s.store(&message{channel: ch, ts: ts, fields: f, byBot: true, streaming: true, streamed: true,
		dropOnStop: drop, at: time.Now(), unfurlMedia: true})
	s.clearStatusOnReply(ch, r.param("thread_ts"))
	return okResp("channel", ch, "ts", ts)
}

// live reports whether m is a stream that still takes appends: started,
// not stopped, and younger than the stream TTL; the caller holds s.mu.
func (s *Server) live(m *message) bool {
	return m.streaming && time.Since(m.at) < s.streamTTL
}

func (s *Server) streaming(r *apiReq) (*message, apiError) {
	m, e := s.ownMessage(r, "message_not_in_streaming_state")
	if e == nil && !s.live(m) {
		e = apiErr("message_not_in_streaming_state")
	}
	return m, e
}

func (s *Server) appendStream(r *apiReq) any {
	m, e := s.streaming(r)
	if e != nil {
		return e
	}
	f := cloneFields(m.fields)
	f["text"] = m.str("text") + streamText(r)
	m.fields = f
	s.notify()
	return okResp("channel", m.channel, "ts", m.ts)
}

func (s *Server) stopStream(r *apiReq) any {
	m, e := s.streaming(r)
	if e != nil {
		return e
	}
	f := cloneFields(m.fields)
	f["text"] = m.str("text") + streamText(r)
	if b := r.param("blocks"); b != "" {
		raw, errs := checkBlocks(b)
		if raw == nil {
			return apiError{"ok": false, "error": "invalid_blocks", "response_metadata": map[string]any{"messages": errs}}
		}
		f["blocks"] = raw
	}
	if e := s.stopSession(r, m); e != nil {
		return e
	}
	m.fields = f
	m.streaming = false
	if m.dropOnStop {
		s.remove(m.channel, m.ts)
		return okResp("channel", m.channel, "ts", m.ts)
	}
	s.notify()
	return okResp("channel", m.channel, "ts", m.ts, "message", s.render(m))
}

func cloneFields(f map[string]any) map[string]any {
	c := make(map[string]any, len(f))
	for k, v := range f {
		c[k] = v
	}
	return c
}

// validReaction rejects names Slack refuses, such as ":eyes:" with colons.
var validReaction = regexp.MustCompile(`^[a-z0-9_+'-]+(::skin-tone-[2-6])?$`)

func (s *Server) reactionTarget(r *apiReq) (string, apiError) {
	ch, ts, name := r.param("channel"), r.param("timestamp"), r.param("name")
	if ch == "" || ts == "" {
		return "", apiErr("no_item_specified")
	}
	if code := s.channelError(ch); code != "" {
		return "", apiErr(code)
	}
	if !validReaction.MatchString(name) {
		return "", apiErr("invalid_name")
	}
	return ch + "/" + ts, nil
}

// addReaction records the bot's reaction. The message need not be stored:
// tests often send events without adding their message to the channel.
func (s *Server) addReaction(r *apiReq) any {
	key, e := s.reactionTarget(r)
	if e != nil {
		return e
	}
	name := r.param("name")
	for _, n := range s.reactions[key] {
		if n == name {
			return apiErr("already_reacted")
		}
	}
	s.reactions[key] = append(s.reactions[key], name)
	s.notify()
	return okResp()
}

func (s *Server) removeReaction(r *apiReq) any {
	key, e := s.reactionTarget(r)
	if e != nil {
		return e
	}
	names := s.reactions[key]
	for i, n := range names {
		if n == r.param("name") {
			s.reactions[key] = append(names[:i:i], names[i+1:]...)
			s.notify()
			return okResp()
		}
	}
	return apiErr("no_reaction")
}

// render returns the message object as Slack shows it: thread roots carry
// their reply summary and the bot's reactions are merged in.
func (s *Server) render(m *message) map[string]any {
	f := cloneFields(m.fields)
	delete(f, "channel") // stored for the bot's own posts; history omits it
	if !m.isReply() {
		var replies []*message
		for _, o := range s.msgs[m.channel] {
			if o.isReply() && o.threadTS() == m.ts {
				replies = append(replies, o)
			}
		}
		if len(replies) > 0 {
			users := []any{}
			seen := map[string]bool{}
			for _, o := range replies {
				if u := o.str("user"); u != "" && !seen[u] {
					seen[u] = true
					users = append(users, u)
				}
			}
			f["thread_ts"] = m.ts
			f["reply_count"] = len(replies)
			f["reply_users_count"] = len(users)
			f["reply_users"] = users
			f["latest_reply"] = replies[len(replies)-1].ts
		}
	}
	if names := s.reactions[m.channel+"/"+m.ts]; len(names) > 0 {
		var list []any
		if old, ok := f["reactions"].([]any); ok {
			list = append(list, old...)
		}
		for _, n := range names {
			list = append(list, map[string]any{"name": n, "users": []any{BotUserID}, "count": 1})
		}
		f["reactions"] = list
	}
	return f
}

// window is the oldest/latest/inclusive filter of history and replies.
func window(r *apiReq) func(*message) bool {
	oldest, hasOldest := parseTS(r.param("oldest"))
	latest, hasLatest := parseTS(r.param("latest"))
	incl := r.param("inclusive") == "1" || r.param("inclusive") == "true"
	return func(m *message) bool {
		if hasOldest && (m.us < oldest || (!incl && m.us == oldest)) {
			return false
		}
		if hasLatest && latest > 0 && (m.us > latest || (!incl && m.us == latest)) {
			return false
		}
		return true
	}
}

func limitOf(r *apiReq, def, most int) int {
	n, err := strconv.Atoi(r.param("limit"))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, most)
}

// Cursors are opaque to clients; like Slack's, ours encode the ts where the
// next page starts.
func encodeCursor(ts string) string {
	return base64.StdEncoding.EncodeToString([]byte("next_ts:" + ts))
}

func decodeCursor(c string) (int64, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	return parseTS(strings.TrimPrefix(string(b), "next_ts:"))
}

// history implements conversations.history: top-level messages (thread
// replies stay in their thread), newest first, paginated by cursor.
func (s *Server) history(r *apiReq) any {
	ch := r.param("channel")
	if code := s.channelError(ch); code != "" {
		return apiErr(code)
	}
	in := window(r)
	var all []*message
	list := s.msgs[ch]
	for i := len(list) - 1; i >= 0; i-- {
		m := list[i]
		if in(m) && (!m.isReply() || m.str("subtype") == "thread_broadcast") {
			all = append(all, m)
		}
	}
	if c := r.param("cursor"); c != "" {
		start, ok := decodeCursor(c)
		if !ok {
			return apiErr("invalid_cursor")
		}
		i := 0
		for i < len(all) && all[i].us > start {
			i++
		}
		all = all[i:]
	}
	page, next := paginate(all, limitOf(r, 100, 999))
	msgs := make([]any, 0, len(page))
	for _, m := range page {
		msgs = append(msgs, s.render(m))
	}
	return okResp("messages", msgs, "has_more", next != "", "pin_count", 0,
		"channel_actions_ts", nil, "channel_actions_count", 0,
		"response_metadata", map[string]any{"next_cursor": next})
}

func paginate(all []*message, limit int) ([]*message, string) {
	if len(all) <= limit {
		return all, ""
	}
	return all[:limit], encodeCursor(all[limit].ts)
}

// replies implements conversations.replies: the thread root then its
// replies, oldest first. A reply's ts finds its whole thread.
func (s *Server) replies(r *apiReq) any {
	ch, ts := r.param("channel"), r.param("ts")
	if code := s.channelError(ch); code != "" {
		return apiErr(code)
	}
	m := s.find(ch, ts)
	if m == nil {
		return apiErr("thread_not_found")
	}
	root := m
	if m.isReply() {
		if p := s.find(ch, m.threadTS()); p != nil {
			root = p
		}
	}
	in := window(r)
	var all []*message
	for _, o := range s.msgs[ch] {
		if (o == root || (o.isReply() && o.threadTS() == root.ts)) && in(o) {
			all = append(all, o)
		}
	}
	if c := r.param("cursor"); c != "" {
		start, ok := decodeCursor(c)
		if !ok {
			return apiErr("invalid_cursor")
		}
		i := 0
		for i < len(all) && all[i].us < start {
			i++
		}
		all = all[i:]
	}
	page, next := paginate(all, limitOf(r, 1000, 1000))
	msgs := make([]any, 0, len(page))
	for _, o := range page {
		f := s.render(o)
		if o != root {
			if _, ok := f["parent_user_id"]; !ok && root.str("user") != "" {
				f["parent_user_id"] = root.str("user")
			}
		}
		msgs = append(msgs, f)
	}
	return okResp("messages", msgs, "has_more", next != "",
		"response_metadata", map[string]any{"next_cursor": next})
}
