package geminiemu_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/visionbot/visionbot/internal/geminiemu"
	"github.com/visionbot/visionbot/internal/media"
)

func mediaFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "media", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func upload(t *testing.T, c *genai.Client, data []byte, mime, name string) (*genai.File, error) {
	t.Helper()
	return c.Files.Upload(context.Background(), bytes.NewReader(data), &genai.UploadFileConfig{MIMEType: mime, Name: name})
}

// TestFilesLifecycle uploads a 3-second MP4 with the real genai client,
// reads it back, asks about it, and deletes it: each step answered as the
// Files API answers it.
func TestFilesLifecycle(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "key-a")
	video := mediaFixture(t, "video_moov_end.mp4")

	f, err := upload(t, c, video, "video/mp4", "files/clip-1")
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if f.Name != "files/clip-1" || f.State != genai.FileStateActive || f.SizeBytes == nil || *f.SizeBytes != int64(len(video)) ||
		f.MIMEType != "video/mp4" || !strings.HasSuffix(f.URI, "/v1beta/files/clip-1") || f.Sha256Hash == "" {
		t.Errorf("uploaded file = %+v", f)
	}
	if got, err := c.Files.Get(context.Background(), f.Name, nil); err != nil || got.State != genai.FileStateActive || got.VideoMetadata["videoDuration"] != "3.000s" {
		t.Errorf("Get = %+v, %v", got, err)
	}
	if n := emu.LiveFiles(); n != 1 {
		t.Errorf("LiveFiles = %d, want 1", n)
	}
	commands := []string{}
	for _, r := range emu.Requests() {
		if r.Method == "files.upload" {
			commands = append(commands, r.Header.Get("X-Goog-Upload-Command")+"@"+r.Header.Get("X-Goog-Upload-Offset"))
		}
	}
	if strings.Join(commands, " ") != "upload, finalize@0" {
		t.Errorf("chunks = %q, want one upload, finalize at offset 0", commands)
	}

	contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{genai.NewPartFromURI(f.URI, f.MIMEType), genai.NewPartFromText("What happens?")}, genai.RoleUser)}
	resp, err := c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, nil)
	if err != nil {
		t.Fatalf("GenerateContent with the file: %v", err)
	}
	// 3 s of video with sound on Gemini 2.5: 3 × (258 + 7 + 32), and the
	// question's 4 tokens.
	if got, want := resp.UsageMetadata.PromptTokenCount, int32(3*(258+7+32)+4); got != want {
		t.Errorf("promptTokenCount = %d, want %d", got, want)
	}

	if _, err := c.Files.Delete(context.Background(), f.Name, nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n := emu.LiveFiles(); n != 0 {
		t.Errorf("LiveFiles after Delete = %d", n)
	}
	_, err = c.Files.Get(context.Background(), f.Name, nil)
	if e := apiError(t, err); e.Code != 403 || e.Status != "PERMISSION_DENIED" || !strings.Contains(e.Message, "may not exist") {
		t.Errorf("Get after Delete = %v, want the 403 for a file that is gone", e)
	}
	_, err = c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, nil)
	if e := apiError(t, err); e.Code != 403 {
		t.Errorf("GenerateContent with a deleted file = %v, want 403", e)
	}
}

// A file is its uploader's key's: another key gets the 403 for a file
// that does not exist, and can't delete it.
func TestFilesBelongToTheirKey(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	owner, other := newClient(t, emu, "key-a"), newClient(t, emu, "key-b")
	f, err := upload(t, owner, mediaFixture(t, "audio.mp3"), "audio/mp3", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Name, "files/") || len(f.Name) <= len("files/") {
		t.Errorf("a generated name = %q", f.Name)
	}
	_, err = other.Files.Get(context.Background(), f.Name, nil)
	if e := apiError(t, err); e.Code != 403 {
		t.Errorf("Get with another key = %v", e)
	}
	_, err = other.Files.Delete(context.Background(), f.Name, nil)
	if e := apiError(t, err); e.Code != 403 || emu.LiveFiles() != 1 {
		t.Errorf("Delete with another key = %v, %d live", e, emu.LiveFiles())
	}
	contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{genai.NewPartFromURI(f.URI, "audio/mp3")}, genai.RoleUser)}
	_, err = other.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, nil)
	if e := apiError(t, err); e.Code != 403 {
		t.Errorf("GenerateContent with another key's file = %v", e)
	}
	resp, err := owner.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, nil)
	// 2.088 s of audio: 3 seconds of 32 tokens.
	if err != nil || resp.UsageMetadata.PromptTokenCount != 3*32 {
		t.Errorf("the owner's GenerateContent = %v, %v", resp, err)
	}
}

func TestFileStates(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k")

	emu.SetFileProcessing(-1)
	f, err := upload(t, c, mediaFixture(t, "video.webm"), "video/webm", "files/slow")
	if err != nil || f.State != genai.FileStateProcessing {
		t.Fatalf("Upload = %+v, %v; want PROCESSING", f, err)
	}
	contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{genai.NewPartFromURI(f.URI, f.MIMEType)}, genai.RoleUser)}
	_, err = c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, nil)
	if e := apiError(t, err); e.Code != 400 || e.Status != "FAILED_PRECONDITION" || !strings.Contains(e.Message, "ACTIVE") {
		t.Errorf("GenerateContent with a processing file = %v", e)
	}

	// Bytes that are not what they were declared as fail processing.
	emu.SetFileProcessing(0)
	f, err = upload(t, c, []byte("this is not a video at all, only some text"), "video/mp4", "files/fake")
	if err != nil || f.State != genai.FileStateFailed || f.Error == nil || f.Error.Message == "" {
		t.Fatalf("Upload of text as video/mp4 = %+v, %v; want FAILED with its error", f, err)
	}
	f, err = upload(t, c, mediaFixture(t, "video_truncated.mp4"), "video/mp4", "files/cut")
	if err != nil || f.State != genai.FileStateFailed {
		t.Errorf("Upload of a cut MP4 = %+v, %v; want FAILED", f, err)
	}
	// Gemini's own names for a type are the type.
	if f, err = upload(t, c, mediaFixture(t, "video_silent.mov"), "video/mov", "files/mov"); err != nil || f.State != genai.FileStateActive {
		t.Errorf("Upload of a MOV as video/mov = %+v, %v", f, err)
	}
	if _, err := upload(t, c, mediaFixture(t, "audio.wav"), "audio/wav", "files/mov"); err == nil {
		t.Error("a second upload under a name in use succeeded")
	}
	if _, err := upload(t, c, mediaFixture(t, "audio.wav"), "audio/wav", "files/Not_Valid"); err == nil {
		t.Error("an upload under an invalid name succeeded")
	}
}

// rawStart starts an upload by hand and returns its URL.
func rawStart(t *testing.T, emu *geminiemu.Server, length string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, emu.URL()+"/upload/v1beta/files", strings.NewReader(`{"file":{}}`))
	req.Header.Set("X-Goog-Upload-Protocol", "resumable")
	req.Header.Set("X-Goog-Upload-Command", "start")
	req.Header.Set("X-Goog-Upload-Header-Content-Type", "audio/wav")
	if length != "" {
		req.Header.Set("X-Goog-Upload-Header-Content-Length", length)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Goog-Upload-Status") != "active" || resp.Header.Get("X-Goog-Upload-URL") == "" {
		t.Fatalf("start = %d %v", resp.StatusCode, resp.Header)
	}
	return resp.Header.Get("X-Goog-Upload-URL")
}

func rawChunk(t *testing.T, url, command string, offset int, data []byte) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(data))
	req.Header.Set("X-Goog-Upload-Command", command)
	req.Header.Set("X-Goog-Upload-Offset", strconv.Itoa(offset))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Goog-Upload-Status"), string(body)
}

// The offsets are checked as the service checks them: a chunk starts
// where the bytes received end, and the total is what the start declared.
func TestUploadProtocol(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	wav := mediaFixture(t, "audio.wav")

	url := rawStart(t, emu, "")
	if code, status, _ := rawChunk(t, url, "upload", 0, wav[:1000]); code != 200 || status != "active" {
		t.Fatalf("first chunk = %d %s", code, status)
	}
	code, status, body := rawChunk(t, url, "upload", 500, wav[500:2000])
	if code != 400 || status != "active" || !strings.Contains(body, "1000") {
		t.Errorf("a chunk at the wrong offset = %d %s %q, want 400 naming the 1000 bytes held", code, status, body)
	}
	if code, status, _ := rawChunk(t, url, "upload, finalize", 1000, wav[1000:]); code != 200 || status != "final" {
		t.Errorf("the last chunk = %d %s", code, status)
	}
	files := emu.Files()
	if len(files) != 1 || files[0].Size != int64(len(wav)) || files[0].State != "ACTIVE" || files[0].Probed.Duration != time.Second {
		t.Errorf("files = %+v", files)
	}

	url = rawStart(t, emu, strconv.Itoa(len(wav)))
	if code, status, _ := rawChunk(t, url, "upload, finalize", 0, wav[:100]); code != 400 || status != "final" {
		t.Errorf("a finalize short of the declared length = %d %s", code, status)
	}
	if emu.LiveFiles() != 1 {
		t.Errorf("LiveFiles = %d: the short upload made a file", emu.LiveFiles())
	}
	// An upload left unfinished is ended at Close (goleak checks it).
	url = rawStart(t, emu, "")
	rawChunk(t, url, "upload", 0, wav[:100])
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
	return io.MultiReader(bytes.NewReader(head), bytes.NewReader(mdat), io.LimitReader(zeroReader{}, body))
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// A file larger than genai's 8 MB chunks goes in several, at the right
// offsets, and is probed whole without being kept.
func TestUploadInChunks(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k")
	const size = 20 << 20
	f, err := c.Files.Upload(context.Background(), syntheticMP4(t, size), &genai.UploadFileConfig{MIMEType: "video/mp4"})
	if err != nil || f.State != genai.FileStateActive || *f.SizeBytes != size {
		t.Fatalf("Upload = %+v, %v", f, err)
	}
	var chunks []string
	for _, r := range emu.Requests() {
		if r.Method == "files.upload" {
			chunks = append(chunks, r.Header.Get("X-Goog-Upload-Command")+"@"+r.Header.Get("X-Goog-Upload-Offset"))
			if r.Body != nil {
				t.Error("a chunk's bytes were kept")
			}
		}
	}
	if want := "upload@0 upload@8388608 upload, finalize@16777216"; strings.Join(chunks, " ") != want {
		t.Errorf("chunks = %q, want %q", chunks, want)
	}
	if p := emu.Files()[0].Probed; p.Duration != 3*time.Second || p.MIMEType != "video/mp4" {
		t.Errorf("probed %+v", p)
	}
}

func TestUploadBreaks(t *testing.T) {
	for _, b := range []geminiemu.UploadBreak{{AtOffset: 9 << 20}, {AtOffset: 9 << 20, Status: 503}} {
		emu := geminiemu.New()
		c := newClient(t, emu, "k")
		emu.BreakUpload(b)
		// genai waits 1, 2 and 4 s before repeating a chunk whose answer
		// has no upload status; the emulator's has one, so the failure
		// comes back before this deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 900*time.Millisecond)
		_, err := c.Files.Upload(ctx, syntheticMP4(t, 12<<20), &genai.UploadFileConfig{MIMEType: "video/mp4", Name: "files/broken"})
		cancel()
		if err == nil {
			t.Errorf("%+v: the upload succeeded", b)
		}
		if b.Status != 0 {
			if e := apiError(t, err); e.Code != b.Status {
				t.Errorf("%+v: error %v", b, e)
			}
		}
		if emu.LiveFiles() != 0 {
			t.Errorf("%+v: a broken upload left %d files", b, emu.LiveFiles())
		}
		// The upload that comes after is whole.
		if _, err := c.Files.Upload(context.Background(), bytes.NewReader(mediaFixture(t, "audio.wav")), &genai.UploadFileConfig{MIMEType: "audio/wav"}); err != nil {
			t.Errorf("%+v: the next upload: %v", b, err)
		}
		emu.Close()
	}
}

func TestInlineLimits(t *testing.T) {
	emu := geminiemu.New()
	defer emu.Close()
	c := newClient(t, emu, "k")
	pdf := mediaFixture(t, "doc_two_pages.pdf")
	part := &genai.Part{InlineData: &genai.Blob{MIMEType: "application/pdf", Data: pdf}}
	contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{part}, genai.RoleUser)}
	resp, err := c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, nil)
	if err != nil || resp.UsageMetadata.PromptTokenCount != 2*258 {
		t.Fatalf("an inline PDF of two pages = %v, %v; want 2 × 258 tokens", resp, err)
	}
	resp, err = c.Models.GenerateContent(context.Background(), "gemini-3-flash-preview", contents, nil)
	if err != nil || resp.UsageMetadata.PromptTokenCount != 2*560 {
		t.Errorf("on Gemini 3 = %v, %v; want 2 × 560", resp, err)
	}
	emu.SetPDFInlineLimit(len(pdf) - 1)
	_, err = c.Models.GenerateContent(context.Background(), "gemini-2.5-flash", contents, nil)
	if e := apiError(t, err); e.Code != 413 {
		t.Errorf("a PDF over the limit = %v, want 413", e)
	}
	if got := geminiemu.MediaTokens("gemini-2.5-flash", media.Info{Type: media.Type{Kind: media.KindAudio}, Duration: 90 * time.Second}, ""); got != 90*32 {
		t.Errorf("90 s of audio = %d tokens", got)
	}
}
