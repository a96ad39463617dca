package metrics

import (
	"io"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves, on a mux of its own:
//
//   - /metrics: what g gathers, in Prometheus' formats;
//   - /healthz: 200 while the process serves HTTP at all (liveness);
//   - /readyz: 200 while ready says so, else 503 (readiness: the bot
//     receives nothing without its Socket Mode connection);
//   - /debug/pprof/: Go's profiles and goroutine dumps.
//
// pprof is mounted here by hand: importing net/http/pprof also registers
// it on http.DefaultServeMux, which visionbot never serves. Everything here
// is for operators; the address it listens on must not be public.
func Handler(g prometheus.Gatherer, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not connected to Slack (Socket Mode)", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
