package gemini

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/genai"

	"github.com/visionbot/visionbot/internal/failure"
	"github.com/visionbot/visionbot/internal/vision"
	"github.com/visionbot/visionbot/internal/wait"
)

// The limits on what a request carries, as Google documents them. The
// flows choose between sending a file inline and uploading it by them.
const (
	// GeminiAPIInlineLimit is the Gemini API's largest request with its
	// media inline, base64 included: 100 MB since January 2026 ("Inline
	// Data < 100MB", ai.google.dev/gemini-api/docs/video-understanding;
	// blog.google, "Increased file size limits and expanded inputs support
	// in Gemini API": "from 20MB to 100MB (base64 encoded, with varying
	// limits based on data types)"). InlineRequestLimit, what the image
	// path counts on, stays 20 MB: it is what every path takes.
	GeminiAPIInlineLimit = 100_000_000
	// PDFInlineLimit is the largest PDF sent inline: "PDFs are limited to
	// 50MB for this method" (ai.google.dev/gemini-api/docs/file-input-methods).
	PDFInlineLimit = 50_000_000
	// VertexInlineLimit is what this adapter sends Vertex AI in one
	// request. Vertex AI has no Files API, so every file goes inline
	// there; its pages give per-part limits that differ by model and
	// kind (7 MB an image, up to 256 MB an inline part for the newest
	// models: cloud.google.com, "Image understanding", "Video
	// understanding"), and Firebase's Vertex AI page still says "the
	// maximum total request size is 20 MB". 20 MB is what all of them
	// take.
	VertexInlineLimit = InlineRequestLimit
	// FileUploadLimit is the largest file uploaded: 2 GB, the Files API's
	// limit on the free tier ("File API 20GB (paid) / 2GB (free)",
	// ai.google.dev/gemini-api/docs/video-understanding), and what it was
	// for every project before ("a per-file maximum size of 2 GB",
	// ai.google.dev/gemini-api/docs/files).
	FileUploadLimit = 2_000_000_000
	// FileRetention is how long the Files API keeps an upload that nobody
	// deletes: "Files are stored for 48 hours" (ai.google.dev/gemini-api/docs/files).
	FileRetention = 48 * time.Hour
	// MaxPDFPages is the most pages Gemini reads of a PDF: "Gemini
	// supports a maximum of 1,000 document pages"
	// (ai.google.dev/gemini-api/docs/document-processing).
	MaxPDFPages = 1000
)

// Sentinels in the chain of the upload failures the flows tell apart.
var (
	// ErrNoFilesAPI: Vertex AI has no Files API (genai: "This method is
	// only supported in the Gemini Developer client"); a file goes inline
	// there, within VertexInlineLimit.
	ErrNoFilesAPI = errors.New("no Files API on Vertex AI: media goes inline, at most 20 MB a request")
	// ErrFileFailed: Gemini could not process the uploaded file (its
	// state went FAILED): bytes it can't read as the type they were sent as.
	ErrFileFailed = errors.New("the uploaded file failed processing")
	// ErrFileNotActive: the file was still processing when the wait
	// (FileWait) ended.
	ErrFileNotActive = errors.New("the uploaded file was still processing")
)

// cleanupTimeout bounds the deletion of an upload that failed or is done
// with, on a context of its own: the request's may have ended already.
const cleanupTimeout = 10 * time.Second

// Upload streams r, a file of mimeType (sniffed, never declared: see
// internal/media), to the Gemini API's Files API, and waits until Gemini
// has processed it, so that the file it returns can go in a request
// (vision.Turn.Files) at once. size is r's length when known (0: unknown);
// Google checks it against what arrives.
//
// genai reads r in 8 MB chunks, each sent as one request of the resumable
// upload protocol (upload, then upload, finalize), into a buffer of its
// own: a file of any size costs that buffer, never the file. The upload
// carries the sniffed type and nothing of the person's: no display name,
// no file name. The file is kept by Google until Delete, or FileRetention.
//
// The wait polls files.get, from FilePoll apart and doubling, for at
// most FileWait. When the upload fails, the file stays FAILED or is still
// processing at the end of the wait, or ctx ends, whatever was uploaded is
// deleted before Upload returns: no file is left behind. Its errors are
// *failure.Error values: failure.RequestTooLarge with ErrNoFilesAPI on
// Vertex AI, failure.TooLarge over FileUploadLimit, failure.ImageRejected
// with ErrFileFailed, failure.Timeout with ErrFileNotActive,
// failure.Unavailable for a connection or a 5xx that cut the upload.
func (c *Client) Upload(ctx context.Context, r io.Reader, mimeType string, size int64) (vision.File, error) {
	const op = "gemini upload"
	switch {
	case c.vertex:
		return vision.File{}, failure.Errorf(op, failure.RequestTooLarge,
			fmt.Sprintf("Vertex AI takes files inline only, up to %d MB a request", VertexInlineLimit/1_000_000), ErrNoFilesAPI)
	case size > FileUploadLimit:
		return vision.File{}, failure.Errorf(op, failure.TooLarge,
			fmt.Sprintf("a file of %.1f GB; Gemini takes files up to %d GB", float64(size)/1e9, FileUploadLimit/1_000_000_000), nil)
	}
	if err := c.breaker.check(op); err != nil {
		return vision.File{}, err
	}
	// The name is chosen here, not by Google, so that an upload whose
	// last response was lost can still be deleted.
	name, err := fileName()
	if err != nil {
		return vision.File{}, failure.Errorf(op, failure.Internal, "", err)
	}
	headers := http.Header{}
	if size > 0 {
		headers.Set("X-Goog-Upload-Header-Content-Length", strconv.FormatInt(size, 10))
	}
	wire := c.wireMIME(mimeType)
	f, err := c.genai.Files.Upload(ctx, r, &genai.UploadFileConfig{
		Name: name, MIMEType: wire, HTTPOptions: &genai.HTTPOptions{Headers: headers},
	})
	if err != nil {
		c.deleteQuietly(ctx, name)
		return vision.File{}, c.uploadError(ctx, op, err)
	}
	f, err = c.waitActive(ctx, f)
	if err != nil {
		c.deleteQuietly(ctx, name)
		return vision.File{}, err
	}
	return vision.File{Name: f.Name, URI: f.URI, MIMEType: mimeType}, nil
}

// Delete deletes an uploaded file. One that is gone already (deleted,
// expired) is not an error.
func (c *Client) Delete(ctx context.Context, f vision.File) error {
	const op = "gemini delete file"
	if c.vertex {
		return failure.Errorf(op, failure.Internal, "", ErrNoFilesAPI)
	}
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	_, err := c.genai.Files.Delete(ctx, f.Name, nil)
	if err == nil || gone(err) {
		return nil
	}
	return c.classify(ctx, op, err, false)
}

// CanUpload reports whether the backend has a Files API: the Gemini API
// does, Vertex AI does not.
func (c *Client) CanUpload() bool { return !c.vertex }

// waitActive polls the file until Gemini has processed it, for at most
// FileWait.
func (c *Client) waitActive(ctx context.Context, f *genai.File) (*genai.File, error) {
	const op = "gemini wait for file"
	within, cancel := context.WithTimeout(ctx, c.fileWait)
	defer cancel()
	delay := c.filePoll
	for {
		switch f.State {
		case genai.FileStateActive:
			return f, nil
		case genai.FileStateFailed:
			return nil, failure.Errorf(op, failure.ImageRejected, f.MIMEType, fmt.Errorf("%w: %s", ErrFileFailed, fileFault(f, c.apiKey)))
		}
		if wait.For(within, delay) != nil {
			return nil, c.waitEnded(ctx, op)
		}
		delay = min(delay*2, 16*c.filePoll)
		got, err := c.genai.Files.Get(within, f.Name, nil)
		if err != nil {
			if within.Err() != nil {
				return nil, c.waitEnded(ctx, op)
			}
			return nil, c.classify(within, op, err, true)
		}
		f = got
	}
}

// waitEnded is the error of a wait that ended before the file was
// processed: the caller's context, or FileWait.
func (c *Client) waitEnded(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return failure.Errorf(op, failure.Timeout, "the request's time ran out", err)
		}
		return failure.Errorf(op, failure.Internal, "", err)
	}
	return failure.Errorf(op, failure.Timeout, fmt.Sprintf("still processing after %s", c.fileWait), ErrFileNotActive)
}

// uploadError classifies a failed upload. genai's Upload reports a
// failure of the protocol's first request (start) as text only
// (files.go: fmt.Errorf("Failed to create file. Ran into an error: %s",
// err), in v1.79.1), so a refusal there has no status to read: it is
// failure.Internal, with the message. A chunk's failure keeps its
// *genai.APIError or its transport error.
func (c *Client) uploadError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return failure.Errorf(op, failure.Timeout, "the request's time ran out", ctxErr)
		}
		return failure.Errorf(op, failure.Internal, "", ctxErr)
	}
	return c.classify(ctx, op, err, true)
}

// deleteQuietly deletes what an upload may have left, on its own short
// context, and logs a failure: Google deletes the file after
// FileRetention anyway.
func (c *Client) deleteQuietly(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := c.genai.Files.Delete(ctx, name, nil)
	if err != nil && !gone(err) {
		c.log.Warn("could not delete an uploaded file; Google deletes it after 48 hours",
			zap.String("file", name), zap.String("error", scrub(err.Error(), c.apiKey)))
	}
}

// gone reports the Files API's answer for a file that does not exist (any
// more): 403 PERMISSION_DENIED "You do not have permission to access the
// File … or it may not exist." (googleapis/python-genai#1218), or a 404.
func gone(err error) bool {
	var ae genai.APIError
	var aePtr *genai.APIError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &aePtr) && aePtr != nil:
		ae = *aePtr
	default:
		return false
	}
	return ae.Code == http.StatusNotFound || ae.Code == http.StatusForbidden
}

// fileFault is what a FAILED file's error says, the key scrubbed.
func fileFault(f *genai.File, key string) string {
	if f.Error == nil || f.Error.Message == "" {
		return "state FAILED"
	}
	return shorten(scrub(f.Error.Message, key))
}

// fileName is a name for an upload: the Files API takes up to 40
// lowercase letters, digits and dashes (genai's File.Name).
func fileName() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "files/visionbot-" + hex.EncodeToString(b), nil
}

// wireMIME is the type as the Gemini API's pages list it, where it names
// a format otherwise than its registered type: "audio/mp3" for MP3
// (ai.google.dev/gemini-api/docs/audio), "video/mov" for QuickTime
// (ai.google.dev/gemini-api/docs/video-understanding). Vertex AI lists
// video/quicktime and audio/mpeg as they are.
func (c *Client) wireMIME(mime string) string {
	if c.vertex {
		return mime
	}
	switch mime {
	case "audio/mpeg":
		return "audio/mp3"
	case "video/quicktime":
		return "video/mov"
	}
	return mime
}

// Documented reports whether Gemini's pages list mimeType (a registered
// type, as internal/media names it) among the types it reads: the images,
// PDF, the video types and the audio types. M4A (audio/mp4) and WebM
// audio are not listed: the flows transcode them or try them as they are.
func Documented(mimeType string) bool {
	switch mimeType {
	case "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
		"application/pdf",
		"video/mp4", "video/mpeg", "video/quicktime", "video/avi", "video/x-flv", "video/mpg", "video/webm", "video/wmv", "video/3gpp",
		"audio/wav", "audio/mpeg", "audio/aiff", "audio/aac", "audio/ogg", "audio/flac":
		return true
	}
	return false
}

// hasFiles reports whether a request refers to uploaded files.
func hasFiles(req vision.Request) bool {
	for _, t := range req.Turns {
		if len(t.Files) > 0 {
			return true
		}
	}
	return false
}

// fileRefusal re-kinds what Gemini answers about a request's uploaded
// files, which classify would take for the key's or the account's fault
// (and trip the breaker on): 403 PERMISSION_DENIED "You do not have
// permission to access the File … or it may not exist." for a file that
// is gone (expired, deleted, another key's), and 400 FAILED_PRECONDITION
// "The File … is not in an ACTIVE state and usage is not allowed." for
// one not processed. A key Google rejects comes with an ErrorInfo reason
// (API_KEY_INVALID…), which these do not carry.
func fileRefusal(op string, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Reason != "" || !strings.Contains(ae.Message, "File") {
		return err
	}
	switch {
	case ae.Code == http.StatusForbidden:
		return failure.Errorf(op, failure.FileUnavailable, "the uploaded file is gone", err)
	case ae.Code == http.StatusBadRequest && ae.Status == "FAILED_PRECONDITION":
		return failure.Errorf(op, failure.Internal, "the uploaded file is not processed", err)
	}
	return err
}
