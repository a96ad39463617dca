package slackapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
)

// Downloader fetches Slack files with the bot token (and posts the bot's
// own uploads, without it), and sends that token to no host but Slack's: a
// URL in an event is data, not a destination to trust (external and remote
// files name any host they like). A URL on any other host is refused
// without a request: fetching it even without the token would let whoever
// posts a file make the bot call any address.
//
// Its errors name no operation: the caller names it, with the file it
// knows ("download file F123: 404 Not Found"), and a *failure.Error of
// the Downloader's has no Op.
type Downloader struct {
	client *http.Client
	stream *http.Client // client without its timeout, for Open
	token  bearerToken
	// origins maps each allowed host (host or host:port, as in a URL) to
	// the one scheme the token may travel over.
	origins map[string]string
}

// bearerToken prints as a placeholder when printed on its own. fmt does
// not call String on unexported fields, so a Downloader prints itself too.
type bearerToken string

func (bearerToken) String() string   { return "[redacted]" }
func (bearerToken) GoString() string { return "[redacted]" }

// String keeps %v and %+v of a Downloader, in a log or an error, from
// printing its token.
func (d *Downloader) String() string {
	hosts := slices.Sorted(maps.Keys(d.origins))
	return fmt.Sprintf("bot.Downloader{token: %s, hosts: %v}", d.token, hosts)
}

// GoString does the same for %#v.
func (d *Downloader) GoString() string { return d.String() }

// SlackFileHosts are the hosts that serve Slack's files and thumbnails.
func SlackFileHosts() []string { return []string{"files.slack.com"} }

// NewDownloader returns a Downloader that sends token only to origins: a
// bare host ("files.slack.com") is reached over https only; an origin with
// its scheme ("http://127.0.0.1:8080", an emulator) over that scheme.
// client's own redirect policy is replaced.
func NewDownloader(client *http.Client, token string, origins []string) *Downloader {
	allowed := make(map[string]string, len(origins))
	for _, o := range origins {
		scheme, host, ok := strings.Cut(o, "://")
		if !ok {
			scheme, host = "https", o
		}
		allowed[strings.ToLower(host)] = scheme
	}
	d := &Downloader{token: bearerToken(token), origins: allowed}
	c := *client
	c.CheckRedirect = d.checkRedirect
	d.client = &c
	// A streamed download outlasts any timeout of the whole exchange:
	// Open bounds each wait with the client's timeout instead.
	st := c
	st.Timeout = 0
	d.stream = &st
	return d
}

const maxRedirects = 5

// foreignRedirect stops a redirect that leaves Slack.
type foreignRedirect struct{ host string }

func (e foreignRedirect) Error() string { return "redirected outside Slack to " + e.host }

// trusted says whether the token may go to u.
func (d *Downloader) trusted(u *url.URL) bool {
	scheme, ok := d.origins[strings.ToLower(u.Host)]
	return ok && u.Scheme == scheme
}

// isSlackDomain says whether host is Slack's own: slack.com or under it.
func isSlackDomain(host string) bool {
	host = strings.ToLower(host)
	return host == "slack.com" || strings.HasSuffix(host, ".slack.com")
}

// checkRedirect keeps the token on redirects between the allowed origins,
// follows a redirect to another Slack host without it (Slack sends a
// request it refuses to the workspace's sign-in page, which the caller
// recognises by its HTML), and follows none elsewhere.
func (d *Downloader) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("too many redirects")
	}
	if d.trusted(req.URL) {
		return nil
	}
	req.Header.Del("Authorization")
	if isSlackDomain(req.URL.Hostname()) {
		return nil
	}
	return foreignRedirect{host: req.URL.Hostname()}
}

// Upload posts data to an upload URL Slack handed out
// (files.getUploadURLExternal), without the token: Slack's docs have the
// file alone posted there, the URL being its own permission. The code goes
// to the hosts the token may go to, and nowhere else.
func (d *Downloader) Upload(ctx context.Context, rawURL string, data []byte) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("not an upload URL")
	}
	if !d.trusted(u) {
		return failure.Errorf("", failure.ForeignHost, u.Scheme+"://"+u.Hostname(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := d.client.Do(req)
	if err != nil {
		return redactURLError(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	// Slack answers 200 when the upload succeeded, and nothing else then.
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// Get downloads rawURL, reading at most maxBytes, all of it into memory:
// for images and thumbnails, a few hundred kilobytes. A body that is an
// HTML page is returned as it is, for the caller to recognise Slack's
// sign-in page. The client's timeout bounds the whole download.
func (d *Downloader) Get(ctx context.Context, rawURL string, maxBytes int64) ([]byte, error) {
	body, err := d.open(ctx, rawURL, 0, maxBytes, false)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	// A declared length sizes the buffer at once, instead of io.ReadAll's
	// doublings, which were a fifth of the bytes the bot allocated under
	// load; net/http stops such a body at its declared length and reports
	// one that ends before it.
	if n := body.declared; n > 0 {
		data := make([]byte, n)
		if _, err := io.ReadFull(body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// Open streams rawURL: the body is read as the caller reads it, so that a
// 200 MB video goes on to its upload a buffer at a time and is never held
// whole. It reads at most maxBytes: a longer body is failure.TooLarge,
// before anything is read when it says its length.
//
// size is the original file's size as the file object says it (files.info),
// 0 when unknown: Slack's copies and thumbnails have no size in the file
// object. A body of another length is a *SizeMismatch (the file changed
// since it was read, or Slack served something else), found before
// anything is read when the body says its length, else at its end.
//
// A body that is an HTML page is failure.FilesScope, at once: that is
// Slack's sign-in page, never a video or a PDF. The client's timeout bounds
// the wait for the answer and then each wait for more of the body, not the
// whole download, which ctx bounds: a long video takes longer than any one
// wait.
func (d *Downloader) Open(ctx context.Context, rawURL string, size, maxBytes int64) (io.ReadCloser, error) {
	return d.open(ctx, rawURL, size, maxBytes, true)
}

// SizeMismatch is a download whose length is not the size the file object
// said.
type SizeMismatch struct {
	Want int64 // the file object's size
	Got  int64 // the body's length, or how much was read before it went past Want
	// More says the body went on past Want: Got is only what was read.
	More bool
}

func (e *SizeMismatch) Error() string {
	if e.More {
		return fmt.Sprintf("the file holds more than the %d bytes its file object said", e.Want)
	}
	return fmt.Sprintf("the file holds %d bytes, not the %d its file object said", e.Got, e.Want)
}

// sizeMismatch is a *SizeMismatch as the callers see it: a file no longer
// as it was, which a user is told as a file that is not available.
func sizeMismatch(want, got int64, more bool) error {
	return failure.Errorf("", failure.FileUnavailable, "", &SizeMismatch{Want: want, Got: got, More: more})
}

// open sends the request and checks the answer, leaving the body unread.
// stream is Open's: no bound on the whole download but one on each wait,
// and no HTML.
func (d *Downloader) open(ctx context.Context, rawURL string, size, maxBytes int64, stream bool) (*body, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, failure.Errorf("", failure.FileUnavailable, "not a file URL", nil)
	}
	if !d.trusted(u) {
		return nil, failure.Errorf("", failure.ForeignHost, u.Scheme+"://"+u.Hostname(), nil)
	}
	if size > maxBytes {
		return nil, failure.Errorf("", failure.TooLarge, "", nil)
	}
	b := &body{want: size, limit: maxBytes, declared: -1}
	client := d.client
	if stream {
		client, b.wait = d.stream, d.client.Timeout
		ctx, b.cancel = context.WithCancel(ctx)
		if b.wait > 0 {
			b.stall = time.AfterFunc(b.wait, func() {
				b.stalled.Store(true)
				b.cancel()
			})
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		b.stop()
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(d.token))
	resp, err := client.Do(req)
	b.pause()
	if err != nil {
		b.stop()
		var away foreignRedirect
		if errors.As(err, &away) {
			return nil, failure.Errorf("", failure.ForeignHost, away.host, nil)
		}
		if ctx.Err() != nil || isTimeout(err) {
			return nil, failure.Errorf("", failure.Timeout, "", redactURLError(err))
		}
		return nil, redactURLError(err)
	}
	b.rc = resp.Body
	if err := b.check(resp, stream); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// check refuses an answer that is not the file, before its body is read.
func (b *body) check(resp *http.Response, stream bool) error {
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return failure.Errorf("", failure.FileUnavailable, resp.Status, nil)
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return failure.Errorf("", failure.FilesScope, resp.Status, nil)
	case resp.StatusCode != http.StatusOK:
		return errors.New(resp.Status)
	}
	if stream {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "text/html" {
			return failure.Errorf("", failure.FilesScope, "Slack answered with a web page", nil)
		}
	}
	n := resp.ContentLength
	switch {
	case n > b.limit:
		return failure.Errorf("", failure.TooLarge, "", nil)
	case n >= 0 && b.want > 0 && n != b.want:
		return sizeMismatch(b.want, n, false)
	}
	b.declared = n
	return nil
}

// body is a download's body as its caller reads it: cut at its limit and,
// when its size is known, checked against it as it ends.
type body struct {
	rc       io.ReadCloser
	declared int64 // Content-Length; -1 when the body did not say
	want     int64 // the file object's size; 0 for unknown
	limit    int64 // maxBytes
	read     int64

	// A streamed body's bound on each wait, the timer that cancels its
	// request when a wait is longer, and whether it did.
	wait    time.Duration
	stall   *time.Timer
	stalled atomic.Bool
	cancel  context.CancelFunc
}

func (b *body) Read(p []byte) (int, error) {
	// Ask for one byte past what may come, to see a body that goes on.
	bound := b.limit
	if b.want > 0 {
		bound = min(bound, b.want)
	}
	if left := bound - b.read + 1; int64(len(p)) > left {
		p = p[:left]
	}
	if b.stall != nil {
		b.stall.Reset(b.wait)
	}
	n, err := b.rc.Read(p)
	b.pause()
	b.read += int64(n)
	if over := b.read - bound; over > 0 {
		b.read = bound
		if b.want > 0 { // bound is want: open refused one over the limit
			return n - int(over), sizeMismatch(b.want, b.read, true)
		}
		return n - int(over), failure.Errorf("", failure.TooLarge, "", nil)
	}
	switch {
	case err == io.EOF:
		if b.want > 0 && b.read < b.want {
			return n, sizeMismatch(b.want, b.read, false)
		}
		return n, io.EOF
	case err != nil && b.stalled.Load():
		return n, failure.Errorf("", failure.Timeout, fmt.Sprintf("no data for %s", b.wait), nil)
	case err != nil:
		return n, fmt.Errorf("read the body: %w", redactURLError(err))
	}
	return n, nil
}

// pause stops the wait bound while the caller is not waiting on Slack.
func (b *body) pause() {
	if b.stall != nil {
		b.stall.Stop()
	}
}

// stop releases a streamed request's context.
func (b *body) stop() {
	b.pause()
	if b.cancel != nil {
		b.cancel()
	}
}

func (b *body) Close() error {
	defer b.stop()
	return b.rc.Close()
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// redactURLError is the cause under a *url.Error, without its method and
// URL ("Get \"https://files.slack.com/…\": "): file URLs are not secret,
// but they are long, and the caller names the file.
func redactURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}
