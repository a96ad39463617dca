package gemini_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/visionbot/visionbot/gemini"
	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/media"
	"github.com/visionbot/visionbot/internal/vision"
)

func mediaFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "internal", "media", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fastFiles makes the wait for a file's processing poll every
// millisecond or so.
func fastFiles(cfg *gemini.Config) { cfg.FilePoll = time.Millisecond }

func methods(emu *geminiemu.Server, method string) []geminiemu.Recorded {
	var out []geminiemu.Recorded
	for _, r := range emu.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// TestUploadAskDelete: a 3-second MP4 is uploaded with the real genai
// client, waited for until Gemini has processed it, asked about, and
// deleted; nothing is left behind, and the request that names it says
// store: false like every other.
func TestUploadAskDelete(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	emu.SetFileProcessing(30 * time.Millisecond)
	c := newClient(t, emu, fastFiles)
	video := mediaFixture(t, "video_moov_end.mp4")

	f, err := c.Upload(context.Background(), bytes.NewReader(video), "video/mp4", int64(len(video)))
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if !strings.HasPrefix(f.Name, "files/visionbot-") || !strings.HasSuffix(f.URI, "/"+strings.TrimPrefix(f.Name, "files/")) || f.MIMEType != "video/mp4" {
		t.Errorf("Upload = %+v", f)
	}
	if polls := len(methods(emu, "files.get")); polls == 0 {
		t.Error("the upload was used before Gemini said it was ACTIVE")
	}
	start := methods(emu, "files.upload.start")
	if len(start) != 1 || start[0].Path != "/upload/v1beta/files" || start[0].Header.Get("X-Goog-Upload-Header-Content-Length") != "11047" ||
		bytes.Contains(start[0].Body, []byte("displayName")) {
		t.Errorf("the upload's start = %+v %s: want upload/v1beta, the length, and no name of the person's file", start, start[0].Body)
	}

	req := vision.Request{
		MediaResolution: vision.MediaResolutionLow, MaxOutputTokens: 200,
		Turns: []vision.Turn{{Role: vision.RoleUser, Text: "What happens?", Files: []vision.File{f}}},
	}
	usage, err := c.Stream(context.Background(), req, nil)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	sent := methods(emu, "streamGenerateContent")
	var body struct {
		Contents []struct {
			Parts []map[string]json.RawMessage `json:"parts"`
		} `json:"contents"`
		Store            *bool `json:"store"`
		GenerationConfig struct {
			MediaResolution string `json:"mediaResolution"`
		} `json:"generationConfig"`
	}
	if err := json.Unmarshal(sent[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	parts := body.Contents[0].Parts
	var fileData struct{ FileURI, MIMEType string }
	if len(parts) != 2 || json.Unmarshal(parts[0]["fileData"], &fileData) != nil || fileData.FileURI != f.URI || fileData.MIMEType != "video/mp4" {
		t.Errorf("parts = %s, want the file's fileData, then the text", sent[0].Body)
	}
	if body.Store == nil || *body.Store || body.GenerationConfig.MediaResolution != "MEDIA_RESOLUTION_LOW" {
		t.Errorf("store = %v, mediaResolution %q: want false and the use case's level", body.Store, body.GenerationConfig.MediaResolution)
	}
	// The estimate before the call is what Gemini (the emulator's model of
	// its documented rates) counted, less the question's 4 tokens.
	if est := gemini.VideoTokens(c.Model(), 3*time.Second, true, vision.MediaResolutionLow, 0); usage.InputTokens != est+4 {
		t.Errorf("input tokens %d, estimate %d + 4 for the text", usage.InputTokens, est)
	}

	if err := c.Delete(context.Background(), f); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n := emu.LiveFiles(); n != 0 {
		t.Errorf("%d files left behind", n)
	}
	if err := c.Delete(context.Background(), f); err != nil {
		t.Errorf("deleting a file gone already: %v", err)
	}
	// A file that is gone is the file's fault, not the key's: the next
	// request still goes to Gemini.
	_, err = c.Stream(context.Background(), req, nil)
	if failure.KindOf(err) != failure.FileUnavailable {
		t.Errorf("Stream with a deleted file = %v (kind %v), want file_unavailable", err, failure.KindOf(err))
	}
	if _, err := c.Stream(context.Background(), photoRequest(), nil); err != nil {
		t.Errorf("the next request: %v (the 403 of a file gone tripped the key's breaker?)", err)
	}
}

// An upload that fails halfway leaves no file: a connection dropped in
// the middle, a 5xx, and the last answer lost after Google made the file
// (which only a name chosen beforehand can delete).
func TestUploadFailsHalfway(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    geminiemu.UploadBreak
	}{
		{"connection dropped", geminiemu.UploadBreak{AtOffset: 9 << 20}},
		{"503", geminiemu.UploadBreak{AtOffset: 9 << 20, Status: 503}},
		{"the last answer lost", geminiemu.UploadBreak{Finalized: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			emu := geminiemu.New()
			defer emu.Close()
			c := newClient(t, emu, fastFiles)
			emu.BreakUpload(tt.b)
			_, err := c.Upload(context.Background(), syntheticMP4(t, 12<<20), "video/mp4", 12<<20)
			if failure.KindOf(err) != failure.Unavailable {
				t.Errorf("Upload = %v (kind %v), want unavailable", err, failure.KindOf(err))
			}
			if n := emu.LiveFiles(); n != 0 {
				t.Errorf("%d files left behind", n)
			}
			if len(methods(emu, "files.delete")) != 1 {
				t.Error("no deletion of what the upload may have made")
			}
		})
	}
}

// A file that stays PROCESSING hits the bounded wait, with its own error,
// and is deleted; one that FAILED is refused as such, and deleted too.
func TestUploadNotProcessed(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, func(cfg *gemini.Config) {
		fastFiles(cfg)
		cfg.FileWait = 40 * time.Millisecond
	})
	emu.SetFileProcessing(-1)
	wav := mediaFixture(t, "audio.wav")
	_, err := c.Upload(context.Background(), bytes.NewReader(wav), "audio/wav", 0)
	if failure.KindOf(err) != failure.Timeout || !errors.Is(err, gemini.ErrFileNotActive) || !strings.Contains(failure.DetailOf(err), "40ms") {
		t.Errorf("Upload of a file never processed = %v (kind %v), want a timeout with ErrFileNotActive", err, failure.KindOf(err))
	}
	if emu.LiveFiles() != 0 {
		t.Error("the file still processing was left behind")
	}

	emu.SetFileProcessing(0)
	_, err = c.Upload(context.Background(), strings.NewReader("plain text, declared as a video"), "video/mp4", 0)
	if failure.KindOf(err) != failure.ImageRejected || !errors.Is(err, gemini.ErrFileFailed) {
		t.Errorf("Upload of bytes that are no MP4 = %v (kind %v), want ErrFileFailed", err, failure.KindOf(err))
	}
	if emu.LiveFiles() != 0 {
		t.Error("the FAILED file was left behind")
	}

	// The caller giving up ends the wait, and the file goes too.
	emu.SetFileProcessing(-1)
	ctx, cancel := context.WithCancel(context.Background())
	c2 := newClient(t, emu, fastFiles)
	sent := len(emu.Requests())
	go func() {
		// After the upload's start, its chunk and a first look; the test's
		// own bound else.
		_, _ = emu.WaitRequests(sent+3, 5*time.Second)
		cancel()
	}()
	_, err = c2.Upload(ctx, bytes.NewReader(wav), "audio/wav", 0)
	cancel()
	if !errors.Is(err, context.Canceled) || emu.LiveFiles() != 0 {
		t.Errorf("Upload cancelled = %v, %d files left", err, emu.LiveFiles())
	}
}

func TestUploadRefusedBeforeSending(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	v := vertexClient(t, emu, nil)
	_, err := v.Upload(context.Background(), strings.NewReader("x"), "video/mp4", 1)
	if failure.KindOf(err) != failure.RequestTooLarge || !errors.Is(err, gemini.ErrNoFilesAPI) || !strings.Contains(failure.DetailOf(err), "20 MB") {
		t.Errorf("Upload on Vertex AI = %v (kind %v, detail %q)", err, failure.KindOf(err), failure.DetailOf(err))
	}
	if v.CanUpload() || !newClient(t, emu, nil).CanUpload() {
		t.Error("CanUpload says otherwise")
	}
	_, err = newClient(t, emu, nil).Upload(context.Background(), strings.NewReader("x"), "video/mp4", gemini.FileUploadLimit+1)
	if failure.KindOf(err) != failure.TooLarge || !strings.Contains(failure.DetailOf(err), "2 GB") {
		t.Errorf("Upload over 2 GB = %v", err)
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("%d requests went out", n)
	}
}

// syntheticMP4 is an MP4 of size bytes: the fixture's ftyp and moov, then
// an mdat of zeros made as it is read.
func syntheticMP4(t testing.TB, size int64) io.Reader {
	data := mediaFixture(t, "video_faststart.mp4")
	head := data[:32+binary.BigEndian.Uint32(data[32:])] // ftyp (32 bytes), moov
	body := size - int64(len(head)) - 16
	mdat := binary.BigEndian.AppendUint32(nil, 1)
	mdat = append(mdat, "mdat"...)
	mdat = binary.BigEndian.AppendUint64(mdat, uint64(16+body))
	return io.MultiReader(bytes.NewReader(head), bytes.NewReader(mdat), io.LimitReader(zeros{}, body))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestUploadMemory uploads 50 MB and counts every byte allocated meanwhile,
// by the adapter, genai and the emulator together (one process): genai's
// 8 MB chunk buffer, the emulator's probe buffer and the HTTP plumbing
// make a few MB. A file held whole anywhere (read into memory, copied,
// base64-encoded) would be 50 MB at least; 20 MB is twice what was
// measured, for the allocations the race detector and the runtime add.
func TestUploadMemory(t *testing.T) {
	const size = 50 << 20
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, fastFiles)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := c.Upload(context.Background(), syntheticMP4(t, size), "video/mp4", size)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	grown := after.TotalAlloc - before.TotalAlloc
	t.Logf("uploading %d MB allocated %.1f MB", size>>20, float64(grown)/(1<<20))
	if grown > 20<<20 {
		t.Errorf("uploading %d MB allocated %d MB: the file was held", size>>20, grown>>20)
	}
	if files := emu.Files(); len(files) != 1 || files[0].Size != size || files[0].Probed.Duration != 3*time.Second {
		t.Errorf("the emulator got %+v", files)
	}
	_ = c.Delete(context.Background(), f)
}

// BenchmarkUpload50MB: bytes allocated per 50 MB upload (-benchmem), the
// emulator's share included.
func BenchmarkUpload50MB(b *testing.B) {
	const size = 50 << 20
	emu := geminiemu.New()
	defer emu.Close()
	cfg := gemini.DefaultConfig()
	cfg.APIKey, cfg.BaseURL, cfg.FilePoll = testKey, emu.URL(), time.Millisecond
	c, err := gemini.New(context.Background(), cfg, gemini.Deps{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		f, err := c.Upload(context.Background(), syntheticMP4(b, size), "video/mp4", size)
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Delete(context.Background(), f)
	}
}

// TestTokenEstimates: the documented rates, and the emulator's model of
// Gemini's accounting (written apart from these) agreeing with them.
func TestTokenEstimates(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  int
		want int
	}{
		// "approximately 300 tokens per second … at default media
		// resolution, or 100 tokens per second at low" (Gemini 2.x).
		{"a minute of video on 2.5", gemini.VideoTokens("gemini-2.5-flash", time.Minute, true, "", 0), 60 * (258 + 32 + 7)},
		{"a minute at low", gemini.VideoTokens("gemini-2.5-flash", time.Minute, true, vision.MediaResolutionLow, 0), 60 * (66 + 32 + 7)},
		{"no sound track", gemini.VideoTokens("gemini-2.5-flash", time.Minute, false, "", 0), 60 * (258 + 7)},
		{"2 frames a second", gemini.VideoTokens("gemini-2.5-flash", 10*time.Second, true, "", 2), 20*258 + 10*(32+7)},
		{"Gemini 3", gemini.VideoTokens("gemini-3-flash-preview", time.Minute, true, "", 0), 60 * (70 + 32 + 7)},
		{"Gemini 3 at high", gemini.VideoTokens("gemini-3-flash-preview", time.Minute, true, vision.MediaResolutionHigh, 0), 60 * (280 + 32 + 7)},
		{"an alias is Gemini 3", gemini.VideoTokens("gemini-flash-latest", time.Second, false, "", 0), 70 + 7},
		{"part of a second counts whole", gemini.VideoTokens("gemini-2.5-flash", 1500*time.Millisecond, false, "", 0), 2 * (258 + 7)},
		{"a minute of audio", gemini.AudioTokens(time.Minute), 1920},
		{"pages on 2.5", gemini.PDFTokens("gemini-2.5-flash", 10, ""), 2580},
		{"pages on 3", gemini.PDFTokens("gemini-3-flash-preview", 10, ""), 5600},
		{"pages on 3 at low", gemini.PDFTokens("gemini-3-flash-preview", 10, vision.MediaResolutionLow), 2800},
		{"at most 1000 pages", gemini.PDFTokens("gemini-2.5-flash", 5000, ""), 1000 * 258},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: %d tokens, want %d", tt.name, tt.got, tt.want)
		}
	}
	levels := map[vision.MediaResolution]string{"": "", vision.MediaResolutionLow: "MEDIA_RESOLUTION_LOW", vision.MediaResolutionHigh: "MEDIA_RESOLUTION_HIGH"}
	for _, model := range []string{"gemini-2.5-flash", "gemini-3-flash-preview", "gemini-flash-latest"} {
		for level, wire := range levels {
			video := media.Info{Type: media.Type{Kind: media.KindVideo}, Duration: 93 * time.Second, Audio: true}
			pdf := media.Info{Type: media.Type{Kind: media.KindDocument}, Pages: 17}
			audio := media.Info{Type: media.Type{Kind: media.KindAudio}, Duration: 61 * time.Second}
			if a, b := gemini.VideoTokens(model, video.Duration, true, level, 0), geminiemu.MediaTokens(model, video, wire); a != b {
				t.Errorf("%s %q video: estimate %d, emulator %d", model, level, a, b)
			}
			if a, b := gemini.PDFTokens(model, pdf.Pages, level), geminiemu.MediaTokens(model, pdf, wire); a != b {
				t.Errorf("%s %q PDF: estimate %d, emulator %d", model, level, a, b)
			}
			if a, b := gemini.AudioTokens(audio.Duration), geminiemu.MediaTokens(model, audio, wire); a != b {
				t.Errorf("%s %q audio: estimate %d, emulator %d", model, level, a, b)
			}
		}
	}
}

// The default of GEMINI_FILE_WAIT is written twice, in DefaultConfig and
// in the tag configuration parses: they must say the same.
func TestFileWaitDefault(t *testing.T) {
	field, _ := reflect.TypeOf(gemini.Config{}).FieldByName("FileWait")
	tag, err := time.ParseDuration(field.Tag.Get("envDefault"))
	if err != nil || tag != gemini.DefaultConfig().FileWait || field.Tag.Get("env") != "GEMINI_FILE_WAIT" {
		t.Errorf("envDefault %q (%v), DefaultConfig %v", field.Tag.Get("envDefault"), err, gemini.DefaultConfig().FileWait)
	}
}

func TestDocumented(t *testing.T) {
	for mime, want := range map[string]bool{
		"video/mp4": true, "video/quicktime": true, "video/webm": true, "audio/mpeg": true, "audio/ogg": true,
		"audio/wav": true, "audio/flac": true, "audio/aac": true, "application/pdf": true,
		"audio/mp4": false, "audio/webm": false, "image/gif": false, "text/html": false,
	} {
		if gemini.Documented(mime) != want {
			t.Errorf("Documented(%s) = %v", mime, !want)
		}
	}
}
