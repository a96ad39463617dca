package geminiemu

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/visionbot/visionbot/internal/media"
)

// This file is the emulator's Files API, as the genai client speaks it
// (v1.79.1: files.go's Upload, api_client.go's upload; the Gemini API's
// "Files API" pages for the rest):
//
//   - Start: POST /upload/v1beta/files with X-Goog-Upload-Protocol:
//     resumable and X-Goog-Upload-Command: start, the File as JSON
//     ({"file": {"name", "mimeType", "displayName"}}) and the file's type
//     (and, when the client knows it, its length) in
//     X-Goog-Upload-Header-Content-Type (-Length). The answer's
//     X-Goog-Upload-URL is where the bytes go.
//   - Chunks: POSTs to that URL with X-Goog-Upload-Command "upload", and
//     "upload, finalize" for the last (genai sends 8 MB chunks), each with
//     X-Goog-Upload-Offset: the bytes sent before it, which must be what
//     the emulator holds, as the real service checks. Every answer says
//     X-Goog-Upload-Status: active, then final with {"file": …} (genai
//     retries, after 1, 2 and 4 s, a chunk whose answer lacks it). The
//     upload backend answers errors in plain text, not JSON (genai's
//     newAPIError says so).
//   - files.get GET /v1beta/files/ID, files.delete DELETE /v1beta/files/ID:
//     a file is its uploader's API key's; any other key, or a file that
//     does not exist (deleted, never uploaded), gets 403 PERMISSION_DENIED
//     "You do not have permission to access the File ID or it may not
//     exist." (the answer seen in googleapis/python-genai#1218).
//   - A file is PROCESSING for SetFileProcessing's delay after its upload,
//     then ACTIVE, or FAILED when its bytes, sniffed and probed by
//     internal/media as they arrive, are not the type it was uploaded as
//     or are damaged.
//   - generateContent may name a file in a fileData part: one of another
//     key, or gone, gets the 403; one not ACTIVE 400 FAILED_PRECONDITION
//     "The File ID is not in an ACTIVE state and usage is not allowed."
//     (the message users report; the corpus held no copy of Google's).
//     Its tokens are counted from what the probe found (model.go).
//
// The bytes themselves are never kept: each chunk goes through the probe
// and a SHA-256 as it is read, so a test can upload a file of any size.

// filesVersion is the API version the Files API is served under here: the
// one genai and Google's pages use for it.
const filesVersion = "v1beta"

// FileInfo is what the emulator knows of an uploaded file, for tests.
type FileInfo struct {
	Name     string // "files/ID"
	MIMEType string // as uploaded
	Size     int64
	APIKey   string
	State    string // PROCESSING, ACTIVE or FAILED
	// Probed is what internal/media read of the bytes; ProbeErr its
	// refusal, if any.
	Probed   media.Info
	ProbeErr error
}

// UploadBreak makes an upload fail halfway, once: the chunk that carries
// byte AtOffset is cut there.
type UploadBreak struct {
	AtOffset int64
	// Status is the HTTP status answered instead of reading the chunk (a
	// 503, say); 0 drops the connection after AtOffset's byte has been read.
	Status int
	// Finalized, instead, lets the upload finish and then drops the
	// connection before the answer: the file exists, and the client does
	// not know its name unless it chose it.
	Finalized bool
}

type storedFile struct {
	FileInfo
	created time.Time
	// ready is when processing ends; zero for never.
	ready   time.Time
	failed  bool
	sha256  string
	deleted bool
}

type uploadSession struct {
	mu       sync.Mutex
	id       string
	key      string
	name     string
	mimeType string
	declared int64 // -1: unknown
	received int64
	status   string // active, final, cancelled
	prober   *media.Prober
	hash     hash.Hash
}

// filesState is the Server's part for files, under Server.mu.
type filesState struct {
	files    map[string]*storedFile
	sessions map[string]*uploadSession
	// processing is how long a file stays PROCESSING; < 0 forever.
	processing time.Duration
	broken     *UploadBreak
}

// SetFileProcessing sets how long an uploaded file stays PROCESSING
// before it is ACTIVE (or FAILED); d < 0 keeps it PROCESSING for good.
// The default, 0, makes the upload's answer say ACTIVE.
func (s *Server) SetFileProcessing(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fs.processing = d
}

// BreakUpload makes the next upload that reaches b.AtOffset fail there.
func (s *Server) BreakUpload(b UploadBreak) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fs.broken = &b
}

// LiveFiles counts the uploaded files not deleted, whatever their state:
// what a test checks to see that nothing was left behind.
func (s *Server) LiveFiles() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.fs.files {
		if !f.deleted {
			n++
		}
	}
	return n
}

// Files returns what the emulator knows of every file uploaded, deleted
// ones included.
func (s *Server) Files() []FileInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []FileInfo
	for _, f := range s.fs.files {
		fi := f.FileInfo
		fi.State = f.state(now)
		out = append(out, fi)
	}
	return out
}

func (f *storedFile) state(now time.Time) string {
	switch {
	case f.ready.IsZero() || now.Before(f.ready):
		return "PROCESSING"
	case f.failed:
		return "FAILED"
	}
	return "ACTIVE"
}

// closeFiles ends the probes of the uploads never finished, at Close.
func (s *Server) closeFiles() {
	s.mu.Lock()
	sessions := s.fs.sessions
	s.fs.sessions = nil
	s.mu.Unlock()
	for _, u := range sessions {
		u.mu.Lock()
		if u.status == "active" {
			u.status = "cancelled"
			u.prober.Abort()
		}
		u.mu.Unlock()
	}
}

// serveFiles serves the Files API's paths; false for another path.
func (s *Server) serveFiles(w http.ResponseWriter, r *http.Request) bool {
	p := strings.Trim(r.URL.Path, "/")
	key := r.Header.Get("x-goog-api-key")
	switch {
	case p == "upload/"+filesVersion+"/files" && r.URL.Query().Get("upload_id") != "":
		s.uploadChunk(w, r, r.URL.Query().Get("upload_id"))
	case p == "upload/"+filesVersion+"/files":
		s.uploadStart(w, r, key)
	case strings.HasPrefix(p, filesVersion+"/files/") && !strings.Contains(strings.TrimPrefix(p, filesVersion+"/files/"), "/"):
		s.fileCall(w, r, key, strings.TrimPrefix(p, filesVersion+"/files/"))
	default:
		return false
	}
	return true
}

// keyRefused answers a request whose key the emulator refuses
// (SetAPIKey), as for the other methods.
func (s *Server) keyRefused(w http.ResponseWriter, key string) bool {
	s.mu.Lock()
	want := s.apiKey
	s.mu.Unlock()
	if want != "" && key != want {
		writeJSON(w, http.StatusBadRequest, nil, []byte(apiKeyInvalidBody))
		return true
	}
	return false
}

// validID is the Files API's rule for a name chosen by the client: up to
// 40 lowercase letters, digits and dashes, not starting or ending with a
// dash (genai's File.Name).
var validID = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

func (s *Server) uploadStart(w http.ResponseWriter, r *http.Request, key string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	s.record(Recorded{Path: r.URL.Path, Query: r.URL.RawQuery, Version: filesVersion, Method: "files.upload.start",
		APIKey: key, Header: r.Header.Clone(), Body: body, Size: len(body), At: time.Now()})
	if s.keyRefused(w, key) {
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Goog-Upload-Protocol") != "resumable" ||
		r.Header.Get("X-Goog-Upload-Command") != "start" {
		writeJSON(w, http.StatusBadRequest, nil, errorBody(http.StatusBadRequest, "Only resumable uploads are supported here."))
		return
	}
	var req struct {
		File struct {
			Name     string `json:"name"`
			MIMEType string `json:"mimeType"`
		} `json:"file"`
	}
	if len(body) > 0 && json.Unmarshal(body, &req) != nil {
		writeJSON(w, http.StatusBadRequest, nil, errorBody(http.StatusBadRequest, "Invalid JSON payload received."))
		return
	}
	id := strings.TrimPrefix(req.File.Name, "files/")
	if id == "" {
		id = randomID()
	}
	mime := r.Header.Get("X-Goog-Upload-Header-Content-Type")
	if mime == "" {
		mime = req.File.MIMEType
	}
	declared := int64(-1)
	if v := r.Header.Get("X-Goog-Upload-Header-Content-Length"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, nil, errorBody(http.StatusBadRequest, "Invalid X-Goog-Upload-Header-Content-Length."))
			return
		}
		declared = n
	}
	switch {
	case !validID.MatchString(id):
		writeJSON(w, http.StatusBadRequest, nil, errorBody(http.StatusBadRequest,
			"Invalid file name: "+id+". It may contain up to 40 lowercase letters, digits and dashes."))
		return
	case mime == "":
		writeJSON(w, http.StatusBadRequest, nil, errorBody(http.StatusBadRequest, "Missing mime type."))
		return
	}
	u := &uploadSession{id: randomID(), key: key, name: "files/" + id, mimeType: mime, declared: declared,
		status: "active", prober: media.NewProber(), hash: sha256.New()}
	s.mu.Lock()
	_, taken := s.fs.files[id]
	if !taken {
		if s.fs.sessions == nil {
			s.fs.sessions = map[string]*uploadSession{}
		}
		s.fs.sessions[u.id] = u
	}
	s.mu.Unlock()
	if taken {
		u.prober.Abort()
		writeJSON(w, http.StatusConflict, nil, errorBody(http.StatusConflict, "File files/"+id+" already exists."))
		return
	}
	h := w.Header()
	url := s.URL() + "/upload/" + filesVersion + "/files?upload_id=" + u.id + "&upload_protocol=resumable"
	h.Set("X-Goog-Upload-URL", url)
	h.Set("X-Goog-Upload-Control-URL", url)
	h.Set("X-Goog-Upload-Status", "active")
	h.Set("X-Goog-Upload-Chunk-Granularity", strconv.Itoa(8<<20))
	w.WriteHeader(http.StatusOK)
}

// uploadAnswer answers a chunk: the upload backend's errors are plain text.
func uploadAnswer(w http.ResponseWriter, status int, uploadStatus, text string) {
	w.Header().Set("X-Goog-Upload-Status", uploadStatus)
	if text != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

func (s *Server) uploadChunk(w http.ResponseWriter, r *http.Request, id string) {
	key := r.Header.Get("x-goog-api-key")
	command := r.Header.Get("X-Goog-Upload-Command")
	s.mu.Lock()
	u := s.fs.sessions[id]
	broken := s.fs.broken
	s.mu.Unlock()
	rec := Recorded{Path: r.URL.Path, Query: r.URL.RawQuery, Version: filesVersion, Method: "files.upload",
		APIKey: key, Header: r.Header.Clone(), Size: int(max(r.ContentLength, 0)), At: time.Now()}
	s.record(rec)
	if u == nil {
		uploadAnswer(w, http.StatusNotFound, "final", "No upload session "+id+".")
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.status != "active" {
		uploadAnswer(w, http.StatusBadRequest, u.status, "The upload is "+u.status+".")
		return
	}
	commands := map[string]bool{}
	for _, c := range strings.Split(command, ",") {
		commands[strings.TrimSpace(c)] = true
	}
	switch {
	case commands["query"]:
		w.Header().Set("X-Goog-Upload-Size-Received", strconv.FormatInt(u.received, 10))
		uploadAnswer(w, http.StatusOK, "active", "")
		return
	case commands["cancel"]:
		u.cancel()
		uploadAnswer(w, http.StatusOK, "cancelled", "")
		return
	case !commands["upload"] && !commands["finalize"]:
		uploadAnswer(w, http.StatusBadRequest, "active", "Unknown upload command "+command+".")
		return
	}
	offset, err := strconv.ParseInt(r.Header.Get("X-Goog-Upload-Offset"), 10, 64)
	if err != nil || offset != u.received {
		// The service holds u.received bytes: a chunk must start there.
		uploadAnswer(w, http.StatusBadRequest, "active",
			fmt.Sprintf("Invalid X-Goog-Upload-Offset %q: the upload has %d bytes.", r.Header.Get("X-Goog-Upload-Offset"), u.received))
		return
	}
	if broken != nil && !broken.Finalized && commands["upload"] && broken.AtOffset >= offset && (r.ContentLength < 0 || broken.AtOffset < offset+r.ContentLength) {
		s.mu.Lock()
		s.fs.broken = nil
		s.mu.Unlock()
		if broken.Status != 0 {
			uploadAnswer(w, broken.Status, "active", http.StatusText(broken.Status))
			return
		}
		// The connection drops after the break's byte: what came is lost.
		_, _ = io.CopyN(io.MultiWriter(u.prober, u.hash), r.Body, broken.AtOffset-offset+1)
		u.cancel()
		panic(http.ErrAbortHandler)
	}
	n, err := io.Copy(io.MultiWriter(u.prober, u.hash), r.Body)
	if err != nil || (r.ContentLength >= 0 && n != r.ContentLength) {
		u.cancel() // the client went away mid-chunk
		return
	}
	u.received += n
	if !commands["finalize"] {
		uploadAnswer(w, http.StatusOK, "active", "")
		return
	}
	if u.declared >= 0 && u.received != u.declared {
		u.cancel()
		uploadAnswer(w, http.StatusBadRequest, "final",
			fmt.Sprintf("The upload has %d bytes, not the %d its start declared.", u.received, u.declared))
		return
	}
	u.status = "final"
	info, probeErr := u.prober.Close()
	f := s.store(u, info, probeErr)
	if broken != nil && broken.Finalized {
		s.mu.Lock()
		s.fs.broken = nil
		s.mu.Unlock()
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("X-Goog-Upload-Status", "final")
	writeJSON(w, http.StatusOK, nil, s.fileJSON(f, true))
}

// cancel ends an upload that will not be finished; no file is made.
func (u *uploadSession) cancel() {
	u.status = "cancelled"
	u.prober.Abort()
}

// store makes the file of a finished upload.
func (s *Server) store(u *uploadSession, info media.Info, probeErr error) *storedFile {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fs.sessions, u.id)
	f := &storedFile{
		FileInfo: FileInfo{Name: u.name, MIMEType: u.mimeType, Size: u.received, APIKey: u.key, Probed: info, ProbeErr: probeErr},
		created:  now, failed: probeErr != nil || !sameType(u.mimeType, info.MIMEType),
		sha256: base64.StdEncoding.EncodeToString(u.hash.Sum(nil)),
	}
	if s.fs.processing >= 0 {
		f.ready = now.Add(s.fs.processing)
	}
	if s.fs.files == nil {
		s.fs.files = map[string]*storedFile{}
	}
	s.fs.files[strings.TrimPrefix(u.name, "files/")] = f
	return f
}

// sameType reports whether a declared type names what was sniffed: the
// registered types, and the names Gemini's pages give some of them.
func sameType(declared, sniffed string) bool {
	alias := map[string]string{"audio/mp3": "audio/mpeg", "video/mov": "video/quicktime", "audio/x-wav": "audio/wav",
		"audio/wave": "audio/wav", "audio/x-m4a": "audio/mp4", "audio/m4a": "audio/mp4"}
	if a, ok := alias[declared]; ok {
		declared = a
	}
	return declared == sniffed
}

func (s *Server) fileCall(w http.ResponseWriter, r *http.Request, key, id string) {
	method := map[string]string{http.MethodGet: "files.get", http.MethodDelete: "files.delete"}[r.Method]
	s.record(Recorded{Path: r.URL.Path, Query: r.URL.RawQuery, Version: filesVersion, Method: method,
		APIKey: key, Header: r.Header.Clone(), At: time.Now()})
	if s.keyRefused(w, key) {
		return
	}
	if method == "" {
		writeJSON(w, http.StatusNotFound, nil, errorBody(http.StatusNotFound, "Method not found."))
		return
	}
	s.mu.Lock()
	f := s.fs.files[id]
	ok := f != nil && !f.deleted && f.APIKey == key
	if ok && method == "files.delete" {
		f.deleted = true
	}
	s.mu.Unlock()
	switch {
	case !ok:
		writeJSON(w, http.StatusForbidden, nil, errorBody(http.StatusForbidden, noFileMessage(id)))
	case method == "files.delete":
		writeJSON(w, http.StatusOK, nil, []byte("{}\n"))
	default:
		writeJSON(w, http.StatusOK, nil, s.fileJSON(f, false))
	}
}

func noFileMessage(id string) string {
	return "You do not have permission to access the File " + id + " or it may not exist."
}

// fileJSON is a File resource as the API returns it; wrapped, as the
// upload's final answer has it ({"file": …}).
func (s *Server) fileJSON(f *storedFile, wrapped bool) []byte {
	s.mu.Lock()
	state := f.state(time.Now())
	s.mu.Unlock()
	id := strings.TrimPrefix(f.Name, "files/")
	m := map[string]any{
		"name": f.Name, "mimeType": f.MIMEType, "sizeBytes": strconv.FormatInt(f.Size, 10),
		"createTime": f.created.UTC().Format(time.RFC3339Nano), "updateTime": f.created.UTC().Format(time.RFC3339Nano),
		"expirationTime": f.created.Add(48 * time.Hour).UTC().Format(time.RFC3339Nano),
		"sha256Hash":     f.sha256, "uri": s.URL() + "/" + filesVersion + "/files/" + id, "state": state, "source": "UPLOADED",
	}
	switch {
	case state == "FAILED":
		msg := "The file could not be processed as " + f.MIMEType + "."
		if f.ProbeErr != nil {
			msg += " " + f.ProbeErr.Error()
		}
		m["error"] = map[string]any{"code": 400, "message": msg}
	case state == "ACTIVE" && f.Probed.Kind == media.KindVideo:
		m["videoMetadata"] = map[string]any{"videoDuration": fmt.Sprintf("%.3fs", f.Probed.Duration.Seconds())}
	}
	if wrapped {
		m = map[string]any{"file": m}
	}
	b, _ := json.Marshal(m)
	return b
}

// fileOf resolves a fileData URI for key: the file, or the answer Gemini
// gives for it.
func (s *Server) fileOf(key, uri string) (media.Info, int, string) {
	i := strings.LastIndex(uri, "/files/")
	if i < 0 {
		return media.Info{}, http.StatusForbidden, noFileMessage(uri)
	}
	id := uri[i+len("/files/"):]
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fs.files[id]
	switch {
	case f == nil || f.deleted || f.APIKey != key:
		return media.Info{}, http.StatusForbidden, noFileMessage(id)
	case f.state(time.Now()) != "ACTIVE":
		return media.Info{}, http.StatusBadRequest, "The File " + id + " is not in an ACTIVE state and usage is not allowed."
	}
	return f.Probed, 0, ""
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// resolveFiles checks the fileData parts of a generate call as Gemini
// does, and records what each file is for the token count: a status and
// message to answer instead, or 0.
func (s *Server) resolveFiles(key string, req *Request) (int, string) {
	for _, t := range req.Contents {
		for _, p := range t.Parts {
			if p.FileData == nil {
				continue
			}
			info, status, msg := s.fileOf(key, p.FileData.FileURI)
			if status != 0 {
				return status, msg
			}
			if req.files == nil {
				req.files = map[string]media.Info{}
			}
			req.files[p.FileData.FileURI] = info
		}
	}
	return 0, ""
}

// fileErrorStatus is the status name of the answers about files.
func fileErrorStatus(code int) string {
	if code == http.StatusBadRequest {
		return "FAILED_PRECONDITION"
	}
	return grpcStatus(code)
}
