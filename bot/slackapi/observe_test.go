package slackapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recordingObserver keeps what the Web API client reports.
type recordingObserver struct {
	mu     sync.Mutex
	errors []string // "method code"
}

func (o *recordingObserver) SlackError(method, code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errors = append(o.errors, method+" "+code)
}

func TestObserveErrors(t *testing.T) {
	t.Parallel()

	long := `{"channel":"C1","messages":[{"text":"` + strings.Repeat("x", 3000) + `"}],"ok":true}`
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{name: "a success is not reported", status: 200, body: `{"ok":true,"ts":"1.2"}`},
		{name: "a long success is passed on whole", status: 200, body: long},
		{name: "Slack's error code", status: 200, body: `{"ok":false,"error":"not_in_channel"}`,
			want: []string{"chat.postMessage not_in_channel"}},
		{name: "keys in another order, spaced", status: 200, body: "{\"error\": \"missing_scope\",\n \"needed\": \"files:read\", \"ok\" : false}",
			want: []string{"chat.postMessage missing_scope"}},
		{name: "a rate limit", status: 429, body: `{"ok":false,"error":"ratelimited"}`,
			want: []string{"chat.postMessage ratelimited"}},
		{name: "a server error", status: 503, body: "unavailable",
			want: []string{"chat.postMessage http_503"}},
		{name: "text that quotes an error is no error", status: 200, body: `{"ok":true,"text":"{\"ok\":false}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			obs := &recordingObserver{}
			client := &http.Client{Transport: ObserveErrors(nil, obs)}
			resp, err := client.Post(srv.URL+"/api/chat.postMessage", "application/json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || string(got) != tt.body {
				t.Errorf("the client read %q (%v), want the body as sent", got, err)
			}
			if !slices.Equal(obs.errors, tt.want) {
				t.Errorf("reported %v, want %v", obs.errors, tt.want)
			}
		})
	}

	t.Run("no answer at all", func(t *testing.T) {
		t.Parallel()

		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		obs := &recordingObserver{}
		client := &http.Client{Transport: ObserveErrors(nil, obs)}
		if _, err := client.Get(url + "/api/auth.test"); err == nil {
			t.Fatal("a closed server answered")
		}
		if !slices.Equal(obs.errors, []string{"auth.test transport"}) {
			t.Errorf("reported %v", obs.errors)
		}
	})
	t.Run("a nil observer leaves the transport alone", func(t *testing.T) {
		t.Parallel()

		if rt := ObserveErrors(http.DefaultTransport, nil); rt != http.DefaultTransport {
			t.Errorf("got %T", rt)
		}
	})
}
