package main

import (
	"net/http"
	"time"
)

// newTransport is the HTTP transport of one client that talks to one API
// from up to conns jobs at once. Go's default keeps only two idle
// connections per host: over HTTP/1.1 (a proxy, or the emulators of the
// benchmark) every job beyond the second dialled, and over TLS shook hands,
// anew for each call. make bench showed dialling as a top CPU cost at 128
// in flight before this.
//
// Idle connections close after idleConnTimeout: a burst reuses them within
// seconds, and afterwards each would hold a socket and two goroutines for
// nothing (make bench counted 765 such goroutines 10 s after a run at 128
// in flight with Go's 90 s).
const idleConnTimeout = 30 * time.Second

func newTransport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	conns = max(conns, 2)
	t.MaxIdleConns = 2 * conns
	t.MaxIdleConnsPerHost = conns
	t.IdleConnTimeout = idleConnTimeout
	return t
}
