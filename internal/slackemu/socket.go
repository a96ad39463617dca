package slackemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Ack is an acknowledgement the client sent over the websocket.
type Ack struct {
	EnvelopeID string
	Payload    json.RawMessage // nil when the ack carried no payload
	At         time.Time       // when the ack arrived
	SentAt     time.Time       // when the envelope was sent (zero if unknown)
}

// Latency is how long the client took to ack (At - SentAt).
func (a Ack) Latency() time.Duration {
	if a.SentAt.IsZero() {
		return 0
	}
	return a.At.Sub(a.SentAt)
}

// wsConn is one Socket Mode connection. gorilla/websocket allows a single
// concurrent writer, hence wmu; control frames (pings, close) are safe anyway.
type wsConn struct {
	c         *websocket.Conn
	wmu       sync.Mutex
	done      chan struct{}
	closeOnce sync.Once
	timeout   time.Duration // for each write: a client that stops reading fails the sender
	// mute stops the pings and leaves the connection open: half-open, as
	// when a network path dies without a FIN.
	mute     chan struct{}
	muteOnce sync.Once
}

func (c *wsConn) silence() { c.muteOnce.Do(func() { close(c.mute) }) }

func (c *wsConn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.c.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.c.WriteMessage(websocket.TextMessage, frame)
}

// shutdown closes the connection, politely (close frame first) or abruptly.
func (c *wsConn) shutdown(polite bool) {
	c.closeOnce.Do(func() {
		if polite {
			_ = c.c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseGoingAway, ""), time.Now().Add(time.Second))
		}
		close(c.done)
		_ = c.c.Close()
	})
}

var upgrader = websocket.Upgrader{
	// slack-go sends Origin: https://api.slack.com, which is not our host.
	CheckOrigin: func(*http.Request) bool { return true },
}

// openConnection implements apps.connections.open: it issues a one-shot
// ticket, like the real wss://wss-primary.slack.com/link/?ticket=... URL.
func (s *Server) openConnection(r *apiReq) any {
	if code := s.appTokenError(r.call.Token); code != "" {
		return apiErr(code)
	}
	ticket := randomHex(16)
	s.tickets[ticket] = true
	s.issued = append(s.issued, ticket)
	u := "ws://" + s.hs.Listener.Addr().String() + "/link/?ticket=" + ticket + "&app_id=" + AppID
	return okResp("url", u)
}

// Tickets are the Socket Mode tickets issued so far: secrets a client must
// never log.
func (s *Server) Tickets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

func (s *Server) handleWebsocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := s.tickets[ticket]
	delete(s.tickets, ticket)
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade already answered the client
	}
	s.mu.Lock()
	conn := &wsConn{c: c, done: make(chan struct{}), mute: make(chan struct{}), timeout: s.writeTimeout}
	if s.closed {
		s.mu.Unlock()
		conn.shutdown(false)
		return
	}
	s.conns = append(s.conns, conn)
	s.connects++
	n := len(s.conns)
	interval := s.pingInterval
	disconnect := s.disconnectAfterHello
	// Add under the lock that Close takes before Wait, so no Add races Wait.
	s.wg.Add(2)
	s.notify()
	s.mu.Unlock()

	// The hello frame, shaped like socketmode/hello.slack-go.json.
	hello, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": n,
		"debug_info": map[string]any{
			"host":                        "applink-emu-" + strconv.Itoa(n),
			"build_number":                10,
			"approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": AppID},
	})
	_ = conn.write(hello)
	if disconnect != "" {
		_ = conn.write(disconnectFrame(disconnect))
	}

	go s.readLoop(conn)
	go s.pingLoop(conn, interval)
}

// readLoop records acks until the connection ends. gorilla's default ping
// handler answers the client's pings while we read.
func (s *Server) readLoop(conn *wsConn) {
	defer s.wg.Done()
	defer s.dropConn(conn)
	for {
		_, data, err := conn.c.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue // not an ack; Slack ignores those too
		}
		if string(ack.Payload) == "null" {
			ack.Payload = nil
		}
		s.mu.Lock()
		s.acks = append(s.acks, Ack{EnvelopeID: ack.EnvelopeID, Payload: ack.Payload, At: time.Now(), SentAt: s.sentAt[ack.EnvelopeID]})
		s.notify()
		s.mu.Unlock()
	}
}

// pingLoop pings right away and then every interval: slack-go reconnects
// when Slack stays silent for too long.
func (s *Server) pingLoop(conn *wsConn, interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := conn.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
			return
		}
		select {
		case <-t.C:
		case <-conn.done:
			return
		case <-conn.mute:
			return
		case <-s.done:
			return
		}
	}
}

func (s *Server) dropConn(conn *wsConn) {
	conn.shutdown(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.conns {
		if c == conn {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			break
		}
	}
	s.notify()
}

// WaitConnected waits until at least one Socket Mode client is connected.
func (s *Server) WaitConnected(timeout time.Duration) error {
	if !s.waitFor(timeout, func() bool { return len(s.conns) > 0 }) {
		return errTimeout("a socket mode connection", timeout)
	}
	return nil
}

// Connects is how many websocket connections were accepted so far; it grows
// when the client reconnects.
func (s *Server) Connects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// WaitConnects waits until n websocket connections were accepted in total.
func (s *Server) WaitConnects(n int, timeout time.Duration) error {
	if !s.waitFor(timeout, func() bool { return s.connects >= n }) {
		return errTimeout(fmt.Sprintf("%d socket mode connections", n), timeout)
	}
	return nil
}

// SendRaw writes frame as-is to every connected client.
func (s *Server) SendRaw(frame []byte) error {
	s.mu.Lock()
	conns := s.liveConns()
	s.mu.Unlock()
	if len(conns) == 0 {
		return ErrNotConnected
	}
	for _, c := range conns {
		if err := c.write(frame); err != nil {
			return err
		}
	}
	return nil
}

// SendDisconnect sends Slack's disconnect frame (reason "warning",
// "refresh_requested", "too_many_websockets", ...); slack-go then reconnects.
func (s *Server) SendDisconnect(reason string) error {
	return s.SendRaw(disconnectFrame(reason))
}

// liveConns are the connections that were not silenced, oldest first; the
// caller holds s.mu.
func (s *Server) liveConns() []*wsConn {
	var live []*wsConn
	for _, c := range s.conns {
		select {
		case <-c.mute:
		default:
			live = append(live, c)
		}
	}
	return live
}

func disconnectFrame(reason string) []byte {
	frame, _ := json.Marshal(map[string]any{
		"type":       "disconnect",
		"reason":     reason,
		"debug_info": map[string]any{"host": "applink-emu"},
	})
	return frame
}

// DisconnectAfterHello makes every new connection send a disconnect frame
// with reason right after its hello, as Slack does when it keeps refusing
// a connection (e.g. "too_many_websockets"). "" turns it off.
func (s *Server) DisconnectAfterHello(reason string) {
	s.locked(func() { s.disconnectAfterHello = reason })
}

// SilenceConnections stops the pings of every open connection and keeps
// it open without sending anything more: a half-open connection. New
// connections behave normally.
func (s *Server) SilenceConnections() {
	s.mu.Lock()
	conns := append([]*wsConn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.silence()
	}
}

// DropConnections closes every websocket abruptly, like a network failure.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := append([]*wsConn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown(false)
	}
}

// envelope is the Socket Mode frame; field order follows Slack's.
type envelope struct {
	EnvelopeID             string          `json:"envelope_id"`
	Type                   string          `json:"type"`
	AcceptsResponsePayload bool            `json:"accepts_response_payload"`
	RetryAttempt           int             `json:"retry_attempt"`
	RetryReason            string          `json:"retry_reason"`
	Payload                json.RawMessage `json:"payload"`
}

// SetDeliverToAll makes every envelope go to every live connection (true)
// instead of the newest one only (false, the default, as Slack does): the
// worst case of replicas, where each gets the same event and only their
// shared memory keeps them from answering it twice.
func (s *Server) SetDeliverToAll(all bool) {
	s.locked(func() { s.deliverToAll = all })
}

// SendEnvelope sends payload in an envelope of type typ ("events_api",
// "slash_commands", "interactive") to the newest connection, as Slack sends
// each envelope to one connection only (to all of them after
// SetDeliverToAll(true)). It returns the envelope id.
func (s *Server) SendEnvelope(typ string, payload []byte) (string, error) {
	return s.sendEnvelope(typ, payload, 0)
}

// sendEnvelope sends payload as a new envelope; attempt > 0 marks it as
// Slack's retry of an earlier delivery (retry_attempt, retry_reason).
func (s *Server) sendEnvelope(typ string, payload []byte, attempt int) (string, error) {
	if !json.Valid(payload) {
		return "", fmt.Errorf("slackemu: payload is not valid JSON")
	}
	env := envelope{
		EnvelopeID: newUUID(),
		Type:       typ,
		// Slack lets the app answer slash commands and interactions in the ack.
		AcceptsResponsePayload: typ == "slash_commands" || typ == "interactive",
		RetryAttempt:           attempt,
		Payload:                payload,
	}
	if attempt > 0 {
		env.RetryReason = "timeout"
	}
	frame, err := json.Marshal(env)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	live := s.liveConns()
	if len(live) == 0 {
		s.mu.Unlock()
		return "", ErrNotConnected
	}
	if !s.deliverToAll {
		live = live[len(live)-1:]
	}
	// Recorded before writing, so an ack can never arrive first.
	s.sentAt[env.EnvelopeID] = time.Now()
	s.mu.Unlock()
	for _, conn := range live {
		if err := conn.write(frame); err != nil {
			return "", err
		}
	}
	return env.EnvelopeID, nil
}

// SendEvent wraps an Events API inner event (the "event" object) in an
// event_callback and sends it as an events_api envelope. eventID "" means a
// generated one; sending the same eventID twice emulates a redelivery.
func (s *Server) SendEvent(inner []byte, eventID string) (string, error) {
	return s.RetryEvent(inner, eventID, 0)
}

// RetryEvent sends an event again as Slack retries one whose ack it did
// not get in time: the same event id in a new envelope with retry_attempt
// attempt (1 to 3) and retry_reason "timeout". Attempt 0 is a first
// delivery, as SendEvent.
func (s *Server) RetryEvent(inner []byte, eventID string, attempt int) (string, error) {
	if !json.Valid(inner) {
		return "", fmt.Errorf("slackemu: event is not valid JSON")
	}
	var meta struct {
		Type    string `json:"type"`
		User    string `json:"user"`
		Team    string `json:"team"`
		EventTS string `json:"event_ts"`
		TS      string `json:"ts"`
	}
	_ = json.Unmarshal(inner, &meta)
	if (meta.Type == "app_mention" || meta.Type == "message") && meta.User != "" && meta.Team == "" {
		// Slack's message events carry their author's team, as the
		// fixtures of real payloads show.
		var ev map[string]any
		if err := json.Unmarshal(inner, &ev); err == nil {
			s.mu.Lock()
			ev["team"] = s.teamOf(meta.User)
			s.mu.Unlock()
			if withTeam, err := json.Marshal(ev); err == nil {
				inner = withTeam
			}
		}
	}
	eventTime := time.Now().Unix()
	for _, ts := range []string{meta.EventTS, meta.TS} {
		if us, ok := parseTS(ts); ok {
			eventTime = us / 1e6
			break
		}
	}
	s.mu.Lock()
	if eventID == "" {
		eventID = fmt.Sprintf("Ev%010d", s.nextID())
	}
	s.mu.Unlock()
	payload, err := json.Marshal(struct {
		Token              string          `json:"token"`
		TeamID             string          `json:"team_id"`
		APIAppID           string          `json:"api_app_id"`
		Event              json.RawMessage `json:"event"`
		Type               string          `json:"type"`
		EventID            string          `json:"event_id"`
		EventTime          int64           `json:"event_time"`
		Authorizations     []any           `json:"authorizations"`
		IsExtSharedChannel bool            `json:"is_ext_shared_channel"`
		EventContext       string          `json:"event_context"`
	}{
		Token: VerificationToken, TeamID: TeamID, APIAppID: AppID,
		Event: inner, Type: "event_callback", EventID: eventID, EventTime: eventTime,
		Authorizations: []any{map[string]any{
			"enterprise_id": nil, "team_id": TeamID, "user_id": BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		EventContext: "4-emu-" + eventID,
	})
	if err != nil {
		return "", err
	}
	return s.sendEnvelope("events_api", payload, attempt)
}

// SendSlashCommand sends a slash_commands envelope whose payload is the flat
// object Slack sends (all strings, except is_enterprise_install). Missing
// fields get defaults: token, team_id, team_domain, api_app_id, command
// "/analyze", text "", a fresh ResponseURL and a fresh trigger_id.
func (s *Server) SendSlashCommand(fields map[string]string) (string, error) {
	p := map[string]any{
		"token":                 VerificationToken,
		"team_id":               TeamID,
		"team_domain":           TeamDomain,
		"api_app_id":            AppID,
		"command":               "/analyze",
		"text":                  "",
		"is_enterprise_install": false,
	}
	for k, v := range fields {
		if k == "is_enterprise_install" {
			p[k] = v == "true"
			continue
		}
		p[k] = v
	}
	if _, ok := p["response_url"]; !ok {
		p["response_url"] = s.ResponseURL()
	}
	if _, ok := p["trigger_id"]; !ok {
		p["trigger_id"] = s.NewTriggerID()
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	return s.SendEnvelope("slash_commands", payload)
}

// WaitAck waits for the client's ack of envelopeID.
func (s *Server) WaitAck(envelopeID string, timeout time.Duration) (Ack, error) {
	var found Ack
	ok := s.waitFor(timeout, func() bool {
		for _, a := range s.acks {
			if a.EnvelopeID == envelopeID {
				found = a
				return true
			}
		}
		return false
	})
	if !ok {
		return Ack{}, errTimeout("ack of envelope "+envelopeID, timeout)
	}
	return found, nil
}

// WaitAcks waits until envelopeID was acked n times: once by each
// connection it went to, after SetDeliverToAll(true).
func (s *Server) WaitAcks(envelopeID string, n int, timeout time.Duration) error {
	ok := s.waitFor(timeout, func() bool {
		got := 0
		for _, a := range s.acks {
			if a.EnvelopeID == envelopeID {
				got++
			}
		}
		return got >= n
	})
	if !ok {
		return errTimeout(fmt.Sprintf("%d acks of envelope %s", n, envelopeID), timeout)
	}
	return nil
}

// Acks returns every ack received, in arrival order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ack(nil), s.acks...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random UUID, the shape of Slack's envelope ids.
func newUUID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}
