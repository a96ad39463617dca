package slackemu

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/gif" // DecodeConfig of GIF uploads
	_ "image/jpeg"
	"image/png"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FileSpec describes a file to register with AddFile.
type FileSpec struct {
	ID       string // default: generated, "F..."
	Name     string // default: "<ID>.<filetype>"
	Mimetype string // default: from the name's extension
	Filetype string // default: from the name's extension
	Data     []byte
	// Thumbs maps a thumbnail size (64, 80, 160, 360, 480, 720, 800, 960,
	// 1024) to its bytes. Each becomes thumb_<size> (with _w/_h from 360 up)
	// unless the original is smaller than the size, as Slack only makes
	// thumbnails it can downscale to (64–360 always exist).
	Thumbs map[int][]byte
	// OriginalW/H default to the decoded dimensions of Data, for images.
	OriginalW, OriginalH int
	// Access "check_file_info" makes AddFile return the Slack Connect stub
	// {id, mode, file_access, ...} without URLs; files.info has the full object.
	Access string
	User   string // uploader; default "U1"

	// Size is the size the file object declares; 0 for the length of the
	// bytes served. Another size is a file that changed between the file
	// object a client read and its download.
	Size int64
	// Generated, when above 0, serves that many bytes in place of Data,
	// made as they are sent (GeneratedByte), so that a test can download
	// a large video without the emulator holding it.
	Generated int64

	// Subtype is "slack_audio" or "slack_video" for a clip recorded in
	// Slack; "" for an upload.
	Subtype string
	// DurationMS is a video's or an audio file's duration_ms.
	DurationMS int
	// Transcodes are Slack's copies of a video or audio file, by the
	// field that names them: "mp4", "mp4_low", "aac", "hls", "vtt". Each
	// is served at its own files-tmb URL, to the bot token only, as
	// thumbnails are. As on Slack, url_private is then the mp4 copy of a
	// video and the aac copy of an audio file; url_private_download stays
	// the original.
	Transcodes map[string][]byte
	// Still is what Slack shows of a video (thumb_video, a JPEG) or of a
	// PDF's first page (thumb_pdf, a PNG), by the file's kind, with its
	// _w and _h from the image when it decodes.
	Still []byte
	// Pending names the copies (Transcodes' names, "thumb_video",
	// "thumb_pdf") Slack has not finished: the file object, in AddFile's
	// answer and in files.info, lacks them and their URLs serve nothing
	// until FinishTranscode, as a clip's does while Slack processes it.
	Pending []string
	// Transcript is Slack's transcription of a video or audio file; nil
	// is {"status":"none"}, what Slack says of an upload it did not
	// transcribe.
	Transcript *Transcript
}

// Transcript is a file object's transcription.
type Transcript struct {
	Status  string // "complete", "none", "processing", …
	Locale  string // "en-US"
	Preview string // the start of the text; "" for no preview
	HasMore bool   // the preview is cut
}

// Download is one recorded request for file bytes.
type Download struct {
	Path string
	Auth string // the Authorization header as received
	At   time.Time
}

type storedFile struct {
	spec   FileSpec
	object map[string]any // full object, every copy ready; never modified after AddFile
	// copies are the files-tmb URLs of the file's copies, by name, served
	// once they are ready.
	copies  map[string]copyURL
	pending map[string]bool
	// privateCopy names the copy url_private is, "" for the original.
	privateCopy string
}

// copyURL is one of Slack's copies of a file: the path it is served at
// and what it serves.
type copyURL struct {
	path string
	file *servedFile
}

type servedFile struct {
	data      []byte
	generated int64 // serve this many GeneratedByte bytes in place of data
	mimetype  string
	download  bool
}

// length is the number of bytes f serves.
func (f *servedFile) length() int64 {
	if f.generated > 0 {
		return f.generated
	}
	return int64(len(f.data))
}

// body reads the bytes f serves.
func (f *servedFile) body() io.Reader {
	if f.generated > 0 {
		return &generatedBody{left: f.generated}
	}
	return bytes.NewReader(f.data)
}

// GeneratedByte is byte i of a generated body (FileSpec.Generated): a
// pattern of period 251, which no power of two divides, so that a body
// read out of order or in part does not look whole.
func GeneratedByte(i int64) byte { return byte(i % 251) }

// generatedBody reads a generated body without holding it: it copies
// from a block of whole periods of the pattern, made once per body.
type generatedBody struct {
	at, left int64
	block    []byte
}

func (g *generatedBody) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if g.block == nil {
		g.block = make([]byte, 251*256)
		for i := range g.block {
			g.block[i] = GeneratedByte(int64(i))
		}
	}
	n := 0
	for n < len(p) && g.left > 0 {
		off := g.at % int64(len(g.block))
		end := n + int(min(g.left, int64(len(g.block))-off, int64(len(p)-n)))
		c := copy(p[n:end], g.block[off:])
		n += c
		g.at += int64(c)
		g.left -= int64(c)
	}
	return n, nil
}

var fileTypes = map[string][2]string{ // extension → filetype, mimetype
	"png":  {"png", "image/png"},
	"jpg":  {"jpg", "image/jpeg"},
	"jpeg": {"jpg", "image/jpeg"},
	"gif":  {"gif", "image/gif"},
	"webp": {"webp", "image/webp"},
	"heic": {"heic", "image/heic"},
	"bmp":  {"bmp", "image/bmp"},
	"pdf":  {"pdf", "application/pdf"},
	"txt":  {"text", "text/plain"},
	"mp4":  {"mp4", "video/mp4"},
	"mov":  {"mov", "video/quicktime"},
	"webm": {"webm", "video/webm"},
	"mp3":  {"mp3", "audio/mpeg"},
	"m4a":  {"m4a", "audio/mp4"},
	"wav":  {"wav", "audio/wav"},
	"ogg":  {"ogg", "audio/ogg"},
	"aac":  {"aac", "audio/aac"},
}

// copyName is how the copy a file object's field name names is called
// after the file's base name, and what it serves; ok is false for a field
// that names no copy Slack makes.
func copyName(name string) (suffix, mimetype string, ok bool) {
	switch name {
	case "mp4":
		return ".mp4", "video/mp4", true
	case "mp4_low":
		return "_trans.mp4", "video/mp4", true
	case "aac":
		return "_audio.mp4", "audio/mp4", true
	case "hls":
		return "file.m3u8", "application/vnd.apple.mpegurl", true
	case "vtt":
		return "file.vtt", "text/vtt", true
	case "thumb_video":
		return "_thumb_video.jpeg", "image/jpeg", true
	case "thumb_pdf":
		return "_thumb_pdf.png", "image/png", true
	}
	return "", "", false
}

// AddFile registers a file and returns its Slack file object, as it appears
// in a message's "files" (shaped like message_file_share_png.bolt-python.json),
// with URLs served by this emulator:
//
//	url_private           /files-pri/T1-<ID>/<name>
//	url_private_download  /files-pri/T1-<ID>/download/<name>
//	thumb_<size>          /files-tmb/T1-<ID>-<hash>/<base>_<size>.<ext>
//	mp4, mp4_low, aac     /files-tmb/T1-<ID>-<hash>/<base>.mp4, <base>_trans.mp4, <base>_audio.mp4
//	hls, vtt              /files-tmb/T1-<ID>-<hash>/file.m3u8, file.vtt
//	thumb_video           /files-tmb/T1-<ID>-<hash>/<base>_thumb_video.jpeg
//	thumb_pdf             /files-tmb/T1-<ID>-<hash>/<base>_thumb_pdf.png
//
// A video or audio file also has its media_display_type ("video",
// "audio"; a slack_audio clip is audio whatever its mimetype), its
// duration_ms, and its transcription; docs/media.md says where each shape
// was seen. files.info adds where the file is shared (channels, groups,
// ims, shares): the conversations of the stored messages that carry it.
func (s *Server) AddFile(spec FileSpec) map[string]any {
	spec.Data = bytes.Clone(spec.Data)
	spec.Pending = slices.Clone(spec.Pending)
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(spec.Name), "."))
	if t, ok := fileTypes[ext]; ok {
		if spec.Filetype == "" {
			spec.Filetype = t[0]
		}
		if spec.Mimetype == "" {
			spec.Mimetype = t[1]
		}
	}
	if spec.Filetype == "" {
		spec.Filetype = "binary"
	}
	if spec.Mimetype == "" {
		spec.Mimetype = "application/octet-stream"
	}
	if spec.User == "" {
		spec.User = "U1"
	}
	if spec.OriginalW == 0 && spec.OriginalH == 0 && strings.HasPrefix(spec.Mimetype, "image/") {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(spec.Data)); err == nil {
			spec.OriginalW, spec.OriginalH = cfg.Width, cfg.Height
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.ID == "" {
		spec.ID = fmt.Sprintf("F%010d", s.nextID())
	}
	if spec.Name == "" {
		spec.Name = spec.ID + "." + spec.Filetype
		ext = spec.Filetype
	}
	if ext == "" {
		ext = spec.Filetype
	}
	base := strings.TrimSuffix(spec.Name, path.Ext(spec.Name))
	sum := sha1.Sum([]byte(spec.ID))
	now := time.Now().Unix()

	original := &servedFile{data: spec.Data, generated: spec.Generated, mimetype: spec.Mimetype}
	size := spec.Size
	if size == 0 {
		size = original.length()
	}
	pri := "/files-pri/" + TeamID + "-" + spec.ID + "/"
	obj := map[string]any{
		"id":                   spec.ID,
		"created":              now,
		"timestamp":            now,
		"name":                 spec.Name,
		"title":                spec.Name,
		"mimetype":             spec.Mimetype,
		"filetype":             spec.Filetype,
		"pretty_type":          strings.ToUpper(spec.Filetype),
		"user":                 spec.User,
		"user_team":            TeamID,
		"editable":             false,
		"size":                 size,
		"mode":                 "hosted",
		"is_external":          false,
		"external_type":        "",
		"is_public":            true,
		"public_url_shared":    false,
		"display_as_bot":       false,
		"username":             "",
		"url_private":          s.hs.URL + pri + spec.Name,
		"url_private_download": s.hs.URL + pri + "download/" + spec.Name,
		"media_display_type":   displayType(spec),
		"permalink":            s.hs.URL + "/files/" + spec.User + "/" + spec.ID + "/" + spec.Name,
		"has_rich_preview":     false,
	}
	download := *original
	download.download = true
	s.served[pri+spec.Name] = original
	s.served[pri+"download/"+spec.Name] = &download

	if spec.OriginalW > 0 || spec.OriginalH > 0 {
		obj["original_w"], obj["original_h"] = spec.OriginalW, spec.OriginalH
	}
	longest := max(spec.OriginalW, spec.OriginalH)
	sizes := make([]int, 0, len(spec.Thumbs))
	for size := range spec.Thumbs {
		sizes = append(sizes, size)
	}
	sort.Ints(sizes)
	tmb := fmt.Sprintf("/files-tmb/%s-%s-%s/", TeamID, spec.ID, hex.EncodeToString(sum[:])[:10])
	for _, size := range sizes {
		if size > 360 && longest > 0 && longest < size {
			continue // Slack does not upscale
		}
		data := bytes.Clone(spec.Thumbs[size])
		p := fmt.Sprintf("%s%s_%d.%s", tmb, base, size, ext)
		s.served[p] = &servedFile{data: data, mimetype: spec.Mimetype}
		key := "thumb_" + strconv.Itoa(size)
		obj[key] = s.hs.URL + p
		if size >= 360 {
			w, h := thumbDims(data, size, spec.OriginalW, spec.OriginalH)
			obj[key+"_w"], obj[key+"_h"] = w, h
		}
	}
	stored := &storedFile{spec: spec, object: obj, copies: map[string]copyURL{}, pending: map[string]bool{}}
	s.addCopies(stored, tmb, base)
	s.files[spec.ID] = stored
	return s.fileObject(spec.ID, false)
}

// displayType is the media_display_type Slack gives a file: what its
// player plays.
func displayType(spec FileSpec) string {
	switch {
	case spec.Subtype == "slack_audio" || strings.HasPrefix(spec.Mimetype, "audio/"):
		return "audio"
	case strings.HasPrefix(spec.Mimetype, "video/"):
		return "video"
	}
	return "unknown"
}

// addCopies puts a video's, an audio file's or a PDF's own fields into
// f's object: duration, transcription, and the copies, served at their
// files-tmb paths under tmb unless pending. The caller holds s.mu.
func (s *Server) addCopies(f *storedFile, tmb, base string) {
	spec, obj := f.spec, f.object
	kind := displayType(spec)
	if spec.Subtype != "" {
		obj["subtype"] = spec.Subtype
	}
	if kind == "audio" || kind == "video" {
		if spec.DurationMS > 0 {
			obj["duration_ms"] = spec.DurationMS
		}
		obj["transcription"] = transcription(spec.Transcript)
	}
	copies := map[string][]byte{}
	maps.Copy(copies, spec.Transcodes)
	if spec.Still != nil {
		switch {
		case kind == "video":
			copies["thumb_video"] = spec.Still
		case spec.Mimetype == "application/pdf":
			copies["thumb_pdf"] = spec.Still
		}
	}
	for name, data := range copies {
		suffix, mimetype, ok := copyName(name)
		if !ok {
			continue // not a copy Slack makes
		}
		p := tmb + suffix
		if !strings.HasPrefix(suffix, "file.") {
			p = tmb + base + suffix
		}
		f.copies[name] = copyURL{path: p, file: &servedFile{data: bytes.Clone(data), mimetype: mimetype}}
		obj[name] = s.hs.URL + p
		if strings.HasPrefix(name, "thumb_") {
			w, h := 0, 0
			if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
				w, h = cfg.Width, cfg.Height
			}
			obj[name+"_w"], obj[name+"_h"] = w, h
		}
	}
	// A video's url_private is its mp4 copy, an audio file's its aac copy.
	for _, name := range []string{"mp4", "aac"} {
		if _, ok := f.copies[name]; ok && f.privateCopy == "" {
			f.privateCopy = name
			obj["url_private"] = obj[name]
		}
	}
	for _, name := range spec.Pending {
		f.pending[name] = true
	}
	for name, c := range f.copies {
		if !f.pending[name] {
			s.served[c.path] = c.file
		}
	}
}

// transcription is a file object's transcription field.
func transcription(t *Transcript) map[string]any {
	if t == nil {
		return map[string]any{"status": "none"}
	}
	out := map[string]any{"status": t.Status}
	if t.Locale != "" {
		out["locale"] = t.Locale
	}
	if t.Preview != "" {
		out["preview"] = map[string]any{"content": t.Preview, "has_more": t.HasMore}
	}
	return out
}

// FinishTranscode makes the copy name of file id ready, as Slack does
// when it has processed a clip: the file object (files.info) has it from
// now on, and its URL serves it. Events sent before keep the object they
// carried.
func (s *Server) FinishTranscode(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	if f == nil {
		return fmt.Errorf("slackemu: no file %s", id)
	}
	c, ok := f.copies[name]
	if !ok || !f.pending[name] {
		return fmt.Errorf("slackemu: file %s has no pending copy %q", id, name)
	}
	delete(f.pending, name)
	s.served[c.path] = c.file
	s.notify()
	return nil
}

// thumbDims are the thumbnail's own dimensions when it decodes, else the
// original scaled to fit size×size.
func thumbDims(data []byte, size, ow, oh int) (int, int) {
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil {
		return cfg.Width, cfg.Height
	}
	longest := max(ow, oh)
	if longest == 0 {
		return size, size
	}
	if longest <= size {
		return ow, oh
	}
	return ow * size / longest, oh * size / longest
}

// fileObject returns a fresh copy of the file object (the stub for
// check_file_info files unless full); the caller holds s.mu.
func (s *Server) fileObject(id string, full bool) map[string]any {
	f := s.files[id]
	if f.spec.Access == "check_file_info" && !full {
		return map[string]any{
			"id": id, "mode": "file_access", "file_access": "check_file_info",
			"created": 0, "timestamp": 0, "user": "",
		}
	}
	obj := cloneFields(f.object)
	if f.spec.Access == "check_file_info" {
		obj["file_access"] = "visible"
	}
	for name := range f.pending {
		delete(obj, name)
		delete(obj, name+"_w")
		delete(obj, name+"_h")
		if name == f.privateCopy {
			obj["url_private"] = s.hs.URL + "/files-pri/" + TeamID + "-" + id + "/" + f.spec.Name
		}
	}
	return obj
}

func (s *Server) fileInfo(r *apiReq) any {
	id := r.param("file")
	if s.files[id] == nil {
		return apiErr("file_not_found")
	}
	obj := s.fileObject(id, true)
	obj["channels"], obj["groups"], obj["ims"], obj["shares"] = s.sharesOf(id)
	return okResp("file", obj, "comments", []any{},
		"response_metadata", map[string]any{"next_cursor": ""})
}

// sharesOf is where files.info says file id is shared, as Slack's file
// object lists it: the conversations whose messages carry the file, by
// kind (channels: public channels; groups: private ones, "G…"; ims: DMs,
// "D…"), and under shares, public or private, keyed by conversation, each
// message that shares it (ts, and thread_ts for a reply in a thread).
// A message deleted takes its share with it. The caller holds s.mu.
func (s *Server) sharesOf(id string) (channels, groups, ims []string, shares map[string]any) {
	channels, groups, ims = []string{}, []string{}, []string{}
	public, private := map[string]any{}, map[string]any{}
	ids := make([]string, 0, len(s.msgs))
	for channel := range s.msgs {
		ids = append(ids, channel)
	}
	sort.Strings(ids)
	for _, channel := range ids {
		var found []any
		for _, m := range s.msgs[channel] {
			if !carriesFile(m, id) {
				continue
			}
			share := map[string]any{"ts": m.ts, "channel_name": strings.ToLower(channel), "team_id": TeamID}
			if m.isReply() {
				share["thread_ts"] = m.threadTS()
			}
			found = append(found, share)
		}
		if len(found) == 0 {
			continue
		}
		switch {
		case strings.HasPrefix(channel, "D"):
			ims = append(ims, channel)
			private[channel] = found
		case strings.HasPrefix(channel, "G"):
			groups = append(groups, channel)
			private[channel] = found
		default:
			channels = append(channels, channel)
			public[channel] = found
		}
	}
	shares = map[string]any{}
	if len(public) > 0 {
		shares["public"] = public
	}
	if len(private) > 0 {
		shares["private"] = private
	}
	return channels, groups, ims, shares
}

// carriesFile reports whether m's files include the file id.
func carriesFile(m *message, id string) bool {
	files, _ := m.fields["files"].([]any)
	for _, f := range files {
		if obj, ok := f.(map[string]any); ok && obj["id"] == id {
			return true
		}
	}
	return false
}

// signInPage is the start of what files.slack.com serves to a request
// without a usable token.
const signInPage = `<!DOCTYPE html>
<html lang="en-US" class="supports_custom_scrollbar">
<head><meta charset="utf-8"><title>Slack</title></head>
<body class="index"><h1>Sign in to ` + TeamName + `</h1>
<form id="signin_form" action="/" method="post"><input type="email" name="email"><input type="password" name="password"><button type="submit">Sign In</button></form>
</body>
</html>
`

func writeSignIn(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, signInPage)
}

// handleDownload serves file bytes only to the bot token with files:read;
// anything else gets the sign-in page, which is what makes a bot that does
// not check Content-Type feed HTML to its image model.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	s.downloads = append(s.downloads, Download{Path: r.URL.Path, Auth: auth, At: time.Now()})
	s.notify()
	s.mu.Unlock()

	s.sleepLatency(r.Context())

	s.mu.Lock()
	tok, bearer := strings.CutPrefix(auth, "Bearer ")
	allowed := bearer && s.botTokenError(tok) == "" && !s.denyFiles && s.hasScope("files:read")
	file := s.served[r.URL.Path]
	redirect := s.signInRedirect
	bandwidth := s.bandwidth
	s.mu.Unlock()

	switch {
	case !allowed && redirect:
		http.Redirect(w, r, "/?redir="+r.URL.EscapedPath(), http.StatusFound)
	case !allowed:
		writeSignIn(w)
	case file == nil:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html><body>File not found</body></html>\n")
	default:
		w.Header().Set("Content-Type", file.mimetype)
		w.Header().Set("Content-Length", strconv.FormatInt(file.length(), 10))
		if file.download {
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", path.Base(r.URL.Path)))
		}
		w.WriteHeader(http.StatusOK)
		s.writePaced(r.Context(), w, file.body(), bandwidth)
	}
}

// writePaced writes body at about bytesPerSecond, in chunks of a tenth of
// a second, or as fast as it goes when bytesPerSecond is 0.
func (s *Server) writePaced(ctx context.Context, w http.ResponseWriter, body io.Reader, bytesPerSecond int) {
	if bytesPerSecond <= 0 {
		_, _ = io.Copy(w, body)
		return
	}
	buf := make([]byte, max(bytesPerSecond/10, 1))
	start := time.Now()
	for sent := 0; ; {
		n, end := io.ReadFull(body, buf)
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
		sent += n
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if end != nil {
			return // the body is all written
		}
		due := start.Add(time.Duration(float64(sent) / float64(bytesPerSecond) * float64(time.Second)))
		select {
		case <-time.After(time.Until(due)):
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

// Downloads returns every request for file bytes, in order.
func (s *Server) Downloads() []Download {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Download(nil), s.downloads...)
}

// Response is a recorded POST to a response_url.
type Response struct {
	Path string
	Body map[string]any // the JSON body; {"_raw": text} when it is not JSON
	At   time.Time
}

// ResponseURL issues a new response_url, URL()+"response/<n>".
func (s *Server) ResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responseN++
	return s.URL() + "response/" + strconv.Itoa(s.responseN)
}

func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	var m map[string]any
	if jsonUnmarshalObject(body, &m) != nil {
		m = map[string]any{"_raw": string(body)}
	}
	s.mu.Lock()
	s.responses = append(s.responses, Response{Path: r.URL.Path, Body: m, At: time.Now()})
	s.notify()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, okResp())
}

// Responses returns every POST to a response_url, in order.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Response(nil), s.responses...)
}

// WaitResponses waits until at least n response_url POSTs were recorded.
func (s *Server) WaitResponses(n int, timeout time.Duration) ([]Response, error) {
	var got []Response
	if !s.waitFor(timeout, func() bool { got = append([]Response(nil), s.responses...); return len(got) >= n }) {
		return got, errTimeout(fmt.Sprintf("%d response_url posts (got %d)", n, len(got)), timeout)
	}
	return got, nil
}

// Foreign is a plain HTTP host that is not Slack: it serves a small PNG on
// every path and records each request's Authorization header, to prove the
// bot never sends its token outside Slack.
type Foreign struct {
	hs       *httptest.Server
	mu       sync.Mutex
	requests []Download
}

// NewForeign starts a foreign host on 127.0.0.1.
func NewForeign() *Foreign {
	f := &Foreign{}
	img := MakePNG(8, 8)
	f.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, Download{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), At: time.Now()})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(img)
	}))
	return f
}

// URL is the foreign host's base URL, "http://127.0.0.1:PORT/".
func (f *Foreign) URL() string { return f.hs.URL + "/" }

// Requests returns every request received, in order.
func (f *Foreign) Requests() []Download {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Download(nil), f.requests...)
}

// Close stops the foreign host.
func (f *Foreign) Close() { f.hs.Close() }

// MakePNG returns a w×h PNG, for file data and thumbnails of known size.
func MakePNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	// A gradient, written straight into Pix: img.Set is slow under -race.
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			px := row[4*x : 4*x+4]
			px[0], px[1], px[2], px[3] = uint8(x*255/max(w, 1)), uint8(y*255/max(h, 1)), 128, 255
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}
