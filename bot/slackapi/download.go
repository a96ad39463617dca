package slackapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

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

// Get downloads rawURL, reading at most maxBytes.
func (d *Downloader) Get(ctx context.Context, rawURL string, maxBytes int64) ([]byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, failure.Errorf("", failure.FileUnavailable, "not a file URL", nil)
	}
	if !d.trusted(u) {
		return nil, failure.Errorf("", failure.ForeignHost, u.Scheme+"://"+u.Hostname(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(d.token))
	resp, err := d.client.Do(req)
	if err != nil {
		var away foreignRedirect
		if errors.As(err, &away) {
			return nil, failure.Errorf("", failure.ForeignHost, away.host, nil)
		}
		if ctx.Err() != nil || isTimeout(err) {
			return nil, failure.Errorf("", failure.Timeout, "", redactURLError(err))
		}
		return nil, redactURLError(err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, failure.Errorf("", failure.FileUnavailable, resp.Status, nil)
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return nil, failure.Errorf("", failure.FilesScope, resp.Status, nil)
	case resp.StatusCode != http.StatusOK:
		return nil, errors.New(resp.Status)
	}
	if resp.ContentLength > maxBytes {
		return nil, failure.Errorf("", failure.TooLarge, "", nil)
	}
	data, err := readBody(resp, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("read the body: %w", redactURLError(err))
	}
	if int64(len(data)) > maxBytes {
		return nil, failure.Errorf("", failure.TooLarge, "", nil)
	}
	return data, nil
}

// readBody reads a body of at most maxBytes+1 bytes (one past the cap
// shows a body that is too large). A declared length sizes the buffer at
// once, instead of io.ReadAll's doublings, which were a fifth of the bytes
// the bot allocated under load; net/http stops such a body at its declared
// length and reports one that ends before it.
func readBody(resp *http.Response, maxBytes int64) ([]byte, error) {
	if n := resp.ContentLength; n > 0 && n <= maxBytes {
		data := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, data); err != nil {
			return nil, err
		}
		return data, nil
	}
	// No declared length: read one byte past the cap, so that an endless
	// body is still cut.
	return io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
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
