package slackapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/failure"
)

// authLog is a test server that records the Authorization header of every
// request it gets.
type authLog struct {
	mu   sync.Mutex
	seen []string
}

func (a *authLog) record(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
}

func (a *authLog) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func TestDownloader(t *testing.T) {
	t.Parallel()

	const token = "xoxb-secret-token"
	foreignLog := &authLog{}
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		foreignLog.record(r)
		w.Write([]byte("<!DOCTYPE html><html>sign in</html>"))
	}))
	defer foreign.Close()

	slackLog := &authLog{}
	slackSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slackLog.record(r)
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("image bytes"))
		case "/big":
			w.Header().Set("Content-Length", "5000")
			w.Write(make([]byte, 5000))
		case "/short":
			// Declares more than it sends, then the connection ends.
			w.Header().Set("Content-Length", "800")
			w.Write([]byte("only the start"))
		case "/endless":
			// Declares nothing and sends past the cap.
			for range 100 {
				w.Write(make([]byte, 100))
			}
		case "/gone":
			http.Error(w, "gone", http.StatusNotFound)
		case "/redirect-away":
			http.Redirect(w, r, foreign.URL+"/signin", http.StatusFound)
		}
	}))
	defer slackSrv.Close()
	slackHost := strings.TrimPrefix(slackSrv.URL, "http://")

	d := NewDownloader(&http.Client{Timeout: 5 * time.Second}, token, []string{slackSrv.URL})
	tests := []struct {
		name     string
		url      string
		wantKind failure.Kind
		wantBody string
		wantErr  bool // an error of no particular kind
	}{
		{name: "a Slack file", url: slackSrv.URL + "/ok", wantBody: "image bytes"},
		{name: "declared over the cap", url: slackSrv.URL + "/big", wantKind: failure.TooLarge},
		{name: "endless body cut at the cap", url: slackSrv.URL + "/endless", wantKind: failure.TooLarge},
		{name: "a body that ends before its declared length", url: slackSrv.URL + "/short", wantErr: true},
		{name: "deleted file", url: slackSrv.URL + "/gone", wantKind: failure.FileUnavailable},
		{name: "foreign host gets no request at all", url: foreign.URL + "/cat.png", wantKind: failure.ForeignHost},
		{name: "not a URL", url: "file:///etc/passwd", wantKind: failure.FileUnavailable},
		{name: "a redirect outside Slack is not followed", url: slackSrv.URL + "/redirect-away", wantKind: failure.ForeignHost},
		{name: "the token never goes over https to an http-only origin", url: "https://" + slackHost + "/ok", wantKind: failure.ForeignHost},
	}
	for _, tt := range tests {
		// Not in parallel: the parent's deferred Close and its checks after the loop need the cases done.
		t.Run(tt.name, func(t *testing.T) {
			data, err := d.Get(context.Background(), tt.url, 1000)
			// The caller names the download ("download file F123: …"),
			// and the URL is not repeated after it.
			if msg := fmt.Sprint(err); err != nil && (strings.Contains(strings.ToLower(msg), "download") ||
				strings.Contains(msg, "Get ") || strings.Contains(msg, tt.url) || strings.HasPrefix(msg, ":")) {
				t.Errorf("err = %q, want no operation or URL of its own", msg)
			}
			if tt.wantKind != failure.Internal {
				if failure.KindOf(err) != tt.wantKind {
					t.Fatalf("err = %v (kind %v), want kind %v", err, failure.KindOf(err), tt.wantKind)
				}
				return
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("Get: %v, want an error: %v", err, tt.wantErr)
			}
			if string(data) != tt.wantBody {
				t.Errorf("body = %q, want %q", data, tt.wantBody)
			}
		})
	}
	for _, auth := range slackLog.all() {
		if auth != "Bearer "+token {
			t.Errorf("Slack's host got Authorization %q", auth)
		}
	}
	if got := foreignLog.all(); len(got) != 0 {
		t.Errorf("the foreign host got %d requests (Authorization %q); want none", len(got), got)
	}
	if u, _ := url.Parse(foreign.URL); u.Host == slackHost {
		t.Fatal("test servers share a host")
	}
}

// hostLog is one listener on 127.0.0.1 that answers under every host name
// a test dials to it, and records which name each request was for.
type hostLog struct {
	mu   sync.Mutex
	seen map[string][]string // host → Authorization headers
}

func (h *hostLog) requests(host string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen[host]...)
}

// TestDownloaderHostNames reaches a foreign host, Slack's file host and a
// workspace's sign-in host by name, all on one listener through a dialer
// that resolves them there, as external files and Slack's redirects name
// them in production.
func TestDownloaderHostNames(t *testing.T) {
	t.Parallel()

	const token = "xoxb-host-name-token"
	log := &hostLog{seen: map[string][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.mu.Lock()
		log.seen[r.Host] = append(log.seen[r.Host], r.Header.Get("Authorization"))
		log.mu.Unlock()
		switch {
		case r.Host == "files.slack.com" && r.URL.Path == "/files-pri/T1-F1/cat.png":
			w.Write([]byte("image bytes"))
		case r.Host == "files.slack.com" && r.URL.Path == "/to-evil":
			http.Redirect(w, r, "http://files.evil.example/steal", http.StatusFound)
		case r.Host == "files.slack.com" && r.URL.Path == "/to-signin":
			http.Redirect(w, r, "http://acme.slack.com/?redir=%2Ffiles-pri%2FT1-F2", http.StatusFound)
		case r.Host == "acme.slack.com":
			w.Write([]byte("<!DOCTYPE html><html>Sign in to Acme</html>"))
		default:
			w.Write([]byte("image bytes from " + r.Host))
		}
	}))
	defer srv.Close()
	listener := srv.Listener.Addr().String()
	transport := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, listener) // every name resolves to the listener
	}}
	defer transport.CloseIdleConnections()
	d := NewDownloader(&http.Client{Timeout: 5 * time.Second, Transport: transport}, token, []string{"http://files.slack.com"})

	tests := []struct {
		name     string
		url      string
		wantKind failure.Kind
		wantBody string
	}{
		{name: "Slack's file host gets the token", url: "http://files.slack.com/files-pri/T1-F1/cat.png", wantBody: "image bytes"},
		{name: "an external file's foreign URL is refused", url: "http://files.evil.example/cat.png", wantKind: failure.ForeignHost},
		{name: "a look-alike host is refused", url: "http://files.slack.com.evil.example/cat.png", wantKind: failure.ForeignHost},
		{name: "user info does not make a host Slack's", url: "http://files.slack.com@files.evil.example/cat.png", wantKind: failure.ForeignHost},
		{name: "Slack redirecting outside Slack is not followed", url: "http://files.slack.com/to-evil", wantKind: failure.ForeignHost},
		{name: "Slack's sign-in redirect is followed without the token", url: "http://files.slack.com/to-signin", wantBody: "<!DOCTYPE html><html>Sign in to Acme</html>"},
	}
	for _, tt := range tests {
		// Not in parallel: the parent's deferred Close and its checks after the loop need the cases done.
		t.Run(tt.name, func(t *testing.T) {
			data, err := d.Get(context.Background(), tt.url, 1000)
			// The caller names the download ("download file F123: …"),
			// and the URL is not repeated after it.
			if msg := fmt.Sprint(err); err != nil && (strings.Contains(strings.ToLower(msg), "download") ||
				strings.Contains(msg, "Get ") || strings.Contains(msg, tt.url) || strings.HasPrefix(msg, ":")) {
				t.Errorf("err = %q, want no operation or URL of its own", msg)
			}
			if tt.wantKind != failure.Internal {
				if failure.KindOf(err) != tt.wantKind {
					t.Fatalf("err = %v (kind %v), want kind %v", err, failure.KindOf(err), tt.wantKind)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("the error shows the token: %v", err)
				}
				return
			}
			if err != nil || string(data) != tt.wantBody {
				t.Fatalf("Get = %q, %v; want %q", data, err, tt.wantBody)
			}
		})
	}
	for _, host := range []string{"files.evil.example", "files.slack.com.evil.example"} {
		if got := log.requests(host); len(got) != 0 {
			t.Errorf("%s got %d requests (Authorization %q); want none", host, len(got), got)
		}
	}
	if got := log.requests("acme.slack.com"); len(got) != 1 || got[0] != "" {
		t.Errorf("the sign-in host saw Authorization %q; want one request without it", got)
	}
	for _, auth := range log.requests("files.slack.com") {
		if auth != "Bearer "+token {
			t.Errorf("Slack's file host got Authorization %q", auth)
		}
	}
}

// A Downloader in a log line or an error never shows its token, however it
// is printed.
func TestDownloaderPrintsNoToken(t *testing.T) {
	t.Parallel()

	const token = "xoxb-printed-token"
	d := NewDownloader(&http.Client{}, token, []string{"files.slack.com"})
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, d); strings.Contains(got, token) || !strings.Contains(got, "files.slack.com") {
			t.Errorf("%s printed %q", format, got)
		}
	}
}
