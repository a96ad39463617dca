package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestTransportKeepsConnectionsForEveryJob sends rounds of concurrent
// requests: with a connection kept per job, later rounds dial nothing new.
func TestTransportKeepsConnectionsForEveryJob(t *testing.T) {
	t.Parallel()

	const jobs, rounds = 8, 4
	var dials atomic.Int64
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release // hold every request until the round's all arrived: all run at once
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	client := &http.Client{Transport: newTransport(jobs)}
	for range rounds {
		arrived.Add(jobs)
		var done sync.WaitGroup
		for range jobs {
			done.Go(func() {
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			})
		}
		arrived.Wait()
		for range jobs {
			release <- struct{}{}
		}
		done.Wait()
	}
	if n := dials.Load(); n != jobs {
		t.Errorf("%d connections dialled for %d rounds of %d concurrent requests, want %d (one per job, kept)", n, rounds, jobs, jobs)
	}
}
