package bot

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visionbot/visionbot/internal/vision"
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

	d := NewDownloader(&http.Client{Timeout: 5 * time.Second}, token, []string{slackHost})
	tests := []struct {
		name     string
		url      string
		wantKind vision.Kind
		wantBody string
	}{
		{name: "a Slack file", url: slackSrv.URL + "/ok", wantBody: "image bytes"},
		{name: "declared over the cap", url: slackSrv.URL + "/big", wantKind: vision.KindTooLarge},
		{name: "endless body cut at the cap", url: slackSrv.URL + "/endless", wantKind: vision.KindTooLarge},
		{name: "deleted file", url: slackSrv.URL + "/gone", wantKind: vision.KindFileUnavailable},
		{name: "foreign host gets no request at all", url: foreign.URL + "/cat.png", wantKind: vision.KindForeignHost},
		{name: "not a URL", url: "file:///etc/passwd", wantKind: vision.KindFileUnavailable},
		{name: "redirect to another host loses the token", url: slackSrv.URL + "/redirect-away", wantBody: "<!DOCTYPE html><html>sign in</html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := d.Get(context.Background(), tt.url, 1000)
			if tt.wantKind != vision.KindInternal {
				if vision.KindOf(err) != tt.wantKind {
					t.Fatalf("err = %v (kind %v), want kind %v", err, vision.KindOf(err), tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
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
	if got := foreignLog.all(); len(got) != 1 || got[0] != "" {
		t.Errorf("the foreign host saw Authorization headers %q; want one request (the redirect) without a token", got)
	}
	if u, _ := url.Parse(foreign.URL); u.Host == slackHost {
		t.Fatal("test servers share a host")
	}
}
