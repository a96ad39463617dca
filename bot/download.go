package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/visionbot/visionbot/internal/vision"
)

// Downloader fetches Slack files with the bot token, and sends that token
// to no host but Slack's: a URL in an event is data, not a destination to
// trust (external and remote files name any host they like).
type Downloader struct {
	client *http.Client
	token  string
	hosts  map[string]bool
}

// SlackFileHosts are the hosts that serve Slack's files and thumbnails.
func SlackFileHosts() []string { return []string{"files.slack.com"} }

// NewDownloader returns a Downloader that sends token only to hosts (host
// or host:port, as in a URL). client's own redirect policy is replaced.
func NewDownloader(client *http.Client, token string, hosts []string) *Downloader {
	allowed := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		allowed[strings.ToLower(h)] = true
	}
	d := &Downloader{token: token, hosts: allowed}
	c := *client
	c.CheckRedirect = d.checkRedirect
	d.client = &c
	return d
}

const maxRedirects = 5

// checkRedirect keeps following redirects, but drops the token whenever
// one leaves Slack's hosts: Slack sends a request it refuses to its sign-in
// page, which the caller recognises by its HTML.
func (d *Downloader) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("too many redirects")
	}
	if !d.hosts[strings.ToLower(req.URL.Host)] || req.URL.Scheme != via[0].URL.Scheme {
		req.Header.Del("Authorization")
	}
	return nil
}

// Get downloads rawURL, reading at most maxBytes.
func (d *Downloader) Get(ctx context.Context, rawURL string, maxBytes int64) ([]byte, error) {
	const op = "download"
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, vision.Errorf(op, vision.KindFileUnavailable, "not a file URL", nil)
	}
	if !d.hosts[strings.ToLower(u.Host)] {
		return nil, vision.Errorf(op, vision.KindForeignHost, u.Hostname(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := d.client.Do(req)
	if err != nil {
		if ctx.Err() != nil || isTimeout(err) {
			return nil, vision.Errorf(op, vision.KindTimeout, "", redactURLError(err))
		}
		return nil, fmt.Errorf("%s: %w", op, redactURLError(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, vision.Errorf(op, vision.KindFileUnavailable, resp.Status, nil)
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return nil, vision.Errorf(op, vision.KindFilesScope, resp.Status, nil)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s", op, resp.Status)
	}
	if resp.ContentLength > maxBytes {
		return nil, vision.Errorf(op, vision.KindTooLarge, "", nil)
	}
	// Read one byte past the cap: a body that declares less than it sends,
	// or declares nothing, is still cut.
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read body: %w", op, redactURLError(err))
	}
	if int64(len(data)) > maxBytes {
		return nil, vision.Errorf(op, vision.KindTooLarge, "", nil)
	}
	return data, nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// redactURLError drops the URL from a *url.Error: file URLs are not secret,
// but they are long and the operation already names the file.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
