// Package geminiemu is a Gemini REST emulator on 127.0.0.1 for tests and
// benchmarks. It speaks the wire format the google.golang.org/genai client
// uses (generateContent, streamGenerateContent?alt=sse, models.get) for both
// the Gemini API path shape (v1beta/models/M) and the Vertex AI one
// (v1beta1/projects/P/locations/L/publishers/google/models/M), under the
// API versions the real services serve (apiVersions), and answers
// with scripted replies, typically recorded real responses from
// internal/fixtures/data/gemini, so the adapter is checked against what the
// real service sends.
package geminiemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Reply is one scripted answer to a generate call.
type Reply struct {
	// Status is the HTTP status; 0 means 200.
	Status int
	// Body is the raw body as sent: a fixture SSE file, a unary JSON, an
	// error JSON. When empty, the body is built from Text (or, for an error
	// Status, a Google-style error JSON).
	Body []byte
	// Text builds a normal answer: a few SSE chunks when streaming, one JSON
	// when unary, with finishReason STOP and usageMetadata. An empty Text
	// (a zero Reply) is an answer that finishes without any text. Unless
	// ReadRequests(false), the request shapes it as Gemini would: an
	// answer over its maxOutputTokens is cut there with finishReason
	// MAX_TOKENS, and the usage counts the request's text and images by
	// Gemini's documented rules (model.go).
	Text string
	// Thought is a thought summary streamed before Text; it counts as
	// thinking tokens and spends maxOutputTokens first, as on Gemini.
	Thought string
	// Sources are the web pages a grounded Text cites: sent as the last
	// chunk's groundingMetadata when the request turned Google Search on.
	Sources []Source
	// Chunks is how many SSE events a streamed Text is cut into (0: 3, as
	// the real API streams a short answer); a load run sets more, paced by
	// ChunkDelay, to stream at a given rate of tokens.
	Chunks int
	Header http.Header
	// Delay is waited before the first byte (time to first token).
	Delay time.Duration
	// ChunkDelay is waited between SSE events (Body is split on the blank
	// lines that end events, CRLF or LF).
	ChunkDelay time.Duration
	// Hang never answers until the request's context ends (a stall).
	Hang bool
	// HangAfter stalls a stream after that many SSE events until the
	// request's context ends: an answer a person stops, or a timeout cuts,
	// near its end, before the last chunk and its counts. 0 sends them all.
	HangAfter int
}

// Recorded is one request the emulator received.
type Recorded struct {
	Path  string
	Query string
	// Version is the path's API version ("v1beta"), whether or not the
	// emulator serves it.
	Version string
	Model   string
	Method  string // "generateContent", "streamGenerateContent" or "get"; "" for a path it does not serve
	APIKey  string
	Header  http.Header
	Body    []byte // raw JSON as sent; nil after DropBodies(true)
	Size    int    // the body's length in bytes
	At      time.Time
}

// Server is a running emulator. All methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server
	// done ends every waiting handler at Close, so that Close never blocks
	// on a Hang or a long Delay.
	done      chan struct{}
	closeOnce sync.Once

	mu           sync.Mutex
	dropBodies   bool
	skipRequests bool
	requestLimit int
	pdfLimit     int
	refusals     map[string][]refusal
	models       map[string]bool
	apiKey       string
	script       []Reply
	fallback     Reply
	requests     []Recorded
	cancelled    int
	// stalled counts the replies that stalled; stalls is closed and
	// replaced at each, as arrived is.
	stalled int
	stalls  chan struct{}
	// arrived is closed and replaced whenever a request is recorded, which
	// wakes every WaitRequests without polling.
	arrived chan struct{}
	fs      filesState
}

// New starts an emulator that knows the models the project uses. A model
// whose name ends in -latest (gemini-flash-latest) is an alias that, as on
// the real Gemini API, exists only under v1beta.
func New() *Server {
	s := &Server{
		done:     make(chan struct{}),
		models:   map[string]bool{"gemini-flash-latest": true, "gemini-2.5-flash": true, "gemini-3-flash-preview": true},
		fallback: Reply{Text: "ok"},
		arrived:  make(chan struct{}),
		stalls:   make(chan struct{}),
		// Gemini's documented inline limits (model.go).
		requestLimit: GeminiAPIInlineLimit,
		pdfLimit:     PDFInlineLimit,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL to give genai as HTTPOptions.BaseURL or
// GOOGLE_GEMINI_BASE_URL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server; hung and delayed replies are aborted first.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.Close()
		s.closeFiles()
	})
}

// AddModel makes name known (bare, without "models/"); a -latest alias
// only under the Gemini API's v1beta.
func (s *Server) AddModel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models[name] = true
}

// SetAPIKey makes every request whose x-goog-api-key differs fail like the
// real API does; empty accepts any key.
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// SetDefault sets the reply used when no scripted reply is queued.
func (s *Server) SetDefault(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = r
}

// Script queues replies; each generate call takes the next one (FIFO).
func (s *Server) Script(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, r...)
}

// Requests returns a copy of everything received so far, oldest first.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.requests...)
}

// WaitRequests waits until at least n requests were received and returns
// them; after timeout it returns what arrived and an error.
func (s *Server) WaitRequests(n int, timeout time.Duration) ([]Recorded, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got := append([]Recorded(nil), s.requests...)
		arrived := s.arrived
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-arrived:
		case <-timer.C:
			return got, fmt.Errorf("geminiemu: %d of %d requests after %s", len(got), n, timeout)
		case <-s.done:
			return got, fmt.Errorf("geminiemu: closed with %d of %d requests", len(got), n)
		}
	}
}

// DropBodies stops keeping request bodies (their Size is still recorded),
// so that a load run of large images does not hold them all.
func (s *Server) DropBodies(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropBodies = drop
}

// ReadRequests(false) answers without reading request bodies: no token
// accounting (a fixed prompt count), no output limit, no refusals. A load
// run of large images then costs the emulator what it always did, and
// leaves the machine to the bot.
func (s *Server) ReadRequests(read bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.skipRequests = !read
}

// SetRequestLimit makes a generate call whose body is over n bytes fail as
// Google's front end fails it: HTTP 413 with an HTML page. 0 takes any.
// The default is the Gemini API's, GeminiAPIInlineLimit.
func (s *Server) SetRequestLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requestLimit = n
}

// SetPDFInlineLimit makes a generate call with an inline PDF over n bytes
// (decoded) fail with a 413 too; 0 takes any. The default is
// PDFInlineLimit.
func (s *Server) SetPDFInlineLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pdfLimit = n
}

// RejectThinkingLevel makes model refuse a request whose thinkingLevel is
// level (such as "MINIMAL", which Gemini 3.7 Flash refuses), or any
// thinking config when level is "", with Gemini's 400 INVALID_ARGUMENT.
func (s *Server) RejectThinkingLevel(model, level string) {
	s.addRefusal(model, refusal{thinkingLevel: level})
}

// RejectThinkingBudget makes model refuse a request whose thinkingBudget
// is budget (0 on some Flash-Lite and Pro models), with Gemini's 400.
func (s *Server) RejectThinkingBudget(model string, budget int) {
	s.addRefusal(model, refusal{thinkingBudget: &budget})
}

// RejectMediaResolution makes model refuse any media resolution, global or
// per part, as Gemini's Gemma models do.
func (s *Server) RejectMediaResolution(model string) {
	s.addRefusal(model, refusal{media: true})
}

func (s *Server) addRefusal(model string, f refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refusals == nil {
		s.refusals = map[string][]refusal{}
	}
	s.refusals[model] = append(s.refusals[model], f)
}

func (s *Server) record(r Recorded) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropBodies {
		r.Body = nil
	}
	s.requests = append(s.requests, r)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *Server) nextReply() Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		return s.fallback
	}
	r := s.script[0]
	s.script = s.script[1:]
	return r
}

// route is what a request path names.
type route struct {
	vertex  bool
	version string
	model   string
	method  string
}

// apiVersions are the API versions each service serves: the Gemini API's
// stable v1 and its v1beta, Vertex AI's v1 and v1beta1. Under any other
// the real services answer 404 as for any path they do not serve, and so
// does the emulator, so that a client whose default version moved (genai
// v1.78 moved the Gemini API's from v1beta to v1) fails here as it would
// there.
var apiVersions = map[bool][]string{false: {"v1", "v1beta"}, true: {"v1", "v1beta1"}}

// serves reports whether the model is served under the route's API
// version. The -latest aliases exist only under the Gemini API's v1beta
// (genai's v1.78.0 changelog: "the gemini-flash-latest,
// gemini-flash-lite-latest, and gemini-pro-latest aliases ... exist only on
// v1beta"); under v1 Gemini answers as for an unknown model.
func (rt route) serves(known bool) bool {
	if strings.HasSuffix(rt.model, "-latest") {
		return known && !rt.vertex && rt.version == "v1beta"
	}
	return known
}

// parsePath accepts {version}/models/M[:method] (Gemini API) and
// {version}[/projects/P/locations/L]/publishers/google/models/M[:method]
// (Vertex AI; genai drops the project prefix for models.get), for the
// versions of apiVersions. The route is filled as far as the path goes
// even when it is not served, for the record.
func parsePath(path string) (route, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var rt route
	if len(segs) < 3 {
		return rt, false
	}
	rt.version, segs = segs[0], segs[1:]
	if len(segs) >= 4 && segs[0] == "projects" && segs[2] == "locations" {
		rt.vertex = true
		segs = segs[4:]
	}
	if len(segs) >= 2 && segs[0] == "publishers" {
		rt.vertex = true
		segs = segs[2:]
	}
	if len(segs) != 2 || segs[0] != "models" || segs[1] == "" {
		return rt, false
	}
	rt.model, rt.method, _ = strings.Cut(segs[1], ":")
	if rt.method == "" {
		rt.method = "get"
	}
	return rt, slices.Contains(apiVersions[rt.vertex], rt.version)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Before the body is read: an upload's chunks stream through.
	if s.serveFiles(w, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	rt, ok := parsePath(r.URL.Path)
	wantHTTP := map[string]string{"get": http.MethodGet, "generateContent": http.MethodPost, "streamGenerateContent": http.MethodPost}[rt.method]
	ok = ok && wantHTTP != "" && r.Method == wantHTTP
	if !ok {
		rt.method = ""
	}
	key := r.Header.Get("x-goog-api-key")
	// Recorded before it is answered, a path it does not serve too, so
	// that a test sees where a client went wrong.
	s.record(Recorded{
		Path: r.URL.Path, Query: r.URL.RawQuery, Version: rt.version, Model: rt.model, Method: rt.method,
		APIKey: key, Header: r.Header.Clone(), Body: body, Size: len(body), At: time.Now(),
	})
	if !ok {
		writeJSON(w, http.StatusNotFound, nil, errorBody(http.StatusNotFound, "Method not found."))
		return
	}

	s.mu.Lock()
	wantKey, known, limit, read := s.apiKey, s.models[rt.model], s.requestLimit, !s.skipRequests
	pdfLimit := s.pdfLimit
	refusals := s.refusals[rt.model]
	s.mu.Unlock()
	switch {
	case wantKey != "" && key != wantKey:
		writeJSON(w, http.StatusBadRequest, nil, []byte(apiKeyInvalidBody))
		return
	case !rt.serves(known):
		writeJSON(w, http.StatusNotFound, nil, unknownModelBody(rt.model, rt.version))
		return
	case rt.method == "get":
		writeJSON(w, http.StatusOK, nil, modelBody(rt))
		return
	case limit > 0 && len(body) > limit:
		writeJSON(w, http.StatusRequestEntityTooLarge, http.Header{"Content-Type": {"text/html; charset=UTF-8"}}, []byte(requestTooLargeBody))
		return
	}
	var req *Request
	if read {
		req = parseRequest(body)
		if pdfLimit > 0 && req.largestPDF() > pdfLimit {
			writeJSON(w, http.StatusRequestEntityTooLarge, http.Header{"Content-Type": {"text/html; charset=UTF-8"}}, []byte(requestTooLargeBody))
			return
		}
		for _, f := range refusals {
			if msg := f.refuses(rt.model, req); msg != "" {
				writeJSON(w, http.StatusBadRequest, nil, errorBody(http.StatusBadRequest, msg))
				return
			}
		}
		if status, msg := s.resolveFiles(key, req); status != 0 {
			writeJSON(w, status, nil, errorStatusBody(status, fileErrorStatus(status), msg))
			return
		}
	}
	s.answer(w, r, rt, s.nextReply(), req)
}

// noteCancelled counts a reply cut off because its client went away.
func (s *Server) noteCancelled(r *http.Request) {
	if r.Context().Err() == nil {
		return // the emulator is closing
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled++
}

// Cancelled is how many replies were cut off because the client cancelled
// its request before they were whole (a timeout, a person's Stop).
func (s *Server) Cancelled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

// wait reports whether d elapsed before the request or the server ended.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

// stall waits for the request or the server to end, then aborts the
// connection rather than end the body as if the answer were whole (an
// empty 200 a client would read as an empty answer, a stream without its
// last chunk as one that closed cleanly).
func (s *Server) stall(r *http.Request) {
	s.mu.Lock()
	s.stalled++
	close(s.stalls)
	s.stalls = make(chan struct{})
	s.mu.Unlock()
	select {
	case <-r.Context().Done():
	case <-s.done:
	}
	s.noteCancelled(r)
	panic(http.ErrAbortHandler)
}

// WaitStalled waits until n replies stalled (Hang, HangAfter), every
// byte before the stall written to the client's connection, or timeout
// passed.
func (s *Server) WaitStalled(n int, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		got, stalls := s.stalled, s.stalls
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-stalls:
		case <-timer.C:
			return fmt.Errorf("geminiemu: %d of %d replies stalled after %s", got, n, timeout)
		case <-s.done:
			return fmt.Errorf("geminiemu: closed with %d of %d replies stalled", got, n)
		}
	}
}

// answer sends rep; req is the request as read, nil under
// ReadRequests(false).
func (s *Server) answer(w http.ResponseWriter, r *http.Request, rt route, rep Reply, req *Request) {
	if rep.Hang {
		s.stall(r)
	}
	if !s.wait(r, rep.Delay) {
		s.noteCancelled(r)
		panic(http.ErrAbortHandler)
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	streaming := rt.method == "streamGenerateContent"
	body := rep.Body
	switch {
	case len(body) > 0:
	case status >= 400:
		body = errorBody(status, http.StatusText(status))
	case streaming:
		body = sseAnswer(textSpec(rt.model, rep, req), rt.model, rep.Chunks, rt.vertex)
	default:
		body = unaryAnswer(textSpec(rt.model, rep, req), rt.model)
	}
	if status != http.StatusOK || !streaming {
		writeJSON(w, status, rep.Header, body)
		return
	}

	h := w.Header()
	for k, v := range rep.Header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/event-stream")
	}
	w.WriteHeader(status)
	flusher, _ := w.(http.Flusher)
	for i, event := range splitEvents(body) {
		if rep.HangAfter > 0 && i == rep.HangAfter {
			s.stall(r)
		}
		if i > 0 && !s.wait(r, rep.ChunkDelay) {
			s.noteCancelled(r)
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(event); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, header http.Header, body []byte) {
	h := w.Header()
	for k, v := range header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json; charset=UTF-8")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// splitEvents cuts an SSE body after each blank line that ends an event,
// keeping the separators so the bytes sent are exactly the bytes given.
func splitEvents(body []byte) [][]byte {
	var events [][]byte
	for len(body) > 0 {
		end := len(body)
		if i := bytes.Index(body, []byte("\n\n")); i >= 0 {
			end = i + 2
		}
		if i := bytes.Index(body, []byte("\r\n\r\n")); i >= 0 && i+4 < end {
			end = i + 4
		}
		events = append(events, body[:end])
		body = body[end:]
	}
	return events
}

// grpcStatus names an HTTP status the way Google's error bodies do.
func grpcStatus(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 408, 504:
		return "DEADLINE_EXCEEDED"
	case 409:
		return "ABORTED"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 501:
		return "UNIMPLEMENTED"
	case 503:
		return "UNAVAILABLE"
	default:
		return "INTERNAL"
	}
}

func errorBody(code int, message string) []byte {
	return errorStatusBody(code, grpcStatus(code), message)
}

// errorStatusBody is a Google-style error with a status other than the
// code's usual one (400 FAILED_PRECONDITION).
func errorStatusBody(code int, status, message string) []byte {
	b, _ := json.MarshalIndent(map[string]any{"error": map[string]any{
		"code": code, "message": message, "status": status,
	}}, "", "  ")
	return b
}

type wirePart struct {
	Text    string `json:"text"`
	Thought bool   `json:"thought,omitempty"`
}

type wireContent struct {
	Parts []wirePart `json:"parts"`
	Role  string     `json:"role"`
}

type wireCandidate struct {
	Content           *wireContent   `json:"content,omitempty"`
	FinishReason      string         `json:"finishReason,omitempty"`
	GroundingMetadata *wireGrounding `json:"groundingMetadata,omitempty"`
	Index             int            `json:"index"`
}

type wireUsage struct {
	PromptTokenCount     int    `json:"promptTokenCount,omitempty"`
	CandidatesTokenCount int    `json:"candidatesTokenCount,omitempty"`
	ThoughtsTokenCount   int    `json:"thoughtsTokenCount,omitempty"`
	TotalTokenCount      int    `json:"totalTokenCount,omitempty"`
	TrafficType          string `json:"trafficType,omitempty"` // Vertex AI's
}

type wireResponse struct {
	Candidates    []wireCandidate `json:"candidates"`
	UsageMetadata wireUsage       `json:"usageMetadata"`
	ModelVersion  string          `json:"modelVersion"`
	ResponseID    string          `json:"responseId"`
}

// fixedPromptTokens is the prompt count under ReadRequests(false), when
// the emulator does not read the request.
const fixedPromptTokens = 8

// outputTokens roughly follows the ~4 characters per token of real models,
// so that token counts grow with the answer.
func outputTokens(text string) int {
	if text == "" {
		return 0
	}
	return utf8.RuneCountInString(text)/4 + 1
}

// textSpec is what a Text reply sends: shaped by the request, or, when it
// was not read, the reply as it is with a fixed prompt count.
func textSpec(model string, rep Reply, req *Request) answerSpec {
	if req != nil {
		return shape(model, rep, req)
	}
	out, thought := outputTokens(rep.Text), outputTokens(rep.Thought)
	return answerSpec{text: rep.Text, thought: rep.Thought, finish: "STOP", usage: wireUsage{
		PromptTokenCount: fixedPromptTokens, CandidatesTokenCount: out, ThoughtsTokenCount: thought,
		TotalTokenCount: fixedPromptTokens + out + thought,
	}}
}

func unaryAnswer(spec answerSpec, model string) []byte {
	var parts []wirePart
	if spec.thought != "" {
		parts = append(parts, wirePart{Text: spec.thought, Thought: true})
	}
	parts = append(parts, wirePart{Text: spec.text})
	b, _ := json.Marshal(wireResponse{
		Candidates: []wireCandidate{{
			Content:      &wireContent{Parts: parts, Role: "model"},
			FinishReason: spec.finish, GroundingMetadata: spec.grounding,
		}},
		UsageMetadata: spec.usage,
		ModelVersion:  model,
		ResponseID:    "geminiemu",
	})
	return b
}

// sseAnswer splits the text into chunks (three by default, the way the
// real API streams a short answer), after a chunk with the thought summary
// if any; the last chunk carries the finish reason, the whole usage and the
// grounding. The chunks before it count as the recorded streams of each
// service do (TestStreamUsageAsRecorded): on the Gemini API the prompt
// and the thinking so far, never the answer, whose count comes only with
// the last chunk; on Vertex AI nothing but the traffic type. A stream cut
// before its end has no count of its answer, here as on Google.
func sseAnswer(spec answerSpec, model string, chunks int, vertex bool) []byte {
	if chunks <= 0 {
		chunks = 3
	}
	var buf bytes.Buffer
	write := func(cand wireCandidate, usage wireUsage) {
		b, _ := json.Marshal(wireResponse{Candidates: []wireCandidate{cand}, UsageMetadata: usage, ModelVersion: model, ResponseID: "geminiemu"})
		buf.WriteString("data: ")
		buf.Write(b)
		buf.WriteString("\r\n\r\n")
	}
	running := wireUsage{PromptTokenCount: spec.usage.PromptTokenCount, TotalTokenCount: spec.usage.PromptTokenCount}
	final := spec.usage
	if vertex {
		running, final.TrafficType = wireUsage{TrafficType: "ON_DEMAND"}, "ON_DEMAND"
	}
	if spec.thought != "" {
		if !vertex {
			running.ThoughtsTokenCount = spec.usage.ThoughtsTokenCount
			running.TotalTokenCount += running.ThoughtsTokenCount
		}
		write(wireCandidate{Content: &wireContent{Parts: []wirePart{{Text: spec.thought, Thought: true}}, Role: "model"}}, running)
	}
	pieces := splitText(spec.text, chunks)
	for i, p := range pieces {
		cand := wireCandidate{Content: &wireContent{Parts: []wirePart{{Text: p}}, Role: "model"}}
		usage := running
		if i == len(pieces)-1 {
			cand.FinishReason, cand.GroundingMetadata = spec.finish, spec.grounding
			usage = final
		}
		write(cand, usage)
	}
	return buf.Bytes()
}

// splitText cuts text into at most n pieces of about equal rune counts; an
// empty text is one empty piece so that the stream still finishes.
func splitText(text string, n int) []string {
	runes := []rune(text)
	if len(runes) < n {
		n = max(len(runes), 1)
	}
	pieces := make([]string, 0, n)
	for i := range n {
		pieces = append(pieces, string(runes[i*len(runes)/n:(i+1)*len(runes)/n]))
	}
	return pieces
}

func modelBody(rt route) []byte {
	var m map[string]any
	if rt.vertex {
		m = map[string]any{
			"name":               "publishers/google/models/" + rt.model,
			"versionId":          "default",
			"openSourceCategory": "PROPRIETARY",
			"launchStage":        "GA",
		}
	} else {
		m = map[string]any{
			"name":                       "models/" + rt.model,
			"version":                    "001",
			"displayName":                rt.model,
			"inputTokenLimit":            1048576,
			"outputTokenLimit":           65536,
			"supportedGenerationMethods": []string{"generateContent", "countTokens", "createCachedContent", "batchGenerateContent"},
			"temperature":                1,
			"topP":                       0.95,
			"topK":                       64,
			"maxTemperature":             2,
			"thinking":                   true,
		}
	}
	b, _ := json.Marshal(m)
	return b
}
